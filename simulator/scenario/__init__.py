"""The scenario: its schema (every key users may write), the YAML loader and its errors."""

from simulator.scenario._bounds import MAX_CPS, MAX_SPAN
from simulator.scenario._core import callee_behaviour, caller_behaviour, core_config
from simulator.scenario._distributions import BlockSampler
from simulator.scenario._endings import ending_errors
from simulator.scenario._loader import (
    Problem,
    ScenarioError,
    load_scenario,
    parse_scenario,
    source_of,
)
from simulator.scenario._paths import apply_paths
from simulator.scenario._schema import (
    CalleeDoes,
    CallerDoes,
    CallSpec,
    MappingGateway,
    RateModel,
    RoutingGateway,
    Scenario,
    SwitchSettings,
)
from simulator.scenario._traffic import NumberPlan, Timed, TrafficProfile, next_hour

__all__ = [
    "MAX_CPS",
    "MAX_SPAN",
    "BlockSampler",
    "CallSpec",
    "CalleeDoes",
    "CallerDoes",
    "MappingGateway",
    "NumberPlan",
    "Problem",
    "RateModel",
    "RoutingGateway",
    "Scenario",
    "ScenarioError",
    "SwitchSettings",
    "Timed",
    "TrafficProfile",
    "apply_paths",
    "callee_behaviour",
    "caller_behaviour",
    "core_config",
    "ending_errors",
    "load_scenario",
    "next_hour",
    "parse_scenario",
    "source_of",
]
