"""The core's own events in the trace: setup checks, gateways, timers, pulses, RTP, the ending."""

from __future__ import annotations

import json
from pathlib import Path

from scenario_support import ROOT, cli
from simulator import load_scenario
from simulator.core._state import CallAttempt, Switch
from simulator.scenario._core import core_config


def traced(path: Path, tmp_path: Path, call: str) -> list[dict]:
    done = cli("run", str(path), "-o", str(tmp_path / "out"), "--trace", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0, done.stderr
    return [line for line in map(json.loads, (tmp_path / "t.jsonl").open()) if line["call"] == call]


def events(lines: list[dict], kind: str) -> list[dict]:
    return [line for line in lines if line.get("event") == kind]


def test_prepaid_cutoff_shows_four_pulses_and_row_24(tmp_path: Path) -> None:
    lines = traced(ROOT / "scenarios" / "prepaid-cutoff.yaml", tmp_path, "disputed")
    pulses = events(lines, "pulse")
    assert [(p["t"], p["available_before"], p["available_after"]) for p in pulses] == [
        (4.0, "1.0", "0.75"), (64.0, "0.75", "0.50"), (124.0, "0.50", "0.25"),
        (184.0, "0.25", "0.00")]
    unpaid = events(lines, "pulse_unpaid")
    assert [(u["t"], u["index"], u["available_before"]) for u in unpaid] == [(244.0, 5, "0.00")]
    (ending,) = events(lines, "ending")
    assert (ending["row"], ending["endDirection"], ending["reason"]) == \
        (24, 2, "Prepaid Duration Exceeded")
    # The ending comes before the BYEs it causes, the checks before the INVITE to the gateway.
    kinds = [line.get("event") or line["message"] for line in lines]
    assert kinds.index("ending") < kinds.index("BYE")
    assert [c["row"] for c in events(lines, "setup_check")] == list(range(1, 14))
    assert all(c["passed"] for c in events(lines, "setup_check"))
    (settled,) = events(lines, "settled")
    assert (settled["charged"], settled["money_after"]) == ("1.00", "0.00")


def test_shared_balance_shows_the_other_calls_reservations(tmp_path: Path) -> None:
    lines = traced(ROOT / "scenarios" / "disputes" / "shared-balance.yaml", tmp_path, "disputed")
    pulses = events(lines, "pulse") + events(lines, "pulse_unpaid")
    assert [[(o["call"], o["reserved"]) for o in p["others"]] for p in pulses] == [
        [], [("concurrent", "0.15")], [("concurrent", "0.30")], [("concurrent", "0.45")]]
    # Each other call is named in full: its numbers, when it came and when it was answered.
    other = pulses[-1]["others"][0]
    assert (other["caller"], other["callee"]) == ("4420700000002", "8801911000011")
    assert other["answered"] - other["invite"] == 2000
    assert other["invite"] - lines[0]["time"] == 30_000
    assert pulses[-1]["event"] == "pulse_unpaid" and pulses[-1]["available_before"] == "0.00"


def test_failed_setup_check_names_its_row(tmp_path: Path) -> None:
    lines = traced(ROOT / "scenarios" / "decision-table" / "08-rate-not-found.yaml", tmp_path,
                   "no-rate")
    checks = events(lines, "setup_check")
    assert [c["row"] for c in checks] == list(range(1, 9))
    assert [c["passed"] for c in checks] == [True] * 7 + [False]
    assert checks[-1]["check"] == "no rate for the callee"


def test_failover_names_each_gateway_and_why_it_was_left(tmp_path: Path) -> None:
    lines = traced(ROOT / "scenarios" / "decision-table" / "18-failover.yaml", tmp_path, "walks")
    tried = [(e["t"], e["gateway"]) for e in events(lines, "gateway_tried")]
    assert tried == [(0.0, "VENDOR-A"), (0.0, "VENDOR-B"), (32.0, "VENDOR-C")]
    left = [(e["gateway"], e["why"].split(":")[0]) for e in events(lines, "gateway_left")]
    assert left == [("VENDOR-A", "503 Service Unavailable"),
                    ("VENDOR-B", "no reply in 32 s (timer B)")]
    assert {"timer": "timer B", "gateway": "VENDOR-B"}.items() <= \
        events(lines, "timer_fired")[0].items()


def test_timers_and_rtp_stopping(tmp_path: Path) -> None:
    lines = traced(ROOT / "scenarios" / "decision-table" / "28-media-timeout.yaml", tmp_path,
                   "silent")
    (stopped,) = events(lines, "rtp_stopped")
    media = [e for e in events(lines, "timer_started") if e["timer"] == "media"]
    assert media and media[0]["due"] == stopped["t"] + 60
    fired = events(lines, "timer_fired")
    assert fired[-1]["timer"] == "media" and fired[-1]["t"] == media[0]["due"]


def test_no_events_are_built_without_a_trace() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "prepaid-cutoff.yaml")

    class Quiet:
        def invite_gateway(self, *_: object) -> None: ...
        def answered(self, *_: object) -> None: ...
        def send_refresh(self, *_: object) -> None: ...
        def released(self, *_: object) -> None: ...

    switch = Switch(core_config(scenario), Quiet())
    call = switch.new_call(CallAttempt("c", 0.0, "203.0.113.10", "8801711000001",
                                       "8801911000002"), 0)
    call.start()
    assert call.trace is None
    assert all(account.holders is None for account in switch.accounts.values())


