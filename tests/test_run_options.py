"""A run's options are one object, checked once by ``run.prepare``; the CLI only parses flags
into it and reports what ``prepare`` says."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenario_support import ROOT, cli
from simulator import load_scenario
from simulator.run._options import RunOptionError, RunOptions, prepare

DEMO = ROOT / "scenarios" / "demo.yaml"
LOAD = ROOT / "scenarios" / "load" / "standard.yaml"


@pytest.mark.parametrize(("options", "flag"), [
    (RunOptions(speed=2), "--speed goes with --realtime"),
    (RunOptions(realtime=True, speed=0), "expected --speed > 0"),
    (RunOptions(formats=("mariadb",)), "--format mariadb needs --db"),
    (RunOptions(db="mysql://u:p@127.0.0.1:1/x"), "--db goes with --format mariadb"),
    (RunOptions(calls=0), "expected --calls from 1"),
    (RunOptions(warmup=-1), "expected --warmup of 0 s or more"),
    (RunOptions(workers=99), "expected --workers from 1 to"),
    (RunOptions(workers=2, trace_path="t.jsonl"), "--workers/--dask run in batch"),
    (RunOptions(scale=0), "expected --scale > 0"),
    (RunOptions(rate=float("inf")), "expected --rate > 0"),
])
def test_each_option_that_does_not_fit_is_refused_by_its_flag(options: RunOptions,
                                                              flag: str) -> None:
    with pytest.raises(RunOptionError, match=flag.replace(".", r"\.")):
        prepare(load_scenario(LOAD), options)


def test_prepare_applies_what_changes_the_scenario() -> None:
    scenario = load_scenario(LOAD)
    prepared = prepare(scenario, RunOptions(scale=2, rate=3, warmup=60))
    (before,), (after,) = scenario.traffic[:1], prepared.traffic[:1]
    assert after.cps == before.cps * 3
    assert after.duration == before.duration * 2 + 60  # the warm-up runs before the start
    assert prepared.start.timestamp() == scenario.start.timestamp() - 60
    assert RunOptions(realtime=True).realtime_speed == 1.0
    assert RunOptions(speed=None).realtime_speed is None


def test_the_cli_reports_the_refusal_as_prepare_words_it(tmp_path: Path) -> None:
    done = cli("run", str(DEMO), "-o", str(tmp_path / "out"), "--speed", "2")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("--speed goes with --realtime")
    assert not (tmp_path / "out").exists()
