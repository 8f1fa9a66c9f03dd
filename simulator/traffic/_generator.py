"""Synthetic traffic: the calls that load profiles (the scenario's ``traffic:`` list) generate.

A profile describes *callers and callees*, never CDRs: when calls arrive (a Poisson process
at ``cps``, scaled by ``hourly_weights`` per wall-clock hour), which numbers they dial, and what
each party does (the callee's answer, busy, reject …, the caller's hangup or cancel, lost media,
failed refreshes, an operator's disconnect). The switch decides the rest with the same decision
table, balances, capacities and limits as for explicit calls, so the CDR mix *emerges*.

Every profile draws from two ``numpy.random.Generator`` streams of its own, seeded from the
scenario's seed and the profile's position: one for the arrival instants, one for what the
parties do. A profile's calls are therefore the same whatever else runs beside it, which is what
lets ``--workers`` split a run by account and still reproduce each account's traffic; and the
instants alone can be drawn without the rest (``arrival_cutoff``).

The streams are drawn in blocks of a few thousand calls, column by column (all the outcomes,
then all the ring delays, …), which is what makes generating a call cheap. The ``Script`` objects
are built only as the engine takes the calls, so a run holds the numbers of a few blocks but the
objects of a few hundred calls, and they die young (little work for the garbage collector).
numpy promises the same draws from the same seed only on the same numpy build (its random
compatibility policy): another numpy release may generate other calls, from the same
distributions.

The engine consumes ``Script`` objects: one per call attempt, explicit or generated. The
profiles' schema is ``simulator.scenario._traffic``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from simulator.core import ANSWER, NO_ANSWER, UNREACHABLE, Script, generated_scripts
from simulator.scenario import (
    BlockSampler,
    CallSpec,
    NumberPlan,
    Scenario,
    Timed,
    TrafficProfile,
    callee_behaviour,
    caller_behaviour,
    next_hour,
)

# -- one call attempt: the core's Script (what the parties do, ``Behaviour`` for the callee) --


def script_of_call(spec: CallSpec, scenario: Scenario) -> Script:
    """The attempt of one of the scenario's ``calls:``."""
    gateway = scenario.mapping_gateways[spec.from_]
    credentials = (spec.credentials.user, spec.credentials.password) \
        if spec.credentials else None
    caller = caller_behaviour(spec.caller_does)
    return Script(
        spec.id, spec.at, spec.source_ip or gateway.ips[0], spec.caller, spec.callee,
        callee_behaviour(spec.callee_does),
        credentials=credentials, caller_hangup=caller.hangup_after,
        cancel_after=caller.cancel_after, media_stops_after=spec.media_stops_after,
        refresh_failing_leg=spec.refresh_failing_leg,
        admin_disconnect_at=spec.admin_disconnect_at, account=gateway.account)


# -- generating calls ---------------------------------------------------------------------------
# Calls drawn at once per profile: enough that numpy's fixed cost per call vanishes, few enough
# that a --calls cut or a short profile wastes little.
_BLOCK = 4096
_BUILT = 256  # calls turned into Python objects at once, as the engine takes them


def _stream(scenario: Scenario, index: int, what: str) -> np.random.Generator:
    """Profile ``index``'s stream ``what``: a function of the seed and the index alone."""
    text = f"{scenario.seed}/traffic/{index}/{what}"
    entropy = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    return np.random.default_rng(np.random.SeedSequence(entropy))


def arrival_blocks(profile: TrafficProfile, start_epoch: float,
                   arrivals: np.random.Generator) -> Iterator[np.ndarray]:
    """A profile's arrival instants in ascending, non-empty blocks: Poisson at ``cps`` times
    the hour's weight.

    They come from their own random stream, apart from what the parties do, so the instants
    alone can be drawn cheaply (``arrival_cutoff``) and are the same as in the full calls.
    A slow profile's hours are joined into blocks of ``_BLOCK`` instants or more, so that its
    parties, too, are drawn a block at a time.
    """
    pending: list[np.ndarray] = []
    count = 0
    for block in _hourly(profile, start_epoch, arrivals):
        pending.append(block)
        count += len(block)
        if count >= _BLOCK:
            yield np.concatenate(pending) if len(pending) > 1 else block
            pending, count = [], 0
    if pending:
        yield np.concatenate(pending)


