"""Hardening, round two (issue 24): what a second fuzzer found, each as a regression test.

Scenario guards (digits, addresses, surrogates, wall-clock ``at``), ``--set`` values through the
file's loader, text from files never read as markup or sent as control sequences, bounded and
orphan-proof ``--workers``, nothing left behind by a refused run, and one located line (never a
traceback) for every broken CDR file ``analyze`` or ``explain --cdr`` is given.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_output_hardening import _alive, children, small_disk, start, wait_for
from test_scenario_hardening import BASE

from scenario_support import ROOT, VOSSIM, cli
from simulator import ScenarioError, parse_scenario


def refused(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "bad.yaml")
    first = str(caught.value.problems[0])
    assert re.match(r"bad\.yaml:\d+:\d+: ", first), first
    return str(caught.value)


# -- 1, 2, 5, 6: the scenario's own guards -----------------------------------------------------
@pytest.mark.parametrize(("old", "new", "words"), [
    ('caller: "8801711000001"', 'caller: "8801711000001\\n"', "calls[0].caller: expected a "
     "string of digits"),
    ('callee: "8801911000002"', 'callee: "8801911000002\\n"', "calls[0].callee"),
    ('prefixes: ["880"]', 'prefixes: ["880\\n"]', "routing_gateways.VENDOR-A.prefixes[0]"),
    ('prefix: "880"', 'prefix: "880\\n"', "rate_tables.retail[0].prefix"),
    ("calls:\n", 'blacklist: ["1\\n"]\ncalls:\n', "blacklist[0]"),
], ids=["caller", "callee", "gateway-prefix", "rate-prefix", "blacklist"])
def test_digits_with_a_trailing_newline_are_refused(old: str, new: str, words: str) -> None:
    assert words in refused(BASE.replace(old, new, 1))


@pytest.mark.parametrize(("old", "new", "where"), [
    ('ips: ["203.0.113.10"]', 'ips: ["fe80::1%eth|0\\nX"]', "mapping_gateways.ACME-GW.ips[0]"),
    ('ip: "198.51.100.20"', 'ip: "fe80::1%eth0|x"', "routing_gateways.VENDOR-A.ip"),
    ("    from: ACME-GW\n", '    from: ACME-GW\n    source_ip: "fe80::2%a b"\n',
     "calls[0].source_ip"),
], ids=["ips", "ip", "source_ip"])
def test_an_ipv6_scope_id_cannot_carry_a_separator(old: str, new: str, where: str) -> None:
    message = refused(BASE.replace(old, new, 1))
    assert where in message and "scope id" in message


def test_a_plain_ipv6_scope_id_is_taken() -> None:
    scenario = parse_scenario(BASE.replace('ips: ["203.0.113.10"]', 'ips: ["fe80::1%eth0"]'))
    assert scenario.mapping_gateways["ACME-GW"].ips == ["fe80::1%eth0"]


@pytest.mark.parametrize(("old", "new"), [
    ("{name: Acme,", '{name: "A\\ud800",'),
    ("  VENDOR-A:", '  "V\\udfff":'),
    ("name: hardening", 'name: "\\ud83d\\ude00"'),  # a pair of escapes is still two surrogates
], ids=["account-name", "gateway-key", "scenario-name"])
def test_a_lone_surrogate_is_refused_where_it_is(old: str, new: str) -> None:
    assert "expected text that UTF-8 can encode, found the lone surrogate" in \
        refused(BASE.replace(old, new, 1))


@pytest.mark.parametrize("at", ["2029-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"])
def test_a_wall_clock_at_keeps_the_366_day_bound(tmp_path: Path, at: str) -> None:
    text = BASE.replace("    at: 0", f'    at: "{at}"')
    assert "calls[0].at: expected a time at most 366 days after the scenario's start" in \
        refused(text)
    path = tmp_path / "far.yaml"
    path.write_text(text)
    for command in (["validate", str(path)], ["run", str(path), "-o", str(tmp_path / "o")]):
        done = cli(*command)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith(f"{path}:17:9: calls[0].at: "), done.stderr
    assert not (tmp_path / "o").exists()


def test_a_wall_clock_at_inside_the_bound_runs() -> None:
    scenario = parse_scenario(BASE.replace("    at: 0", '    at: "2027-11-20T10:00:00Z"'))
    assert scenario.calls[0].at == 365 * 86_400


# -- 3: --set and --what-if values go through the file's loader --------------------------------
@pytest.mark.parametrize(("value", "words"), [
    ("seed=!!float x", "--set:1:1: seed: expected a number, found 'x'"),
    ("seed=" + "9" * 5000, "--set:1:1: seed: expected an integer (no key takes more than 20 "
     "digits), found one of 5,000 characters"),
    ("start=2026-02-30", "--set:1:1: start: expected a real date and time"),
    ("seed=&a [*a]", "recursive alias"),
    ("calls[one].caller=1\\n", "calls[0].caller: expected a string of digits"),
    ('name="\\ud800"', "lone surrogate U+D800"),
    ("calls[one].at=2029-01-01T00:00:00Z", "calls[0].at: expected a time at most 366 days"),
], ids=["float-tag", "5000-digits", "impossible-date", "recursive-alias", "digits-newline",
        "surrogate", "wall-clock-at"])
def test_set_values_get_the_file_s_guards(tmp_path: Path, value: str, words: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(BASE)
    value = value.replace("1\\n", '"1\\n"')
    out = tmp_path / "out"
    done = cli("run", str(path), "-o", str(out), "--set", value)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert words in done.stderr, done.stderr
    assert not out.exists()
    what_if = cli("explain", str(path), "--call", "one", "--what-if", value)
    assert what_if.returncode == 2 and "Traceback" not in what_if.stderr, what_if.stderr
    assert words.replace("--set", "--what-if") in what_if.stderr, what_if.stderr


# -- 4, 15: text from files is data on the terminal --------------------------------------------
MARKUP = (BASE.replace("name: hardening", 'name: "[/v] \\e]0;owned\\a"')
          .replace("seed: 1\n", 'description: "red \\e[31mtext"\nseed: 1\n')
          .replace("ACME-GW", '"[/v]"').replace("VENDOR-A", '"[red]GW"'))


def test_markup_and_escapes_in_names_print_as_text(tmp_path: Path) -> None:
    path = tmp_path / "markup.yaml"
    path.write_text(MARKUP)
    out = tmp_path / "out"
    run = cli("run", str(path), "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout + run.stderr and "\x07" not in run.stdout
    assert "[/v] \\x1b]0;owned\\x07" in run.stdout  # the title, escaped
    assert "in [/v]" in run.stdout and "out [red]GW" in run.stdout
    for source in [*out.glob("cdr/*.txt"), *out.glob("e_cdr_*.csv")]:
        analyzed = cli("analyze", str(source), "--by", "gateway")
        assert analyzed.returncode == 0, analyzed.stderr
        assert "out [red]GW" in analyzed.stdout and "in [/v]" in analyzed.stdout
    explained = cli("explain", str(path), "--call", "one")
    assert explained.returncode == 0, explained.stderr
    assert "\x1b" not in explained.stdout and "red \\x1b[31mtext" in explained.stdout
    assert "[red]GW" in explained.stdout


def test_the_console_escapes_control_characters_but_keeps_its_own_styles() -> None:
    import io

    from rich.text import Text

    from simulator._console import SafeConsole, markup_safe, shown

    assert shown("a\x1b[2Jb\nc\u202e") == "a\\x1b[2Jb\\x0ac\\u202e"
    assert markup_safe("[red]x") == "\\[red]x"
    buffer = io.StringIO()
    console = SafeConsole(file=buffer, force_terminal=True, color_system="standard")
    console.print(Text("x\x1b]0;title\x9cy", style="red"))
    written = buffer.getvalue()
    assert "\x1b]0;" not in written and "x\\x1b]0;title\\x9cy" in written
    assert "\x1b[31m" in written  # the style it was asked for


# -- 7, 8, 16: --workers ------------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["0", "3", "9223372036854775808"])
def test_workers_are_bounded_by_the_accounts_and_named(tmp_path: Path, workers: str) -> None:
    out = tmp_path / "out"
    done = cli("run", "scenarios/demo.yaml", "-o", str(out), "--workers", workers)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("vossim run: expected --workers from 1 to 2 (a run is split "
                                  "by account: 2 accounts here, at most 64 processes)"), \
        done.stderr
    assert not out.exists()


@pytest.mark.parametrize(("option", "words"), [
    (["--scale", "0"], "expected --scale > 0"), (["--rate", "-1"], "expected --rate > 0"),
    (["--realtime", "--speed", "0"], "expected --speed > 0"),
    (["--warmup", "-1"], "expected --warmup of 0 s or more"),
])
def test_flag_errors_name_the_flag(tmp_path: Path, option: list[str], words: str) -> None:
    done = cli("run", "scenarios/demo.yaml", "-o", str(tmp_path / "out"), *option)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc (Linux)")
def test_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    # At --scale 1000 a worker's shard runs for minutes: an orphan would still be running.
    out = tmp_path / "out"
    run = start("run", "scenarios/load/standard.yaml", "--scale", "1000", "--workers", "2",
                "--no-progress", "-o", str(out))
    workers: list[int] = []
    try:
        spools = lambda: list(out.rglob("shard-*.spool"))  # noqa: E731
        # every shard spooling: the worker has started and is into its shard
        wait_for(lambda: len(spools()) == 2 and all(p.stat().st_size for p in spools()),
                 timeout=120)
        workers = children(run.pid)
        assert workers
        run.kill()
        run.communicate(timeout=20)
        wait_for(lambda: not [pid for pid in workers if _alive(pid)], timeout=5)
        sizes = [p.stat().st_size for p in spools()]
        time.sleep(1)
        assert [p.stat().st_size for p in spools()] == sizes  # nothing spools on
    finally:  # a failing run must not stay behind, holding a core and memory
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- 9, 10, 11, 12: what a stopped or refused run leaves -----------------------------------------
ALL_FILES = "pipe,e_cdr,sqlite,jsonl,parquet"


def counts_in(out: Path) -> dict[str, int]:
    found = {"pipe": sum(len(p.read_text().splitlines()) for p in out.glob("cdr/*.txt")),
             "e_cdr": sum(len(p.read_text().splitlines()) - 1 for p in out.glob("e_cdr_*.csv")),
             "jsonl": len((out / "cdr.jsonl").read_text().splitlines())}
    with contextlib.closing(sqlite3.connect(out / "vos3000.db")) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = "
                                               "'table'")]
        found["sqlite"] = sum(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                              for t in tables)
    found["parquet"] = sum(pq.read_table(p).num_rows for p in out.glob("*.parquet"))
    return found


def test_realtime_on_a_full_disk_every_format_holds_what_the_message_counts(
        tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, 200) as limits:
        out = disk / "out"
        done = subprocess.run([*VOSSIM, "run", "scenarios/load/standard.yaml", "-o", str(out),
                               "--format", ALL_FILES, "--realtime", "--speed", "100000",
                               "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, **limits)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        written = re.search(r"the ([\d,]+) CDRs written before it are on disk", done.stderr)
        assert written, done.stderr
        count = int(written.group(1).replace(",", ""))
        found = counts_in(out)
        parquet = found.pop("parquet")
        assert set(found.values()) == {count}, (found, done.stderr)
        # the Parquet file is readable with the same records, or said to be lost, with its count
        assert parquet == count or (parquet == 0 and re.search(
            rf"e_cdr_\d{{8}}\.parquet could not be closed \(No space left on device\) and was "
            rf"removed, with its {count:,} CDRs", done.stderr)), done.stderr
        assert not list(out.glob(".*partial"))


def test_realtime_parquet_on_a_full_disk_leaves_no_unreadable_file(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, 200) as limits:
        out = disk / "out"
        done = subprocess.run([*VOSSIM, "run", "scenarios/load/standard.yaml", "-o", str(out),
                               "--format", "parquet", "--realtime", "--speed", "100000",
                               "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, **limits)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "every line complete" not in done.stderr, done.stderr
        lost = re.search(r"e_cdr_\d{8}\.parquet could not be closed \(No space left on device\)"
                         r" and was removed, with its ([\d,]+) CDRs", done.stderr)
        assert lost and int(lost.group(1).replace(",", "")) > 0, done.stderr
        for path in out.rglob("*") if out.exists() else []:
            assert path.suffix == ".parquet" and pq.read_table(path).num_rows, path


def test_a_refused_realtime_run_leaves_nothing_and_blocks_no_next_run(tmp_path: Path) -> None:
    out = tmp_path / "feed"
    out.mkdir()
    refused_run = cli("run", "scenarios/demo.yaml", "-o", str(out), "--realtime", "--speed",
                      "100000", "--format", ALL_FILES, "--trace", str(tmp_path / "no" / "t.jsonl"))
    assert refused_run.returncode == 2, refused_run.stderr
    assert refused_run.stderr.startswith(f"vossim run: cannot write {tmp_path}/no/t.jsonl"), \
        refused_run.stderr
    assert list(out.iterdir()) == []  # the directory was there before: it stays, empty
    again = cli("run", "scenarios/demo.yaml", "-o", str(out), "--realtime", "--speed", "100000",
                "--format", ALL_FILES, "--no-progress")
    assert again.returncode == 0, again.stderr
    assert len(set(counts_in(out).values())) == 1


@pytest.mark.parametrize("refusal", [
    ["--trace", "{tmp}/no/t.jsonl"],
    ["--realtime", "--speed", "100000", "--trace", "{tmp}/no/t.jsonl"],
    ["--format", "mariadb", "--db", "mysql://u:p@127.0.0.1:1/vos"],
    ["--format", "parquet", "--realtime", "--speed", "100000", "--trace", "{tmp}/no/t"],
], ids=["batch-trace", "realtime-trace", "mariadb-unreachable", "parquet-realtime-trace"])
def test_a_refused_run_leaves_no_output_directory(tmp_path: Path, refusal: list[str]) -> None:
    out = tmp_path / "new" / "out"
    done = cli("run", "scenarios/demo.yaml", "-o", str(out), "--no-progress",
               *(arg.format(tmp=tmp_path) for arg in refusal))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "new").exists()  # not the directory, nor the parent it made


# -- 13: broken CDR files into analyze and explain --cdr: one located line, never a traceback ---
@pytest.fixture(scope="module")
def cdrs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vossim output in every file format: one answered call, one refused."""
    from simulator import run_scenario

    out = tmp_path_factory.mktemp("cdrs")
    text = BASE + ("  - {id: two, at: 5, from: ACME-GW, caller: '8801711000001', "
                   "callee: '4471100000', caller_does: {hangup_after: 3}}\n")
    run_scenario(parse_scenario(text), out / "out", tuple(ALL_FILES.split(",")))
    return out / "out"


