"""Rules the core decides once and its consumers read: recording, the bill's lines, metrics."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from simulator.core import _decisions as table
from simulator.core._config import SwitchConfig
from simulator.core._metrics import gateway_alarms, is_short_hangup
from simulator.core._rating import Charge, Rate, Section


def test_each_recording_switch_suppresses_only_the_endings_it_names() -> None:
    everything = SwitchConfig()
    no_server = replace(everything, SERVER_BILLING_RECORD_SERVER_HANG_UP=0)
    no_zero = replace(everything, SERVER_BILLING_RECORD_ZERO_HOLD_TIME=0)
    no_illegal = replace(everything, SERVER_BILLING_RECORD_ILLEGAL_CALL=0)
    assert table.records_everything(everything)
    assert not table.records_everything(no_zero)
    for verdict in table.ALL_ROWS:
        assert table.suppressed_by(everything, verdict, 0) == ()
        server = verdict.end_direction == table.Party.SERVER
        assert bool(table.suppressed_by(no_server, verdict, 30)) == server
        assert bool(table.suppressed_by(no_illegal, verdict, 0)) == (verdict.row in (1, 2, 5))
        assert [n for n, _ in table.suppressed_by(no_zero, verdict, 0)] == \
            ["SERVER_BILLING_RECORD_ZERO_HOLD_TIME"]
        assert table.suppressed_by(no_zero, verdict, 1) == ()


def test_row_18_has_two_situations_and_each_is_found() -> None:
    unreachable = table.verdict_of_row(18, "every gateway unreachable")
    congested = table.verdict_of_row(18, "every gateway answered 503")
    assert unreachable.end_direction == table.Party.SERVER
    assert congested.end_direction == table.Party.CALLEE
    assert table.verdict_of_row(16, "callee rejects 500").row == 16


def test_the_bill_is_the_sum_of_its_lines() -> None:
    rate = Rate("880", Decimal("0.25"), 60, sections=(Section(30, Decimal("0.10")),
                                                      Section(10, Decimal("0.02"))))
    assert rate.charges(0) == ()
    assert rate.charges(20) == (Charge(1, 1, 30, Decimal("0.10")),)
    lines = rate.charges(161)
    assert lines == (Charge(1, 1, 30, Decimal("0.10")), Charge(2, 1, 10, Decimal("0.02")),
                     Charge(0, 3, 60, Decimal("0.25")))
    assert rate.bill(161) == (220, Decimal("0.87"))


def test_alarm_rules_and_short_hangups() -> None:
    assert is_short_hangup(1, 4) and not is_short_hangup(1, 5)
    assert is_short_hangup(0, 2) and not is_short_hangup(0, 3)
    assert not is_short_hangup(2, 0)
    quiet = {"server_hangups": 0.25, "short_callee_hangups": 0.1, "short_caller_hangups": 0.0}
    assert gateway_alarms(quiet) == []
    loud = dict(quiet, server_hangups=0.5)
    [(metric, share, limit, message)] = gateway_alarms(loud)
    assert (metric, share, limit) == ("server_hangups", 0.5, 0.25)
    assert "50.0%" in message and "over 25%" in message


def test_the_pulses_a_prepaid_call_would_reserve_until_an_instant() -> None:
    rate = Rate("880", Decimal("0.25"), 60, sections=(Section(30, Decimal("0.10")),))
    assert rate.pulses_cost(0, 0) == 0
    assert rate.pulses_cost(0, 1) == Decimal("0.10")  # the section starts at 0
    assert rate.pulses_cost(0, 31) == Decimal("0.35")  # and the first period at 30
    assert rate.pulses_cost(1, 151) == Decimal("0.75")  # periods starting at 30, 90, 150
    free = Rate("880", Decimal(0), 60, sections=(Section(30, Decimal("0.10")),))
    assert free.pulses_cost(0, 10_000) == Decimal("0.10")  # free periods end the walk
