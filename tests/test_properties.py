"""Invariants of money and time over random call mixes sharing one account (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenario_support import run, scenario
from simulator.core._rating import Rate

seconds = st.floats(min_value=0, max_value=900, allow_nan=False).map(lambda x: round(x, 3))

callee = st.one_of(
    st.builds(lambda a, h: {"answer_after": a, **({"hangup_after": h} if h else {})},
              st.floats(0, 30).map(lambda x: round(x, 2)), st.none() | seconds),
    st.just({"busy": True}),
    st.sampled_from([404, 480, 503, 603]).map(lambda c: {"reject": c}),
    st.just({"no_answer": True}),
)
caller = st.one_of(
    st.builds(lambda h: {"hangup_after": h}, seconds),
    st.builds(lambda c: {"cancel_after": c}, st.floats(0, 40).map(lambda x: round(x, 2))),
)
call = st.builds(lambda at, ce, cr, media: {
    "at": at, "callee_does": ce, "caller_does": cr,
    **({"media_stops_after": media} if media is not None else {})},
    st.floats(0, 600).map(lambda x: round(x, 3)), callee, caller, st.none() | seconds)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call, min_size=1, max_size=8),
       money=st.decimals(min_value=0, max_value=3, places=2),
       limit=st.decimals(min_value=0, max_value=1, places=2),
       period=st.sampled_from([1, 6, 60]),
       fee=st.sampled_from(["0.01", "0.07", "0.25"]),
       suppress=st.booleans())
def test_money_and_time_invariants(tmp_path_factory, calls, money, limit, period, fee,
                                   suppress) -> None:
    tmp_path: Path = tmp_path_factory.mktemp("p")
    scn = scenario(*calls,
                   accounts={"ACME": {"name": "A", "type": "prepaid", "money": str(money),
                                      "limit_money": str(limit), "rate_table": "retail",
                                      "max_concurrent": 5}},
                   rate_tables={"retail": [{"prefix": "880", "fee": fee, "period": period}]},
                   switch={"SERVER_BILLING_RECORD_SERVER_HANG_UP": 0 if suppress else 1,
                           "no_answer_timeout": 45})
    records, result = run(scn, tmp_path)
    rate = Rate("880", Decimal(fee), period)
    charged = sum(Decimal(str(r["fee"])) for r in records.values() if r["recorded"])
    assert charged == result.stats.charged
    assert charged <= money + limit  # never below -limit_money
    assert len(records) == len(calls)
    for record in records.values():
        hold = record["holdtime"]
        assert hold >= 0
        if record["starttime"] == record["stoptime"]:
            assert hold == 0
        if record["billingmode"] == 1:
            fee_time, raw = rate.bill(hold)
            assert record["feetime"] == fee_time
            assert Decimal(str(record["fee"])) == raw.quantize(Decimal("0.01"))
        if record["endreason"] == 24:  # a cut-off always falls on a pulse boundary
            assert (record["stoptime"] - record["starttime"]) % (period * 1000) == 0
        if suppress and record["enddirection"] == 2:
            assert not record["recorded"]
