"""``make bench``: the engine on the standard load profile against the naive reference.

Runs ``scenarios/load/standard.yaml`` stretched to at least ``--calls`` call attempts, to the
pipe sink, in one process and with ``--workers``; each measurement runs in a fresh interpreter
so that its peak RSS is its own. Prints CDR/s (wall clock), peak RSS, the naive reference
(``bench/naive.py``) and the floor (``bench/floor.py``: traffic, two simpy events and a pipe line
per call, no decisions) measured in the same run, and the targets of the load issue.
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
# The profile is stretched a little beyond --calls and cut there (--calls): exactly N attempts.
OVERSHOOT = 1.02
sys.path.insert(0, str(ROOT))


def measure(calls: int, workers: int, formats: str) -> dict[str, float]:
    """One run in this process (called in a child): the numbers as a dict."""
    from simulator.run._run import run_scenario
    from simulator.scenario._loader import load_scenario
    from simulator.transports._simulated import expected_arrivals

    scenario = load_scenario(STANDARD)
    scale = calls / expected_arrivals(scenario) * OVERSHOOT
    with tempfile.TemporaryDirectory(prefix="vossim-bench-") as out:
        began = time.perf_counter()
        result = run_scenario(scenario, out, tuple(formats.split(",")), scale=scale,
                              workers=workers, calls=calls)
        elapsed = time.perf_counter() - began
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    stats = result.stats
    return {"calls": stats.calls, "records": stats.recorded, "seconds": elapsed,
            "cdr_per_s": stats.recorded / elapsed, "peak_rss_mb": max(own, children) / 1024,
            "reasons": {f"{code} {name}": n for (code, name), n in stats.reasons.items()}}


def measure_naive(calls: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "bench"))
    from naive import run_naive

    rate = run_naive(calls)
    return {"calls": calls, "calls_per_s": rate,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure_floor(calls: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "bench"))
    from floor import run_floor

    result = run_floor(STANDARD, calls)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def in_child(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def mix_gap(a: dict[str, int], b: dict[str, int]) -> float:
    """The largest difference, in percentage points, between two end-reason mixes."""
    total_a, total_b = sum(a.values()), sum(b.values())
    return max(abs(a.get(k, 0) / total_a - b.get(k, 0) / total_b) * 100 for k in {*a, *b})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--naive-calls", type=int, default=None,
                        help="calls for the naive reference (default: --calls, at most 1M)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="pipe")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "naive":
            result = measure_naive(int(rest[0]))
        elif kind == "floor":
            result = measure_floor(int(rest[0]))
        else:
            result = measure(int(rest[0]), int(rest[1]), rest[2])
        print(json.dumps(result))
        return 0

    naive_calls = args.naive_calls or min(args.calls, 1_000_000)
    print(f"standard profile ({STANDARD.relative_to(ROOT)}), >= {args.calls:,} calls, "
          f"format {args.format}")
    single = in_child("engine", str(args.calls), "1", args.format)
    print(f"  1 process : {single['calls']:>10,} calls  {single['cdr_per_s']:>9,.0f} CDR/s  "
          f"{single['seconds']:7.1f} s  peak RSS {single['peak_rss_mb']:6.1f} MB")
    naive = in_child("naive", str(naive_calls))
    print(f"  naive ref : {naive['calls']:>10,} calls  {naive['calls_per_s']:>9,.0f} calls/s "
          f"(one simpy process per call, four timeouts, no decisions, no output)")
    floor = in_child("floor", str(naive_calls))
    print(f"  floor     : {floor['calls']:>10,} calls  {floor['cdr_per_s']:>9,.0f} CDR/s  "
          f"(traffic draws, 2 simpy events, Cdr, pipe line; no decisions)")
    rows = [("engine >= 1.0x naive reference (same run)",
             single["cdr_per_s"] >= naive["calls_per_s"]),
            ("peak RSS < 200 MB", single["peak_rss_mb"] < 200)]
    if args.workers > 1:
        sharded = in_child("engine", str(args.calls), str(args.workers), args.format)
        speedup = sharded["cdr_per_s"] / single["cdr_per_s"]
        gap = mix_gap(single["reasons"], sharded["reasons"])
        print(f"  {args.workers} workers : {sharded['calls']:>10,} calls  "
              f"{sharded['cdr_per_s']:>9,.0f} CDR/s  {sharded['seconds']:7.1f} s  "
              f"speed-up {speedup:.2f}x  end-reason mix within {gap:.2f} points")
        rows += [(f"--workers {args.workers} >= 1.8x one worker", speedup >= 1.8),
                 ("end-reason mix within 1 point", gap <= 1.0)]
    print(f"  engine / naive: {single['cdr_per_s'] / naive['calls_per_s']:.2f}x   "
          f"floor / naive: {floor['cdr_per_s'] / naive['calls_per_s']:.2f}x   "
          f"engine / floor: {single['cdr_per_s'] / floor['cdr_per_s']:.2f}x")
    for label, ok in rows:
        print(f"  [{'met' if ok else 'MISSED'}] {label}")
    for label, target in (("1.0x naive", naive["calls_per_s"]),):
        if floor["cdr_per_s"] < target:
            print(f"  note: {label} is above the floor ({floor['cdr_per_s']:,.0f} CDR/s): with "
                  "this traffic generator, a simpy clock and the pipe writer, no call logic "
                  "reaches it, however fast")
    return 0


if __name__ == "__main__":
    sys.exit(main())