def with_field(cdrs: Path, tmp_path: Path, index: int, value: str) -> tuple[Path, int]:
    """The pipe file with field ``index`` of its answered line set to ``value``; its line."""
    (source,) = cdrs.glob("cdr/*.txt")
    lines = source.read_text().splitlines()
    answered = next(i for i, line in enumerate(lines) if line.split("|")[4] != "0")
    fields = lines[answered].split("|")
    fields[index] = value
    lines[answered] = "|".join(fields)
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, answered + 1


def refused_cli(*args: str) -> str:
    done = cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr


@pytest.mark.parametrize(("index", "value", "name"), [
    (2, "x", "starttime"), (2, "true", "starttime"), (2, "nan", "starttime"),
    (2, "", "starttime"), (3, str(10 ** 18), "stoptime"), (3, str(10 ** 30), "stoptime"),
    (2, "-5", "starttime"),
], ids=["start-x", "start-true", "start-nan", "start-empty", "stop-1e18", "stop-1e30",
        "start-negative"])
def test_a_bad_time_is_one_line_naming_file_and_line(cdrs: Path, tmp_path: Path, index: int,
                                                     value: str, name: str) -> None:
    path, line = with_field(cdrs, tmp_path, index, value)
    assert refused_cli("analyze", str(path)).startswith(
        f"vossim analyze: {path}:{line}: {name} = {value!r} is not a number or a date-time")
    flowno = path.read_text().splitlines()[line - 1].rsplit("|", 1)[1]
    decoded = refused_cli("explain", "--cdr", str(path), "--flowno", flowno)
    assert decoded.startswith(f"vossim explain: {path} (flowNo {flowno}): field "), decoded


