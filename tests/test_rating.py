"""Money and time (spec §3): rating, rounding, pulses, shared prepaid balances, overdraft."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from scenario_support import run, scenario
from simulator.core._rating import Rate, Section, Wallet, round_money

POSTPAID = {"ACME": {"name": "Acme", "type": "postpaid", "rate_table": "retail"}}


def rated(rate: dict, hangup_after: float, tmp_path: Path, **switch) -> dict:
    scn = scenario({"caller_does": {"hangup_after": hangup_after}}, accounts=POSTPAID,
                   rate_tables={"retail": [{"prefix": "880", **rate}]},
                   switch=switch)
    records, _ = run(scn, tmp_path)
    return records["c1"]


@pytest.mark.parametrize(("period", "fee", "talk", "fee_time", "money"), [
    (60, "0.60", 61, 120, 1.20),   # 60/60: a second into the second minute bills it
    (60, "0.60", 60, 60, 0.60),
    (6, "0.06", 61, 66, 0.66),     # 6/6
    (6, "0.06", 1, 6, 0.06),
    (1, "0.01", 61, 61, 0.61),     # 1/1: per second
    (1, "0.01", 3, 3, 0.03),
])
def test_periods(period, fee, talk, fee_time, money, tmp_path: Path) -> None:
    record = rated({"fee": fee, "period": period}, talk, tmp_path)
    assert (record["holdtime"], record["feetime"], record["fee"]) == (talk, fee_time, money)


def test_sections_billed_first_then_whole_periods(tmp_path: Path) -> None:
    rate = {"fee": "0.20", "period": 6, "sections": [{"time": 30, "fee": "0.05"},
                                                       {"time": 10, "fee": "0.01"}]}
    assert rated(rate, 25, tmp_path / "a")["fee"] == 0.05
    assert rated(rate, 35, tmp_path / "b")["feetime"] == 40
    record = rated(rate, 41, tmp_path / "c")
    assert (record["feetime"], record["fee"]) == (46, 0.26)


@pytest.mark.parametrize(("places", "text"), [(0, "0"), (1, "0.1"), (2, "0.13"), (3, "0.125"),
                                              (4, "0.1250")])
def test_fee_precision_rounds_half_up(places: int, text: str, tmp_path: Path) -> None:
    scn = scenario({"caller_does": {"hangup_after": 30}}, accounts=POSTPAID,
                   rate_tables={"retail": [{"prefix": "880", "fee": "0.125", "period": 60}]},
                   switch={"SERVER_BILLING_FEE_PRECISTION": places})
    run_scenario_pipe = run(scn, tmp_path, ("pipe", "jsonl"))
    line = next((tmp_path / "cdr").glob("*.txt")).read_text().strip()
    assert line.split("|")[14] == text
    assert run_scenario_pipe[0]["c1"]["fee"] == float(text)


@pytest.mark.parametrize(("talk", "hold"), [(3.049, 3), (3.05, 4), (3.0, 3), (59.951, 60)])
def test_hold_time_precision(talk: float, hold: int, tmp_path: Path) -> None:
    record = rated({"fee": "0.01", "period": 1}, talk, tmp_path)
    assert record["holdtime"] == hold
    assert record["feetime"] == hold  # a 3 s call is never billed as 4 s


def test_hold_time_precision_setting(tmp_path: Path) -> None:
    record = rated({"fee": "0.01", "period": 1}, 3.3, tmp_path,
                   SERVER_BILLING_HOLD_TIME_PRECISION=500)
    assert record["holdtime"] == 3
    record = rated({"fee": "0.01", "period": 1}, 3.3, tmp_path / "b",
                   SERVER_BILLING_HOLD_TIME_PRECISION=300)
    assert record["holdtime"] == 4


def test_two_concurrent_calls_share_one_balance(tmp_path: Path) -> None:
    # 1.00 at 0.25/60 s: A reserves at 0 and 60, B at 30 and 90; at 120 A finds nothing
    # left, at 150 B neither. Four pulses in all, each call cut on its own minute boundary.
    scn = scenario({"caller_does": {"hangup_after": 3600}},
                   {"at": 30, "caller_does": {"hangup_after": 3600}},
                   accounts={"ACME": {"name": "A", "type": "prepaid", "money": "1.00",
                                      "rate_table": "retail"}})
    records, result = run(scn, tmp_path)
    a, b = records["c1"], records["c2"]
    assert (a["enddirection"], a["endreason"], a["holdtime"]) == (2, 24, 120)
    assert (b["enddirection"], b["endreason"], b["holdtime"]) == (2, 24, 120)
    assert b["stoptime"] - a["stoptime"] == 30_000
    assert a["fee"] + b["fee"] == 1.0
    assert result.stats.charged == Decimal("1.00")


def test_overdraft_floor_is_never_crossed(tmp_path: Path) -> None:
    scn = scenario(*({"at": i, "caller_does": {"hangup_after": 10_000}} for i in range(5)),
                   accounts={"ACME": {"name": "A", "type": "prepaid", "money": "0.30",
                                      "limit_money": "0.70", "rate_table": "retail"}},
                   rate_tables={"retail": [{"prefix": "880", "fee": "0.10", "period": 6}]})
    records, result = run(scn, tmp_path)
    assert result.stats.charged == Decimal("1.00")  # money 0.30 -> -0.70, not a cent lower
    assert all(r["endreason"] == 24 for r in records.values())
    for record in records.values():  # every cut falls on a 6 s pulse boundary
        assert record["holdtime"] % 6 == 0


def test_suppressed_server_hangup_releases_its_reservation(tmp_path: Path) -> None:
    scn = scenario({"caller_does": {}, "callee_does": {"answer_after": 0}},
                   {"at": 1000, "caller_does": {"hangup_after": 120}},
                   accounts={"ACME": {"name": "A", "type": "prepaid", "money": "1.00",
                                      "rate_table": "retail"}},
                   switch={"SERVER_BILLING_RECORD_SERVER_HANG_UP": 0})
    records, result = run(scn, tmp_path)
    cut, later = records["c1"], records["c2"]
    assert (cut["endreason"], cut["recorded"], cut["fee"]) == (24, False, 1.0)
    assert (later["endreason"], later["recorded"], later["fee"]) == (11, True, 0.5)
    assert result.stats.revenue_gap == Decimal("1.00")
    assert result.stats.charged == Decimal("0.50")


def test_caller_bye_on_a_pulse_boundary_does_not_start_the_pulse(tmp_path: Path) -> None:
    scn = scenario({"caller_does": {"hangup_after": 60}},
                   {"at": 100, "caller_does": {"hangup_after": 180}},
                   accounts={"ACME": {"name": "A", "type": "prepaid", "money": "1.00",
                                      "rate_table": "retail"}})
    records, _ = run(scn, tmp_path)
    assert records["c1"]["fee"] == 0.25  # not 0.50: the second minute never started
    assert (records["c2"]["endreason"], records["c2"]["holdtime"]) == (11, 180)


def test_postpaid_is_never_cut_for_money(tmp_path: Path) -> None:
    scn = scenario({"caller_does": {"hangup_after": 3000}},
                   accounts={"ACME": {"name": "A", "type": "postpaid", "money": "0",
                                      "rate_table": "retail"}})
    records, _ = run(scn, tmp_path)
    assert (records["c1"]["endreason"], records["c1"]["fee"]) == (11, 12.5)


def test_rate_unit() -> None:
    rate = Rate("880", Decimal("0.20"), 6, 5, (Section(30, Decimal("0.05")),))
    assert rate.bill(0) == (0, Decimal(0))
    assert rate.bill(30) == (30, Decimal("0.05"))
    assert rate.bill(31) == (36, Decimal("0.25"))
    assert [rate.pulse(i) for i in range(3)] == [(0, 30, Decimal("0.05")),
                                                (30, 6, Decimal("0.20")),
                                                (36, 6, Decimal("0.20"))]
    assert round_money(Decimal("0.125"), 2) == Decimal("0.13")
    assert round_money(Decimal("0.135"), 2) == Decimal("0.14")  # half up, not half even


def test_wallet_floor() -> None:
    wallet = Wallet(Decimal("0.20"), Decimal("0.10"), prepaid=True)
    assert wallet.reserve(Decimal("0.25"))
    assert not wallet.reserve(Decimal("0.10"))
    assert wallet.settle(Decimal("0.25"), Decimal("0.25")) == Decimal("0.25")
    assert wallet.money == Decimal("-0.05")


def test_pulse_on_the_same_instant_as_max_duration_is_not_charged(tmp_path: Path) -> None:
    # 0.50 pays two minutes; at 120 s the third pulse cannot be paid AND the duration cap is
    # reached. The cap ends the call (row 25): the pulse nobody would use is not even tried.
    scn = scenario({"caller_does": {"hangup_after": 600}},
                   accounts={"ACME": {"name": "A", "type": "prepaid", "money": "0.50",
                                      "rate_table": "retail"}},
                   switch={"max_call_duration": 120})
    records, result = run(scn, tmp_path)
    record = records["c1"]
    assert (record["enddirection"], record["endreason"], record["holdtime"]) == (2, 1, 120)
    assert record["fee"] == 0.5
    assert result.stats.charged == Decimal("0.50")
