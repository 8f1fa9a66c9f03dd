"""Building an ``Explanation``: run the scenario with the trace on, then read the call's trace.

The explanation draws only from the trace lines (the same JSON objects ``vossim run --trace``
writes) and the call's ``Outcome`` (``simulator.core``): its record, the row that ended it, the
recording switches that suppressed it and its bill, as the core decided them. A run in memory
hands the outcome over; a trace file (a live run's included) gives it back through
``outcome_from_events``. The scenario is read for labels and settings only.
"""

from __future__ import annotations

import difflib
import json
from decimal import Decimal
from typing import Any

from cdr_writer import Cdr, pipe_line
from simulator.core import (
    DIRECTION_NAMES,
    Charge,
    Outcome,
    RateTable,
    TraceFormatError,
    event_from_json,
    event_json,
    outcome_from_events,
)
from simulator.core import events as ev
from simulator.explain._model import Entry, Explanation, clock, stamp
from simulator.explain._verdict import fill_situation, holder_text, write_verdict
from simulator.run import replay
from simulator.scenario import Scenario

_DIRECTIONS = DIRECTION_NAMES


class ExplainError(ValueError):
    """What was asked cannot be explained (an unknown call id, a bad option); says why."""


class _CallTrace:
    """A trace sink that keeps only one call's lines (a load scenario writes many)."""

    def __init__(self, call_id: str) -> None:
        self.prefix = '{"call":' + json.dumps(call_id) + ","
        self.lines: list[str] = []

    def write(self, line: str) -> int:
        if line.startswith(self.prefix):
            self.lines.append(line)
        return len(line)


