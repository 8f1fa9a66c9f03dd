"""A run: options, sharding over workers, progress and the run summary."""

from simulator.run import _stop as stop  # the stop signals a run keeps (a namespace)
from simulator.run._options import RunOptionError, RunOptions, prepare
from simulator.run._outputs import FeedInterrupted, RunOutputs
from simulator.run._run import (
    Mismatch,
    RunResult,
    SimulationError,
    apply_overrides,
    find_run_errors,
    progress_for,
    replay,
    run,
    run_scenario,
)
from simulator.run._stats import GatewayStats, RunStats
from simulator.run._summary import print_summary
from simulator.run._trace_file import is_stdout

__all__ = [
    "FeedInterrupted",
    "GatewayStats",
    "Mismatch",
    "RunOptionError",
    "RunOptions",
    "RunOutputs",
    "RunResult",
    "RunStats",
    "SimulationError",
    "apply_overrides",
    "find_run_errors",
    "is_stdout",
    "prepare",
    "print_summary",
    "progress_for",
    "replay",
    "run",
    "run_scenario",
    "stop",
]

