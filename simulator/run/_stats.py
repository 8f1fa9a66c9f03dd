"""What a run adds up as its calls end: the totals of the summary, overall and per gateway.

Fed one CDR at a time by whatever drives the core (a simulated run, a shard, live mode) and
merged across shards; ``_summary`` turns it into tables and alarms.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from simulator.core._decisions import Party
from simulator.core._record import Cdr

_CALLER, _CALLEE = int(Party.CALLER), int(Party.CALLEE)


@dataclass
class _Traffic:
    """Calls, answered calls and talk time: what ASR and ACD are made of."""

    calls: int = 0
    answered: int = 0
    talk_seconds: int = 0

    @property
    def asr(self) -> float:
        return self.answered / self.calls if self.calls else 0.0

    @property
    def acd(self) -> float:
        return self.talk_seconds / self.answered if self.answered else 0.0


@dataclass
class GatewayStats(_Traffic):
    """ASR/ACD and the seeds' end-direction alarms for one gateway (either side)."""

    ended_by: Counter[int] = field(default_factory=Counter)  # endDirection of answered calls
    short_callee_hangups: int = 0  # callee BYE with holdTime < 5 s: CLI / spam
    short_caller_hangups: int = 0  # caller BYE with holdTime < 3 s: one-way audio, wrong number

    def share(self, count: int) -> float:
        return count / self.answered if self.answered else 0.0

    def merge(self, other: GatewayStats) -> None:
        self.calls += other.calls
        self.answered += other.answered
        self.talk_seconds += other.talk_seconds
        self.ended_by.update(other.ended_by)
        self.short_callee_hangups += other.short_callee_hangups
        self.short_caller_hangups += other.short_caller_hangups


_SIDES = ("caller", "callee")


@dataclass
class RunStats(_Traffic):
    """What the summary table shows; filled in as calls end."""

    recorded: int = 0
    charged: Decimal = Decimal(0)
    suppressed: int = 0
    revenue_gap: Decimal = Decimal(0)
    directions: Counter[int] = field(default_factory=Counter)
    reasons: Counter[tuple[int, str]] = field(default_factory=Counter)
    sim_seconds: float = 0.0
    # per gateway: ("caller", mapping gateway) and ("callee", routing gateway)
    gateways: dict[tuple[str, str], GatewayStats] = field(default_factory=dict)
    _by_gateway: dict[tuple[int, str], GatewayStats] = field(default_factory=dict, repr=False,
                                                             compare=False)

    def add(self, cdr: Cdr, fee: Decimal) -> None:
        self.calls += 1
        hold = cdr.holdtime
        answered = cdr.starttime != cdr.stoptime or hold
        direction = cdr.enddirection
        if answered:
            self.answered += 1
            self.talk_seconds += hold
        self.directions[direction] += 1
        self.reasons[(cdr.endreason, cdr.end_reason_name)] += 1
        if cdr.recorded:
            self.recorded += 1
            if fee:
                self.charged += fee
        else:
            self.suppressed += 1
            if fee:
                self.revenue_gap += fee
        gateways = self._by_gateway
        for side, name in ((0, cdr.callergatewayid), (1, cdr.calleegatewayid)):
            if not name:
                continue
            stats = gateways.get((side, name))
            if stats is None:
                stats = gateways[(side, name)] = self.gateways[(_SIDES[side], name)] = \
                    GatewayStats()
            stats.calls += 1
            if answered:
                stats.answered += 1
                stats.talk_seconds += hold
                stats.ended_by[direction] += 1
                if direction == _CALLEE and hold < 5:
                    stats.short_callee_hangups += 1
                elif direction == _CALLER and hold < 3:
                    stats.short_caller_hangups += 1

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
        """The seeds' alarms this run trips; the rules are the summary's (``_summary.alarms``)."""
        from simulator.run._summary import alarms

        return alarms(self)
