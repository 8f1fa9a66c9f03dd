"""``RunOutputs``: the one place a run's records go (statistics, sinks, UDP feed, progress, trace)
and where it commits or aborts: commit writes everything, abort leaves nothing, and the counts
agree across the statistics, every sink and the feed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from test_sink_output import START, record

from cdr_writer import Cdr
from simulator.run import FeedInterrupted, RunOptionError, RunOutputs

PLACES = 2


def calls() -> list[Cdr]:
    """Five records in stoptime order, the third suppressed (no flowno, not in the pipe file)."""
    out = []
    flowno = 0
    for i in range(5):
        recorded = i != 2
        flowno += recorded
        out.append(record(i, START + 1000 * (i + 1), recorded=recorded,
                          flowno=flowno if recorded else None))
    return out


class Progress:
    def __init__(self) -> None:
        self.updates: list[tuple[int, float]] = []
        self.finished: tuple[int, float] | None = None

    def update(self, calls: int, sim_seconds: float, *, force: bool = False) -> None:
        self.updates.append((calls, sim_seconds))

    def finish(self, calls: int, sim_seconds: float) -> None:
        self.finished = (calls, sim_seconds)


def pipe_lines(out: Path) -> list[str]:
    return [line for path in sorted((out / "cdr").glob("*.txt"))
            for line in path.read_text().splitlines()]


def test_commit_writes_every_output_and_the_counts_agree(tmp_path: Path) -> None:
    out, trace = tmp_path / "out", tmp_path / "trace.jsonl"
    progress = Progress()
    outputs = RunOutputs(PLACES, out_dir=out, formats=("pipe", "jsonl"), trace_path=trace,
                         progress=progress)  # type: ignore[arg-type]
    on_cdr = outputs.on_cdr(clock=lambda: 42.0, every=2)
    for cdr in calls():
        on_cdr(cdr)
    outputs.trace_handle.write('{"call":"call-0"}\n')
    outputs.stats.sim_seconds = 50.0
    files = outputs.commit()
    outputs.close()
    assert files[-1] == trace and trace.read_text() == '{"call":"call-0"}\n'
    assert all(path.exists() for path in files)
    # every record counted; the recorded ones in the pipe files, all of them in cdr.jsonl
    assert outputs.stats.calls == outputs.records == 5  # every record reached the sinks
    assert len(pipe_lines(out)) == 4
    jsonl = [json.loads(line) for line in (out / "cdr.jsonl").read_text().splitlines()]
    assert len(jsonl) == 5 and sum(1 for row in jsonl if row["recorded"]) == 4
    assert progress.updates == [(2, 42.0), (4, 42.0)]  # every 2nd record, on the given clock
    assert progress.finished == (5, 50.0)
    assert not list(tmp_path.rglob(".*"))  # no staging left behind


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    out, trace = tmp_path / "run" / "out", tmp_path / "trace.jsonl"
    outputs = RunOutputs(PLACES, out_dir=out, formats=("pipe", "e_cdr", "jsonl"),
                         trace_path=trace)
    on_cdr = outputs.on_cdr()
    for cdr in calls():
        on_cdr(cdr)
    outputs.trace_handle.write("{}\n")
    error = RuntimeError("the run failed")
    assert outputs.abort(error) is error  # a batch run raises what stopped it
    outputs.close()
    assert list(tmp_path.iterdir()) == []  # not the directories it made, not the trace


def test_a_stopped_realtime_run_keeps_its_whole_records(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outputs = RunOutputs(PLACES, out_dir=out, formats=("pipe", "jsonl"), direct=True)
    on_cdr = outputs.on_cdr()
    for cdr in calls()[:2]:
        on_cdr(cdr)
    stopped = outputs.abort(KeyboardInterrupt("SIGTERM"))
    assert isinstance(stopped, FeedInterrupted)
    assert stopped.records == outputs.stats.calls == 2 == len(pipe_lines(out))
    assert stopped.signal_name == "SIGTERM" and stopped.files


def test_a_realtime_run_stopped_before_its_first_record_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outputs = RunOutputs(PLACES, out_dir=out, formats=("pipe",), direct=True)
    stopped = outputs.abort(KeyboardInterrupt())
    assert isinstance(stopped, FeedInterrupted) and stopped.records == 0
    assert not out.exists()


def test_the_feed_sends_each_recorded_record_once(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        outputs = RunOutputs(PLACES, out_dir=tmp_path / "out", formats=("pipe",),
                             udp=("127.0.0.1", receiver.getsockname()[1]))
        on_cdr = outputs.on_cdr()
        for cdr in calls():
            on_cdr(cdr)
        outputs.commit()
        outputs.close()
        datagrams = [receiver.recv(65536).decode() for _ in range(4)]
        receiver.settimeout(0.2)
        with pytest.raises(TimeoutError):
            receiver.recv(65536)  # the suppressed record is not sent
    assert datagrams == pipe_lines(tmp_path / "out")


def test_a_feed_that_cannot_start_undoes_the_outputs_before_it(tmp_path: Path) -> None:
    with pytest.raises(RunOptionError, match=r"--udp no-such-host\.invalid:9"):
        RunOutputs(PLACES, out_dir=tmp_path / "out", formats=("pipe",),
                   trace_path=tmp_path / "trace.jsonl", udp=("no-such-host.invalid", 9))
    assert list(tmp_path.iterdir()) == []


def test_counting_only_without_sinks(tmp_path: Path) -> None:
    outputs = RunOutputs(PLACES)
    on_cdr = outputs.on_cdr()
    for cdr in calls():
        on_cdr(cdr)
    assert outputs.commit() == []
    assert outputs.stats.calls == 5 and outputs.records == 0
