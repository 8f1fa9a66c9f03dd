"""The recording switches, the revenue gap, and the CDR formats of spec §4."""

from __future__ import annotations

import csv
import filecmp
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from cdr_writer import E_CDR_COLUMNS, E_CDR_NAMES
from scenario_support import ROOT, cli, run, scenario
from simulator import SimulationError, load_scenario, run_scenario

# One call of each recording class: a server hangup with talk time, a zero-hold callee refusal,
# an illegal call (unauthorized IP), a normal caller hangup, a server refusal with holdTime 0.
MIX = (
    {"callee_does": {"answer_after": 0}},                                  # c1 prepaid cut
    {"at": 5, "callee_does": {"busy": True}},                              # c2 zero hold
    {"at": 6, "source_ip": "192.0.2.1"},                                   # c3 illegal
    {"at": 7, "caller_does": {"hangup_after": 30}},                        # c4 normal
    {"at": 8, "callee": "4477009000"},                                     # c5 rate not found
)
ACCOUNTS = {"ACME": {"name": "A", "type": "prepaid", "money": "1.50", "rate_table": "retail"}}


def mix(tmp_path: Path, **switch: int):
    return run(scenario(*MIX, accounts=ACCOUNTS, switch=switch), tmp_path)


@pytest.mark.parametrize(("switch", "suppressed"), [
    ({}, set()),
    ({"SERVER_BILLING_RECORD_SERVER_HANG_UP": 0}, {"c1", "c3", "c5"}),
    ({"SERVER_BILLING_RECORD_ZERO_HOLD_TIME": 0}, {"c2", "c3", "c5"}),
    ({"SERVER_BILLING_RECORD_ILLEGAL_CALL": 0}, {"c3"}),
])
def test_each_switch_suppresses_exactly_its_records(switch, suppressed, tmp_path: Path) -> None:
    records, result = mix(tmp_path, **switch)
    assert {cid for cid, r in records.items() if not r["recorded"]} == suppressed
    gap = sum(Decimal(str(r["fee"])) for r in records.values() if not r["recorded"])
    assert result.stats.revenue_gap == gap
    assert result.stats.suppressed == len(suppressed)
    # flowno numbers only the written records, 1..n in CDR order
    written = [r for r in records.values() if r["recorded"]]
    assert [r["flowno"] for r in written] == list(range(1, len(written) + 1))


def test_revenue_gap_is_what_the_suppressed_call_would_have_paid(tmp_path: Path) -> None:
    on, on_result = mix(tmp_path / "on")
    off, off_result = mix(tmp_path / "off", SERVER_BILLING_RECORD_SERVER_HANG_UP=0)
    assert off["c1"]["fee"] == on["c1"]["fee"] > 0
    assert off_result.stats.revenue_gap == Decimal(str(on["c1"]["fee"]))
    assert on_result.stats.charged - off_result.stats.charged == off_result.stats.revenue_gap


def test_suppressed_records_only_in_jsonl(tmp_path: Path) -> None:
    scn = scenario(*MIX, accounts=ACCOUNTS, switch={"SERVER_BILLING_RECORD_SERVER_HANG_UP": 0})
    run_scenario(scn, tmp_path, ("pipe", "e_cdr", "sqlite", "jsonl"))
    pipe_lines = next((tmp_path / "cdr").glob("*.txt")).read_text().splitlines()
    assert len(pipe_lines) == 2
    assert {line.split("|")[6] for line in pipe_lines} == {"0", "1"}
    assert len((tmp_path / "cdr.jsonl").read_text().splitlines()) == 5


def test_formats(tmp_path: Path) -> None:
    scn = load_scenario(ROOT / "scenarios" / "demo.yaml")
    result = run_scenario(scn, tmp_path, ("pipe", "e_cdr", "sqlite", "jsonl"))
    records = [json.loads(line) for line in (tmp_path / "cdr.jsonl").open()]
    # pipe: hourly by stoptime, 18 fields, fee with exactly the configured decimals
    lines = []
    for path in sorted((tmp_path / "cdr").glob("*.txt")):
        for line in path.read_text().splitlines():
            fields = line.split("|")
            assert len(fields) == 18
            assert path.stem == _hour(int(fields[3]))
            assert len(fields[14].split(".")[1]) == 2
            lines.append(fields)
    assert [int(f[17]) for f in lines] == list(range(1, len(records) + 1))
    stops = [int(f[3]) for f in lines]
    assert stops == sorted(stops)
    # e_cdr: 63 columns in the reference's order
    csv_path = next(tmp_path.glob("e_cdr_*.csv"))
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == list(E_CDR_NAMES) and len(rows[0]) == 63
    assert len(rows) == 1 + result.stats.recorded
    assert [r[0] for r in rows[1:]] == [f[17] for f in lines]  # id = flowno
    # sqlite: daily table with the reference's declared types
    db = sqlite3.connect(tmp_path / "vos3000.db")
    table = f"e_cdr_{csv_path.stem[-8:]}"
    declared = [(row[1], row[2].lower()) for row in db.execute(f"PRAGMA table_info({table})")]
    assert declared == list(E_CDR_COLUMNS)
    assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == result.stats.recorded
    busy = db.execute(f"SELECT enddirection, endreason, holdtime FROM {table} "
                      "WHERE callere164='8801711000003'").fetchone()
    assert busy == (1, 2, 0)
    # jsonl: every column plus the names, recorded and the scenario's call id
    assert set(E_CDR_NAMES) <= set(records[0])
    assert {"endReasonName", "endReasonCategory", "recorded", "callId"} <= set(records[0])
    by_id = {r["callId"]: r for r in records}
    assert by_id["acme-busy"]["endReasonName"] == "User Busy"
    assert by_id["stranger"]["endReasonCategory"] == "Security"


