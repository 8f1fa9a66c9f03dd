"""``make bench``'s audit part keeps working: a small bench/audit.py run prints its numbers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_audit_bench_prints_rows_per_second_and_peak_rss() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "audit.py"), "--rows", "3000"],
                          capture_output=True, text=True, timeout=300, check=True, cwd=ROOT)
    line = done.stdout.strip().splitlines()[-1]
    match = re.search(r"vossim audit: ([\d,]+) rows in [\d.]+ s = ([\d,]+) rows/s .*peak RSS "
                      r"(\d+) MB; ([\d,]+) consistent, (\d+) different", line)
    assert match, line
    rows, per_second, rss, consistent, different = match.groups()
    assert int(rows.replace(",", "")) == 3000 == int(consistent.replace(",", ""))
    assert int(different) == 0 and int(per_second.replace(",", "")) > 0 and int(rss) > 0
