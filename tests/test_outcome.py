"""``core.Outcome``: a finished call's record, row, suppressing switch and bill, on the bare core.

The outcome is read from what the core decided (``outcome_of``), or back from the call's core
events (``outcome_from_events``, a trace file); both must agree, and each value must be the one
the deciding code produced: the recording rule's switch, ``Rate.charges``' lines, the pulses
``Call._pay_pulse`` reserved and the settlement's charge.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from simulator.core import (
    EVENT,
    AccountConfig,
    Call,
    CallAttempt,
    CoreConfig,
    Kind,
    Leg,
    MappingGatewayConfig,
    Party,
    Phase,
    Rate,
    RateTable,
    RoutingGatewayConfig,
    Section,
    Switch,
    SwitchConfig,
    cdr_from_call,
    event_from_json,
    event_json,
    events,
    outcome_from_events,
    outcome_of,
)
from simulator.run import replay, run_scenario
from simulator.scenario import load_scenario
from simulator.transports import Simulation

SCENARIO = Path(__file__).parent.parent / "scenarios" / "prepaid-cutoff.yaml"
CUSTOMER_IP = "203.0.113.10"
VENDOR_IP = "198.51.100.20"
START = 1_795_168_800.0  # 2026-11-20T10:00:00Z
RETAIL = Rate("880", Decimal("0.30"), 60, 5,
              sections=(Section(30, Decimal("0.10")), Section(30, Decimal("0.12"))))
WHOLESALE = Rate("880", Decimal("0.20"), 6)


class Parties:
    """The gateway answers after 1 s; the refreshes are answered; the rest the test schedules."""

    def invite_gateway(self, call: Call, gateway: RoutingGatewayConfig) -> None:
        call.schedule(call.now + 0.5, Kind.GATEWAY_RINGING, call.attempts)
        call.schedule(call.now + 1.0, Kind.GATEWAY_ANSWER, call.attempts)

    def answered(self, call: Call) -> None:
        return None

    def send_refresh(self, call: Call, leg: Leg) -> None:
        call.schedule(call.now, Kind.REFRESH_ANSWERED, leg)

    def released(self, call: Call) -> None:
        return None


def config(*, switch: SwitchConfig | None = None, account: AccountConfig | None = None,
           vendor_account: bool = False) -> CoreConfig:
    accounts = {"ACME": account or AccountConfig(rate_table="retail", name="Acme")}
    if vendor_account:
        accounts["CARRIER"] = AccountConfig(rate_table="wholesale", name="Carrier")
    return CoreConfig(
        start_epoch=START,
        switch=switch or SwitchConfig(SS_SIP_SESSION_TTL=0),
        accounts=accounts,
        rate_tables={"retail": (RETAIL,), "wholesale": (WHOLESALE,)},
        mapping_gateways={"ACME-GW": MappingGatewayConfig("ACME", (CUSTOMER_IP,))},
        routing_gateways={"VENDOR": RoutingGatewayConfig(
            VENDOR_IP, ("880",), account="CARRIER" if vendor_account else None)},
    )


def play(core: CoreConfig, *, bye_after: float | None = None, source: str = CUSTOMER_IP,
         trace: bool = False) -> Call:
    """One call from ``source``; the caller hangs up ``bye_after`` s after the answer."""
    switch = Switch(core, Parties(), trace=trace)
    call = switch.new_call(CallAttempt("c1", 0.0, source, "8801711000001", "8801911000002"), 0)
    call.start()
    while call.phase is not Phase.ENDED:
        if call.answer_at is not None and bye_after is not None:
            call.schedule(call.answer_at + bye_after, Kind.CALLER_BYE)
            bye_after = None
        at = call.next_wakeup
        assert at is not None and at < 100_000, "nothing would end this call"
        call.advance(at)
    return call


def traced_events(call: Call) -> list[events.Event]:
    """The call's core events as a trace file holds them: written, then read back."""
    out = []
    for _, src, kind, event in call.trace:
        if src is EVENT:
            line = json.loads(json.dumps(event_json(event)))
            out.append(event_from_json(kind, line))
    return out


