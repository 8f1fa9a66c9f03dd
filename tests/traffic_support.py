"""Helpers of the load tests: small traffic scenarios built in code, and reading pipe files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from simulator import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent

LOAD_BASE: dict[str, Any] = {
    "version": 1,
    "name": "load-test",
    "seed": 5,
    "start": "2026-11-20T10:00:00Z",
    "switch": {"no_answer_timeout": 30},
    "accounts": {
        "ACME": {"name": "Acme", "type": "postpaid", "rate_table": "retail"},
        "BETA": {"name": "Beta", "type": "postpaid", "rate_table": "retail"},
    },
    "rate_tables": {"retail": [{"prefix": "880", "fee": "0.25", "period": 60,
                                "call_level": 5}]},
    "mapping_gateways": {"ACME-GW": {"account": "ACME", "ips": ["203.0.113.10"]},
                         "BETA-GW": {"account": "BETA", "ips": ["203.0.113.20"]}},
    "routing_gateways": {"VENDOR-A": {"ip": "198.51.100.20", "prefixes": ["880"]}},
}


def profile(**changes: Any) -> dict[str, Any]:
    base = {"from": "ACME-GW", "duration": 60, "cps": 5,
            "callees": {"prefix": "8801", "digits": 9},
            "hold_time": {"dist": "fixed", "value": 30},
            "answer_delay": {"dist": "fixed", "value": 2}}
    base.update(changes)
    return base


def load_scenario_from(*profiles: dict[str, Any], **changes: Any) -> Scenario:
    """LOAD_BASE with ``traffic`` = ``profiles`` and top-level ``changes``; fully validated."""
    import yaml

    data = copy.deepcopy(LOAD_BASE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    data["traffic"] = list(profiles)
    return parse_scenario(yaml.safe_dump(data, sort_keys=False), "test.yaml")


def pipe_records(out: Path) -> list[list[str]]:
    """Every pipe line of a run, in file order (hourly files sorted by name)."""
    rows = []
    for path in sorted((out / "cdr").glob("*.txt")):
        rows.extend(line.split("|") for line in path.read_text().splitlines())
    return rows


def tree_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}
