"""From a CDR row back to what happened: the INVITE instant, what each party did, and which
switch ending of the decision table the row's endDirection and endReason name.

The inversion reads the switch's own answer to "what does this ending write?"
(``Switch.ending_fields``, or ``observed_fields`` under the vos3000 numbering, over ``ALL_ROWS``
and the callee's rejections, for SIP and H.323 vendors), so it follows the scenario's profile,
end-reason style and renumbering without a second table of codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.core import (
    ALL_ROWS,
    ANSWER,
    CALLEE_BYE,
    CALLER_BYE,
    CALLER_CANCEL,
    FAILOVER_CODES,
    NO_ANSWER,
    TIMER_B,
    UNREACHABLE,
    Behaviour,
    Switch,
    Verdict,
    callee_rejection,
)
from simulator.scenario import Scenario, core_config

from ._rows import Row

# Callee final responses whose ending is looked up by its code (SIP, or the seed table's row).
_CALLEE_CODES = (404, 408, 480, 484, 486, 487, 600, 603, 604, 500, 502, 504, 403, 488)
# Setup refusals and switch endings, by the decision table's row number.
SETUP_ROWS = frozenset(range(1, 14))


def profile_of(scenario: Scenario) -> str:
    """``seeds`` or ``vos3000``: the CDR profile a scenario's switch writes."""
    return scenario.switch.cdr_profile


def row_profile(row: Row) -> str:
    """The profile a row's values show: negative or SIP-code end reasons are VOS3000's own."""
    return "vos3000" if row.endreason < 0 or row.endreason >= 300 else "seeds"


class Endings:
    """Which decision-table rows write a given (endDirection, endReason) under one switch."""

    def __init__(self, scenario: Scenario) -> None:
        switch = Switch(core_config(scenario), None)  # type: ignore[arg-type]
        self.switch = switch
        self._by_fields: dict[tuple[int, int], list[Verdict]] = {}
        verdicts = list(ALL_ROWS) + [callee_rejection(code) for code in _CALLEE_CODES]
        for verdict in verdicts:
            for callee_protocol in ("sip", "h323"):  # an H.323 callee's code is its Q.850 cause
                reason, direction = self._fields(verdict, callee_protocol)[:2]
                found = self._by_fields.setdefault((direction, reason), [])
                if verdict not in found:
                    found.append(verdict)

    def _fields(self, verdict: Verdict, callee_protocol: str = "sip"
                ) -> tuple[int, int, str, str, str]:
        """What the switch writes for an ending of a SIP call to a vendor of that protocol."""
        switch = self.switch
        if switch.observed:  # the observed (vos3000) numbering
            return switch.observed_fields(verdict, "sip", callee_protocol)
        return switch.ending_fields(verdict, "sip")

    def verdicts(self, direction: int, reason: int) -> list[Verdict]:
        found = self._by_fields.get((direction, reason))
        if found:
            return found
        if direction == 1 and 300 <= reason <= 699:  # a callee's own code, written as is
            verdict = callee_rejection(reason)
            if self._fields(verdict)[:2] == (reason, 1):
                return [verdict]
        return []

    def header(self, verdict: Verdict) -> str:
        return self._fields(verdict)[2]


@dataclass(slots=True)
class Plan:
    """One row as a call of a scenario: when, what each party did, what the switch needs."""

    row: Row
    invite_ms: int
    verdict: Verdict | None
    call: dict[str, Any] = field(default_factory=dict)  # callee_does, caller_does, … keys
    needs: dict[str, Any] = field(default_factory=dict)  # switch/config settings the ending needs
    notes: list[str] = field(default_factory=list)  # assumptions, in the user's words

    @property
    def situation(self) -> str:
        if self.verdict is None:
            return "an ending this switch does not write"
        return f"decision-table row {self.verdict.row}: {self.verdict.situation}"


def _seconds(ms: int) -> float:
    return round(max(ms, 0) / 1000, 3)


def invite_instant(row: Row, profile: str) -> tuple[int, str]:
    """(the INVITE's wall-clock ms, how it was worked out)."""
    if 0 < row.recordstarttime <= row.starttime:
        return row.recordstarttime, "recordstarttime (the INVITE's arrival)"
    if row.answered:
        before = max(row.callerpdd, row.calleepdd, 0)
        return row.starttime - before, "starttime (the answer) less the longer PDD"
    if profile == "vos3000" or row.callerpdd > 0:
        return row.stoptime - max(row.callerpdd, 0), \
            "stoptime less callerpdd (up to the final response)"
    return row.stoptime, "stoptime (the row has no PDD to go back by)"


