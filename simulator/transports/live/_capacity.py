"""How many pjsua2 agents live mode needs to play a scenario as written, worked out up front.

The PyPI pjsua2 build holds ``LEGS_PER_AGENT`` calls per process (a 5th INVITE is answered 486
by pjsua itself, and the CDR would say User Busy). So the scenario's ``calls:`` are simulated
first, and from that timeline come, for each routing gateway, the most legs it carries at once
(each served by ``ceil(legs / 4)`` agent processes, among which the switch spreads the INVITEs),
and for each fixed source port (a caller address with a port, which only one process can
bind) the most calls up at once. What cannot be played as written is refused before anything
starts, with the calls and the moment that make it impossible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cdr_writer import Cdr
from simulator.core import Call, RoutingGatewayConfig
from simulator.scenario import CallSpec, Scenario
from simulator.transports._simulated import Simulation, SimulationError
from simulator.transports.live._switch import SLOT_RELEASE, LiveError

LEGS_PER_AGENT = 4
MAX_AGENTS_PER_GATEWAY = 16  # 64 legs at once on one gateway; each agent is a ~40 MB process


@dataclass
class Peak:
    legs: int = 0
    at: float = 0.0
    calls: list[str] = field(default_factory=list)


def peak(spans: list[tuple[float, float, str]], margin: float) -> Peak:
    """The most spans open at once, when, and which; a span holds until ``end + margin``
    (a pjsua2 slot is free only SLOT_RELEASE after the switch is done with the leg)."""
    events = sorted([(start, 1, call_id) for start, _, call_id in spans]
                    + [(end + margin, -1, call_id) for _, end, call_id in spans],
                    key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    best, now_open = Peak(), set[str]()
    for t, step, call_id in events:
        if step > 0:
            now_open.add(call_id)
            if len(now_open) > best.legs:
                best = Peak(len(now_open), t, sorted(now_open))
        else:
            now_open.discard(call_id)
    return best


class _Timeline(Simulation):
    """The simulated run, kept as spans: each gateway leg and each call, start to end."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario, self._ignore)
        self.switch.recorder = None  # released calls come to ``released`` below, then the records
        self.open_legs: dict[int, tuple[str, float]] = {}
        self.legs: dict[str, list[tuple[float, float, str]]] = {}
        self.calls: list[tuple[float, float, str]] = []

    @staticmethod
    def _ignore(_cdr: Cdr) -> None:
        return None

    def _close_leg(self, call: Call, at: float) -> None:
        found = self.open_legs.pop(call.index, None)
        if found is not None:
            name, start = found
            self.legs.setdefault(name, []).append((start, at, call.attempt.call_id))

    def invite_gateway(self, call: Call, gateway: RoutingGatewayConfig) -> None:
        now = self.now
        self._close_leg(call, now)  # the previous attempt is CANCELled as this one starts
        if gateway.status == "up":  # unreachable: nobody listens, no agent holds the leg
            self.open_legs[call.index] = (call.gateway.name, now)
        super().invite_gateway(call, gateway)

    def released(self, call: Call) -> None:
        self._close_leg(call, call.end_at)
        self.calls.append((call.attempt.at, call.end_at, call.attempt.call_id))
        super().released(call)


@dataclass
class AgentNeeds:
    """Agent processes per routing gateway (name -> count), for every gateway that is up."""

    gateway_agents: dict[str, int] = field(default_factory=dict)
    gateway_peaks: dict[str, Peak] = field(default_factory=dict)


def agent_needs(scenario: Scenario, speed: float) -> AgentNeeds:
    """What the pool must start for ``scenario`` at ``speed``; LiveError if it cannot be."""
    problems = [f"routing gateway {name}: outages are not played live (the gateway would "
                "keep its status for the whole run)"
                for name, gw in scenario.routing_gateways.items() if gw.outages]
    if problems:
        raise LiveError("cannot play this scenario live as written:\n  " + "\n  ".join(problems))
    timeline = _Timeline(scenario.model_copy(update={"traffic": []}))
    try:
        timeline.run()
    except SimulationError as exc:
        raise LiveError(str(exc)) from None
    problems += [f"{what}: live mode has no H.323 stack to play it with (no H.323 peer "
                 "installs here, see docs/h323.md); run it simulated, and `vossim explain "
                 "--pcap` shows its H.225.0"
                 for what in _h323_parties(scenario, timeline)]
    margin = SLOT_RELEASE * speed  # scenario seconds
    needs = AgentNeeds()
    for name, gateway in scenario.routing_gateways.items():
        if gateway.status != "up":
            continue
        busiest = peak(timeline.legs.get(name, []), margin)
        needs.gateway_peaks[name] = busiest
        count = max(1, math.ceil(busiest.legs / LEGS_PER_AGENT))
        if count > MAX_AGENTS_PER_GATEWAY:
            problems.append(
                f"routing gateway {name} carries {busiest.legs} calls at once at "
                f"t={busiest.at:g} s; live mode plays at most "
                f"{MAX_AGENTS_PER_GATEWAY * LEGS_PER_AGENT} on one gateway "
                f"({MAX_AGENTS_PER_GATEWAY} agent processes of {LEGS_PER_AGENT} calls)")
        needs.gateway_agents[name] = count
    spans = {call_id: (start, end) for start, end, call_id in timeline.calls}
    for source, ids in fixed_sources(scenario).items():
        busiest = peak([(*spans[i], i) for i in ids if i in spans], margin)
        if busiest.legs > LEGS_PER_AGENT:
            problems.append(
                f"{len(ids)} calls come from {source}, one fixed source port, which one pjsua2 "
                f"process binds and which holds {LEGS_PER_AGENT} calls at once; "
                f"{busiest.legs} of them are up at once at t={busiest.at:g} s "
                f"({', '.join(busiest.calls)}). Give their address no port (any free port "
                "is then used) or spread them over more addresses")
    if problems:
        raise LiveError("cannot play this scenario live as written:\n  " + "\n  ".join(problems))
    return needs


def caller_source(scenario: Scenario, call: CallSpec) -> str:
    """The address a scenario call is placed from: its own source_ip, or its gateway's first."""
    return call.source_ip or scenario.mapping_gateways[call.from_].ips[0]


def fixed_sources(scenario: Scenario) -> dict[str, list[str]]:
    """Caller addresses with a port -> the ids of the calls placed from there."""
    out: dict[str, list[str]] = {}
    for call in scenario.calls:
        source = caller_source(scenario, call)
        if ":" in source:
            out.setdefault(source, []).append(call.id)
    return out


def _h323_parties(scenario: Scenario, timeline: _Timeline) -> list[str]:
    used_from = {call.from_ for call in scenario.calls}
    parties = [f"mapping gateway {name}" for name, gw in scenario.mapping_gateways.items()
               if gw.protocol == "h323" and name in used_from]
    parties += [f"routing gateway {name}" for name, gw in scenario.routing_gateways.items()
                if gw.protocol == "h323" and timeline.legs.get(name)]
    return parties
