"""Running a scenario end to end: overrides, the simulation, the CDR output, the expectations."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cdr_writer import DEFAULT_FORMATS, Cdr, Output, pipe_line
from simulator.core import Outcome
from simulator.run._options import (
    RunOptionError,
    RunOptions,
    prepare,
)
from simulator.run._parallel import ShardingError, run_sharded
from simulator.run._progress import RunProgress
from simulator.run._stats import RunStats
from simulator.run._stop import hold, raise_requested, release
from simulator.run._stop import requests as stop_requests
from simulator.run._trace_file import TraceFile
from simulator.scenario import Problem, Scenario, apply_paths, ending_errors, source_of
from simulator.transports import Simulation, SimulationError, expected_arrivals


@dataclass
class Mismatch:
    call_id: str
    field: str
    expected: Any
    found: Any

    def __str__(self) -> str:
        return f"call {self.call_id!r}: {self.field}: expected {self.expected!r}, " \
               f"found {self.found!r}"


@dataclass
class RunResult:
    scenario: Scenario
    stats: RunStats
    files: list[Path] = field(default_factory=list)
    cdrs: dict[str, Cdr] = field(default_factory=dict)  # calls with an ``expect`` block
    notes: list[str] = field(default_factory=list)  # what the sinks report (a resumed database)
    warmup_calls: int = 0  # calls that ended during ``--warmup``, before the feed began
    # the outcomes (``core.Outcome``) of the ``expect`` calls, built for those calls only (a
    # sharded run keeps their records alone)
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def mismatches(self) -> list[Mismatch]:
        out = []
        for spec in self.scenario.calls:
            if not spec.expect:
                continue
            cdr = self.cdrs.get(spec.id)
            for name, expected in spec.expect.items():
                found = None if cdr is None else cdr.get(name)
                if not _same(expected, found):
                    out.append(Mismatch(spec.id, name, expected, _plain(found)))
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def _same(expected: Any, found: Any) -> bool:
    if isinstance(expected, bool) or isinstance(found, bool):
        return expected == found
    if isinstance(expected, int | float | Decimal) and found is not None:
        try:
            return Decimal(str(expected)) == Decimal(str(found))
        except InvalidOperation:
            return False
    if expected is None:
        return found in (None, "")
    return str(expected) == str(found)


def apply_overrides(scenario: Scenario, overrides: list[str], source: str = "--set") -> Scenario:
    """``--set PATH=VALUE``: any scenario path (``accounts.ACME.money=5``, ``calls[ID].at=3``,
    ``switch.SS_SIP_SESSION_TTL=0``) or a bare ``switch:`` key; the value is read as YAML."""
    return apply_paths(scenario, overrides, source)


def run_scenario(scenario: Scenario, out_dir: str | Path | None = "out",
                 formats: tuple[str, ...] = DEFAULT_FORMATS, *,
                 trace_path: str | Path | None = None, scale: float = 1.0,
                 realtime_speed: float | None = None, udp: tuple[str, int] | None = None,
                 progress: RunProgress | None = None, workers: int = 1,
                 dask: str | Any | None = None, calls: int | None = None,
                 rate: float = 1.0, db: str | None = None,
                 format_options: dict[str, Any] | None = None,
                 warmup: float = 0.0) -> RunResult:
    """Simulate ``scenario``; write its CDRs to ``out_dir`` (None: write nothing).

    The keywords are ``RunOptions``' (``realtime_speed``: a realtime run at that speed); this is
    ``run(prepare(scenario, options), options)`` for callers that hold no options object.
    """
    options = RunOptions(out_dir=out_dir, formats=formats, trace_path=trace_path, scale=scale,
                         rate=rate, realtime=realtime_speed is not None, speed=realtime_speed,
                         udp=udp, workers=workers, dask=dask, calls=calls, db=db,
                         format_options=format_options or {}, warmup=warmup)
    return run(prepare(scenario, options), options, progress)


def replay(scenario: Scenario, keep: set[str], trace: Any = None) -> dict[str, Outcome]:
    """Simulate ``scenario`` in memory, writing nothing, for a consumer that reads calls
    (explain): the outcomes (``core.Outcome``: record, row, suppression, bill) of the calls in
    ``keep`` by id, and every trace line to ``trace`` (anything with ``write``) when given."""
    simulation = Simulation(scenario, _discard, trace=trace, keep=keep)
    simulation.run()
    return simulation.outcomes


def _discard(_: Cdr) -> None:
    return None


def progress_for(scenario: Scenario, options: RunOptions, console: Any) -> RunProgress:
    """The progress bar of a run of ``scenario`` (as ``prepare`` made it) on ``console``."""
    return RunProgress(expected_arrivals(scenario, options.calls), scenario.start.timestamp(),
                       console)


def run(scenario: Scenario, options: RunOptions,
        progress: RunProgress | None = None) -> RunResult:
    """Run ``scenario`` as ``prepare`` made it from ``options``: the one path of a simulated run.

    Output is all or nothing: files appear only when the whole run succeeded. The exception is
    a realtime run (a live feed): CDRs are written in place and flushed as calls end. ``calls``
    stops arrivals after that many call attempts (exact volumes). A warm-up runs its seconds of
    traffic before the scenario's start, unpaced and unwritten, so the output (a realtime feed
    above all) begins in steady state, with calls in progress. ``udp`` also sends each recorded
    CDR as one datagram (its pipe line); ``workers`` > 1 or ``dask`` (a scheduler address or a
    ``distributed.Client``) split the run into shards by account (see ``_parallel``).
    """
    out_dir, formats, trace_path = options.out_dir, options.formats, options.trace_path
    realtime_speed, udp, calls = options.realtime_speed, options.udp, options.calls
    workers, dask, warmup = options.workers, options.dask, options.warmup
    sharded = options.sharded
    db, format_options = options.db, options.format_options
    output = None
    if out_dir is not None:
        try:
            output = Output(out_dir, formats, scenario.switch.SERVER_BILLING_FEE_PRECISTION,
                            direct=realtime_speed is not None,
                            options={"db": db, **(format_options or {})})
        except ValueError as exc:  # an option without its format, a format missing its option
            raise RunOptionError(str(exc)) from None
    try:  # after the output directory, which may hold the trace
        trace = TraceFile(trace_path) if trace_path else None
    except BaseException:
        if trace_path:  # a stop that landed as the staged trace was made: it goes too
            TraceFile.discard_staged(trace_path)
        if output is not None:
            output.abort()
        raise
    if sharded:
        try:
            return _run_sharded(scenario, output, formats, workers, dask, progress, calls)
        except ShardingError as exc:
            raise RunOptionError(str(exc)) from None
    keep = {c.id for c in scenario.calls if c.expect}
    feed = None
    stats = RunStats()
    try:  # a stop (or an error) while the run is set up cleans up as one while it runs
        feed = _UdpFeed(udp, scenario.switch.SERVER_BILLING_FEE_PRECISTION) if udp else None
        on_cdr = _counted(stats, output.write if output else None,
                          whole=bool(output and output.direct))
        if feed is not None:
            on_cdr = _tee(on_cdr, feed.send)
        simulation = Simulation(scenario, on_cdr, trace=trace.handle if trace else None,
                                keep=keep, realtime_speed=realtime_speed, calls=calls,
                                feed_from=warmup)
        if progress is not None:
            # Batch runs refresh the bar every 1024 calls; realtime ones on every call (it
            # throttles).
            simulation.on_cdr = _counting(on_cdr, simulation, progress,
                                          0 if realtime_speed is not None else 1023)
        stats.sim_seconds = simulation.run()
        if progress is not None:
            progress.finish(stats.calls, stats.sim_seconds)
        files = output.commit() if output else []
        written = trace.commit() if trace else None
    except BaseException as exc:
        if trace:
            trace.abort()
        if output and output.direct and isinstance(exc, KeyboardInterrupt | OSError):
            raise _stopped_feed(output, exc) from None
        if output:
            output.abort()
        if isinstance(exc, SimulationError):
            raise placed(scenario, exc) from None
        raise
    finally:
        if feed is not None:
            feed.close()
    if written is not None:
        files.append(written)
    return RunResult(scenario, stats, files, simulation.kept, output.notes() if output else [],
                     simulation.warmup_calls, simulation.outcomes)


class FeedInterrupted(KeyboardInterrupt):
    """A realtime run stopped by Ctrl-C or SIGTERM: ``records`` CDRs are in ``files``, whole."""

    def __init__(self, records: int, files: list[Path], signal_name: str) -> None:
        super().__init__(signal_name)
        self.records = records
        self.files = files
        self.signal_name = signal_name


def _stopped_feed(output: Output, exc: KeyboardInterrupt | OSError) -> BaseException:
    """A realtime run stopped (Ctrl-C, SIGTERM, a full disk): close its files, whose records
    are each whole (every format holds the same ones), and say what they hold. Stopped before
    its first record, it leaves nothing, as a refused run does (and so blocks no next run)."""
    if output.records:
        files, lost = output.close_feed()
    else:
        output.abort()
        files, lost = [], []
    if isinstance(exc, KeyboardInterrupt):
        return FeedInterrupted(output.records, files, str(exc) or "interrupted")
    kept = (f"; the {output.records:,} CDRs written before it are on disk, every line complete"
            if files else "; nothing was written")
    kept += "".join(f"; {note}" for note in lost)
    return OSError(exc.errno, f"{exc.strerror or exc}{kept}", exc.filename)


def placed(scenario: Scenario, error: SimulationError) -> SimulationError:
    """``error`` with the file, line and column of the call it is about (when known)."""
    source = source_of(scenario)
    if source is None or error.where is not None:
        return error
    index = next((i for i, call in enumerate(scenario.calls) if call.id == error.call_id), None)
    if index is None:
        return error
    return SimulationError(error.message, error.call_id, source.where(("calls", index)))


def find_run_errors(scenario: Scenario) -> list[Problem]:
    """The calls of a valid scenario that nothing would end, placed in its file.

    A cheap look at every explicit call names those that might never end; only then is the
    scenario simulated (writing nothing) to see whether one of them really is answered, so that a
    call the switch refuses anyway does not need a hangup.
    """
    suspects = ending_errors(scenario)
    if not suspects:
        return []
    try:
        run_scenario(scenario, None)
    except SimulationError as exc:
        source = source_of(scenario)
        index = next((i for i, call in enumerate(scenario.calls) if call.id == exc.call_id), 0)
        if source is None:
            return [Problem("<scenario>", 1, 1, f"calls[{index}]", exc.message)]
        line, column = source.positions.where(("calls", index))
        return [Problem(source.file, line, column, f"calls[{index}]", exc.message)]
    return []


def _run_sharded(scenario: Scenario, output: Output | None, formats: tuple[str, ...],
                 workers: int, dask: str | Any | None,
                 progress: RunProgress | None, calls: int | None) -> RunResult:
    done = RunStats()

    def shard_done(stats: RunStats) -> None:
        done.merge(stats)
        if progress is not None:
            progress.update(done.calls, done.sim_seconds, force=True)
        raise_requested()

    try:
        stats, kept = run_sharded(scenario, output, formats, workers=max(workers, 1),
                                  dask_address=dask, on_shard_done=shard_done, calls=calls)
        if progress is not None:
            progress.finish(stats.calls, stats.sim_seconds)
        files = output.commit() if output else []
    except BaseException as exc:
        if output:
            output.abort()
        if isinstance(exc, SimulationError):
            raise placed(scenario, exc) from None
        raise
    return RunResult(scenario, stats, files, kept, output.notes() if output else [])


class _UdpFeed:
    """VOS3000's real-time CDR feed: one datagram per recorded CDR, holding its pipe line."""

    def __init__(self, address: tuple[str, int], places: int) -> None:
        host, port = address
        self.flag = f"--udp {host}:{port}"
        try:
            family, kind, proto, _, target = socket.getaddrinfo(host, port, 0,
                                                                socket.SOCK_DGRAM)[0]
        except (OSError, UnicodeError) as exc:
            raise RunOptionError(f"{self.flag}: cannot find that address: "
                                 f"{getattr(exc, 'strerror', None) or exc}") from None
        self.socket = socket.socket(family, kind, proto)
        self.target = target
        self.places = places

    def send(self, cdr: Cdr) -> None:
        if cdr.recorded:
            try:
                self.socket.sendto(pipe_line(cdr, self.places).encode(), self.target)
            except OSError as exc:  # say it is the feed, not the output directory
                raise OSError(exc.errno, exc.strerror, self.flag) from None

    def close(self) -> None:
        self.socket.close()


