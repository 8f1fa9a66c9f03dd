"""Planned calls: the call state machine driven without an agenda, for scripts known at setup.

Theory of operation
-------------------
A ``Call`` keeps an agenda of everything that may happen to it and processes it entry by entry,
because in general (live mode, a scenario's ``calls:``) nobody knows ahead what the parties will
do. A generated call is different: its whole script (when the callee rings, answers or refuses,
when each party hangs up, whether media stops or a refresh fails) is drawn before it arrives.
For such a call the entries that can settle its course are few and known, so a ``PlannedCall``
works out which of them comes first, by the same order the agenda uses (time, then ``Kind`` =
decision-table row), and is woken only there.

Only the *order* is derived here. Every state change is the ``Call``'s own: the setup checks
(``start``), gateway selection and failover (``_try_next_gateway`` and the reject and timer-B
handlers), ringing and answer (``_take_ringing``, ``_take_answer``), prepaid pulses
(``_pay_pulse``), the endings' handlers and ``_end`` with its billing. What is private to the call
(a 180, the 200, lost media) is applied as soon as it is known to come first; what touches shared
state (an ending, a failover, a pulse) waits for the clock, exactly where an eager ``Call`` would
be woken (``Call.advance_private``).

The order rules re-derived here, each mirroring the agenda:

* an attempt is settled by the earliest of answer (row 13), reject (14), timer B (18, only when
  no 180 came first), the no-answer timer (19, from the first 180) and the caller's CANCEL (20);
  the 180 counts when it is not later than that;
* an answered call ends at the earliest of caller BYE (21), callee BYE (22), operator (23),
  max duration (25), the no-timer cap (26), the failing refresh's timer B (27) and the media
  timeout (28, only when media stopped before the other endings);
* prepaid pulses (24) are paid one at a time on the clock; a pulse is skipped, and no later one
  planned, when a row 25-28 entry falls on its very instant (an answered refresh's stale timer B
  included), as ``Call._on_pulse`` does.

``tests/test_eager.py`` compares the CDRs of planned calls byte for byte with the full machine's
on generated traffic of every branch; a change to the agenda's order must be mirrored here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from simulator.core import _decisions as table
from simulator.core._config import ANSWER, NO_ANSWER, UNREACHABLE, Behaviour
from simulator.core._state import _TALK_ENDINGS, Call, CallAttempt, Kind, Phase, Switch

if TYPE_CHECKING:
    from simulator.core._state import _AccountState, _GatewayLoad

# Final: the compiled core keeps them as constants instead of looking them up on every use.
NEVER: Final = math.inf  # a call nothing ends: the transport reports it
_TIMER_B: Final = table.TIMER_B
_ENDED: Final = Phase.ENDED
_PULSE: Final = Kind.PULSE
_REFRESH_TIMEOUT: Final = Kind.REFRESH_TIMEOUT
_REFRESH_FAILED: Final = table.REFRESH_FAILED


class Script(CallAttempt):
    """One call attempt as it reaches the switch and what its parties do: an explicit call of
    a scenario or one ``generated`` by a traffic profile (``simulator.traffic``), whose script
    is known whole when it arrives and so runs as a ``PlannedCall``. ``callee_does`` None: the
    routing gateway's own behaviour. It is the call's ``CallAttempt`` itself, so a generated
    call goes from the traffic's columns to the switch without a copy."""

    __slots__ = ("account", "admin_disconnect_at", "callee_does", "caller_hangup",
                 "cancel_after", "generated", "media_stops_after", "refresh_failing_leg")

    def __init__(self, call_id: str, at: float, source_ip: str, caller: str, callee: str,
                 callee_does: Behaviour | None, credentials: tuple[str, str] | None = None,
                 caller_hangup: float | None = None, cancel_after: float | None = None,
                 media_stops_after: float | None = None,
                 refresh_failing_leg: str | None = None,
                 admin_disconnect_at: float | None = None, account: str = "",
                 generated: bool = False) -> None:
        # The attempt's fields set here, not by super().__init__: one frame less per generated
        # call on the pure core.
        self.call_id = call_id
        self.at = at
        self.source_ip = source_ip
        self.caller = caller
        self.callee = callee
        self.credentials = credentials
        self.callee_does = callee_does
        self.caller_hangup = caller_hangup
        self.cancel_after = cancel_after
        self.media_stops_after = media_stops_after
        self.refresh_failing_leg = refresh_failing_leg
        self.admin_disconnect_at = admin_disconnect_at
        self.account = account
        self.generated = generated  # made by a traffic profile: random instants, no ties


