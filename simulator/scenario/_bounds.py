"""The bounds of every number, time and name in a scenario (documented in the scenario reference).

They are far beyond anything a real switch sees, and small enough that no value inside them can
hang a run (a call of 7 days with refreshes every second is 604,800 events), overflow a CDR column
(``bigint`` milliseconds, ``int`` seconds, ``double`` fees) or a date (years 1970-2999, plus the
longest scenario span, stays far from year 9999).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

DAY = 86_400
MAX_SPAN = 366 * DAY           # when things happen: a call's ``at``, a profile's at + duration
MAX_DELAY = 7 * DAY            # how long one thing in one call takes: answer, hold, timeouts …
# RFC 4028's smallest Session-Expires on the wire is 90 s, but scenarios compress time (the live
# tests run a 40 s TTL at x10), so the floor only keeps refreshes at least 1 s apart (TTL over
# at most 10 segments): a 7-day call then costs at most 604,800 refreshes. 0 turns timers off.
MIN_SESSION_TTL = 10
MAX_REFRESH_SEGMENT = 10       # SS_SIP_SESSION_UPDATE_SEGMENT: refreshes per TTL
MAX_MONEY = Decimal(10) ** 12  # a balance or credit limit
MAX_FEE = Decimal(10) ** 6     # a fee per period or section
MAX_COUNT = 1_000_000          # capacities, concurrency and CPS limits, priorities, call levels
MAX_CPS = 10_000.0             # a traffic profile's calls per second
MAX_WEIGHT = 1e6               # relative weights (number plans, empirical draws, hours)
MAX_SEED = 2 ** 63 - 1
MAX_REASON_CODE = 2 ** 31 - 1  # an endreason is an ``int`` column
MAX_NAME = 255                 # the varchar(255) of gateway, account and switch names
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_START = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)

# The pipe format's separator, line breaks and every other control character (C0, DEL, C1):
# a name holding one would split or tear CDR lines.
_NOT_IN_CDR = re.compile(r"[|\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _seconds_text(limit: float) -> str:
    days = limit / DAY
    return f"{limit:,.0f} s ({days:g} days)" if days >= 1 else f"{limit:g} s"


def _shown(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 10 ** 15:
        return f"a number of {len(str(abs(value))):,} digits"
    return f"{value:,g}" if isinstance(value, float) else f"{value:,}"


def _between(low: float, high: float, what: str) -> tuple[BeforeValidator, AfterValidator]:
    """The bound checked on the number as written (so that ``1e30`` for an integer gets this
    message, not pydantic's) and again on the value it became (``"5"`` in lax mode)."""
    def check(value: Any) -> Any:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and not low <= value <= high:  # NaN is never in range
            raise ValueError(f"expected {what} from {_shown(low)} to {_shown(high)}, "
                             f"found {_shown(value)}")
        return value
    return BeforeValidator(check), AfterValidator(check)


def _seconds(high: float) -> AfterValidator:
    def check(value: float | None) -> float | None:
        if value is not None and not 0 <= value <= high:
            raise ValueError(f"expected seconds from 0 to {_seconds_text(high)}, "
                             f"found {_shown(value)}")
        return value
    return AfterValidator(check)


def _money(high: Decimal, *, signed: bool) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        low = -high if signed else Decimal(0)
        if not value.is_finite() or not low <= value <= high:
            raise ValueError(f"expected an amount from {low:,} to {high:,}, found {value}")
        return value
    return AfterValidator(check)


def cdr_text(value: str) -> str:
    """A name or id that is written into CDR fields: no separator, line break or control."""
    bad = _NOT_IN_CDR.search(value)
    if bad is not None:
        raise ValueError(f"expected a name without '|', line breaks or control characters "
                         f"(it goes into CDR fields), found {value!r}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate ("\ud800" in YAML, or from code)
            raise ValueError(f"expected text that UTF-8 can encode, found the lone surrogate "
                             f"U+{ord(value[exc.start]):04X} in {value!r}") from None
    if len(value) > MAX_NAME:
        raise ValueError(f"expected a name of at most {MAX_NAME} characters (a CDR column is "
                         f"varchar({MAX_NAME})), found {len(value):,}")
    return value


def start_in_range(value: datetime) -> datetime:
    if not EARLIEST_START <= value <= LATEST_START:
        raise ValueError(f"expected a start from {EARLIEST_START:%Y-%m-%d} to "
                         f"{LATEST_START:%Y-%m-%d}, found {value.isoformat()}")
    return value


def session_ttl(value: float) -> float:
    if value != 0 and not MIN_SESSION_TTL <= value <= MAX_DELAY:
        raise ValueError(f"expected 0 (no session timer) or seconds from {MIN_SESSION_TTL} to "
                         f"{_seconds_text(MAX_DELAY)}, found {_shown(value)}")
    return value


def finite_weights(values: list[float]) -> list[float]:
    if any(not math.isfinite(v) or not 0 <= v <= MAX_WEIGHT for v in values):
        raise ValueError(f"expected weights from 0 to {MAX_WEIGHT:,g}")
    return values


# Annotated types the schemas use.
Delay = Annotated[float, Field(allow_inf_nan=False), _seconds(MAX_DELAY)]
SpanSeconds = Annotated[float, Field(allow_inf_nan=False), _seconds(MAX_SPAN)]
CdrName = Annotated[str, AfterValidator(cdr_text)]
Count = Annotated[int, *_between(0, MAX_COUNT, "a whole number")]
Period = Annotated[int, *_between(1, DAY, "a billing period in seconds")]
SectionTime = Annotated[int, *_between(1, MAX_DELAY, "a section length in seconds")]
RefreshSegment = Annotated[int, *_between(1, MAX_REFRESH_SEGMENT, "refreshes per session TTL")]
Balance = _money(MAX_MONEY, signed=True)
Credit = _money(MAX_MONEY, signed=False)
Fee = _money(MAX_FEE, signed=False)
Seed = Annotated[int, *_between(-MAX_SEED - 1, MAX_SEED, "a seed")]
ReasonCode = Annotated[int, *_between(-MAX_REASON_CODE - 1, MAX_REASON_CODE, "an end reason code")]
Priority = Annotated[int, *_between(-MAX_COUNT, MAX_COUNT, "a priority")]
Cps = Annotated[float, Field(gt=0, allow_inf_nan=False), *_between(0, MAX_CPS, "calls per second")]
Weight = Annotated[float, Field(allow_inf_nan=False), *_between(0, MAX_WEIGHT, "a weight")]
