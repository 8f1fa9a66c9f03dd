"""Bad scenarios: each mistake names file, line, column, key path, expected and found; the run
writes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scenario_support import cli
from simulator import ScenarioError, parse_scenario

GOOD = """\
version: 1
name: validation
seed: 1
start: "2026-11-20T10:00:00Z"
accounts:
  ACME: {name: Acme, type: prepaid, money: 1.00, rate_table: retail, expires: "2027-01-01"}
rate_tables:
  retail:
    - {prefix: "880", fee: 0.25, period: 60}
mapping_gateways:
  ACME-GW: {account: ACME, ips: ["203.0.113.10"]}
routing_gateways:
  VENDOR-A: {ip: "198.51.100.20", prefixes: ["880"], priority: 1}
calls:
  - id: one
    at: 0
    from: ACME-GW
    caller: "8801711000001"
    callee: "8801911000002"
    caller_does: {hangup_after: 30}
"""

# (what is wrong, text to replace, replacement, line, key path, words the message must hold)
MISTAKES = [
    ("wrong type", "period: 60", "period: sixty", 9, "rate_tables.retail[0].period",
     ["expected", "integer", "'sixty'"]),
    ("unknown key", "priority: 1}", "priorty: 1}", 13, "routing_gateways.VENDOR-A.priorty",
     ["unknown key", "did you mean 'priority'"]),
    ("missing key", '    caller: "8801711000001"\n', "", 15, "calls[0].caller",
     ["missing required key 'caller'"]),
    ("unknown gateway reference", "from: ACME-GW", "from: ACME-G", 17, "calls[0].from",
     ["expected the name of a mapping gateway", "'ACME-G'", "did you mean 'ACME-GW'"]),
    ("unknown account reference", "{account: ACME,", "{account: ACMEE,", 11,
     "mapping_gateways.ACME-GW.account", ["expected the name of an account", "'ACMEE'"]),
    ("unknown rate table", "rate_table: retail", "rate_table: retial", 6,
     "accounts.ACME.rate_table", ["rate table", "did you mean 'retail'"]),
    ("negative time", "hangup_after: 30", "hangup_after: -5", 20,
     "calls[0].caller_does.hangup_after", ["expected seconds from 0 to 604,800 s", "-5"]),
    ("bad prefix", 'prefix: "880"', 'prefix: "88O"', 9, "rate_tables.retail[0].prefix",
     ["digits", "'88O'"]),
    ("bad IP", '"203.0.113.10"', '"203.0.113.300"', 11, "mapping_gateways.ACME-GW.ips[0]",
     ["IP address", "203.0.113.300"]),
    ("bad date", 'expires: "2027-01-01"', 'expires: "2027-13-01"', 6, "accounts.ACME.expires",
     ["expected", "2027-13-01"]),
    ("duplicate call id", "    caller_does: {hangup_after: 30}\n",
     "    caller_does: {hangup_after: 30}\n"
     "  - {id: one, from: ACME-GW, caller: '1', callee: '2'}\n",
     21, "calls[1].id", ["unique call id", "'one'"]),
    ("YAML syntax error", "  retail:\n", "  retail: [\n", None, "", ["YAML syntax error"]),
    ("duplicate key", "seed: 1\n", "seed: 1\nseed: 2\n", 4, "seed", ["a second time"]),
    ("bad callee behaviour", "caller_does: {hangup_after: 30}",
     "caller_does: {hangup_after: 30}\n    callee_does: {busy: true, answer_after: 3}", 21,
     "calls[0].callee_does", ["exactly one of", "answer_after, busy"]),
    ("wrong version", "version: 1", "version: 2", 1, "version", ["expected 1", "2"]),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistake_is_reported_and_nothing_written(mistake, tmp_path: Path) -> None:
    _, old, new, line, path, words = mistake
    assert old in GOOD
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace(old, new, 1))
    out = tmp_path / "out"
    done = cli("run", str(bad), "-o", str(out), "--format", "pipe,e_cdr,sqlite,jsonl",
               "--trace", str(tmp_path / "trace.jsonl"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    first = done.stderr.strip().splitlines()[0]
    where = re.match(rf"{re.escape(str(bad))}:(\d+):(\d+): (.*)", first)
    assert where, first
    if line is not None:
        assert int(where.group(1)) == line, first
    if path:
        assert where.group(3).startswith(f"{path}: "), first
    for word in words:
        assert word in done.stderr, (word, done.stderr)
    assert not out.exists() or not any(out.rglob("*"))
    assert not (tmp_path / "trace.jsonl").exists()
    assert cli("validate", str(bad)).returncode == 2


def test_good_scenario_validates(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    done = cli("validate", str(good))
    assert done.returncode == 0 and "ok" in done.stdout


def test_all_problems_of_a_file_are_reported() -> None:
    text = GOOD.replace("period: 60", "period: 0").replace("priority: 1}", "prio: 1}")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    paths = {p.path for p in caught.value.problems}
    assert {"rate_tables.retail[0].period", "routing_gateways.VENDOR-A.prio"} <= paths


def test_missing_file_and_bad_set_are_clear(tmp_path: Path) -> None:
    done = cli("run", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2 and "cannot read the file" in done.stderr
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    done = cli("run", str(good), "-o", str(tmp_path / "o"), "--set", "media_timout=5")
    assert done.returncode == 2
    assert "did you mean switch.media_timeout?" in done.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*"))
    done = cli("run", str(good), "-o", str(tmp_path / "o"), "--format", "csv")
    assert done.returncode == 2 and "unknown format 'csv'" in done.stderr
