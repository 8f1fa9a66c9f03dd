"""Traffic profiles: validation, distributions, arrivals, and the CDR mix the engine makes."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from simulator import ScenarioError, run_scenario
from simulator.core._rating import Rate, Section
from simulator.scenario._bounds import MAX_DELAY
from simulator.scenario._distributions import Distribution
from simulator.traffic._generator import profile_calls
from simulator.transports._simulated import Simulation
from traffic_support import load_scenario_from, pipe_records, profile, tree_bytes

# -- distributions --------------------------------------------------------------------------------
# The generator draws in numpy blocks (``block_sampler``); ``sampler`` draws one value at a time.
# Both must draw the same distribution, clamped the same way.
HOW = ["one", "block"]


def _draws(dist: Distribution, n: int, seed: int, how: str) -> list[float]:
    if how == "block":
        values = dist.block_sampler(np.random.default_rng(seed))(n)
        assert values.shape == (n,)
        return values.tolist()
    draw = dist.sampler(random.Random(seed))
    return [draw() for _ in range(n)]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("spec, mean, low, high", [
    ({"dist": "fixed", "value": 7.5}, 7.5, 7.5, 7.5),
    ({"dist": "uniform", "low": 2, "high": 10}, 6.0, 2, 10),
    ({"dist": "exponential", "mean": 90}, 90.0, 0, math.inf),
    ({"dist": "lognormal", "mean": 120, "sigma": 0.8}, 120.0, 0, math.inf),
    ({"dist": "lognormal", "mu": 4.0, "sigma": 0.5}, math.exp(4.0 + 0.125), 0, math.inf),
    ({"dist": "normal", "mean": 60, "sd": 10}, 60.0, 0, math.inf),
    ({"dist": "empirical", "values": [5, 30, 300], "weights": [6, 3, 1]}, 42.0, 5, 300),
    ({"dist": "empirical", "values": [1, 2, 3]}, 2.0, 1, 3),
])
def test_distribution_draws_have_the_declared_mean_and_range(spec, mean, low, high, how) -> None:
    dist = Distribution.model_validate(spec)
    values = _draws(dist, 40_000, 3, how)
    assert min(values) >= low and max(values) <= high
    assert dist.expected == pytest.approx(mean)
    spread = statistics.pstdev(values)
    # The sample mean lies within 5 standard errors of the true mean.
    assert abs(statistics.fmean(values) - mean) <= 5 * spread / math.sqrt(len(values)) + 1e-9


@pytest.mark.parametrize("how", HOW)
def test_normal_never_draws_negative_durations_and_min_max_clamp(how) -> None:
    assert min(_draws(Distribution(dist="normal", mean=1, sd=5), 5000, 1, how)) == 0.0
    clamp = Distribution(dist="exponential", mean=100, min=10, max=20)
    values = set(_draws(clamp, 5000, 1, how))
    assert min(values) == 10 and max(values) == 20
    fixed = Distribution(dist="fixed", value=30, min=40)
    assert set(_draws(fixed, 10, 1, how)) == {40}


@pytest.mark.parametrize("how", HOW)
def test_unbounded_draws_stop_at_the_longest_delay(how) -> None:
    for dist in (Distribution(dist="exponential", mean=MAX_DELAY),
                 Distribution(dist="lognormal", mu=50, sigma=0),
                 Distribution(dist="normal", mean=MAX_DELAY, sd=MAX_DELAY)):
        values = _draws(dist, 2000, 4, how)
        assert max(values) == MAX_DELAY and min(values) >= 0, dist


@pytest.mark.parametrize("how", HOW)
def test_empirical_draws_follow_the_weights(how) -> None:
    dist = Distribution(dist="empirical", values=[1, 2, 3], weights=[0, 1, 3])
    counts = Counter(_draws(dist, 20_000, 9, how))
    assert counts[1] == 0
    assert counts[3] / 20_000 == pytest.approx(0.75, abs=0.02)


@pytest.mark.parametrize("hold_time, message", [
    ({"dist": "uniform", "low": 2}, "uniform takes high, low; found low"),
    ({"dist": "uniform", "low": 9, "high": 2}, "expected low <= high"),
    ({"dist": "lognormal", "sigma": 1}, "exactly one of mu or mean"),
    ({"dist": "gamma", "mean": 3}, "traffic[0].hold_time.dist"),
    ({"dist": "empirical", "values": [1, 2], "weights": [1]}, "one weight per value"),
])
def test_bad_distributions_are_named_with_their_position(hold_time, message) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_from(profile(hold_time=hold_time))
    text = str(caught.value)
    assert message in text
    assert text.startswith("test.yaml:")
    assert "traffic[0].hold_time" in text


def test_profile_errors_point_at_the_key() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_from(profile(hold_tme={"dist": "fixed", "value": 1}),
                           profile(**{"from": "ACME-WG"}),
                           profile(hourly_weights=[1] * 23),
                           profile(callee_mix={"busy": 0.7, "no_answer": 0.5}))
    text = str(caught.value)
    assert "traffic[0].hold_tme: unknown key 'hold_tme'" in text
    assert "did you mean 'hold_time'?" in text
    assert "expected 24 weights" in text
    assert "expected shares adding up to at most 1, found 1.2" in text
    with pytest.raises(ScenarioError, match=r"traffic\[0\]\.from: .*did you mean 'ACME-GW'"):
        load_scenario_from(profile(**{"from": "ACME-WG"}))


def test_profiles_that_would_ring_for_ever_are_refused() -> None:
    with pytest.raises(ScenarioError, match="no_answer_timeout > 0"):
        load_scenario_from(profile(callee_mix={"no_answer": 0.1}),
                           switch={"no_answer_timeout": 0})


# -- arrivals -------------------------------------------------------------------------------------
def test_arrivals_are_poisson_at_cps() -> None:
    scn = load_scenario_from(profile(cps=20, duration=2000))
    times = [s.at for s in profile_calls(scn, 0)]
    assert all(0 <= t < 2000 for t in times) and times == sorted(times)
    expected = 20 * 2000
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Exponential gaps: standard deviation equal to the mean.
    assert statistics.pstdev(gaps) / statistics.fmean(gaps) == pytest.approx(1.0, abs=0.03)


def test_hourly_weights_scale_the_rate_by_wall_clock_hour() -> None:
    weights = [0.0] * 24
    weights[10], weights[11], weights[12] = 1.0, 3.0, 0.0  # start is 10:00 UTC
    scn = load_scenario_from(profile(cps=2, duration=3 * 3600, hourly_weights=weights))
    per_hour = Counter(int(s.at // 3600) for s in profile_calls(scn, 0))
    assert per_hour[2] == 0
    for hour, weight in ((0, 1.0), (1, 3.0)):
        expected = 2 * weight * 3600
        assert abs(per_hour[hour] - expected) < 4 * math.sqrt(expected)
    assert scn.traffic[0].expected_calls(scn.start.timestamp()) == pytest.approx(2 * 4 * 3600)


def test_numbers_follow_the_plans() -> None:
    scn = load_scenario_from(profile(
        cps=50, callers={"prefix": "1212", "digits": 7},
        callees=[{"prefix": "8801", "digits": 9, "weight": 3},
                 {"prefix": "8809", "digits": 4, "weight": 1}]))
    scripts = list(profile_calls(scn, 0))
    assert all(s.caller.startswith("1212") and len(s.caller) == 11
               for s in scripts)
    long_plan = [s for s in scripts if s.callee.startswith("8801")]
    assert all(len(s.callee) == 13 for s in long_plan)
    assert all(len(s.callee) == 8 for s in scripts if s.callee.startswith("8809"))
    assert len(long_plan) / len(scripts) == pytest.approx(0.75, abs=0.03)


# -- the mix emerges from the engine --------------------------------------------------------------
def test_callee_mix_emerges_through_the_decision_table(tmp_path: Path) -> None:
    n = 100_000
    scn = load_scenario_from(profile(
        cps=1000, duration=n / 1000, hold_time={"dist": "fixed", "value": 1},
        answer_delay={"dist": "fixed", "value": 0.5},
        callee_mix={"busy": 0.2, "reject": {"603": 0.05, "404": 0.03}}, callee_hangs_up=0.5))
    result = run_scenario(scn, None)
    stats = result.stats
    reasons = {code: count for (code, _), count in stats.reasons.items()}

    def within(count: int, share: float) -> bool:
        return abs(count - share * stats.calls) < 5 * math.sqrt(stats.calls * share * (1 - share))

    assert within(reasons[2], 0.2)          # User Busy, endDirection 1
    assert within(reasons[23], 0.05)        # Call Rejected (603)
    assert within(reasons[4], 0.03)         # Unallocated Number (404)
    answered = 0.72
    assert within(reasons[12], answered * 0.5)  # callee BYE
    assert within(reasons[11], answered * 0.5)  # caller BYE
    assert stats.answered == reasons[11] + reasons[12]


def test_switch_limits_apply_to_generated_calls(tmp_path: Path) -> None:
    scn = load_scenario_from(
        profile(cps=12, duration=60, hold_time={"dist": "fixed", "value": 20}),
        accounts={"ACME": {"name": "Acme", "type": "postpaid", "rate_table": "retail",
                           "max_cps": 20, "max_concurrent": 150}})
    result = run_scenario(scn, tmp_path, ("jsonl",))
    import json

    records = [json.loads(line) for line in (tmp_path / "cdr.jsonl").read_text().splitlines()]
    reasons = Counter(r["endreason"] for r in records)
    assert reasons[19] > 0 and reasons[18] > 0  # CPS and concurrency refusals emerged
    # Accepted INVITEs never exceed max_cps in any one-second window (the refused count too,
    # as the contract says; so accepted ones are a subset).
    accepted = sorted(r["recordstarttime"] for r in records if r["endreason"] != 19)
    window = 0
    for i, t in enumerate(accepted):
        while accepted[window] <= t - 1000:
            window += 1
        assert i - window + 1 <= 20
    assert result.stats.calls == len(records)


def test_prepaid_account_under_load_never_passes_its_floor_and_cuts_on_pulses() -> None:
    money, limit = Decimal("20.00"), Decimal("5.00")
    scn = load_scenario_from(
        profile(cps=2, duration=900, hold_time={"dist": "lognormal", "mean": 400, "sigma": 0.7},
                answer_delay={"dist": "uniform", "low": 1, "high": 6}),
        accounts={"ACME": {"name": "Acme", "type": "prepaid", "money": str(money),
                           "limit_money": str(limit), "rate_table": "card"}},
        rate_tables={"card": [{"prefix": "880", "fee": "0.10", "period": 30, "call_level": 5,
                               "sections": [{"time": 45, "fee": "0.20"}]}]})
    rate = Rate("880", Decimal("0.10"), 30, 5, (Section(45, Decimal("0.20")),))
    cdrs = []

    def on_cdr(cdr) -> None:
        wallet = simulation.switch.accounts["ACME"].wallet
        assert wallet.money >= -limit
        assert wallet.money + wallet.limit - wallet.reserved >= 0
        cdrs.append(cdr)

    simulation = Simulation(scn, on_cdr)
    simulation.run()
    cutoffs = [c for c in cdrs if c.endreason == 24]
    assert len(cutoffs) >= 10
    boundaries = {0} | {45 + 30 * k for k in range(400)}  # 0: money gone by the answer
    for cdr in cutoffs:
        assert cdr.holdtime in boundaries, cdr.holdtime
        assert cdr.enddirection == 2
        assert cdr.fee == rate.bill(cdr.holdtime)[1]
    charged = sum(c.fee for c in cdrs)
    assert charged <= money + limit
    final = simulation.switch.accounts["ACME"].wallet.money
    assert final == money - charged and final >= -limit
    assert any(c.endreason == 8 for c in cdrs)  # and later calls were refused


def test_explicit_calls_and_traffic_run_together(tmp_path: Path) -> None:
    scn = load_scenario_from(profile(cps=3, duration=30), calls=[
        {"id": "disputed", "at": 10, "from": "BETA-GW", "caller": "100", "callee": "8801911000002",
         "callee_does": {"answer_after": 4, "hangup_after": 65},
         "expect": {"holdTime": 65, "endReason": 12, "fee": 0.5, "recorded": True}}])
    result = run_scenario(scn, tmp_path, ("pipe",))
    assert result.mismatches() == []
    assert result.stats.calls > 50
    lines = pipe_records(tmp_path)
    assert [int(r[17]) for r in lines] == list(range(1, len(lines) + 1))
    assert [int(r[3]) for r in lines] == sorted(int(r[3]) for r in lines)


def test_gateway_outage_window(tmp_path: Path) -> None:
    scn = load_scenario_from(
        profile(cps=5, duration=300, hold_time={"dist": "fixed", "value": 5}),
        routing_gateways={"VENDOR-A": {"ip": "198.51.100.20", "prefixes": ["880"],
                                       "outages": [{"at": 100, "until": 200}]}})
    run_scenario(scn, tmp_path, ("jsonl",))
    import json

    start = scn.start.timestamp() * 1000
    for line in (tmp_path / "cdr.jsonl").read_text().splitlines():
        record = json.loads(line)
        invited = (record["recordstarttime"] - start) / 1000
        assert (record["endreason"] == 21) == (100 <= invited < 200), record


def test_same_seed_same_bytes_other_seed_other_calls(tmp_path: Path) -> None:
    spec = profile(cps=20, duration=30, callee_mix={"busy": 0.3},
                   hold_time={"dist": "exponential", "mean": 20})
    for name in ("a", "b"):
        run_scenario(load_scenario_from(spec), tmp_path / name, ("pipe", "e_cdr", "jsonl"))
    run_scenario(load_scenario_from(spec, seed=6), tmp_path / "c", ("pipe",))
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert pipe_records(tmp_path / "a") != pipe_records(tmp_path / "c")