def _hour(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y%m%d%H")


def test_call_times(tmp_path: Path) -> None:
    records, _ = run(scenario(
        {"callee_does": {"answer_after": 4.5, "ring_after": 1.25},
         "caller_does": {"hangup_after": 10}},
        {"at": 20, "callee_does": {"busy": True, "after": 2}}), tmp_path)
    start_ms = 1795168800000
    answered, busy = records["c1"], records["c2"]
    assert answered["recordstarttime"] == start_ms
    assert answered["starttime"] == start_ms + 4500
    assert answered["stoptime"] == start_ms + 14500
    assert answered["callerpdd"] == 1250
    assert busy["starttime"] == busy["stoptime"] == start_ms + 22000
    assert busy["callerpdd"] == 0


def test_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    formats = ("--format", "pipe,e_cdr,sqlite,jsonl")
    for name in ("a", "b"):
        done = cli("run", "scenarios/demo.yaml", "-o", str(tmp_path / name), *formats,
                   "--trace", str(tmp_path / name / "trace.jsonl"))
        assert done.returncode == 0, done.stderr
    compared = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not compared.diff_files and not compared.left_only and not compared.right_only
    files = [p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert len(files) >= 6
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_seed_changes_call_ids_only(tmp_path: Path) -> None:
    a, _ = run(scenario({"caller_does": {"hangup_after": 5}}, seed=1), tmp_path / "a")
    b, _ = run(scenario({"caller_does": {"hangup_after": 5}}, seed=2), tmp_path / "b")
    assert a["c1"]["callercallid"] != b["c1"]["callercallid"]
    assert a["c1"]["holdtime"] == b["c1"]["holdtime"]


def test_failed_run_writes_nothing(tmp_path: Path) -> None:
    scn = scenario({"caller_does": {"hangup_after": 5}}, {"at": 10},  # c2: nothing ends it
                   accounts={"ACME": {"name": "A", "type": "postpaid", "rate_table": "retail"}})
    with pytest.raises(SimulationError, match="'c2'"):
        run_scenario(scn, tmp_path / "out", ("pipe", "e_cdr", "sqlite", "jsonl"),
                     trace_path=tmp_path / "trace.jsonl")
    assert [p for p in (tmp_path / "out").rglob("*")] == []
    assert not (tmp_path / "trace.jsonl").exists()


def test_ringing_for_ever_is_an_error(tmp_path: Path) -> None:
    scn = scenario({"callee_does": {"no_answer": True}}, switch={"no_answer_timeout": 0})
    with pytest.raises(SimulationError, match="rings for ever"):
        run_scenario(scn, None)


def test_end_reason_codes_override(tmp_path: Path) -> None:
    records, _ = run(scenario({"callee_does": {"busy": True}}, {"at": 1, "callee": "44123"},
                              switch={"end_reason_codes": {"User Busy": 102}}), tmp_path)
    assert records["c1"]["endreason"] == 102
    assert records["c2"]["endreason"] == 7  # no rate for 44: the server code of row 8


def test_negative_style_writes_the_observed_numbers(tmp_path: Path) -> None:
    """-7 is a caller release in real rows, never Rate Not Found: ``negative`` writes what real
    rows carry (the callee's own code, placeholders for unknown server endings)."""
    records, _ = run(scenario({"callee_does": {"busy": True}}, {"at": 1, "callee": "44123"},
                              switch={"end_reason_codes": {"User Busy": -200},
                                      "end_reason_style": "negative"}), tmp_path)
    assert records["c1"]["endreason"] == 486  # the callee's own response, never renumbered
    assert records["c1"]["endReasonName"] == "User Busy"
    assert records["c2"]["endreason"] == -108  # placeholder: -(100 + row 8)
    assert records["c2"]["endReasonName"] == "Rate Not Found"
    records, _ = run(scenario({"callee_does": {"busy": True}}, {"at": 1, "callee": "44123"},
                              switch={"end_reason_codes": {"Rate Not Found": -30},
                                      "end_reason_style": "negative"}), tmp_path / "again")
    assert records["c2"]["endreason"] == -30


