"""RTP anchoring in live mode: the switch relays real RTP and ends a call whose RTP stopped.

Two calls in one run, both anchored (a call of the scenario stops its RTP): `silent` stops its
RTP 30 s after the answer and must end by the switch's media timer, `talking` keeps RTP flowing
for longer than two media timeouts and must end by its caller's BYE. Both CDRs must match the
simulation, and the switch must have relayed the packets of both directions.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from simulator import load_scenario, run_scenario
from simulator.scenario._schema import Scenario
from simulator.transports.live._switch import needs_media

ROOT = Path(__file__).resolve().parents[2]
SPEED = 20.0
PTIME = 0.02  # s of real time between two RTP packets of pjsua's G.711 stream

SCENARIO = """\
version: 1
name: media-relay
seed: 1
start: "2026-11-20T10:00:00Z"
switch: {media_timeout: 40}
accounts:
  ACME: {type: postpaid, rate_table: retail}
rate_tables:
  retail: [{prefix: "880", fee: 0.25, period: 60}]
mapping_gateways:
  ACME-GW: {account: ACME, ips: ["203.0.113.10"]}
routing_gateways:
  VENDOR-A: {ip: "198.51.100.20", prefixes: ["880"], capacity: 30,
             callee_does: {answer_after: 1}}
calls:
  - {id: silent, at: 0, from: ACME-GW, caller: "8801711000001", callee: "8801911000002",
     media_stops_after: 30}
  - {id: talking, at: 0, from: ACME-GW, caller: "8801711000003", callee: "8801911000004",
     caller_does: {hangup_after: 100}}
"""


def test_media_timeout_cuts_the_silent_call_only(ports: int, tmp_path: Path) -> None:
    path = tmp_path / "media.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    assert needs_media(scenario)
    run_scenario(scenario, tmp_path / "sim", ("jsonl",))
    simulated = {c["callId"]: c for c in _cdrs(tmp_path / "sim")}
    assert (simulated["silent"]["enddirection"], simulated["silent"]["endreason"],
            simulated["silent"]["holdtime"]) == (2, 15, 70)
    assert simulated["talking"]["enddirection"] == 0

    out = tmp_path / "live"
    cmd = [sys.executable, "-m", "simulator.cli", "live", str(path), "--port", str(ports),
           "--gateway-port", str(ports + 1), "--speed", f"{SPEED:g}", "-o", str(out),
           "--format", "jsonl"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "agent:" not in done.stderr, done.stderr
    live = {c["callId"]: c for c in _cdrs(out)}
    for call_id, sim in simulated.items():
        got = live[call_id]
        assert (got["enddirection"], got["endreason"]) == (sim["enddirection"],
                                                           sim["endreason"]), (call_id, got)
        assert abs(got["holdtime"] - sim["holdtime"]) <= 1, (call_id, got["holdtime"])

    found = re.search(r"RTP anchored on (\d+) calls, (\d+) packets relayed", done.stdout)
    assert found, done.stdout
    # both directions of both calls while they flowed, at one packet per PTIME: talking 100 s,
    # silent 30 s from its caller and 70 s from its callee (scenario seconds); 20 % slack for
    # set-up and the ends
    expected = (2 * 100 + 30 + 70) / SPEED / PTIME
    assert int(found[1]) == 2
    assert 0.8 * expected <= int(found[2]) <= 1.1 * expected, (expected, found[0])


def test_media_is_anchored_only_when_needed() -> None:
    """The default path stays on loop media: no real RTP unless a media timeout must be seen."""
    scenario = load_scenario(ROOT / "scenarios/decision-table/21-caller-bye.yaml")
    assert not needs_media(scenario)
    data = SCENARIO.replace("switch: {media_timeout: 40}", "switch: {media_timeout: 0}")
    assert not needs_media(_from_text(data))
    assert needs_media(_from_text(SCENARIO))


def _from_text(text: str) -> Scenario:
    return Scenario.model_validate(yaml.safe_load(text))


def _cdrs(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "cdr.jsonl").read_text().splitlines()]