def test_a_suppressed_server_hangup_names_the_switch_that_suppressed_it() -> None:
    switch = SwitchConfig(SS_SIP_SESSION_TTL=0, max_call_duration=90,
                          SERVER_BILLING_RECORD_SERVER_HANG_UP=0)
    call = play(config(switch=switch))
    record = cdr_from_call(call, None, 0)
    outcome = outcome_of(call, record)
    assert outcome.row == 25 and outcome.verdict.end_direction == Party.SERVER
    assert outcome.suppressed_by == "SERVER_BILLING_RECORD_SERVER_HANG_UP"
    assert not outcome.recorded and not record.recorded
    # the fee it would have paid is the revenue gap; the account paid nothing
    assert outcome.billing.fee == record.fee == Decimal("0.52")  # 30 + 30 s, one period
    assert outcome.billing.rated_fee == Decimal("0.52")
    assert outcome.billing.charged == 0


def test_a_recorded_call_has_no_suppressing_switch() -> None:
    call = play(config(), bye_after=45)
    outcome = outcome_of(call, cdr_from_call(call, 1, 0))
    assert outcome.row == 21 and outcome.recorded and outcome.suppressed_by is None
    assert outcome.suppressing == ()
    assert outcome.billing.charged == outcome.billing.fee == Decimal("0.22")


def test_a_refusal_names_the_illegal_call_switch_and_was_never_rated() -> None:
    switch = SwitchConfig(SS_SIP_SESSION_TTL=0, SERVER_BILLING_RECORD_ILLEGAL_CALL=0)
    call = play(config(switch=switch), source="192.0.2.99")  # on no mapping gateway: row 1
    outcome = outcome_of(call, cdr_from_call(call, None, 0))
    assert outcome.row == 1
    # holdTime is 0 too, but only the switches set to 0 count: the illegal-call one
    assert [name for name, _ in outcome.suppressing] == ["SERVER_BILLING_RECORD_ILLEGAL_CALL"]
    billing = outcome.billing
    assert billing.rate is None and billing.charges == () and billing.fee == 0
    assert billing.pulses == 0 and billing.reserved == 0


def test_the_bill_lines_are_the_ratings_own() -> None:
    call = play(config(), bye_after=130.2)  # 130 s: both sections, then 70 s in 2 periods
    record = cdr_from_call(call, 1, 0)
    billing = outcome_of(call, record).billing
    assert billing.rate is RETAIL
    assert billing.charges == RETAIL.charges(130)
    assert [(c.section, c.count) for c in billing.charges] == [(1, 1), (2, 1), (0, 2)]
    assert sum(c.count * c.seconds for c in billing.charges) == billing.fee_time \
        == record.feetime == 180
    assert sum(c.count * c.fee for c in billing.charges) == record.fee == Decimal("0.82")
    assert billing.pulses == 0 and not billing.prepaid  # postpaid: nothing reserved


def test_a_prepaid_calls_pulses_and_reservations_are_what_rating_charged() -> None:
    prepaid = AccountConfig(rate_table="retail", name="Acme", type="prepaid",
                            money=Decimal("5"))
    call = play(config(account=prepaid), bye_after=130.2, trace=True)
    record = cdr_from_call(call, 1, 0)
    billing = outcome_of(call, record).billing
    traced = traced_events(call)
    paid = [e for e in traced if type(e) is events.Pulse]
    settled = next(e for e in traced if isinstance(e, events.Settled))
    # pulses at 0, 30, 60 and 120 s of talk: both sections and two periods
    assert billing.pulses == len(paid) == 4
    assert billing.reserved == sum(e.cost for e in paid) == Decimal("0.82")
    assert billing.reserved == RETAIL.pulses_cost(0, 130.2)
    assert billing.released == settled.released == billing.reserved
    assert billing.charged == settled.charged == record.fee == Decimal("0.82")
    assert billing.prepaid


def test_a_prepaid_call_cut_off_pays_the_pulses_it_held() -> None:
    # 0.30 buys the two sections (0.22) but not the first period: the call is cut (row 24)
    prepaid = AccountConfig(rate_table="retail", name="Acme", type="prepaid",
                            money=Decimal("0.30"))
    call = play(config(account=prepaid), bye_after=500)
    record = cdr_from_call(call, 1, 0)
    outcome = outcome_of(call, record)
    assert outcome.row == 24
    assert outcome.billing.pulses == 2 and outcome.billing.reserved == Decimal("0.22")
    assert outcome.billing.charged == record.fee <= outcome.billing.rated_fee
    assert call.account.wallet.money == Decimal("0.30") - outcome.billing.charged


