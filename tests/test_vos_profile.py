"""The vos3000 CDR profile: the observed end reasons, its columns, the vendor side (both
profiles), ``--format vos-csv`` and the settings that go with them."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from cdr_writer import E_CDR_NAMES
from cdr_writer._vos_csv import VOS_CSV_COLUMNS, VOS_CSV_COLUMNS_53
from scenario_support import ROOT, cli, run, scenario
from simulator import load_scenario
from simulator.core import ALL_ROWS, EndReason
from simulator.core import _decisions as table
from simulator.run._run import apply_overrides

VOS = {"cdr_profile": "vos3000"}
VENDOR = {"accounts": {"ACME": {"name": "Acme Telecom", "rate_table": "retail"},
                       "CARRIER": {"name": "Carrier Ltd", "rate_table": "wholesale"}},
          "rate_tables": {"retail": [{"prefix": "880", "fee": "0.25", "period": 60,
                                      "call_level": 5, "area_code": "880"}],
                          "wholesale": [{"prefix": "880", "fee": "0.12", "period": 30,
                                         "area_code": "8801"}]},
          "routing_gateways": {"VENDOR-A": {"ip": "198.51.100.20", "prefixes": ["880"],
                                            "account": "CARRIER", "user_agent": "Carrier SBC"}}}


def _observed(verdict: table.Verdict, protocol: str = "sip") -> int:
    return table.observed_end_reason(verdict, protocol, {})[0]


def test_the_observed_numbers_of_every_row() -> None:
    by_row = {(v.row, v.situation): _observed(v) for v in ALL_ROWS}
    assert _observed(table.CALLER_BYE) == _observed(table.CALLER_CANCEL) == -7
    assert _observed(table.CALLEE_BYE) == -8
    assert [_observed(v) for v, _ in table.SETUP_CHECKS if v.illegal] == [-9, -9, -9]
    assert _observed(table.SETUP_CHECKS[10][0]) == -69
    for verdict in (table.USER_BUSY, table.UNALLOCATED, table.DECLINED, table.CALLEE_NO_ANSWER,
                    table.ALL_CONGESTED, table.callee_rejection(484),
                    table.callee_rejection(502)):
        assert _observed(verdict) == verdict.sip_code  # the callee's own SIP code
        assert _observed(verdict, "h323") == verdict.q850  # an H.323 callee's cause
    # No code means two things: every server ending not seen in real rows has its own number,
    # outside the SIP and Q.850 ranges and apart from the observed ones.
    server = {key: code for key, code in by_row.items()
              if code not in (-7, -8, -9, -69) and code < 0}
    assert len(set(server.values())) == len(server)
    assert all(code <= -100 for code in server.values())
    assert by_row[(12, "every matching gateway is down")] == -112
    assert by_row[(24, table.PREPAID_EXHAUSTED.situation)] == -124
    named = table.observed_end_reason(table.SETUP_CHECKS[0][0], "sip", {})
    assert named == (-9, "Illegal Call", "Security")


def test_end_reason_codes_override_a_placeholder_not_a_callee_code(tmp_path: Path) -> None:
    overrides = {EndReason.MEDIA_TIMEOUT: -500, EndReason.USER_BUSY: 99}
    assert table.observed_end_reason(table.MEDIA_TIMEOUT, "sip", overrides)[0] == -500
    assert table.observed_end_reason(table.USER_BUSY, "sip", overrides)[0] == 486


def test_every_decision_table_scenario_under_the_vos3000_profile(tmp_path: Path) -> None:
    """Each row's scenario, run under vos3000, writes the documented numbers."""
    expected = {"14-user-busy": {486}, "15-unallocated-number": {404},
                "16-call-rejected": {603}, "17-callee-no-answer": {480},
                "20-caller-cancel": {-7}, "21-caller-bye": {-7}, "22-callee-bye": {-8},
                "01-unauthorized-ip": {-9}, "02-authentication-failed": {-9},
                "05-blacklist-match": {-9}, "11-route-not-found": {-69},
                "24-prepaid-exhausted": {-124}, "28-media-timeout": {-128}}
    for stem, codes in expected.items():
        loaded = load_scenario(ROOT / "scenarios" / "decision-table" / f"{stem}.yaml")
        records, _ = run(apply_overrides(loaded, ["switch.cdr_profile=vos3000"]),
                         tmp_path / stem)
        assert codes <= {r["endreason"] for r in records.values()}, stem


