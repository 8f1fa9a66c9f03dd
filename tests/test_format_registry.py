"""The registry of CDR formats: a format added with one ``register`` call works everywhere the
built-in ones do (a run, the --workers merge, the --realtime guard, the option check)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdr_writer import FORMATS, Cdr, CdrFormat, Output, SinkContext, get_format, register
from simulator import load_scenario, run_scenario
from simulator.run._options import RunOptionError
from simulator.run._parallel import run_sharded
from traffic_support import ROOT, pipe_records

DEMO = ROOT / "scenarios" / "demo.yaml"


class CallIdSink:
    """One line per recorded CDR: flowno and the scenario's call id."""

    def __init__(self, context: SinkContext) -> None:
        context.directory.mkdir(parents=True, exist_ok=True)
        self.handle = (context.directory / "call-ids.txt").open("w", encoding="utf-8")
        self.label = context.options.get("label", "")

    def write(self, cdr: Cdr) -> None:
        self.handle.write(f"{self.label}{cdr.flowno} {cdr.call_id}\n")

    def close(self) -> None:
        self.handle.close()


@pytest.fixture
def call_ids() -> Iterator[CdrFormat]:
    added = register(CdrFormat("callids", CallIdSink, "flowno and call id per line",
                               files=("call-ids.txt",), options=("label",)))
    try:
        yield added
    finally:
        FORMATS.pop("callids")


def test_a_registered_format_is_written_by_a_run(call_ids: CdrFormat, tmp_path: Path) -> None:
    result = run_scenario(load_scenario(DEMO), tmp_path, ("pipe", "callids"))
    lines = (tmp_path / "call-ids.txt").read_text().splitlines()
    assert len(lines) == result.stats.recorded > 0
    assert [int(line.split()[0]) for line in lines] == [int(r[17]) for r in pipe_records(tmp_path)]
    assert tmp_path / "call-ids.txt" in result.files


def test_a_format_without_a_renderer_merges_shards_like_one_process(call_ids: CdrFormat,
                                                                     tmp_path: Path) -> None:
    scenario = load_scenario(DEMO)
    run_scenario(scenario, tmp_path / "one", ("callids",))
    output = Output(tmp_path / "merged", ("callids",), 2)
    run_sharded(scenario, output, ("callids",), workers=1)  # one shard, in this process
    output.commit()
    assert (tmp_path / "merged" / "call-ids.txt").read_bytes() == \
        (tmp_path / "one" / "call-ids.txt").read_bytes()


def test_its_files_make_a_directory_unusable_for_realtime(call_ids: CdrFormat,
                                                          tmp_path: Path) -> None:
    (tmp_path / "call-ids.txt").write_text("1 old\n")
    with pytest.raises(RunOptionError, match="already holds CDR files"):
        run_scenario(load_scenario(DEMO), tmp_path, ("pipe",), realtime_speed=1000)


def test_options_go_to_the_formats_that_take_them(call_ids: CdrFormat, tmp_path: Path) -> None:
    output = Output(tmp_path / "a", ("callids",), 2, options={"label": "x"})
    assert output.sinks[0].label == "x"
    output.abort()
    with pytest.raises(ValueError, match="--label goes with --format callids"):
        Output(tmp_path / "b", ("pipe",), 2, options={"label": "x"})


def test_names_are_unique_and_unknown_names_list_the_registry(call_ids: CdrFormat) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(CdrFormat("callids", CallIdSink, "again"))
    with pytest.raises(ValueError, match="unknown format 'csv'; expected one of pipe, e_cdr"):
        get_format("csv")
    with pytest.raises(ValueError, match="callids"):
        get_format("nope")
