"""The explanation of one call as plain data: what every renderer draws from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator.core import Event

# What an entry of the ladder is, for colours and filters.
KINDS = ("signalling", "refusal", "server-ending", "billing", "timer", "check", "routing",
         "media", "ending", "wire")  # wire: a live trace's datagram, as it went over the wire


@dataclass
class Entry:
    """One line of the ladder: a message between two lanes, or one of the core's events."""

    t: float           # s after the scenario's start
    time_ms: int       # wall clock, ms since 1970 UTC
    kind: str          # one of KINDS
    src: str = ""      # lane of a message ("caller", "switch", a gateway name); "" for events
    dst: str = ""
    message: str = ""  # "INVITE", "200 (BYE)", "Setup" …; for events: the event's name
    text: str = ""     # one line a person reads
    details: dict[str, Any] = field(default_factory=dict)  # what the page shows of it
    event: Event | None = None  # the core's event itself, typed (``core._events``)

    @property
    def is_message(self) -> bool:
        return bool(self.src)


@dataclass
class CdrField:
    name: str          # pipe name (holdTime) or e_cdr column (sipreasonheader)
    value: Any
    provenance: str


@dataclass
class Explanation:
    scenario: str
    description: str
    call_id: str
    header: dict[str, Any]
    lanes: list[str]                    # caller, switch, each gateway tried
    lane_addresses: dict[str, str]
    protocols: dict[str, str]           # lane -> sip | h323
    entries: list[Entry]
    ending: dict[str, Any]              # row, situation, endDirection, reason
    cdr: list[CdrField]
    recorded: dict[str, Any]            # recorded, suppressed_by, revenue_gap
    pipe_line: str = ""
    invite_ms: int = 0
    what_if: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = ""                   # the plain answer (``_verdict.write_verdict``)

    @property
    def messages(self) -> list[Entry]:
        return [e for e in self.entries if e.is_message]

    def field(self, name: str) -> CdrField:
        return next(f for f in self.cdr if f.name == name)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for entry in out["entries"]:
            entry["clock"] = clock(entry["time_ms"])
            del entry["event"]  # its fields are the entry's details, as the trace writes them
        for item in out["cdr"]:
            item["value"] = _plain(item["value"])
        return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def clock(ms: int) -> str:
    """``10:15:05.000`` (UTC) of a wall-clock time in ms."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]


def stamp(ms: int) -> str:
    """``2026-11-20 10:15:05.000 UTC``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def time_label(entry_ms: int, invite_ms: int, previous_ms: int, mode: str) -> str:
    if mode == "relative":
        return f"+{(entry_ms - invite_ms) / 1000:.3f}"
    if mode == "delta":
        return f"Δ{(entry_ms - previous_ms) / 1000:.3f}"
    return clock(entry_ms)