def _hourly(profile: TrafficProfile, start_epoch: float,
            arrivals: np.random.Generator) -> Iterator[np.ndarray]:
    t, end = float(profile.at), profile.at + profile.duration
    while t < end:
        boundary = min(end, next_hour(start_epoch, t))
        rate = profile.cps * profile._weight(start_epoch, t)
        if rate <= 0:
            t = boundary
            continue
        while True:
            # A piecewise-constant rate: memorylessness lets each hour restart at its boundary,
            # dropping the gaps drawn past it. Enough gaps to reach it most of the time.
            expected = (boundary - t) * rate
            n = min(_BLOCK, int(expected + 4 * math.sqrt(expected)) + 16)
            times = t + np.cumsum(arrivals.exponential(1 / rate, n))
            inside = int(np.searchsorted(times, boundary))
            if inside:
                yield times[:inside]
            if inside < n:
                t = boundary
                break
            t = float(times[-1])


def _numbers(plans: list[NumberPlan], rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    """A function drawing ``n`` numbers of the plans (each picked by weight) with ``rng``."""
    if len(plans) == 1 and plans[0].digits == 0:
        fixed = np.array([plans[0].prefix])
        return lambda n: np.broadcast_to(fixed, n)
    # A number is a row of code points, read as one numpy string: its plan's prefix, then "0"s
    # plus random digits where its digits go. Rows of a plan shorter than the longest end in
    # NULs, which numpy's strings drop, so one array holds the numbers of every plan. Digit by
    # digit, any number of digits is uniform.
    width = max(len(plan.prefix) + plan.digits for plan in plans)
    templates = np.zeros((len(plans), width), np.uint32)
    random_digit = np.zeros((len(plans), width), np.uint8)
    for row, plan in enumerate(plans):
        head = len(plan.prefix)
        templates[row, :head + plan.digits] = [ord(c) for c in plan.prefix.ljust(
            head + plan.digits, "0")]
        random_digit[row, head:head + plan.digits] = 1
    weights = np.array([plan.weight for plan in plans])
    shares = weights / weights.sum()

    def draw(n: int) -> np.ndarray:
        digits = rng.integers(0, 10, (n, width), np.uint8)
        if len(plans) == 1:
            digits *= random_digit[0]
            rows = templates[0] + digits
        else:
            plan = rng.choice(len(plans), n, p=shares)
            digits *= np.take(random_digit, plan, axis=0)
            rows = np.take(templates, plan, axis=0)
            rows += digits
        return rows.view(f"U{width}").ravel()
    return draw


def _where(chosen: np.ndarray, values: np.ndarray | str) -> list[Any]:
    """A column: ``values`` where ``chosen``, None elsewhere."""
    column = np.full(len(chosen), None, dtype=object)
    column[chosen] = values
    return column.tolist()


class _Drawn(NamedTuple):
    """One block of calls, drawn: numpy columns, one row per call."""

    first: int  # the calls are numbered from first + 1
    times: np.ndarray
    sources: np.ndarray | None  # None: the only one
    callers: np.ndarray
    callees: np.ndarray
    kind: np.ndarray
    ring_after: np.ndarray
    answer_after: np.ndarray
    reply_after: np.ndarray
    hold: np.ndarray
    callee_ends: np.ndarray
    caller_ends: np.ndarray
    # cancel_after, media_stops_after, refresh_failing_leg, admin_disconnect_at: lists with
    # None where the event does not happen, or repeat(None) where it never does
    rare: tuple[list[Any] | itertools.repeat[None], ...]


class _Parties:
    """What the parties of one profile's calls do, drawn a block of calls at a time."""

    def __init__(self, scenario: Scenario, index: int) -> None:
        profile = scenario.traffic[index]
        rng = self.rng = _stream(scenario, index, "parties")
        gateway = scenario.mapping_gateways[profile.from_]
        self.sources = np.array(profile.source_ips or gateway.ips, dtype=object)
        self.credentials = (gateway.auth.user, gateway.auth.password) if gateway.auth else None
        self.account = gateway.account
        self.label = f"{profile.name or f'traffic{index}'}-"
        caller_plans, callee_plans = profile.plans
        self.caller_numbers = _numbers(caller_plans, rng)
        self.callee_numbers = _numbers(callee_plans, rng)
        self.ring_delay = profile.ring_delay.block_sampler(rng)
        self.answer_delay = profile.answer_delay.block_sampler(rng)
        self.hold_time = profile.hold_time.block_sampler(rng)
        mix = profile.callee_mix
        # Callee outcomes as cumulative thresholds over one uniform draw; past the last: answer.
        edges, kinds = [], []
        edge = 0.0
        for share, kind in ((mix.busy, 486), (mix.no_answer, NO_ANSWER),
                            (mix.unreachable, UNREACHABLE),
                            *((share, code) for code, share in sorted(mix.reject.items()))):
            if share > 0:
                edge += share
                edges.append(edge)
                kinds.append(kind)
        self.edges = np.array(edges)
        self.kinds = np.array([*kinds, ANSWER])
        self.callee_hangs_up = profile.callee_hangs_up
        self.no_answer_timeout = scenario.switch.no_answer_timeout or 60.0

        def timed(spec: Timed | None) -> tuple[float, BlockSampler | None]:
            if spec is None:
                return 0.0, None
            return spec.share, spec.after.block_sampler(rng) if spec.after else None

        self.cancel = timed(profile.cancel)
        self.media_loss = timed(profile.media_loss)
        self.refresh_failure = timed(profile.refresh_failure)
        self.admin_disconnect = timed(profile.admin_disconnect)

    def _timed(self, share_and_after: tuple[float, BlockSampler | None], eligible: np.ndarray,
               span: np.ndarray) -> list[float | None] | itertools.repeat[None]:
        """When the event happens in the ``share`` of the ``eligible`` calls it hits: drawn
        from its ``after`` distribution, else uniformly within the call's ``span``."""
        share, after = share_and_after
        if not share:
            return itertools.repeat(None)
        chosen = eligible & (self.rng.random(len(eligible)) < share)
        hit = int(chosen.sum())
        return _where(chosen, after(hit) if after else self.rng.random(hit) * span[chosen])

    def draw(self, times: np.ndarray, first: int) -> _Drawn:
        """What the parties of the calls arriving at ``times`` do."""
        rng, n = self.rng, len(times)
        kind = self.kinds[np.searchsorted(self.edges, rng.random(n), side="right")]
        ring = self.ring_delay(n)
        answered = kind == ANSWER
        ringing = answered | (kind == NO_ANSWER)
        answer = np.maximum(self.answer_delay(n), ring)
        hold = self.hold_time(n)
        callee_ends = answered & (rng.random(n) < self.callee_hangs_up)
        sources = None if len(self.sources) == 1 else \
            self.sources[rng.integers(len(self.sources), size=n)]
        callers, callees = self.caller_numbers(n), self.callee_numbers(n)
        ringing_for = np.where(answered, answer, np.where(ringing, self.no_answer_timeout, 0.0))
        # The caller gives up while ringing; if the answer comes first, it is too late.
        cancels = self._timed(self.cancel, ringing_for > 0, ringing_for)
        media = self._timed(self.media_loss, answered, hold)
        share = self.refresh_failure[0]
        refresh = _where(answered & (rng.random(n) < share), "caller") if share \
            else itertools.repeat(None)
        admin = self._timed(self.admin_disconnect, answered, hold)
        # A ringing callee rings, then answers or not; the others reply (busy, reject …) after
        # the delay.
        return _Drawn(first, times, sources, callers, callees, kind,
                      np.where(ringing, ring, 0.0), np.where(answered, answer, 0.0),
                      np.where(ringing, 0.0, ring), hold, callee_ends, answered & ~callee_ends,
                      (cancels, media, refresh, admin))

    def scripts(self, drawn: _Drawn) -> Iterator[Iterator[Script]]:
        """The block's calls in slices, each built only when it is reached: a run holds the
        numbers of a few blocks, but Python objects for a few hundred calls only."""
        return (self._built(drawn, lo, min(lo + _BUILT, len(drawn.times)))
                for lo in range(0, len(drawn.times), _BUILT))

    def _built(self, drawn: _Drawn, lo: int, hi: int) -> list[Script]:
        """Calls ``lo`` to ``hi`` of the block."""
        n = hi - lo
        hold, callee_ends, caller_ends = (drawn.hold[lo:hi], drawn.callee_ends[lo:hi],
                                          drawn.caller_ends[lo:hi])
        sources = [self.sources[0]] * n if drawn.sources is None else \
            drawn.sources[lo:hi].tolist()
        cancel, media, refresh, admin = (
            [None] * n if isinstance(column, itertools.repeat) else column[lo:hi]
            for column in drawn.rare)
        label = self.label
        call_ids = [f"{label}{number}" for number in range(drawn.first + lo + 1,
                                                          drawn.first + hi + 1)]
        return generated_scripts(
            call_ids, drawn.times[lo:hi].tolist(), sources, drawn.callers[lo:hi].tolist(),
            drawn.callees[lo:hi].tolist(), drawn.kind[lo:hi].tolist(),
            drawn.ring_after[lo:hi].tolist(), drawn.answer_after[lo:hi].tolist(),
            _where(callee_ends, hold[callee_ends]), drawn.reply_after[lo:hi].tolist(),
            _where(caller_ends, hold[caller_ends]), cancel, media, refresh, admin,
            self.credentials, self.account)


def _profile_blocks(scenario: Scenario,
                    index: int) -> Iterator[tuple[np.ndarray, Iterator[Iterator[Script]]]]:
    """The calls of ``scenario.traffic[index]`` in blocks: (arrival instants, their scripts in
    slices)."""
    parties = _Parties(scenario, index)
    first = 0
    for times in arrival_blocks(scenario.traffic[index], scenario.start.timestamp(),
                                _stream(scenario, index, "arrivals")):
        yield times, parties.scripts(parties.draw(times, first))
        first += len(times)


def profile_calls(scenario: Scenario, index: int) -> Iterator[Script]:
    """The calls of ``scenario.traffic[index]``, in arrival order."""
    return itertools.chain.from_iterable(itertools.chain.from_iterable(
        slices for _, slices in _profile_blocks(scenario, index)))


def _explicit(scenario: Scenario) -> list[CallSpec]:
    """The ``calls:`` in arrival order (ties: file order)."""
    calls = sorted(enumerate(scenario.calls), key=lambda item: (item[1].at, item[0]))
    return [spec for _, spec in calls]


def explicit_calls(scenario: Scenario) -> Iterator[Script]:
    """The scenario's ``calls:`` in arrival order (ties: file order)."""
    for spec in _explicit(scenario):
        yield script_of_call(spec, scenario)


# -- merging the sources in arrival order -------------------------------------------------------
Key = tuple[float, int, int]  # (instant, source: 0 the calls, i + 1 traffic[i], position in it)


class _Batch(NamedTuple):
    """Attempts the merge lets go: ``parts`` (source, position of its first, count) in source
    order, their instants concatenated in ``times``; ``order`` sorts them (None: one part)."""

    times: np.ndarray
    order: np.ndarray | None
    parts: list[tuple[int, int, int]]


def _merged(sources: list[Iterator[np.ndarray]]) -> Iterator[_Batch]:
    """The sources' ascending blocks of instants, merged by (instant, source, position).

    A source's later blocks start no earlier than its last instant so far, so whatever lies
    before the earliest of those last instants is final; the source(s) holding it draw their
    next block. Ties fall to a stable sort of the concatenation, which lists the sources in
    order.
    """
    count = len(sources)
    times = [np.empty(0)] * count
    first = [0] * count
    live = [True] * count

    def draw(i: int) -> None:
        for block in sources[i]:
            if len(block):
                times[i] = np.concatenate((times[i], block)) if len(times[i]) else block
                return
        live[i] = False

    for i in range(count):
        draw(i)
    while True:
        horizon = min((times[i][-1] for i in range(count) if live[i]), default=None)
        parts = []
        for i in range(count):
            cut = len(times[i]) if horizon is None else int(np.searchsorted(times[i], horizon))
            if cut:
                parts.append((i, first[i], cut))
        if len(parts) == 1:
            i, _, cut = parts[0]
            yield _Batch(times[i][:cut], None, parts)
        elif parts:
            block = np.concatenate([times[i][:cut] for i, _, cut in parts])
            yield _Batch(block, np.argsort(block, kind="stable"), parts)
        for i, _, cut in parts:
            times[i] = times[i][cut:]
            first[i] += cut
        if horizon is None:
            return
        for i in range(count):
            if live[i] and times[i][-1] == horizon:
                draw(i)


def _kept(times: np.ndarray, order: int, first: int, cutoff: Key) -> int:
    """How many of source ``order``'s ``times`` (positions from ``first``) are <= ``cutoff``."""
    at, last_order, last = cutoff
    kept = int(np.searchsorted(times, at, side="left" if order > last_order else "right"))
    return max(0, min(kept, last - first + 1)) if order == last_order else kept


def _until(blocks: Iterator[np.ndarray], order: int, cutoff: Key | None) -> Iterator[np.ndarray]:
    """Source ``order``'s blocks, cut after ``cutoff``."""
    if cutoff is None:
        yield from blocks
        return
    first = 0
    for times in blocks:
        kept = _kept(times, order, first, cutoff)
        if kept < len(times):
            yield times[:kept]
            return
        yield times
        first += len(times)


def _queued(blocks: Iterator[tuple[np.ndarray, Iterator[Iterator[Script]]]],
            queue: deque[Iterator[Iterator[Script]]]) -> Iterator[np.ndarray]:
    """The instants of ``blocks``; their scripts wait in ``queue`` until they are taken."""
    for times, slices in blocks:
        queue.append(slices)
        yield times


def all_calls(scenario: Scenario, accounts: frozenset[str] | None = None,
              limit: int | None = None) -> Iterator[Script]:
    """Every call attempt of the scenario in arrival order; only ``accounts``' when given.

    Ties between sources: explicit calls first, then profiles in file order. ``limit`` keeps the
    first ``limit`` attempts of the whole scenario (``--calls``); a shard that runs only some
    accounts keeps its own share of exactly those attempts (see ``arrival_cutoff``).
    """
    if limit is not None and accounts is None:
        return itertools.islice(all_calls(scenario), limit)
    cutoff = arrival_cutoff(scenario, limit) if limit is not None else None
    instants: list[Iterator[np.ndarray]] = []
    scripts: list[Iterator[Script]] = []
    if scenario.calls:
        explicit = [script_of_call(spec, scenario) for spec in _explicit(scenario)]
        times = np.array([script.at for script in explicit], dtype=float)
        if cutoff is not None:  # positions count before the account filter
            del explicit[_kept(times, 0, 0, cutoff):]
        if accounts is not None:
            explicit = [script for script in explicit if script.account in accounts]
        instants.append(iter([np.array([script.at for script in explicit], dtype=float)]))
        scripts.append(iter(explicit))
    for index, profile in enumerate(scenario.traffic):
        account = scenario.mapping_gateways[profile.from_].account
        if accounts is None or account in accounts:
            queue: deque[Iterator[Iterator[Script]]] = deque()
            instants.append(_until(_queued(_profile_blocks(scenario, index), queue),
                                   index + 1, cutoff))
            # A block's scripts are queued when the merge draws its instants, before any of
            # them is taken: the queue is never empty when asked.
            slices = itertools.chain.from_iterable(iter(queue.popleft, None))
            scripts.append(itertools.chain.from_iterable(slices))
    # Not a generator: the engine's next() runs through C iterators down to the constructors.
    return itertools.chain.from_iterable(_taken(batch, scripts) for batch in _merged(instants))


def _taken(batch: _Batch, scripts: list[Iterator[Script]]) -> Iterator[Script]:
    """The batch's scripts in order, each taken from its source's iterator."""
    if batch.order is None:
        i, _, count = batch.parts[0]
        return itertools.islice(scripts[i], count)
    source = np.repeat([i for i, _, _ in batch.parts], [n for _, _, n in batch.parts])
    return map(next, map(scripts.__getitem__, source[batch.order].tolist()))


def arrival_cutoff(scenario: Scenario, limit: int) -> Key | None:
    """The (time, source, position) key of the scenario's ``limit``-th call attempt.

    Only the arrival instants are drawn (each profile's own arrival stream), so a shard finds
    the same cutoff as the whole run at a fraction of the cost of generating the calls. None:
    the scenario has no more than ``limit`` attempts.
    """
    if limit <= 0:
        return (-math.inf, 0, 0)
    start_epoch = scenario.start.timestamp()
    explicit = np.array([spec.at for spec in _explicit(scenario)], dtype=float)
    instants = [iter([explicit])]
    instants += [arrival_blocks(profile, start_epoch, _stream(scenario, i, "arrivals"))
                 for i, profile in enumerate(scenario.traffic)]
    seen = 0
    for batch in _merged(instants):
        if seen + len(batch.times) >= limit:
            at = limit - 1 - seen
            if batch.order is not None:
                at = int(batch.order[at])
            t = float(batch.times[at])
            for source, position, count in batch.parts:
                if at < count:
                    return t, source, position + at
                at -= count
        seen += len(batch.times)
    return None
