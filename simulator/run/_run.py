"""Running a scenario end to end: overrides, the simulation, the CDR output, the expectations."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cdr_writer import DEFAULT_FORMATS, Cdr
from simulator.core import Outcome
from simulator.run._options import (
    RunOptionError,
    RunOptions,
    prepare,
)
from simulator.run._outputs import RunOutputs
from simulator.run._parallel import ShardingError, run_sharded
from simulator.run._progress import RunProgress
from simulator.run._stats import RunStats
from simulator.run._stop import raise_requested
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
    # the outcomes (``core.Outcome``) of the ``expect`` calls, built for those calls only
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
    realtime_speed = options.realtime_speed
    outputs = RunOutputs(scenario.switch.SERVER_BILLING_FEE_PRECISTION, out_dir=options.out_dir,
                         formats=options.formats, direct=realtime_speed is not None,
                         options={"db": options.db, **(options.format_options or {})},
                         trace_path=options.trace_path, udp=options.udp, progress=progress)
    if options.sharded:
        try:
            return _run_sharded(scenario, outputs, options)
        except ShardingError as exc:
            raise RunOptionError(str(exc)) from None
    keep = {c.id for c in scenario.calls if c.expect}
    simulation: Simulation | None = None
    try:
        def clock() -> float:
            return simulation.now if simulation else 0.0
        # A realtime run hands each record over as its call ends (the progress bar throttles
        # itself); a batch run hands them over a block at a time.
        if realtime_speed is not None:
            on_cdr, on_block = outputs.on_cdr(clock=clock, every=1), None
        else:
            on_cdr, on_block = _discard, outputs.on_block(clock=clock)
        simulation = Simulation(scenario, on_cdr, trace=outputs.trace_handle, keep=keep,
                                realtime_speed=realtime_speed, calls=options.calls,
                                feed_from=options.warmup, on_block=on_block)
        outputs.stats.sim_seconds = simulation.run()
        files = outputs.commit()
    except BaseException as exc:
        instead = outputs.abort(exc)
        if instead is not exc:
            raise instead from None
        if isinstance(exc, SimulationError):
            raise placed(scenario, exc) from None
        raise
    finally:
        outputs.close()
    return RunResult(scenario, outputs.stats, files, simulation.kept, outputs.notes(),
                     simulation.warmup_calls, simulation.outcomes)


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


def _run_sharded(scenario: Scenario, outputs: RunOutputs, options: RunOptions) -> RunResult:
    """The run as shards (``_parallel``), merged into ``outputs``' sinks; their statistics are
    the run's."""
    done = RunStats()
    progress = outputs.progress

    def shard_done(stats: RunStats) -> None:
        done.merge(stats)
        if progress is not None:
            progress.update(done.calls, done.sim_seconds, force=True)
        raise_requested()

    try:
        outputs.stats, kept, outcomes = run_sharded(
            scenario, outputs.output, options.formats, workers=max(options.workers, 1),
            dask_address=options.dask, on_shard_done=shard_done, calls=options.calls)
        files = outputs.commit()
    except BaseException as exc:
        instead = outputs.abort(exc)
        if instead is not exc:
            raise instead from None
        if isinstance(exc, SimulationError):
            raise placed(scenario, exc) from None
        raise
    finally:
        outputs.close()
    return RunResult(scenario, outputs.stats, files, kept, outputs.notes(), outcomes=outcomes)