def test_vos3000_columns_of_an_answered_call_with_a_vendor(tmp_path: Path) -> None:
    records, _ = run(scenario({"callee_does": {"ring_after": 2, "answer_after": 5},
                               "caller_does": {"hangup_after": 61}},
                              switch=VOS, **VENDOR), tmp_path)
    r = records["c1"]
    assert (r["callertype"], r["calleetype"], r["billingmode"], r["calllevel"]) == (1, 1, 1, 5)
    assert (r["callerpdd"], r["calleepdd"], r["rtpforward"]) == (2000, 2000, 1)
    assert (r["recordstarttime"], r["flownofirst"], r["sipreasonheader"]) == (0, 0, "")
    assert (r["callercodec"], r["calleecodec"], r["calleertpip"]) == ("g729", "g729",
                                                                      "198.51.100.20")
    assert (r["callerareacode"], r["calleeareacode"]) == ("880", "8801")
    assert r["calleeproductid"] == "Carrier SBC"
    assert r["calleecallid"].endswith("@192.0.2.1")  # made by the switch, its own address
    assert r["callercallid"].endswith("@203.0.113.10")
    # the vendor's side: 61 s on 30 s periods of 0.12
    assert (r["agentaccount"], r["agentname"], r["agentfeetime"]) == ("CARRIER", "Carrier Ltd",
                                                                      90)
    assert Decimal(str(r["agentfee"])) == Decimal("0.36")
    assert r["endreason"] == -7 and r["endReasonName"] == "Caller Hangup"


def test_the_vendor_side_is_written_under_the_seeds_profile_too(tmp_path: Path) -> None:
    records, _ = run(scenario({"callee_does": {"answer_after": 0},
                               "caller_does": {"hangup_after": 61}}, **VENDOR),
                     tmp_path, ("jsonl", "e_cdr"))
    r = records["c1"]
    assert (r["agentaccount"], r["agentfeetime"], r["agentfee"]) == ("CARRIER", 90, 0.36)
    assert r["endreason"] == 11 and r["billingmode"] == 1  # the seeds' contract otherwise
    with next(tmp_path.glob("e_cdr_*.csv")).open(newline="") as handle:
        row = next(csv.DictReader(handle))
    assert (row["agentfee"], row["fee"]) == ("0.36", "0.50")


def test_a_refusal_before_rating_keeps_the_rate_s_call_level(tmp_path: Path) -> None:
    records, _ = run(scenario({"callee": "8801911000002"}, switch=VOS,
                              accounts={"ACME": {"name": "A", "rate_table": "retail",
                                                 "status": "disabled"}}), tmp_path)
    r = records["c1"]
    assert (r["calllevel"], r["billingmode"], r["rtpforward"], r["calleetype"]) == (5, 1, 0, -1)
    assert r["endreason"] == -103  # row 3, not confirmed by real data


def test_an_h323_callee_refusal_is_its_q850_cause(tmp_path: Path) -> None:
    records, _ = run(scenario({"callee_does": {"busy": True}}, switch=VOS,
                              routing_gateways={"VENDOR-A": {"ip": "198.51.100.20",
                                                             "prefixes": ["880"],
                                                             "protocol": "h323"}}), tmp_path)
    assert records["c1"]["endreason"] == 17


def test_a_callee_bye_and_its_reason_header(tmp_path: Path) -> None:
    header = 'Q.850;cause=16;text="Normal call clearing"'
    records, _ = run(scenario({"callee_does": {"answer_after": 1, "hangup_after": 30,
                                               "reason_header": header},
                               "caller_does": {"reason_header": "not sent: the callee ended"}},
                              switch=VOS), tmp_path)
    r = records["c1"]
    assert (r["enddirection"], r["endreason"], r["sipreasonheader"]) == (1, -8, header)


def test_flowno_under_both_profiles(tmp_path: Path) -> None:
    calls = ({"callee_does": {"answer_after": 0}, "caller_does": {"hangup_after": 30}},
             {"at": 1, "callee": "4470000"})
    seeds, _ = run(scenario(*calls), tmp_path / "seeds")
    vos, _ = run(scenario(*calls, switch=VOS), tmp_path / "vos")
    assert [(seeds[c]["id"], seeds[c]["flowno"]) for c in ("c1", "c2")] == [(2, 2), (1, 1)]
    assert [(vos[c]["id"], vos[c]["flowno"]) for c in ("c1", "c2")] == [(2, 1), (1, 2)]
    run(scenario(*calls, switch=VOS), tmp_path / "pipe", ("pipe",))
    lines = next((tmp_path / "pipe").rglob("*.txt")).read_text().splitlines()
    assert [line.rsplit("|", 1)[1] for line in lines] == ["2", "1"]  # the e_cdr flowno


