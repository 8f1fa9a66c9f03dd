"""Synthetic traffic: the calls that load profiles (the scenario's ``traffic:`` list) generate.

A profile describes *callers and callees*, never CDRs: when calls arrive (a Poisson process
at ``cps``, scaled by ``hourly_weights`` per wall-clock hour), which numbers they dial, and what
each party does (the callee's answer, busy, reject …, the caller's hangup or cancel, lost media,
failed refreshes, an operator's disconnect). The switch decides the rest with the same decision
table, balances, capacities and limits as for explicit calls, so the CDR mix *emerges*.

Every profile draws from its own ``random.Random`` stream, seeded from the scenario's seed and the
profile's position. A profile's calls are therefore the same whatever else runs beside it, which
is what lets ``--workers`` split a run by account and still reproduce each account's traffic.

The engine consumes ``Script`` objects: one per call attempt, explicit or generated. The
profiles' schema is ``simulator.scenario._traffic``.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from collections.abc import Iterator
from typing import Any, ClassVar

from simulator.core._config import ANSWER, NO_ANSWER, UNREACHABLE, Behaviour
from simulator.scenario._core import callee_behaviour, caller_behaviour
from simulator.scenario._schema import CallSpec, Scenario
from simulator.scenario._traffic import NumberPlan, Timed, TrafficProfile, next_hour

# -- what one call does: the core's Behaviour (``callee_does``), one per call attempt ------------


class Script:
    """One call attempt and what its parties do; ``callee`` None = the gateway's default."""

    generated: ClassVar[bool] = False  # made by a traffic profile (``GeneratedScript``)

    __slots__ = ("account", "admin_disconnect_at", "at", "call_id", "callee", "callee_number",
                 "caller_hangup", "caller_number", "cancel_after", "credentials",
                 "media_stops_after", "refresh_failing_leg", "source_ip")

    def __init__(self, call_id: str, at: float, source_ip: str, caller_number: str,
                 callee_number: str, callee: Behaviour | None, *,
                 credentials: tuple[str, str] | None = None, caller_hangup: float | None = None,
                 cancel_after: float | None = None, media_stops_after: float | None = None,
                 refresh_failing_leg: str | None = None,
                 admin_disconnect_at: float | None = None, account: str = "") -> None:
        self.call_id = call_id
        self.at = at
        self.source_ip = source_ip
        self.caller_number = caller_number
        self.callee_number = callee_number
        self.callee = callee
        self.credentials = credentials
        self.caller_hangup = caller_hangup
        self.cancel_after = cancel_after
        self.media_stops_after = media_stops_after
        self.refresh_failing_leg = refresh_failing_leg
        self.admin_disconnect_at = admin_disconnect_at
        self.account = account

    @classmethod
    def from_call(cls, spec: CallSpec, scenario: Scenario) -> Script:
        gateway = scenario.mapping_gateways[spec.from_]
        credentials = (spec.credentials.user, spec.credentials.password) \
            if spec.credentials else None
        caller = caller_behaviour(spec.caller_does)
        return cls(
            spec.id, spec.at, spec.source_ip or gateway.ips[0], spec.caller, spec.callee,
            callee_behaviour(spec.callee_does),
            credentials=credentials, caller_hangup=caller.hangup_after,
            cancel_after=caller.cancel_after, media_stops_after=spec.media_stops_after,
            refresh_failing_leg=spec.refresh_failing_leg,
            admin_disconnect_at=spec.admin_disconnect_at, account=gateway.account)


class GeneratedScript(Script):
    """A call attempt made by a traffic profile: random instants, never a whole-second tie."""

    __slots__ = ()
    generated = True


