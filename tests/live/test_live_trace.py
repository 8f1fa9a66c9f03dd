"""`vossim live --trace` writes the same lines as `vossim run --trace`: one source for both
transports, so a call's ladder and the core's decisions read the same live and simulated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from simulator import load_scenario
from simulator.explain import explain_trace
from simulator.explain._build import run_for_call

ROOT = Path(__file__).resolve().parents[2]


def ladder(lines: list[dict]) -> list[tuple[str, str, str]]:
    """The messages in order; a repeated provisional response (pjsua's agents may send 180
    twice, and the live trace shows what arrived) counts once."""
    out: list[tuple[str, str, str]] = []
    for m in lines:
        if "message" not in m:
            continue
        item = (m["from"], m["to"], m["message"])
        if m["message"].startswith("18") and item in out:
            continue
        out.append(item)
    return out


def decisions(lines: list[dict]) -> list[tuple]:
    """The core's events that do not depend on the clock's jitter."""
    out = []
    for e in lines:
        kind = e.get("event")
        if kind == "setup_check":
            out.append((kind, e["row"], e["passed"]))
        elif kind in ("gateway_tried", "gateway_left"):
            out.append((kind, e["gateway"]))
        elif kind in ("pulse", "pulse_unpaid"):
            out.append((kind, e["index"], e["available_before"], e["available_after"]))
        elif kind == "ending":
            out.append((kind, e["row"], e["endDirection"]))
    return out


def test_live_trace_matches_the_simulated_trace(ports: int, tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "prepaid-cutoff.yaml"
    trace = tmp_path / "live-trace.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "live", str(path), "--port", str(ports),
         "--gateway-port", str(ports + 1), "--speed", "25", "-o", str(tmp_path / "live"),
         "--format", "jsonl", "--trace", str(trace)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    live = [json.loads(line) for line in trace.read_text().splitlines()]
    live = [line for line in live if line["call"] == "disputed"]
    scenario = load_scenario(path)
    simulated, simulated_outcome = run_for_call(scenario, "disputed")
    simulated_cdr = simulated_outcome.record
    assert ladder(live) == ladder(simulated)
    assert decisions(live) == decisions(simulated)
    assert ("ending", 24, 2) in decisions(live)
    assert sum(1 for d in decisions(live) if d[0] == "pulse") == 4
    # explain reads the live trace as it reads the simulated one
    record = json.loads((tmp_path / "live" / "cdr.jsonl").read_text().splitlines()[0])
    simulated_cdr.holdtime = record["holdtime"]
    simulated_cdr.starttime, simulated_cdr.stoptime = record["starttime"], record["stoptime"]
    explained = explain_trace(scenario, live, simulated_cdr)
    assert explained.ending["row"] == 24
    assert [e.message for e in explained.messages][-4:] == ["BYE", "200 (BYE)", "BYE",
                                                            "200 (BYE)"]