def test_vos_csv_files_columns_and_hourly_cut(tmp_path: Path) -> None:
    calls = ({"at": 100, "callee_does": {"answer_after": 0}, "caller_does": {"hangup_after": 5}},
             {"at": 3700, "callee": "4470000"}, {"at": 3720, "callee": "4470000"})
    run(scenario(*calls, switch=VOS, **VENDOR), tmp_path / "a", ("vos-csv", "e_cdr"))
    files = sorted((tmp_path / "a").glob("cdr_*.csv"))
    # opened by the first record of each hour (10:01:45 and 11:01:40), cut at the hour
    assert [f.name for f in files] == ["cdr_20261120_100145.csv", "cdr_20261120_110140.csv"]
    with files[0].open(newline="") as handle:
        first = list(csv.reader(handle))
    with next((tmp_path / "a").glob("e_cdr_*.csv")).open(newline="") as handle:
        full = list(csv.DictReader(handle))
    assert len(VOS_CSV_COLUMNS) == 52 and len(first) == 1 and len(first[0]) == 52
    assert first[0] == [full[0][name] for name in VOS_CSV_COLUMNS]  # no header, table order
    assert [name for name in E_CDR_NAMES if name in VOS_CSV_COLUMNS] == list(VOS_CSV_COLUMNS)
    result = cli("run", "-o", str(tmp_path / "b"), "--format", "vos-csv", "--vos-csv-header",
                 "--vos-csv-transactionid", str(ROOT / "scenarios" / "real" / "no-route.yaml"))
    assert result.returncode == 0, result.stderr
    with next((tmp_path / "b").glob("cdr_*.csv")).open(newline="") as handle:
        header, row = list(csv.reader(handle))
    assert header == list(VOS_CSV_COLUMNS_53) and len(row) == 53


def test_vos_csv_options_go_with_the_format(tmp_path: Path) -> None:
    result = cli("run", "-o", str(tmp_path), "--vos-csv-header",
                 str(ROOT / "scenarios" / "real" / "no-route.yaml"))
    assert result.returncode == 2
    assert result.stderr.strip() == "vossim run: --vos-csv-header goes with --format vos-csv"


def test_the_profile_s_settings() -> None:
    assert scenario(switch=VOS).switch.reason_style == "negative"
    assert scenario().switch.reason_style == "server-code"
    assert scenario(switch=VOS).switch.hold_time_precision == 0
    assert scenario().switch.hold_time_precision == 50
    assert scenario(switch={**VOS, "SERVER_BILLING_FEE_PRECISTION": 7})
    with pytest.raises(ValidationError, match="up to 7 under vos3000"):
        scenario(switch={"SERVER_BILLING_FEE_PRECISTION": 7})
    with pytest.raises(ValidationError, match="ring_after above 0 and not later than after"):
        scenario({"callee_does": {"reject": 480, "ring_after": 5, "after": 2}})


def test_a_vendor_account_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = (ROOT / "scenarios" / "real" / "callee-484.yaml").read_text()
    path.write_text(text.replace("account: VENDOR}", "account: VENDR}"))
    result = cli("check", str(path))
    assert result.returncode != 0
    assert "routing_gateways.VENDOR-GW.account" in result.stdout + result.stderr
    assert "did you mean 'VENDOR'" in result.stdout + result.stderr


def test_sharded_runs_refuse_the_vos3000_profile(tmp_path: Path) -> None:
    result = cli("run", "-o", str(tmp_path), "--workers", "2", "--cdr-profile", "vos3000",
                 str(ROOT / "scenarios" / "real" / "no-route.yaml"))
    assert result.returncode == 2
    assert "cannot write cdr_profile vos3000" in result.stderr


@pytest.mark.parametrize(("codes", "why"), [
    ({"Media Timeout": -7}, "row 20 (Caller Hangup) already writes it"),
    ({"Session Timeout": -128}, "row 28 (Media Timeout) already writes it"),
    ({"Rate Not Found": 404}, "a callee's own code"),
])
def test_no_observed_code_may_mean_two_things(codes, why) -> None:
    with pytest.raises(ValidationError, match=re.escape(why)):
        scenario(switch={**VOS, "end_reason_codes": codes})
    assert scenario(switch={"end_reason_codes": codes})  # server-code style: other numbers
    assert scenario(switch={**VOS, "end_reason_codes": {"Media Timeout": -15}})


def test_explain_reads_the_vos3000_columns() -> None:
    done = cli("explain", str(ROOT / "scenarios" / "real" / "caller-bye-85s.yaml"), "--call",
               "long-call", "--json")
    assert done.returncode == 0, done.stderr
    explained = json.loads(done.stdout)
    fields = {f["name"]: f for f in explained["cdr"]}
    assert fields["flowNo"]["value"] == 1 and "INVITE arrived" in fields["flowNo"]["provenance"]
    assert "the row id is the write order, 3" in fields["flowNo"]["provenance"]
    assert fields["sipreasonheader"]["value"] == 'Q.850; cause=16; text="Normal call clearing"'
    assert explained["recorded"]["text"] == "recorded: written as row id 3 (flowno 1, vos3000 " \
        "profile)"
    assert explained["pipe_line"].endswith("|6759|1|1")