# -- generating calls ---------------------------------------------------------------------------
def _number_maker(plans: list[NumberPlan], rng: random.Random) -> Any:
    def one(plan: NumberPlan) -> Any:
        prefix, digits = plan.prefix, plan.digits
        if digits == 0:
            return lambda: prefix
        top = 10 ** digits
        if digits > 15:  # beyond what one double draws uniformly
            randrange = rng.randrange
            return lambda: f"{prefix}{randrange(top):0{digits}d}"
        random_ = rng.random
        return lambda: f"{prefix}{int(random_() * top):0{digits}d}"
    makers = [one(plan) for plan in plans]
    if len(makers) == 1:
        return makers[0]
    cumulative = list(itertools.accumulate(plan.weight for plan in plans))
    total = cumulative[-1]

    def pick() -> str:
        return makers[bisect.bisect_right(cumulative, rng.random() * total)]()
    return pick


def _arrivals_stream(scenario: Scenario, index: int) -> random.Random:
    return random.Random(f"{scenario.seed}/traffic/{index}/arrivals")


def arrival_times(profile: TrafficProfile, start_epoch: float,
                  arrivals: random.Random) -> Iterator[float]:
    """A profile's arrival instants: Poisson at ``cps`` times the hour's weight.

    They come from their own random stream, apart from what the parties do, so the instants
    alone can be drawn cheaply (``arrival_cutoff``) and are the same as in the full calls.
    """
    t, end = profile.at, profile.at + profile.duration
    expovariate = arrivals.expovariate
    while t < end:
        boundary = min(end, next_hour(start_epoch, t))
        rate = profile.cps * profile._weight(start_epoch, t)
        if rate <= 0:
            t = boundary
            continue
        while True:
            # A piecewise-constant rate: memorylessness lets each hour restart at its boundary.
            t += expovariate(rate)
            if t >= boundary:
                t = boundary
                break
            yield t


def profile_calls(scenario: Scenario, index: int) -> Iterator[Script]:
    """The calls of ``scenario.traffic[index]``, in arrival order."""
    profile = scenario.traffic[index]
    start_epoch = scenario.start.timestamp()
    arrivals = _arrivals_stream(scenario, index)
    rng = random.Random(f"{scenario.seed}/traffic/{index}/parties")
    gateway = scenario.mapping_gateways[profile.from_]
    sources = profile.source_ips or gateway.ips
    credentials = (gateway.auth.user, gateway.auth.password) if gateway.auth else None
    account = gateway.account
    caller_plans, callee_plans = profile.plans
    caller_number = _number_maker(caller_plans, rng)
    callee_number = _number_maker(callee_plans, rng)
    ring_delay = profile.ring_delay.sampler(rng)
    answer_delay = profile.answer_delay.sampler(rng)
    hold_time = profile.hold_time.sampler(rng)
    mix = profile.callee_mix
    # Callee outcomes as cumulative thresholds over one uniform draw.
    outcomes: list[tuple[float, int]] = []
    edge = 0.0
    for share, kind in ((mix.busy, 486), (mix.no_answer, NO_ANSWER),
                        (mix.unreachable, UNREACHABLE),
                        *((share, code) for code, share in sorted(mix.reject.items()))):
        if share > 0:
            edge += share
            outcomes.append((edge, kind))
    callee_hangs_up = profile.callee_hangs_up
    no_answer_timeout = scenario.switch.no_answer_timeout or 60.0

    def timed(spec: Timed | None) -> tuple[float, Any]:
        if spec is None:
            return 0.0, None
        return spec.share, spec.after.sampler(rng) if spec.after else None

    cancel_share, cancel_after = timed(profile.cancel)
    media_share, media_after = timed(profile.media_loss)
    refresh_share, _ = timed(profile.refresh_failure)
    admin_share, admin_after = timed(profile.admin_disconnect)
    random_ = rng.random
    label = profile.name or f"traffic{index}"
    single_source = sources[0] if len(sources) == 1 else None

    for count, t in enumerate(arrival_times(profile, start_epoch, arrivals), 1):
        draw = random_()
        kind = ANSWER
        for threshold, outcome in outcomes:
            if draw < threshold:
                kind = outcome
                break
        ring = ring_delay()
        caller_hangup = None
        if kind == ANSWER:
            answer = max(answer_delay(), ring)
            hold = hold_time()
            if random_() < callee_hangs_up:
                callee = Behaviour(ANSWER, ring, answer, hold)
            else:
                callee = Behaviour(ANSWER, ring, answer)
                caller_hangup = hold
            ringing_for = answer
        elif kind == NO_ANSWER:
            callee = Behaviour(NO_ANSWER, ring)
            ringing_for = no_answer_timeout
        else:
            callee = Behaviour(kind, reply_after=ring)
            ringing_for = 0.0
        script = GeneratedScript(
            f"{label}-{count}", t, single_source or sources[int(random_() * len(sources))],
            caller_number(), callee_number(), callee, credentials=credentials,
            caller_hangup=caller_hangup, account=account)
        if cancel_share and ringing_for and random_() < cancel_share:
            # The caller gives up while ringing; if the answer comes first, it is too late.
            script.cancel_after = cancel_after() if cancel_after else random_() * ringing_for
        if kind == ANSWER:
            span = hold
            if media_share and random_() < media_share:
                script.media_stops_after = media_after() if media_after else random_() * span
            if refresh_share and random_() < refresh_share:
                script.refresh_failing_leg = "caller"
            if admin_share and random_() < admin_share:
                script.admin_disconnect_at = admin_after() if admin_after \
                    else random_() * span
        yield script


