"""The decision table: who ends a call and why, for every situation the switch can meet.

This file is the single source of the rules in spec §2. It holds data, not control flow:
``SETUP_CHECKS`` is walked in order at INVITE time (first failing check wins), the callee's
final responses are looked up in ``CALLEE_REJECTIONS``, and everything that can end a call after
answer is a ``Verdict`` whose ``row`` is also its priority when two endings fall on the same
instant. The simulated and the live switch both read these rows; neither has a second copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any, Protocol

from simulator.core._reasons import EndReason as R


class Party(IntEnum):
    """``endDirection``: who ended the call."""

    CALLER = 0
    CALLEE = 1
    SERVER = 2


@dataclass(frozen=True, slots=True)
class Verdict:
    row: int
    situation: str
    end_direction: Party
    reason: R
    sip_code: int  # final response to the caller; 200 where the call ends with a BYE
    q850: int
    illegal: bool = False  # counts as an illegal call for SERVER_BILLING_RECORD_ILLEGAL_CALL
    rated: bool = True  # False: refused before rating, billingMode -1
    detail: str = ""  # the situation as docs/decision-table.md words it (generated from here)


class SetupFacts:
    """What the setup checks may ask about an arriving call: ``_state.Setup`` answers them.

    A base class rather than a protocol so that the compiled core reads each fact with a
    direct call (a protocol's attributes are looked up by name on every call setup).
    """

    __slots__ = ()

    @property
    def gateway_known(self) -> bool:
        raise NotImplementedError

    @property
    def credentials_ok(self) -> bool:
        raise NotImplementedError

    @property
    def account_disabled(self) -> bool:
        raise NotImplementedError

    @property
    def account_expired(self) -> bool:
        raise NotImplementedError

    @property
    def blacklisted(self) -> bool:
        raise NotImplementedError

    @property
    def cps_exceeded(self) -> bool:
        raise NotImplementedError

    @property
    def concurrency_full(self) -> bool:
        raise NotImplementedError

    @property
    def rate_found(self) -> bool:
        raise NotImplementedError

    @property
    def level_subscribed(self) -> bool:
        raise NotImplementedError

    @property
    def first_pulse_affordable(self) -> bool:
        raise NotImplementedError

    @property
    def route_found(self) -> bool:
        raise NotImplementedError

    @property
    def any_gateway_up(self) -> bool:
        raise NotImplementedError

    @property
    def any_gateway_free(self) -> bool:
        raise NotImplementedError


def _v(row: int, situation: str, direction: Party, reason: R, sip: int, q850: int,
       **flags: Any) -> Verdict:
    return Verdict(row, situation, direction, reason, sip, q850, **flags)


S, CALLER, CALLEE = Party.SERVER, Party.CALLER, Party.CALLEE

# --- At setup: first failing check wins --------------------------------------------------------
SETUP_CHECKS: tuple[tuple[Verdict, Callable[[SetupFacts], bool]], ...] = (
    (_v(1, "source IP not on any mapping gateway", S, R.UNAUTHORIZED_IP, 403, 21,
        illegal=True, rated=False, detail="source IP on no mapping gateway"),
     lambda f: not f.gateway_known),
    (_v(2, "wrong or missing credentials", S, R.AUTHENTICATION_FAILED, 403, 21,
        illegal=True, rated=False,
        detail="the gateway has `auth` and the credentials are wrong or missing"),
     lambda f: not f.credentials_ok),
    (_v(3, "account disabled", S, R.ACCOUNT_DISABLED, 403, 21, rated=False),
     lambda f: f.account_disabled),
    (_v(4, "account expired", S, R.ACCOUNT_EXPIRED, 403, 21, rated=False,
        detail="account expired when the call arrives"),
     lambda f: f.account_expired),
    (_v(5, "caller or callee blacklisted", S, R.BLACKLIST_MATCH, 403, 21,
        illegal=True, rated=False, detail="caller or callee on the blacklist"),
     lambda f: f.blacklisted),
    (_v(6, "calls-per-second limit exceeded", S, R.CPS_LIMIT_EXCEEDED, 503, 42, rated=False,
        detail="more than `max_cps` INVITEs in the last second, this one included"),
     lambda f: f.cps_exceeded),
    (_v(7, "concurrent-call limit reached", S, R.CONCURRENT_LIMIT_EXCEEDED, 503, 34,
        rated=False, detail="`max_concurrent` calls already up"),
     lambda f: f.concurrency_full),
    (_v(8, "no rate for the callee", S, R.RATE_NOT_FOUND, 404, 3, rated=False),
     lambda f: not f.rate_found),
    (_v(9, "account not subscribed to the call level", S, R.SERVICE_NOT_SUBSCRIBED, 403, 50,
        rated=False, detail="the rate's call level is not in `subscribed`"),
     lambda f: not f.level_subscribed),
    (_v(10, "balance cannot pay the first pulse", S, R.BALANCE_INSUFFICIENT, 403, 21,
        rated=False, detail="prepaid, and money + limit cannot pay the first pulse"),
     lambda f: not f.first_pulse_affordable),
    (_v(11, "no routing gateway prefix matches", S, R.ROUTE_NOT_FOUND, 404, 3, rated=False,
        detail="no routing gateway has a prefix of the callee"),
     lambda f: not f.route_found),
    (_v(12, "every matching gateway is down", S, R.GATEWAY_UNAVAILABLE, 503, 38, rated=False),
     lambda f: not f.any_gateway_up),
    (_v(13, "every matching gateway is at capacity", S, R.NO_AVAILABLE_ROUTE, 503, 34,
        rated=False, detail="every matching gateway is full"),
     lambda f: not f.any_gateway_free),
)

# --- Before answer -------------------------------------------------------------------------------
USER_BUSY = _v(14, "callee busy", CALLEE, R.USER_BUSY, 486, 17,
               detail="callee busy (486; 600 counts as busy too)")
UNALLOCATED = _v(15, "callee rejects 404", CALLEE, R.UNALLOCATED_NUMBER, 404, 1,
                 detail="callee rejects 404 (484, 604 too)")
DECLINED = _v(16, "callee rejects 603", CALLEE, R.CALL_REJECTED, 603, 21,
              detail="callee rejects 603 (and any 4xx-6xx the table does not name, with the "
                     "callee's code)")
CALLEE_NO_ANSWER = _v(17, "callee rejects 480", CALLEE, R.NO_ANSWER, 480, 19,
                      detail="callee rejects 480 (408 too)")
ALL_CONGESTED = _v(18, "every gateway answered 503", CALLEE, R.NETWORK_CONGESTION, 503, 42,
                   detail="every candidate failed over (503 or timer B); the last one answered "
                          "503")
ALL_UNREACHABLE = _v(18, "every gateway unreachable", S, R.GATEWAY_UNAVAILABLE, 503, 38,
                     detail="every candidate failed over; the last one never replied within "
                            "timer B (32 s)")
RING_TIMEOUT = _v(19, "ringing longer than no_answer_timeout", S, R.NO_ANSWER, 408, 18,
                  detail="ringing longer than `no_answer_timeout` (counted from the first "
                         "180/183)")
CALLER_CANCEL = _v(20, "caller cancels", CALLER, R.CALLER_HANGUP, 487, 16)

# Responses that make the switch try the next matching gateway (row 18).
FAILOVER_CODES = frozenset({503})

# A callee's final response -> verdict. Codes the contract does not name end the call the way a
# VOS3000 operator expects: the callee refused it (Call Rejected), with its own code passed on.
CALLEE_REJECTIONS: dict[int, Verdict] = {
    486: USER_BUSY, 600: replace(USER_BUSY, sip_code=600),
    404: UNALLOCATED, 484: replace(UNALLOCATED, sip_code=484),
    604: replace(UNALLOCATED, sip_code=604),
    603: DECLINED,
    480: CALLEE_NO_ANSWER, 408: replace(CALLEE_NO_ANSWER, sip_code=408, q850=18),
}
# A redirect is not followed: it is that gateway's refusal (Q.850 22, number changed).
_Q850_FOR_OTHER_CODES = {3: 22, 4: 21, 5: 41, 6: 21}


def callee_rejection(code: int) -> Verdict:
    verdict = CALLEE_REJECTIONS.get(code)
    if verdict is None:
        verdict = _OTHER_REJECTIONS.get(code)
    if verdict is None:  # one Verdict per code, made once: the switch caches by identity
        verdict = _OTHER_REJECTIONS[code] = replace(
            DECLINED, situation=f"callee rejects {code}", sip_code=code,
            q850=_Q850_FOR_OTHER_CODES.get(code // 100, 127))
    return verdict


_OTHER_REJECTIONS: dict[int, Verdict] = {}


# --- After answer: the earliest ends the call; exact ties go to the lower row ---------------------
CALLER_BYE = _v(21, "caller BYE", CALLER, R.CALLER_HANGUP, 200, 16)
CALLEE_BYE = _v(22, "callee BYE", CALLEE, R.CALLEE_HANGUP, 200, 16)
ADMIN_DISCONNECT = _v(23, "admin disconnect", S, R.SERVER_FORCED_RELEASE, 200, 16,
                      detail="operator disconnect (`admin_disconnect_at`)")
PREPAID_EXHAUSTED = _v(24, "prepaid money cannot pay the next pulse", S,
                       R.PREPAID_DURATION_EXCEEDED, 200, 16)
MAX_DURATION = _v(25, "max_call_duration reached", S, R.NORMAL_CLEARING, 200, 16,
                  detail="`max_call_duration` reached")
NO_TIMER_CAP = _v(26, "caller without session timers reached the re-INVITE cap", S,
                  R.SESSION_TIMEOUT, 200, 102,
                  detail="SIP caller without session timers reaches "
                         "`SS_SIP_NO_TIMER_REINVITE_INTERVAL`")
REFRESH_FAILED = _v(27, "session refresh unanswered for 32 s", S, R.SESSION_TIMEOUT, 408, 102,
                    detail="a session refresh (sent every TTL/SEGMENT s) gets no answer within "
                           "32 s")
MEDIA_TIMEOUT = _v(28, "no media for media_timeout s", S, R.MEDIA_TIMEOUT, 200, 41,
                   detail="no media for `media_timeout` s")


# Live mode only (a real peer can do these; a scenario's parties cannot), as variants of rows:
# a 200 of the switch is never ACKed (the caller's to its INVITE, or either side's to its
# re-INVITE): the session is lost like an unanswered refresh (row 27)
ACK_TIMEOUT = replace(REFRESH_FAILED, situation="a 200 of the switch was never ACKed "
                                                "(timer H, 32 s)",
                      detail="the caller never ACKs the 200, or either party the 200 to its own "
                             "re-INVITE (timer H, 32 s)")
# the switch stops (end of --duration, SIGINT, SIGTERM): calls in progress are released by the
# server like an operator disconnect (row 23), answered ones with BYE on both legs, the others
# with CANCEL to the gateway and 503 to the caller
SHUTDOWN_RELEASE = replace(ADMIN_DISCONNECT, situation="switch shut down: call released",
                           detail="the switch stops (end of `--duration`, SIGINT, SIGTERM) with "
                                  "the call answered")
# the switch is overloaded (too many INVITE transactions open): the INVITE is refused before
# any check with 503 and Retry-After, recorded like the concurrency refusal (row 7)
OVERLOADED = replace(SETUP_CHECKS[6][0], situation="switch overloaded: refused before the checks",
                     detail="the switch is overloaded: the INVITE is refused before the checks, "
                            "503 with Retry-After")
SHUTDOWN_BEFORE_ANSWER = replace(ADMIN_DISCONNECT, situation="switch shut down before answer",
                                 sip_code=503, q850=41,
                                 detail="the switch stops with the call not yet answered")
LIVE_VARIANTS: tuple[Verdict, ...] = (ACK_TIMEOUT, SHUTDOWN_RELEASE, SHUTDOWN_BEFORE_ANSWER,
                                      OVERLOADED)


def bye_reason_header(verdict: Verdict) -> str:
    """The Reason header of a BYE the switch sends on its own (endDirection 2), RFC 3326 form.

    It names the server's reason (``Q.850;cause=16;text="Prepaid Duration Exceeded"``) so admin,
    prepaid, session and media endings can be told apart on the wire; the CDR's
    ``sipreasonheader`` keeps the contract's protocol cause.
    """
    return f'Q.850;cause={verdict.q850};text="{verdict.reason.title}"'


TIMER_B = 32.0  # s: RFC 3261 64*T1, how long an INVITE or refresh may go unanswered

ALL_ROWS: tuple[Verdict, ...] = (
    *(verdict for verdict, _ in SETUP_CHECKS),
    USER_BUSY, UNALLOCATED, DECLINED, CALLEE_NO_ANSWER, ALL_CONGESTED, ALL_UNREACHABLE,
    RING_TIMEOUT, CALLER_CANCEL, CALLER_BYE, CALLEE_BYE, ADMIN_DISCONNECT, PREPAID_EXHAUSTED,
    MAX_DURATION, NO_TIMER_CAP, REFRESH_FAILED, MEDIA_TIMEOUT,
)

# --- Recording: whether the ending's CDR is written (spec §4's SERVER_BILLING_RECORD_*) -------
# (switch, what it suppresses, applies to (ending, holdTime)). A switch set to 0 suppresses the
# record of every call it applies to; the call is then charged nothing (a revenue gap).
RECORDING_SWITCHES: tuple[tuple[str, str, Callable[[Verdict, int], bool]], ...] = (
    ("SERVER_BILLING_RECORD_SERVER_HANG_UP", "the server ended the call (endDirection 2)",
     lambda verdict, hold: verdict.end_direction == Party.SERVER),
    ("SERVER_BILLING_RECORD_ZERO_HOLD_TIME", "holdTime is 0",
     lambda verdict, hold: hold == 0),
    ("SERVER_BILLING_RECORD_ILLEGAL_CALL", "an illegal call (rows 1, 2 and 5)",
     lambda verdict, hold: verdict.illegal),
)


class RecordingSettings(Protocol):
    SERVER_BILLING_RECORD_SERVER_HANG_UP: int
    SERVER_BILLING_RECORD_ZERO_HOLD_TIME: int
    SERVER_BILLING_RECORD_ILLEGAL_CALL: int


def suppressed_by(settings: RecordingSettings, verdict: Verdict,
                  hold_time: int) -> tuple[tuple[str, str], ...]:
    """(switch, why) of every recording switch that suppresses this ending's CDR; () = written."""
    return tuple((name, why) for name, why, applies in RECORDING_SWITCHES
                 if not getattr(settings, name) and applies(verdict, hold_time))


def records_everything(settings: RecordingSettings) -> bool:
    """No recording switch is 0: every CDR is written, whatever the ending."""
    return all(getattr(settings, name) for name, _, _ in RECORDING_SWITCHES)


def verdict_of_row(row: int, situation: str = "") -> Verdict:
    """The table's verdict of ``row``: the one of that ``situation`` where a row has several
    (row 18: every gateway answered 503, or none was reachable), else the row's first.
    Codes a callee may answer outside the table share their row's recording facts."""
    same_row = [verdict for verdict in ALL_ROWS if verdict.row == row]
    if not same_row:
        raise ValueError(f"the decision table has no row {row}")
    return next((v for v in same_row if v.situation == situation), same_row[0])


# --- The observed numbering (``end_reason_style: negative``, the vos3000 profile's default) -----
# What real VOS3000 rows carry (docs/cdr-formats.md cites them). The caller's release, before or
# after answer, is -7 and the callee's BYE -8; a callee's final response is its own SIP code (an
# H.323 callee's: its Q.850 cause); an illegal call is -9 and no routing gateway for the callee
# -69. The other server endings have no public number: each row gets PLACEHOLDER_BASE + its row,
# negated (-112 every gateway down, -124 prepaid cut-off …), distinct and not confirmed by real
# data, and ``end_reason_codes`` renumbers them by reason.
CALLER_RELEASE, CALLEE_RELEASE, ILLEGAL_CALL, NO_ROUTE = -7, -8, -9, -69
PLACEHOLDER_BASE = 100
OBSERVED_CODES: dict[int, int] = {
    CALLER_CANCEL.row: CALLER_RELEASE, CALLER_BYE.row: CALLER_RELEASE,
    CALLEE_BYE.row: CALLEE_RELEASE,
    **{verdict.row: ILLEGAL_CALL for verdict, _ in SETUP_CHECKS if verdict.illegal},
    SETUP_CHECKS[10][0].row: NO_ROUTE,
}
# (name, category) of the observed codes that are not a row's own reason.
OBSERVED_NAMES: dict[int, tuple[str, str]] = {
    CALLER_RELEASE: (R.CALLER_HANGUP.title, R.CALLER_HANGUP.category),
    CALLEE_RELEASE: (R.CALLEE_HANGUP.title, R.CALLEE_HANGUP.category),
    ILLEGAL_CALL: ("Illegal Call", "Security"),
    NO_ROUTE: ("No Available Route", "Routing"),
}


def is_callee_response(verdict: Verdict) -> bool:
    """Whether the ending is the callee's own final response (rows 14-18, endDirection 1)."""
    return verdict.end_direction == Party.CALLEE and verdict.row != CALLEE_BYE.row


def placeholder_code(verdict: Verdict) -> int:
    """The documented stand-in for a server ending whose real number is not public."""
    return -(PLACEHOLDER_BASE + verdict.row)


def observed_end_reason(verdict: Verdict, callee_protocol: str,
                        overrides: dict[R, int]) -> tuple[int, str, str]:
    """(endReason, name, category) of an ending in the observed numbering.

    ``overrides`` (``end_reason_codes``) renumber any ending by its reason, except a callee's
    final response, which is always the callee's own code: that is what real rows show.
    """
    reason = verdict.reason
    if is_callee_response(verdict):
        code = verdict.sip_code if callee_protocol == "sip" else verdict.q850
        return code, reason.title, reason.category
    observed = OBSERVED_CODES.get(verdict.row)
    if observed is None:
        return overrides.get(reason, placeholder_code(verdict)), reason.title, reason.category
    name, category = OBSERVED_NAMES.get(observed, (reason.title, reason.category))
    return overrides.get(reason, observed), name, category


def observed_code_clash(overrides: dict[R, int]) -> str | None:
    """Why ``end_reason_codes`` would make one observed number mean two things (None: fine).

    A renumbered ending must keep a number of its own: not another ending's, and not one a
    callee's final response can carry (a SIP code 300-699, an H.323 callee's Q.850 cause 1-127).
    """
    for reason, code in overrides.items():
        if 300 <= code <= 699 or 1 <= code <= 127:
            return (f"{reason.title} cannot be {code}: under the observed numbering that is a "
                    "callee's own code (SIP 300-699, Q.850 1-127)")
        for verdict in ALL_ROWS:
            if verdict.reason is reason or is_callee_response(verdict):
                continue
            if observed_end_reason(verdict, "sip", overrides)[0] == code:
                return (f"{reason.title} cannot be {code}: row {verdict.row} "
                        f"({verdict.reason.title}) already writes it")
    return None
