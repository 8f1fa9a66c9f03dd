"""The core on its own, in the style of h11's test_state.py: no simpy, no files, no schema.

A ``Switch`` is built from hand-written core config records and driven by a fake ``Signalling``
that plays each gateway's ``Behaviour`` (the same interpretation the transports use) and records
what the core asked of it. The tests read the verdict, the money and the ladder the core kept.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from simulator.core import (
    AccountConfig,
    Behaviour,
    Call,
    CallAttempt,
    CoreConfig,
    EndReason,
    Kind,
    Leg,
    MappingGatewayConfig,
    Phase,
    Rate,
    RoutingGatewayConfig,
    Switch,
    SwitchConfig,
    cdr_from_call,
)
from simulator.core import _decisions as table
from simulator.core._config import ANSWER, NO_ANSWER

CUSTOMER_IP = "203.0.113.10"
ANSWER_NOW = Behaviour(ANSWER)


class FakeSignalling:
    """Plays each routing gateway's behaviour; answers refreshes unless told otherwise."""

    def __init__(self, behaviours: dict[str, Behaviour], *, refresh_fails: bool = False) -> None:
        self.behaviours = behaviours
        self.refresh_fails = refresh_fails
        self.log: list[tuple[str, object]] = []
        self.released_calls: list[Call] = []

    def invite_gateway(self, call: Call, gateway: RoutingGatewayConfig) -> None:
        self.log.append(("invite", gateway.ip))
        now, attempt = call.now, call.attempts
        for after, code in self.behaviours[gateway.ip].responses():
            if code == 180:
                call.schedule(now + after, Kind.GATEWAY_RINGING, attempt)
            elif code == 200:
                call.schedule(now + after, Kind.GATEWAY_ANSWER, attempt)
            else:
                call.schedule(now + after, Kind.GATEWAY_REJECT, (attempt, code))

    def answered(self, call: Call) -> None:
        self.log.append(("answered", call.now))

    def send_refresh(self, call: Call, leg: Leg) -> None:
        self.log.append(("refresh", leg))
        if not self.refresh_fails:
            call.schedule(call.now, Kind.REFRESH_ANSWERED, leg)

    def released(self, call: Call) -> None:
        self.log.append(("released", call.verdict.row))
        self.released_calls.append(call)


def config(**changes: object) -> CoreConfig:
    base = CoreConfig(
        start_epoch=1_795_168_800.0,  # 2026-11-20T10:00:00Z
        switch=SwitchConfig(SS_SIP_SESSION_TTL=0),
        accounts={"ACME": AccountConfig(rate_table="retail", name="Acme")},
        rate_tables={"retail": (Rate("880", Decimal("0.25"), 60, 5),)},
        mapping_gateways={"ACME-GW": MappingGatewayConfig("ACME", (CUSTOMER_IP,))},
        routing_gateways={
            "VENDOR-A": RoutingGatewayConfig("198.51.100.20", ("880",), priority=1),
            "VENDOR-B": RoutingGatewayConfig("198.51.100.30", ("880",), priority=2),
        },
    )
    return replace(base, **changes)


def place(switch: Switch, *, source: str = CUSTOMER_IP, at: float = 0.0,
          hangup_after: float | None = None) -> Call:
    call = switch.new_call(CallAttempt("c1", at, source, "8801711000001", "8801911000002"), 0)
    call.start()
    return call


def run_to_end(call: Call, *, caller_hangup_after: float | None = None,
               limit: float = 10_000.0) -> None:
    """Advance the agenda like a transport does; the caller hangs up ``caller_hangup_after``
    seconds after the answer."""
    scheduled = False
    while call.phase is not Phase.ENDED:
        if call.answer_at is not None and caller_hangup_after is not None and not scheduled:
            call.schedule(call.answer_at + caller_hangup_after, Kind.CALLER_BYE)
            scheduled = True
        at = call.next_wakeup
        assert at is not None and at <= limit, "nothing would end this call"
        call.advance(at)


def test_an_unknown_source_ip_is_refused_before_any_gateway_is_tried() -> None:
    signalling = FakeSignalling({})
    call = place(Switch(config(), signalling), source="192.0.2.99")
    assert call.phase is Phase.ENDED
    assert call.verdict.row == 1 and call.verdict.end_direction == 2
    assert call.verdict.reason is EndReason.UNAUTHORIZED_IP
    assert call.end_reason == 17  # its server-code number
    assert signalling.log == [("released", 1)]  # no INVITE ever left the switch
    cdr = cdr_from_call(call, 1, seed=0)
    assert (cdr.holdtime, cdr.billingmode, cdr.callergatewayid) == (0, -1, "")


def test_a_disabled_account_is_refused_with_row_3() -> None:
    disabled = {"ACME": AccountConfig(rate_table="retail", status="disabled")}
    call = place(Switch(config(accounts=disabled), FakeSignalling({})))
    assert call.verdict.row == 3 and call.fee == 0


def test_a_503_fails_over_to_the_next_gateway_which_answers() -> None:
    signalling = FakeSignalling({"198.51.100.20": Behaviour(503, reply_after=0.5),
                                 "198.51.100.30": Behaviour(ANSWER, 1.0, 2.0)})
    call = place(Switch(config(), signalling))
    run_to_end(call, caller_hangup_after=30)
    assert [entry for entry in signalling.log if entry[0] == "invite"] == [
        ("invite", "198.51.100.20"), ("invite", "198.51.100.30")]
    assert call.attempts == 2 and call.final_gateway == "VENDOR-B"
    assert call.verdict is table.CALLER_BYE
    assert call.answer_at == 2.5 and call.hold_time == 30
    assert call.fee == Decimal("0.25")  # one 60 s period
    cdr = cdr_from_call(call, 1, seed=0)
    assert (cdr.calleegatewayid, cdr.calleeip, cdr.enddirection) == ("VENDOR-B",
                                                                     "198.51.100.30", 0)


