"""The vos3000 CDR profile against real VOS3000 rows: each ``scenarios/real/`` scenario's record
equals its real row on every field the scenario determines.

The real rows are third-party data: they are read at test time from
``../shared/reference/real-cdrs/`` (CI has it) and never copied into the repository. Each
scenario's row is found by what it shows (its end reason, its hold time …), not by its id.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from scenario_support import ROOT
from simulator import load_scenario, run_scenario

REAL_CDRS = ROOT.parent / "shared" / "reference" / "real-cdrs" / "e_cdr-2023-07-16.csv"
REAL = ROOT / "scenarios" / "real"

# Fields a scenario determines, compared value for value with the real row.
EXACT = ("enddirection", "endreason", "holdtime", "feetime", "agentfeetime", "billingmode",
         "calllevel", "callertype", "calleetype", "callerpdd", "calleepdd", "rtpforward",
         "sipreasonheader", "recordstarttime", "flownofirst", "billingtype", "cdrlevel",
         "agentcdr_id")
MONEY = ("fee", "agentfee")
# Fields whose values are the scenario's own (names, addresses): filled exactly when the real
# row's are.
FILLED = ("calleegatewayid", "calleeip", "agentaccount", "agentname", "callercodec",
          "calleecodec", "calleertpip", "callerrtpip", "calleecallid", "calleeareacode",
          "callerareacode")

Row = dict[str, str]


def _first(test: Callable[[Row], bool]) -> Callable[[list[Row]], Row]:
    def pick(rows: list[Row]) -> Row:
        return next(row for row in rows if test(row))
    return pick


# scenario file -> (the call id of its real situation, which real row it is)
SITUATIONS: dict[str, tuple[str, Callable[[list[Row]], Row]]] = {
    "callee-503.yaml": ("refused-503", _first(
        lambda r: r["endreason"] == "503" and r["sipreasonheader"].startswith("Q.850;cause=34"))),
    "callee-480.yaml": ("rings-then-480", _first(lambda r: r["endreason"] == "480")),
    "callee-484.yaml": ("address-incomplete", _first(lambda r: r["endreason"] == "484")),
    "no-route.yaml": ("nowhere-to-send", _first(lambda r: r["endreason"] == "-69")),
    "caller-cancel.yaml": ("caller-gives-up", _first(
        lambda r: r["endreason"] == "-7" and r["holdtime"] == "0")),
    "caller-bye-85s.yaml": ("long-call", _first(
        lambda r: r["endreason"] == "-7" and r["holdtime"] == "85")),
}


@pytest.fixture(scope="module")
def real_rows() -> list[Row]:
    if not REAL_CDRS.is_file():
        pytest.skip(f"the real VOS3000 rows are not here ({REAL_CDRS}): they live in ../shared, "
                    "beside the clone, and are never copied into the repository")
    with REAL_CDRS.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _written(name: str, tmp_path: Path) -> tuple[list[Row], dict[str, Row]]:
    """The scenario's e_cdr rows as written (CSV, in write order) and its rows by call id."""
    scenario = load_scenario(REAL / name)
    run_scenario(scenario, tmp_path, ("e_cdr", "jsonl"))
    with next(tmp_path.glob("e_cdr_*.csv")).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    call_ids = [json.loads(line)["callId"] for line in
                (tmp_path / "cdr.jsonl").read_text(encoding="utf-8").splitlines()]
    return rows, dict(zip(call_ids, rows, strict=True))


def test_every_real_scenario_is_compared() -> None:
    assert sorted(p.name for p in REAL.glob("*.yaml")) == sorted(SITUATIONS)


@pytest.mark.parametrize("name", sorted(SITUATIONS))
def test_the_record_equals_its_real_row(name: str, real_rows: list[Row],
                                        tmp_path: Path) -> None:
    call_id, pick = SITUATIONS[name]
    real = pick(real_rows)
    _, by_call = _written(name, tmp_path)
    ours = by_call[call_id]
    for field in EXACT:
        assert ours[field] == real[field], f"{name}: {field}"
    for field in MONEY:
        assert Decimal(ours[field]) == Decimal(real[field]), f"{name}: {field}"
    for field in FILLED:
        assert bool(ours[field]) == bool(real[field]), f"{name}: {field} filled or not"


def test_flowno_is_taken_at_the_invite_and_id_is_the_write_order(real_rows: list[Row],
                                                                   tmp_path: Path) -> None:
    """Real rows: the 85 s call is written after failed calls that arrived during it, so its id
    is higher than theirs while its flowno is lower. The scenario's record does the same."""
    def relation(rows: list[Row], long: Row) -> tuple[bool, bool]:
        before = rows[:rows.index(long)]
        return (all(int(r["id"]) < int(long["id"]) for r in before),
                any(int(r["flowno"]) > int(long["flowno"]) for r in before))

    real_long = SITUATIONS["caller-bye-85s.yaml"][1](real_rows)
    assert relation(real_rows, real_long) == (True, True)
    rows, by_call = _written("caller-bye-85s.yaml", tmp_path)
    assert relation(rows, by_call["long-call"]) == (True, True)
    assert [int(r["id"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["id"] != r["flowno"] for r in rows)
