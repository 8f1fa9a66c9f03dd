"""Generated calls give byte for byte the CDRs of the full machine woken at every agenda entry,
whether they run the full machine woken only for shared state (``Call.advance_private``,
``Simulation(eager=...)``, traces equal too) or are planned at setup (``core._plan``,
``Simulation(planned=...)``, woken at the very same clock events)."""

from __future__ import annotations

import io

import pytest

from cdr_writer import pipe_line
from cdr_writer._sinks import jsonl_line
from simulator import load_scenario
from simulator.run._options import scale_rate, scale_traffic
from simulator.transports._simulated import Simulation
from traffic_support import ROOT, load_scenario_from, profile

LOAD = ROOT / "scenarios" / "load"


def _records(scenario, mode: str) -> tuple[list[str], str, int]:
    """(CDR lines, trace, call attempts) of a run in ``mode``: full, eager or planned."""
    lines: list[str] = []
    trace = io.StringIO()

    def on_cdr(cdr) -> None:
        lines.append(pipe_line(cdr, 4) + "\n" + jsonl_line(cdr))

    simulation = Simulation(scenario, on_cdr, trace=None if mode == "planned" else trace,
                            eager=mode != "full", planned=mode == "planned")
    simulation.run()
    return lines, trace.getvalue(), simulation.arrived


def _every_branch():
    """Failover (503 and timer B), prepaid sections and pulses running out, refresh failures,
    lost media, operators, cancels, outages, no-timer callers and H.323."""
    return load_scenario_from(
        profile(cps=6, duration=900, callee_mix={"busy": 0.1, "no_answer": 0.1,
                                                 "unreachable": 0.1, "reject": {"503": 0.1}},
                hold_time={"dist": "exponential", "mean": 200},
                ring_delay={"dist": "uniform", "low": 0.5, "high": 40},
                answer_delay={"dist": "uniform", "low": 1, "high": 45},
                cancel=0.1, media_loss=0.1, refresh_failure=0.3, admin_disconnect=0.05),
        profile(**{"from": "BETA-GW"}, cps=4, duration=900,
                hold_time={"dist": "lognormal", "mean": 90, "sigma": 1.2},
                media_loss={"share": 0.2, "after": {"dist": "fixed", "value": 10}}),
        switch={"no_answer_timeout": 30, "SS_SIP_SESSION_TTL": 240, "max_call_duration": 600,
                "SS_SIP_NO_TIMER_REINVITE_INTERVAL": 300, "media_timeout": 20},
        accounts={"ACME": {"name": "Acme", "type": "prepaid", "money": 400,
                           "rate_table": "retail", "max_concurrent": 40},
                  "BETA": {"name": "Beta", "type": "postpaid", "rate_table": "retail"}},
        rate_tables={"retail": [{"prefix": "880", "fee": "0.25", "period": 6, "call_level": 5,
                                 "sections": [{"time": 30, "fee": "0.10"}]}]},
        mapping_gateways={"ACME-GW": {"account": "ACME", "ips": ["203.0.113.10"]},
                          "BETA-GW": {"account": "BETA", "ips": ["203.0.113.20"],
                                      "session_timer": False}},
        routing_gateways={
            "VENDOR-A": {"ip": "198.51.100.20", "prefixes": ["880"], "capacity": 30,
                         "outages": [{"at": 200, "until": 260, "status": "unreachable"}]},
            "VENDOR-B": {"ip": "198.51.100.21", "prefixes": ["880"], "priority": 2,
                         "protocol": "h323", "capacity": 10,
                         "outages": [{"at": 400, "until": 500}]}})


def _same_instants():
    """Whole-second scripts, so that one call's entries meet on the same instant: BYEs, the
    operator, lost media's timeout, max duration and the no-timer cap on pulse boundaries, a
    stale refresh timer B (28 s + 32 s) on the 60 s pulse, cancels on answers and timer B."""
    return load_scenario_from(
        profile(cps=4, duration=900, callee_mix={"busy": 0.05, "no_answer": 0.1,
                                                 "unreachable": 0.05, "reject": {"503": 0.1}},
                hold_time={"dist": "empirical", "values": [28, 32, 60, 120, 180]},
                ring_delay={"dist": "empirical", "values": [0, 2, 32, 40]},
                answer_delay={"dist": "empirical", "values": [0, 2, 5, 32]},
                cancel={"share": 0.1, "after": {"dist": "empirical", "values": [2, 5, 32, 34]}},
                media_loss={"share": 0.2, "after": {"dist": "empirical", "values": [0, 30, 90]}},
                refresh_failure=0.2,
                admin_disconnect={"share": 0.1,
                                  "after": {"dist": "empirical", "values": [60, 120]}}),
        profile(**{"from": "BETA-GW"}, cps=2, duration=900,
                hold_time={"dist": "empirical", "values": [60, 120, 240]}),
        switch={"no_answer_timeout": 30, "SS_SIP_SESSION_TTL": 56, "max_call_duration": 180,
                "SS_SIP_NO_TIMER_REINVITE_INTERVAL": 120, "media_timeout": 30},
        accounts={"ACME": {"name": "Acme", "type": "prepaid", "money": 1500,
                           "rate_table": "retail"},
                  "BETA": {"name": "Beta", "type": "prepaid", "money": 500,
                           "rate_table": "retail"}},
        mapping_gateways={"ACME-GW": {"account": "ACME", "ips": ["203.0.113.10"]},
                          "BETA-GW": {"account": "BETA", "ips": ["203.0.113.20"],
                                      "session_timer": False}},
        routing_gateways={
            "VENDOR-A": {"ip": "198.51.100.20", "prefixes": ["880"], "capacity": 20},
            "VENDOR-B": {"ip": "198.51.100.21", "prefixes": ["880"], "priority": 2,
                         "status": "unreachable"},
            "VENDOR-C": {"ip": "198.51.100.22", "prefixes": ["880"], "priority": 3}})


SCENARIOS = [
    ("every branch", _every_branch),
    ("same instants", _same_instants),
    ("standard", lambda: scale_traffic(load_scenario(LOAD / "standard.yaml"), 0.4)),
    ("wholesale-day", lambda: scale_rate(load_scenario(LOAD / "wholesale-day.yaml"), 1.5)),
    ("calling-card-evening", lambda: load_scenario(LOAD / "calling-card-evening.yaml")),
    ("fraud-burst", lambda: load_scenario(LOAD / "fraud-burst.yaml")),
]


@pytest.mark.parametrize("name, build", SCENARIOS)
def test_eager_and_planned_calls_give_the_full_machines_bytes(name, build) -> None:
    scenario = build()
    full, full_trace, arrived = _records(scenario, "full")
    eager, eager_trace, _ = _records(scenario, "eager")
    planned, _, _ = _records(scenario, "planned")
    assert arrived > 1000
    assert len(eager) == len(full) == arrived
    assert eager == full
    assert eager_trace == full_trace
    assert planned == full


def test_eager_and_planned_calls_wake_only_for_shared_state() -> None:
    scenario = scale_traffic(load_scenario(LOAD / "standard.yaml"), 0.25)
    counts = {}
    for mode in ("full", "eager", "planned"):
        simulation = Simulation(scenario, lambda _: None, eager=mode != "full",
                                planned=mode == "planned")
        simulation.run()
        # the clock events besides the arrivals themselves, per call attempt
        counts[mode] = (simulation.clock.popped - simulation.arrived) / simulation.arrived
    assert counts["eager"] < 1.5 and counts["full"] > 2.5, counts
    assert counts["planned"] == counts["eager"], counts  # the very same clock events
