"""The CDR readers: every shape, one row at a time (``read_cdr_rows``, ``parse_cdr_row``).

Real-data tests read ``../shared/reference/real-cdrs/`` (third-party rows: never copied into the
repository); the other shapes they need are written from those rows at run time.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cdr_writer import E_CDR_NAMES, PIPE_FIELDS
from simulator.analyze import SourceError, parse_cdr_row, read_cdr_rows
from simulator.analyze._layouts import (
    EXPORT_52,
    EXPORT_53,
    OLD_EXPORT_39,
    OLDER_FEED_NAMES,
    TABLE_61,
    canonical,
)
from simulator.run._run import run_scenario
from simulator.scenario._loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "reference" / "real-cdrs" / "e_cdr-2023-07-16.csv"
needs_real = pytest.mark.skipif(not REAL.is_file(), reason="the real CDR rows are not here "
                                "({REAL}: ../shared is absent in this clone)")
MANGLED = re.compile(r"^\d\.\d+E\+\d+$")


def _real_table() -> tuple[list[str], list[list[str]]]:
    with REAL.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


@pytest.fixture(scope="module")
def vossim_rows(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    """A small vossim run: its e_cdr CSV (63 columns, header) and the rows as text."""
    out = tmp_path_factory.mktemp("demo")
    run_scenario(load_scenario(ROOT / "scenarios" / "demo.yaml"), out,
                 ("e_cdr", "pipe", "jsonl", "sqlite", "parquet"))
    (path,) = sorted(out.glob("e_cdr_*.csv"))
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 3
    return out, rows


def _by_name(row: dict[str, str]) -> dict[str, str]:
    """A vossim row's values under every name a layout may use for them."""
    return {**row, "calleebilling": row["billingtype"], "pdd": row["callerpdd"],
            "callergatewayh323id": row["callergatewayid"],
            "calleegatewayh323id": row["calleegatewayid"], "feeprefix": "",
            "agentfeeprefix": "", "softswitchdn": row["softswitchname"], "subcdr_id": "-1"}


@pytest.mark.parametrize("names", [E_CDR_NAMES, TABLE_61, EXPORT_53, EXPORT_52, OLDER_FEED_NAMES,
                                   OLD_EXPORT_39], ids=lambda n: f"{len(n)}-columns")
@pytest.mark.parametrize("separator", [",", "\t"], ids=["csv", "tsv"])
@pytest.mark.parametrize("header", [False, True], ids=["no-header", "header"])
def test_every_layout_with_or_without_header_comma_or_tab(
        vossim_rows: tuple[Path, list[dict[str, str]]], tmp_path: Path,
        names: tuple[str, ...], separator: str, header: bool) -> None:
    _, rows = vossim_rows
    path = tmp_path / "cdrs.txt"
    with path.open("w", newline="") as handle:
        handle.write("# exported for a test\n")
        writer = csv.writer(handle, delimiter=separator, lineterminator="\n")
        if header:
            writer.writerow(names)
        for i, row in enumerate(rows):
            writer.writerow([_by_name(row)[n] for n in names])
            if i == 1:
                handle.write("# a comment between rows\n")
    read = list(read_cdr_rows(path))
    assert len(read) == len(rows)
    for got, row in zip(read, rows, strict=True):
        assert set(got) == {canonical(n) for n in names}
        assert got["flowno"] == int(row["flowno"]) and got["endreason"] == int(row["endreason"])
        assert got["stoptime"] == int(row["stoptime"]) and got["fee"] == float(row["fee"])
        assert got["calleegatewayid"] == row["calleegatewayid"]
        assert got["callerpdd"] == int(row["callerpdd"])
        assert got["billingtype"] == int(row["billingtype"])
        line = separator.join(_by_name(row)[n] for n in names)
        assert parse_cdr_row(line) == got