def plan_row(row: Row, endings: Endings, profile: str) -> Plan:
    """The call that replays ``row`` under the switch ``endings`` describes."""
    invite, how = invite_instant(row, profile)
    candidates = endings.verdicts(row.enddirection, row.endreason)
    verdict = _choose(candidates, row, invite, endings)
    known_invite = 0 < row.recordstarttime <= row.starttime
    if verdict is not None and verdict.row == 19 and not known_invite:
        # a ring timeout: callerpdd ran to the first 18x, and the switch gave up
        # no_answer_timeout s after it
        timeout = round(endings.switch.config.no_answer_timeout * 1000)
        invite = row.stoptime - max(row.callerpdd, 0) - timeout
        how = "stoptime less the ringing (no_answer_timeout) and callerpdd (up to the 18x)"
    elif verdict is not None and verdict.row in (12, 18) and verdict.end_direction == 2 \
            and not known_invite and endings.switch.gateways:
        # down or unreachable, and the row does not show when the INVITE came (a pipe line):
        # the configuration's routes tell which, and how long timer B ran on each
        tried = [load for load in endings.switch.route_candidates(row.callee)
                 if load.config.status != "down"]
        verdict = next(v for v in candidates if v.row == (18 if tried else 12))
        invite = row.stoptime - round(TIMER_B * 1000) * len(tried)
        how = f"stoptime less timer B on each of the {len(tried)} gateways tried"
    plan = Plan(row, invite, None)
    plan.notes.append(f"the INVITE arrives at {invite} ms: {how}")
    answered = row.answered
    if verdict is None:
        # The direction still says who ended it; the replay shows which reason this switch
        # writes for that (and the comparison flags the row's reason).
        verdict = {0: CALLER_BYE if answered else CALLER_CANCEL,
                   1: CALLEE_BYE if answered else callee_rejection(503)}.get(row.enddirection)
        plan.notes.append(
            f"endReason {row.endreason} with endDirection {row.enddirection} is not an ending "
            "this switch writes; replayed as "
            + (f"row {verdict.row} ({verdict.situation})" if verdict else "a switch release"))
    plan.verdict = verdict
    _behaviour(plan, verdict, row, invite)
    return plan


def _choose(candidates: list[Verdict], row: Row, invite: int, endings: Endings
            ) -> Verdict | None:
    if not candidates:
        return None
    answered = row.answered
    after_answer = [v for v in candidates if v.row >= 21]
    before_answer = [v for v in candidates if v.row < 21]
    pool = (after_answer or candidates) if answered else (before_answer or candidates)
    if len(pool) > 1 and row.sipreasonheader:  # the Reason header the switch wrote tells apart
        same = [v for v in pool if endings.header(v) == row.sipreasonheader]
        pool = same or pool
    if len(pool) == 1:
        return pool[0]
    rows = {v.row: v for v in pool}
    ringing = (row.stoptime - invite) / 1000
    if 18 in rows and 12 in rows:  # gateways unreachable (timer B) or down (at once)
        return rows[18] if ringing >= TIMER_B - 0.5 else rows[12]
    if 27 in rows and 26 in rows:  # a refresh unanswered, or the no-timer re-INVITE cap
        return rows[27] if (row.stoptime - row.starttime) / 1000 >= TIMER_B + 5 else rows[26]
    if 1 in rows:  # illegal call: an unknown source is the common one
        return rows[1]
    return min(pool, key=lambda v: v.row)


def _behaviour(plan: Plan, verdict: Verdict | None, row: Row, invite: int) -> None:
    call, needs = plan.call, plan.needs
    answer_ms = row.starttime - invite
    held = _seconds(row.stoptime - row.starttime)
    until_end = _seconds(row.stoptime - invite)
    ring = _seconds(row.calleepdd) if row.calleepdd >= 0 else None
    if row.answered:
        callee: dict[str, Any] = {"answer_after": _seconds(answer_ms)}
        if ring is not None and ring <= callee["answer_after"] and ring > 0:
            callee["ring_after"] = ring
        call["callee_does"] = callee
    number = verdict.row if verdict is not None else 0
    if verdict is None:
        needs["switch_release"] = True
        return
    if number in SETUP_ROWS:
        needs["refusal"] = number
        if number in (6, 7, 13):
            plan.notes.append("a limit of calls at once or per second: it reproduces only with "
                              "the account's other calls (--window)")
        return
    if number == 20:
        call["caller_does"] = {"cancel_after": until_end}
        if ring is not None and ring >= until_end:  # it rang at the instant it was cancelled
            ring = max(round(until_end - 0.001, 3), 0.0)
        # a callee that sent nothing (calleepdd -1) never answers: it is "unreachable" until
        # the caller cancels, long before timer B
        call["callee_does"] = {"no_answer": True, **({"ring_after": ring} if ring else {})} \
            if ring is not None else {"unreachable": True}
        if row.sipreasonheader:
            needs["caller_reason_header"] = row.sipreasonheader
        return
    if number == 19:
        if ring is None and row.callerpdd > 0:  # a pipe line: callerpdd ran to the 18x
            ring = _seconds(row.callerpdd)
        call["callee_does"] = {"no_answer": True, **({"ring_after": ring} if ring else {})}
        needs["no_answer_timeout"] = round(until_end - (ring or 0), 3)
        return
    if number == 18 and verdict.end_direction == 2:
        call["callee_does"] = {"unreachable": True}
        return
    if number in (14, 15, 16, 17, 18) or (verdict.end_direction == 1 and not row.answered):
        code = verdict.sip_code
        if number == 14 and code == 486:
            call["callee_does"] = {"busy": True, "after": until_end}
        else:
            if verdict.end_direction == 1 and 300 <= row.endreason <= 699:
                code = row.endreason
            call["callee_does"] = {"reject": code, "after": until_end}
        if ring is not None and 0 < ring <= until_end:
            call["callee_does"]["ring_after"] = ring  # it rang (calleepdd) before it refused
        if row.sipreasonheader:
            needs["callee_reason_header"] = row.sipreasonheader
        return
    # after answer: somebody or something ends a call that was talking for ``held`` s
    if number == 21:
        call["caller_does"] = {"hangup_after": held}
        if row.sipreasonheader:
            needs["caller_reason_header"] = row.sipreasonheader
    elif number == 22:
        call["callee_does"]["hangup_after"] = held
        if row.sipreasonheader:
            needs["callee_reason_header"] = row.sipreasonheader
    else:
        longer = round(held + 60, 3)
        call["caller_does"] = {"hangup_after": longer}
        plan.notes.append(f"the caller would have talked on ({longer} s) had the switch not "
                          "ended the call")
        if number == 23:
            call["admin_disconnect_at"] = held
        elif number == 24:
            needs["prepaid_money"] = row.fee
        elif number == 25:
            needs["max_call_duration"] = held
        elif number == 26:
            needs["no_timer_cap"] = held
        elif number == 27:
            call["refresh_fails"] = True
            needs["session_ttl"] = round((held - TIMER_B) * 2, 3)
        elif number == 28:
            needs["media_timeout"] = min(held, 60.0) or 1.0
            call["media_stops_after"] = round(held - needs["media_timeout"], 3)


