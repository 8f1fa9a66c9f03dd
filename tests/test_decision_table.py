"""Every row of the decision table, through the public CLI, checked against the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenario_support import ROOT, cli, run, scenario
from simulator import ALL_ROWS, SETUP_CHECKS

ROWS = ROOT / "scenarios" / "decision-table"

# row file -> {call id: (endDirection, endReason)} straight from spec §2.
CONTRACT = {
    "01-unauthorized-ip": {"stranger": (2, 17)},
    "02-authentication-failed": {"wrong-password": (2, 16), "right-password": (0, 11)},
    "03-account-disabled": {"disabled": (2, 10)},
    "04-account-expired": {"expired": (2, 9)},
    "05-blacklist-match": {"fraud-range": (2, 20)},
    "06-cps-limit": {"first": (0, 11), "second": (0, 11), "third": (2, 19), "later": (0, 11)},
    "07-concurrent-limit": {"talking": (0, 11), "refused": (2, 18), "after": (0, 11)},
    "08-rate-not-found": {"no-rate": (2, 7)},
    "09-service-not-subscribed": {"international": (2, 25)},
    "10-balance-insufficient": {"broke": (2, 8)},
    "11-route-not-found": {"no-route": (2, 6)},
    "12-gateway-unavailable": {"vendor-down": (2, 21)},
    "13-no-available-route": {"holds-the-port": (0, 11), "no-port-left": (2, 22)},
    "14-user-busy": {"busy": (1, 2)},
    "15-unallocated-number": {"no-such-number": (1, 4)},
    "16-call-rejected": {"declined": (1, 23)},
    "17-callee-no-answer": {"callee-gives-up": (1, 3)},
    "18-failover": {"walks": (0, 11), "all-congested": (1, 5), "all-unreachable": (2, 21)},
    "19-ring-timeout": {"rings-for-ever": (2, 3)},
    "20-caller-cancel": {"impatient": (0, 11)},
    "21-caller-bye": {"normal": (0, 11)},
    "22-callee-bye": {"callee-ends": (1, 12)},
    "23-admin-disconnect": {"killed": (2, 13)},
    "24-prepaid-exhausted": {"cut": (2, 24)},
    "25-max-call-duration": {"capped": (2, 1)},
    "26-no-timer-cap": {"forgotten": (2, 14)},
    "27-refresh-failed": {"nat": (2, 14)},
    "28-media-timeout": {"silent": (2, 15)},
}
SIP_TO_CALLER = {1: 403, 2: 403, 3: 403, 4: 403, 5: 403, 6: 503, 7: 503, 8: 404, 9: 403,
                 10: 403, 11: 404, 12: 503, 13: 503, 14: 486, 15: 404, 16: 603, 17: 480,
                 19: 408, 20: 487}


def messages_of(trace: Path) -> list[dict]:
    """The signalling lines of a trace (the core's event lines have "event" instead)."""
    return [m for m in map(json.loads, trace.open()) if "message" in m]


def test_every_row_has_a_scenario() -> None:
    assert sorted(CONTRACT) == sorted(p.stem for p in ROWS.glob("*.yaml"))
    assert {int(name[:2]) for name in CONTRACT} == set(range(1, 29))
    assert {v.row for v in ALL_ROWS} == set(range(1, 29))


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_row_through_cli(name: str, tmp_path: Path) -> None:
    done = cli("run", str(ROWS / f"{name}.yaml"), "-o", str(tmp_path), "--format", "jsonl",
               "--trace", str(tmp_path / "trace.jsonl"))
    assert done.returncode == 0, done.stderr
    records = {r["callId"]: r for r in map(json.loads, (tmp_path / "cdr.jsonl").open())}
    for call_id, (direction, reason) in CONTRACT[name].items():
        record = records[call_id]
        assert (record["enddirection"], record["endreason"]) == (direction, reason), call_id
    row = int(name[:2])
    if row in SIP_TO_CALLER:
        refused = next(cid for cid, dr in CONTRACT[name].items() if dr[0] == 2 or row >= 14)
        trace = messages_of(tmp_path / "trace.jsonl")
        to_caller = [m["message"] for m in trace
                     if m["call"] == refused and m["to"].startswith("caller")]
        assert str(SIP_TO_CALLER[row]) in to_caller, to_caller


def test_setup_checks_are_ordered_rows_one_to_thirteen() -> None:
    assert [verdict.row for verdict, _ in SETUP_CHECKS] == list(range(1, 14))


def test_first_failing_check_wins(tmp_path: Path) -> None:
    # Disabled AND expired AND blacklisted: row 3 comes first.
    scn = scenario({"callee": "8801911000002"},
                   accounts={"ACME": {"name": "A", "type": "prepaid", "money": 0,
                                      "rate_table": "retail", "status": "disabled",
                                      "expires": "2020-01-01"}},
                   blacklist=["880"])
    records, _ = run(scn, tmp_path)
    assert records["c1"]["endreason"] == 10


def test_auth_challenge_is_signalled(tmp_path: Path) -> None:
    done = cli("run", str(ROWS / "02-authentication-failed.yaml"), "-o", str(tmp_path),
               "--trace", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0
    ladder = [(m["from"].split()[0], m["message"]) for m in messages_of(tmp_path / "t.jsonl")
              if m["call"] == "wrong-password"]
    assert ladder[:5] == [("caller", "INVITE"), ("switch", "401"), ("caller", "ACK"),
                          ("caller", "INVITE (credentials)"), ("switch", "403")]


def test_refresh_failure_ladder(tmp_path: Path) -> None:
    done = cli("run", str(ROWS / "27-refresh-failed.yaml"), "-o", str(tmp_path),
               "--trace", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0
    ladder = [(m["t"], m["message"]) for m in messages_of(tmp_path / "t.jsonl")]
    assert (901.0, "re-INVITE") in ladder
    assert (933.0, "408 (local, timer B)") in ladder
    assert ladder[-1][0] == 933.0 and ladder[-1][1] == "200 (BYE)"


def test_failover_order_in_ladder(tmp_path: Path) -> None:
    done = cli("run", str(ROWS / "18-failover.yaml"), "-o", str(tmp_path),
               "--trace", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0
    invites = [(m["t"], m["to"].split()[0]) for m in messages_of(tmp_path / "t.jsonl")
               if m["call"] == "walks" and m["message"] == "INVITE" and m["from"] == "switch"]
    assert invites == [(0.0, "VENDOR-A"), (0.0, "VENDOR-B"), (32.0, "VENDOR-C")]


def test_h323_legs_signal_h225(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "billing" / "h323-protocol-codes.yaml"
    done = cli("run", str(path), "-o", str(tmp_path), "--trace", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0
    messages = [m["message"] for m in messages_of(tmp_path / "t.jsonl")
                if m["call"] == "h323-busy"]
    assert messages[0] == "Setup"
    assert "Release Complete (cause 17)" in messages
    assert not any(m.isdigit() for m in messages)