def run_for_call(scenario: Scenario, call_id: str) -> tuple[list[dict[str, Any]], Outcome]:
    """Simulate ``scenario``; the trace lines and the outcome of ``call_id``."""
    sink = _CallTrace(call_id)
    outcome = replay(scenario, {call_id}, trace=sink).get(call_id)
    if outcome is None:
        known = [c.id for c in scenario.calls]
        close = difflib.get_close_matches(call_id, known, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
        raise ExplainError(f"no call {call_id!r} in scenario {scenario.name or '(unnamed)'} "
                           f"(its calls: {listed or 'none; traffic ids are PROFILE-N'}){hint}")
    return [json.loads(line) for line in sink.lines], outcome


def explain_call(scenario: Scenario, call_id: str) -> Explanation:
    lines, outcome = run_for_call(scenario, call_id)
    return explain_trace(scenario, lines, outcome.record, outcome)


def _lane(name: str) -> tuple[str, str]:
    """``VENDOR-A 198.51.100.20`` -> (``VENDOR-A``, ``198.51.100.20``); ``switch`` -> itself."""
    if " " in name:
        lane, address = name.rsplit(" ", 1)
        return lane, address
    return name, ""


class _Money:
    def __init__(self, places: int) -> None:
        self.quantum = Decimal(1).scaleb(-places)

    def __call__(self, value: Any) -> str:
        return str(Decimal(str(value)).quantize(self.quantum))


def explain_trace(scenario: Scenario, lines: list[dict[str, Any]], cdr: Cdr,
                  outcome: Outcome | None = None) -> Explanation:
    """The explanation of one call from its trace lines and its CDR; ``outcome`` is the
    call's as the run decided it (None: read back from the trace's core events)."""
    if not lines:
        raise ExplainError(f"the trace holds no line of call {cdr.call_id!r}")
    config = scenario.switch
    money = _Money(config.SERVER_BILLING_FEE_PRECISTION)
    invite_ms = lines[0]["time"]
    lanes = ["caller", "switch"]
    addresses: dict[str, str] = {"caller": cdr.callerip}
    protocols: dict[str, str] = {}
    mapping = scenario.mapping_gateways.get(cdr.callergatewayid)
    protocols["caller"] = mapping.protocol if mapping else "sip"
    entries: list[Entry] = []
    ending: dict[str, Any] = {}
    tried: list[str] = []
    for number, line in enumerate(lines, 1):
        t, ms = line["t"], line["time"]
        if "wire" in line:  # live --trace: a datagram as it went over the wire
            arrow = "<-" if line["wire"] == "received" else "->"
            details = {k: line.get(k) for k in ("wire", "leg", "peer", "sip")}
            entries.append(Entry(t, ms, "wire", message="wire", details=details,
                                 text=f"wire {arrow} {line.get('leg')} {line.get('peer')}: "
                                      f"{line.get('sip')}"))
            continue
        if "event" in line:
            try:
                event = event_from_json(line["event"], line)
            except TraceFormatError as exc:
                raise ExplainError(f"trace line {number} of call {cdr.call_id!r}: {exc}") from None
            details = event_json(event)
            _format_money(details, money)
            kind, text = _describe_event(event, t, ms, invite_ms, money)
            if isinstance(event, ev.Ending):  # the setting's value where the row names it
                details["situation"] = fill_situation(event.situation, config)
                text = text.replace(event.situation, details["situation"])
            if isinstance(event, ev.GatewayTried):
                tried.append(event.gateway)
                if event.gateway not in lanes:
                    lanes.append(event.gateway)
                addresses[event.gateway] = event.ip
                protocols[event.gateway] = event.protocol
            if isinstance(event, ev.Ending):
                ending = dict(details, t=t, time_ms=ms)
            entries.append(Entry(t, ms, kind, message=event.KIND, text=text, details=details,
                                 event=event))
            continue
        src, src_address = _lane(line["from"])
        dst, dst_address = _lane(line["to"])
        for lane, address in ((src, src_address), (dst, dst_address)):
            if lane not in lanes:
                lanes.append(lane)
            if address:
                addresses.setdefault(lane, address)
        message = line["message"]
        entries.append(Entry(t, ms, _message_kind(src, dst, message), src, dst, message,
                             f"{src} -> {dst}: {message}"))
    if outcome is None:
        outcome = _outcome_of_trace(scenario, cdr, entries, number)
    header = _header(scenario, cdr, entries, tried, invite_ms, money)
    recorded = _recording(outcome, money)
    explanation = Explanation(
        scenario=scenario.name, description=scenario.description.strip(), call_id=cdr.call_id,
        header=header, lanes=lanes, lane_addresses=addresses, protocols=protocols,
        entries=entries, ending=ending, cdr=[], recorded=recorded,
        pipe_line=pipe_line(cdr, config.SERVER_BILLING_FEE_PRECISTION).replace("|None", "|"),
        invite_ms=invite_ms)
    explanation.cdr = _cdr_fields(scenario, outcome, explanation, money)
    explanation.verdict = write_verdict(explanation, scenario, outcome, money)
    return explanation


def _outcome_of_trace(scenario: Scenario, cdr: Cdr, entries: list[Entry],
                      lines: int) -> Outcome:
    """The call's outcome from its core events (a trace read back), by the core's own rules."""
    tables = scenario.core_rate_tables()

    def rates_of(account_name: str) -> RateTable | None:
        account = scenario.accounts.get(account_name) if account_name else None
        return RateTable(list(tables[account.rate_table])) if account is not None else None

    try:
        return outcome_from_events(
            cdr, [entry.event for entry in entries if entry.event is not None], scenario.switch,
            scenario.switch.SERVER_BILLING_FEE_PRECISTION, rates_of(cdr.customeraccount),
            rates_of(cdr.vendor.agentaccount) if cdr.vendor is not None else None)
    except ValueError as exc:  # no ending event, or a row the table does not have
        raise ExplainError(f"trace of call {cdr.call_id!r} ({lines} lines): {exc}") from None


_MONEY_KEYS = ("cost", "money", "limit", "available_before", "available_after", "call_reserved",
               "released", "charged", "money_after")


def _format_money(details: dict[str, Any], money: _Money) -> None:
    """Amounts in the switch's fee precision (the trace keeps the exact decimals)."""
    for key in _MONEY_KEYS:
        if key in details:
            details[key] = money(details[key])
    holders = [*details.get("others", ()), *details.get("holders", ())]
    for gateway in details.get("gateways", ()):
        holders.extend(gateway["holders"])
    for other in holders:
        other["reserved"] = money(other["reserved"])


# -- the ladder -------------------------------------------------------------------------------
def _message_kind(src: str, dst: str, message: str) -> str:
    code = message[:3]
    if src == "switch" and dst == "caller" and code.isdigit() and int(code) >= 300:
        return "refusal"
    if message.startswith("Release Complete") and src == "switch":
        return "server-ending"
    if src == "switch" and message == "BYE":
        return "server-ending"
    if message.startswith("408 (local"):
        return "server-ending"
    return "signalling"


def _held(held: ev.HeldMoney, money: _Money) -> dict[str, Any]:
    """One other call as the page and the verdict read it (its fields, money formatted)."""
    return {"call": held.call, "caller": held.caller, "callee": held.callee,
            "invite": held.invite, "answered": held.answered, "reserved": money(held.reserved)}


def _describe_event(event: ev.Event, t: float, at_ms: int, invite_ms: int,
                    money: _Money) -> tuple[str, str]:
    """(kind of ladder line, the sentence a person reads) of one of the core's events."""
    if isinstance(event, ev.SetupCheck):
        if event.passed:
            return "check", f"setup check row {event.row} passed (not: {event.check})"
        holders = list(event.holders or ())
        for gateway in event.gateways or ():
            holders.extend(gateway.holders)
        held = "; ".join(holder_text(_held(h, money)) for h in holders)
        return "refusal", (f"setup check row {event.row} FAILED: {event.check}"
                           + (f"; held by {held}" if held else ""))
    if isinstance(event, ev.GatewayTried):
        return "routing", (f"route to gateway {event.gateway} ({event.ip}, {event.protocol}), "
                           f"attempt {event.attempt}")
    if isinstance(event, ev.GatewaySkipped):
        held = "; ".join(holder_text(_held(h, money)) for h in event.holders or ())
        return "routing", (f"skip gateway {event.gateway}: {event.why}"
                           + (f" ({event.capacity}), held by {held}" if held else ""))
    if isinstance(event, ev.GatewayLeft):
        return "routing", f"leave gateway {event.gateway}: {event.why}"
    if isinstance(event, ev.TimerStarted | ev.TimerStopped | ev.TimerFired):
        whose = event.leg or getattr(event, "gateway", None)
        suffix = f" ({whose})" if whose else ""
        timer = event.timer if "timer" in event.timer else f"{event.timer} timer"
        if isinstance(event, ev.TimerStarted):
            due = (event.due - t) + (at_ms - invite_ms) / 1000
            return "timer", f"start {timer}{suffix}: due at +{due:.3f} s"
        if isinstance(event, ev.TimerStopped):
            return "timer", f"stop {timer}{suffix}: {event.why}"
        return "timer", f"{timer} fired{suffix}"
    if isinstance(event, ev.Pulse):
        others = "; ".join(f"{holder_text(_held(h, money))} {money(h.reserved)}"
                           for h in event.others)
        held = f"; other calls of {event.account} hold: {others}" if others else ""
        span = f"{event.start}-{event.start + event.length} s"
        if not isinstance(event, ev.PulseUnpaid):
            return "billing", (f"pulse {event.index} ({span}) reserves {money(event.cost)}: "
                               f"{event.account} available {money(event.available_before)} -> "
                               f"{money(event.available_after)}; the call holds "
                               f"{money(event.call_reserved)}{held}")
        return "billing", (f"pulse {event.index} ({span}) costs {money(event.cost)} but "
                           f"{event.account} has only {money(event.available_before)} available"
                           f"{held}: cannot pay")
    if isinstance(event, ev.Settled):
        # a postpaid account's money goes below zero: that is what the customer owes
        after = event.money_after
        balance = (f"{event.account} now owes {money(-after)}" if after < 0
                   else f"money now {money(after)}")
        return "billing", (f"settle {event.account}: release {money(event.released)} reserved, "
                           f"charge {money(event.charged)}; {balance}")
    if isinstance(event, ev.RtpStopped):
        return "media", "RTP stopped flowing"
    if isinstance(event, ev.Ending):
        return "ending", (f"decision row {event.row}: {event.situation} -> endDirection "
                          f"{event.endDirection} ({_DIRECTIONS[event.endDirection]}), "
                          f"{event.reason}")
    return "signalling", f"{event.KIND} {event_json(event)}"


# -- header, recording, CDR fields ----------------------------------------------------------
def _first(entries: list[Entry], src: str, dst: str, prefix: str) -> Entry | None:
    return next((e for e in entries if e.src == src and e.dst == dst
                 and e.message.startswith(prefix)), None)


def _final_response(message: str) -> bool:
    if message in ("Connect",) or message.startswith("Release Complete"):
        return True
    return message[:3].isdigit() and int(message[:3]) >= 200 and "(" not in message


def _answer(entries: list[Entry]) -> Entry | None:
    return next((e for e in entries if e.src == "switch" and e.dst == "caller"
                 and e.message in ("200", "Connect")), None)


def _header(scenario: Scenario, cdr: Cdr, entries: list[Entry], tried: list[str], invite_ms: int,
            money: _Money) -> dict[str, Any]:
    account = scenario.accounts.get(cdr.customeraccount) if cdr.customeraccount else None
    release_ms = cdr.stoptime
    answer = _answer(entries)
    header: dict[str, Any] = {
        "caller": cdr.callere164, "callee": cdr.calleee164,
        "mapping_gateway": cdr.callergatewayid or "(none: unknown source IP)",
        "source_ip": cdr.callerip,
        "account": (f"{cdr.customeraccount} ({account.name or cdr.customeraccount}, "
                    f"{account.type}"
                    + (f", money {money(account.money)}" if account.type == "prepaid" else "")
                    + ")") if account else "(none)",
        "gateways_tried": tried,
        "final_gateway": cdr.calleegatewayid,
        "invite": stamp(invite_ms),
        "answer": stamp(answer.time_ms) if answer else "not answered",
        "release": stamp(release_ms),
        "call_duration": f"{(release_ms - invite_ms) / 1000:.3f} s from INVITE to release",
        "hold_time": f"{cdr.holdtime} s",
        "caller_call_id": cdr.leg_call_id("caller", cdr.callerip or "0.0.0.0"),
        "callee_call_id": cdr.leg_call_id("callee", cdr.calleeip) if cdr.calleegatewayid
        else "",
        "ended": f"endDirection {cdr.enddirection} ({_DIRECTIONS.get(cdr.enddirection, '?')}), "
                 f"endReason {cdr.endreason} {cdr.end_reason_name}",
    }
    return header


def _recording(outcome: Outcome, money: _Money) -> dict[str, Any]:
    cdr = outcome.record
    rules = outcome.suppressing  # the core's recording rule, as it decided this call
    gap = outcome.billing.fee if not outcome.recorded else Decimal(0)
    if outcome.recorded:
        text = f"recorded: written as flowNo {cdr.flowno}" if cdr.vos is None else \
            f"recorded: written as row id {cdr.flowno} (flowno {cdr.vos.flowno}, vos3000 profile)"
    else:
        because = "; ".join(f"{key} = 0 and {why}" for key, why in rules)
        text = (f"NOT recorded: {because}. It appears only in cdr.jsonl (recorded: false); "
                f"the account was charged nothing, a revenue gap of {money(gap)}")
    return {"recorded": outcome.recorded, "suppressed_by": [key for key, _ in rules],
            "revenue_gap": money(gap), "text": text}


def _fee_story(charges: tuple[Charge, ...], money: _Money) -> tuple[str, str]:
    """(feeTime provenance, fee provenance): the lines of the bill the rating rule made."""
    parts_time, parts_fee = [], []
    for line in charges:
        if line.section:
            parts_time.append(f"section {line.section} {line.seconds} s")
            parts_fee.append(f"section {line.section} {money(line.fee)}")
        else:
            unit = "period" if line.count == 1 else "periods"
            parts_time.append(f"{line.count} {unit} x {line.seconds} s")
            parts_fee.append(f"{line.count} {unit} x {money(line.fee)}")
    return " + ".join(parts_time), " + ".join(parts_fee)


def _cdr_fields(scenario: Scenario, outcome: Outcome, ex: Explanation,
               money: _Money) -> list[Any]:
    from simulator.explain._model import CdrField

    cdr = outcome.record
    entries = ex.entries
    ending = ex.ending
    row = outcome.verdict.row
    situation = ending.get("situation", "")
    answer = _answer(entries)
    invite = entries[0]
    ending_at = next((e for e in entries if e.message == "ending"), None)
    release = next((e for e in entries if e.is_message and ending_at is not None
                    and e.time_ms >= ending_at.time_ms), None)
    gateway = cdr.calleegatewayid
    config = scenario.switch
    out: list[CdrField] = []

    def add(name: str, value: Any, provenance: str) -> None:
        out.append(CdrField(name, value, provenance))

    add("callerE164", cdr.callere164, "the From/calling number of the INVITE")
    add("calleeE164", cdr.calleee164, "the To/called number of the INVITE")
    if answer is not None:
        add("startTime", cdr.starttime,
            f"the answer: 200 OK to the caller at {clock(answer.time_ms)}")
    else:
        add("startTime", cdr.starttime, "not answered: startTime = stopTime = the release")
    release_text = f"{release.message} at {clock(release.time_ms)}" if release else "the release"
    add("stopTime", cdr.stoptime, f"the release: {release_text}")
    if answer is not None:
        held_ms = cdr.stoptime - cdr.starttime
        story = (f"{release.message if release else 'release'} {clock(cdr.stoptime)} - 200 OK "
                 f"{clock(answer.time_ms)} = {held_ms / 1000:.3f} s")
        remainder = held_ms % 1000
        if remainder:
            precision = config.hold_time_precision
            rounds = "rounds up" if remainder >= precision else "is dropped"
            story += (f"; the {remainder} ms remainder {rounds} "
                      f"(SERVER_BILLING_HOLD_TIME_PRECISION {precision} ms)")
        add("holdTime", cdr.holdtime, f"holdTime {cdr.holdtime} = {story}")
    else:
        add("holdTime", cdr.holdtime, "never answered: 0")
    style = config.reason_style
    add("endReason", cdr.endreason,
        f"{cdr.end_reason_name} ({cdr.end_reason_category}), {style} style; decided by row "
        f"{row}: {situation}")
    who = {0: "the caller ended the call", 1: "the callee side ended the call",
           2: "the switch ended the call"}[cdr.enddirection]
    if cdr.enddirection == 2 and answer is not None:
        who = "the switch sent the BYE"
    elif cdr.enddirection == 0 and answer is not None:
        who = "the caller sent the BYE"
    elif cdr.enddirection == 1 and answer is not None:
        who = f"the callee (gateway {gateway}) sent the BYE"
    add("endDirection", cdr.enddirection, f"endDirection {cdr.enddirection}: {who}, row {row}")
    mapping = cdr.callergatewayid
    add("callerGatewayId", mapping,
        f"the mapping gateway whose ips hold the source IP {cdr.callerip}" if mapping
        else f"no mapping gateway has the source IP {cdr.callerip} (row 1)")
    if gateway:
        final = next((e for e in entries if e.src == gateway and e.dst == "switch"
                      and _final_response(e.message)), None)
        gave = f"{final.message} at {clock(final.time_ms)}" if final else \
            "no reply; the last gateway tried"
        tried = ex.header["gateways_tried"]
        add("calleeGatewayId", gateway,
            f"the routing gateway that gave the final answer ({gave}); tried in order: "
            f"{', '.join(tried)}")
    else:
        add("calleeGatewayId", "", "no routing gateway was tried")
    add("callerIp", cdr.callerip, "the source address of the INVITE")
    add("calleeIp", cdr.calleeip,
        f"the address of {gateway}" if gateway else "no routing gateway was tried")
    add("customerAccount", cdr.customeraccount,
        f"the account of mapping gateway {mapping}" if cdr.customeraccount
        else "no account: the call was not identified")
    rate = outcome.billing.rate
    if rate is not None:
        account = scenario.accounts.get(cdr.customeraccount)
        table = account.rate_table if account is not None else "?"
        add("feePrefix", cdr.feeprefix,
            f"the longest prefix of {cdr.calleee164} in rate table {table} "
            f"({money(rate.fee)} per {rate.period} s"
            + (f", {len(rate.sections)} sections first" if rate.sections else "") + ")")
        time_story, fee_story = _fee_story(outcome.billing.charges, money)
        add("feeTime", cdr.feetime, f"feeTime {cdr.feetime} = {time_story}" if time_story
            else "holdTime 0: nothing billed")
        places = config.SERVER_BILLING_FEE_PRECISTION
        fee = f"{cdr.fee:.{places}f}"
        fee_text = (f"fee {fee} = {fee_story}, rounded half up to {places} decimals "
                    "(SERVER_BILLING_FEE_PRECISTION)") if fee_story else \
            f"fee {fee}: nothing billed"
        if not outcome.recorded:
            fee_text += "; the record was suppressed, so nothing was charged"
        add("fee", fee, fee_text)
    else:
        add("feePrefix", cdr.feeprefix, f"never rated (refused at setup, row {row})")
        add("feeTime", cdr.feetime, "never rated: 0")
        add("fee", f"{cdr.fee:.{config.SERVER_BILLING_FEE_PRECISTION}f}", "never rated: 0")
    first = next((e for e in entries if e.src == "switch" and e.dst == "caller"
                  and e.message in ("180", "183", "200", "Alerting", "Connect")), None)
    vos = cdr.vos  # the vos3000 profile's columns (None: the seeds profile)
    add("callerPdd", cdr.callerpdd,
        f"first {first.message} to the caller at {clock(first.time_ms)} - INVITE at "
        f"{clock(invite.time_ms)} = {cdr.callerpdd} ms" if first
        else "no 180/183/200 was sent to the caller: 0" if vos is None
        else f"no 180/183/200 was sent to the caller: up to the call's final answer, "
             f"{cdr.callerpdd} ms (vos3000 profile)")
    if vos is None:
        billing = ("1: rated and billed through the mapping gateway's account"
                   if cdr.billingmode == 1 else f"-1: refused before rating (row {row})")
    else:
        billing = ("1: billed through the mapping gateway's account, refused calls included "
                   "(vos3000 profile)" if cdr.billingmode == 1
                   else "-1: the source address is on no mapping gateway (vos3000 profile)")
    add("billingMode", cdr.billingmode, billing)
    if vos is None:
        add("flowNo", "" if cdr.flowno is None else cdr.flowno,
            f"recorded CDR number {cdr.flowno} of the run, in stoptime order" if cdr.recorded
            else "empty: the record was suppressed")
        add("sipreasonheader", cdr.sipreasonheader,
            "the protocol cause of the ending in RFC 3326 form (the contract's value; on the "
            "wire a server BYE names the server's reason instead)")
    else:
        add("flowNo", vos.flowno,
            f"call number {vos.flowno}, taken when its INVITE arrived (vos3000 profile); the row "
            f"id is the write order, {cdr.flowno}" if cdr.recorded
            else f"call number {vos.flowno}; the record was suppressed")
        add("sipreasonheader", cdr.sipreasonheader,
            "the Reason header the party that ended the call sent, as it wrote it (vos3000 "
            "profile)" if cdr.sipreasonheader
            else "empty: the party that ended the call sent no Reason header (vos3000 profile)")
    return out
