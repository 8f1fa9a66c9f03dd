"""Shared test helpers: build small scenarios in code and run them through the public API."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from simulator import Scenario, run_scenario

ROOT = Path(__file__).resolve().parent.parent
VOSSIM = [sys.executable, "-m", "simulator.cli"]

BASE: dict[str, Any] = {
    "version": 1,
    "name": "test",
    "seed": 1,
    "start": "2026-11-20T10:00:00Z",
    "accounts": {"ACME": {"name": "Acme Telecom", "type": "prepaid", "money": "50.00",
                          "rate_table": "retail"}},
    "rate_tables": {"retail": [{"prefix": "880", "fee": "0.25", "period": 60,
                                "call_level": 5}]},
    "mapping_gateways": {"ACME-GW": {"account": "ACME", "ips": ["203.0.113.10"]}},
    "routing_gateways": {"VENDOR-A": {"ip": "198.51.100.20", "prefixes": ["880"]}},
    "calls": [],
}


def scenario(*calls: dict[str, Any], **changes: Any) -> Scenario:
    """BASE with ``changes`` merged one level deep and ``calls`` filled in with defaults."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict) and key != "switch":
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    data["calls"] = [
        {"id": f"c{i}", "from": "ACME-GW", "caller": "8801711000001",
         "callee": "8801911000002", **call}
        for i, call in enumerate(calls, 1)
    ]
    return Scenario.model_validate(data)


def run(scn: Scenario, out: Path, formats: tuple[str, ...] = ("jsonl",)):
    """Run into ``out``; return ({callId: jsonl record}, suppressed ones included) and result."""
    result = run_scenario(scn, out, formats)
    records = {}
    jsonl = out / "cdr.jsonl"
    if jsonl.exists():
        for line in jsonl.read_text().splitlines():
            record = json.loads(line)
            records[record["callId"]] = record
    return records, result


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VOSSIM, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