def test_every_gateway_503_ends_in_row_18() -> None:
    busy = Behaviour(503)
    call = place(Switch(config(), FakeSignalling({"198.51.100.20": busy,
                                                 "198.51.100.30": busy})))
    run_to_end(call)
    assert call.verdict is table.ALL_CONGESTED and call.final_gateway == "VENDOR-B"


def test_a_prepaid_account_is_cut_off_when_the_next_pulse_cannot_be_paid() -> None:
    prepaid = {"ACME": AccountConfig(rate_table="retail", type="prepaid",
                                     money=Decimal("1.00"))}
    switch = Switch(config(accounts=prepaid), FakeSignalling({"198.51.100.20": ANSWER_NOW}))
    call = place(switch)
    run_to_end(call)  # nobody hangs up: only the money ends the call
    assert call.verdict is table.PREPAID_EXHAUSTED and call.verdict.end_direction == 2
    assert call.hold_time == 240 and call.fee == Decimal("1.00")
    wallet = switch.accounts["ACME"].wallet
    assert wallet.money == 0 and wallet.reserved == 0


def test_a_caller_bye_on_a_pulse_boundary_is_a_caller_hangup_and_the_pulse_is_free() -> None:
    prepaid = {"ACME": AccountConfig(rate_table="retail", type="prepaid",
                                     money=Decimal("1.00"))}
    switch = Switch(config(accounts=prepaid), FakeSignalling({"198.51.100.20": ANSWER_NOW}))
    call = place(switch)
    run_to_end(call, caller_hangup_after=60)  # exactly when the second pulse starts
    assert call.verdict is table.CALLER_BYE  # row 21 before row 24 at the same instant
    assert call.hold_time == 60 and call.fee == Decimal("0.25")
    assert switch.accounts["ACME"].wallet.money == Decimal("0.75")


def test_an_unanswered_session_refresh_ends_the_call_after_timer_b() -> None:
    timers = SwitchConfig(SS_SIP_SESSION_TTL=90, SS_SIP_SESSION_UPDATE_SEGMENT=2)
    signalling = FakeSignalling({"198.51.100.20": ANSWER_NOW}, refresh_fails=True)
    call = place(Switch(config(switch=timers), signalling))
    run_to_end(call)
    assert ("refresh", Leg.CALLER) in signalling.log
    assert call.verdict is table.REFRESH_FAILED
    assert call.hold_time == 45 + 32  # the first refresh at TTL/2, then timer B
    assert call.trace is None  # no ladder unless asked for


def test_refreshes_closer_than_timer_b_still_fail_on_the_first_unanswered_one() -> None:
    # every 10 s, but a re-INVITE waits 32 s for its answer: the second and third refreshes
    # must not reset the first one's timer B.
    timers = SwitchConfig(SS_SIP_SESSION_TTL=10, SS_SIP_SESSION_UPDATE_SEGMENT=1)
    signalling = FakeSignalling({"198.51.100.20": ANSWER_NOW}, refresh_fails=True)
    call = place(Switch(config(switch=timers), signalling))
    run_to_end(call)
    assert call.verdict is table.REFRESH_FAILED
    assert call.hold_time == 10 + 32
    assert signalling.log.count(("refresh", Leg.CALLER)) == 1  # none sent while one is open


def test_answered_refreshes_keep_the_call_up_until_the_caller_leaves() -> None:
    timers = SwitchConfig(SS_SIP_SESSION_TTL=60, SS_SIP_SESSION_UPDATE_SEGMENT=2)
    signalling = FakeSignalling({"198.51.100.20": ANSWER_NOW})
    call = place(Switch(config(switch=timers), signalling))
    run_to_end(call, caller_hangup_after=100)
    assert call.verdict is table.CALLER_BYE and call.hold_time == 100
    assert sum(1 for kind, _ in signalling.log if kind == "refresh") >= 3


def test_ringing_longer_than_no_answer_timeout_is_row_19_with_a_ladder() -> None:
    signalling = FakeSignalling({"198.51.100.20": Behaviour(NO_ANSWER, 1.0)})
    switch = Switch(config(switch=SwitchConfig(no_answer_timeout=20, SS_SIP_SESSION_TTL=0)),
                    signalling, trace=True)
    call = place(switch)
    run_to_end(call)
    assert call.verdict is table.RING_TIMEOUT and call.end_at == 21.0
    ladder = [(src, dst, message) for _, src, dst, message in call.trace]
    assert ("VENDOR-A", "switch", "180") in ladder
    assert ("switch", "caller", "408") in ladder


def test_the_behaviour_interpreter_is_the_one_the_schema_translates_to() -> None:
    from simulator.scenario._core import callee_behaviour
    from simulator.scenario._schema import CalleeDoes

    assert callee_behaviour(CalleeDoes(busy=True, after=2)).responses() == ((2, 486),)
    assert callee_behaviour(CalleeDoes(reject=603)).responses() == ((0.0, 603),)
    assert callee_behaviour(CalleeDoes(answer_after=4, ring_after=1)).responses() == (
        (1, 180), (4, 200))
    assert callee_behaviour(CalleeDoes(unreachable=True)).responses() == ()
