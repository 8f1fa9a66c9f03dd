"""`at:` takes seconds after the start or a wall-clock time, as disputes arrive."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenario_support import run, scenario
from simulator import ScenarioError
from simulator.scenario._loader import parse_scenario

TEXT = """\
version: 1
start: "2026-11-20T10:00:00Z"
accounts: {ACME: {type: postpaid, rate_table: r}}
rate_tables: {r: [{prefix: "880", fee: 0.25, period: 60}]}
mapping_gateways: {GW: {account: ACME, ips: ["203.0.113.10"]}}
routing_gateways: {V: {ip: "198.51.100.20", prefixes: ["880"]}}
calls:
  - {id: quoted, at: "AT", from: GW, caller: "1", callee: "8801",
     caller_does: {hangup_after: 5}}
"""


def test_wall_clock_at_is_seconds_after_the_start(tmp_path: Path) -> None:
    for written in ('"2026-11-20T10:15:00Z"', "2026-11-20T10:15:00Z",
                    '"2026-11-20T11:15:00+01:00"', '"2026-11-20 10:15:00"'):
        parsed = parse_scenario(TEXT.replace('"AT"', written))
        assert parsed.calls[0].at == 900.0, written
    call = {"at": "2026-11-20T10:00:42Z", "caller_does": {"hangup_after": 3}}
    records, _ = run(scenario(call), tmp_path)
    assert records["c1"]["recordstarttime"] == 1795168842000


def test_wall_clock_before_the_start_is_a_positioned_error() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(TEXT.replace('"AT"', '"2026-11-20T09:59:59Z"'), "dispute.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.path) == ("dispute.yaml", 8, "calls[0].at")
    assert "at or after the scenario's start (2026-11-20T10:00:00+00:00)" in problem.message