def test_an_empty_json_object_is_skipped_and_counted(cdrs: Path, tmp_path: Path) -> None:
    lines = (cdrs / "cdr.jsonl").read_text().splitlines()
    path = tmp_path / "holes.jsonl"
    path.write_text("\n".join([lines[0], "{}", lines[1], "{}"]) + "\n")
    done = cli("analyze", str(path))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert f"WARNING {path}: skipped 2 rows without stoptime" in done.stdout
    assert f"read {path} (jsonl): 2 CDRs" in done.stdout


def test_two_spellings_of_a_column_take_the_first(cdrs: Path, tmp_path: Path) -> None:
    import json

    record = json.loads((cdrs / "cdr.jsonl").read_text().splitlines()[0])
    record["StartTime"] = "x"
    path = tmp_path / "twice.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert cli("analyze", str(path)).returncode == 0


def test_a_damaged_sqlite_page_names_the_file(cdrs: Path, tmp_path: Path) -> None:
    data = bytearray((cdrs / "vos3000.db").read_bytes())
    data[4096 + 8:len(data)] = b"\x41" * (len(data) - 4096 - 8)  # every page after the first
    path = tmp_path / "damaged.db"
    path.write_bytes(bytes(data))
    assert refused_cli("analyze", str(path)).startswith(
        f"vossim analyze: {path}: not a readable SQLite database")


