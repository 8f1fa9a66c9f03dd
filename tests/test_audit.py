"""``vossim audit``: rows vossim wrote under a known configuration audit consistent; tampered
rows are flagged, each with the field that was changed; --json and --html."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simulator.audit import audit
from simulator.cli import main
from simulator.run._run import run_scenario
from simulator.scenario._loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ROOT / "scenarios" / "load" / "standard.yaml"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The e_cdr CSV of a tenth of the standard load (about 1,200 calls of every kind)."""
    out = tmp_path_factory.mktemp("standard")
    run_scenario(load_scenario(STANDARD), out, ("e_cdr",), scale=0.1)
    (csv_file,) = out.glob("e_cdr_*.csv")
    return csv_file


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_rows_written_under_the_configuration_audit_consistent(written: Path) -> None:
    report = audit([str(written)], str(STANDARD))
    _header, rows = _rows(written)
    assert report["rows"] == len(rows) > 1000
    # the load has every kind of ending: the replay re-decides each one the same way
    assert len({(r["enddirection"], r["endreason"]) for r in rows}) >= 10
    assert report["differences"] == []
    assert report["consistent"] == report["rows"]


def _tampered(written: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    header, rows = _rows(written)
    answered = [r for r in rows if int(r["holdtime"]) > 30 and Decimal(r["fee"]) > 0]
    by_caller = [r for r in answered if r["enddirection"] == "0"]
    fee_row, hold_row = answered[3], answered[7]
    reason_row = next(r for r in by_caller if r is not fee_row and r is not hold_row)
    fee_row["fee"] = str(Decimal(fee_row["fee"]) + Decimal("0.50"))
    hold_row["holdtime"] = str(int(hold_row["holdtime"]) + 7)
    reason_row["endreason"] = "12"  # a callee hangup's reason on a row the caller ended
    tampered = {fee_row["flowno"]: "fee", hold_row["flowno"]: "holdtime",
                reason_row["flowno"]: "endreason"}
    return _write(tmp_path / "tampered.csv", header, rows), tampered


def test_exactly_the_tampered_rows_are_flagged_with_the_right_field(written: Path,
                                                                    tmp_path: Path) -> None:
    path, tampered = _tampered(written, tmp_path)
    report = audit([str(path)], str(STANDARD))
    flagged = {str(d["flowno"]): set(d["fields"]) for d in report["differences"]}
    assert flagged == {flowno: {name} for flowno, name in tampered.items()}
    assert report["consistent"] == report["rows"] - 3
    assert report["by_field"] == {"fee": 1, "holdtime": 1, "endreason": 1}
    assert set(report["by_cause"]) == {"fee", "holdtime", "end reason"}
    # the money at stake is the fee added, for that row's customer
    (_customer, money), = report["money"].items()
    assert Decimal(money["difference"]) == Decimal("0.50") and money["rows"] == 1
    fee = next(d for d in report["differences"] if "fee" in d["fields"])["fields"]["fee"]
    assert Decimal(str(fee["cdr"])) - Decimal(str(fee["simulated"])) == Decimal("0.50")
    assert "rate table 'wholesale' says" in fee["why"]


def test_json_and_html(written: Path, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    path, tampered = _tampered(written, tmp_path)
    header, rows = _rows(path)
    # names are data: one shows up in the page, escaped
    row = next(r for r in rows if r["flowno"] in tampered)
    row["customeraccount"] = '<script>alert("x")</script>'
    _write(path, header, rows)
    page = tmp_path / "audit.html"
    status = main(["audit", str(path), "--config", str(STANDARD), "--json", "--html", str(page)])
    assert status == 1  # some rows differ
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert report["rows"] == len(rows) and report["consistent"] == len(rows) - 3
    for difference in report["differences"]:
        assert set(difference) >= {"flowno", "fields"}
        for values in difference["fields"].values():
            assert set(values) >= {"cdr", "simulated"}
    html = page.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "customeraccount" in html


def test_a_clean_audit_exits_zero_and_prints_a_summary(written: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    assert main(["audit", str(written), "--config", str(STANDARD)]) == 0
    out = capsys.readouterr().out
    assert "consistent" in out and "different: 0" in out


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.csv"
    assert main(["audit", str(missing), "--config", str(STANDARD)]) == 2
    err = capsys.readouterr().err
    assert "missing.csv" in err and "Traceback" not in err and err.count("\n") == 1


def test_rows_of_the_vos3000_profile_audit_consistent(tmp_path: Path) -> None:
    """The observed numbering: caller releases -7, callee codes, an H.323 callee's Q.850 cause,
    placeholder server endings; ring timeouts whose callerpdd runs only to the 18x."""
    config = tmp_path / "standard-vos3000.yaml"
    config.write_text(STANDARD.read_text().replace("\nswitch:\n", "\nswitch:\n  cdr_profile: "
                                                                  "vos3000\n", 1))
    out = tmp_path / "rows"
    run_scenario(load_scenario(config), out, ("e_cdr",), scale=0.1)
    (path,) = out.glob("e_cdr_*.csv")
    _header, rows = _rows(path)
    reasons = {int(r["endreason"]) for r in rows}
    assert -7 in reasons and any(code < -100 for code in reasons) and 486 in reasons
    report = audit([str(path)], str(config))
    assert report["profile"] == "vos3000"
    assert report["differences"] == [] and report["consistent"] == len(rows)


def test_a_holdtime_rounded_the_other_way_is_a_rounding_cause(written: Path,
                                                               tmp_path: Path) -> None:
    header, rows = _rows(written)
    row = next(r for r in rows if (int(r["stoptime"]) - int(r["starttime"])) % 1000 >= 50)
    row["holdtime"] = str((int(row["stoptime"]) - int(row["starttime"])) // 1000)  # rounded down
    report = audit([str(_write(tmp_path / "rounded.csv", header, rows))], str(STANDARD))
    assert report["by_cause"] == {"holdtime rounding": 1}
    (difference,) = report["differences"]
    assert "SERVER_BILLING_HOLD_TIME_PRECISION" in difference["fields"]["holdtime"]["why"]


def test_every_output_shape_audits_consistent(tmp_path: Path) -> None:
    """The pipe file (no INVITE instant, no calleepdd: the configuration's timers place the
    INVITE), JSON lines, SQLite and Parquet, read by the readers of vossim analyze."""
    out = tmp_path / "out"
    run_scenario(load_scenario(STANDARD), out, ("pipe", "jsonl", "sqlite", "parquet"),
                 scale=0.05)
    sources = [out / "cdr", out / "cdr.jsonl", out / "vos3000.db",
               next(out.glob("*.parquet"))]
    counts = set()
    for source in sources:
        report = audit([str(source)], str(STANDARD))
        assert report["differences"] == [], (source.name, report["differences"][:3])
        counts.add(report["rows"])
    assert len(counts) == 1 and counts.pop() > 400


def test_a_configuration_without_customers_gateways_is_one_line(
        written: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text("version: 1\n")
    assert main(["audit", str(written), "--config", str(config)]) == 2
    assert main(["reproduce", str(written), "--flowno", "1", "--config", str(config),
                 "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("expected a configuration with mapping_gateways" in line
                                 for line in err)


LONG_CALL = """
version: 1
name: one-line-at-a-time
start: "2026-11-20T10:00:00Z"
accounts:
  ACME: {name: Acme, rate_table: retail, max_concurrent: 1}
rate_tables:
  retail: [{prefix: "44", fee: 0.1, period: 60}]
mapping_gateways:
  ACME-GW: {account: ACME, ips: ["203.0.113.10"]}
routing_gateways:
  UK: {ip: "198.51.100.20", prefixes: ["44"]}
calls:
  - {id: long, at: 0, from: ACME-GW, caller: "1", callee: "441", caller_does: {hangup_after: 300}}
  - {id: early, at: 10, from: ACME-GW, caller: "1", callee: "442", caller_does: {hangup_after: 5}}
  - {id: later, at: 100, from: ACME-GW, caller: "1", callee: "443",
     caller_does: {hangup_after: 5}}
"""


def test_a_long_calls_row_that_comes_late_is_replayed_with_the_calls_it_overlapped(
        tmp_path: Path) -> None:
    """Rows come by stoptime: the two refused calls' rows (a gap between them) come before the
    long call that held the only line; the audit still replays the three together."""
    config = tmp_path / "limit.yaml"
    config.write_text(LONG_CALL)
    out = tmp_path / "rows"
    run_scenario(load_scenario(config), out, ("e_cdr",))
    (path,) = out.glob("e_cdr_*.csv")
    _header, rows = _rows(path)
    assert [r["calleee164"] for r in rows] == ["442", "443", "441"]
    assert [r["endreason"] for r in rows] == ["18", "18", "11"]  # refused: the line was held
    for batch in (1, 2000):  # one group per replay, or all in one: the same verdicts
        report = audit([str(path)], str(config), batch_rows=batch)
        assert report["differences"] == [] and report["consistent"] == 3, batch
