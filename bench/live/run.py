"""Live-mode benchmark: SIPp uac -> `vossim live` -> SIPp uas at rising call rates, and the same
rates SIPp uac -> SIPp uas directly; then a concurrency run and a profile of the switch.

    python bench/live/run.py [--rates 50,100,150,200,250,300] [--seconds 10] [--hold 1]
                             [--concurrent-cps 50 --concurrent-hold 20] [--profile-cps 200]

Prints a table and writes bench/live/results.json (+ profile.txt). Loopback only. Not part of
`make test` (it loads both cores for minutes).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SWITCH, UAC, UAS = 15060, 15061, 15062

SCENARIO = f"""\
version: 1
name: bench-live
switch: {{media_timeout: 0, SS_SIP_SESSION_TTL: 0, no_answer_timeout: 0}}
accounts:
  LOAD: {{type: postpaid, rate_table: retail}}
rate_tables:
  retail: [{{prefix: "880", fee: 0.01, period: 60}}]
mapping_gateways:
  SIPP-UAC: {{account: LOAD, ips: ["127.0.0.1:{UAC}"]}}
routing_gateways:
  SIPP-UAS: {{ip: "127.0.0.1:{UAS}", prefixes: ["880"]}}
"""


def sipp() -> str:
    path = shutil.which("sipp")
    if not path:
        sys.exit("sipp is not installed: make system-deps")
    return path


def stats(csv_path: Path) -> dict[str, int]:
    """Final counters and peak concurrency from SIPp's -trace_stat file."""
    rows = list(csv.DictReader(csv_path.open(), delimiter=";"))
    if not rows:
        return {"successful": 0, "failed": 0, "peak_concurrent": 0, "created": 0}
    last = rows[-1]
    return {
        "created": int(last["TotalCallCreated"]),
        "successful": int(last["SuccessfulCall(C)"]),
        "failed": int(last["FailedCall(C)"]),
        "retransmissions": int(last.get("Retransmissions(C)", 0) or 0),
        "peak_concurrent": max(int(r["CurrentCall"]) for r in rows),
    }


def run_sipp_pair(target_port: int, rate: int, calls: int, hold_ms: int, work: Path,
                  timeout: float) -> dict[str, int]:
    uas = subprocess.Popen([sipp(), "-sn", "uas", "-i", "127.0.0.1", "-p", str(UAS),
                            "-nostdin"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    try:
        time.sleep(0.5)
        stat_file = work / f"uac-{target_port}-{rate}.csv"
        subprocess.run(
            [sipp(), "-sn", "uac", "-i", "127.0.0.1", "-p", str(UAC),
             f"127.0.0.1:{target_port}", "-s", "8801711000001", "-r", str(rate),
             "-m", str(calls), "-d", str(hold_ms), "-nostdin", "-trace_stat", "-stf",
             str(stat_file), "-fd", "1", "-timeout", f"{int(timeout)}s", "-timeout_error",
             "-l", str(max(calls, 1))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work, timeout=timeout + 30)
        return stats(stat_file)
    finally:
        uas.terminate()
        uas.wait(timeout=10)


def start_switch(work: Path, duration: float, profile: Path | None = None) -> subprocess.Popen:
    scenario = work / "bench.yaml"
    scenario.write_text(SCENARIO)
    prefix = [sys.executable]
    if profile is not None:
        prefix += ["-m", "cProfile", "-o", str(profile)]
    proc = subprocess.Popen(
        [*prefix, "-m", "simulator.cli", "live", str(scenario), "--port", str(SWITCH),
         "--duration", str(duration), "--no-agents", "-o", str(work / "out"), "--format",
         "pipe"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2.0)  # python + sippy start-up
    return proc


def through_switch(rate: int, seconds: float, hold: float, work: Path,
                   profile: Path | None = None) -> dict[str, object]:
    calls = int(rate * seconds)
    duration = seconds + hold + 12
    switch = start_switch(work, duration, profile)
    cpu_before = _cpu_seconds(switch.pid)
    try:
        result: dict[str, object] = dict(run_sipp_pair(SWITCH, rate, calls, int(hold * 1000),
                                                       work, seconds + hold + 40))
        result["switch_cpu_s"] = round(_cpu_seconds(switch.pid) - cpu_before, 2)
    finally:
        switch.wait(timeout=duration + 60)
    out = switch.stdout.read()
    result["cdr_lines"] = sum(len(p.read_text().splitlines())
                              for p in (work / "out" / "cdr").glob("*.txt"))
    result["switch_output_tail"] = out[-400:]
    return result


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="50,100,150,200,250,300")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--hold", type=float, default=1.0, help="call length, s")
    parser.add_argument("--concurrent-cps", type=int, default=50)
    parser.add_argument("--concurrent-hold", type=float, default=20)
    parser.add_argument("--profile-cps", type=int, default=200)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    results: dict[str, object] = {"rates": {}, "direct": {}}
    print(f"{'CPS':>5} | {'vossim ok':>9} {'failed':>6} {'retrans':>7} {'cpu s':>6} | "
          f"{'direct ok':>9} {'failed':>6}")
    best = 0
    for rate in rates:
        with tempfile.TemporaryDirectory() as tmp:
            live = through_switch(rate, args.seconds, args.hold, Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            direct = run_sipp_pair(UAS, rate, int(rate * args.seconds), int(args.hold * 1000),
                                   Path(tmp), args.seconds + args.hold + 40)
        results["rates"][rate] = live
        results["direct"][rate] = direct
        clean = live["failed"] == 0 and live["successful"] == int(rate * args.seconds)
        if clean:
            best = max(best, rate)
        print(f"{rate:>5} | {live['successful']:>9} {live['failed']:>6} "
              f"{live.get('retransmissions', 0):>7} {live['switch_cpu_s']:>6} | "
              f"{direct['successful']:>9} {direct['failed']:>6}", flush=True)
    results["highest_clean_cps"] = best
    print(f"highest CPS through vossim live with 0 failed calls: {best}")

    if args.concurrent_cps <= 0:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        held = through_switch(args.concurrent_cps, args.concurrent_hold * 1.5,
                              args.concurrent_hold, Path(tmp))
    results["concurrency"] = held
    print(f"concurrency: {held['peak_concurrent']} calls held at once "
          f"({args.concurrent_cps} CPS x {args.concurrent_hold:g} s), "
          f"{held['successful']} ok, {held['failed']} failed")

    profile = HERE / "profile.out"
    with tempfile.TemporaryDirectory() as tmp:
        profiled = through_switch(args.profile_cps, args.seconds, args.hold, Path(tmp), profile)
    results["profiled_run"] = profiled
    with (HERE / "profile.txt").open("w") as text:
        stats_ = pstats.Stats(str(profile), stream=text)
        stats_.sort_stats("tottime").print_stats(25)
        stats_.sort_stats("cumulative").print_stats(25)
        text.write("\n# vossim's own code (core + live transport + CDR writers)\n")
        stats_.sort_stats("tottime").print_stats(r"simulator|cdr_writer", 20)
        text.write("\n# who calls dir() (sippy's hot path)\n")
        stats_.print_callers(r"builtins.dir")
    profile.unlink(missing_ok=True)
    print(f"profile at {args.profile_cps} CPS: {HERE / 'profile.txt'} "
          f"({profiled['successful']} ok, {profiled['failed']} failed)")
    (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
