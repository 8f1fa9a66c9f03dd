"""``make bench`` keeps working: a small run of bench/run.py prints every measurement."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_prints_engine_naive_floor_and_workers() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--calls", "3000", "--workers", "2"],
        capture_output=True, text=True, timeout=300, check=True)
    out = done.stdout
    rates = {}
    for label in ("1 process", "naive ref", "floor", "2 workers"):
        line = next(line for line in out.splitlines() if line.strip().startswith(label))
        calls, rate = re.search(r":\s+([\d,]+) calls\s+([\d,]+) (?:CDR|calls)/s", line).groups()
        assert int(calls.replace(",", "")) >= 2500, line
        rates[label] = int(rate.replace(",", ""))
        assert rates[label] > 0, line
    # The floor does a subset of the engine's work on the same calls: it must be faster.
    assert rates["floor"] > rates["1 process"]
    assert "[met] peak RSS < 200 MB" in out
    assert "[met] end-reason mix within 1 point" in out