def explicit_calls(scenario: Scenario) -> Iterator[Script]:
    """The scenario's ``calls:`` in arrival order (ties: file order)."""
    calls = sorted(enumerate(scenario.calls), key=lambda item: (item[1].at, item[0]))
    for _, spec in calls:
        yield Script.from_call(spec, scenario)


def all_calls(scenario: Scenario, accounts: frozenset[str] | None = None,
              limit: int | None = None) -> Iterator[Script]:
    """Every call attempt of the scenario in arrival order; only ``accounts``' when given.

    Ties between sources: explicit calls first, then profiles in file order. ``limit`` keeps the
    first ``limit`` attempts of the whole scenario (``--calls``); a shard that runs only some
    accounts keeps its own share of exactly those attempts (see ``arrival_cutoff``).
    """
    if limit is not None and accounts is None:
        yield from itertools.islice(all_calls(scenario), limit)
        return
    cutoff = arrival_cutoff(scenario, limit) if limit is not None else None
    streams: list[Iterator[tuple[float, int, int, Script]]] = []

    def keyed(order: int, scripts: Iterator[Script]) -> Iterator[tuple[float, int, int, Script]]:
        for n, script in enumerate(scripts):
            key = (script.at, order, n)
            if cutoff is not None and key > cutoff:
                return
            yield *key, script

    if scenario.calls:
        explicit = keyed(0, explicit_calls(scenario))  # numbered before the account filter
        if accounts is not None:
            explicit = (entry for entry in explicit if entry[3].account in accounts)
        streams.append(explicit)
    for index, profile in enumerate(scenario.traffic):
        account = scenario.mapping_gateways[profile.from_].account
        if accounts is None or account in accounts:
            streams.append(keyed(index + 1, profile_calls(scenario, index)))
    if len(streams) == 1:
        for _, _, _, script in streams[0]:
            yield script
        return
    for _, _, _, script in heapq.merge(*streams):
        yield script


def arrival_cutoff(scenario: Scenario, limit: int) -> tuple[float, int, int] | None:
    """The (time, source, position) key of the scenario's ``limit``-th call attempt.

    Only the arrival instants are drawn (each profile's own arrival stream), so a shard finds
    the same cutoff as the whole run at a fraction of the cost of generating the calls. None:
    the scenario has no more than ``limit`` attempts.
    """
    if limit <= 0:
        return (-math.inf, 0, 0)
    start_epoch = scenario.start.timestamp()

    def keyed(order: int, times: Iterator[float]) -> Iterator[tuple[float, int, int]]:
        for n, t in enumerate(times):
            yield t, order, n

    streams = [keyed(0, iter(sorted(c.at for c in scenario.calls)))]
    streams += [keyed(i + 1, arrival_times(p, start_epoch, _arrivals_stream(scenario, i)))
                for i, p in enumerate(scenario.traffic)]
    for key in itertools.islice(heapq.merge(*streams), limit - 1, None):
        return key
    return None