def test_text_that_is_not_utf8_in_sqlite_is_read(cdrs: Path, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "latin.db"
    shutil.copy(cdrs / "vos3000.db", path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        (table,) = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchone()
        db.execute(f"UPDATE {table} SET callergatewayid = CAST(X'41C3FF42' AS TEXT)")
        db.commit()
    done = cli("analyze", str(path), "--by", "gateway")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "in A\ufffd" in done.stdout


@pytest.mark.parametrize("damage", ["middle", "tail"])
def test_a_damaged_parquet_file_is_named(cdrs: Path, tmp_path: Path, damage: str) -> None:
    (source,) = cdrs.glob("*.parquet")
    data = source.read_bytes()
    path = tmp_path / "damaged.parquet"
    path.write_bytes(data[:4] + b"\xff" * (len(data) // 2) + data[4 + len(data) // 2:]
                     if damage == "middle" else data[:len(data) // 2])
    assert refused_cli("analyze", str(path)).startswith(f"vossim analyze: {path}: ")


@pytest.mark.parametrize(("option", "words"), [
    (["--prefix-digits", str(10 ** 30)], "expected --prefix-digits from 1 to 32, found "),
    (["--prefix-digits", "0"], "expected --prefix-digits from 1 to 32, found 0"),
    (["--min-calls", "-1"], "expected --min-calls of 0 or more, found -1"),
])
def test_analyze_options_are_bounded_and_named(cdrs: Path, option: list[str],
                                               words: str) -> None:
    assert words in refused_cli("analyze", str(cdrs), *option)


def test_explain_cdr_of_a_damaged_parquet_file_names_it(cdrs: Path, tmp_path: Path) -> None:
    (source,) = cdrs.glob("*.parquet")
    path = tmp_path / "damaged.parquet"
    path.write_bytes(source.read_bytes()[:-9])  # the footer's end is gone
    assert refused_cli("explain", "--cdr", str(path), "--flowno", "1").startswith(
        f"vossim explain: {path}: ")


def test_a_line_that_is_not_utf8_is_one_error_with_nothing_else_printed(cdrs: Path,
                                                                          tmp_path: Path) -> None:
    (source,) = cdrs.glob("cdr/*.txt")
    lines = source.read_bytes().split(b"\n")
    lines[1] = lines[1][:20] + b"\xbf\xc3\x03" + lines[1][30:]  # torn too: fields are lost
    path = tmp_path / "bytes.txt"
    path.write_bytes(b"\n".join(lines))
    message = refused_cli("analyze", str(path))
    assert message.startswith(f"vossim analyze: {path}: ") and "Exception" not in message


def test_an_end_reason_name_from_a_file_is_not_markup(cdrs: Path, tmp_path: Path) -> None:
    import json

    records = [json.loads(line) for line in (cdrs / "cdr.jsonl").read_text().splitlines()]
    for record in records:
        record["endReasonName"] = "[/v] [red]Named"
    path = tmp_path / "named.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = cli("analyze", str(path))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "[/v] [red]Named" in done.stdout


def test_a_udp_feed_that_cannot_be_found_names_the_flag(tmp_path: Path) -> None:
    out = tmp_path / "out"
    message = refused_cli("run", "scenarios/demo.yaml", "-o", str(out), "--udp",
                          "nosuch.invalid:5000")
    assert message.startswith("vossim run: --udp nosuch.invalid:5000: cannot find that address")
    assert not out.exists()


def test_a_realtime_record_that_one_format_cannot_take_is_taken_back_by_the_others(
        tmp_path: Path) -> None:
    import errno

    from test_sink_output import START, record

    from cdr_writer import Output

    output = Output(tmp_path, ("sqlite", "jsonl", "pipe", "e_cdr", "parquet"), 2, direct=True)
    assert [type(s).__name__ for s, _ in output._feed][-1] == "SqliteSink"  # databases last
    sqlite = next(s for s in output.sinks if type(s).__name__ == "SqliteSink")
    write = sqlite.write

    def full_on_the_second(cdr: object) -> None:
        if output.records == 1:
            raise OSError(errno.ENOSPC, "database or disk is full", str(sqlite.path))
        write(cdr)
    sqlite.write = full_on_the_second  # type: ignore[method-assign]
    output.write(record(1, START + 1000))
    with pytest.raises(OSError, match="disk is full"):
        output.write(record(2, START + 2000))
    assert output.records == 1
    files, lost = output.close_feed()
    assert files
    assert not lost
    counts = counts_in(tmp_path)
    assert counts == dict.fromkeys(counts, 1), counts


def test_names_with_dollars_are_plotted_as_names(cdrs: Path, tmp_path: Path) -> None:
    import json

    records = [json.loads(line) for line in (cdrs / "cdr.jsonl").read_text().splitlines()]
    for record in records:
        record.update(callergatewayid="$\\frac{", calleegatewayid="$a^^b$")
    path = tmp_path / "dollars.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = cli("analyze", str(path), "--plots", str(tmp_path / "plots"))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert len(list((tmp_path / "plots").glob("*.png"))) == 5


# -- a FIFO or a device as an input file: refused by name at once, never opened -----------------
INPUTS = {"scenario": "expected a scenario file (YAML text), found ",
          "cdr": "expected a CDR file or a directory of them, found "}


@pytest.mark.parametrize(("args", "kind"), [
    (["run", "{special}"], "scenario"),
    (["validate", "{special}"], "scenario"),
    (["check", "{special}"], "scenario"),
    (["explain", "{special}"], "scenario"),
    (["live", "{special}", "--port", "0", "--no-agents"], "scenario"),
    (["audit", "{cdr}", "--config", "{special}"], "scenario"),
    (["reproduce", "{cdr}", "--flowno", "1", "--config", "{special}"], "scenario"),
    (["analyze", "{special}"], "cdr"),
    (["explain", "--cdr", "{special}"], "cdr"),
    (["explain", "--cdr", "{special}", "--flowno", "1"], "cdr"),
    (["reproduce", "{special}"], "cdr"),
    (["audit", "{special}", "--config", "{scenario}"], "cdr"),
], ids=lambda v: "-".join(v) if isinstance(v, list) else v)
def test_a_fifo_without_a_writer_is_refused_at_once(cdrs: Path, tmp_path: Path,
                                                    args: list[str], kind: str) -> None:
    fifo = tmp_path / "input.yaml"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it to read would wait for ever
    scenario = tmp_path / "operator.yaml"
    scenario.write_text(BASE)
    (cdr,) = cdrs.glob("e_cdr_*.csv")
    values = {"special": str(fifo), "cdr": str(cdr), "scenario": str(scenario)}
    started = time.monotonic()
    done = subprocess.run([*VOSSIM, *(a.format(**values) for a in args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert time.monotonic() - started < 25
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert f"{fifo}:" in done.stderr and INPUTS[kind] + "a named pipe (FIFO)" in done.stderr


def test_a_fifo_among_a_directory_s_scenarios_is_refused_and_the_others_read(
        tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(BASE)
    os.mkfifo(tmp_path / "waiting.yaml")
    done = subprocess.run([*VOSSIM, "validate", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{tmp_path / 'good.yaml'}: ok" in done.stdout
    assert done.stderr.strip() == (f"{tmp_path / 'waiting.yaml'}:1:1: expected a scenario file "
                                   "(YAML text), found a named pipe (FIFO)")


def test_a_fifo_named_like_a_cdr_file_in_a_directory_is_refused_not_skipped(
        tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "cdr_20260101.txt")  # a pipe file's name; nobody writes to it
    done = subprocess.run([*VOSSIM, "analyze", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert (f"{tmp_path / 'cdr_20260101.txt'}: expected a CDR file, found a named pipe (FIFO)"
            in done.stderr), done.stderr


@pytest.mark.skipif(not Path("/dev/null").is_char_device(), reason="no /dev/null device")
@pytest.mark.parametrize(("command", "kind"), [("run", "scenario"), ("analyze", "cdr")])
def test_a_device_is_not_read_as_a_file(command: str, kind: str) -> None:
    done = subprocess.run([*VOSSIM, command, "/dev/null"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert INPUTS[kind] + "a character device" in done.stderr
