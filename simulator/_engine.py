"""The simulated transport: drives the sans-I/O core on simpy's clock from a scenario's script."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

import simpy

from cdr_writer import Cdr
from simulator._decisions import Party
from simulator._scenario import Call as CallSpec
from simulator._scenario import CalleeDoes, RoutingGateway, Scenario
from simulator._state import Call, CallAttempt, Kind, Leg, Phase, Switch

_ANSWER_AT_ONCE = CalleeDoes(answer_after=0)


class SimulationError(Exception):
    """The scenario is valid but cannot be simulated to the end (e.g. a call nothing ends)."""


@dataclass
class RunStats:
    """What the summary table shows; filled in as calls end."""

    calls: int = 0
    answered: int = 0
    talk_seconds: int = 0
    recorded: int = 0
    charged: Decimal = Decimal(0)
    suppressed: int = 0
    revenue_gap: Decimal = Decimal(0)
    directions: Counter[int] = field(default_factory=Counter)
    reasons: Counter[tuple[int, str]] = field(default_factory=Counter)
    sim_seconds: float = 0.0

    def add(self, cdr: Cdr, fee: Decimal) -> None:
        self.calls += 1
        if cdr.starttime != cdr.stoptime or cdr.holdtime:
            self.answered += 1
            self.talk_seconds += cdr.holdtime
        self.directions[cdr.enddirection] += 1
        self.reasons[(cdr.endreason, cdr.end_reason_name)] += 1
        if cdr.recorded:
            self.recorded += 1
            self.charged += fee
        else:
            self.suppressed += 1
            self.revenue_gap += fee

    @property
    def asr(self) -> float:
        return self.answered / self.calls if self.calls else 0.0

    @property
    def acd(self) -> float:
        return self.talk_seconds / self.answered if self.answered else 0.0


class Simulation:
    """One run of a scenario: the switch, its calls, and where each finished CDR goes."""

    def __init__(self, scenario: Scenario, on_cdr: Callable[[Cdr], None], *,
                 trace: IO[str] | None = None, keep: set[str] | None = None) -> None:
        self.scenario = scenario
        self.env = simpy.Environment()
        self.switch = Switch(scenario, self, trace=trace is not None)
        self.on_cdr = on_cdr
        self.trace = trace
        self.keep = keep or set()
        self.kept: dict[str, Cdr] = {}
        self.stats = RunStats()
        self.scripts: dict[int, CallSpec] = {}
        self.flowno = 0
        self.config = scenario.switch
        self.places = self.config.SERVER_BILLING_FEE_PRECISTION

    # -- driving --------------------------------------------------------------------------------
    def run(self) -> RunStats:
        self.env.process(self._arrivals(self._explicit_calls()))
        self.env.run()
        self.stats.sim_seconds = self.env.now
        return self.stats

    def _explicit_calls(self) -> Iterator[tuple[float, CallSpec]]:
        calls = sorted(enumerate(self.scenario.calls), key=lambda item: (item[1].at, item[0]))
        for _, spec in calls:
            yield spec.at, spec

    def _arrivals(self, calls: Iterator[tuple[float, CallSpec]]) -> Iterator[simpy.Event]:
        env = self.env
        gateways = self.scenario.mapping_gateways
        for index, (at, spec) in enumerate(calls):
            if at > env.now:
                yield env.timeout(at - env.now)
            source_ip = spec.source_ip or gateways[spec.from_].ips[0]
            credentials = (spec.credentials.user, spec.credentials.password) \
                if spec.credentials else None
            attempt = CallAttempt(spec.id, at, source_ip, spec.caller, spec.callee, credentials)
            call = self.switch.new_call(attempt, index)
            self.scripts[index] = spec
            spec_cancel = spec.caller_does.cancel_after
            if spec_cancel is not None:
                call.schedule(at + spec_cancel, Kind.CALLER_CANCEL)
            call.start()
            if call.phase is not Phase.ENDED:
                env.process(self._drive(call))

    def _drive(self, call: Call) -> Iterator[simpy.Event]:
        env = self.env
        while call.phase is not Phase.ENDED:
            wakeup = call.next_wakeup
            if wakeup is None:
                raise SimulationError(
                    f"call {call.attempt.call_id!r}: nothing can end it (it rings for ever: no "
                    "answer, no cancel, and no_answer_timeout is 0)")
            if wakeup > env.now:
                yield env.timeout(wakeup - env.now)
            call.advance(env.now)

    # -- the Signalling port --------------------------------------------------------------------
    def invite_gateway(self, call: Call, gateway: RoutingGateway) -> None:
        if gateway.status == "unreachable":
            return  # no reply at all: the core's timer B fires
        behaviour = self.scripts[call.index].callee_does or gateway.callee_does or _ANSWER_AT_ONCE
        now, attempt = self.env.now, call.attempts
        kind = behaviour.kind
        if kind == "answer_after":
            call.schedule(now + (behaviour.ring_after or 0), Kind.GATEWAY_RINGING, attempt)
            call.schedule(now + behaviour.answer_after, Kind.GATEWAY_ANSWER, attempt)
        elif kind == "no_answer":
            call.schedule(now + (behaviour.ring_after or 0), Kind.GATEWAY_RINGING, attempt)
        elif kind == "busy":
            call.schedule(now + (behaviour.after or 0), Kind.GATEWAY_REJECT, (attempt, 486))
        elif kind == "reject":
            call.schedule(now + (behaviour.after or 0), Kind.GATEWAY_REJECT,
                          (attempt, behaviour.reject))

    def answered(self, call: Call) -> None:
        spec = self.scripts[call.index]
        now = self.env.now
        behaviour = spec.callee_does or call.gateway.config.callee_does or _ANSWER_AT_ONCE
        ends = False
        if spec.caller_does.hangup_after is not None:
            call.schedule(now + spec.caller_does.hangup_after, Kind.CALLER_BYE)
            ends = True
        if behaviour.hangup_after is not None:
            call.schedule(now + behaviour.hangup_after, Kind.CALLEE_BYE)
            ends = True
        if spec.admin_disconnect_at is not None:
            call.schedule(now + spec.admin_disconnect_at, Kind.ADMIN_DISCONNECT)
            ends = True
        if spec.media_stops_after is not None:
            call.schedule(now + spec.media_stops_after, Kind.MEDIA_STOPPED)
        if not ends and not call.server_will_end(
                media_stops=spec.media_stops_after is not None,
                refresh_fails=spec.refresh_failing_leg is not None):
            raise SimulationError(
                f"call {spec.id!r}: nothing can end it once answered (no hangup_after on either "
                "side, no admin_disconnect_at, and no switch limit applies)")

    def send_refresh(self, call: Call, leg: Leg) -> None:
        failing = self.scripts[call.index].refresh_failing_leg
        if failing != ("caller" if leg is Leg.CALLER else "callee"):
            call.schedule(self.env.now, Kind.REFRESH_ANSWERED, leg)

    def released(self, call: Call) -> None:
        cdr = self.build_cdr(call)
        self.stats.add(cdr, call.fee)
        if call.attempt.call_id in self.keep:
            self.kept[call.attempt.call_id] = cdr
        self.on_cdr(cdr)
        if self.trace is not None:
            self._write_trace(call)
        self.scripts.pop(call.index, None)

    # -- records --------------------------------------------------------------------------------
    def build_cdr(self, call: Call) -> Cdr:
        switch = self.switch
        stop = switch.wall_ms(call.end_at)
        start = switch.wall_ms(call.answer_at) if call.answer_at is not None else stop
        invite = switch.wall_ms(call.invite_at)
        if call.recorded:
            self.flowno += 1
        account = call.account
        rate = call.rate
        verdict = call.verdict
        return Cdr(
            callere164=call.attempt.caller, calleee164=call.attempt.callee,
            starttime=start, stoptime=stop, holdtime=call.hold_time,
            endreason=call.end_reason, enddirection=int(verdict.end_direction),
            callergatewayid=call.gateway_name, calleegatewayid=call.final_gateway,
            callerip=call.attempt.source_ip, calleeip=_host(call.final_gateway_ip),
            customeraccount=account.name if account and call.gateway_name else "",
            customername=account.config.name if account and call.gateway_name else "",
            feeprefix=rate.prefix if rate is not None and verdict.rated else "",
            feetime=call.fee_time, fee=call.fee,
            callerpdd=_ms_between(switch, call.invite_at, call.caller_pdd_at),
            calleepdd=_ms_between(switch, call.gateway_invite_at, call.callee_pdd_at),
            billingmode=1 if call.billed else -1,
            calllevel=rate.call_level if rate is not None and verdict.rated else 0,
            flowno=self.flowno if call.recorded else None,
            softswitchname=self.config.name, recordstarttime=invite,
            sipreasonheader=call.sip_reason_header,
            end_reason_name=verdict.reason.title, end_reason_category=verdict.reason.category,
            recorded=call.recorded, call_id=call.attempt.call_id,
            seed_key=f"{self.scenario.seed}/{call.index}",
        )

    def _write_trace(self, call: Call) -> None:
        names = {"caller": f"caller {call.attempt.source_ip}", "switch": "switch"}
        for name, load in self.switch.gateways.items():
            names[name] = f"{name} {load.config.ip}"
        protocols = {"caller": call.caller_protocol}
        for name, load in self.switch.gateways.items():
            protocols[name] = load.config.protocol
        for t, src, dst, message in call.trace:
            leg = dst if src == "switch" else src
            if protocols.get(leg) == "h323":
                message = _h225(message, call)
                if message is None:
                    continue
            self.trace.write(json.dumps({
                "call": call.attempt.call_id, "t": round(float(t), 6),
                "time": self.switch.wall_ms(t), "from": names.get(src, src),
                "to": names.get(dst, dst), "message": message,
            }, separators=(",", ":")) + "\n")


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def _ms_between(switch: Switch, start: float | None, end: float | None) -> int:
    if start is None or end is None:
        return 0
    return switch.wall_ms(end) - switch.wall_ms(start)


_H225 = {"INVITE": "Setup", "INVITE (credentials)": None, "100": "Call Proceeding",
         "180": "Alerting", "200": "Connect", "ACK": None, "401": None, "200 (CANCEL)": None,
         "200 (BYE)": None, "487": None}


def _h225(message: str, call: Call) -> str | None:
    if message in _H225:
        return _H225[message]
    if message in ("BYE", "CANCEL") or message[:3].isdigit():
        cause = call.verdict.q850 if call.verdict else 16
        if message == "BYE" and call.verdict and call.verdict.end_direction != Party.SERVER:
            cause = 16
        return f"Release Complete (cause {cause})"
    return message
