"""Every option of a simulated run in one object, checked in one place.

The command line only parses its flags into ``RunOptions``; ``prepare`` checks them against the
scenario and applies the ones that change it (``--scale``, ``--rate``, ``--warmup``), and
``run_scenario`` runs what it returns. Each refusal names the flag, so the CLI reports it as it
is. A new run option is a field here, its check in ``prepare``, and its flag in ``cli.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cdr_writer import DEFAULT_FORMATS, FORMATS
from simulator.run._errors import RunOptionError
from simulator.run._parallel import MAX_WORKERS, max_workers
from simulator.scenario import MAX_CPS, MAX_SPAN, Scenario

MAX_CALLS = 10 ** 12  # --calls: beyond any run that ends


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    out_dir: str | Path | None = "out"  # None: write nothing
    formats: tuple[str, ...] = DEFAULT_FORMATS
    trace_path: str | Path | None = None
    scale: float = 1.0  # every traffic profile's duration times this
    rate: float = 1.0  # every traffic profile's cps times this
    realtime: bool = False
    speed: float | None = None  # with ``realtime``: simulated seconds per wall-clock second
    udp: tuple[str, int] | None = None
    workers: int = 1
    dask: str | Any | None = None
    calls: int | None = None  # stop arrivals after this many call attempts
    db: str | None = None
    format_options: dict[str, Any] = field(default_factory=dict)
    warmup: float = 0.0

    @property
    def realtime_speed(self) -> float | None:
        """The pace of a realtime feed (None: a batch run, as fast as it goes)."""
        if not self.realtime:
            return None
        return 1.0 if self.speed is None else self.speed

    @property
    def sharded(self) -> bool:
        return self.workers > 1 or self.dask is not None


def prepare(scenario: Scenario, options: RunOptions) -> Scenario:
    """Check ``options`` against ``scenario`` and return the scenario they make (scaled, with
    its warm-up); raises ``RunOptionError`` naming the flag at the first that does not fit."""
    if options.speed is not None and not options.realtime:
        raise RunOptionError("--speed goes with --realtime")
    speed = options.realtime_speed
    if speed is not None and not 0 < speed < float("inf"):
        raise RunOptionError(f"expected --speed > 0, found {speed}")
    if "mariadb" in options.formats and not options.db:
        raise RunOptionError("--format mariadb needs --db mysql://USER:PASS@HOST:PORT/DATABASE")
    if options.db and "mariadb" not in options.formats:
        raise RunOptionError("--db goes with --format mariadb")
    if options.scale != 1.0:
        scenario = scale_traffic(scenario, options.scale)
    if options.rate != 1.0:
        scenario = scale_rate(scenario, options.rate)
    calls = options.calls
    if calls is not None and not 1 <= calls <= MAX_CALLS:
        raise RunOptionError(f"expected --calls from 1 to {MAX_CALLS:,}, found {calls:,}")
    warmup = options.warmup
    if not 0 <= warmup <= MAX_SPAN:
        raise RunOptionError(f"expected --warmup of 0 s or more, at most {MAX_SPAN:,} s "
                             f"(366 days), found {warmup:g}")
    if warmup:
        scenario = _within_bounds(prepend_warmup(scenario, warmup), f"--warmup {warmup:g}")
    if options.sharded and (speed or options.udp or options.trace_path or warmup):
        raise RunOptionError("--workers/--dask run in batch: they cannot be combined with "
                             "--realtime, --warmup, --udp or --trace")
    if options.sharded and scenario.switch.cdr_profile == "vos3000":
        raise RunOptionError("--workers/--dask cannot write cdr_profile vos3000 yet: its flowno "
                             "is the INVITE's arrival order across every account")
    most = max_workers(scenario)
    if not 1 <= options.workers <= most:
        accounts = len(scenario.accounts)
        raise RunOptionError(
            f"expected --workers from 1 to {most} (a run is split by account: "
            f"{accounts:,} account{'s' if accounts != 1 else ''} here, at most {MAX_WORKERS} "
            f"processes), found {options.workers:,}")
    if speed is not None and options.out_dir is not None and _holds_cdrs(Path(options.out_dir)):
        raise RunOptionError(f"{options.out_dir} already holds CDR files; --realtime writes in "
                             "place, so give it a new or empty directory")
    return scenario


def _holds_cdrs(directory: Path) -> bool:
    patterns = [pattern for cdr_format in FORMATS.values() for pattern in cdr_format.files]
    return directory.is_dir() and any(any(directory.glob(p)) for p in patterns)


def scale_traffic(scenario: Scenario, factor: float) -> Scenario:
    """Every traffic profile's ``duration`` times ``factor``: the same rates, more calls."""
    if not factor > 0:
        raise RunOptionError(f"expected --scale > 0, found {factor}")
    traffic = [p.model_copy(update={"duration": p.duration * factor}) for p in scenario.traffic]
    return _within_bounds(scenario.model_copy(update={"traffic": traffic}), f"--scale {factor:g}")


def scale_rate(scenario: Scenario, factor: float) -> Scenario:
    """Every traffic profile's ``cps`` times ``factor``: the same span of time, more calls."""
    if not factor > 0 or factor == float("inf"):
        raise RunOptionError(f"expected --rate > 0, found {factor}")
    traffic = [p.model_copy(update={"cps": p.cps * factor}) for p in scenario.traffic]
    return _within_bounds(scenario.model_copy(update={"traffic": traffic}), f"--rate {factor:g}")


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