def spread_over_routes(plan: Plan, endings: Endings) -> None:
    """A callee's 503 makes the switch try the next matching gateway (row 18): under a known
    configuration, each gateway it tried took its share of the time the row shows."""
    if _gateways_replay_the_failover(plan, endings):
        return
    callee = plan.call.get("callee_does") or {}
    # every gateway unreachable (row 18, a server ending); not a caller's cancel
    unanswered = callee.get("unreachable") is True and plan.verdict is not None \
        and plan.verdict.row == 18
    if callee.get("reject") not in FAILOVER_CODES and not unanswered:
        return
    loads = endings.switch.route_candidates(plan.row.callee)
    up = sum(1 for load in loads if load.config.status == "up")
    unreachable = sum(1 for load in loads if load.config.status == "unreachable")
    if unanswered:
        # every gateway unreachable, yet sooner than timer B on each: the gateways that are up
        # answered 503 and the switch went on to those that never answer
        total = _seconds(plan.row.stoptime - plan.invite_ms)
        if up and unreachable and total < TIMER_B * (up + unreachable) - 0.5:
            plan.call["callee_does"] = {"reject": 503, "after": total}
            callee = plan.call["callee_does"]
        else:
            return
    if up <= 1 and not unreachable:
        return
    total = callee["after"]
    callee["after"] = round(max(total - TIMER_B * unreachable, 0) / max(up, 1), 3)
    plan.notes.append(f"{up} gateway(s) answered {callee['reject']} and {unreachable} never "
                      f"answered (timer B {TIMER_B:g} s) in the {total} s the row shows")


def _gateways_replay_the_failover(plan: Plan, endings: Endings) -> bool:
    """A failed call that ended on a later gateway, when every gateway it went through says in
    the configuration what its callees do: those behaviours replay the failover, not one
    behaviour for all of them."""
    row = plan.row
    if "callee_does" not in plan.call or (plan.verdict is not None
                                          and plan.verdict.row in (20, 22)):
        return False  # (a callee's BYE or a caller's CANCEL: its instant is the row's)
    loads = endings.switch.route_candidates(row.callee)
    names = [load.name for load in loads]
    if row.calleegatewayid not in names[1:]:
        return False
    tried = loads[:names.index(row.calleegatewayid) + 1]
    # what each gateway's callees do: an unreachable gateway never answers; one that says
    # nothing answers at once (the default)
    behaviours = [Behaviour(UNREACHABLE) if load.config.status == "unreachable" else
                  load.config.callee_does or Behaviour(ANSWER) for load in tried]
    refusals, final = behaviours[:-1], behaviours[-1]
    if any(b.kind in (ANSWER, NO_ANSWER) for b in refusals) \
            or (final.kind == ANSWER) != row.answered or final.kind == NO_ANSWER:
        return False
    del plan.call["callee_does"]
    if not 0 < row.recordstarttime <= row.starttime:
        # the row's PDDs do not show when the INVITE came: the gateways' own replies do
        spent = sum(TIMER_B if b.kind == UNREACHABLE else b.reply_after for b in refusals)
        if row.answered:
            plan.invite_ms = row.starttime - round((spent + final.answer_after) * 1000)
        else:
            spent += TIMER_B if final.kind == UNREACHABLE else final.reply_after
            plan.invite_ms = row.stoptime - round(spent * 1000)
        plan.notes.append(f"the INVITE arrives at {plan.invite_ms} ms: the gateways' replies "
                          "in the configuration place it")
    plan.notes.append(f"the call went through {len(tried)} gateways: each one's callee_does in "
                      "the configuration replays it")
    return True
