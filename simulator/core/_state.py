"""The call state machine: everything that decides how a call runs and ends lives in this file.

Theory of operation
-------------------
The core is sans-I/O. A ``Switch`` holds what calls share (balances, concurrency, CPS windows,
gateway load); a ``Call`` is one call's state machine. Neither reads a clock, sleeps, opens a
socket or writes a file. A transport drives them:

* the simulator (``simulator.transports._simulated``) on simpy's simulated clock, feeding the
  party script of a scenario;
* live mode on a real SIP stack, feeding what arrives on the wire.

Everything that happens to a call is an entry on the call's *agenda*: ``(time, kind, seq, arg)``.
Timers the core starts itself (timer B, no-answer, pulses, session refresh, media timeout, max
duration) and events the transport reports (a 180 from the gateway, the caller's BYE) go through
the same agenda, and ``Call.advance(now)`` processes every due entry in order of time, then of
``Kind`` value. ``Kind`` values are the decision-table row numbers of the endings they cause, so an
exact tie between two endings is settled by the table's order: a caller BYE (row 21) and a pulse
boundary (row 24) at the same instant end as a caller hangup before the pulse is looked at. A
pulse that falls on the same instant as a later-row ending (25-28) is not reserved either: the
call ends there, so nobody would use it.

Phases::

    NEW --setup checks fail--> ENDED                     (rows 1-13)
    NEW --INVITE to gateway--> TRYING --18x--> RINGING --200--> TALKING --any ending--> ENDED
                               TRYING/RINGING --503 / timer B--> TRYING (next gateway, row 18)
                               TRYING/RINGING --final error, timeout, CANCEL--> ENDED (14-20)

The core tells the transport what to do through the ``Signalling`` port (four calls), and keeps
an optional message ladder (``Call.trace``) of what the switch saw and sent, interleaved with its
own decisions: ``(t, EVENT, kind, event)`` entries, typed by ``_events``, for each setup
check, each gateway tried and why it was left, timers started, stopped and fired, each prepaid
pulse (with the account's balance and the other calls holding money), RTP stopping and the
ending's row. All of it is recorded only
when the switch was built with ``trace=True``; without it no event is built at all.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from decimal import Decimal
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from simulator.core import _decisions as table
from simulator.core import _events as ev
from simulator.core._decisions import Party, Verdict
from simulator.core._rating import ZERO, Rate, RateTable, Wallet, round_money
from simulator.core._reasons import q850_text, sip_phrase

if TYPE_CHECKING:
    from simulator.core._config import (
        AccountConfig,
        CoreConfig,
        MappingGatewayConfig,
        RoutingGatewayConfig,
    )


# Final: the compiled core keeps them as constants instead of looking them up on every use.
_ROUTE_PLAN_CACHE: Final = 100_000  # callee heads remembered (long prefixes: many of them)
_BILL_CACHE: Final = 100_000  # (rate, holdTime) pairs remembered
_INVITES_KEPT: Final = 1024  # INVITEs past the one-second window kept before they are dropped
_ZERO: Final = ZERO
_TIMER_B: Final = table.TIMER_B
_FAILOVER_CODES: Final = table.FAILOVER_CODES
_RING_TIMEOUT: Final = table.RING_TIMEOUT
_CALLER_CANCEL: Final = table.CALLER_CANCEL
_PREPAID_EXHAUSTED: Final = table.PREPAID_EXHAUSTED


class Phase(IntEnum):
    NEW = 0
    TRYING = 1
    RINGING = 2
    TALKING = 3
    ENDED = 4


class Kind(IntEnum):
    """Agenda entry kinds. The value is the tie-break priority (= decision-table row)."""

    MEDIA_STOPPED = 0       # transport: RTP stopped flowing (starts the media timer)
    GATEWAY_RINGING = 1     # transport: 180/183 (H.225 Alerting) from the gateway
    GATEWAY_ANSWER = 13     # transport: 200 (Connect) from the gateway
    GATEWAY_REJECT = 14     # transport: final error from the gateway, arg = code
    GATEWAY_TIMEOUT = 18    # core: timer B on the INVITE to the gateway
    RING_TIMEOUT = 19       # core: no_answer_timeout after the first 18x
    CALLER_CANCEL = 20      # transport: CANCEL from the caller
    CALLER_BYE = 21         # transport
    CALLEE_BYE = 22         # transport
    ADMIN_DISCONNECT = 23   # transport (operator)
    PULSE = 24              # core: a prepaid pulse starts and must be reserved
    MAX_DURATION = 25       # core
    NO_TIMER_CAP = 26       # core: SS_SIP_NO_TIMER_REINVITE_INTERVAL for non-timer callers
    REFRESH_TIMEOUT = 27    # core: a session refresh went unanswered for timer B
    MEDIA_TIMEOUT = 28      # core
    ACK_TIMEOUT = 29        # transport (live): a 200 (to an INVITE, a re-INVITE) unACKed (row 27)
    SHUTDOWN = 30           # transport (live): the switch stops with the call in progress
    REFRESH_DUE = 40        # core: time to send a session refresh, arg = leg
    REFRESH_ANSWERED = 41   # transport: the refresh got its 200, arg = leg


EVENT = "*"  # the ``src`` of a trace entry that is a core event, not a message


class Leg(IntEnum):
    CALLER = 0
    CALLEE = 1


# Endings after answer, by the agenda kind that causes them.
_TALK_ENDINGS: Final[dict[Kind, Verdict]] = {
    Kind.CALLER_BYE: table.CALLER_BYE,
    Kind.CALLEE_BYE: table.CALLEE_BYE,
    Kind.ADMIN_DISCONNECT: table.ADMIN_DISCONNECT,
    Kind.MAX_DURATION: table.MAX_DURATION,
    Kind.NO_TIMER_CAP: table.NO_TIMER_CAP,
    Kind.MEDIA_TIMEOUT: table.MEDIA_TIMEOUT,
    Kind.ACK_TIMEOUT: table.ACK_TIMEOUT,
}


# Endings caused by the core's own timers, by the name the trace gives them.
_TIMER_NAMES: Final = {Kind.MAX_DURATION: "max-duration", Kind.NO_TIMER_CAP: "no-timer cap",
                       Kind.MEDIA_TIMEOUT: "media", Kind.ACK_TIMEOUT: "ACK (timer H)"}

_BEFORE_ANSWER: Final = frozenset((Kind.GATEWAY_RINGING, Kind.GATEWAY_ANSWER,
                                   Kind.GATEWAY_REJECT, Kind.GATEWAY_TIMEOUT, Kind.RING_TIMEOUT,
                                   Kind.CALLER_CANCEL))

# Entries whose handlers only move the call's own state (see ``Call.advance_private``).
_PRIVATE_KINDS: Final = frozenset((Kind.MEDIA_STOPPED, Kind.GATEWAY_RINGING,
                                   Kind.GATEWAY_ANSWER, Kind.REFRESH_DUE, Kind.REFRESH_ANSWERED))

# Endings that may share an instant with a pulse boundary and then win over the pulse.
_LATER_ENDINGS: Final = frozenset((*_TALK_ENDINGS, Kind.REFRESH_TIMEOUT))


class Signalling(Protocol):
    """What the core asks of its transport."""

    def invite_gateway(self, call: Call, gateway: RoutingGatewayConfig) -> None: ...
    def answered(self, call: Call) -> None: ...
    def send_refresh(self, call: Call, leg: Leg) -> None: ...
    def released(self, call: Call) -> None: ...


class Recorder:
    """Takes the released calls in place of ``Signalling.released`` when ``Switch.recorder`` is
    set (``_cdr.Records``, a batch run's records). A native base rather than a protocol, so that
    the compiled core hands each call over with a direct call, never entering the interpreter.
    """

    __slots__ = ()

    def released(self, call: Call) -> None:
        raise NotImplementedError


class CallAttempt:
    """An INVITE as it reaches the switch: everything the setup checks look at."""

    __slots__ = ("at", "call_id", "callee", "caller", "credentials", "source_ip")

    def __init__(self, call_id: str, at: float, source_ip: str, caller: str, callee: str,
                 credentials: tuple[str, str] | None = None) -> None:
        self.call_id = call_id
        self.at = at
        self.source_ip = source_ip
        self.caller = caller
        self.callee = callee
        self.credentials = credentials


class _GatewayLoad:
    __slots__ = ("active", "calls", "capacity", "config", "name", "up")

    def __init__(self, name: str, config: RoutingGatewayConfig, tracing: bool = False) -> None:
        self.name = name
        self.active = 0
        # Traced runs only: the calls holding a channel of this gateway now, call id -> Call.
        self.calls: dict[str, Any] | None = {} if tracing else None
        self.configure(config)

    def configure(self, config: RoutingGatewayConfig) -> None:
        """The gateway's settings from now on (an outage starts or ends)."""
        self.config = config
        self.up = config.status != "down"  # read by every setup: kept as plain attributes
        self.capacity = config.capacity

    @property
    def free(self) -> float:
        capacity = self.capacity
        return float("inf") if capacity is None else capacity - self.active


class _AccountState:
    __slots__ = ("active", "calls", "config", "expires_epoch", "holders", "invites",
                 "invites_from", "name", "rates", "wallet")

    def __init__(self, name: str, config: AccountConfig, rates: RateTable,
                 tracing: bool) -> None:
        self.name = name
        self.config = config
        self.rates = rates
        self.wallet = Wallet(config.money, config.limit_money, config.type == "prepaid")
        self.active = 0
        # The INVITEs of the last second are invites[invites_from:]: a list and an index
        # rather than a deque, which the compiled core would reach through method calls.
        self.invites: list[float] = []
        self.invites_from = 0
        self.expires_epoch = config.expires_epoch  # worked out once, not per call
        # Traced runs only: the calls holding prepaid reservations now, call id -> amount.
        self.holders: dict[str, Any] | None = {} if tracing else None
        # Traced runs only: the calls counted against the concurrent-call limit now.
        self.calls: dict[str, Any] | None = {} if tracing else None


class Switch:
    """Shared state of the softswitch and the factory of calls."""

    def __init__(self, config: CoreConfig, signalling: Signalling, *, trace: bool = False) -> None:
        self.setup = config  # what it was built from (``simulator.scenario._core.core_config``)
        self.config = config.switch
        self.signalling = signalling
        self.recorder: Recorder | None = None  # set: released calls go there, not to signalling
        self.tracing = trace
        self.start_epoch = config.start_epoch
        tables = {name: RateTable(list(rates)) for name, rates in config.rate_tables.items()}
        self.accounts = {name: _AccountState(name, acc, tables[acc.rate_table], trace)
                         for name, acc in config.accounts.items()}
        self.gateway_by_ip: dict[str, tuple[str, MappingGatewayConfig]] = {}
        for name, gw in config.mapping_gateways.items():
            for ip in gw.ips:
                self.gateway_by_ip[ip] = (name, gw)
        self.gateways = {name: _GatewayLoad(name, gw, trace)
                         for name, gw in config.routing_gateways.items()}
        self._routes_by_prefix: dict[str, list[_GatewayLoad]] = {}
        for load in self.gateways.values():
            for prefix in load.config.prefixes:
                self._routes_by_prefix.setdefault(prefix, []).append(load)
        self._route_lengths = sorted({len(p) for p in self._routes_by_prefix}, reverse=True)
        self._blacklist = frozenset(config.blacklist)
        self._blacklist_lengths = sorted({len(p) for p in self._blacklist}, reverse=True)
        self.reason_numbers = config.switch.reason_numbers
        self.records_everything = table.records_everything(config.switch)
        settings = config.switch
        self.refresh_interval = (settings.SS_SIP_SESSION_TTL
                                 / settings.SS_SIP_SESSION_UPDATE_SEGMENT)
        self._route_head = self._route_lengths[0] if self._route_lengths else 0
        self._plans_by_prefixes: dict[tuple[str, ...], Any] = {}
        self._route_plans: dict[str, Any] = {}  # by the callee's first _route_head digits
        self._endings: dict[tuple[int, str], tuple[Verdict, tuple[int, int, str, str, str]]] = {}
        # The observed numbering (``negative``) also reads the callee's protocol: its own key.
        self.observed = config.switch.end_reason_style == "negative"
        self._observed: dict[tuple[int, str, str],
                             tuple[Verdict, tuple[int, int, str, str, str]]] = {}
        self.vos3000 = config.switch.cdr_profile == "vos3000"
        # Whether any routing gateway names its vendor's account (the CDR's agent columns).
        self.vendors = any(gw.account for gw in config.routing_gateways.values())
        self._bills: dict[tuple[int, int], tuple[int, Decimal]] = {}

    # -- lookups used by the setup checks -------------------------------------------------------
    def is_blacklisted(self, number: str) -> bool:
        blacklist = self._blacklist
        if not blacklist:  # the usual case; skipping the generator matters under load
            return False
        return any(number[:n] in blacklist for n in self._blacklist_lengths if n <= len(number))

    def route_candidates(self, callee: str) -> list[_GatewayLoad]:
        """Matching gateways: longest prefix, then lowest priority, most free capacity, name.

        The order by prefix length, priority and name is fixed per set of matching prefixes and
        cached; only gateways tied on length and priority are re-ordered by their free capacity
        at call time. The returned list is shared: callers must not change it.
        """
        # Which prefixes match depends only on the callee's first (longest prefix) digits.
        head = callee[:self._route_head]
        plan = self._route_plans.get(head)
        if plan is None:
            routes = self._routes_by_prefix
            key = tuple(prefix for n in self._route_lengths
                        if n <= len(head) and (prefix := head[:n]) in routes)
            plan = self._plans_by_prefixes.get(key)
            if plan is None:
                plan = self._plans_by_prefixes[key] = self._plan_routes(key)
            if len(self._route_plans) < _ROUTE_PLAN_CACHE:
                self._route_plans[head] = plan
        ordered, ties = plan
        if not ties:
            return ordered
        out: list[_GatewayLoad] = []
        for group in ties:
            out.extend(group if len(group) == 1 else sorted(group, key=_most_free))
        return out

    def _plan_routes(self, prefixes: tuple[str, ...]) -> tuple[list[_GatewayLoad],
                                                               list[list[_GatewayLoad]]]:
        seen: dict[str, tuple[int, _GatewayLoad]] = {}
        for prefix in prefixes:  # longest first
            for load in self._routes_by_prefix[prefix]:
                seen.setdefault(load.name, (len(prefix), load))
        ranked = sorted(seen.values(), key=lambda item: (-item[0], item[1].config.priority,
                                                         item[1].name))
        groups: dict[tuple[int, int], list[_GatewayLoad]] = {}
        for length, load in ranked:
            groups.setdefault((length, load.config.priority), []).append(load)
        ordered = [load for _, load in ranked]
        tied = any(len(group) > 1 for group in groups.values())
        return ordered, list(groups.values()) if tied else []

    def ending_fields(self, verdict: Verdict, protocol: str) -> tuple[int, int, str, str, str]:
        """(endReason, endDirection, sipreasonheader, reason name, category) of an ending.

        They depend only on the verdict, the caller's protocol and the switch's settings, so
        they are worked out once per pair.
        """
        key = (id(verdict), protocol)  # verdicts are the table's own objects: hashing by value
        known = self._endings.get(key)  # (frozen dataclass fields) costs more than the lookup
        if known is None or known[0] is not verdict:
            reason = verdict.reason
            known = self._endings[key] = (verdict, (
                _end_reason(self, verdict, protocol), int(verdict.end_direction),
                _sip_reason_header(verdict, protocol), reason.title, reason.category))
        return known[1]

    def observed_fields(self, verdict: Verdict, protocol: str,
                        callee_protocol: str) -> tuple[int, int, str, str, str]:
        """``ending_fields`` in the observed numbering (``end_reason_style: negative``), where a
        callee's final response is its own code in its own protocol."""
        key = (id(verdict), protocol, callee_protocol)
        known = self._observed.get(key)
        if known is None or known[0] is not verdict:
            code, name, category = table.observed_end_reason(
                verdict, callee_protocol, self.config.end_reason_overrides)
            known = self._observed[key] = (verdict, (
                code, int(verdict.end_direction), _sip_reason_header(verdict, protocol), name,
                category))
        return known[1]

    def callee_protocol(self, gateway_name: str) -> str:
        """The protocol of the routing gateway a call ended on ("sip" when it reached none)."""
        load = self.gateways.get(gateway_name)
        return load.config.protocol if load is not None else "sip"

    def bill(self, rate: Rate, hold_seconds: int) -> tuple[int, Decimal]:
        """(feeTime, fee rounded half up to the configured places) of a call's holdTime.

        A pure function of the rate and the whole seconds, so each pair is worked out once: a
        load run bills millions of calls over a few thousand distinct pairs.
        """
        key = (id(rate), hold_seconds)  # the rates live as long as the switch's tables
        billed = self._bills.get(key)
        if billed is None:
            fee_time, raw = rate.bill(hold_seconds)
            billed = fee_time, round_money(raw, self.config.SERVER_BILLING_FEE_PRECISTION)
            if len(self._bills) < _BILL_CACHE:
                self._bills[key] = billed
        return billed

    def wall_ms(self, t: float) -> int:
        return whole_ms(self.start_epoch + t)

    def new_call(self, attempt: CallAttempt, index: int) -> Call:
        return Call(self, attempt, index)


def whole_ms(seconds: float) -> int:
    """``round(seconds * 1000)``: an instant in whole milliseconds, half to even as ``round``.

    Written out because the compiled core would otherwise call the builtin through the
    interpreter, and a record takes four or five of them.
    """
    ms = seconds * 1000
    if ms < 0:  # instants are after 1970; int() rounds toward zero, which this assumes
        return round(ms)
    whole = int(ms)
    rest = ms - whole  # exact: whole and ms are within a factor of two of each other
    if rest > 0.5 or (rest == 0.5 and whole & 1):
        whole += 1
    return whole


class Setup(table.SetupFacts):
    """The facts the setup checks ask about (``_decisions.SetupFacts``), computed on demand.

    A fact about the account, the gateway or the rate is asked only once the checks before it
    found one, so it reads them through a local annotated without None: the compiled core then
    checks the type once and works on the object natively, not through the interpreter.
    """

    __slots__ = ("_candidates", "_rate", "account", "attempt", "gateway", "gateway_name",
                 "switch")

    def __init__(self, switch: Switch, attempt: CallAttempt) -> None:
        self.switch = switch
        self.attempt = attempt
        found = switch.gateway_by_ip.get(attempt.source_ip)
        self.gateway_name, self.gateway = found if found else ("", None)
        self.account = switch.accounts[self.gateway.account] if self.gateway else None
        self._rate: Rate | bool | None = False  # False: not looked up yet
        self._candidates: list[_GatewayLoad] | None = None

    @property
    def gateway_known(self) -> bool:
        return self.gateway is not None

    @property
    def credentials_ok(self) -> bool:
        gateway: MappingGatewayConfig = self.gateway  # type: ignore[assignment]
        auth = gateway.auth
        return auth is None or self.attempt.credentials == (auth.user, auth.password)

    @property
    def account_disabled(self) -> bool:
        account: _AccountState = self.account  # type: ignore[assignment]
        return account.config.status == "disabled"

    @property
    def account_expired(self) -> bool:
        account: _AccountState = self.account  # type: ignore[assignment]
        expires = account.expires_epoch
        return expires is not None and self.switch.start_epoch + self.attempt.at >= expires

    @property
    def blacklisted(self) -> bool:
        return (self.switch.is_blacklisted(self.attempt.caller)
                or self.switch.is_blacklisted(self.attempt.callee))

    @property
    def cps_exceeded(self) -> bool:
        # Every INVITE that gets this far counts towards the window, refused or not.
        account: _AccountState = self.account  # type: ignore[assignment]
        now, invites, first = self.attempt.at, account.invites, account.invites_from
        invites.append(now)
        while invites[first] <= now - 1.0:  # ends at the latest on ``now`` itself
            first += 1
        if first >= _INVITES_KEPT and first * 2 >= len(invites):
            del invites[:first]
            first = 0
        account.invites_from = first
        limit = account.config.max_cps
        return limit is not None and len(invites) - first > limit

    @property
    def concurrency_full(self) -> bool:
        account: _AccountState = self.account  # type: ignore[assignment]
        limit = account.config.max_concurrent
        return limit is not None and account.active >= limit

    @property
    def rate(self) -> Rate | None:
        rate = self._rate
        if rate is False:
            account: _AccountState = self.account  # type: ignore[assignment]
            rate = self._rate = account.rates.lookup(self.attempt.callee)
        return rate

    @property
    def rate_found(self) -> bool:
        return self.rate is not None

    @property
    def level_subscribed(self) -> bool:
        account: _AccountState = self.account  # type: ignore[assignment]
        rate: Rate = self.rate  # type: ignore[assignment]
        subscribed = account.config.subscribed
        return subscribed is None or not rate.call_level or rate.call_level in subscribed

    @property
    def first_pulse_affordable(self) -> bool:
        account: _AccountState = self.account  # type: ignore[assignment]
        rate: Rate = self.rate  # type: ignore[assignment]
        return account.wallet.can_pay(rate.pulse(0)[2])

    @property
    def candidates(self) -> list[_GatewayLoad]:
        candidates = self._candidates
        if candidates is None:
            candidates = self._candidates = self.switch.route_candidates(self.attempt.callee)
        return candidates

    @property
    def route_found(self) -> bool:
        return bool(self.candidates)

    @property
    def any_gateway_up(self) -> bool:
        # A loop, not any(genexpr): no generator to build and finalize on every call setup
        for load in self.candidates:  # noqa: SIM110
            if load.up:
                return True
        return False

    @property
    def any_gateway_free(self) -> bool:
        for load in self.candidates:
            if load.up and (load.capacity is None or load.active < load.capacity):
                return True
        return False


class Call:
    """One call's state machine. See the module docstring for how it is driven."""

    # Slots: a load run holds tens of thousands of calls in progress, each touched at its
    # arrival and again minutes later; compact objects keep those touches cheap.
    __slots__ = (
        "_agenda",
        "_refreshes",
        "_seq",
        "account",
        "answer_at",
        "attempt",
        "attempts",
        "billed",
        "callee_pdd_at",
        "caller_pdd_at",
        "caller_protocol",
        "candidates",
        "end_at",
        "fee",
        "fee_time",
        "final_gateway",
        "final_gateway_ip",
        "gateway",
        "gateway_invite_at",
        "gateway_name",
        "hold_time",
        "index",
        "invite_at",
        "last_failure",
        "next_candidate",
        "now",
        "phase",
        "pulses",
        "rate",
        "recorded",
        "refresh_count",
        "reserved",
        "session_timer",
        "start_ms",
        "stop_ms",
        "switch",
        "trace",
        "verdict",
    )

    def __init__(self, switch: Switch, attempt: CallAttempt, index: int) -> None:
        self.switch = switch
        self.attempt = attempt
        self.index = index
        self.phase = Phase.NEW
        self.verdict: Verdict | None = None
        self.gateway_name = ""
        self.caller_protocol = "sip"
        self.session_timer = False
        self.account: _AccountState | None = None
        self.rate: Rate | None = None
        self.candidates: list[_GatewayLoad] = []
        self.next_candidate = 0
        self.gateway: _GatewayLoad | None = None  # the routing gateway holding the INVITE now
        self.final_gateway = ""                    # calleegatewayid: gave the final answer
        self.final_gateway_ip = ""
        self.attempts = 0
        self.last_failure = 0                      # 503, or 0 for "no reply" (timer B)
        self.invite_at = attempt.at
        self.now = attempt.at                      # the time of the entry being handled
        self.caller_pdd_at: float | None = None
        self.gateway_invite_at: float | None = None
        self.callee_pdd_at: float | None = None
        self.answer_at: float | None = None
        self.end_at: float | None = None
        self.pulses = 0
        self.reserved = _ZERO
        # Made when first needed: a planned call (most of a load run) never uses either.
        self._refreshes: dict[Leg, int] | None = None  # leg -> its open re-INVITE's number
        self.refresh_count = 0
        # results, filled in at the end
        self.start_ms = 0  # the record's starttime and stoptime: wall-clock ms of the answer
        self.stop_ms = 0   # (or of the end, unanswered) and of the end
        self.hold_time = 0
        self.fee_time = 0
        self.fee = _ZERO
        self.recorded = False
        self.billed = False
        self._agenda: list[tuple[float, int, int, Kind, Any]] | None = None
        self._seq = 0
        self.trace: list[tuple[float, str, str, Any]] | None = [] if switch.tracing else None

    # -- the agenda -----------------------------------------------------------------------------
    @property
    def next_wakeup(self) -> float | None:
        """When the agenda next needs ``advance``; entries that can no longer matter (a
        pre-answer timer of an answered call) are dropped first, so they cost no wake-up."""
        agenda = self._agenda
        if not agenda:
            return None
        if self.phase is Phase.TALKING:
            while agenda and agenda[0][1] in _BEFORE_ANSWER:
                heapq.heappop(agenda)
        return agenda[0][0] if agenda else None

    def schedule(self, at: float, kind: Kind, arg: Any = None) -> None:
        """Put an event on the agenda (the transport does this for what the parties do)."""
        self._seq += 1
        agenda = self._agenda
        if agenda is None:
            agenda = self._agenda = []
        heapq.heappush(agenda, (at, kind, self._seq, kind, arg))

    def deliver(self, now: float, kind: Kind, arg: Any = None) -> None:
        """An event that happens now (live mode): schedule it and process the agenda."""
        self.schedule(now, kind, arg)
        self.advance(now)

    def advance(self, now: float) -> None:
        """Process every agenda entry due at or before ``now``."""
        agenda = self._agenda
        if agenda is None:
            return
        while agenda and agenda[0][0] <= now and self.phase is not Phase.ENDED:
            at, _, _, kind, arg = heapq.heappop(agenda)
            self.now = at
            self._HANDLERS[kind](self, at, arg)
        if self.phase is Phase.ENDED:
            agenda.clear()

    def advance_private(self) -> float | None:
        """Process, ahead of the clock, the agenda entries that touch nothing shared; returns
        the time of the first one that does (None: the agenda is empty).

        Entries go in exactly the order ``advance`` takes them, each handled at its own time;
        only the wall-clock moment differs. What another call can see or change (gateway load,
        the account's calls and money, the CDR order) happens only in an ending, a failover or
        a prepaid pulse, and those wait for the clock. A simulation can therefore wake a call
        only for those: about two clock events a call instead of four.
        """
        agenda = self._agenda
        while agenda:
            at, _, _, kind, arg = agenda[0]
            if kind not in _PRIVATE_KINDS and self._touches_shared(kind, arg):
                return at
            heapq.heappop(agenda)
            self.now = at
            self._HANDLERS[kind](self, at, arg)
        return None

    def pending_refresh(self, leg: Leg) -> int | None:
        """The number of the leg's re-INVITE still waiting for its answer (None: none is)."""
        refreshes = self._refreshes
        return refreshes.get(leg) if refreshes else None

    def _touches_shared(self, kind: Kind, arg: Any) -> bool:
        """Whether handling this entry (not one of ``_PRIVATE_KINDS``, which the caller has
        already let through) now would end the call, try another gateway or reserve money."""
        phase = self.phase
        if kind is Kind.PULSE or kind in _TALK_ENDINGS:
            return phase is Phase.TALKING
        if kind is Kind.REFRESH_TIMEOUT:
            leg, number = arg[0], arg[1]
            return phase is Phase.TALKING and self.pending_refresh(leg) == number
        if kind is Kind.GATEWAY_REJECT:
            return self._current(arg[0])
        if kind is Kind.GATEWAY_TIMEOUT:
            return phase is Phase.TRYING and arg == self.attempts
        if kind is Kind.RING_TIMEOUT:
            return self._current(arg)
        if kind is Kind.CALLER_CANCEL:
            return phase is Phase.TRYING or phase is Phase.RINGING
        if kind is Kind.SHUTDOWN:
            return phase is not Phase.ENDED
        return True  # a kind this list does not know: wait for the clock

    # -- setup ----------------------------------------------------------------------------------
    def start(self) -> None:
        """The INVITE arrives: run the setup checks, then send it to the first gateway."""
        now = self.now = self.invite_at
        facts = Setup(self.switch, self.attempt)
        gateway = facts.gateway
        self.gateway_name = facts.gateway_name
        if gateway is not None:
            self.caller_protocol = gateway.protocol
            self.session_timer = gateway.session_timer
        if self.trace is not None:  # the ladder's messages: only a traced call keeps them
            self._msg(now, "caller", "switch", "INVITE")
            if gateway is not None and gateway.auth is not None and self.caller_protocol == "sip":
                self._msg(now, "switch", "caller", "401")
                self._msg(now, "caller", "switch", "ACK")
                self._msg(now, "caller", "switch", "INVITE (credentials)")
        for verdict, fails in table.SETUP_CHECKS:
            if fails(facts):
                self.account = facts.account
                if self.trace is not None:
                    self._trace_setup(now, verdict.row, facts)
                self._end(now, verdict)
                return
        if self.trace is not None:
            self._trace_setup(now, 0, facts)
            facts.account.calls[self.attempt.call_id] = self
        account: _AccountState = facts.account  # type: ignore[assignment]
        self.account = account
        account.active += 1
        self.rate = facts.rate
        self.candidates = facts.candidates
        if self.trace is not None:
            self._msg(now, "switch", "caller", "100")
        self._try_next_gateway(now)

    def refuse_overloaded(self) -> None:
        """Live: the switch is overloaded and refuses the INVITE before any check; the record
        names the mapping gateway and account of the source, as a setup refusal does."""
        facts = Setup(self.switch, self.attempt)
        self.gateway_name = facts.gateway_name
        self.account = facts.account
        if facts.gateway is not None:
            self.caller_protocol = facts.gateway.protocol
        if self.trace is not None:
            self._msg(self.invite_at, "caller", "switch", "INVITE")
        self._end(self.invite_at, table.OVERLOADED)

    # -- before answer --------------------------------------------------------------------------
    def _try_next_gateway(self, now: float) -> None:
        candidates = self.candidates
        while self.next_candidate < len(candidates):
            load = candidates[self.next_candidate]
            self.next_candidate += 1
            if load.up and (load.capacity is None or load.active < load.capacity):
                if self.trace is not None:
                    self._event(now, ev.GatewayTried(gateway=load.name, ip=load.config.ip,
                                                    protocol=load.config.protocol,
                                                    attempt=self.attempts + 1))
                    load.calls[self.attempt.call_id] = self
                load.active += 1
                self.gateway = load
                self.attempts += 1
                self.phase = Phase.TRYING
                self.gateway_invite_at = now
                self.callee_pdd_at = None
                if self.trace is not None:
                    self._msg(now, "switch", load.name, "INVITE")
                    self._event(now, ev.TimerStarted(timer="timer B", due=now + table.TIMER_B,
                                                     gateway=load.name))
                self._send_invite(now, load)
                return
            if self.trace is not None:
                if load.up:  # at capacity: the calls holding its channels
                    self._event(now, ev.GatewaySkipped(gateway=load.name, why="at capacity",
                                                      capacity=load.capacity,
                                                      holders=self._holders(load.calls)))
                else:
                    self._event(now, ev.GatewaySkipped(gateway=load.name, why="down"))
        failed = table.ALL_CONGESTED if self.last_failure == 503 else table.ALL_UNREACHABLE
        if self.attempts == 0:  # every remaining candidate went down or full meanwhile
            failed = table.SETUP_CHECKS[12][0]
        self._end(now, failed)

    def _send_invite(self, now: float, load: _GatewayLoad) -> None:
        """The INVITE to ``load`` is out: timer B runs and the transport delivers it."""
        self.schedule(now + _TIMER_B, Kind.GATEWAY_TIMEOUT, self.attempts)
        self.switch.signalling.invite_gateway(self, load.config)

    def _current(self, attempt: Any) -> bool:
        return self.phase in (Phase.TRYING, Phase.RINGING) and attempt == self.attempts

    def _on_gateway_ringing(self, now: float, attempt: Any) -> None:
        if self._current(attempt) and self._take_ringing(now):
            timeout = self.switch.config.no_answer_timeout
            if timeout > 0:
                self.schedule(now + timeout, Kind.RING_TIMEOUT, attempt)

    def _take_ringing(self, now: float) -> bool:
        """A 180 for the current attempt; True when it is the attempt's first (timer B stops,
        the no-answer timer starts)."""
        trace = self.trace is not None
        if trace:
            self._msg(now, self.gateway.name, "switch", "180")
        if self.callee_pdd_at is None:
            self.callee_pdd_at = now
        first = self.phase is Phase.TRYING
        if first:
            self.phase = Phase.RINGING
            if self.trace is not None:
                timeout = self.switch.config.no_answer_timeout
                self._event(now, ev.TimerStopped(timer="timer B", why="180 from the gateway"))
                if timeout > 0:
                    self._event(now, ev.TimerStarted(timer="no-answer", due=now + timeout))
        if self.caller_pdd_at is None:
            self.caller_pdd_at = now
            if trace:
                self._msg(now, "switch", "caller", "180")
        return first

    def _on_gateway_answer(self, now: float, attempt: Any) -> None:
        if not self._current(attempt):
            return
        self._take_answer(now)
        config = self.switch.config
        if config.max_call_duration > 0:
            self.schedule(now + config.max_call_duration, Kind.MAX_DURATION)
        if self.account.wallet.prepaid:
            self.schedule(now, Kind.PULSE)
        if config.SS_SIP_SESSION_TTL > 0:
            if self.caller_protocol == "sip":
                if self.session_timer:
                    self.schedule(now + self.refresh_interval, Kind.REFRESH_DUE, Leg.CALLER)
                elif config.SS_SIP_NO_TIMER_REINVITE_INTERVAL > 0:
                    self.schedule(now + config.SS_SIP_NO_TIMER_REINVITE_INTERVAL,
                                  Kind.NO_TIMER_CAP)
            if self.gateway.config.protocol == "sip":
                self.schedule(now + self.refresh_interval, Kind.REFRESH_DUE, Leg.CALLEE)
        self.switch.signalling.answered(self)

    def _take_answer(self, now: float) -> None:
        """The 200 for the current attempt: the call is up; the caller starts its timers."""
        if self.trace is not None:
            name = self.gateway.name
            self._msg(now, name, "switch", "200")
            self._msg(now, "switch", name, "ACK")
            self._msg(now, "switch", "caller", "200")
            self._msg(now, "caller", "switch", "ACK")
        if self.callee_pdd_at is None:
            self.callee_pdd_at = now
        if self.caller_pdd_at is None:
            self.caller_pdd_at = now
        self._settle_gateway()
        if self.trace is not None:
            self._trace_answer_timers(now)
        self.phase = Phase.TALKING
        self.answer_at = now

    def _on_gateway_reject(self, now: float, arg: Any) -> None:
        attempt, code = arg
        if not self._current(attempt):
            return
        name = self.gateway.name
        if self.trace is not None:
            self._msg(now, name, "switch", str(code))
            self._msg(now, "switch", name, "ACK")
        if code in _FAILOVER_CODES:
            if self.trace is not None:
                self._event(now, ev.GatewayLeft(
                    gateway=name, why=f"{code} {sip_phrase(code)}: try the next gateway (row 18)"))
            self.last_failure = code
            self._settle_gateway()
            self._release_gateway()
            self._try_next_gateway(now)
            return
        self._settle_gateway()
        self._end(now, table.callee_rejection(code))

    def _on_gateway_timeout(self, now: float, attempt: Any) -> None:
        if self.phase is not Phase.TRYING or attempt != self.attempts:
            return  # any provisional response stops timer B
        self.last_failure = 0
        if self.trace is not None:
            self._event(now, ev.TimerFired(timer="timer B", gateway=self.gateway.name))
            self._event(now, ev.GatewayLeft(
                gateway=self.gateway.name,
                why=f"no reply in {table.TIMER_B:g} s (timer B): try the next gateway (row 18)"))
        self._msg(now, "switch", self.gateway.name, "CANCEL")
        self._settle_gateway()
        self._release_gateway()
        self._try_next_gateway(now)

    def _on_ring_timeout(self, now: float, attempt: Any) -> None:
        if self._current(attempt):
            if self.trace is not None:
                self._event(now, ev.TimerFired(timer="no-answer"))
            self._settle_gateway()
            self._end(now, _RING_TIMEOUT)

    def _on_cancel(self, now: float, _: Any) -> None:
        if self.phase in (Phase.TRYING, Phase.RINGING):
            self._settle_gateway()
            self._end(now, _CALLER_CANCEL)

    def _settle_gateway(self) -> None:
        """The current gateway gave the call's final answer."""
        self.final_gateway = self.gateway.name
        self.final_gateway_ip = self.gateway.config.ip

    def _release_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.active -= 1
            if self.trace is not None:
                self.gateway.calls.pop(self.attempt.call_id, None)
            self.gateway = None

    # -- after answer ---------------------------------------------------------------------------
    @property
    def refresh_interval(self) -> float:
        return self.switch.refresh_interval

    def _talking(self) -> bool:
        return self.phase is Phase.TALKING

    def _on_talk_ending(self, now: float, arg: Any, kind: Kind) -> None:
        if self._talking():
            if self.trace is not None and kind in _TIMER_NAMES:
                self._event(now, ev.TimerFired(timer=_TIMER_NAMES[kind]))
            self._end(now, _TALK_ENDINGS[kind])

    def _on_pulse(self, now: float, _: Any) -> None:
        if not self._talking():
            return
        # An ending due at this same instant wins over starting a pulse nobody will use.
        if any(entry[0] <= now and entry[3] in _LATER_ENDINGS for entry in self._agenda or ()):
            return
        following = self._pay_pulse(now)
        if following is not None:
            self.schedule(following, Kind.PULSE)

    def _pay_pulse(self, now: float) -> float | None:
        """Reserve the pulse that starts now, or end the call when the money cannot pay it;
        returns when the next pulse starts (None: no more pulses)."""
        rate: Rate = self.rate  # type: ignore[assignment]  # set at setup, as the account
        account: _AccountState = self.account  # type: ignore[assignment]
        start, length, cost = rate.pulse(self.pulses)
        wallet = account.wallet
        before = wallet.available if self.trace is not None else _ZERO
        if not wallet.reserve(cost):
            if self.trace is not None:
                self._trace_pulse(now, start, length, cost, before, paid=False)
            self._end(now, _PREPAID_EXHAUSTED)
            return None
        self.reserved += cost
        if self.trace is not None:
            self._trace_pulse(now, start, length, cost, before, paid=True)
        self.pulses += 1
        if cost > 0 or self.pulses <= len(rate.sections):
            answer_at: float = self.answer_at  # type: ignore[assignment]  # pulses are paid talking
            return answer_at + start + length
        return None

    def _on_media_stopped(self, now: float, _: Any) -> None:
        timeout = self.switch.config.media_timeout
        if self.trace is not None and self._talking():
            self._event(now, ev.RtpStopped())
            if timeout > 0:
                self._event(now, ev.TimerStarted(timer="media", due=now + timeout))
        if self._talking() and timeout > 0:
            self.schedule(now + timeout, Kind.MEDIA_TIMEOUT)

    def _on_refresh_due(self, now: float, leg: Any) -> None:
        if not self._talking():
            return
        refreshes = self._refreshes
        if refreshes is None:
            refreshes = self._refreshes = {}
        if leg in refreshes:
            # The last re-INVITE is still open (refreshes less than timer B apart): a UA has
            # one INVITE transaction at a time, so this refresh waits for the next interval
            # and the open one's timer B still decides (row 27).
            self.schedule(now + self.refresh_interval, Kind.REFRESH_DUE, leg)
            return
        self.refresh_count += 1
        refreshes[leg] = self.refresh_count
        if self.trace is not None:
            name = self._leg_name(leg)
            self._event(now, ev.TimerFired(timer="session refresh", leg=name))
            self._event(now, ev.TimerStarted(timer="refresh timer B", due=now + table.TIMER_B,
                                             leg=name))
            self._event(now, ev.TimerStarted(timer="session refresh",
                                             due=now + self.refresh_interval, leg=name))
        self._msg(now, "switch", self._leg_name(leg), "re-INVITE")
        self.schedule(now + table.TIMER_B, Kind.REFRESH_TIMEOUT, (leg, self.refresh_count))
        self.schedule(now + self.refresh_interval, Kind.REFRESH_DUE, leg)
        self.switch.signalling.send_refresh(self, leg)

    def _on_refresh_answered(self, now: float, leg: Any) -> None:
        if self._talking() and self._refreshes and self._refreshes.pop(leg, None) is not None:
            if self.trace is not None:
                self._event(now, ev.TimerStopped(timer="refresh timer B", leg=self._leg_name(leg),
                                                why="200 to the re-INVITE"))
            self._msg(now, self._leg_name(leg), "switch", "200 (re-INVITE)")
            self._msg(now, "switch", self._leg_name(leg), "ACK")

    def _on_refresh_timeout(self, now: float, arg: Any) -> None:
        """Timer B of a refresh ran out (arg = (leg, number)), or the refresh got a final
        failure (live: arg = (leg, number, code)): either way the session is lost (row 27)."""
        leg, number = arg[0], arg[1]
        if self._talking() and self.pending_refresh(leg) == number:
            if len(arg) > 2:
                self._msg(now, self._leg_name(leg), "switch", f"{arg[2]} (re-INVITE)")
            else:
                if self.trace is not None:
                    self._event(now, ev.TimerFired(timer="refresh timer B",
                                                   leg=self._leg_name(leg)))
                self._msg(now, self._leg_name(leg), "switch", "408 (local, timer B)")
            self._end(now, table.REFRESH_FAILED)

    def _on_shutdown(self, now: float, _: Any) -> None:
        """The switch stops: whatever phase the call is in, the server releases it."""
        if self.phase is Phase.TALKING:
            self._end(now, table.SHUTDOWN_RELEASE)
        elif self.phase in (Phase.TRYING, Phase.RINGING):
            self._settle_gateway()
            self._end(now, table.SHUTDOWN_BEFORE_ANSWER)

    def _leg_name(self, leg: Leg) -> str:
        return "caller" if leg is Leg.CALLER else self.final_gateway

    _HANDLERS: ClassVar[dict[Kind, Callable[[Call, float, Any], None]]] = {}

    # -- the end --------------------------------------------------------------------------------
    def _end(self, now: float, verdict: Verdict) -> None:
        previous = self.phase
        self.phase = Phase.ENDED
        self.verdict = verdict
        self.end_at = now
        self._release_gateway()
        if previous is not Phase.NEW:
            account: _AccountState = self.account  # type: ignore[assignment]  # set at setup
            account.active -= 1
            if self.trace is not None:
                account.calls.pop(self.attempt.call_id, None)  # type: ignore[union-attr]
        if self.trace is not None:
            self._event(now, ev.Ending(row=verdict.row, situation=verdict.situation,
                                        endDirection=int(verdict.end_direction),
                                        reason=verdict.reason.title, sip_code=verdict.sip_code,
                                        q850=verdict.q850,
                                        bye_reason=table.bye_reason_header(verdict),
                                        competing=self._competing(previous)))
            self._trace_ending(now, previous, verdict)
        self._bill(now)
        recorder = self.switch.recorder
        if recorder is not None:
            recorder.released(self)
        else:
            self.switch.signalling.released(self)

    def _bill(self, now: float) -> None:
        switch = self.switch
        verdict: Verdict = self.verdict  # type: ignore[assignment]  # set by _end
        config = switch.config
        epoch = switch.start_epoch
        stop = self.stop_ms = whole_ms(epoch + now)
        answer_at = self.answer_at
        if answer_at is None:
            self.start_ms = stop
        else:
            start = self.start_ms = whole_ms(epoch + answer_at)
            held_ms = stop - start
            seconds, remainder = held_ms // 1000, held_ms % 1000  # not divmod: native ints
            if remainder and remainder >= config.SERVER_BILLING_HOLD_TIME_PRECISION:
                seconds += 1
            self.hold_time = seconds
        self.recorded = switch.records_everything or \
            not table.suppressed_by(config, verdict, self.hold_time)
        fee = _ZERO
        rate = self.rate
        if rate is not None and verdict.rated:
            self.billed = True
            self.fee_time, fee = switch.bill(rate, self.hold_time)
        account = self.account
        if account is not None:
            charge = fee if self.recorded else _ZERO
            if self.reserved or charge:
                charged = account.wallet.settle(self.reserved, charge)
                if self.recorded:
                    fee = charged
                if self.trace is not None:
                    self._trace_settle(now, charged if self.recorded else _ZERO)
                self.reserved = _ZERO
        self.fee = fee

    # -- what the CDR says about the ending -----------------------------------------------------
    def ending(self) -> tuple[int, int, str, str, str]:
        """(endReason, endDirection, sipreasonheader, reason name, category) of the ending, in
        the switch's configured style (``Switch.ending_fields``)."""
        switch = self.switch
        if switch.observed:
            return switch.observed_fields(self.verdict, self.caller_protocol,
                                          switch.callee_protocol(self.final_gateway))
        return switch.ending_fields(self.verdict, self.caller_protocol)

    @property
    def end_reason(self) -> int:
        """``endReason`` in the switch's configured style."""
        return self.ending()[0]

    @property
    def sip_reason_header(self) -> str:
        """The Reason header of the switch's own messages (the contract's protocol cause)."""
        return self.ending()[2]

    def server_will_end(self, *, media_stops: bool, refresh_fails: bool) -> bool:
        """Whether a switch limit ends this answered call without any party hanging up."""
        config = self.switch.config
        timers = config.SS_SIP_SESSION_TTL > 0 and self.caller_protocol == "sip"
        return bool(
            config.max_call_duration > 0
            or (timers and not self.session_timer and config.SS_SIP_NO_TIMER_REINVITE_INTERVAL > 0)
            or (timers and refresh_fails)
            or (media_stops and config.media_timeout > 0)
            or (self.account.wallet.prepaid and self.rate.fee > 0)
        )

    # -- the ladder -----------------------------------------------------------------------------
    def _msg(self, t: float, src: str, dst: str, message: str) -> None:
        if self.trace is not None:
            self.trace.append((t, src, dst, message))

    def _event(self, t: float, event: ev.Event) -> None:
        self.trace.append((t, EVENT, event.KIND, event))

    def _timer(self, now: float, name: str, due: float, *, leg: str | None = None) -> None:
        self._event(now, ev.TimerStarted(timer=name, due=due, leg=leg))

    def _trace_setup(self, now: float, failed_row: int, facts: Setup) -> None:
        for verdict, _ in table.SETUP_CHECKS:
            if verdict.row != failed_row:
                self._event(now, ev.SetupCheck(row=verdict.row, check=verdict.situation,
                                               passed=True))
                continue
            account = facts.account
            held: dict[str, Any] = {}
            if verdict.row == table.SETUP_CHECKS[6][0].row:  # the concurrent-call limit
                held = {"limit": account.config.max_concurrent,
                        "holders": self._holders(account.calls)}
            elif verdict.row == table.SETUP_CHECKS[9][0].row and account.holders is not None:
                held = {"holders": self._holders(account.holders)}  # the first pulse unpaid
            elif verdict.row == table.SETUP_CHECKS[12][0].row:  # every gateway at capacity
                held = {"gateways": tuple(
                    ev.GatewayHolders(gateway=load.name, capacity=load.capacity,
                                      holders=self._holders(load.calls))
                    for load in facts.candidates if load.up)}
            self._event(now, ev.SetupCheck(row=verdict.row, check=verdict.situation,
                                           passed=False, **held))
            return

    def _holders(self, calls: dict[str, Any]) -> tuple[ev.HeldMoney, ...]:
        """The other calls in ``calls`` (call id -> Call), named in full, as they stand now.

        A simulation may have run another call's private entries (its answer among them) ahead
        of the clock (``advance_private``): an answer later than now has not happened yet.
        """
        wall_ms, now = self.switch.wall_ms, self.now
        return tuple(
            ev.HeldMoney(call=call_id, reserved=other.reserved, caller=other.attempt.caller,
                         callee=other.attempt.callee, invite=wall_ms(other.invite_at),
                         answered=None if other.answer_at is None or other.answer_at > now
                         else wall_ms(other.answer_at))
            for call_id, other in calls.items() if call_id != self.attempt.call_id)

    def _competing(self, previous: Phase) -> tuple[ev.Competing, ...]:
        """The endings still on the agenda when this one won, earliest first: what would have
        ended the call had this ending not happened (the decision-table row of each)."""
        out = []
        for at, _, _, kind, arg in sorted(self._agenda or ()):
            verdict: Verdict | None = None
            if previous is Phase.TALKING:
                if kind in _TALK_ENDINGS:
                    verdict = _TALK_ENDINGS[kind]
                elif kind is Kind.REFRESH_TIMEOUT and self.pending_refresh(arg[0]) == arg[1]:
                    verdict = table.REFRESH_FAILED
            elif previous in (Phase.TRYING, Phase.RINGING):
                if kind is Kind.RING_TIMEOUT and arg == self.attempts:
                    verdict = table.RING_TIMEOUT
                elif kind is Kind.CALLER_CANCEL:
                    verdict = table.CALLER_CANCEL
                elif kind is Kind.GATEWAY_REJECT and arg[0] == self.attempts:
                    verdict = table.callee_rejection(arg[1])
                elif kind is Kind.GATEWAY_ANSWER and arg == self.attempts:
                    out.append(ev.Competing(row=0, situation="the gateway answers", at=at,
                                            time=self.switch.wall_ms(at)))
            if verdict is not None:
                out.append(ev.Competing(row=verdict.row, situation=verdict.situation, at=at,
                                        time=self.switch.wall_ms(at)))
        return tuple(out)

    def _trace_answer_timers(self, now: float) -> None:
        config = self.switch.config
        if self.phase is Phase.TRYING:
            self._event(now, ev.TimerStopped(timer="timer B", why="200 from the gateway"))
        elif config.no_answer_timeout > 0:
            self._event(now, ev.TimerStopped(timer="no-answer", why="200 from the gateway"))
        if config.max_call_duration > 0:
            self._timer(now, "max-duration", now + config.max_call_duration)
        if config.SS_SIP_SESSION_TTL > 0:
            if self.caller_protocol == "sip":
                if self.session_timer:
                    self._timer(now, "session refresh", now + self.refresh_interval,
                                leg="caller")
                elif config.SS_SIP_NO_TIMER_REINVITE_INTERVAL > 0:
                    self._timer(now, "no-timer cap",
                                now + config.SS_SIP_NO_TIMER_REINVITE_INTERVAL)
            if self.gateway.config.protocol == "sip":
                self._timer(now, "session refresh", now + self.refresh_interval,
                            leg=self.gateway.name)

    def _trace_pulse(self, now: float, start: int, length: int, cost: Any, before: Any, *,
                     paid: bool) -> None:
        account = self.account
        wallet = account.wallet
        holders = account.holders
        others = self._holders(holders)
        if paid:
            holders[self.attempt.call_id] = self
        pulse = ev.Pulse if paid else ev.PulseUnpaid
        self._event(now, pulse(index=self.pulses + 1, start=start, length=length, cost=cost,
                               account=account.name, money=wallet.money, limit=wallet.limit,
                               available_before=before, available_after=wallet.available,
                               call_reserved=self.reserved, others=others))

    def _trace_settle(self, now: float, charged: Any) -> None:
        account = self.account
        if account.holders is not None:
            account.holders.pop(self.attempt.call_id, None)
        self._event(now, ev.Settled(account=account.name, released=self.reserved,
                                    charged=charged, money_after=account.wallet.money))

    def _trace_ending(self, now: float, previous: Phase, verdict: Verdict) -> None:
        if self.trace is None:
            return
        msg = self._msg
        gateway = self.final_gateway  # the INVITE's gateway was released (and settled) by now
        if previous in (Phase.NEW, Phase.TRYING, Phase.RINGING):
            if verdict is table.CALLER_CANCEL:
                msg(now, "caller", "switch", "CANCEL")
                msg(now, "switch", "caller", "200 (CANCEL)")
            if gateway and verdict in (table.CALLER_CANCEL, table.RING_TIMEOUT,
                                       table.SHUTDOWN_BEFORE_ANSWER):
                msg(now, "switch", gateway, "CANCEL")
                msg(now, gateway, "switch", "200 (CANCEL)")
                msg(now, gateway, "switch", "487")
                msg(now, "switch", gateway, "ACK")
            msg(now, "switch", "caller", str(verdict.sip_code))
            msg(now, "caller", "switch", "ACK")
            return
        if verdict.end_direction == Party.CALLER:
            msg(now, "caller", "switch", "BYE")
            msg(now, "switch", "caller", "200 (BYE)")
            msg(now, "switch", gateway, "BYE")
            msg(now, gateway, "switch", "200 (BYE)")
        elif verdict.end_direction == Party.CALLEE:
            msg(now, gateway, "switch", "BYE")
            msg(now, "switch", gateway, "200 (BYE)")
            msg(now, "switch", "caller", "BYE")
            msg(now, "caller", "switch", "200 (BYE)")
        else:
            for leg in ("caller", gateway):
                msg(now, "switch", leg, "BYE")
                msg(now, leg, "switch", "200 (BYE)")


Call._HANDLERS = {
    Kind.MEDIA_STOPPED: Call._on_media_stopped,
    Kind.GATEWAY_RINGING: Call._on_gateway_ringing,
    Kind.GATEWAY_ANSWER: Call._on_gateway_answer,
    Kind.GATEWAY_REJECT: Call._on_gateway_reject,
    Kind.GATEWAY_TIMEOUT: Call._on_gateway_timeout,
    Kind.RING_TIMEOUT: Call._on_ring_timeout,
    Kind.CALLER_CANCEL: Call._on_cancel,
    Kind.PULSE: Call._on_pulse,
    Kind.REFRESH_DUE: Call._on_refresh_due,
    Kind.REFRESH_ANSWERED: Call._on_refresh_answered,
    Kind.REFRESH_TIMEOUT: Call._on_refresh_timeout,
    Kind.SHUTDOWN: Call._on_shutdown,
    **{kind: (lambda k: lambda call, now, arg: call._on_talk_ending(now, arg, k))(kind)
       for kind in _TALK_ENDINGS},
}


def _end_reason(switch: Switch, verdict: Verdict, protocol: str) -> int:
    style = switch.config.end_reason_style
    if style == "protocol":
        return verdict.sip_code if protocol == "sip" else verdict.q850
    return switch.reason_numbers[verdict.reason]


def _sip_reason_header(verdict: Verdict, protocol: str) -> str:
    """The protocol cause in RFC 3326 form, whatever the end-reason style."""
    if protocol == "sip":
        return f'SIP;cause={verdict.sip_code};text="{sip_phrase(verdict.sip_code)}"'
    return f'Q.850;cause={verdict.q850};text="{q850_text(verdict.q850)}"'


def _most_free(load: _GatewayLoad) -> float:
    return -load.free