def test_every_trace_line_reads_back_into_the_event_the_core_made(tmp_path: Path) -> None:
    from simulator.core._events import (
        EVENT_TYPES,
        Ending,
        Pulse,
        PulseUnpaid,
        event_from_json,
        event_json,
    )

    lines = traced(ROOT / "scenarios" / "disputes" / "shared-balance.yaml", tmp_path, "disputed")
    seen: set[str] = set()
    for line in lines:
        if "event" not in line:
            continue
        event = event_from_json(line["event"], line)
        assert type(event) is EVENT_TYPES[line["event"]]
        fields = {k: v for k, v in line.items() if k not in ("call", "t", "time", "event")}
        assert event_json(event) == fields  # the file is exactly the event's serialisation
        seen.add(event.KIND)
    assert {"setup_check", "pulse", "settled", "ending"} <= seen
    (ending,) = (event_from_json("ending", e) for e in events(lines, "ending"))
    assert isinstance(ending, Ending) and ending.endDirection == 2
    pulses = [event_from_json(p["event"], p) for p in lines if p.get("event", "")[:5] == "pulse"]
    assert all(isinstance(p, Pulse) for p in pulses)
    assert any(isinstance(p, PulseUnpaid) and p.others for p in pulses), \
        "the unpaid pulse names the other call holding the money"


def test_a_damaged_trace_line_is_an_error_that_names_it() -> None:
    import pytest

    from simulator.core._events import TraceFormatError, event_from_json

    with pytest.raises(TraceFormatError, match="unknown event 'nonsense'"):
        event_from_json("nonsense", {})
    with pytest.raises(TraceFormatError, match="'ending'"):
        event_from_json("ending", {"row": 24})
    with pytest.raises(TraceFormatError, match="'settled'"):
        event_from_json("settled", {"account": "A", "released": "x", "charged": "0",
                                    "money_after": "0"})


def test_refusals_for_capacity_name_the_calls_holding_it(tmp_path: Path) -> None:
    lines = traced(ROOT / "scenarios" / "decision-table" / "07-concurrent-limit.yaml", tmp_path,
                   "refused")
    failed = [c for c in events(lines, "setup_check") if not c["passed"]]
    assert [(c["row"], c["limit"]) for c in failed] == [(7, 1)]
    assert [(h["call"], h["callee"]) for h in failed[0]["holders"]] == \
        [("talking", "8801911000002")]
    lines = traced(ROOT / "scenarios" / "decision-table" / "13-no-available-route.yaml",
                   tmp_path, "no-port-left")
    (failed,) = [c for c in events(lines, "setup_check") if not c["passed"]]
    assert failed["row"] == 13
    assert [(g["gateway"], g["capacity"], [h["call"] for h in g["holders"]])
            for g in failed["gateways"]] == [("VENDOR-A", 1, ["holds-the-port"])]


def test_the_ending_lists_the_endings_it_won_over(tmp_path: Path) -> None:
    lines = traced(ROOT / "scenarios" / "training" / "3-max-call-duration.yaml", tmp_path,
                   "lesson")
    (ending,) = events(lines, "ending")
    assert ending["row"] == 25
    # the caller would have hung up 5000 s after the answer (4 s after the INVITE)
    assert [(c["row"], c["situation"], c["at"]) for c in ending["competing"]] == \
        [(21, "caller BYE", 5004.0)]
