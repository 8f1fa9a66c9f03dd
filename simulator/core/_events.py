"""The core's own events: what a traced call records beside its SIP/H.225 ladder.

Each event is a frozen dataclass, made by the code that decides it (``_state.Call``), so a
consumer reads what the core decided instead of parsing text: explain's ladder, its verdict and
the training pages all read these types. The trace file (``--trace``, one JSON object a line) is
their serialisation: ``event_json`` writes an event's fields in declaration order, leaving out
the optional ones that are unset, and ``event_from_json`` reads a line back into the same type,
so a run in memory, a trace file and a live run's trace are explained by the same code.

Money is ``Decimal`` here and a string in the file (``str`` of the Decimal, exact both ways);
``endDirection`` keeps the CDR's own spelling, as the trace has always written it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from typing import Any, ClassVar


class TraceFormatError(ValueError):
    """A trace line that is not an event of this core (unknown kind, missing or bad field)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    KIND: ClassVar[str] = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldMoney:
    """Another call holding what this one needs (money of the same account, a place under its
    concurrent-call limit, a gateway channel), named in full: its id, numbers, when it came
    and when it was answered (wall-clock ms), and the prepaid money it holds now."""

    call: str
    reserved: Decimal
    caller: str = ""
    callee: str = ""
    invite: int = 0
    answered: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayHolders:
    """A matching gateway at its capacity, and the calls holding its channels."""

    gateway: str
    capacity: int
    holders: tuple[HeldMoney, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Competing:
    """An ending still on the call's agenda when another won: what would have ended it
    otherwise (row 0: the gateway's answer, which a pre-answer ending pre-empted)."""

    row: int
    situation: str
    at: float  # s after the scenario's start
    time: int  # wall clock, ms


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupCheck(Event):
    """One setup check of the decision table, passed or failed (the first failure ends it).

    A failed check for a limit names what held it: the concurrent-call limit and its holders
    (row 7), the calls holding the account's money (row 10), the full gateways (row 13)."""

    KIND: ClassVar[str] = "setup_check"
    row: int
    check: str
    passed: bool
    limit: int | None = None
    holders: tuple[HeldMoney, ...] | None = None
    gateways: tuple[GatewayHolders, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayTried(Event):
    KIND: ClassVar[str] = "gateway_tried"
    gateway: str
    ip: str
    protocol: str
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewaySkipped(Event):
    KIND: ClassVar[str] = "gateway_skipped"
    gateway: str
    why: str
    capacity: int | None = None  # at capacity: how many channels, and the calls holding them
    holders: tuple[HeldMoney, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayLeft(Event):
    """The switch gave up on a gateway (its failure response, or timer B) and moves on."""

    KIND: ClassVar[str] = "gateway_left"
    gateway: str
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerStarted(Event):
    KIND: ClassVar[str] = "timer_started"
    timer: str
    due: float  # s after the scenario's start
    gateway: str | None = None
    leg: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerStopped(Event):
    KIND: ClassVar[str] = "timer_stopped"
    timer: str
    leg: str | None = None
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired(Event):
    KIND: ClassVar[str] = "timer_fired"
    timer: str
    gateway: str | None = None
    leg: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpStopped(Event):
    KIND: ClassVar[str] = "rtp_stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pulse(Event):
    """A prepaid pulse starts and is reserved from the account (``PulseUnpaid``: it cannot)."""

    KIND: ClassVar[str] = "pulse"
    index: int
    start: int  # s after the answer
    length: int
    cost: Decimal
    account: str
    money: Decimal
    limit: Decimal
    available_before: Decimal
    available_after: Decimal
    call_reserved: Decimal
    others: tuple[HeldMoney, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PulseUnpaid(Pulse):
    KIND: ClassVar[str] = "pulse_unpaid"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled(Event):
    """The call's reservation released and its fee charged, when its record is written."""

    KIND: ClassVar[str] = "settled"
    account: str
    released: Decimal
    charged: Decimal
    money_after: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Ending(Event):
    """The decision row that ended the call."""

    KIND: ClassVar[str] = "ending"
    row: int
    situation: str
    endDirection: int
    reason: str
    sip_code: int
    q850: int
    bye_reason: str
    competing: tuple[Competing, ...] = ()  # the endings it won over, earliest first


EVENT_TYPES: dict[str, type[Event]] = {
    kind.KIND: kind for kind in (SetupCheck, GatewayTried, GatewaySkipped, GatewayLeft,
                                 TimerStarted, TimerStopped, TimerFired, RtpStopped, Pulse,
                                 PulseUnpaid, Settled, Ending)}


def event_json(event: Event) -> dict[str, Any]:
    """The event's fields as the trace file writes them (after ``event``: its kind)."""
    out: dict[str, Any] = {}
    for field in fields(event):
        value = getattr(event, field.name)
        if value is not None:
            out[field.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if is_dataclass(value):
        return {field.name: _plain(getattr(value, field.name)) for field in fields(value)}
    return value


def _held(items: Any) -> tuple[HeldMoney, ...]:
    return tuple(HeldMoney(**dict(held, reserved=Decimal(str(held["reserved"]))))
                 for held in items)


# Fields that hold nested records, and how a trace line's JSON reads back into them.
_NESTED: dict[str, Any] = {
    "others": _held,
    "holders": _held,
    "gateways": lambda items: tuple(GatewayHolders(gateway=g["gateway"], capacity=g["capacity"],
                                                   holders=_held(g["holders"])) for g in items),
    "competing": lambda items: tuple(Competing(**item) for item in items),
}


_DECIMALS = {"cost", "money", "limit", "available_before", "available_after", "call_reserved",
             "released", "charged", "money_after"}


def event_from_json(kind: str, data: dict[str, Any]) -> Event:
    """The event of a trace line (its ``event`` and the fields ``event_json`` wrote)."""
    event_type = EVENT_TYPES.get(kind)
    if event_type is None:
        raise TraceFormatError(f"unknown event {kind!r}; expected one of: "
                               f"{', '.join(sorted(EVENT_TYPES))}")
    values: dict[str, Any] = {}
    try:
        for field in fields(event_type):
            if field.name not in data:
                continue
            value = data[field.name]
            if field.name in _DECIMALS:
                value = Decimal(str(value))
            elif field.name in _NESTED:
                value = _NESTED[field.name](value)
            values[field.name] = value
        return event_type(**values)
    except (TypeError, KeyError, ArithmeticError, ValueError) as exc:
        raise TraceFormatError(f"event {kind!r}: {exc}") from None
