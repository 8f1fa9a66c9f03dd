"""Every row of the decision table, driven on the bare core (no simpy, no schema, no files).

Each case builds a ``Switch`` from core config records, plays the parties with a fake
``Signalling`` and asserts the row the core chose, who ended the call and what the record says.
The YAML scenarios under ``scenarios/decision-table/`` stay as end-to-end examples of the same
rows; these tests pin the rows themselves, one situation at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from simulator.core import (
    AccountConfig,
    Behaviour,
    Call,
    CallAttempt,
    CoreConfig,
    Credentials,
    Kind,
    Leg,
    MappingGatewayConfig,
    Party,
    Phase,
    Rate,
    RoutingGatewayConfig,
    Switch,
    SwitchConfig,
    cdr_from_call,
)
from simulator.core import _decisions as table
from simulator.core._config import ANSWER, NO_ANSWER, UNREACHABLE

CUSTOMER_IP = "203.0.113.10"
VENDOR_A, VENDOR_B = "198.51.100.20", "198.51.100.30"
START = 1_795_168_800.0  # 2026-11-20T10:00:00Z


class PlayedSignalling:
    """Plays each gateway's ``Behaviour`` (its responses, and its BYE after answer)."""

    def __init__(self, behaviours: dict[str, Behaviour], *, refresh_fails: bool = False) -> None:
        self.behaviours = behaviours
        self.refresh_fails = refresh_fails
        self.invited: list[str] = []

    def invite_gateway(self, call: Call, gateway: RoutingGatewayConfig) -> None:
        self.invited.append(gateway.ip)
        now, attempt = call.now, call.attempts
        for after, code in self.behaviours[gateway.ip].responses():
            kind = {180: Kind.GATEWAY_RINGING, 200: Kind.GATEWAY_ANSWER}.get(code)
            if kind is None:
                call.schedule(now + after, Kind.GATEWAY_REJECT, (attempt, code))
            else:
                call.schedule(now + after, kind, attempt)

    def answered(self, call: Call) -> None:
        hangup = self.behaviours[call.gateway.config.ip].hangup_after
        if hangup is not None:
            call.schedule(call.now + hangup, Kind.CALLEE_BYE)

    def send_refresh(self, call: Call, leg: Leg) -> None:
        if not self.refresh_fails:
            call.schedule(call.now, Kind.REFRESH_ANSWERED, leg)

    def released(self, call: Call) -> None:
        return None


def core_config(**changes: object) -> CoreConfig:
    base = CoreConfig(
        start_epoch=START,
        switch=SwitchConfig(SS_SIP_SESSION_TTL=0),
        accounts={"ACME": AccountConfig(rate_table="retail", name="Acme")},
        rate_tables={"retail": (Rate("880", Decimal("0.25"), 60, 5),
                                Rate("999", Decimal("0.50"), 60, 5))},
        mapping_gateways={"ACME-GW": MappingGatewayConfig("ACME", (CUSTOMER_IP,))},
        routing_gateways={
            "VENDOR-A": RoutingGatewayConfig(VENDOR_A, ("880",), priority=1),
            "VENDOR-B": RoutingGatewayConfig(VENDOR_B, ("880",), priority=2),
        },
    )
    return replace(base, **changes)


def answering(**keys: float) -> Behaviour:
    return Behaviour(ANSWER, keys.get("ring", 0.5), keys.get("answer", 1.0), keys.get("bye"))


def start(switch: Switch, *, at: float = 0.0, source: str = CUSTOMER_IP,
          callee: str = "8801911000002", index: int = 0,
          credentials: tuple[str, str] | None = None) -> Call:
    attempt = CallAttempt(f"c{index}", at, source, "8801711000001", callee, credentials)
    call = switch.new_call(attempt, index)
    call.start()
    return call


def finish(call: Call, *, caller: dict[Kind, float] | None = None,
           limit: float = 20_000.0) -> Call:
    """Advance the call's agenda as a transport would; ``caller`` schedules what the caller
    (or the operator) does, in seconds after the answer (BYE, admin) or after the INVITE."""
    pending = dict(caller or {})
    before_answer = {k: pending.pop(k) for k in (Kind.CALLER_CANCEL,) if k in pending}
    for kind, after in before_answer.items():
        call.schedule(call.invite_at + after, kind)
    while call.phase is not Phase.ENDED:
        if call.answer_at is not None and pending:
            for kind, after in pending.items():
                call.schedule(call.answer_at + after, kind)
            pending = {}
        at = call.next_wakeup
        assert at is not None and at <= limit, "nothing would end this call"
        call.advance(at)
    return call


def one_call(config: CoreConfig, behaviours: dict[str, Behaviour] | None = None, *,
             refresh_fails: bool = False, caller: dict[Kind, float] | None = None,
             **placed: object) -> Call:
    behaviours = behaviours or {VENDOR_A: answering(), VENDOR_B: answering()}
    switch = Switch(config, PlayedSignalling(behaviours, refresh_fails=refresh_fails))
    return finish(start(switch, **placed), caller=caller)  # type: ignore[arg-type]


