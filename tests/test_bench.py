"""``make bench`` keeps working: a small run of bench/run.py prints every measurement."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_prints_engine_naive_floor_and_workers() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--calls", "3000", "--workers", "2",
         "--core", "python", "--repeat", "2"],  # the compiled core's own test builds and runs it
        capture_output=True, text=True, timeout=300, check=True)
    out = done.stdout
    calls = {}
    for label in ("1 process", "naive ref", "floor", "2 workers"):
        line = next(line for line in out.splitlines() if line.strip().startswith(label))
        count, rate = re.search(r":\s+([\d,]+) calls\s+([\d,]+) (?:CDR|calls)/s", line).groups()
        calls[label] = int(count.replace(",", ""))
        assert calls[label] >= 2500 and int(rate.replace(",", "")) > 0, line
    # The floor and the sharded run take the very call attempts of the single-process run.
    assert calls["floor"] == calls["1 process"] == calls["2 workers"]
    assert "[met] peak RSS < 200 MB" in out
    assert "[met] end-reason mix within 1 point" in out
    assert "[met] every round wrote the same CDR files" in out
    rounds = [line for line in out.splitlines() if line.strip().startswith("round ")]
    assert len(rounds) == 2 and all("naive" in line and "workers" in line for line in rounds)


def test_bench_without_a_compiled_core_says_how_to_build_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--calls", "3000"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "VOSSIM_COMPILED_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert "holds no compiled core" in done.stdout and "make compiled" in done.stdout
    assert "1 process" not in done.stdout  # nothing measured on one core only
