"""vossim: a VOS3000-compatible softswitch simulator.

    >>> from simulator import load_scenario, run_scenario
    >>> result = run_scenario(load_scenario("scenarios/prepaid-cutoff.yaml"), "out")
    >>> result.stats.calls, result.mismatches()

The names below are imported on first use, so ``import simulator.core`` (the pure core, standard
library only) does not load the schema, simpy or rich. ``VOSSIM_CORE=compiled`` runs the same
core built with mypyc (``make compiled``, see ``simulator._core_choice``).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from simulator._core_choice import CompiledCoreError, select_core

try:
    CORE = select_core()  # "python" or "compiled": before any module of the core is imported
except CompiledCoreError as _error:  # asked for in the environment: say so, not a traceback
    sys.stderr.write(f"vossim: {_error}\n")
    raise SystemExit(2) from None

_WHERE = {
    "ALL_ROWS": "simulator.core._decisions",
    "SETUP_CHECKS": "simulator.core._decisions",
    "Party": "simulator.core._decisions",
    "Verdict": "simulator.core._decisions",
    "EndReason": "simulator.core._reasons",
    "Mismatch": "simulator.run._run",
    "RunResult": "simulator.run._run",
    "apply_overrides": "simulator.run._run",
    "run_scenario": "simulator.run._run",
    "RunStats": "simulator.run._stats",
    "Problem": "simulator.scenario._loader",
    "ScenarioError": "simulator.scenario._loader",
    "load_scenario": "simulator.scenario._loader",
    "parse_scenario": "simulator.scenario._loader",
    "Scenario": "simulator.scenario._schema",
    "SimulationError": "simulator.transports._simulated",
}

__all__ = [
    "ALL_ROWS",
    "SETUP_CHECKS",
    "EndReason",
    "Mismatch",
    "Party",
    "Problem",
    "RunResult",
    "RunStats",
    "Scenario",
    "ScenarioError",
    "SimulationError",
    "Verdict",
    "apply_overrides",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
]

if TYPE_CHECKING:
    from simulator.core import ALL_ROWS, SETUP_CHECKS, EndReason, Party, Verdict
    from simulator.run import Mismatch, RunResult, RunStats, apply_overrides, run_scenario
    from simulator.scenario import Problem, Scenario, ScenarioError, load_scenario, parse_scenario
    from simulator.transports import SimulationError


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