def test_vossim_outputs_read_as_the_same_rows(vossim_rows: tuple[Path, list[dict[str, str]]]
                                              ) -> None:
    out, rows = vossim_rows
    by_flowno = {int(r["flowno"]): r for r in rows}
    jsonl = list(read_cdr_rows(out / "cdr.jsonl"))
    db = list(read_cdr_rows(out / "vos3000.db"))
    (parquet_path,) = sorted(out.glob("e_cdr_*.parquet"))
    parquet = list(read_cdr_rows(parquet_path))
    pipe = [r for f in sorted((out / "cdr").glob("*.txt")) for r in read_cdr_rows(f)]
    for source in (jsonl, db, parquet, pipe):
        assert sorted(r["flowno"] for r in source) == sorted(by_flowno)  # type: ignore[type-var]
        for row in source:
            text = by_flowno[row["flowno"]]  # type: ignore[index]
            assert row["endreason"] == int(text["endreason"])
            assert row["holdtime"] == int(text["holdtime"])
            assert row["calleee164"] == text["calleee164"]
    assert all("endreasonname" in r and "feeprefix" in r for r in jsonl)
    assert set(pipe[0]) == {column for _, column in PIPE_FIELDS}
    # a directory gives its fullest format (cdr.jsonl)
    assert len(list(read_cdr_rows(out))) == len(jsonl)


def test_getcdr_json_camel_case_as_lines_array_and_reply(tmp_path: Path) -> None:
    objects = [{"flowNo": 11, "callerE164": "1001", "calleeAccessE164": "00442071234567",
                "calleeGateway": "VENDOR-A", "callerGateway": "ACME-GW", "start": 1700000000000,
                "stop": 1700000085000, "holdTime": 85, "feeTime": 85, "fee": 0.25,
                "endDirection": 0, "endReason": -7},
               {"flowNo": 12, "callerE164": "1002", "calleeAccessE164": "0049301234",
                "calleeGateway": "", "start": 1700000001000, "stop": 1700000001000,
                "holdTime": 0, "feeTime": 0, "fee": 0, "endDirection": 2, "endReason": -69}]
    lines = tmp_path / "getcdr.jsonl"
    lines.write_text("".join(json.dumps(o) + "\n" for o in objects))
    array = tmp_path / "getcdr.json"
    array.write_text(json.dumps(objects, indent=2))
    reply = tmp_path / "reply.json"
    reply.write_text(json.dumps({"retCode": 0, "infoCdrs": objects}))
    for path in (lines, array, reply):
        rows = list(read_cdr_rows(path))
        assert [r["flowno"] for r in rows] == [11, 12], path
        assert rows[0]["calleegatewayid"] == "VENDOR-A"
        assert rows[0]["callergatewayid"] == "ACME-GW"
        assert rows[0]["starttime"] == 1700000000000 and rows[0]["stoptime"] == 1700000085000
        assert rows[0]["calleeaccesse164"] == "00442071234567"
        assert rows[1]["endreason"] == -69
    assert parse_cdr_row(json.dumps(objects[0]))["endreason"] == -7


def test_one_row_as_text_in_any_shape(vossim_rows: tuple[Path, list[dict[str, str]]]) -> None:
    _, rows = vossim_rows
    row = rows[0]
    csv_line = ",".join(row[n] for n in E_CDR_NAMES)
    parsed = parse_cdr_row(csv_line)
    assert parsed["flowno"] == int(row["flowno"]) and parsed["callere164"] == row["callere164"]
    assert parse_cdr_row(csv_line.replace(",", "\t")) == parsed
    with_header = ",".join(E_CDR_NAMES) + "\n" + csv_line
    assert parse_cdr_row(with_header) == parsed
    pipe = parse_cdr_row("8801711000001|8801911000002|1795168804000|1795169044000|240|24|2|"
                         "ACME-GW|VENDOR-A|203.0.113.10|198.51.100.20|ACME|880|240|1.00|0|1|1")
    assert pipe["holdtime"] == 240 and pipe["feeprefix"] == "880" and pipe["fee"] == 1.0
    for text, message in (("1,2,3", "found 3 fields"), ("", "found nothing"),
                          (",".join(E_CDR_NAMES), "this is a header row"),
                          ("{\"flowNo\": ", "not a JSON object"),
                          ("1|2|3", "expected a pipe CDR line of 18"),
                          (csv_line + "\n" + csv_line, "found 2 lines")):
        with pytest.raises(SourceError, match=re.escape(message)):
            parse_cdr_row(text)


