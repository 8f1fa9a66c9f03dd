"""The verdict: one plain paragraph that answers "why did this call end this way".

It is written from what the core decided for the call (its trace events: the ending row and the
endings it won over, the pulses and settlement, the gateways left, the checks, the other calls
holding money or capacity) and from the call's CDR, never from the scenario's description. The
scenario is read only for the values of the settings the core names (``max_call_duration`` ...)
and the call's rate. The terminal, the HTML page, ``--json`` and the training pages all show
this one text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from simulator.core import Outcome, Rate
from simulator.explain._model import Entry, clock

Money = Callable[[Any], str]

_WHO = {0: "The caller", 1: "The callee side", 2: "The switch"}


def fill_situation(situation: str, switch: Any) -> str:
    """The decision table's situation with the setting it names replaced by its value
    ("no media for media_timeout s" -> "no media for 60 s (media_timeout)")."""
    for key in ("media_timeout", "no_answer_timeout", "max_call_duration"):
        if key in situation:
            value = getattr(switch, key)
            if f"{key} s" in situation:
                return situation.replace(f"{key} s", f"{value:g} s ({key})")
            return situation.replace(key, f"{key} ({value:g} s)")
    if "re-INVITE cap" in situation:
        value = switch.SS_SIP_NO_TIMER_REINVITE_INTERVAL
        return f"{situation} (SS_SIP_NO_TIMER_REINVITE_INTERVAL {value:g} s)"
    return situation


def span(seconds: float) -> str:
    """``185.2`` -> ``3:05.2`` (``185 s`` reads better with its minutes beside it)."""
    whole = int(seconds)
    frac = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    if frac > 1e-9:
        text += f"{frac:.3f}"[1:].rstrip("0")
    return text


def _seconds(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 60 else f"{seconds:g} s ({span(seconds)})"


def holder_text(holder: dict[str, Any], *, money: bool = False) -> str:
    """One other call, named in full: id, numbers, when it came and was answered."""
    when = f"INVITE {clock(holder['invite'])}"
    if holder.get("answered") is not None:
        when += f", answered {clock(holder['answered'])}"
    text = f"call {holder['call']} ({holder['caller']} → {holder['callee']}, {when} UTC)"
    if money:
        text += f" held {holder['reserved']}"
    return text


def _events(entries: list[Entry], name: str) -> list[Entry]:
    return [e for e in entries if e.message == name]


def _answer_ms(entries: list[Entry]) -> int | None:
    return next((e.time_ms for e in entries if e.src == "switch" and e.dst == "caller"
                 and e.message in ("200", "Connect")), None)


class _Facts:
    """What the verdict draws from, gathered once from the explanation."""

    def __init__(self, ex: Any, scenario: Any, outcome: Outcome, money: Money) -> None:
        cdr = outcome.record
        self.ex, self.scenario, self.cdr, self.money = ex, scenario, cdr, money
        self.outcome = outcome
        self.switch = scenario.switch
        self.ending = ex.ending
        self.row = outcome.verdict.row
        self.refused = not outcome.verdict.rated  # a setup check refused it (rows 1-13)
        self.direction = int(self.ending.get("endDirection", cdr.enddirection))
        self.end_ms = int(self.ending.get("time_ms", cdr.stoptime))
        self.answer_ms = _answer_ms(ex.entries)
        self.talk = (self.end_ms - self.answer_ms) / 1000 if self.answer_ms is not None else 0.0
        self.account = scenario.accounts.get(cdr.customeraccount) if cdr.customeraccount else None
        self.pulses = _events(ex.entries, "pulse")
        self.unpaid = next(iter(_events(ex.entries, "pulse_unpaid")), None)
        self.settled = next(iter(_events(ex.entries, "settled")), None)
        self.failed_check = next((e for e in _events(ex.entries, "setup_check")
                                  if not e.details.get("passed")), None)
        self.competing = [c for c in self.ending.get("competing", []) if c["time"] >= self.end_ms]
        self.situation = self.ending.get("situation", "")  # filled in by _build

    def since_answer(self, ms: int) -> float:
        return (ms - (self.answer_ms or self.ex.invite_ms)) / 1000


def write_verdict(ex: Any, scenario: Any, outcome: Outcome, money: Money) -> str:
    """The verdict of the call ``ex`` explains, whose outcome is ``outcome`` (see the module
    docstring)."""
    f = _Facts(ex, scenario, outcome, money)
    parts = [_ending(f), _money(f), _others(f), _decided_by(f), _would_change(f)]
    return " ".join(p for p in parts if p)


# -- who, why, when, after how much talk ------------------------------------------------------
def _ending(f: _Facts) -> str:
    cdr = f.cdr
    who = _WHO.get(f.direction, "The switch")
    if f.direction == 1 and cdr.calleegatewayid:
        who = f"The callee side (gateway {cdr.calleegatewayid})"
    at = f"{clock(f.end_ms)} UTC"
    why = (f"{f.situation} (decision row {f.row}, endDirection {f.direction}, endReason "
           f"{cdr.endreason} {cdr.end_reason_name})")
    if f.refused:
        return f"The switch refused the call at setup, {at}: {why}."
    if f.answer_ms is None:
        waited = (f.end_ms - f.ex.invite_ms) / 1000
        return (f"{who} ended the call at {at}, {_seconds(waited)} after the INVITE and before "
                f"any answer: {why}.")
    return (f"{who} ended the call at {at} after {_seconds(f.talk)} of talk (holdTime "
            f"{cdr.holdtime} s): {why}.")


# -- the money --------------------------------------------------------------------------------
def _rate_text(f: _Facts) -> tuple[str, Rate] | None:
    """(the rate in words, the rate) of the call, as the core rated it (None: never rated)."""
    account, rate = f.account, f.outcome.billing.rate
    if account is None or rate is None:
        return None
    sections = (f" after {len(rate.sections)} opening section"
                f"{'s' if len(rate.sections) > 1 else ''}" if rate.sections else "")
    return (f"{f.money(rate.fee)} per {rate.period} s{sections} (prefix {rate.prefix} of "
            f"rate table {account.rate_table})"), rate


def _money(f: _Facts) -> str:
    cdr, money = f.cdr, f.money
    if cdr.billingmode != 1 or f.refused:
        return ("Nothing was billed: the call was refused before rating "
                f"(billingMode {cdr.billingmode}).")
    rated = _rate_text(f)
    name = cdr.customeraccount
    kind = f.account.type if f.account else ""
    text = f"The rate was {rated[0]}." if rated else ""
    fee = money(cdr.fee)
    recorded = f.outcome.recorded
    if not recorded:
        keys = ", ".join(name for name, _ in f.outcome.suppressing)
        text += (f" The CDR was not recorded ({keys} = 0), so {name} was charged nothing and "
                 f"the fee of {fee} is a revenue gap.")
    elif cdr.holdtime == 0:
        text += " Nothing was billed: the call was never answered (holdTime 0)."
    else:
        text += f" {cdr.feetime} s were billed ({fee})"
        charged = money(f.outcome.billing.charged)
        if kind == "prepaid":
            text += f", paid from {name}'s prepaid money ({charged})"
        else:
            text += f", charged to {name} ({kind}: {charged})"
        text += "."
    if f.unpaid is not None:
        d = f.unpaid.details
        text += (f" Pulse {d['index']} ({d['start']}-{d['start'] + d['length']} s of talk, "
                 f"{d['cost']}) could not be paid: {name} had only {d['available_before']} "
                 "available.")
    elif kind == "prepaid" and f.row == 24:
        text += " The next pulse could not be paid."
    elif cdr.holdtime and recorded:
        text += " Nothing was left unpaid."
    if f.settled is not None and recorded:
        after = Decimal(str(f.settled.details["money_after"]))
        if after < 0:
            text += f" After this call {name} owes {money(-after)} in all."
        else:
            text += f" After this call {name}'s money is {money(after)}."
    return text.strip()


# -- the other calls --------------------------------------------------------------------------
def _others(f: _Facts) -> str:
    account = f.cdr.customeraccount
    check = f.failed_check
    if check is not None and check.details.get("holders") is not None:
        holders = check.details["holders"]
        if f.row == 10:
            what = f"held {account}'s money"
            named = [holder_text(h, money=True) for h in holders if h["reserved"] != "0"]
        else:
            what = f"held {account}'s concurrent-call places"
            named = [holder_text(h) for h in holders]
        return _listing(named, what)
    if check is not None and check.details.get("gateways"):
        texts = []
        for gateway in check.details["gateways"]:
            named = "; ".join(holder_text(h) for h in gateway["holders"]) or "none traced"
            texts.append(f"gateway {gateway['gateway']} (capacity {gateway['capacity']}) was "
                         f"held by {named}")
        return "Every matching gateway was full: " + "; ".join(texts) + "."
    texts = []
    for skipped in _events(f.ex.entries, "gateway_skipped"):
        holders = skipped.details.get("holders")
        if holders:
            texts.append(f"Gateway {skipped.details['gateway']} was skipped, at its capacity of "
                         f"{skipped.details['capacity']}, held by "
                         + "; ".join(holder_text(h) for h in holders) + ".")
    # Every other call seen holding the account's money at one of this call's pulses, with
    # what it held at the last of them.
    seen: dict[str, tuple[dict[str, Any], int]] = {}
    for pulse in [*f.pulses, *([f.unpaid] if f.unpaid else [])]:
        for other in pulse.details["others"]:
            seen[other["call"]] = (other, pulse.details["index"])
    if seen:
        named = [f"{holder_text(h, money=True)} at pulse {index}"
                 + ("" if f.unpaid is None or index == f.unpaid.details["index"]
                    else " (and was charged it when it ended)")
                 for h, index in seen.values()]
        if f.unpaid is not None:
            texts.append(f"Other calls of {account} took the money this call needed: "
                         + "; ".join(named) + ".")
        else:
            texts.append(f"Other calls shared {account}'s money: " + "; ".join(named)
                         + "; the money did not end this call.")
    if not texts:
        return "No other call held money or capacity this call needed."
    return " ".join(texts)


def _listing(named: list[str], what: str) -> str:
    if not named:
        return f"No other traced call {what}."
    return f"Other calls {what}: " + "; ".join(named) + "."


# -- the setting or gateway that decided ------------------------------------------------------
def _decided_by(f: _Facts) -> str:
    s, row, cdr = f.switch, f.row, f.cdr
    gateway = cdr.calleegatewayid
    account = cdr.customeraccount
    if row == 25:
        return f"Decided by the switch setting max_call_duration = {s.max_call_duration:g} s."
    if row == 26:
        return (f"Decided by SS_SIP_NO_TIMER_REINVITE_INTERVAL = "
                f"{s.SS_SIP_NO_TIMER_REINVITE_INTERVAL:g} s: mapping gateway "
                f"{cdr.callergatewayid} has session_timer false, so its calls are capped.")
    if row == 27:
        fired = next((e for e in _events(f.ex.entries, "timer_fired")
                      if e.details.get("timer") == "refresh timer B"), None)
        leg = fired.details.get("leg", "") if fired else ""
        leg = "the caller" if leg == "caller" else f"gateway {leg}" if leg else "a leg"
        interval = s.SS_SIP_SESSION_TTL / s.SS_SIP_SESSION_UPDATE_SEGMENT
        sent = f" sent at {clock(fired.time_ms - 32_000)}" if fired else ""
        return (f"Decided by the session timers: SS_SIP_SESSION_TTL = {s.SS_SIP_SESSION_TTL:g} / "
                f"SS_SIP_SESSION_UPDATE_SEGMENT = {s.SS_SIP_SESSION_UPDATE_SEGMENT} sends a "
                f"re-INVITE every {interval:g} s, and {leg} did not answer the one{sent} "
                "within timer B (32 s).")
    if row == 28:
        stopped = next(iter(_events(f.ex.entries, "rtp_stopped")), None)
        since = f" after the RTP stopped at {clock(stopped.time_ms)}" if stopped else ""
        return f"Decided by the switch setting media_timeout = {s.media_timeout:g} s{since}."
    if row == 19:
        return f"Decided by the switch setting no_answer_timeout = {s.no_answer_timeout:g} s."
    if row == 24:
        start = f.money(f.account.money) if f.account else "?"
        return (f"Decided by {account}'s prepaid money ({start} at the start), shared by every "
                f"call of {account}.")
    if row == 23:
        return "Decided by an operator, who released the call from the console."
    if row == 18:
        left = [f"{e.details['gateway']} ({e.details['why'].split(':')[0]})"
                for e in _events(f.ex.entries, "gateway_left")]
        skipped = [f"{e.details['gateway']} ({e.details['why']})"
                   for e in _events(f.ex.entries, "gateway_skipped")]
        return "Decided by the routing gateways: " + ", ".join(left + skipped) + "."
    if 14 <= row <= 17 or (row == 16 or f.ending.get("situation", "").startswith("callee rej")):
        return (f"Decided by gateway {gateway}, which answered "
                f"{f.ending.get('sip_code')}.")
    if row == 20:
        return "Decided by the caller, who cancelled before the answer."
    if row == 21:
        return "Decided by the caller, who hung up; no switch setting or gateway ended it."
    if row == 22:
        return f"Decided by gateway {gateway}'s side, which hung up; no switch setting ended it."
    return _decided_by_check(f)


def _decided_by_check(f: _Facts) -> str:
    row, cdr, account = f.row, f.cdr, f.account
    name = cdr.customeraccount
    if row == 1:
        return f"Decided by the mapping gateways: none has the source IP {cdr.callerip}."
    if row == 2:
        return f"Decided by mapping gateway {cdr.callergatewayid}'s credentials (auth)."
    if row == 3:
        return f"Decided by account {name}: its status is disabled."
    if row == 4:
        return f"Decided by account {name}: its expires date had passed."
    if row == 5:
        return "Decided by the switch's blacklist."
    if row == 6 and account is not None:
        return f"Decided by account {name}'s max_cps = {account.max_cps}."
    if row == 7 and account is not None:
        return f"Decided by account {name}'s max_concurrent = {account.max_concurrent}."
    if row == 8:
        return f"Decided by rate table {account.rate_table if account else '?'}: no prefix of " \
               f"{cdr.calleee164}."
    if row == 9:
        return f"Decided by account {name}'s subscribed call levels."
    if row == 10 and account is not None:
        return (f"Decided by {name}'s money ({f.money(account.money)}, limit_money "
                f"{f.money(account.limit_money)}).")
    if row == 11:
        return f"Decided by the routing gateways: none has a prefix of {cdr.calleee164}."
    if row == 12:
        return "Decided by the routing gateways: every matching one is down."
    if row == 13:
        return "Decided by the routing gateways' capacity."
    return ""


# -- what would have changed it ---------------------------------------------------------------
def _would_change(f: _Facts) -> str:
    row, s = f.row, f.switch
    first = f.competing[0] if f.competing else None
    otherwise = ""
    if first is not None:
        if first["row"] == 0:
            otherwise = f"the gateway would have answered at {clock(first['time'])}"
        else:
            after = (f" ({_seconds(f.since_answer(first['time']))} after the answer)"
                     if f.answer_ms is not None else "")
            otherwise = (f"the call would have gone on until {clock(first['time'])}{after}, "
                         f"ended by {fill_situation(first['situation'], s)} (row {first['row']})")
    need = _threshold(f, first)
    if need and otherwise:
        return f"What would have changed it: {need}; then {otherwise}."
    if need:
        return f"What would have changed it: {need}."
    if otherwise:
        return f"Without this ending, {otherwise}."
    if row in (21, 22, 20):
        return "Nothing on the switch would have changed it: a party chose to end the call."
    return ""


def _threshold(f: _Facts, first: dict[str, Any] | None) -> str:
    """The setting value at which this ending would not have happened, where one setting
    decided; the other changes that would have avoided it otherwise."""
    row, s, cdr = f.row, f.switch, f.cdr
    talk_until = f.since_answer(first["time"]) if first and f.answer_ms is not None else None
    # At an exact tie the lower row wins: "at least" when the other ending's row is lower.
    bound = "at least" if first is not None and 0 < first["row"] < row else "above"
    if row == 25:
        above = f"{bound} {talk_until:g} s " if talk_until is not None else ""
        return f"max_call_duration {above}(or 0, no limit)"
    if row == 26:
        above = f"{bound} {talk_until:g} s " if talk_until is not None else ""
        return f"SS_SIP_NO_TIMER_REINVITE_INTERVAL {above}(or 0), or a caller with session timers"
    if row == 27:
        if talk_until is not None:  # the refresh at TTL/SEGMENT fails timer B (32 s) later
            ttl = math.ceil((talk_until - 32) * s.SS_SIP_SESSION_UPDATE_SEGMENT)
            return (f"an answer to the re-INVITE, or SS_SIP_SESSION_TTL of at least {ttl} s "
                    f"(no failed refresh before the call's other ending) or 0 (no refreshes)")
        return "an answer to the re-INVITE, or SS_SIP_SESSION_TTL 0 (no refreshes)"
    if row == 28:
        stopped = next(iter(_events(f.ex.entries, "rtp_stopped")), None)
        if stopped is not None and first is not None:
            return (f"media_timeout {bound} {(first['time'] - stopped.time_ms) / 1000:g} s "
                    "(or 0, media not watched), or RTP that kept flowing")
        return "media_timeout 0 (media not watched), or RTP that kept flowing"
    if row == 19:
        ringing = next((e for e in f.ex.entries if e.src != "switch" and e.dst == "switch"
                        and e.message in ("180", "183", "Alerting")), None)
        if ringing is not None and first is not None and first["row"] == 0:
            return (f"no_answer_timeout above {(first['time'] - ringing.time_ms) / 1000:g} s "
                    "(or 0)")
        return "no_answer_timeout 0 (no limit), or an answer from the callee"
    if row == 24 and f.unpaid is not None:
        return _money_needed(f, talk_until)
    if row == 23:
        return "no operator disconnect"
    if row == 18:
        return "a routing gateway that answers (or one more matching gateway that is up)"
    if row == 7 and f.account is not None:
        return f"max_concurrent of at least {int(f.account.max_concurrent or 0) + 1}, or one of " \
               "the other calls ending first"
    if row == 13:
        check = f.failed_check
        gateways = check.details.get("gateways", []) if check else []
        names = ", ".join(f"{g['gateway']} {g['capacity'] + 1}" for g in gateways)
        return f"one more channel (capacity {names}), or one of the other calls ending first"
    if row == 10:
        return "money on the account for the first pulse"
    if row == 1:
        return f"the source IP {cdr.callerip} on a mapping gateway's ips"
    return ""


def _money_needed(f: _Facts, talk_until: float | None) -> str:
    """How much more money would have paid the call until its other ending."""
    d = f.unpaid.details
    rated = _rate_text(f)
    short = Decimal(str(d["cost"])) - Decimal(str(d["available_before"]))
    text = f"{f.money(short)} more available to {f.cdr.customeraccount} to pay pulse {d['index']}"
    if rated is None or talk_until is None:
        return text
    total = rated[1].pulses_cost(d["index"] - 1, talk_until)
    need = total - Decimal(str(d["available_before"]))
    return text + f" ({f.money(need)} more to pay every pulse until then)"
