"""The shipped load profiles look like real traffic: who ends the connected calls, and why.

Both tests share one run per load (``bench/traffic_mix.py`` names the runs): the bands are what
the seeds say real traffic looks like; the mix test pins the shares the traffic generator made
before it moved to numpy block draws (``tests/data/traffic-mix.json``), so a change to how the
calls are drawn cannot shift what happens to them unnoticed.
"""

from __future__ import annotations

import importlib.util
import json
import math
from typing import Any

import pytest

from traffic_support import ROOT

_spec = importlib.util.spec_from_file_location("traffic_mix", ROOT / "bench" / "traffic_mix.py")
traffic_mix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(traffic_mix)

REFERENCE = json.loads((ROOT / "tests" / "data" / "traffic-mix.json").read_text())
# Seed 003's expected mix of connected calls, by endDirection (share of answered calls).
BANDS = {0: (0.50, 0.80), 1: (0.15, 0.40), 2: (0.05, 0.20)}
SERVER_REASONS = {"Media Timeout", "Session Timeout", "Server Forced Release"}
ALSO = {"standard": {"Prepaid Duration Exceeded", "Balance Insufficient"}, "wholesale-day": set()}


@pytest.fixture(scope="module", params=list(traffic_mix.RUNS))
def load_run(request) -> tuple[str, Any]:
    return request.param, traffic_mix.run(request.param)


def connected_mix(stats) -> dict[int, float]:
    ended = traffic_mix.ended_by(stats)
    total = sum(ended.values())
    assert total == stats.answered
    return {direction: ended[direction] / total for direction in BANDS}


def test_connected_calls_end_in_the_seeds_bands(load_run) -> None:
    name, result = load_run
    stats = result.stats
    assert stats.calls == 100_000
    mix = connected_mix(stats)
    for direction, (low, high) in BANDS.items():
        assert low <= mix[direction] <= high, (direction, mix)
    reasons = {reason for (_, reason), count in stats.reasons.items() if count >= 20}
    assert SERVER_REASONS | ALSO[name] <= reasons, reasons
    assert not stats.alarms()  # no gateway past the seeds' alarm thresholds


def _shifted(old: dict[str, int], old_n: int, new: dict[str, int], new_n: int) -> list[str]:
    """Shares that moved further than chance explains: 4 standard errors of the difference of
    two samples, plus 0.2 points for what the engine's shared limits make of the same draws."""
    far = []
    for key in sorted(set(old) | set(new)):
        p_old, p_new = old.get(key, 0) / old_n, new.get(key, 0) / new_n
        pooled = (old.get(key, 0) + new.get(key, 0)) / (old_n + new_n)
        tolerance = 4 * math.sqrt(pooled * (1 - pooled) * (1 / old_n + 1 / new_n)) + 0.002
        if abs(p_new - p_old) > tolerance:
            far.append(f"{key}: {p_old:.4f} -> {p_new:.4f} (tolerance {tolerance:.4f})")
    return far


def test_the_generator_keeps_the_reference_mix(load_run) -> None:
    name, result = load_run
    old, new = REFERENCE[name], traffic_mix.mix(result.stats)
    assert new["calls"] == old["calls"]
    assert _shifted(old["reasons"], old["calls"], new["reasons"], new["calls"]) == []
    assert _shifted(old["ended_by"], old["answered"], new["ended_by"], new["answered"]) == []
    assert _shifted({"answered": old["answered"]}, old["calls"],
                    {"answered": new["answered"]}, new["calls"]) == []
