"""Hostile and broken scenario files (issue 9): every one is refused with file:line:column and
what was expected, at once, with nothing written; names that would tear a CDR line are refused."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from scenario_support import VOSSIM, cli
from simulator import ScenarioError, parse_scenario

BASE = """\
version: 1
name: hardening
seed: 1
start: "2026-11-20T10:00:00Z"
switch: {no_answer_timeout: 60}
accounts:
  ACME: {name: Acme, type: postpaid, rate_table: retail}
rate_tables:
  retail:
    - {prefix: "880", fee: 0.25, period: 60}
mapping_gateways:
  ACME-GW: {account: ACME, ips: ["203.0.113.10"]}
routing_gateways:
  VENDOR-A: {ip: "198.51.100.20", prefixes: ["880"]}
calls:
  - id: one
    at: 0
    from: ACME-GW
    caller: "8801711000001"
    callee: "8801911000002"
    caller_does: {hangup_after: 30}
"""


def laughs(levels: int) -> str:
    lines = ["  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels)]
    return "\n".join(lines)


# (what, text to replace, replacement, line, column or None, words the message must hold)
CASES = [
    ("deep nesting", "name: hardening", "name: " + "[" * 1000 + "]" * 1000, 2, None,
     ["YAML error: expected at most 32 levels of nesting"]),
    ("impossible day", 'start: "2026-11-20T10:00:00Z"', "start: 2026-02-30", 4, 8,
     ["start:", "real date", "'2026-02-30'", "day is out of range"]),
    ("impossible month", 'start: "2026-11-20T10:00:00Z"', "start: 2026-13-45", 4, 8,
     ["real date", "'2026-13-45'"]),
    ("explicit timestamp tag", 'start: "2026-11-20T10:00:00Z"',
     "start: !!timestamp 2026-02-30", 4, 8, ["real date", "'2026-02-30'"]),
    ("timestamp tag on junk", 'start: "2026-11-20T10:00:00Z"', "start: !!timestamp soon", 4, 8,
     ["real date", "'soon'"]),
    ("more than 4,300 digits", "seed: 1", "seed: " + "9" * 5000, 3, 7,
     ["seed:", "expected an integer", "5,000 characters"]),
    ("seed too large", "seed: 1", "seed: 99999999999999999999", 3, 7,
     ["seed: expected a seed from", "found a number of 20 digits"]),
    ("float tag on text", "name: hardening", "name: !!float x", 2, 7,
     ["name: expected a number, found 'x'"]),
    ("int tag on text", "name: hardening", "name: !!int 'abc'", 2, 7,
     ["expected an integer, found 'abc'"]),
    ("control character", "name: hardening", "name: hard\x07ening", 2, 11,
     ["control character U+0007"]),
    ("billion laughs", "calls:\n", "x-lol:\n" + laughs(9) + "\ncalls:\n", 20, 47,
     ["aliases that expand to at most 100,000 nodes"]),
    ("recursive alias", "name: hardening", "name: &me [1, *me]", 2, 15, ["recursive alias"]),
    ("huge hold time", "caller_does: {hangup_after: 30}", "caller_does: {hangup_after: 1e12}",
     21, 33, ["calls[0].caller_does.hangup_after", "0 to 604,800 s (7 days)"]),
    ("call at 1e16", "    at: 0", "    at: 1e16", 17, 9,
     ["calls[0].at", "0 to 31,622,400 s (366 days)"]),
    ("stop past year 9999", 'start: "2026-11-20T10:00:00Z"', "start: 9999-12-31", 4, 8,
     ["start: expected a start from 1970-01-01 to 2999-12-31"]),
    ("period 1e30", "period: 60", "period: 1.0e+30", 10, 42,
     ["rate_tables.retail[0].period", "billing period in seconds from 1 to 86,400"]),
    ("no_answer_timeout 1e308", "no_answer_timeout: 60", "no_answer_timeout: 1.0e+308", 5, 29,
     ["switch.no_answer_timeout", "604,800 s"]),
    ("fee 1e400", "fee: 0.25", "fee: 1e400", 10, 28,
     ["rate_tables.retail[0].fee", "amount from 0 to 1,000,000"]),
    ("refreshes every few ms", "switch: {no_answer_timeout: 60}",
     "switch: {no_answer_timeout: 60, SS_SIP_SESSION_TTL: 1}", 5, 53,
     ["SS_SIP_SESSION_TTL", "0 (no session timer) or seconds from 10"]),
    ("refresh segments", "switch: {no_answer_timeout: 60}",
     "switch: {no_answer_timeout: 60, SS_SIP_SESSION_UPDATE_SEGMENT: 1000000000}", 5, 64,
     ["refreshes per session TTL from 1 to 10"]),
    ("pipe and newline in a gateway name", "  VENDOR-A:", '  "ACME\\nGW|x":', 14, None,
     ["routing_gateways", "without '|', line breaks or control characters", "ACME\\nGW|x"]),
    ("pipe in an account name", "{name: Acme,", "{name: 'Ac|me',", 7, None,
     ["accounts.ACME.name", "without '|'"]),
    ("newline in a call id", "  - id: one", '  - id: "o\\nne"', 16, None,
     ["calls[0].id", "without '|', line breaks"]),
    ("control in the switch name", "switch: {no_answer_timeout: 60}",
     'switch: {no_answer_timeout: 60, name: "VOS\\x1b"}', 5, None, ["switch.name"]),
]


@pytest.mark.parametrize(("what", "old", "new", "line", "column", "words"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_file_is_refused_with_its_place(what: str, old: str, new: str, line: int,
                                            column: int | None, words: list[str]) -> None:
    assert old in BASE, what
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(BASE.replace(old, new, 1), "bad.yaml")
    first = str(caught.value.problems[0])
    where = re.match(r"bad\.yaml:(\d+):(\d+): ", first)
    assert where, first
    assert int(where.group(1)) == line, first
    if column is not None:
        assert int(where.group(2)) == column, first
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))


def test_the_base_file_is_good() -> None:
    assert parse_scenario(BASE, "good.yaml").calls[0].id == "one"


def test_billion_laughs_is_refused_by_the_cli_at_once_with_nothing_written(
        tmp_path: Path) -> None:
    bad = tmp_path / "laughs.yaml"
    bad.write_text(BASE.replace("calls:\n", "x-lol:\n" + laughs(9) + "\ncalls:\n", 1))
    out = tmp_path / "out"
    # Expanded, 9 levels would be 10**9 nodes: only a bound answers before the timeout.
    done = subprocess.run([*VOSSIM, "run", str(bad), "-o", str(out), "--trace",
                           str(tmp_path / "t.jsonl")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"{bad}:20:47: YAML error: expected aliases"), done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists() and not (tmp_path / "t.jsonl").exists()


NEVER_ENDS = BASE.replace("    caller_does: {hangup_after: 30}\n", "")  # postpaid, no limits


def test_validate_finds_a_call_nothing_ends_once_answered(tmp_path: Path) -> None:
    bad = tmp_path / "never.yaml"
    bad.write_text(NEVER_ENDS)
    done = cli("validate", str(bad))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{bad}:16:5: calls[0]: call 'one': nothing can end it once "
                                  "answered"), done.stderr
    run = cli("run", str(bad), "-o", str(tmp_path / "out"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"{bad}:16:5: calls[0]: call 'one': nothing can end it"), \
        run.stderr
    assert not any((tmp_path / "out").rglob("*"))
    account = "  ACME: {name: Acme, type: postpaid, rate_table: retail}\n"
    bad.write_text(NEVER_ENDS.replace(account, account + account.replace("ACME", "BETA")))
    sharded = cli("run", str(bad), "-o", str(tmp_path / "out"), "--workers", "2")  # 2 accounts
    assert sharded.returncode == 2 and "Traceback" not in sharded.stderr
    assert sharded.stderr.startswith(f"{bad}:17:5: calls[0]: call 'one'"), sharded.stderr
    assert not any((tmp_path / "out").rglob("*"))


def test_validate_accepts_a_call_without_hangup_that_the_switch_refuses(tmp_path: Path) -> None:
    refused = tmp_path / "refused.yaml"  # from an address no mapping gateway has: never answered
    refused.write_text(NEVER_ENDS.replace('    from: ACME-GW\n',
                                          '    from: ACME-GW\n    source_ip: "198.18.0.1"\n'))
    done = cli("validate", str(refused))
    assert done.returncode == 0, done.stderr


def test_validate_finds_a_call_that_rings_for_ever(tmp_path: Path) -> None:
    bad = tmp_path / "rings.yaml"
    bad.write_text(BASE.replace("no_answer_timeout: 60", "no_answer_timeout: 0").replace(
        "    caller_does: {hangup_after: 30}\n", "    callee_does: {no_answer: true}\n"))
    done = cli("validate", str(bad))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{bad}:16:5: calls[0]: call 'one': nothing can end it (it "
                                  "rings for ever"), done.stderr


def test_a_name_with_a_pipe_never_reaches_a_cdr(tmp_path: Path) -> None:
    bad = tmp_path / "pipe.yaml"
    bad.write_text(BASE.replace("  VENDOR-A:", '  "ACME\\nGW|x":'))
    done = cli("check", str(bad))
    assert done.returncode == 2 and "ok" not in done.stdout
    assert f"{bad}:14:" in done.stderr and "without '|'" in done.stderr


@pytest.mark.parametrize(("option", "words"), [
    (["--scale", "1e300"], "a scenario spans at most 31,622,400 s (366 days)"),
    (["--rate", "1e300"], "at most 10,000 are simulated"),
    (["--warmup", "1e300"], "expected --warmup of 0 s or more, at most 31,622,400 s"),
    (["--calls", "99999999999999999999999"], "expected --calls from 1 to 1,000,000,000,000"),
], ids=["scale", "rate", "warmup", "calls"])
def test_run_options_keep_the_bounds(tmp_path: Path, option: list[str], words: str) -> None:
    done = cli("run", "scenarios/load/fraud-burst.yaml", "-o", str(tmp_path / "out"), *option)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