def _counted(stats: RunStats, write: Callable[[Cdr], None] | None,
             whole: bool = False) -> Callable[[Cdr], None]:
    """Every CDR into the run's statistics, then to ``write`` (the output), if any. ``whole``
    (files written in place): a stop waits until the record is written and counted."""
    add = stats.add
    stops = stop_requests  # a signal's stop lost where it landed is taken here (see _stop)
    if write is None:
        def count(cdr: Cdr) -> None:
            add(cdr, cdr.fee)
            if stops:
                raise_requested()
        return count

    if whole:
        def count_and_write_whole(cdr: Cdr) -> None:
            hold()
            try:
                add(cdr, cdr.fee)
                write(cdr)
            finally:
                release()
        return count_and_write_whole

    def count_and_write(cdr: Cdr) -> None:
        add(cdr, cdr.fee)
        write(cdr)
        if stops:
            raise_requested()
    return count_and_write


def _tee(first: Callable[[Cdr], None], second: Callable[[Cdr], None]) -> Callable[[Cdr], None]:
    def both(cdr: Cdr) -> None:
        first(cdr)
        second(cdr)
    return both


def _counting(on_cdr: Callable[[Cdr], None], simulation: Simulation,
              progress: RunProgress, mask: int) -> Callable[[Cdr], None]:
    count = 0

    def counted(cdr: Cdr) -> None:
        nonlocal count
        on_cdr(cdr)
        count += 1
        if not count & mask:
            progress.update(count, simulation.now)
    return counted
