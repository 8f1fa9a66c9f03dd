"""Running a scenario end to end: overrides, the simulation, the CDR output, the expectations."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cdr_writer import DEFAULT_FORMATS, FORMATS, Cdr, Output, pipe_line
from simulator.run._parallel import MAX_WORKERS, ShardingError, max_workers, run_sharded
from simulator.run._progress import RunProgress
from simulator.run._stats import RunStats
from simulator.run._stop import hold, raise_requested, release
from simulator.run._stop import requests as stop_requests
from simulator.run._trace_file import TraceFile
from simulator.scenario._bounds import MAX_CPS, MAX_SPAN
from simulator.scenario._endings import ending_errors
from simulator.scenario._loader import (
    Problem,
    source_of,
)
from simulator.scenario._paths import apply_paths
from simulator.scenario._schema import Scenario
from simulator.transports._simulated import Simulation, SimulationError


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

    Output is all or nothing: files appear only when the whole run succeeded. The exception is
    ``realtime_speed`` (a live feed): CDRs are written in place and flushed as calls end.
    ``scale`` stretches every traffic profile's duration and ``rate`` multiplies its cps;
    ``calls`` stops arrivals after that many call attempts (exact volumes). ``warmup`` runs that
    many seconds of traffic before the scenario's start, unpaced and unwritten, so the output
    (a realtime feed above all) begins in steady state, with calls in progress. ``udp`` also sends
    each recorded CDR as one datagram (its pipe line); ``workers`` > 1 or ``dask`` (a scheduler
    address or a ``distributed.Client``) split the run into shards by account (see
    ``_parallel``).
    """
    if scale != 1.0:
        scenario = scale_traffic(scenario, scale)
    if rate != 1.0:
        scenario = scale_rate(scenario, rate)
    if calls is not None and not 1 <= calls <= MAX_CALLS:
        raise RunOptionError(f"expected --calls from 1 to {MAX_CALLS:,}, found {calls:,}")
    if not 0 <= warmup <= MAX_SPAN:
        raise RunOptionError(f"expected --warmup of 0 s or more, at most {MAX_SPAN:,} s "
                             f"(366 days), found {warmup:g}")
    if warmup:
        scenario = _within_bounds(prepend_warmup(scenario, warmup), f"--warmup {warmup:g}")
    sharded = workers > 1 or dask is not None
    if sharded and (realtime_speed or udp or trace_path or warmup):
        raise RunOptionError("--workers/--dask run in batch: they cannot be combined with "
                             "--realtime, --warmup, --udp or --trace")
    most = max_workers(scenario)
    if not 1 <= workers <= most:
        accounts = len(scenario.accounts)
        raise RunOptionError(
            f"expected --workers from 1 to {most} (a run is split by account: "
            f"{accounts:,} account{'s' if accounts != 1 else ''} here, at most {MAX_WORKERS} "
            f"processes), found {workers:,}")
    if sharded and scenario.switch.cdr_profile == "vos3000":
        raise RunOptionError("--workers/--dask cannot write cdr_profile vos3000 yet: its flowno "
                             "is the INVITE's arrival order across every account")
    if realtime_speed is not None and not 0 < realtime_speed < float("inf"):
        raise RunOptionError(f"expected --speed > 0, found {realtime_speed}")
    if realtime_speed is not None and out_dir is not None and _holds_cdrs(Path(out_dir)):
        raise RunOptionError(f"{out_dir} already holds CDR files; --realtime writes in place, "
                             "so give it a new or empty directory")
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
                     simulation.warmup_calls)


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


def _holds_cdrs(directory: Path) -> bool:
    patterns = [pattern for cdr_format in FORMATS.values() for pattern in cdr_format.files]
    return directory.is_dir() and any(any(directory.glob(p)) for p in patterns)


MAX_CALLS = 10 ** 12  # --calls: beyond any run that ends


class RunOptionError(ValueError):
    """Run options that cannot go together (the scenario itself is fine)."""


def scale_traffic(scenario: Scenario, factor: float) -> Scenario:
    """Every traffic profile's ``duration`` times ``factor``: the same rates, more calls."""
    if not factor > 0:
        raise RunOptionError(f"expected --scale > 0, found {factor}")
    traffic = [p.model_copy(update={"duration": p.duration * factor}) for p in scenario.traffic]
    return _within_bounds(scenario.model_copy(update={"traffic": traffic}), f"--scale {factor:g}")


def _within_bounds(scenario: Scenario, option: str) -> Scenario:
    """The scenario file's bounds still hold once ``option`` stretched or shifted its traffic."""
    for i, profile in enumerate(scenario.traffic):
        name = profile.name or f"traffic[{i}]"
        if not profile.at + profile.duration <= MAX_SPAN:
            raise RunOptionError(f"{option} takes {name} to {profile.at + profile.duration:,g} s; "
                                 f"a scenario spans at most {MAX_SPAN:,} s (366 days)")
        if not profile.cps <= MAX_CPS:
            raise RunOptionError(f"{option} takes {name} to {profile.cps:,g} calls per second; "
                                 f"at most {MAX_CPS:,g} are simulated")
    return scenario


def prepend_warmup(scenario: Scenario, seconds: float) -> Scenario:
    """The scenario with ``seconds`` of traffic before its start (``--warmup``).

    The clock starts ``seconds`` earlier and everything scheduled moves with it, so it happens
    at the same wall-clock instant; profiles that start at the beginning start ``seconds``
    earlier, so calls are in progress when the original start comes.
    """
    traffic = [p.model_copy(update={"duration": p.duration + seconds} if p.at == 0
                            else {"at": p.at + seconds}) for p in scenario.traffic]
    calls = [c.model_copy(update={"at": c.at + seconds}) for c in scenario.calls]
    gateways = {name: gw.model_copy(update={"outages": [
        o.model_copy(update={"at": o.at + seconds, "until": o.until + seconds})
        for o in gw.outages]}) for name, gw in scenario.routing_gateways.items()}
    return scenario.model_copy(update={
        "start": scenario.start - timedelta(seconds=seconds), "traffic": traffic,
        "calls": calls, "routing_gateways": gateways})


def scale_rate(scenario: Scenario, factor: float) -> Scenario:
    """Every traffic profile's ``cps`` times ``factor``: the same span of time, more calls."""
    if not factor > 0 or factor == float("inf"):
        raise RunOptionError(f"expected --rate > 0, found {factor}")
    traffic = [p.model_copy(update={"cps": p.cps * factor}) for p in scenario.traffic]
    return _within_bounds(scenario.model_copy(update={"traffic": traffic}), f"--rate {factor:g}")


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
