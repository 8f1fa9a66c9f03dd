"""Live mode under the vos3000 profile: the record holds what went over the wire (the Reason
headers the parties sent, the caller's own Call-ID), through the same core record code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from simulator import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_reason_headers_and_call_ids_come_from_the_wire(ports: int, tmp_path: Path) -> None:
    out = tmp_path / "live"
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "live",
         str(ROOT / "scenarios" / "real" / "caller-bye-85s.yaml"), "--port", str(ports),
         "--gateway-port", str(ports + 1), "--speed", "20", "-o", str(out), "--format", "jsonl"],
        cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    records = {r["callId"]: r for r in
               (json.loads(line) for line in (out / "cdr.jsonl").read_text().splitlines())}
    long = records["long-call"]
    assert long["sipreasonheader"] == 'Q.850; cause=16; text="Normal call clearing"'
    assert (long["endreason"], long["holdtime"], long["id"], long["flowno"]) == (-7, 85, 3, 1)
    assert (long["fee"], long["agentfee"]) == (0.2691667, 0.1204167)
    # the caller's Call-ID as pjsua sent it, not the one a simulated run makes up
    run_scenario(load_scenario(ROOT / "scenarios" / "real" / "caller-bye-85s.yaml"),
                 tmp_path / "sim", ("jsonl",))
    simulated = {r["callId"]: r for r in (json.loads(line) for line in
                                          (tmp_path / "sim" / "cdr.jsonl").read_text()
                                          .splitlines())}
    assert long["callercallid"] and long["callercallid"] != simulated["long-call"]["callercallid"]
    assert long["callercallid"] == long["calleroriginalcallid"]
    assert long["calleecallid"].endswith("@192.0.2.1")
    assert records["refused-during-the-call-1"]["sipreasonheader"] == ""
