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


# -- a CLI that helps itself ------------------------------------------------------------------
def test_version_names_the_core() -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("vossim 0.") and "pure-Python core" in done.stdout


def test_every_subcommand_has_a_description_and_examples() -> None:
    from simulator._cli_help import _subparsers
    from simulator.cli import build_parser

    commands = _subparsers(build_parser()).choices
    assert {"run", "validate", "check", "explain", "analyze", "live"} <= set(commands)
    for name, parser in commands.items():
        text = parser.format_help()
        assert parser.description and len(parser.description) > 40, name
        assert "examples:\n  vossim " + name in text, name
    top = cli("--help").stdout
    assert "examples:" in top and "vossim COMMAND --help" in top


def test_an_unknown_flag_prints_the_subcommands_usage_and_the_closest_flag() -> None:
    done = cli("run", str(ROOT / "scenarios" / "demo.yaml"), "--fromat", "jsonl")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: vossim run ")
    assert "unrecognized arguments: --fromat jsonl (did you mean --format?)" in done.stderr
    done = cli("analyze", "out", "--by", "gateway", "--plts", "p", "--hmtl", "x.html")
    assert done.stderr.startswith("usage: vossim analyze ")
    assert "did you mean --plots for --plts, --html for --hmtl?" in done.stderr
    done = cli("explian", "x.yaml")
    assert "invalid choice: 'explian'" in done.stderr and "(did you mean 'explain'?)" in \
        done.stderr
    missing = cli("explain", "--flowno")  # argparse's own errors name the subcommand too
    assert missing.stderr.startswith("usage: vossim explain ")


def test_each_subcommand_offers_only_the_formats_it_accepts(tmp_path: Path) -> None:
    from cdr_writer import formats_for

    assert "mariadb" in formats_for("run") and "mariadb" not in formats_for("live")
    live_help = cli("live", "--help").stdout
    assert "jsonl" in live_help and "mariadb" not in live_help
    assert "mariadb" in cli("run", "--help").stdout
    done = cli("live", str(ROOT / "scenarios" / "demo.yaml"), "--format", "jsonl,mariadb",
               "-o", str(tmp_path / "x"))
    assert done.returncode == 2 and done.stderr.startswith("usage: vossim live ")
    assert "vossim live cannot write format 'mariadb' (only vossim run can)" in done.stderr
    assert not (tmp_path / "x").exists()
    typo = cli("run", str(ROOT / "scenarios" / "demo.yaml"), "--format", "jsnol")
    assert typo.stderr.startswith("usage: vossim run ")
    assert "unknown format 'jsnol' (did you mean 'jsonl'?)" in typo.stderr


def test_explain_without_call_lists_the_calls() -> None:
    done = cli("explain", str(ROOT / "scenarios" / "disputes" / "shared-balance.yaml"))
    assert done.returncode == 0, done.stderr
    assert "2 calls in" in done.stdout and "--call ID" in done.stdout
    for text in ("disputed", "concurrent", "4420700000002", "8801911000011",
                 "endReason 24 Prepaid"):
        assert text in done.stdout, text
    import json

    listed = json.loads(cli("explain", str(ROOT / "scenarios" / "decision-table" /
                                           "18-failover.yaml"), "--json").stdout)
    assert [c["call"] for c in listed["calls"]][:1] == ["walks"]
    assert all({"caller", "callee", "outcome"} <= set(c) for c in listed["calls"])


def test_analyze_errors_name_every_accepted_shape(tmp_path: Path) -> None:
    from simulator.analyze._shapes import ACCEPTED_SHAPES

    bad = tmp_path / "notes.txt"
    bad.write_text("hello\nworld\n")
    done = cli("analyze", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line
    for shape in ACCEPTED_SHAPES:
        assert shape in done.stderr, shape


def test_calls_shortfall_comes_before_the_file_list_with_the_rate_that_reaches_it(
        tmp_path: Path) -> None:
    from simulator.cli import calls_shortfall

    done = cli("run", str(ROOT / "scenarios" / "load" / "standard.yaml"), "-o",
               str(tmp_path / "out"), "--calls", "30000", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    note = next(i for i, line in enumerate(lines) if "fewer than --calls 30,000" in line)
    assert note < min(i for i, line in enumerate(lines) if line.startswith("wrote "))
    rate = float(lines[note].split("--rate ")[1].split()[0])
    attempts = int(lines[note].split("made ")[1].split()[0].replace(",", ""))
    assert attempts * rate >= 30000 and attempts * rate < 30000 * 1.05
    assert "has none" in calls_shortfall(3, 10, 1.0, has_traffic=False)
    assert "--rate 2.55 " in calls_shortfall(400, 1000, 1.0, has_traffic=True)
