"""What a run adds up as its calls end: the totals of the summary, overall and per gateway.

Fed one CDR at a time by whatever drives the core (a simulated run, a shard, live mode) and
merged across shards; ``_summary`` turns it into tables and alarms.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator.core import Cdr, Party, Tally, gateway_alarms, ratio

_CALLER, _CALLEE, _SERVER = int(Party.CALLER), int(Party.CALLEE), int(Party.SERVER)


@dataclass
class _Traffic:
    """Calls, answered calls and talk time: what ASR and ACD are made of."""

    calls: int = 0
    answered: int = 0
    talk_seconds: int = 0

    @property
    def asr(self) -> float:
        return ratio(self.answered, self.calls)

    @property
    def acd(self) -> float:
        return ratio(self.talk_seconds, self.answered)


@dataclass
class GatewayStats(_Traffic):
    """ASR/ACD and the seeds' end-direction alarms for one gateway (either side)."""

    ended_by: Counter[int] = field(default_factory=Counter)  # endDirection of answered calls
    short_callee_hangups: int = 0  # callee BYE with holdTime < 5 s: CLI / spam
    short_caller_hangups: int = 0  # caller BYE with holdTime < 3 s: one-way audio, wrong number

    def share(self, count: int) -> float:
        return ratio(count, self.answered)

    def alarms(self) -> list[str]:
        """The seeds' alarms this gateway's answered calls trip (none if it answered none)."""
        if not self.answered:
            return []
        shares = {"server_hangups": self.share(self.ended_by[_SERVER]),
                  "short_callee_hangups": self.share(self.short_callee_hangups),
                  "short_caller_hangups": self.share(self.short_caller_hangups)}
        return [message for _, _, _, message in gateway_alarms(shares)]

    def merge(self, other: GatewayStats) -> None:
        self.calls += other.calls
        self.answered += other.answered
        self.talk_seconds += other.talk_seconds
        self.ended_by.update(other.ended_by)
        self.short_callee_hangups += other.short_callee_hangups
        self.short_caller_hangups += other.short_caller_hangups


_SIDES = ("caller", "callee")
ZERO = Decimal(0)


class _Folded:
    """A field of ``RunStats`` that ``add`` leaves behind: reading or setting it first folds
    what was added since into every field, so every reader sees the totals of every CDR."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, stats: RunStats | None, owner: type | None = None) -> Any:
        if stats is None:
            return self
        values = stats.__dict__
        if values["_tally"].groups:
            stats._fold()
        return values[self.name]

    def __set__(self, stats: RunStats, value: Any) -> None:
        values = stats.__dict__
        tally = values.get("_tally")  # absent while the dataclass __init__ sets the fields
        if tally is not None and tally.groups:
            stats._fold()
        values[self.name] = value


@dataclass
class RunStats(_Traffic):
    """What the summary table shows; filled in as calls end.

    ``add`` only counts the CDR under its key (what the totals tell apart: the core's
    ``Tally``); the totals are worked out from those counts when a field is first read after
    it. Money is exact (fees are rounded to the billing precision), so adding it up per key
    gives the same sums.
    """

    recorded: int = 0
    charged: Decimal = ZERO
    suppressed: int = 0
    revenue_gap: Decimal = ZERO
    directions: Counter[int] = field(default_factory=Counter)
    reasons: Counter[tuple[int, str]] = field(default_factory=Counter)
    sim_seconds: float = 0.0
    # per gateway: ("caller", mapping gateway) and ("callee", routing gateway)
    gateways: dict[tuple[str, str], GatewayStats] = field(default_factory=dict)
    _by_gateway: dict[tuple[int, str], GatewayStats] = field(default_factory=dict, repr=False,
                                                             compare=False)
    _tally: Tally = field(default_factory=Tally, repr=False, compare=False)

    def add(self, cdr: Cdr) -> None:
        self._tally.add(cdr)

    def add_block(self, cdrs: list[Cdr]) -> None:
        self._tally.add_block(cdrs)

    def _fold(self) -> None:
        """Add the groups' counts to the fields, as ``add`` used to do one CDR at a time; keys
        come in the order they first appeared, so the counters and gateways keep their order."""
        values = self.__dict__
        groups = values["_tally"].take()
        directions, reasons = values["directions"], values["reasons"]
        gateways, by_gateway = values["gateways"], values["_by_gateway"]
        for (caller, callee, direction, reason, name, answered, short, recorded), group \
                in groups.items():
            calls, hold = group.calls, group.talk_seconds
            values["calls"] += calls
            if answered:
                values["answered"] += calls
                values["talk_seconds"] += hold
            directions[direction] += calls
            reasons[(reason, name)] += calls
            if recorded:
                values["recorded"] += calls
                if group.fee:
                    values["charged"] += group.fees
            else:
                values["suppressed"] += calls
                if group.fee:
                    values["revenue_gap"] += group.fees
            for side, gateway in ((0, caller), (1, callee)):
                if not gateway:
                    continue
                stats = by_gateway.get((side, gateway))
                if stats is None:
                    stats = by_gateway[(side, gateway)] = gateways[(_SIDES[side], gateway)] = \
                        GatewayStats()
                stats.calls += calls
                if answered:
                    stats.answered += calls
                    stats.talk_seconds += hold
                    stats.ended_by[direction] += calls
                    if short:
                        if direction == _CALLEE:
                            stats.short_callee_hangups += calls
                        else:
                            stats.short_caller_hangups += calls

    def __getstate__(self) -> dict[str, Any]:  # a shard's statistics go whole to the parent
        self._fold()
        return self.__dict__

    def merge(self, other: RunStats) -> None:
        """Add a shard's statistics (``--workers``)."""
        self.calls += other.calls
        self.answered += other.answered
        self.talk_seconds += other.talk_seconds
        self.recorded += other.recorded
        self.charged += other.charged
        self.suppressed += other.suppressed
        self.revenue_gap += other.revenue_gap
        self.directions.update(other.directions)
        self.reasons.update(other.reasons)
        self.sim_seconds = max(self.sim_seconds, other.sim_seconds)
        for (side, name), stats in other.gateways.items():
            mine = self.gateways.get((side, name))
            if mine is None:
                mine = self.gateways[(side, name)] = \
                    self._by_gateway[(_SIDES.index(side), name)] = GatewayStats()
            mine.merge(stats)

    def alarms(self) -> list[str]:
        """The seeds' alarms this run trips, per gateway (``core._metrics`` holds the rules)."""
        return [f"{side} gateway {name}: {alarm}"
                for (side, name), gateway in sorted(self.gateways.items())
                for alarm in gateway.alarms()]


# After the dataclass is made: its __init__ sets these through the descriptors, and its
# __eq__ and __repr__ read them through them.
for _name in ("calls", "answered", "talk_seconds", "recorded", "charged", "suppressed",
              "revenue_gap", "directions", "reasons", "gateways", "_by_gateway"):
    setattr(RunStats, _name, _Folded(_name))
