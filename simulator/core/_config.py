"""What the core is configured with: plain frozen records, standard library only.

The scenario file is validated by its schema (``simulator.scenario``, pydantic) and translated
once into these records (``simulator.scenario._core.core_config``); the core never reads a
pydantic model. Field names follow the scenario keys (spec §1), so a key in the file and the
field the core reads have the same name.

``Behaviour`` and ``CallerBehaviour`` are what the parties of a call do (``callee_does``,
``caller_does``), in one interpretation both transports play: ``Behaviour.responses`` is the
list of SIP responses a called party sends, used by the simulator and by the live agents alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from simulator.core._rating import Rate
from simulator.core._reasons import EndReason

Protocol = Literal["sip", "h323"]


@dataclass(frozen=True, slots=True)
class SwitchConfig:
    """The ``switch:`` section (softswitch parameters and the simulator's own limits)."""

    name: str = "VOS3000-SIM"
    SERVER_BILLING_RECORD_SERVER_HANG_UP: int = 1
    SERVER_BILLING_RECORD_ZERO_HOLD_TIME: int = 1
    SERVER_BILLING_RECORD_ILLEGAL_CALL: int = 1
    SERVER_BILLING_FEE_PRECISTION: int = 2
    SERVER_BILLING_HOLD_TIME_PRECISION: int = 50
    SS_SIP_SESSION_TTL: float = 1800
    SS_SIP_SESSION_UPDATE_SEGMENT: int = 2
    SS_SIP_NO_TIMER_REINVITE_INTERVAL: float = 7200
    max_call_duration: float = 0
    media_timeout: float = 60
    no_answer_timeout: float = 60
    end_reason_style: str = "server-code"
    # ``seeds`` (the seed pages' CDR, the contract) or ``vos3000`` (what real rows show; see
    # ``_record.VosColumns`` and docs/cdr-formats.md)
    cdr_profile: str = "seeds"
    # the switch's own address: ``calleecallid`` ends in it under the vos3000 profile
    address: str = "192.0.2.1"
    # endReason number of every reason (the defaults, with ``end_reason_codes`` applied)
    reason_numbers: dict[EndReason, int] = field(
        default_factory=lambda: {reason: int(reason) for reason in EndReason})
    # the reasons ``end_reason_codes`` renumbers explicitly (the observed numbering's overrides)
    end_reason_overrides: dict[EndReason, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str


@dataclass(frozen=True, slots=True)
class AccountConfig:
    rate_table: str
    name: str = ""
    type: str = "postpaid"  # prepaid | postpaid
    money: Decimal = Decimal(0)
    limit_money: Decimal = Decimal(0)
    status: str = "active"  # active | disabled
    expires_epoch: float | None = None  # the end of ``expires``, seconds since 1970 UTC
    max_concurrent: int | None = None
    max_cps: int | None = None
    subscribed: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class MappingGatewayConfig:
    """A customer's gateway: calls from its ``ips`` are its account's calls."""

    account: str
    ips: tuple[str, ...]
    protocol: Protocol = "sip"
    session_timer: bool = True
    auth: Credentials | None = None
    codec: str = "g729"      # vos3000 profile: callercodec
    user_agent: str = ""     # vos3000 profile: callerproductid
    rtp_ip: str = ""         # vos3000 profile: callerrtpip ("" = the call's source address)


# What a called party does, by kind; a busy or rejecting party has its SIP code as its kind.
ANSWER, NO_ANSWER, UNREACHABLE = 0, 1, 4


class Behaviour:
    """What the called party does with an INVITE (a ``callee_does``).

    ``kind`` is ANSWER, NO_ANSWER, UNREACHABLE, or the final response a busy (486) or rejecting
    party sends. Built for every generated call, so a plain slotted class.
    """

    __slots__ = ("answer_after", "hangup_after", "kind", "reply_after", "ring_after")

    def __init__(self, kind: int, ring_after: float = 0.0, answer_after: float = 0.0,
                 hangup_after: float | None = None, reply_after: float = 0.0) -> None:
        self.kind = kind                  # ANSWER … UNREACHABLE, or a SIP code >= 400
        self.ring_after = ring_after      # 180 after the INVITE (a refusing party: > 0 rings)
        self.answer_after = answer_after  # 200 after the INVITE
        self.hangup_after = hangup_after  # callee BYE after answer
        self.reply_after = reply_after    # busy / reject after the INVITE

    def responses(self) -> tuple[tuple[float, int], ...]:
        """(seconds after the INVITE, SIP code) of every response the party sends, in order."""
        kind = self.kind
        if kind == ANSWER:
            return ((self.ring_after, 180), (self.answer_after, 200))
        if kind == NO_ANSWER:
            return ((self.ring_after, 180),)
        if kind == UNREACHABLE:
            return ()
        if self.ring_after > 0:  # a party that rings before it refuses (a 480 after ringing)
            return ((self.ring_after, 180), (self.reply_after, kind))
        return ((self.reply_after, kind),)

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready, for a live agent (``Behaviour(**d)`` on the other side)."""
        # Named, not read off __slots__, which a compiled build (simulator._compiled) lacks.
        return {"answer_after": self.answer_after, "hangup_after": self.hangup_after,
                "kind": self.kind, "reply_after": self.reply_after, "ring_after": self.ring_after}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Behaviour) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Behaviour({self.to_dict()})"


ANSWER_AT_ONCE = Behaviour(ANSWER)


@dataclass(frozen=True, slots=True)
class CallerBehaviour:
    """What the calling party does (a ``caller_does``): hang up after answer, or cancel."""

    hangup_after: float | None = None  # BYE this long after the answer
    cancel_after: float | None = None  # CANCEL this long after the INVITE, if still unanswered


@dataclass(frozen=True, slots=True)
class Outage:
    at: float
    until: float
    status: str = "down"  # down | unreachable


@dataclass(frozen=True, slots=True)
class RoutingGatewayConfig:
    """A vendor's gateway: calls to its ``prefixes`` go out here."""

    ip: str
    prefixes: tuple[str, ...]
    protocol: Protocol = "sip"
    priority: int = 1
    capacity: int | None = None
    status: str = "up"  # up | down | unreachable
    outages: tuple[Outage, ...] = ()
    callee_does: Behaviour | None = None  # what its callees do unless a call says otherwise
    account: str | None = None  # the vendor's account: its rate table prices agentfee
    codec: str = "g729"      # vos3000 profile: calleecodec
    user_agent: str = ""     # vos3000 profile: calleeproductid
    rtp_ip: str = ""         # vos3000 profile: calleertpip ("" = the gateway's address)


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Everything the core's ``Switch`` is built from."""

    start_epoch: float
    switch: SwitchConfig
    accounts: dict[str, AccountConfig]
    rate_tables: dict[str, tuple[Rate, ...]]
    mapping_gateways: dict[str, MappingGatewayConfig]
    routing_gateways: dict[str, RoutingGatewayConfig]
    blacklist: tuple[str, ...] = ()
    seed: int = 0