def second_call_while_the_first_talks(config: CoreConfig, at: float = 2.0) -> Call:
    behaviours = {VENDOR_A: answering(), VENDOR_B: answering()}
    switch = Switch(config, PlayedSignalling(behaviours))
    first = start(switch, index=0)
    first.advance(at)
    assert first.phase is not Phase.ENDED
    return finish(start(switch, at=at, index=1))


def prepaid(money: str, **more: object) -> dict[str, AccountConfig]:
    return {"ACME": AccountConfig(rate_table="retail", type="prepaid", money=Decimal(money),
                                  **more)}  # type: ignore[arg-type]


def both_gateways(**changes: object) -> dict[str, RoutingGatewayConfig]:
    return {"VENDOR-A": RoutingGatewayConfig(VENDOR_A, ("880",), priority=1, **changes),
            "VENDOR-B": RoutingGatewayConfig(VENDOR_B, ("880",), priority=2, **changes)}


def rejected(code: int) -> dict[str, Behaviour]:
    return {VENDOR_A: Behaviour(code, reply_after=2.0), VENDOR_B: answering()}


TALK = {Kind.CALLER_BYE: 600.0}  # a caller that would stay ten minutes

# situation -> (the verdict the core must reach, how to make it happen)
CASES: dict[str, tuple[table.Verdict, Callable[[], Call]]] = {
    "1 unknown source IP": (table.SETUP_CHECKS[0][0], lambda: one_call(
        core_config(), source="192.0.2.99")),
    "2 wrong credentials": (table.SETUP_CHECKS[1][0], lambda: one_call(core_config(
        mapping_gateways={"ACME-GW": MappingGatewayConfig(
            "ACME", (CUSTOMER_IP,), auth=Credentials("acme", "secret"))}),
        credentials=("acme", "wrong"))),
    "3 account disabled": (table.SETUP_CHECKS[2][0], lambda: one_call(core_config(
        accounts={"ACME": AccountConfig(rate_table="retail", status="disabled")}))),
    "4 account expired": (table.SETUP_CHECKS[3][0], lambda: one_call(core_config(
        accounts={"ACME": AccountConfig(rate_table="retail", expires_epoch=START - 1)}))),
    "5 blacklisted callee": (table.SETUP_CHECKS[4][0], lambda: one_call(
        core_config(blacklist=("8801911",)))),
    "6 CPS limit": (table.SETUP_CHECKS[5][0], lambda: second_call_while_the_first_talks(
        core_config(accounts={"ACME": AccountConfig(rate_table="retail", max_cps=1)}), 0.5)),
    "7 concurrent-call limit": (table.SETUP_CHECKS[6][0], lambda:
                                second_call_while_the_first_talks(core_config(accounts={
                                    "ACME": AccountConfig(rate_table="retail",
                                                          max_concurrent=1)}))),
    "8 no rate": (table.SETUP_CHECKS[7][0], lambda: one_call(core_config(),
                                                             callee="4420700000000")),
    "9 call level not subscribed": (table.SETUP_CHECKS[8][0], lambda: one_call(core_config(
        accounts={"ACME": AccountConfig(rate_table="retail", subscribed=(4,))}))),
    "10 first pulse unaffordable": (table.SETUP_CHECKS[9][0], lambda: one_call(
        core_config(accounts=prepaid("0.10")))),
    "11 no route": (table.SETUP_CHECKS[10][0], lambda: one_call(core_config(),
                                                               callee="9991234567")),
    "12 every gateway down": (table.SETUP_CHECKS[11][0], lambda: one_call(
        core_config(routing_gateways=both_gateways(status="down")))),
    "13 every gateway at capacity": (table.SETUP_CHECKS[12][0], lambda: _both_full()),
    "14 busy": (table.USER_BUSY, lambda: one_call(core_config(), rejected(486))),
    "15 unallocated": (table.UNALLOCATED, lambda: one_call(core_config(), rejected(404))),
    "16 declined": (table.DECLINED, lambda: one_call(core_config(), rejected(603))),
    "17 callee no answer": (table.CALLEE_NO_ANSWER, lambda: one_call(core_config(),
                                                                    rejected(480))),
    "18 every gateway 503": (table.ALL_CONGESTED, lambda: one_call(core_config(), {
        VENDOR_A: Behaviour(503, reply_after=1.0), VENDOR_B: Behaviour(503, reply_after=1.0)})),
    "18 every gateway unreachable": (table.ALL_UNREACHABLE, lambda: one_call(core_config(), {
        VENDOR_A: Behaviour(UNREACHABLE), VENDOR_B: Behaviour(UNREACHABLE)})),
    "19 ringing too long": (table.RING_TIMEOUT, lambda: one_call(
        core_config(switch=SwitchConfig(SS_SIP_SESSION_TTL=0, no_answer_timeout=30)),
        {VENDOR_A: Behaviour(NO_ANSWER, 1.0), VENDOR_B: answering()})),
    "20 caller cancels": (table.CALLER_CANCEL, lambda: one_call(
        core_config(), {VENDOR_A: Behaviour(NO_ANSWER, 1.0), VENDOR_B: answering()},
        caller={Kind.CALLER_CANCEL: 5.0})),
    "21 caller BYE": (table.CALLER_BYE, lambda: one_call(core_config(),
                                                        caller={Kind.CALLER_BYE: 42.0})),
    "22 callee BYE": (table.CALLEE_BYE, lambda: one_call(
        core_config(), {VENDOR_A: answering(bye=42.0), VENDOR_B: answering()}, caller=TALK)),
    "23 admin disconnect": (table.ADMIN_DISCONNECT, lambda: one_call(
        core_config(), caller={Kind.ADMIN_DISCONNECT: 42.0, **TALK})),
    "24 prepaid money runs out": (table.PREPAID_EXHAUSTED, lambda: one_call(
        core_config(accounts=prepaid("0.50")), caller=TALK)),
    "25 max call duration": (table.MAX_DURATION, lambda: one_call(
        core_config(switch=SwitchConfig(SS_SIP_SESSION_TTL=0, max_call_duration=42)),
        caller=TALK)),
    "26 no session timer cap": (table.NO_TIMER_CAP, lambda: one_call(core_config(
        switch=SwitchConfig(SS_SIP_SESSION_TTL=1800, SS_SIP_NO_TIMER_REINVITE_INTERVAL=42),
        mapping_gateways={"ACME-GW": MappingGatewayConfig("ACME", (CUSTOMER_IP,),
                                                          session_timer=False)}),
        caller=TALK)),
    "27 refresh unanswered": (table.REFRESH_FAILED, lambda: one_call(
        core_config(switch=SwitchConfig(SS_SIP_SESSION_TTL=20, SS_SIP_SESSION_UPDATE_SEGMENT=2)),
        refresh_fails=True, caller=TALK)),
    "28 media timeout": (table.MEDIA_TIMEOUT, lambda: one_call(
        core_config(switch=SwitchConfig(SS_SIP_SESSION_TTL=0, media_timeout=30)),
        caller={Kind.MEDIA_STOPPED: 12.0, **TALK})),
}


