"""Random distributions a traffic profile draws its timings from (answer delay, hold time, …).

A scenario writes ``{dist: NAME, …parameters}``. ``Distribution.block_sampler(rng)`` turns it into
a function drawing ``n`` values at once from one ``numpy.random.Generator``, which is how the
traffic generator draws its calls: reproducible from the scenario's seed, and a few numpy calls
for thousands of calls. ``Distribution.sampler(rng)`` draws one value at a time from a
``random.Random`` stream, with the same clamping.

==============  ===========================  ===============================================
dist            parameters                   draws
==============  ===========================  ===============================================
fixed           value                        always ``value``
uniform         low, high                    uniformly in [low, high]
exponential     mean                         exponential with that mean
lognormal       sigma and one of mu, mean    exp(N(mu, sigma)); ``mean`` sets mu so that the
                                             draws average ``mean``
normal          mean, sd                     N(mean, sd), cut at 0 (durations are never < 0)
empirical       values, optional weights     one of ``values`` (weighted), as observed
==============  ===========================  ===============================================

Every distribution also takes optional ``min`` and ``max``, which clamp the draws.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.scenario._bounds import MAX_DELAY, Delay, Weight

Sampler = Callable[[], float]
BlockSampler = Callable[[int], np.ndarray]  # n -> n float64 draws

_PARAMETERS: dict[str, tuple[set[str], set[str]]] = {
    # dist: (required, optional) besides min/max
    "fixed": ({"value"}, set()),
    "uniform": ({"low", "high"}, set()),
    "exponential": ({"mean"}, set()),
    "lognormal": ({"sigma"}, {"mu", "mean"}),
    "normal": ({"mean", "sd"}, set()),
    "empirical": ({"values"}, {"weights"}),
}
# exp(N(mu, sigma)) must stay a float: mu and sigma far beyond any real hold time
_MAX_MU, _MAX_SIGMA = 50.0, 10.0
# draws that have no upper end (exponential, lognormal, normal) are cut at the longest delay
_UNBOUNDED = ("exponential", "lognormal", "normal")
_ALL = ("value", "low", "high", "mean", "mu", "sigma", "sd", "values", "weights")


class Distribution(BaseModel):
    """``{dist: …, …}``: see the module docstring for the parameters of each kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dist: Literal["fixed", "uniform", "exponential", "lognormal", "normal", "empirical"]
    value: Delay | None = None
    low: Delay | None = None
    high: Delay | None = None
    mean: float | None = Field(None, allow_inf_nan=False, le=MAX_DELAY)
    mu: float | None = Field(None, allow_inf_nan=False, ge=-_MAX_MU, le=_MAX_MU)
    sigma: float | None = Field(None, ge=0, le=_MAX_SIGMA, allow_inf_nan=False)
    sd: Delay | None = None
    values: list[float] | None = Field(None, min_length=1)
    weights: list[Weight] | None = None
    min: Delay | None = None
    max: Delay | None = None

    @model_validator(mode="after")
    def _parameters_fit(self) -> Distribution:
        required, optional = _PARAMETERS[self.dist]
        given = {name for name in _ALL if getattr(self, name) is not None}
        missing = sorted(required - given)
        extra = sorted(given - required - optional)
        takes = ", ".join(sorted(required)) + (
            f" (optional: {', '.join(sorted(optional))})" if optional else "")
        if missing or extra:
            found = ", ".join(sorted(given)) or "none"
            raise ValueError(f"{self.dist} takes {takes}; found {found}")
        if self.dist == "lognormal" and (self.mu is None) == (self.mean is None):
            raise ValueError("lognormal takes sigma and exactly one of mu or mean")
        if self.dist == "uniform" and self.low > self.high:
            raise ValueError(f"expected low <= high, found low {self.low} > high {self.high}")
        if self.dist in ("exponential", "lognormal") and self.mean is not None and self.mean <= 0:
            raise ValueError(f"expected a mean > 0, found {self.mean}")
        if self.dist == "normal" and self.mean < 0:
            raise ValueError(f"expected a mean >= 0, found {self.mean}")
        if self.dist == "empirical":
            if any(not 0 <= v <= MAX_DELAY for v in self.values):
                raise ValueError(f"expected values from 0 to {MAX_DELAY:,} s (7 days)")
            weights = self.weights
            if weights is not None:
                if len(weights) != len(self.values):
                    raise ValueError(f"expected one weight per value ({len(self.values)}), "
                                     f"found {len(weights)}")
                if any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
                    raise ValueError("expected weights >= 0 with a sum above 0")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"expected min <= max, found min {self.min} > max {self.max}")
        return self

    # -- drawing --------------------------------------------------------------------------------
    @property
    def expected(self) -> float:
        """The mean of the draws before clamping (used to balance shards and in tests)."""
        if self.dist == "fixed":
            return self.value
        if self.dist == "uniform":
            return (self.low + self.high) / 2
        if self.dist == "lognormal":
            return self.mean if self.mean is not None else math.exp(self.mu + self.sigma ** 2 / 2)
        if self.dist == "empirical":
            weights = self.weights or [1.0] * len(self.values)
            return sum(v * w for v, w in zip(self.values, weights, strict=True)) / sum(weights)
        return self.mean

    def _bounds(self) -> tuple[float | None, float | None]:
        """(low, high) the draws are clamped to; None: that side is open."""
        low = self.min if self.min is not None else (0.0 if self.dist == "normal" else None)
        high = self.max
        if high is None and self.dist in _UNBOUNDED:
            high = float(MAX_DELAY)
        return low, high

    def sampler(self, rng: random.Random) -> Sampler:
        """A function drawing from this distribution with ``rng``."""
        draw = self._raw_sampler(rng)
        low, high = self._bounds()
        if low is None and high is None:
            return draw
        low = -math.inf if low is None else low
        high = math.inf if high is None else high
        return lambda: min(max(draw(), low), high)

    def block_sampler(self, rng: np.random.Generator) -> BlockSampler:
        """A function drawing ``n`` values at once with ``rng``, clamped as ``sampler``'s."""
        draw = self._raw_block_sampler(rng)
        low, high = self._bounds()
        if low is None and high is None:
            return draw
        return lambda n: np.clip(draw(n), low, high)

    def _raw_block_sampler(self, rng: np.random.Generator) -> BlockSampler:
        dist = self.dist
        if dist == "fixed":
            value = float(self.value)
            return lambda n: np.full(n, value)
        if dist == "uniform":
            low, high = self.low, self.high
            return lambda n: rng.uniform(low, high, n)
        if dist == "exponential":
            mean = self.mean
            return lambda n: rng.exponential(mean, n)
        if dist == "lognormal":
            sigma = self.sigma
            mu = self.mu if self.mu is not None else math.log(self.mean) - sigma * sigma / 2
            return lambda n: rng.lognormal(mu, sigma, n)
        if dist == "normal":
            mean, sd = self.mean, self.sd
            return lambda n: rng.normal(mean, sd, n)
        values = np.asarray(self.values, dtype=float)
        if self.weights is None:
            return lambda n: rng.choice(values, n)
        weights = np.asarray(self.weights, dtype=float)
        p = weights / weights.sum()
        return lambda n: rng.choice(values, n, p=p)

    def _raw_sampler(self, rng: random.Random) -> Sampler:
        dist = self.dist
        if dist == "fixed":
            value = self.value
            return lambda: value
        if dist == "uniform":
            low, high = self.low, self.high
            return lambda: rng.uniform(low, high)
        if dist == "exponential":
            rate = 1.0 / self.mean
            return lambda: rng.expovariate(rate)
        if dist == "lognormal":
            sigma = self.sigma
            mu = self.mu if self.mu is not None else math.log(self.mean) - sigma * sigma / 2
            gauss, exp = rng.gauss, math.exp  # as lognormvariate, without its extra calls
            return lambda: exp(gauss(mu, sigma))
        if dist == "normal":
            mean, sd = self.mean, self.sd
            return lambda: rng.gauss(mean, sd)
        values = list(self.values)
        if self.weights is None:
            return lambda: values[int(rng.random() * len(values))]
        cumulative = list(itertools.accumulate(self.weights))
        total = cumulative[-1]
        return lambda: values[bisect.bisect_right(cumulative, rng.random() * total)]