def test_values_that_are_not_their_columns_type_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("flowno,stoptime,holdtime,enddirection,endreason,calleee164,softswitchcallid\n"
                    "7,1700000000000,,0,-7,4.47911123456E+011,9.1E+018\n")
    warnings: list[str] = []
    (row,) = list(read_cdr_rows(path, warnings))
    assert row["holdtime"] is None and row["endreason"] == -7
    assert row["calleee164"] == "4.47911123456E+011"
    assert row["softswitchcallid"] == "9.1E+018"  # never 9100000000000000000
    assert len(warnings) == 2 and "calleee164: 1 values" in warnings[0]


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("flowno,stoptime,holdtime,enddirection,endreason\n1,2,3,4,5\n1,2\n")
    with pytest.raises(SourceError, match=re.escape(f"{ragged}:3: expected 5 fields")):
        list(read_cdr_rows(ragged))
    odd = tmp_path / "odd.csv"
    odd.write_text("1,2,3,4\n")
    with pytest.raises(SourceError, match="found 4 fields"):
        list(read_cdr_rows(odd))
    broken = tmp_path / "broken.json"
    broken.write_text("[{\"flowNo\": 1},")
    with pytest.raises(SourceError, match="not JSON"):
        list(read_cdr_rows(broken))
    with pytest.raises(SourceError, match="no such file"):
        list(read_cdr_rows(tmp_path / "absent.csv"))
    empty = tmp_path / "e_cdr.db"
    sqlite3.connect(empty).execute("CREATE TABLE other (x int)").connection.close()
    assert list(read_cdr_rows(empty)) == []


# -- the real rows ------------------------------------------------------------------------------
def _mangled_counts(header: list[str], rows: list[list[str]]) -> dict[str, int]:
    counts = {name: sum(bool(MANGLED.match(r[i])) for r in rows) for i, name in enumerate(header)}
    return {name: n for name, n in counts.items() if n and name not in ("fee", "agentfee")}


@needs_real
def test_real_rows_in_every_shape_read_the_same(tmp_path: Path) -> None:
    header, rows = _real_table()
    warnings: list[str] = []
    read = list(read_cdr_rows(REAL, warnings))
    assert len(read) == len(rows) == 49
    assert all(list(r) == [h.lower() for h in header] for r in read)
    for got, text in zip(read, rows, strict=True):
        values = dict(zip(header, text, strict=True))
        assert got["flowno"] == int(values["flowno"]) and got["id"] == int(values["id"])
        assert got["endreason"] == int(values["endreason"])
        assert got["sipreasonheader"] == values["sipreasonheader"]
    expected = _mangled_counts(header, rows)
    assert expected  # the published rows went through a spreadsheet
    for name, count in expected.items():
        assert any(f": {name}: {count:,} values in a spreadsheet" in w for w in warnings), name
    assert len(warnings) == len(expected)

    headerless = tmp_path / "headerless.csv"  # saved by a spreadsheet: a UTF-8 BOM first
    with headerless.open("w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows(rows)
    tsv = tmp_path / "export.tsv"
    tsv.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n")  # as mysql -B
    getcdr = tmp_path / "getcdr.json"
    getcdr.write_text(json.dumps([_camel(dict(zip(header, r, strict=True))) for r in rows]))
    for path in (headerless, tsv):
        assert list(read_cdr_rows(path)) == read, path
    from_json = list(read_cdr_rows(getcdr))
    assert [r["flowno"] for r in from_json] == [r["flowno"] for r in read]
    assert [r["calleegatewayid"] for r in from_json] == [r["calleegatewayid"] for r in read]
    # one row pasted as text, in each shape
    for i in (0, len(rows) - 1):
        assert parse_cdr_row(",".join(_quoted(v) for v in rows[i])) == read[i]
        assert parse_cdr_row("\t".join(rows[i])) == read[i]


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"') else value


def _camel(values: dict[str, str]) -> dict[str, Any]:
    names = {"flowno": "flowNo", "callere164": "callerE164", "calleeaccesse164":
             "calleeAccessE164", "calleegatewayid": "calleeGateway", "starttime": "start",
             "stoptime": "stop", "holdtime": "holdTime", "feetime": "feeTime", "fee": "fee",
             "enddirection": "endDirection", "endreason": "endReason"}
    return {camel: values[name] for name, camel in names.items()}


def test_the_export_the_writer_makes_is_the_layout_the_reader_knows() -> None:
    from cdr_writer._vos_csv import VOS_CSV_COLUMNS, VOS_CSV_COLUMNS_53
    from simulator.analyze._layouts import LAYOUTS

    # one definition, in the core's record: not two lists that happen to agree today
    assert LAYOUTS[52][2] is VOS_CSV_COLUMNS and LAYOUTS[53][2] is VOS_CSV_COLUMNS_53