def _both_full() -> Call:
    config = core_config(routing_gateways=both_gateways(capacity=1))
    behaviours = {VENDOR_A: answering(), VENDOR_B: answering()}
    switch = Switch(config, PlayedSignalling(behaviours))
    talking = [start(switch, index=0), start(switch, index=1, at=0.1)]
    for call in talking:
        call.advance(2.0)
        assert call.phase is Phase.TALKING
    return finish(start(switch, at=2.0, index=2))


def test_every_row_of_the_table_has_a_case() -> None:
    covered = {verdict.row for verdict, _ in CASES.values()}
    assert covered == {verdict.row for verdict in table.ALL_ROWS}
    assert len(table.ALL_ROWS) == len(CASES) == 29  # 28 rows, row 18 with two situations


@pytest.mark.parametrize("situation", list(CASES))
def test_the_core_reaches_the_row(situation: str) -> None:
    expected, play = CASES[situation]
    call = play()
    verdict = call.verdict
    assert (verdict.row, verdict.situation) == (expected.row, expected.situation)
    assert verdict.end_direction == expected.end_direction
    cdr = cdr_from_call(call, 1, seed=0)
    assert cdr.enddirection == int(expected.end_direction)
    assert cdr.endreason == int(expected.reason)  # the seeds' numbering, no overrides
    assert cdr.end_reason_name == expected.reason.title
    answered = call.answer_at is not None
    assert answered == (expected.row >= 21), "only rows 21-28 end a call that was answered"
    if not answered:
        assert (cdr.holdtime, cdr.feetime, cdr.fee) == (0, 0, 0)
        assert cdr.starttime == cdr.stoptime
    else:
        assert cdr.holdtime > 0 and cdr.fee > 0 and cdr.feetime % 60 == 0
    if not expected.rated:
        assert cdr.billingmode == -1 and cdr.calllevel == 0
    else:
        assert cdr.billingmode == 1


@pytest.mark.parametrize(("situation", "hold"), [
    ("21 caller BYE", 42), ("22 callee BYE", 42), ("23 admin disconnect", 42),
    ("24 prepaid money runs out", 120), ("25 max call duration", 42),
    ("26 no session timer cap", 42), ("27 refresh unanswered", 10 + 32),
    ("28 media timeout", 12 + 30)])
def test_talk_endings_end_at_the_instant_their_rule_gives(situation: str, hold: int) -> None:
    call = CASES[situation][1]()
    assert call.hold_time == hold


def test_a_server_ending_is_written_unless_its_recording_switch_is_off() -> None:
    quiet = SwitchConfig(SS_SIP_SESSION_TTL=0, max_call_duration=42,
                         SERVER_BILLING_RECORD_SERVER_HANG_UP=0)
    behaviours = {VENDOR_A: answering(), VENDOR_B: answering()}
    call = one_call(core_config(switch=quiet), behaviours, caller=TALK)
    assert call.verdict is table.MAX_DURATION and call.verdict.end_direction == Party.SERVER
    assert not call.recorded
    assert cdr_from_call(call, None, seed=0).flowno is None
