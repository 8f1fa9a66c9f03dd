"""The command line as a user meets it: run, check, the summary, the demo."""

from __future__ import annotations

from pathlib import Path

from scenario_support import ROOT, cli


def test_run_prints_the_summary_and_writes_default_formats(tmp_path: Path) -> None:
    done = cli("run", "scenarios/demo.yaml", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for words in ("calls", "12", "answered", "ASR", "ACD", "endDirection 2 (server)",
                  "endReason 24 Prepaid Duration Exceeded", "money charged",
                  "suppressed records", "revenue gap"):
        assert words in out, words
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdr", "e_cdr_20261120.csv"]
    assert sorted(p.name for p in (tmp_path / "cdr").iterdir()) == ["2026112009.txt",
                                                                     "2026112010.txt"]


def test_set_overrides_a_switch_key(tmp_path: Path) -> None:
    done = cli("run", "scenarios/decision-table/24-prepaid-exhausted.yaml", "-o", str(tmp_path),
               "--set", "SERVER_BILLING_RECORD_SERVER_HANG_UP=0", "--set",
               "SERVER_BILLING_FEE_PRECISTION=3")
    assert done.returncode == 0, done.stderr
    assert "1.000" in done.stdout  # the revenue gap, at three decimals
    assert list((tmp_path).glob("cdr/*.txt")) == []  # the only call was a server hangup


def test_check_passes_on_the_library() -> None:
    done = cli("check", "scenarios/")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok ") >= 35


def test_check_reports_each_mismatching_field(tmp_path: Path) -> None:
    text = (ROOT / "scenarios/decision-table/24-prepaid-exhausted.yaml").read_text()
    bad = tmp_path / "wrong.yaml"
    bad.write_text(text.replace("holdTime: 240, fee: 1.0", "holdTime: 300, fee: 1.25"))
    done = cli("check", str(bad))
    assert done.returncode == 1
    assert "call 'cut': holdTime: expected 300, found 240" in done.stdout
    assert "call 'cut': fee: expected 1.25, found 1" in done.stdout


def test_demo_target_scenario_runs_on_the_embedded_database(tmp_path: Path) -> None:
    done = cli("run", "scenarios/demo.yaml", "-o", str(tmp_path), "--format",
               "pipe,e_cdr,sqlite,jsonl", "--trace", str(tmp_path / "trace.jsonl"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "vos3000.db").stat().st_size > 0
    assert len((tmp_path / "trace.jsonl").read_text().splitlines()) > 100