def generated_scripts(call_ids: list[str], ats: list[float], sources: list[str],
                      callers: list[str], callees: list[str], kinds: list[int],
                      ring_after: list[float], answer_after: list[float],
                      callee_hangup: list[float | None], reply_after: list[float],
                      caller_hangup: list[float | None], cancel_after: list[float | None],
                      media_stops_after: list[float | None],
                      refresh_failing_leg: list[str | None],
                      admin_disconnect_at: list[float | None],
                      credentials: tuple[str, str] | None, account: str) -> list[Script]:
    """A traffic profile's drawn columns (one row per call) as its calls' scripts.

    Here rather than in ``simulator.traffic`` so that the compiled core builds each script and
    its callee's ``Behaviour`` with direct constructor calls, not argument tuples.
    """
    return [Script(call_id, at, source, caller, callee,
                   Behaviour(kind, ring, answer, callee_bye, reply), credentials, caller_bye,
                   cancel, media, refresh, admin, account, True)
            for call_id, at, source, caller, callee, kind, ring, answer, callee_bye, reply,
            caller_bye, cancel, media, refresh, admin
            # no strict=: the columns are slices of one block, and mypyc loops over a plain zip
            in zip(call_ids, ats, sources, callers, callees, kinds, ring_after, answer_after,  # noqa: B905
                   callee_hangup, reply_after, caller_hangup, cancel_after, media_stops_after,
                   refresh_failing_leg, admin_disconnect_at)]


class CallNeverEnds(Exception):
    """Nothing in the script or the switch's limits can end this call (``answered``: once up)."""

    def __init__(self, call_id: str, answered: bool) -> None:
        super().__init__(call_id)
        self.call_id = call_id
        self.answered = answered


