"""Rating and prepaid money: longest-prefix rates, sections and periods, pulse reservations.

Money is ``Decimal`` end to end. A call is billed on its holdTime (whole seconds): every section
it reaches costs that section's fee, the rest costs whole periods rounded up. A prepaid account
pays the same pulses one by one as they start (see ``Wallet``), so the money a call can burn is
known at every boundary; the CDR fee is the billed amount, rounded half up once, at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class Section:
    time: int
    fee: Decimal


@dataclass(frozen=True, slots=True)
class Charge:
    """One line of a bill: a section reached, or the whole periods after the sections."""

    section: int  # the section's number (1, 2 …), or 0 for the periods after the sections
    count: int  # 1 for a section; how many whole periods
    seconds: int  # billed seconds of one unit (the section's time, or the period)
    fee: Decimal  # money of one unit


@dataclass(frozen=True, slots=True)
class Rate:
    prefix: str
    fee: Decimal
    period: int
    call_level: int = 0
    sections: tuple[Section, ...] = ()
    area_code: str = ""  # vos3000 profile: callerareacode / calleeareacode
    section_time: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "section_time", sum(s.time for s in self.sections))

    def pulse(self, index: int) -> tuple[int, int, Decimal]:
        """(start second, length, cost) of the ``index``-th pulse, sections first."""
        sections = self.sections
        if index < len(sections):
            start = sum(s.time for s in sections[:index])
            return start, sections[index].time, sections[index].fee
        start = self.section_time + (index - len(sections)) * self.period
        return start, self.period, self.fee

    def pulses_cost(self, first: int, until: float) -> Decimal:
        """What the pulses from the ``first``-th (0-based) to the one running at ``until`` (s
        after the answer) cost, as a prepaid call reserves them one by one. A rate whose
        periods are free stops costing after its sections."""
        total, index = ZERO, first
        while True:
            start, _, cost = self.pulse(index)
            if start >= until or (cost == 0 and index >= len(self.sections)):
                return total
            total += cost
            index += 1

    def pulses_reserved(self, count: int) -> Decimal:
        """What the first ``count`` pulses cost: the money a prepaid call that paid ``count``
        pulses held (``Call._pay_pulse`` reserves ``pulse(i)``'s cost for each)."""
        return sum((self.pulse(index)[2] for index in range(count)), ZERO)

    def charges(self, hold_seconds: int) -> tuple[Charge, ...]:
        """The lines of the bill of a call that talked ``hold_seconds`` whole seconds: every
        section it reaches, then the rest in whole periods rounded up (none if it never talked).
        """
        if hold_seconds <= 0:
            return ()
        lines: list[Charge] = []
        start = 0
        for number, section in enumerate(self.sections, 1):
            if hold_seconds <= start:
                return tuple(lines)
            lines.append(Charge(number, 1, section.time, section.fee))
            start += section.time
        rest = hold_seconds - start
        if rest > 0:
            lines.append(Charge(0, math.ceil(rest / self.period), self.period, self.fee))
        return tuple(lines)

    def bill(self, hold_seconds: int) -> tuple[int, Decimal]:
        """(feeTime, unrounded fee) for a call that talked ``hold_seconds`` whole seconds."""
        fee_time, fee = 0, ZERO
        for line in self.charges(hold_seconds):
            fee_time += line.count * line.seconds
            fee += line.count * line.fee
        return fee_time, fee


class RateTable:
    """Longest-prefix lookup over one table's rates."""

    __slots__ = ("_by_prefix", "_lengths")

    def __init__(self, rates: list[Rate]) -> None:
        self._by_prefix = {rate.prefix: rate for rate in rates}
        self._lengths = sorted({len(p) for p in self._by_prefix}, reverse=True)

    def lookup(self, number: str) -> Rate | None:
        by_prefix = self._by_prefix
        for length in self._lengths:
            rate = by_prefix.get(number[:length])
            if rate is not None and length <= len(number):
                return rate
        return None


def round_money(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


class Wallet:
    """One account's money, shared by all its calls.

    ``money`` may fall to ``-limit``, never below. Prepaid calls reserve each pulse as it starts;
    the reservation is settled when the call's record is written (charged) or suppressed
    (released, charged nothing).
    """

    __slots__ = ("limit", "money", "prepaid", "reserved")

    def __init__(self, money: Decimal, limit: Decimal, prepaid: bool) -> None:
        self.money = money
        self.limit = limit
        self.prepaid = prepaid
        self.reserved = ZERO

    @property
    def available(self) -> Decimal:
        return self.money + self.limit - self.reserved

    def can_pay(self, cost: Decimal) -> bool:
        return not self.prepaid or self.available >= cost

    def reserve(self, cost: Decimal) -> bool:
        if self.prepaid:
            if self.money + self.limit - self.reserved < cost:
                return False
            self.reserved += cost
        return True

    def settle(self, reserved: Decimal, charge: Decimal) -> Decimal:
        """Release ``reserved`` and take ``charge``; returns what was actually taken.

        Half-up rounding can make the fee a fraction of a cent above the pulses reserved; the
        floor -limit is never crossed, so such a charge is capped at what the account holds.
        """
        self.reserved -= reserved
        if self.prepaid:
            charge = min(charge, max(self.money + self.limit - self.reserved, ZERO))
        self.money -= charge
        return charge
