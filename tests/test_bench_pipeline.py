"""``make bench``'s second part keeps working: a small bench/pipeline.py run prints each line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pipeline_bench_prints_every_sink_and_every_analysis(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = tmp_path / "benchmarks.md"
    results.write_text("# Benchmarks\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pipeline.py"), "--sink-calls", "3000",
         "--analyze-cdrs", "20000", "--db", mariadb.url(), "--results", str(results)],
        capture_output=True, text=True, timeout=600, check=True)
    out = done.stdout
    written = results.read_text()
    assert "<!-- bench/pipeline.py results:" in written and "mariadb sink alone" in written
    assert "vossim-test" not in written  # the --db password is not written into the docs
    labels = ("run into pipe", "run into parquet", "run into mariadb", "parquet sink alone",
              "mariadb sink alone", "parquet            :", "e_cdr CSV", "pipe, ~a tenth",
              "mariadb            :")
    counts = {}
    for label in labels:
        line = next(line for line in out.splitlines() if label in line)
        count, rate = re.search(r":\s+([\d,]+) CDRs\s+([\d,]+) CDR/s", line).groups()
        counts[label] = int(count.replace(",", ""))
        assert int(rate.replace(",", "")) > 0, line
    assert counts["run into pipe"] == counts["run into parquet"] == counts["run into mariadb"] \
        == counts["parquet sink alone"] == counts["mariadb sink alone"] >= 1500
    assert counts["parquet            :"] == 20000
