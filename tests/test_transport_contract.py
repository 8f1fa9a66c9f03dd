"""Both transports keep the contract of ``simulator/transports/base.py``."""

from __future__ import annotations

import inspect

from scenario_support import ROOT
from simulator import load_scenario
from simulator.core._record import Cdr
from simulator.transports._simulated import Simulation
from simulator.transports.base import Transport


def test_the_simulation_hands_each_call_its_record_once() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "disputes" / "shared-balance.yaml")
    seen: list[Cdr] = []
    simulation = Simulation(scenario, seen.append)
    assert isinstance(simulation, Transport)
    simulation.run()
    assert sorted(cdr.call_id for cdr in seen) == sorted(call.id for call in scenario.calls)
    assert [cdr.stoptime for cdr in seen] == sorted(cdr.stoptime for cdr in seen)


def test_the_live_switch_is_built_the_same_way() -> None:
    from simulator.transports.live import LiveSwitch

    parameters = list(inspect.signature(LiveSwitch).parameters)
    assert parameters[0] == "scenario" and "on_cdr" in parameters
    assert callable(LiveSwitch.run)
    # the run around it (outputs, statistics, signals) is the run's, not the transport's
    source = inspect.getsource(inspect.getmodule(LiveSwitch))
    assert "RunStats" not in source and "signal.signal(" not in source
