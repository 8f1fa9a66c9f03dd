"""The schema of the scenario's ``traffic:`` profiles and routing-gateway ``outages``.

A profile describes *callers and callees*, never CDRs; ``simulator.traffic`` generates the calls
from it. This module is the schema only (pydantic): the scenario schema imports it and the
generator imports both, never the other way round.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.scenario._bounds import MAX_SPAN, CdrName, Cps, SpanSeconds, Weight
from simulator.scenario._distributions import Distribution

Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _digits_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class NumberPlan(_Model):
    """Numbers ``prefix`` followed by ``digits`` random digits; ``weight`` in a list of plans."""

    prefix: str = ""
    digits: int = Field(ge=0, le=30)
    weight: Annotated[Weight, Field(gt=0)] = 1.0

    @field_validator("prefix", mode="before")
    @classmethod
    def _prefix_digits(cls, value: Any) -> Any:
        value = _digits_text(value)
        if not isinstance(value, str) or (value and not value.isdigit()) or not value.isascii():
            raise ValueError(f"expected a string of digits 0-9, found {value!r}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> NumberPlan:
        if not self.prefix and self.digits == 0:
            raise ValueError("expected a prefix or digits > 0; the plan makes empty numbers")
        return self


class Timed(_Model):
    """A share of calls, and when (seconds) the event happens in each of them."""

    share: Share
    after: Distribution | None = None


def _share_or_timed(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"share": value}
    return value


class CalleeMix(_Model):
    """Probabilities of what the called party does; the rest answer."""

    busy: Share = 0.0
    no_answer: Share = 0.0
    unreachable: Share = 0.0
    reject: dict[int, Share] = {}

    @field_validator("reject")
    @classmethod
    def _codes(cls, value: dict[int, float]) -> dict[int, float]:
        for code in value:
            if not 400 <= code <= 699:
                raise ValueError(f"expected SIP final response codes 400-699, found {code}")
        return value

    @model_validator(mode="after")
    def _total(self) -> CalleeMix:
        total = self.busy + self.no_answer + self.unreachable + sum(self.reject.values())
        if total > 1 + 1e-9:
            raise ValueError(f"expected shares adding up to at most 1, found {total:g}")
        return self

    @property
    def answer(self) -> float:
        return max(0.0, 1 - self.busy - self.no_answer - self.unreachable
                   - sum(self.reject.values()))


class TrafficProfile(_Model):
    """One stream of synthetic calls through a mapping gateway (see the module docstring)."""

    name: CdrName = ""
    from_: str = Field(alias="from")
    source_ips: list[str] | None = Field(None, min_length=1)
    at: SpanSeconds = 0
    duration: Annotated[SpanSeconds, Field(gt=0)]
    cps: Cps
    hourly_weights: list[Weight] | None = None
    callers: NumberPlan | list[NumberPlan] = NumberPlan(prefix="1", digits=10)
    callees: NumberPlan | list[NumberPlan]
    callee_mix: CalleeMix = CalleeMix()
    ring_delay: Distribution = Distribution(dist="uniform", low=0.5, high=3)
    answer_delay: Distribution = Distribution(dist="uniform", low=3, high=15)
    hold_time: Distribution = Distribution(dist="exponential", mean=120)
    callee_hangs_up: Share = 0.3
    cancel: Timed | None = None
    media_loss: Timed | None = None
    refresh_failure: Timed | None = None
    admin_disconnect: Timed | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("cancel", "media_loss", "refresh_failure", "admin_disconnect", mode="before")
    @classmethod
    def _timed(cls, value: Any) -> Any:
        return _share_or_timed(value)

    @field_validator("source_ips")
    @classmethod
    def _addresses(cls, value: list[str] | None) -> list[str] | None:
        import ipaddress

        for ip in value or ():
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ValueError(f"expected IP addresses, found {ip!r}") from None
        return value

    @field_validator("hourly_weights")
    @classmethod
    def _day(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return value
        if len(value) != 24:
            raise ValueError(f"expected 24 weights (one per hour 00-23), found {len(value)}")
        if not any(value):
            raise ValueError("expected at least one weight above 0")
        return value

    @model_validator(mode="after")
    def _within_span(self) -> TrafficProfile:
        if self.at + self.duration > MAX_SPAN:
            raise ValueError(f"expected at + duration of at most {MAX_SPAN:,} s (366 days), "
                             f"found {self.at + self.duration:,g}")
        return self

    @property
    def plans(self) -> tuple[list[NumberPlan], list[NumberPlan]]:
        def listed(plan: NumberPlan | list[NumberPlan]) -> list[NumberPlan]:
            return plan if isinstance(plan, list) else [plan]
        return listed(self.callers), listed(self.callees)

    def expected_calls(self, start_epoch: float) -> float:
        """The mean number of arrivals (hour by hour), used to balance shards."""
        total, t, end = 0.0, self.at, self.at + self.duration
        while t < end:
            boundary = min(end, next_hour(start_epoch, t))
            total += (boundary - t) * self.cps * self._weight(start_epoch, t)
            t = boundary
        return total

    def _weight(self, start_epoch: float, t: float) -> float:
        if self.hourly_weights is None:
            return 1.0
        return self.hourly_weights[int((start_epoch + t) // 3600) % 24]


def next_hour(start_epoch: float, t: float) -> float:
    return (math.floor((start_epoch + t) / 3600) + 1) * 3600 - start_epoch


class Outage(_Model):
    """A routing gateway's status for a while: ``{at: S, until: S, status: down|unreachable}``."""

    at: SpanSeconds
    until: Annotated[SpanSeconds, Field(gt=0)]
    status: Literal["down", "unreachable"] = "down"

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.until <= self.at:
            raise ValueError(f"expected until > at, found at {self.at:g}, until {self.until:g}")
        return self
