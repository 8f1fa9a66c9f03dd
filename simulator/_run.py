"""Running a scenario end to end: overrides, the simulation, the CDR output, the expectations."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cdr_writer import DEFAULT_FORMATS, Cdr, Output
from simulator._engine import RunStats, Simulation
from simulator._loader import Problem, ScenarioError, _Positions, _problem_from_pydantic
from simulator._scenario import Scenario, Switch


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


def apply_overrides(scenario: Scenario, overrides: list[str]) -> Scenario:
    """``--set KEY=VALUE`` on ``switch:`` keys; the value is read as YAML."""
    if not overrides:
        return scenario
    data = scenario.switch.model_dump()
    problems = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            problems.append(Problem("--set", 1, 1, item, "expected KEY=VALUE"))
            continue
        try:
            data[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            problems.append(Problem("--set", 1, 1, f"switch.{key}", f"bad value: {exc}"))
    if not problems:
        try:
            switch = Switch.model_validate(data)
        except ValidationError as exc:
            positions = _Positions(yaml.SafeLoader(""), "--set")
            positions.data = {"switch": data}
            problems = [_problem_from_pydantic({**e, "loc": ("switch", *e["loc"])}, positions)
                        for e in exc.errors()]
        else:
            return scenario.model_copy(update={"switch": switch})
    raise ScenarioError(problems)


def run_scenario(scenario: Scenario, out_dir: str | Path | None = "out",
                 formats: tuple[str, ...] = DEFAULT_FORMATS, *,
                 trace_path: str | Path | None = None) -> RunResult:
    """Simulate ``scenario``; write its CDRs to ``out_dir`` (None: write nothing).

    Output is all or nothing: files appear only when the whole run succeeded.
    """
    output = None
    if out_dir is not None:
        output = Output(out_dir, formats, scenario.switch.SERVER_BILLING_FEE_PRECISTION)
    trace_tmp = Path(f"{trace_path}.partial") if trace_path else None
    trace = trace_tmp.open("w", encoding="utf-8") if trace_tmp else None
    keep = {c.id for c in scenario.calls if c.expect}
    simulation = Simulation(scenario, output.write if output else _discard,
                            trace=trace, keep=keep)
    try:
        stats = simulation.run()
    except BaseException:
        if output:
            output.abort()
        if trace:
            trace.close()
            trace_tmp.unlink(missing_ok=True)
        raise
    files = output.commit() if output else []
    if trace:
        trace.close()
        trace_tmp.replace(trace_path)
        files.append(Path(trace_path))
    return RunResult(scenario, stats, files, simulation.kept)


def _discard(_: Cdr) -> None:
    return None
