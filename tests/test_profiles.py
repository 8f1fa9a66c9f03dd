"""The shipped load profiles look like real traffic: who ends the connected calls, and why."""

from __future__ import annotations

from collections import Counter

import pytest

from simulator import load_scenario, run_scenario
from traffic_support import ROOT

# Seed 003's expected mix of connected calls, by endDirection (share of answered calls).
BANDS = {0: (0.50, 0.80), 1: (0.15, 0.40), 2: (0.05, 0.20)}
SERVER_REASONS = {"Media Timeout", "Session Timeout", "Server Forced Release"}


def connected_mix(stats) -> dict[int, float]:
    ended: Counter[int] = Counter()
    for (side, _), gateway in stats.gateways.items():
        if side == "caller":  # every call has one caller gateway: each answered call once
            ended.update(gateway.ended_by)
    total = sum(ended.values())
    assert total == stats.answered
    return {direction: ended[direction] / total for direction in BANDS}


@pytest.mark.parametrize("name, options, also", [
    # standard: one minute at 200 calls/s, stretched to ~8.5 minutes; P2 runs dry on the way.
    ("standard", {"scale": 8.5}, {"Prepaid Duration Exceeded", "Balance Insufficient"}),
    # wholesale-day: a day at 13 times the shipped rate (~108,000 attempts) cut at 100,000.
    ("wholesale-day", {"rate": 13}, set()),
])
def test_connected_calls_end_in_the_seeds_bands(name, options, also) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "load" / f"{name}.yaml")
    result = run_scenario(scenario, None, calls=100_000, workers=2, **options)
    stats = result.stats
    assert stats.calls == 100_000
    mix = connected_mix(stats)
    for direction, (low, high) in BANDS.items():
        assert low <= mix[direction] <= high, (direction, mix)
    reasons = {reason for (_, reason), count in stats.reasons.items() if count >= 20}
    assert SERVER_REASONS | also <= reasons, reasons
    assert not stats.alarms()  # no gateway past the seeds' alarm thresholds
