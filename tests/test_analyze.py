"""``vossim analyze``: every source format, the run summary's numbers, alarms, plots, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cdr_writer import E_CDR_NAMES
from simulator.analyze import analyze, parse_threshold
from simulator.analyze._layouts import OLDER_FEED_NAMES
from simulator.analyze._report import Aggregates
from simulator.run._run import apply_overrides, run_scenario
from simulator.scenario._loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ROOT / "scenarios" / "load" / "standard.yaml"
ALL_FILES = ("pipe", "e_cdr", "sqlite", "jsonl", "parquet")


def _vossim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          cwd=ROOT)


@pytest.fixture(scope="module")
def standard_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("standard")
    result = run_scenario(load_scenario(STANDARD), out, ALL_FILES, scale=0.3)
    return out, result


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on the format the CDRs were read from."""
    return {key: report[key] for key in (
        "calls", "answered", "asr", "acd", "ner", "talk_seconds", "pdd", "charged",
        "by_end_direction", "pivot", "gateways", "customers", "hours", "alarms",
        "short_calls", "zero_duration_rows", "concurrency", "holdtime_histogram",
        "hour_gateway_asr", "fees")}


def _summary_figures(result: Any) -> dict[str, Any]:
    stats = result.stats
    return {
        "calls": stats.calls, "answered": stats.answered, "asr": stats.asr, "acd": stats.acd,
        "directions": {str(d): n for d, n in stats.directions.items()},
        "reasons": sorted([code, name, n] for (code, name), n in stats.reasons.items()),
        "records": stats.recorded, "suppressed": stats.suppressed,
        "charged": float(stats.charged), "revenue_gap": float(stats.revenue_gap),
        "gateways": sorted(
            (side, name, g.calls, g.answered, round(g.acd, 9), dict(g.ended_by),
             round(g.share(g.short_callee_hangups), 9), round(g.share(g.short_caller_hangups), 9))
            for (side, name), g in stats.gateways.items()),
        "alarms": stats.alarms(),
    }


def _report_figures(report: dict[str, Any]) -> dict[str, Any]:
    names = {"caller": 0, "callee": 1, "server": 2}
    return {
        "calls": report["calls"], "answered": report["answered"], "asr": report["asr"],
        "acd": report["acd"],
        "directions": {d: e["calls"] for d, e in report["by_end_direction"].items()},
        "reasons": sorted([e["code"], e["name"], e["calls"]] for e in report["by_end_reason"]),
        "records": report["records"], "suppressed": report["suppressed"],
        "charged": round(report["charged"], 2), "revenue_gap": round(report["revenue_gap"], 2),
        "gateways": sorted(
            (g["side"], g["name"], g["calls"], g["answered"], round(g["acd"], 9),
             {names[k]: v for k, v in g["ended_by"].items() if v},
             round(g["short_callee_hangups"], 9), round(g["short_caller_hangups"], 9))
            for g in report["gateways"]),
        "alarms": [a["message"] for a in report["alarms"]],
    }


def test_analyze_of_an_output_directory_gives_the_run_summarys_numbers(tmp_path: Path) -> None:
    # server hangups not recorded: the jsonl still shows them (recorded: false), as the summary
    scenario = apply_overrides(load_scenario(STANDARD),
                               ["SERVER_BILLING_RECORD_SERVER_HANG_UP=0"])
    result = run_scenario(scenario, tmp_path, ("pipe", "jsonl"), scale=0.3)
    assert result.stats.suppressed > 0 and result.stats.revenue_gap > 0
    done = _vossim("analyze", "--json", str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sources"] == [{"path": str(tmp_path / "cdr.jsonl"), "format": "jsonl",
                                  "cdrs": result.stats.calls}]
    assert _report_figures(report) == _summary_figures(result)


def test_the_text_report_shows_the_summarys_lines(standard_run: tuple[Path, Any]) -> None:
    out, result = standard_run
    done = _vossim("analyze", str(out), "--by", "gateway", "--by", "hour")
    assert done.returncode == 0, done.stderr
    stats = result.stats
    for line in (f"calls {stats.calls:,}", f"answered {stats.answered:,}",
                 f"ASR {stats.asr:.1%}", f"ACD {stats.acd:.1f} s",
                 f"money charged {stats.charged:.2f}"):
        label, value = line.rsplit(" ", 1) if not line.startswith("ACD") else ("ACD", line[4:])
        assert any(label in row and value in row for row in done.stdout.splitlines()), line
    for alarm in stats.alarms():
        assert f"ALARM {alarm}" in done.stdout
    assert "per hour" in done.stdout and "endReason x endDirection" in done.stdout
    assert "CDR/s" in done.stderr


