"""vossim: a VOS3000-compatible softswitch simulator.

    >>> from simulator import load_scenario, run_scenario
    >>> result = run_scenario(load_scenario("scenarios/prepaid-cutoff.yaml"), "out")
    >>> result.stats.calls, result.mismatches()
"""

from simulator._decisions import ALL_ROWS, SETUP_CHECKS, Party, Verdict
from simulator._engine import RunStats, SimulationError
from simulator._loader import Problem, ScenarioError, load_scenario, parse_scenario
from simulator._reasons import EndReason
from simulator._run import Mismatch, RunResult, apply_overrides, run_scenario
from simulator._scenario import Scenario

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
