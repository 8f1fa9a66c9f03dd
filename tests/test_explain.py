"""`vossim explain`: the terminal view and the JSON document of one call."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scenario_support import ROOT, cli

PREPAID = str(ROOT / "scenarios" / "prepaid-cutoff.yaml")
SHARED = str(ROOT / "scenarios" / "disputes" / "shared-balance.yaml")


def explain_json(*args: str) -> dict:
    done = cli("explain", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_prepaid_example_names_row_24_four_pulses_and_zero_balance() -> None:
    doc = explain_json(PREPAID, "--call", "disputed")
    assert doc["ending"]["row"] == 24
    pulses = [e for e in doc["entries"] if e["message"] == "pulse"]
    assert len(pulses) == 4
    assert pulses[-1]["details"]["available_after"] == "0.00"
    assert "available 0.25 -> 0.00" in pulses[-1]["text"]
    fields = {f["name"]: f for f in doc["cdr"]}
    assert fields["holdTime"]["value"] == 240
    assert fields["holdTime"]["provenance"] == \
        "holdTime 240 = BYE 10:04:04.000 - 200 OK 10:00:04.000 = 240.000 s"
    assert fields["fee"]["value"] == "1.00"
    assert fields["fee"]["provenance"].startswith("fee 1.00 = 4 periods x 0.25")
    assert fields["endDirection"]["provenance"] == \
        "endDirection 2: the switch sent the BYE, row 24"
    assert doc["recorded"]["recorded"] is True
    # The ladder's messages, in order, lanes caller | switch | gateway.
    assert doc["lanes"] == ["caller", "switch", "VENDOR-A"]
    ladder = [(e["src"], e["dst"], e["message"]) for e in doc["entries"] if e["src"]]
    assert ladder[0] == ("caller", "switch", "INVITE")
    assert ladder[-4:] == [("switch", "caller", "BYE"), ("caller", "switch", "200 (BYE)"),
                           ("switch", "VENDOR-A", "BYE"), ("VENDOR-A", "switch", "200 (BYE)")]


def test_terminal_view_shows_ladder_events_and_provenance() -> None:
    done = cli("explain", PREPAID, "--call", "disputed", "--time", "relative")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "decision row 24" in text
    assert text.count("reserves 0.25") == 4
    assert "cannot pay" in text
    assert re.search(r"\+244\.000 .*<.*BYE", text)
    assert "holdTime 240 = BYE" in text
    assert "recorded: written as flowNo 1" in text
    delta = cli("explain", PREPAID, "--call", "disputed", "--time", "delta").stdout
    assert "Δ60.000" in delta


def test_shared_balance_shows_the_other_calls_reservations() -> None:
    doc = explain_json(SHARED, "--call", "disputed")
    texts = [e["text"] for e in doc["entries"] if e["kind"] == "billing"]
    # the other call is named in full: id, numbers, when it came and was answered
    other = ("call concurrent (4420700000002 → 8801911000011, INVITE 10:15:30.000, answered "
             "10:15:32.000 UTC)")
    assert f"other calls of GLOBEX hold: {other} 0.15" in texts[1]
    assert f"has only 0.00 available; other calls of GLOBEX hold: {other} 0.45" in texts[3]
    assert {f["name"]: f["value"] for f in doc["cdr"]}["fee"] == "0.45"


def test_failover_lanes_and_suppressed_record(tmp_path: Path) -> None:
    doc = explain_json(str(ROOT / "scenarios" / "decision-table" / "18-failover.yaml"),
                       "--call", "walks")
    assert doc["lanes"] == ["caller", "switch", "VENDOR-A", "VENDOR-B", "VENDOR-C"]
    gap = explain_json(str(ROOT / "scenarios" / "billing" / "revenue-gap.yaml"), "--call",
                       _server_ended(ROOT / "scenarios" / "billing" / "revenue-gap.yaml"))
    assert gap["recorded"]["recorded"] is False
    assert gap["recorded"]["suppressed_by"] == ["SERVER_BILLING_RECORD_SERVER_HANG_UP"]
    assert float(gap["recorded"]["revenue_gap"]) > 0


def _server_ended(path: Path) -> str:
    import yaml

    data = yaml.safe_load(path.read_text())
    return next(c["id"] for c in data["calls"] if c.get("expect", {}).get("endDirection") == 2)


def test_refused_call_names_the_failed_check() -> None:
    doc = explain_json(str(ROOT / "scenarios" / "decision-table" / "08-rate-not-found.yaml"),
                       "--call", "no-rate")
    failed = [e for e in doc["entries"] if e["message"] == "setup_check"
              and not e["details"]["passed"]]
    assert [(e["details"]["row"], e["kind"]) for e in failed] == [(8, "refusal")]
    fields = {f["name"]: f for f in doc["cdr"]}
    assert fields["billingMode"]["provenance"] == "-1: refused before rating (row 8)"


def test_unknown_call_is_a_clear_error() -> None:
    done = cli("explain", PREPAID, "--call", "disputd")
    assert done.returncode == 2
    assert "did you mean 'disputed'?" in done.stderr
    assert "Traceback" not in done.stderr


def test_what_if_more_money_turns_the_cut_into_a_caller_hangup() -> None:
    doc = explain_json(SHARED, "--call", "disputed", "--what-if", "accounts.GLOBEX.money=5")
    (change,) = doc["what_if"]
    diffs = {d["field"]: d for d in change["differences"]}
    assert (diffs["endDirection"]["before"], diffs["endDirection"]["after"]) == (2, 0)
    assert (diffs["endReason"]["before"], diffs["endReason"]["after"]) == (24, 11)
    assert (diffs["holdTime"]["before"], diffs["holdTime"]["after"]) == (180, 600)
    assert diffs["fee"]["after"] == "1.50"
    assert diffs["endDirection"]["why_after"] == "endDirection 0: the caller sent the BYE, row 21"
    # The style in force (the profile's default when the scenario sets none) is named.
    assert "server-code style" in diffs["endReason"]["why_after"]
    assert change["before_ending"] == "row 24: prepaid money cannot pay the next pulse"
    assert change["after_ending"] == "row 21: caller BYE"
    assert "callerE164" not in diffs


def test_what_if_takes_any_scenario_path_and_repeats() -> None:
    doc = explain_json(SHARED, "--call", "disputed", "--what-if", "calls[concurrent].at=9999",
                       "--what-if", "switch.SERVER_BILLING_RECORD_SERVER_HANG_UP=0")
    diffs = {d["field"]: d for d in doc["what_if"][0]["differences"]}
    assert diffs["holdTime"]["after"] == 360  # alone on the balance: 6 minutes of 0.90
    assert diffs["recorded"]["after"] is False
    assert "SERVER_BILLING_RECORD_SERVER_HANG_UP = 0" in diffs["recorded"]["why_after"]
    text = cli("explain", SHARED, "--call", "disputed", "--what-if",
               "calls[concurrent].at=9999").stdout
    assert "what if calls[concurrent].at=9999" in text


def test_what_if_gateway_down_and_session_timers() -> None:
    failover = str(ROOT / "scenarios" / "decision-table" / "18-failover.yaml")
    doc = explain_json(failover, "--call", "walks", "--what-if",
                       "routing_gateways.VENDOR-B.status=down")
    diffs = {d["field"]: d for d in doc["what_if"][0]["differences"]}
    # VENDOR-B (unreachable: 32 s of timer B) is skipped, so VENDOR-C answers 32 s sooner
    assert sorted(diffs) == ["callerPdd", "startTime", "stopTime"]
    assert diffs["startTime"]["before"] - diffs["startTime"]["after"] == 32000
    assert (diffs["callerPdd"]["before"], diffs["callerPdd"]["after"]) == (32000, 0)
    refresh = str(ROOT / "scenarios" / "decision-table" / "27-refresh-failed.yaml")
    doc = explain_json(refresh, "--call", "nat", "--what-if", "switch.SS_SIP_SESSION_TTL=0",
                       "--what-if", "calls[nat].caller_does.hangup_after=1000")
    change = doc["what_if"][0]
    assert change["before_ending"] == "row 27: session refresh unanswered for 32 s"
    assert change["after_ending"] == "row 21: caller BYE"
    # with the refresh off, nothing would end the call: a clear error, not a hang
    alone = cli("explain", refresh, "--call", "nat", "--what-if", "SS_SIP_SESSION_TTL=0")
    assert alone.returncode == 2 and "nothing can end it" in alone.stderr


def test_bad_what_if_path_names_the_closest_valid_one() -> None:
    for path, hint in (("accounts.GLOBX.money=5", "did you mean accounts.GLOBEX?"),
                       ("accounts.GLOBEX.mony=5", "did you mean accounts.GLOBEX.money?"),
                       ("calls[disputd].refresh_fails=false", "did you mean calls[disputed]?"),
                       ("SS_SIP_SESION_TTL=0", "did you mean switch.SS_SIP_SESSION_TTL?")):
        done = cli("explain", SHARED, "--call", "disputed", "--what-if", path)
        assert done.returncode == 2, path
        assert hint in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_run_set_takes_the_same_paths(tmp_path: Path) -> None:
    done = cli("run", SHARED, "-o", str(tmp_path), "--format", "jsonl",
               "--set", "accounts.GLOBEX.money=5", "--set", "calls[disputed].caller_does."
               "hangup_after=100")
    assert done.returncode == 0, done.stderr
    records = {r["callId"]: r for r in map(json.loads, (tmp_path / "cdr.jsonl").open())}
    assert (records["disputed"]["holdtime"], records["disputed"]["endreason"]) == (100, 11)
    assert records["concurrent"]["holdtime"] == 600
    bad = cli("run", SHARED, "-o", str(tmp_path / "bad"), "--set",
              "accounts.GLOBEX.status=closed")
    assert bad.returncode == 2
    assert "accounts.GLOBEX.status: expected 'active' or 'disabled', found 'closed'" in bad.stderr
    assert not (tmp_path / "bad").exists()


PIPE = ("8801711000001|8801911000002|1795168804000|1795169044000|240|24|2|ACME-GW|VENDOR-A|"
        "203.0.113.10|198.51.100.20|ACME|880|240|1.00|0|1|1")


def test_decode_a_pipe_line() -> None:
    doc = json.loads(cli("explain", "--cdr", PIPE, "--json").stdout)
    fields = {f["name"]: f for f in doc["fields"]}
    assert len(doc["fields"]) == 18 and fields["flowNo"]["number"] == 18
    assert fields["startTime"]["meaning"] == "2026-11-20 10:00:04.000 UTC: the answer"
    assert fields["endReason"]["meaning"].startswith("24 = Prepaid Duration Exceeded (Billing)")
    assert fields["endDirection"]["meaning"] == "the server (the switch) ended it"
    assert doc["end"]["rows"] == [24]
    produced = {(s["file"], s["call"]) for s in doc["scenarios"]}
    assert ("scenarios/prepaid-cutoff.yaml", "disputed") in produced
    assert ("scenarios/decision-table/24-prepaid-exhausted.yaml", "cut") in produced
    text = cli("explain", "--cdr", PIPE).stdout
    assert "row 24: prepaid money cannot pay the next pulse" in text
    assert "scenarios/prepaid-cutoff.yaml --call disputed" in text


def test_decode_from_a_file_by_flowno(tmp_path: Path) -> None:
    done = cli("run", str(ROOT / "scenarios" / "demo.yaml"), "-o", str(tmp_path), "--format",
               "pipe")
    assert done.returncode == 0, done.stderr
    (pipe,) = sorted((tmp_path / "cdr").glob("*.txt"))[:1]
    lines = pipe.read_text().splitlines()
    second = json.loads(cli("explain", "--cdr", str(pipe), "--flowno", "2", "--json").stdout)
    assert second["line"] == lines[1]
    missing = cli("explain", "--cdr", str(pipe), "--flowno", "999")
    assert missing.returncode == 2 and "no line with flowNo 999" in missing.stderr
    many = cli("explain", "--cdr", str(pipe))
    assert many.returncode == 2 and "say which with --flowno N" in many.stderr


def test_decode_refuses_what_is_not_a_pipe_line() -> None:
    short = cli("explain", "--cdr", "1|2|3")
    assert short.returncode == 2 and "found 3" in short.stderr
    bad = cli("explain", "--cdr", PIPE.replace("|240|24|", "|4 min|24|"))
    assert bad.returncode == 2 and "field holdTime (#5): expected a whole number" in bad.stderr
    protocol = json.loads(cli("explain", "--cdr", PIPE.replace("|240|24|2|", "|0|486|1|"),
                              "--json").stdout)
    assert "SIP code 486 Busy Here" in protocol["fields"][5]["meaning"]


def test_options_that_do_not_go_together_are_refused_before_writing(tmp_path: Path) -> None:
    h323 = str(ROOT / "scenarios" / "billing" / "h323-protocol-codes.yaml")
    page, pcap = tmp_path / "call.html", tmp_path / "call.pcap"
    for args, message in (((h323, "--call", "h323-busy", "--rtp", "--html", str(page)),
                           "--rtp goes with --pcap"),):
        done = cli("explain", *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert not page.exists() and not pcap.exists()
    # an H.323-only call is written, not refused (its H.225: tests/test_explain_h225.py)
    done = cli("explain", h323, "--call", "h323-busy", "--html", str(page), "--pcap", str(pcap))
    assert done.returncode == 0, done.stderr
    assert page.exists() and pcap.exists()
    page.unlink()
    for args, message in (((PREPAID, "--call", "disputed", "--rtp"), "--rtp goes with --pcap"),
                          (("--cdr", PIPE, "--call", "x"), "does not go with --call"),
                          ((PREPAID, "--call", "disputed", "--flowno", "3"),
                           "--flowno goes with --cdr FILE"),
                          ((), "expected a scenario FILE and --call ID")):
        done = cli("explain", *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    # an H.323 call still explains, with its H.225 ladder, in the terminal and as a page
    done = cli("explain", h323, "--call", "h323-silent", "--html", str(page))
    assert done.returncode == 0, done.stderr
    assert "Release Complete (cause 41)" in page.read_text()
    assert "H.225 on H.323 legs" in done.stdout


# -- explain --cdr: any shape of row ------------------------------------------------------------
REAL = ROOT.parent / "shared" / "reference" / "real-cdrs" / "e_cdr-2023-07-16.csv"
needs_real = pytest.mark.skipif(not REAL.is_file(), reason=f"the real CDR rows are not here "
                                f"({REAL}: ../shared is absent in this clone)")


def _real_lines() -> list[str]:
    return REAL.read_text(encoding="utf-8").splitlines()


def _every_field_explained(doc: dict, count: int) -> None:
    assert len(doc["fields"]) == count
    for field in doc["fields"]:
        assert field["meaning"], field
        assert "not an e_cdr column" not in field["meaning"], field


@needs_real
def test_explain_a_real_row_pasted_as_csv_tsv_json_or_with_its_header() -> None:
    import csv

    header, *lines = _real_lines()
    names = header.split(",")
    for line in (lines[0], lines[-1]):
        done = cli("explain", "--cdr", line)  # a long row is no file name
        assert done.returncode == 0, done.stderr
        assert "File name too long" not in done.stderr and "field by field" in done.stdout
        doc = json.loads(cli("explain", "--cdr", line, "--json").stdout)
        _every_field_explained(doc, len(names))
        (values,) = list(csv.reader([line]))
        row = dict(zip(names, values, strict=True))
        fields = {f["name"]: f for f in doc["fields"]}
        assert fields["flowno"]["value"] == row["flowno"]
        assert fields["endreason"]["meaning"].startswith("why the call ended: " + row["endreason"])
        assert doc["end"]["text"] and doc["numbering"] == "vos3000"
        if "E+" in row["calleee164"]:
            assert "a spreadsheet rewrote" in fields["calleee164"]["meaning"]
        tab = json.loads(cli("explain", "--cdr", "\t".join(values), "--json").stdout)
        assert tab["fields"] == doc["fields"] and "tab-separated" in tab["shape"]
        headed = json.loads(cli("explain", "--cdr", header + "\n" + line, "--json").stdout)
        assert headed["fields"] == doc["fields"]
        as_json = json.loads(cli("explain", "--cdr", json.dumps(row), "--json").stdout)
        assert {f["name"]: f["value"] for f in as_json["fields"]} == \
            {f["name"]: f["value"] for f in doc["fields"]}


@needs_real
def test_explain_a_real_file_row_by_flowno(tmp_path: Path) -> None:
    header, *lines = _real_lines()
    flowno_at = header.split(",").index("flowno")
    flowno = lines[5].split(",")[flowno_at]
    doc = json.loads(cli("explain", "--cdr", str(REAL), "--flowno", flowno, "--json").stdout)
    _every_field_explained(doc, len(header.split(",")))
    assert {f["name"]: f["value"] for f in doc["fields"]}["flowno"] == flowno
    headerless = tmp_path / "cdr_20230716_000000.csv"
    headerless.write_text("\n".join(lines) + "\n")
    again = json.loads(cli("explain", "--cdr", str(headerless), "--flowno", flowno,
                           "--json").stdout)
    assert again["fields"] == doc["fields"]
    many = cli("explain", "--cdr", str(REAL))
    assert many.returncode == 2 and f"holds {len(lines)} CDRs: say which with --flowno N" in \
        many.stderr
    missing = cli("explain", "--cdr", str(REAL), "--flowno", "1")
    assert missing.returncode == 2 and "no CDR with flowno 1" in missing.stderr


def test_explain_a_getcdr_object_and_refuse_what_is_no_row() -> None:
    getcdr = {"flowNo": 41, "callerE164": "1001", "calleeAccessE164": "0044207",
              "calleeGateway": "", "start": 1700000001000, "stop": 1700000001000,
              "holdTime": 0, "feeTime": 0, "fee": 0.0, "endDirection": 2, "endReason": -69}
    doc = json.loads(cli("explain", "--cdr", json.dumps(getcdr), "--json").stdout)
    fields = {f["name"]: f for f in doc["fields"]}
    assert set(fields) == {"flowno", "callere164", "calleeaccesse164", "calleegatewayid",
                           "starttime", "stoptime", "holdtime", "feetime", "fee",
                           "enddirection", "endreason"}
    assert fields["calleegatewayid"]["meaning"].endswith(": empty")
    assert doc["end"]["reason"] == "No Available Route"
    assert "no routing gateway serves the callee number" in doc["end"]["text"]
    released = json.loads(cli("explain", "--cdr", PIPE.replace("|240|24|2|", "|0|-7|0|"),
                              "--json").stdout)  # a pipe line in the observed numbering
    assert released["end"]["reason"] == "Caller Hangup"
    assert "Rate Not Found" not in json.dumps(released)
    placeholder = json.loads(cli("explain", "--cdr", json.dumps({**getcdr, "endReason": -112}),
                                 "--json").stdout)
    assert placeholder["end"]["rows"] == [12] and placeholder["end"]["reason"] == \
        "Gateway Unavailable"
    assert "vossim's placeholder number" in placeholder["end"]["text"]
    assert doc["end"]["rows"] == [11]
    named = {**getcdr, "endReason": -121, "endReasonName": "Gateway Unavailable"}
    doc = json.loads(cli("explain", "--cdr", json.dumps(named), "--json").stdout)
    assert doc["end"]["reason"] == "Gateway Unavailable"  # a vossim JSON line names its reason
    assert {f["name"]: f["meaning"] for f in doc["fields"]}["endreason"].endswith(
        "-121 = Gateway Unavailable, as the row names it")
    for text, message in (("1,2,3,4", "found 4 fields"), ("{\"flowNo\": 1", "not a JSON object"),
                          ("a" * 5000, "found 1 fields")):
        done = cli("explain", "--cdr", text)
        assert done.returncode == 2 and message in done.stderr, (text[:20], done.stderr)
        assert "Traceback" not in done.stderr


def test_hold_time_remainder_names_the_precision_in_force() -> None:
    """The scenario leaves SERVER_BILLING_HOLD_TIME_PRECISION to its CDR profile (seeds: 50 ms);
    the provenance names the value the core used, not the unset key."""
    doc = explain_json(str(ROOT / "scenarios" / "disputes" / "dropped-after-a-few-seconds.yaml"),
                       "--call", "short-call")
    (hold,) = [field for field in doc["cdr"] if field["name"] == "holdTime"]
    assert "remainder rounds up (SERVER_BILLING_HOLD_TIME_PRECISION 50 ms)" in hold["provenance"]


def _verdicts(directory: str) -> list[tuple[str, str, object, str]]:
    from simulator.explain import explain_call
    from simulator.scenario._loader import load_scenario

    out = []
    for path in sorted((ROOT / "scenarios" / directory).glob("*.yaml")):
        scenario = load_scenario(path)
        for call in scenario.calls:
            ex = explain_call(scenario, call.id)
            out.append((path.stem, call.id, ex, ex.verdict))
    return out


def test_every_dispute_and_lesson_has_a_verdict_naming_cause_amounts_and_other_calls() -> None:
    for stem, call_id, ex, verdict in _verdicts("disputes") + _verdicts("training"):
        where = f"{stem} {call_id}: {verdict}"
        fields = {f.name: f.value for f in ex.cdr}
        # the deciding cause: the row, its situation and the CDR's endReason
        assert f"decision row {ex.ending['row']}" in verdict, where
        assert ex.ending["situation"] in verdict and "Decided by" in verdict, where
        assert f"endReason {fields['endReason']}" in verdict, where
        # the amounts: what was billed, or that nothing was
        if fields["billingMode"] == 1 and fields["holdTime"]:
            assert f"({fields['fee']})" in verdict and "The rate was" in verdict, where
        else:
            assert "Nothing was billed" in verdict, where
        # the other calls: named in full where they held money, or said to be none
        if stem == "shared-balance":
            other = "concurrent" if call_id == "disputed" else "disputed"
            assert f"call {other} (" in verdict and " → 8801911000" in verdict, where
            assert "answered 10:15:" in verdict, where
        else:
            assert "No other call held money or capacity" in verdict, where
        assert ex.description[:40] not in verdict  # written from the outcome, not the story


def test_verdict_says_what_would_have_changed_it() -> None:
    verdicts = {(stem, call): v for stem, call, _, v in _verdicts("training")}
    assert "max_call_duration at least 5000 s (or 0, no limit)" in \
        verdicts["3-max-call-duration", "lesson"]
    assert "media_timeout at least 855 s" in verdicts["6-media-timeout", "lesson"]
    prepaid = verdicts["2-prepaid-balance-runs-out", "lesson"]
    assert "Pulse 6 (300-360 s of talk, 0.10) could not be paid" in prepaid
    assert "0.10 more available to CARD" in prepaid
    assert "would have gone on until 09:40:05.000" in prepaid
    assert "SS_SIP_SESSION_TTL of at least 2336 s" in verdicts["5-session-refresh-fails", "lesson"]
    gap = {(s, c): v for s, c, _, v in _verdicts("billing")}["revenue-gap", "cut-not-recorded"]
    assert "not recorded (SERVER_BILLING_RECORD_SERVER_HANG_UP = 0)" in gap
    assert "the fee of 1.00 is a revenue gap. Pulse 5 (240-300 s of talk, 0.25) could not" in gap
    postpaid = {(s, c): v for s, c, _, v in _verdicts("disputes")}
    assert "After this call ACME owes 0.02 in all." in \
        postpaid["dropped-after-a-few-seconds", "short-call"]


def test_verdict_comes_first_in_terminal_and_json() -> None:
    done = cli("explain", SHARED, "--call", "disputed")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.index("verdict") < text.index("Dispute:") < text.index("ladder")
    doc = explain_json(SHARED, "--call", "disputed")
    assert doc["verdict"].startswith("The switch ended the call at 10:18:02.000 UTC after 180 s")


def test_capacity_refusal_verdict_names_the_holding_call() -> None:
    from simulator.explain import explain_call
    from simulator.scenario._loader import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "decision-table" / "13-no-available-route.yaml")
    verdict = explain_call(scenario, "no-port-left").verdict
    assert "gateway VENDOR-A (capacity 1) was held by call holds-the-port (8801711000001 → " \
        "8801911000002, INVITE 10:00:00.000" in verdict