class PlannedCall(Call):
    """A ``Call`` whose parties' script is known when it arrives. ``begin`` runs the setup and
    returns the first instant the call must be woken at; ``wake(now)`` handles what is due and
    returns the next instant, or None once the call has ended."""

    __slots__ = ("_cancel_at", "_due_arg", "_due_at", "_due_kind", "_ending_at", "_ending_kind",
                 "_next_pulse", "_ok", "_stale_refreshes", "callbacks", "callee_does", "script")

    def __init__(self, switch: Switch, script: Script, index: int) -> None:
        super().__init__(switch, script, index)
        behaviour = script.callee_does
        if behaviour is None:
            raise ValueError("a planned call needs its callee's behaviour")
        self.script = script  # the attempt itself, read as its Script
        self.callee_does: Behaviour = behaviour  # the script's, known not None
        # A planned call can sit on a transport's event queue as itself, with no wake-up object:
        # what to run when it is popped, and that it is an ordinary (not a failed) entry. These
        # are the two attributes simpy's ``Environment.step`` reads of what it pops.
        self.callbacks: list[Callable[[PlannedCall], None]] | None = None
        self._ok = True
        cancel = script.cancel_after
        self._cancel_at = None if cancel is None else script.at + cancel
        self._due_at = NEVER
        self._due_kind = Kind.CALLER_CANCEL
        self._due_arg: object = None
        self._ending_at = NEVER     # the answered call's earliest ending ...
        self._ending_kind = Kind.CALLER_BYE  # ... and its row
        self._next_pulse: float | None = None
        # Refreshing legs whose re-INVITEs are answered: the instant of the next one, by leg.
        self._stale_refreshes: list[float] | None = None

    # -- driving --------------------------------------------------------------------------------
    def begin(self) -> float | None:
        self.start()
        return None if self.phase is _ENDED else self._due_at

    def wake(self, now: float) -> float | None:
        """Handle every planned entry due at or before ``now`` (in order)."""
        at = self._due_at
        while at <= now:
            self.now = at
            kind = self._due_kind
            if kind is _PULSE:
                self._pulse(at)
            elif kind is _REFRESH_TIMEOUT:
                self._end(at, _REFRESH_FAILED)
            elif kind in _TALK_ENDINGS:  # planned only while the call is up
                self._end(at, _TALK_ENDINGS[kind])
            else:
                self._HANDLERS[kind](self, at, self._due_arg)
            if self.phase is _ENDED:
                return None
            at = self._due_at
        return at

    def _due(self, at: float, kind: Kind, arg: object = None) -> None:
        self._due_at = at
        self._due_kind = kind
        self._due_arg = arg

    # -- before answer --------------------------------------------------------------------------
    def _send_invite(self, now: float, load: _GatewayLoad) -> None:
        behaviour = self.callee_does
        ring = answer = reject = None
        if load.config.status != "unreachable":
            kind = behaviour.kind
            if kind == ANSWER:
                ring = now + behaviour.ring_after
                answer = now + behaviour.answer_after
            elif kind == NO_ANSWER:
                ring = now + behaviour.ring_after
            elif kind != UNREACHABLE:
                reject = now + behaviour.reply_after
                if behaviour.ring_after > 0:  # rings first (Behaviour.responses)
                    ring = now + behaviour.ring_after
        # Candidates in rising Kind order: a later one wins only by being strictly earlier.
        at, settles = NEVER, None
        if answer is not None:
            at, settles = answer, Kind.GATEWAY_ANSWER
        elif reject is not None:
            at, settles = reject, Kind.GATEWAY_REJECT
        timer_b = now + _TIMER_B
        if (ring is None or ring > timer_b) and timer_b < at:
            at, settles = timer_b, Kind.GATEWAY_TIMEOUT
        no_answer = self.switch.config.no_answer_timeout
        if ring is not None and no_answer > 0 and ring + no_answer < at:
            at, settles = ring + no_answer, Kind.RING_TIMEOUT
        cancel = self._cancel_at
        if cancel is not None and cancel < at:
            at, settles = cancel, Kind.CALLER_CANCEL
        if ring is not None and ring <= at:  # row 1 comes before every row at the same instant
            self.now = ring
            self._take_ringing(ring)
        if settles is None:
            raise CallNeverEnds(self.attempt.call_id, answered=False)
        if settles is Kind.GATEWAY_ANSWER:  # private: taken now, as an eager call would
            self.now = at
            self._take_answer(at)
            self._plan_talk(at)
        elif settles is Kind.GATEWAY_REJECT:
            self._due(at, settles, (self.attempts, behaviour.kind))
        elif settles is Kind.CALLER_CANCEL:
            self._due(at, settles)
        else:
            self._due(at, settles, self.attempts)

    # -- after answer ---------------------------------------------------------------------------
    def _plan_talk(self, answer: float) -> None:
        script = self.script
        config = self.switch.config
        at, ends = NEVER, Kind.CALLER_BYE
        if script.caller_hangup is not None:
            at = answer + script.caller_hangup
        hangup = self.callee_does.hangup_after
        if hangup is not None and answer + hangup < at:
            at, ends = answer + hangup, Kind.CALLEE_BYE
        if script.admin_disconnect_at is not None and answer + script.admin_disconnect_at < at:
            at, ends = answer + script.admin_disconnect_at, Kind.ADMIN_DISCONNECT
        scripted = at < NEVER
        media, failing = script.media_stops_after, script.refresh_failing_leg
        if not scripted and not self.server_will_end(media_stops=media is not None,
                                                     refresh_fails=failing is not None):
            raise CallNeverEnds(self.attempt.call_id, answered=True)
        if config.max_call_duration > 0 and answer + config.max_call_duration < at:
            at, ends = answer + config.max_call_duration, Kind.MAX_DURATION
        if config.SS_SIP_SESSION_TTL > 0:
            interval = self.switch.refresh_interval
            caller_sip = self.caller_protocol == "sip"
            legs = []
            if caller_sip and self.session_timer:
                legs.append("caller")
            elif caller_sip and config.SS_SIP_NO_TIMER_REINVITE_INTERVAL > 0:
                cap = answer + config.SS_SIP_NO_TIMER_REINVITE_INTERVAL
                if cap < at:
                    at, ends = cap, Kind.NO_TIMER_CAP
            gateway: _GatewayLoad = self.gateway  # type: ignore[assignment]  # it answered
            if gateway.config.protocol == "sip":
                legs.append("callee")
            for leg in legs:
                if leg == failing:  # its first re-INVITE goes unanswered for timer B
                    timeout = answer + interval + _TIMER_B
                    if timeout < at:
                        at, ends = timeout, _REFRESH_TIMEOUT
                elif self._stale_refreshes is None:
                    self._stale_refreshes = [answer + interval]
                else:
                    self._stale_refreshes.append(answer + interval)
        if media is not None and config.media_timeout > 0:
            stops = answer + media
            if stops <= at and stops + config.media_timeout < at:
                at, ends = stops + config.media_timeout, Kind.MEDIA_TIMEOUT
        self._ending_at, self._ending_kind = at, ends
        account: _AccountState = self.account  # type: ignore[assignment]  # set at setup
        if account.wallet.prepaid:
            self._next_pulse = answer
        self._plan_next()

    def _plan_next(self) -> None:
        pulse, at = self._next_pulse, self._ending_at
        if pulse is not None and (pulse < at or (pulse == at and self._ending_kind > _PULSE)):
            self._due(pulse, _PULSE)
        elif at < NEVER:
            self._due(at, self._ending_kind)
        else:
            raise CallNeverEnds(self.attempt.call_id, answered=False)

    def _pulse(self, now: float) -> None:
        if self._ending_at == now or self._stale_timer_b_at(now):
            self._next_pulse = None  # an ending due at this instant wins (``Call._on_pulse``)
        else:
            self._next_pulse = self._pay_pulse(now)
            if self.phase is _ENDED:
                return
        self._plan_next()

    def _stale_timer_b_at(self, now: float) -> bool:
        """Whether an answered refresh's timer B (still on a full agenda) falls on ``now``."""
        stale = self._stale_refreshes
        if not stale:
            return False
        interval = self.switch.refresh_interval
        for i, sent in enumerate(stale):
            while sent + _TIMER_B < now:
                sent += interval
            stale[i] = sent
            if sent + _TIMER_B == now:
                return True
        return False
