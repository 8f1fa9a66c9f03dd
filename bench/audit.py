"""``make bench`` (third part): rows/s and peak RSS of ``vossim audit`` on --rows CDR rows.

The rows are the standard load profile's e_cdr CSV, written by vossim to ``--rows`` call
attempts (stretched with ``--scale`` so the traffic keeps its rates), then audited against the
same scenario in a fresh interpreter, which reports its own peak RSS (VmHWM). Nothing is kept:
the rows live in a temporary directory unless ``--keep DIR`` names one.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ROOT / "scenarios" / "load" / "standard.yaml"
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    """This process's own peak RSS (VmHWM: ru_maxrss carries the parent's over an exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_rows(rows: int, out: Path) -> Path:
    from simulator.run._run import run_scenario
    from simulator.scenario._loader import load_scenario
    from simulator.transports._simulated import expected_arrivals

    scenario = load_scenario(STANDARD)
    scale = max(1.0, 1.05 * rows / expected_arrivals(scenario))
    run_scenario(scenario, out, ("e_cdr",), calls=rows, scale=scale)
    return out


def measure_audit(directory: str) -> dict[str, object]:
    from simulator.audit import audit

    files = sorted(str(p) for p in Path(directory).glob("e_cdr_*.csv"))
    began, cpu = time.perf_counter(), time.process_time()
    report = audit(files, str(STANDARD))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    return {"rows": report["rows"], "consistent": report["consistent"],
            "different": len(report["differences"]), "by_cause": report["by_cause"],
            "seconds": round(elapsed, 1), "rows_per_s": round(report["rows"] / elapsed),
            "cpu_seconds": round(cpu, 1), "rows_per_cpu_s": round(report["rows"] / cpu),
            "peak_rss_mb": round(_peak_mb())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="write the rows here and keep them")
    parser.add_argument("--child", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_audit(args.child)))
        return 0
    with tempfile.TemporaryDirectory(prefix="vossim-audit-bench-") as scratch:
        out = Path(args.keep) if args.keep else Path(scratch) / "rows"
        began = time.perf_counter()
        write_rows(args.rows, out)
        print(f"wrote {args.rows:,} call attempts' rows in {time.perf_counter() - began:.0f} s",
              flush=True)
        done = subprocess.run([sys.executable, __file__, "--child", str(out)], check=True,
                              capture_output=True, text=True, cwd=ROOT)
        result = json.loads(done.stdout)
    print(f"vossim audit: {result['rows']:,} rows in {result['seconds']} s = "
          f"{result['rows_per_s']:,} rows/s ({result['cpu_seconds']} s of CPU: "
          f"{result['rows_per_cpu_s']:,} rows per CPU second), peak RSS {result['peak_rss_mb']} "
          "MB; "
          f"{result['consistent']:,} consistent, {result['different']:,} different "
          f"{result['by_cause']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