def test_the_vendor_side_is_the_agent_fee_and_its_lines() -> None:
    call = play(config(vendor_account=True), bye_after=20.6)
    record = cdr_from_call(call, 1, 0)
    vendor = outcome_of(call, record).billing.vendor
    assert vendor is not None and record.vendor is not None
    assert vendor.account == record.vendor.agentaccount == "CARRIER"
    assert vendor.rate is WHOLESALE
    assert vendor.charges == WHOLESALE.charges(21)
    assert vendor.fee_time == record.vendor.agentfeetime == 24  # 21 s in 6 s periods
    assert vendor.fee == record.vendor.agentfee == Decimal("0.80")


def test_no_vendor_side_without_a_vendor_account() -> None:
    call = play(config(), bye_after=20)
    assert outcome_of(call, cdr_from_call(call, 1, 0)).billing.vendor is None


@pytest.mark.parametrize("money", [Decimal("5"), Decimal("0.30")])
def test_an_outcome_read_back_from_the_trace_is_the_one_the_run_built(money: Decimal) -> None:
    prepaid = AccountConfig(rate_table="retail", name="Acme", type="prepaid", money=money,
                            limit_money=Decimal("0"))
    core = config(account=prepaid, vendor_account=True,
                  switch=SwitchConfig(SS_SIP_SESSION_TTL=0, SERVER_BILLING_RECORD_SERVER_HANG_UP=0))
    call = play(core, bye_after=130.2, trace=True)
    record = cdr_from_call(call, 1 if call.recorded else None, 0)
    in_memory = outcome_of(call, record)
    read_back = outcome_from_events(record, traced_events(call), core.switch,
                                    core.switch.SERVER_BILLING_FEE_PRECISTION,
                                    RateTable([RETAIL]), RateTable([WHOLESALE]))
    assert read_back == in_memory


def test_a_call_that_has_not_ended_has_no_outcome() -> None:
    record = cdr_from_call(play(config(), bye_after=1), 1, 0)
    switch = Switch(config(), Parties())
    call = switch.new_call(CallAttempt("c2", 0.0, CUSTOMER_IP, "1", "8801911000002"), 1)
    call.start()
    with pytest.raises(ValueError, match="has not ended"):
        outcome_of(call, record)


def test_a_trace_without_an_ending_has_no_outcome() -> None:
    call = play(config(), bye_after=10, trace=True)
    record = cdr_from_call(call, 1, 0)
    kept = [e for e in traced_events(call) if not isinstance(e, events.Ending)]
    with pytest.raises(ValueError, match="no ending event"):
        outcome_from_events(record, kept, SwitchConfig(), 2)


def test_a_run_builds_outcomes_only_for_the_calls_it_keeps() -> None:
    scenario = load_scenario(SCENARIO)
    first = scenario.calls[0].id
    outcomes = replay(scenario, {first})
    assert list(outcomes) == [first]
    assert outcomes[first].record.call_id == first
    plain = Simulation(scenario, lambda cdr: None)  # what ``vossim run`` drives: no outcomes
    plain.run()
    assert plain.outcomes == {}


def test_a_sharded_run_hands_back_the_same_outcomes_as_one_process(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO.parent / "billing" / "h323-protocol-codes.yaml")
    one = run_scenario(scenario, tmp_path / "one", ("pipe",))
    sharded = run_scenario(scenario, tmp_path / "sharded", ("pipe",), workers=2)
    expected = {call.id for call in scenario.calls if call.expect}
    assert set(one.outcomes) == set(sharded.outcomes) == expected
    for call_id, outcome in one.outcomes.items():
        other = sharded.outcomes[call_id]
        assert other.record is sharded.cdrs[call_id]  # the record the merge numbered
        assert other.record.flowno == outcome.record.flowno
        assert (other.verdict, other.suppressing, other.billing) == \
            (outcome.verdict, outcome.suppressing, outcome.billing)
