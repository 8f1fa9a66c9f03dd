"""vossim: a VOS3000-compatible softswitch simulator.

    >>> from simulator import load_scenario, run_scenario
    >>> result = run_scenario(load_scenario("scenarios/prepaid-cutoff.yaml"), "out")
    >>> result.stats.calls, result.mismatches()
"""

from simulator.core._decisions import ALL_ROWS, SETUP_CHECKS, Party, Verdict
from simulator.core._reasons import EndReason
from simulator.run._run import Mismatch, RunResult, apply_overrides, run_scenario
from simulator.scenario._loader import Problem, ScenarioError, load_scenario, parse_scenario
from simulator.scenario._schema import Scenario
from simulator.transports._simulated import RunStats, SimulationError

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
