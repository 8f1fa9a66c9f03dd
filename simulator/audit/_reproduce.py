"""``vossim reproduce``: one CDR row -> a commented scenario that replays it -> the replayed row
beside the original."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from simulator.core import Cdr
from simulator.run import run_scenario
from simulator.scenario import Scenario, SwitchSettings, parse_scenario

from ._compare import FieldVerdict, compare_row
from ._infer import Endings, Plan, plan_row, profile_of, row_profile, spread_over_routes
from ._rows import Row, RowError, parse_row, read_rows
from ._scenario import Written, check_config, configured_scenario, minimal_scenario, supports

PROFILES = ("seeds", "vos3000")


@dataclass
class Reproduction:
    """The scenario written for a row, the replay's record and the comparison."""

    row: Row
    plan: Plan
    text: str
    scenario: Scenario
    call_id: str
    cdr: Cdr | None
    fields: list[FieldVerdict]
    profile: str
    window_rows: int = 0
    notes: list[str] = field(default_factory=list)

    def field(self, name: str) -> FieldVerdict:
        return next(f for f in self.fields if f.name == name)


@lru_cache(maxsize=4)
def profile_scenario(profile: str) -> Scenario:
    """An empty scenario whose switch writes ``profile`` (for the ending inversion)."""
    switch: dict[str, Any] = {}
    if supports(SwitchSettings, "cdr_profile"):
        switch["cdr_profile"] = profile
    return Scenario.model_validate({"version": 1, "switch": switch})


@lru_cache(maxsize=4)
def endings_for(profile: str) -> Endings:
    return Endings(profile_scenario(profile))


def _is_file(source: str) -> bool:
    """A name of something other than a directory; a FIFO or a device counts, for the CDR
    reader to refuse by name."""
    try:
        return len(source) < 4096 and Path(source).exists() and not Path(source).is_dir()
    except (OSError, ValueError):  # a row's text is no file name ("File name too long")
        return False


def _is_row_text(source: str) -> bool:
    """Text that is a row, not a file name: a separator or a JSON object in it."""
    return any(mark in source for mark in (",", "\t", "|", "{"))


def load_rows(source: str) -> list[Row]:
    """Every row of ``source``: a CDR file, or one row given as text."""
    path = Path(source)
    if not _is_file(source):
        if not _is_row_text(source):
            raise RowError(f"{source[:80]}: expected a CDR file or one CDR row (a CSV or TSV "
                           "line, a JSON object or a pipe line)")
        return [Row.from_fields(parse_row(source), "the row given")]
    rows = []
    for number, fields in enumerate(read_rows(path), 1):
        rows.append(Row.from_fields(fields, f"{source}: row {number}"))
    if not rows:
        raise RowError(f"{source}: expected CDR rows, found none")
    return rows


def pick(rows: list[Row], flowno: int | None, source: str) -> Row:
    if flowno is None:
        if len(rows) == 1:
            return rows[0]
        raise RowError(f"{source}: holds {len(rows):,} rows; pick one with --flowno N")
    for row in rows:
        if row.flowno == flowno:
            return row
    raise RowError(f"{source}: no row with flowno {flowno}")


def window_of(rows: list[Row], disputed: Row, seconds: float, endings: Endings,
              profile: str) -> list[Plan]:
    """The disputed row's plan first, then the same account's rows that overlap it ± S s."""
    first = plan_row(disputed, endings, profile)
    low = first.invite_ms - seconds * 1000
    high = disputed.stoptime + seconds * 1000
    plans = [first]
    for row in rows:
        if row is disputed or row.customeraccount != disputed.customeraccount:
            continue
        plan = plan_row(row, endings, profile)
        if plan.invite_ms <= high and row.stoptime >= low:
            plans.append(plan)
    return plans


def reproduce(source: str, *, flowno: int | None = None, config: str | None = None,
              window: float | None = None, profile: str | None = None,
              name: str = "reproduced.yaml") -> Reproduction:
    """Reproduce one row of ``source`` (a file or a row as text); see the module doc."""
    rows = load_rows(source)
    disputed = pick(rows, flowno, source)
    if config is not None:
        from simulator.scenario import load_scenario

        config_scenario = load_scenario(config)
        check_config(config_scenario, config)
        chosen = profile_of(config_scenario)
        endings = Endings(config_scenario)
    else:
        chosen = profile or row_profile(disputed)
        endings = endings_for(chosen)
    plans = window_of(rows, disputed, window, endings, chosen) if window else \
        [plan_row(disputed, endings, chosen)]
    if config is not None:
        for plan in plans:
            spread_over_routes(plan, endings)
    shown = Path(source).name if _is_file(source) else "a row"
    title = f"vossim reproduce: {disputed.label} of {shown}"
    if config is not None:
        written: Written = configured_scenario(Path(config).read_text(encoding="utf-8"),
                                               config_scenario, plans, title)
    else:
        written = minimal_scenario(plans, chosen, title)
    scenario = parse_scenario(written.text, name)
    result = run_scenario(scenario, None)
    call_id = written.call_ids[0]
    outcome = result.outcomes.get(call_id)
    cdr = outcome.record if outcome is not None else None
    fields = compare_row(disputed, plans[0], outcome, scenario)
    return Reproduction(disputed, plans[0], written.text, scenario, call_id, cdr, fields, chosen,
                        len(plans) - 1, [*disputed.notes, *written.notes])