def test_every_source_format_gives_the_same_report(standard_run: tuple[Path, Any]) -> None:
    out, _ = standard_run
    reference = _figures(analyze([str(out / "cdr.jsonl")]))
    assert reference["calls"] > 3000
    for path in (out / "cdr", out / "e_cdr_20261124.csv", out / "vos3000.db",
                 out / "e_cdr_20261124.parquet"):
        files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
        report = analyze([str(f) for f in files])
        assert _figures(report) == reference, path
    assert analyze([str(out)])["sources"][0]["format"] == "jsonl"
    # feePrefix is in the pipe and jsonl records only; e_cdr has the callee number alone
    pipe = analyze([str(f) for f in sorted((out / "cdr").glob("*.txt"))])
    jsonl = analyze([str(out / "cdr.jsonl")])
    assert pipe["prefixes"] == jsonl["prefixes"]
    assert {"1", "44", "447", "8801"} <= {p["prefix"] for p in jsonl["prefixes"]}


def test_mariadb_source_gives_the_same_report(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = mariadb.url()
    run_scenario(load_scenario(STANDARD), tmp_path, ("mariadb", "parquet"), scale=0.3, db=url)
    from_db = analyze([url])
    assert from_db["sources"][0]["format"] == "mariadb"
    assert "vossim-test" not in from_db["sources"][0]["path"]  # the password is not shown
    assert _figures(from_db) == _figures(analyze([str(tmp_path)]))
    from simulator.analyze import read_cdr_rows  # the row reader takes the same URL

    rows = list(read_cdr_rows(url))
    assert len(rows) == from_db["calls"]
    assert all(isinstance(r["flowno"], int) and isinstance(r["calleee164"], str) for r in rows)


def test_csv_without_header_older_layout_and_other_time_units(standard_run: tuple[Path, Any],
                                                              tmp_path: Path) -> None:
    out, _ = standard_run
    reference = _figures(analyze([str(out / "e_cdr_20261124.csv")]))
    frame = pl.read_csv(out / "e_cdr_20261124.csv", infer_schema=False)
    assert frame.columns == list(E_CDR_NAMES)

    headerless = tmp_path / "no-header.csv"
    frame.write_csv(headerless, include_header=False)
    assert _figures(analyze([str(headerless)])) == reference

    older = tmp_path / "older-feed.csv"
    frame.with_columns(calleebilling=pl.col("billingtype")).select(OLDER_FEED_NAMES) \
        .write_csv(older, include_header=False)
    older_report = _figures(analyze([str(older)]))
    assert older_report == reference

    as_datetime = tmp_path / "datetime.csv"
    stamps = {c: pl.from_epoch(pl.col(c).cast(pl.Int64), time_unit="ms")
              .dt.strftime("%Y-%m-%d %H:%M:%S%.3f") for c in ("starttime", "stoptime")}
    frame.with_columns(**stamps).write_csv(as_datetime)
    assert _figures(analyze([str(as_datetime)])) == reference

    # whole seconds: the ms are lost, so compare what does not depend on them
    in_seconds = tmp_path / "seconds.csv"
    frame.with_columns(**{c: (pl.col(c).cast(pl.Int64) // 1000).cast(pl.String)
                          for c in ("starttime", "stoptime")}).write_csv(in_seconds)
    seconds = analyze([str(in_seconds)])
    for key in ("calls", "answered", "asr", "acd", "by_end_direction", "pivot", "charged"):
        assert seconds[key] == reference[key], key
    assert [h["hour"] for h in seconds["hours"]] == [h["hour"] for h in reference["hours"]]


def test_no_zero_duration_rows_warns_that_asr_looks_better(standard_run: tuple[Path, Any],
                                                          tmp_path: Path) -> None:
    out, _ = standard_run
    assert analyze([str(out)])["warnings"] == []
    answered_only = tmp_path / "e_cdr_answered.parquet"
    pl.read_parquet(out / "e_cdr_20261124.parquet").filter(pl.col("holdtime") > 0) \
        .write_parquet(answered_only)
    report = analyze([str(answered_only)])
    assert report["asr"] == 1.0
    assert any("SERVER_BILLING_RECORD_ZERO_HOLD_TIME = 0" in w for w in report["warnings"])


def test_user_thresholds_with_a_minimum_call_count(standard_run: tuple[Path, Any]) -> None:
    out, _ = standard_run
    report = analyze([str(out)], thresholds=[parse_threshold("asr<80%@100"),
                                             parse_threshold("total:acd>30")])
    gateways = {(g["side"], g["name"]): g for g in report["gateways"]}
    tripped = {(a["name"]) for a in report["alarms"] if a["rule"] == "asr<80%@100"}
    expected = {f"{side} gateway {name}" for (side, name), g in gateways.items()
                if g["asr"] < 0.8 and g["calls"] >= 100}
    assert tripped == expected and expected
    assert any(g["asr"] < 0.8 and g["calls"] < 100 for g in gateways.values())  # left out
    assert [a["name"] for a in report["alarms"] if a["scope"] == "total"] == ["all calls"]
    strict = analyze([str(out)], min_calls=10**9)
    assert strict["alarms"] == []


def test_bad_alarm_rules_and_bad_cdrs_are_clear_errors(tmp_path: Path) -> None:
    done = _vossim("analyze", str(STANDARD.parent), "--alarm", "asr<<3")
    assert done.returncode == 2 and "expected [SCOPE:]METRIC OP VALUE" in done.stderr
    done = _vossim("analyze", str(tmp_path / "missing.csv"))
    assert done.returncode == 2 and "no such file or directory" in done.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("flowno,stoptime,holdtime,enddirection,endreason\n1,1700000000000,0,0,2\n"
                   "2,yesterday-ish,0,1,3\n")
    done = _vossim("analyze", str(bad))
    assert done.returncode == 2 and f"{bad}:3: stoptime = 'yesterday-ish'" in done.stderr
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,3\n")
    done = _vossim("analyze", str(ragged))
    assert done.returncode == 2 and "found 3 fields" in done.stderr
    for output in (done.stdout, done.stderr):
        assert "Traceback" not in output


def test_plots_and_html_page(standard_run: tuple[Path, Any], tmp_path: Path) -> None:
    out, _ = standard_run
    page = tmp_path / "report.html"
    done = _vossim("analyze", str(out), "--plots", str(tmp_path / "plots"), "--html", str(page))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["asr_heatmap.png", "concurrency.png", "end_reasons.png", "holdtime.png",
                     "hourly.png"]
    for path in (tmp_path / "plots").iterdir():
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    html = page.read_text()
    assert html.count("src='data:image/png;base64,") == 5
    assert "src='http" not in html and "<link" not in html  # self-contained
    assert "endReason x endDirection" in html and "Per gateway" in html
    # a table of contents linking every section, and the plots before the long tables
    toc = html[html.index("<nav class=toc>"):html.index("</nav>")]
    for title in ("Overview", "Plots", "endReason x endDirection", "Per gateway", "Per hour"):
        anchor = re.search(rf"<a href='#(s\d+)'>{re.escape(title)}</a>", toc)
        assert anchor and f"<h2 id='{anchor.group(1)}'>{title}</h2>" in html, title
    assert html.index("<h2 id='s2'>Plots</h2>") < html.index(">endReason x endDirection</h2>") \
        < html.index(">Per gateway</h2>")
    assert "fewer than 100 calls" in html


def test_small_samples_are_marked_in_the_heatmap_and_the_hourly_plot(
        standard_run: tuple[Path, Any]) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from simulator.analyze import analyze
    from simulator.analyze._plots import asr_heatmap, hourly

    out, _ = standard_run
    report = analyze([str(out / "cdr.jsonl")])
    counts = sorted(h["calls"] for h in report["hours"])
    small = counts[-1] + 1  # every hour is a small sample at this threshold
    figure = hourly(report, small)
    bars = [p for p in figure.axes[0].patches if p.get_height() > 0]
    hatched = [p for p in bars if p.get_hatch()]
    assert len(hatched) == sum(1 for n in counts if n < small) > 0
    labels = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert sorted(labels) == sorted(f"n={n}" for n in counts if n < small)
    plt.close(figure)
    cells = report["hour_gateway_asr"]
    small = max(c["calls"] for c in cells)  # the cells below the biggest one
    figure = asr_heatmap(report, small)
    marked = [p for p in figure.axes[0].patches if isinstance(p, Rectangle) and p.get_hatch()]
    assert len(marked) == sum(1 for c in cells if c["calls"] < small) > 0
    assert f"fewer than {small} calls" in figure.axes[0].get_title()
    plt.close(figure)
    none = hourly(report, 1)  # nothing is small below one call
    assert not [p for p in none.axes[0].patches if p.get_hatch()]
    plt.close(none)


def test_json_report_has_the_documented_keys(standard_run: tuple[Path, Any]) -> None:
    out, _ = standard_run
    report = json.loads(_vossim("analyze", "--json", str(out / "vos3000.db")).stdout)
    for key in ("asr", "acd", "ner", "calls", "answered", "by_end_direction", "by_end_reason",
                "pivot", "gateways", "customers", "prefixes", "hours", "alarms", "warnings",
                "fees", "pdd", "short_calls", "concurrency", "holdtime_histogram",
                "hour_gateway_asr", "end_reasons_by_gateway", "sources", "analysed"):
        assert key in report, key
    guide = (ROOT / "docs" / "analyze.md").read_text()  # the analyze guide, linked from README
    for key in report:
        assert f"`{key}`" in guide, f"docs/analyze.md does not document the JSON key {key!r}"


def test_aggregates_stay_the_size_of_the_keys_not_the_rows(standard_run: tuple[Path, Any]) -> None:
    out, _ = standard_run
    frame = next(iter(__import__("simulator.analyze._sources", fromlist=["find_sources"])
                      .find_sources([str(out / "e_cdr_20261124.parquet")])[0].batches()))
    once = Aggregates()
    once.add(frame)
    many = Aggregates()
    for _ in range(30):
        many.add(frame)
    assert many.rows == 30 * frame.height
    assert many.cube().height == once.cube().height < frame.height
    assert many.cube()["calls"].sum() == 30 * frame.height


def test_no_cdrs_at_all_is_a_report_of_zeros(tmp_path: Path) -> None:
    empty = tmp_path / "e_cdr_20260101.csv"
    empty.write_text(",".join(E_CDR_NAMES) + "\r\n")
    done = _vossim("analyze", str(empty), "--plots", str(tmp_path / "plots"), "--html",
                   str(tmp_path / "page.html"))
    assert done.returncode == 0, done.stderr
    assert "calls" in done.stdout and "WARNING no CDRs found" in done.stdout
    report = json.loads(_vossim("analyze", "--json", str(empty)).stdout)
    assert report["calls"] == 0 and report["gateways"] == [] and report["alarms"] == []
    assert (tmp_path / "page.html").read_text().count("<img") == 0


# -- real VOS3000 rows (third-party: read from ../shared, never copied) --------------------------
REAL = ROOT.parent / "shared" / "reference" / "real-cdrs" / "e_cdr-2023-07-16.csv"
needs_real = pytest.mark.skipif(not REAL.is_file(), reason=f"the real CDR rows are not here "
                                f"({REAL}: ../shared is absent in this clone)")
REAL_NAMES = {-7: "Caller Hangup", -69: "No Available Route",
              480: "Callee SIP 480 Temporarily Unavailable",
              484: "Callee SIP 484 Address Incomplete", 503: "Callee SIP 503 Service Unavailable"}


def _real_rows() -> tuple[list[str], list[list[str]]]:
    import csv

    with REAL.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def _check_real_report(path: Path) -> dict[str, Any]:
    done = _vossim("analyze", "--json", str(path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    header, rows = _real_rows()
    column = {name: i for i, name in enumerate(header)}
    assert report["calls"] == len(rows) == 49
    assert report["answered"] == 2 == sum(int(r[column["holdtime"]]) > 0 for r in rows)
    expected: dict[tuple[int, int], int] = {}
    for row in rows:
        key = (int(row[column["enddirection"]]), int(row[column["endreason"]]))
        expected[key] = expected.get(key, 0) + 1
    assert {(p["enddirection"], p["code"]): p["calls"] for p in report["pivot"]} == expected
    assert {p["code"]: p["name"] for p in report["pivot"]} == REAL_NAMES
    categories = {p["code"]: p["category"] for p in report["pivot"]}
    assert categories[484] == "Number Error" and categories[-7] == "Normal"
    assert report["reason_codes"] == "vos3000"
    mangled = sum("E+" in r[column["calleee164"]] for r in rows)
    assert any(f"calleee164: {mangled:,} values in a spreadsheet's scientific notation" in w
               for w in report["warnings"])
    assert sum(p["calls"] for p in report["prefixes"]) == len(rows) - mangled
    assert not any("." in p["prefix"] or "E" in p["prefix"] for p in report["prefixes"])
    # the vendor side: margin = fee − agentfee, per customer, vendor and prefix
    fee = sum(float(r[column["fee"]]) for r in rows)
    agentfee = sum(float(r[column["agentfee"]]) for r in rows)
    total = report["margins"]["total"]
    assert report["margins"]["vendor_side"] is True
    assert total["margin"] == pytest.approx(fee - agentfee, abs=1e-6)
    assert sum(v["agentfee"] for v in report["margins"]["vendors"]) == pytest.approx(agentfee)
    assert {v["vendor"] for v in report["margins"]["vendors"]} == \
        {r[column["agentaccount"]] for r in rows if r[column["agentaccount"]]}
    return report


@needs_real
def test_real_rows_with_their_header(tmp_path: Path) -> None:
    report = _check_real_report(REAL)
    assert report["sources"][0]["cdrs"] == 49
    text = _vossim("analyze", str(REAL))
    assert text.returncode == 0, text.stderr
    assert "-7 Caller Hangup" in text.stdout and "-69 No Available Route" in text.stdout
    assert "margin (fee - agentfee) per vendor" in text.stdout
    assert "WARNING" in text.stdout and "calleee164" in text.stdout
    page = tmp_path / "real.html"
    done = _vossim("analyze", str(REAL), "--html", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "Margin (fee - agentfee) per vendor" in html and "-7 Caller Hangup" in html


@needs_real
def test_real_rows_without_a_header(tmp_path: Path) -> None:
    import csv

    _, rows = _real_rows()
    path = tmp_path / "cdr_20230716_000000.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)
    _check_real_report(path)


@needs_real
def test_real_rows_tab_separated_with_a_header_and_comments(tmp_path: Path) -> None:
    header, rows = _real_rows()
    path = tmp_path / "export.tsv"  # as `mysql -B -e 'SELECT * FROM e_cdr_20230716'` writes it
    path.write_text("# exported with mysql -B\n" + "\n".join(
        "\t".join(r) for r in [header, *rows[:20], ["# half way"], *rows[20:]]) + "\n")
    _check_real_report(path)


@needs_real
def test_real_rows_as_getcdr_json(tmp_path: Path) -> None:
    header, rows = _real_rows()
    camel = {"flowno": "flowNo", "callere164": "callerE164", "calleee164": "calleeE164",
             "calleegatewayid": "calleeGateway", "callergatewayid": "callerGateway",
             "customeraccount": "customerAccount", "agentaccount": "agentAccount",
             "starttime": "start", "stoptime": "stop", "holdtime": "holdTime",
             "feetime": "feeTime", "fee": "fee", "agentfee": "agentFee",
             "enddirection": "endDirection", "endreason": "endReason", "callerpdd": "callerPdd"}
    objects = [{c: dict(zip(header, r, strict=True))[n] for n, c in camel.items()}
               for r in rows]
    for i, obj in enumerate(objects):  # GetCdr's numbers are JSON numbers
        for key in ("flowNo", "start", "stop", "holdTime", "feeTime", "endDirection",
                    "endReason", "callerPdd"):
            obj[key] = int(obj[key])
        obj["fee"], obj["agentFee"] = float(obj["fee"]), float(obj["agentFee"])
        objects[i] = obj
    array = tmp_path / "getcdr.json"
    array.write_text(json.dumps({"retCode": 0, "infoCdrs": objects}, indent=1))
    lines = tmp_path / "getcdr.jsonl"
    lines.write_text("".join(json.dumps(o) + "\n" for o in objects))
    for path in (array, lines):
        _check_real_report(path)


def test_reason_numbering_follows_the_data_and_a_flag_forces_it(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("flowno,stoptime,holdtime,enddirection,endreason\n"
                     "1,1700000000000,30,0,11\n2,1700000001000,0,2,7\n3,1700000002000,0,1,486\n")
    observed = tmp_path / "observed.csv"
    observed.write_text("flowno,stoptime,holdtime,enddirection,endreason\n"
                        "1,1700000000000,30,0,-7\n2,1700000001000,0,2,-9\n"
                        "3,1700000002000,40,1,-8\n4,1700000003000,0,1,16\n")

    def names(path: Path, style: str = "auto") -> tuple[str, dict[int, str]]:
        report = analyze([str(path)], reason_codes=style)
        return report["reason_codes"], {e["code"]: e["name"] for e in report["by_end_reason"]}

    assert names(seeds) == ("seeds", {7: "Rate Not Found", 11: "Caller Hangup",
                                      486: "Callee SIP 486 Busy Here"})
    assert names(observed) == ("vos3000", {-9: "Illegal Call", -8: "Callee Hangup",
                                           -7: "Caller Hangup",
                                           16: "Callee Q.850 16 Normal call clearing"})
    assert names(observed, "seeds")[1][16] == "Authentication Failed"
    assert names(seeds, "vos3000")[1][7] == "Callee Q.850 7 Unspecified"
    assert names(seeds, "table")[0] == "seeds"
    assert names(seeds, "sip")[1][486] == "SIP 486 Busy Here"
    done = _vossim("analyze", str(observed), "--reason-codes", "negative")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_margin_per_customer_vendor_and_prefix(tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text(
        "flowno,stoptime,holdtime,enddirection,endreason,customeraccount,agentaccount,"
        "calleee164,fee,agentfee\n"
        "1,1700000000000,60,0,-7,ACME,CARRIER-A,4420000001,0.30,0.10\n"
        "2,1700000001000,60,0,-7,ACME,CARRIER-B,4930000002,0.50,0.45\n"
        "3,1700000002000,0,1,503,GLOBEX,CARRIER-A,4420000003,0,0\n"
        "4,1700000003000,30,0,-7,GLOBEX,CARRIER-A,4420000004,0.20,0.25\n")
    margins = analyze([str(path)])["margins"]
    assert margins["total"]["margin"] == pytest.approx(1.0 - 0.8)
    assert {c["customer"]: c["margin"] for c in margins["customers"]} == \
        pytest.approx({"ACME": 0.25, "GLOBEX": -0.05})
    assert {v["vendor"]: (v["calls"], v["agentfee"]) for v in margins["vendors"]} == \
        {"CARRIER-A": (3, pytest.approx(0.35)), "CARRIER-B": (1, pytest.approx(0.45))}
    assert {p["prefix"]: p["margin"] for p in margins["prefixes"]} == \
        pytest.approx({"4420": 0.15, "4930": 0.05})


def test_the_vos3000_profiles_export_reads_back_with_its_names(tmp_path: Path) -> None:
    """vossim's own vos-csv (52 columns, no header) under the vos3000 profile: observed codes
    and placeholders are named as the JSON lines of the same run name them."""
    files = ["12-gateway-unavailable", "20-caller-cancel", "11-route-not-found",
             "01-unauthorized-ip", "22-callee-bye"]
    for name in files:
        scenario = apply_overrides(
            load_scenario(ROOT / "scenarios" / "decision-table" / f"{name}.yaml"),
            ["cdr_profile=vos3000"])
        run_scenario(scenario, tmp_path / name, ("vos-csv", "jsonl"))
    exports = sorted(str(p) for p in tmp_path.glob("*/cdr_*_*.csv"))
    assert len(exports) == len(files)
    report = analyze(exports)
    from_jsonl = analyze([str(tmp_path / name / "cdr.jsonl") for name in files])
    assert report["reason_codes"] == "vos3000"
    names = {e["code"]: e["name"] for e in report["by_end_reason"]}
    assert names == {e["code"]: e["name"] for e in from_jsonl["by_end_reason"]}
    assert {-112, -7, -69, -9, -8} <= set(names)
    assert names[-112] == "Gateway Unavailable" and names[-9] == "Illegal Call"
    assert report["calls"] == from_jsonl["calls"]


def test_a_directory_is_read_by_the_files_the_format_registry_names(tmp_path: Path) -> None:
    from cdr_writer import FORMATS
    from simulator.analyze._sources import find_sources

    assert FORMATS["vos-csv"].files == ("cdr_*_*.csv",)
    (tmp_path / "cdr_20260716_000000.csv").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (source,) = find_sources([str(tmp_path)])
    assert source.kind == "e_cdr" and source.label.endswith("cdr_20260716_000000.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Exception, match=r"cdr\.jsonl, .*cdr_\*_\*\.csv, .* or \*\.csv"):
        find_sources([str(empty)])
