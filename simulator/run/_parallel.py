"""Running one scenario as several shards (``--workers N``, ``--dask ADDRESS``) and merging them.

How shared state is split
-------------------------
A shard is a set of **accounts**: it runs every call that comes in through those accounts'
mapping gateways (explicit calls and traffic profiles alike). Everything a switch keeps per
account therefore stays exact in every shard: the prepaid balance and its overdraft floor,
concurrent calls, the calls-per-second window, expiry and status. Traffic profiles draw from
their own random streams (see ``_traffic``), so an account makes the same call attempts whatever
the number of shards.

What accounts share is the **routing gateways' capacity**. Each shard gets a fixed slice of every
capacity, in proportion to the calls it is expected to send (largest remainder, so the slices add
up to the capacity). Gateway outages are schedules, the same in every shard. The one thing that
differs from a single process is therefore *when* a full gateway turns a call away: with the
capacity split, one shard may be full while another has room. Scenarios where capacity rarely
binds give the same end-reason mix; where it binds hard, the mix moves slightly (the standard
profile stays within one point).

Accounts go to shards by the work their calls are expected to make (``account_work``), heaviest
first onto the lightest shard (ties by name and shard number), so the split is deterministic:
the same scenario, seed and N give byte-identical output. An account's work is counted in clock
events, not calls, because calls differ: a prepaid call also waits on the clock for every pulse
it pays, and once a prepaid account's money is spent its calls are turned away at setup, at a
fraction of an answered call's cost. (On the standard profile an account's run time follows its
events closely: 2.0 a call for postpaid, 3.4 for a prepaid account that pays all day, 1.15 for
one whose money runs out in the first minutes.) The capacity slices follow the calls each shard
is expected to hand to vendors, which leaves out those turned away for want of money.

How the output is merged
------------------------
Each shard renders its records (in the formats asked for, by each format's ``renderer`` in the
registry, ``cdr_writer._formats``) with a placeholder for ``flowno`` and spools them in stoptime
order, in column batches written through as they fill. The parent runs the lightest shard
itself, then merges the spools on (stoptime, shard, order in the shard) a block at a time (see
``merge_into``), keeping pace with the workers still writing theirs, so that on a balanced run
most of the merge is done before the last shard ends. It numbers the recorded records 1, 2, 3 …
and hands them to the same sinks (``write_rendered_block``, or ``write_rendered`` one by one
where a sink has no block form), hourly and daily files included, as a single process does. A
format without ``renderer`` gets the record itself.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from cdr_writer import FLOWNO, Cdr, CdrFormat, Output, get_format
from simulator.core import CDR_FIELDS, Outcome, RateTable
from simulator.run._outputs import counted
from simulator.run._stats import RunStats
from simulator.scenario import Scenario
from simulator.transports import Simulation

_BATCH = 2048
_FRAME = struct.Struct("<I")  # a spool frame's length
_POLL = 0.005  # s between looks at a running shard's spool
DASK_CONNECT_TIMEOUT = 15.0  # s to reach a scheduler given by address
MAX_WORKERS = 64  # --workers: shards are accounts, and each worker is a whole interpreter
_PARENT_POLL = 0.5  # s between a worker's looks at whether its parent still runs
_PR_SET_PDEATHSIG = 1  # prctl(2)


def max_workers(scenario: Scenario) -> int:
    """The most shards ``scenario`` splits into: one per account, at most ``MAX_WORKERS``."""
    return max(1, min(len(scenario.accounts), MAX_WORKERS))


def watch_parent(parent: int) -> None:
    """In a worker: end it when the run that started it is gone (``kill -9`` of the parent),
    instead of letting it simulate and spool on alone. Linux sends SIGKILL the moment the
    parent dies; elsewhere, or if the parent died before that was set up, a thread sees the
    parent's pid change within ``_PARENT_POLL`` seconds."""
    import signal
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the thread below still watches
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL)
        os._exit(1)

    if os.getppid() != parent:  # gone already, before the signal was set up
        os._exit(1)
    threading.Thread(target=watch, name="vossim-parent-watch", daemon=True).start()


class ShardingError(Exception):
    """A sharded run cannot start (e.g. the Dask scheduler is out of reach)."""


@dataclass(frozen=True)
class Shard:
    index: int
    accounts: frozenset[str]
    capacities: dict[str, int | None]
    cost: float = 0.0  # the accounts' expected work (``account_work``)


# A call's setup and record cost about as much as 0.6 clock events (measured on the standard
# profile, pure and compiled core alike); only the balance of shards depends on it.
_CALL_IN_EVENTS = 0.6


@dataclass(frozen=True)
class AccountWork:
    cost: float  # expected clock events, plus the calls' own cost in events
    vendor_calls: float  # expected calls that get past the account's money to the vendors


def account_work(scenario: Scenario) -> dict[str, AccountWork]:
    """What each account's calls are expected to cost a shard (see the module docstring).

    An estimate from the scenario's means: every call makes an arrival and an ending; a prepaid
    one answered pays one pulse at the answer and one each period of the mean hold time (capped
    by the switch's max duration); a prepaid account's money (with its credit limit) pays for
    the first calls, those after it make only their arrival.
    """
    start = scenario.start.timestamp()
    cap = scenario.switch.max_call_duration or float("inf")
    gateways = scenario.mapping_gateways
    calls = dict.fromkeys(scenario.accounts, 0.0)
    pulses = dict.fromkeys(scenario.accounts, 0.0)  # expected pulses, all calls of the account
    spend = dict.fromkeys(scenario.accounts, 0.0)  # expected money those pulses take
    for call in scenario.calls:
        calls[gateways[call.from_].account] += 1
    tables = {name: RateTable(rates) for name, rates in scenario.core_rate_tables().items()}
    for profile in scenario.traffic:
        name = gateways[profile.from_].account
        account = scenario.accounts[name]
        attempts = profile.expected_calls(start)
        calls[name] += attempts
        if account.type != "prepaid":
            continue
        table = tables[account.rate_table]
        answered = attempts * profile.callee_mix.answer * (
            1 - (profile.cancel.share if profile.cancel else 0.0))
        hold = min(profile.hold_time.expected, cap)
        plans = profile.plans[1]
        weights = sum(plan.weight for plan in plans)
        for plan in plans:
            rate = table.lookup(plan.prefix)
            if rate is None:
                continue
            count = len(rate.sections) + 1 + max(hold - rate.section_time, 0.0) / rate.period
            share = answered * plan.weight / weights
            pulses[name] += share * count
            spend[name] += share * (float(sum(s.fee for s in rate.sections))
                                    + (count - len(rate.sections)) * float(rate.fee))
    work = {}
    for name, account in scenario.accounts.items():
        paid = 1.0
        if spend[name] > 0:
            paid = min(1.0, max(0.0, float(account.money + account.limit_money)) / spend[name])
        events = calls[name] * (paid * 2 + (1 - paid)) + paid * pulses[name]
        work[name] = AccountWork(events + _CALL_IN_EVENTS * calls[name], paid * calls[name])
    return work


def plan_shards(scenario: Scenario, count: int) -> list[Shard]:
    """Split the accounts over ``count`` shards (see the module docstring)."""
    work = account_work(scenario)
    members = _balanced({name: w.cost for name, w in work.items()}, count)
    sent = [sum(work[name].vendor_calls for name in shard) for shard in members]
    grand = sum(sent)
    weights = [t / grand for t in sent] if grand else [1 / count] * count
    capacities: list[dict[str, int | None]] = [{} for _ in range(count)]
    for name, gateway in scenario.routing_gateways.items():
        for i, share in enumerate(split(gateway.capacity, weights)):
            capacities[i][name] = share
    return [Shard(i, frozenset(members[i]), capacities[i],
                  sum(work[name].cost for name in members[i])) for i in range(count)]


def _balanced(costs: dict[str, float], count: int) -> list[set[str]]:
    """``costs``' names in ``count`` sets of near-equal total: heaviest first onto the lightest
    set, then single moves or swaps between the heaviest and the lightest set while they lower
    the heaviest total (ties by name and set number: the same costs give the same sets)."""
    totals = [0.0] * count
    members: list[set[str]] = [set() for _ in range(count)]
    for name in sorted(costs, key=lambda n: (-costs[n], n)):
        target = min(range(count), key=lambda i: (totals[i], i))
        members[target].add(name)
        totals[target] += costs[name]
    for _ in range(len(costs) * count):
        heavy = max(range(count), key=lambda i: (totals[i], -i))
        light = min(range(count), key=lambda i: (totals[i], i))
        gap = totals[heavy] - totals[light]
        # a move (b None) or swap shifts cost_a - cost_b from heavy to light: it lowers the
        # larger of the two totals when that shift is between 0 and the gap
        options = [(abs(gap / 2 - (costs[a] - (costs[b] if b else 0.0))), a, b or "")
                   for a in sorted(members[heavy])
                   for b in [None, *sorted(members[light])]
                   if 0 < costs[a] - (costs[b] if b else 0.0) < gap]
        if not options:
            break
        _, a, b = min(options)
        members[heavy].remove(a)
        members[light].add(a)
        totals[heavy] -= costs[a]
        totals[light] += costs[a]
        if b:
            members[light].remove(b)
            members[heavy].add(b)
            totals[light] -= costs[b]
            totals[heavy] += costs[b]
    return members


def split(capacity: int | None, weights: list[float]) -> list[int | None]:
    """``capacity`` in whole slices proportional to ``weights`` (largest remainder)."""
    if capacity is None:
        return [None] * len(weights)
    exact = [capacity * w for w in weights]
    slices = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - slices[i]), i))
    for i in order[:capacity - sum(slices)]:
        slices[i] += 1
    return slices


# -- inside a shard -----------------------------------------------------------------------------
class _Spool:
    """Receives a shard's CDRs and spools them, rendered, in pickled column batches.

    Batch: (stoptimes, recorded, columns, kept): ``columns`` holds one list per format asked
    for, None where the format does not take the record (a suppressed one). The n-th record
    spooled (from 1) is the shard's position n; ``kept`` lists the batch's positions of
    recorded ``expect:`` calls, whose final flowno the merge reports. Each batch is one frame
    (its length, then its pickle), written through as it is made so that the parent can merge
    while the shard still runs; a frame of length 0 ends the spool.
    """

    def __init__(self, handle: io.BufferedIOBase, shard: int, formats: tuple[str, ...],
                 places: int, keep: set[str]) -> None:
        self.handle = handle
        self.keep = keep
        self.kept: dict[str, tuple[tuple[int, int] | None, Cdr]] = {}
        self.shard = shard
        self.places = places
        chosen = [get_format(name) for name in dict.fromkeys(formats)]
        self.renderers = [(f.renderer(places) if f.renderer else _the_record, f.all_records)
                          for f in chosen]
        self.recorded_only = not any(f.all_records for f in chosen)
        self.count = 0
        self._new_batch()

    def _new_batch(self) -> None:
        self.kept_here: list[int] = []
        self.stoptimes: list[int] = []
        self.recorded: list[bool] = []
        self.columns: list[list[Any]] = [[] for _ in self.renderers]
        self.filled = [(column.append, render, all_records)
                       for column, (render, all_records) in zip(self.columns, self.renderers,
                                                                strict=True)]

    def __call__(self, cdr: Cdr) -> None:
        recorded = cdr.recorded
        keep = self.keep and cdr.call_id in self.keep
        if not recorded and self.recorded_only:
            if keep:
                self.kept[cdr.call_id] = (None, cdr)
            return
        self.count += 1
        if keep:
            self.kept[cdr.call_id] = ((self.shard, self.count) if recorded else None, cdr)
            if recorded:
                self.kept_here.append(self.count)
        if recorded:
            flowno, cdr.flowno = cdr.flowno, FLOWNO
            for append, render, _ in self.filled:
                append(render(cdr))
            cdr.flowno = flowno
        else:
            for append, render, all_records in self.filled:
                append(render(cdr) if all_records else None)
        self.stoptimes.append(cdr.stoptime)
        self.recorded.append(recorded)
        if len(self.stoptimes) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.stoptimes:
            write_frame(self.handle, (self.stoptimes, self.recorded, self.columns,
                                      self.kept_here))
            self._new_batch()

    def finish(self) -> None:
        self.flush()
        write_frame(self.handle, None)


def write_frame(handle: io.BufferedIOBase, batch: Batch | None) -> None:
    """One batch into a spool, and through to the file (None: the end of the spool)."""
    if batch is None:
        handle.write(_FRAME.pack(0))
    else:
        frame = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        handle.write(_FRAME.pack(len(frame)))
        handle.write(frame)
    handle.flush()


def _the_record(cdr: Cdr) -> Cdr:
    """What a shard spools for a format without ``renderer``: a copy of the record."""
    copy = Cdr()
    for name in CDR_FIELDS:
        setattr(copy, name, getattr(cdr, name))
    return copy


class _Writer:
    """The parent's side of one format: blocks of rendered records (or records) into its sink."""

    def __init__(self, cdr_format: CdrFormat, sink: Any) -> None:
        self.all_records = cdr_format.all_records
        block = getattr(sink, "write_rendered_block", None)
        if cdr_format.renderer is not None and block is not None:
            self.write_block = block
            return
        if cdr_format.renderer is not None:
            write = sink.write_rendered
        else:
            def write(_stoptime: int, cdr: Cdr, flowno: int | None) -> None:
                cdr.flowno = flowno
                sink.write(cdr)

        def write_each(stoptimes: list[int], items: list[Any], flownos: list[int | None],
                       ) -> None:
            for stoptime, item, flowno in zip(stoptimes, items, flownos, strict=True):
                write(stoptime, item, flowno)
        self.write_block = write_each


def run_shard(scenario: Scenario, shard: Shard, formats: tuple[str, ...],
              spool_path: str | None, calls: int | None = None,
              ) -> tuple[RunStats, bytes | None, dict[str, Any]]:
    """Run one shard; its spool goes to ``spool_path``, or is returned (Dask: no shared disk)."""
    places = scenario.switch.SERVER_BILLING_FEE_PRECISTION
    handle: io.BufferedIOBase = open(spool_path, "wb") if spool_path else io.BytesIO()  # noqa: SIM115
    keep = {c.id for c in scenario.calls if c.expect}
    stats = RunStats()
    try:
        spool = _Spool(handle, shard.index, formats, places, keep)
        # counted and spooled as a run counts and writes (the shard the parent runs takes a
        # lost stop, as a run does)
        on_cdr = counted(stats, spool)
        simulation = Simulation(scenario, on_cdr, accounts=shard.accounts,
                                capacities=shard.capacities, calls=calls, keep=keep)
        stats.sim_seconds = simulation.run()
        spool.finish()
        data = None if spool_path else handle.getvalue()
    finally:
        handle.close()
    # each kept record with its outcome (whose record it is: one pickle keeps them one object)
    kept = {call_id: (position, cdr, simulation.outcomes.get(call_id))
            for call_id, (position, cdr) in spool.kept.items()}
    return stats, data, kept


# -- the parent ---------------------------------------------------------------------------------
Batch = tuple[list[int], list[bool], list[list[Any]], list[int]]


def _batches(source: str | bytes, wait_more: Callable[[], bool] | None = None,
             ) -> Iterator[Batch]:
    """The batches of a spool (a file, or a Dask shard's bytes). ``wait_more`` follows a spool
    a shard still writes: called when the frame is not all there yet, it waits a little and
    says whether to look again (False: the shard is done, so the spool is cut short)."""
    handle = open(source, "rb") if isinstance(source, str) else io.BytesIO(source)  # noqa: SIM115
    with handle:
        while True:
            (size,) = _FRAME.unpack(_read(handle, _FRAME.size, wait_more))
            if not size:
                return
            yield pickle.loads(_read(handle, size, wait_more))


def _read(handle: io.BufferedIOBase, size: int, wait_more: Callable[[], bool] | None) -> bytes:
    data = handle.read(size)
    while len(data) < size:
        if wait_more is None or not wait_more():
            raise ShardingError("a shard's spool ends before its last record: it was cut short")
        data += handle.read(size - len(data))
    return data


def _following(result: Any) -> Callable[[], bool]:
    """``wait_more`` for the spool of a worker's shard (``result``, its AsyncResult); a
    worker's error is raised here, in the parent."""
    ended = False

    def wait_more() -> bool:
        nonlocal ended
        if ended:
            return False
        if result.ready():
            result.get()
            ended = True  # all it wrote is in the file now: one more look
        else:
            result.wait(_POLL)
        return True
    return wait_more


class _Pending:
    """One shard's spooled records read but not yet merged (a batch or two)."""

    def __init__(self, shard: int, source: str | bytes, formats: int,
                 wait_more: Callable[[], bool] | None) -> None:
        self.shard = shard
        self.batches = _batches(source, wait_more)
        self.live = True  # batches left to read
        self.first = 1  # the shard position of stoptimes[0]
        self.stoptimes = np.empty(0, dtype=np.int64)
        self.recorded = np.empty(0, dtype=bool)
        self.columns: list[list[Any]] = [[] for _ in range(formats)]
        self.kept: list[int] = []  # positions of kept records not yet merged

    def read(self) -> None:
        """Append the next batch (or learn there is none)."""
        batch = next(self.batches, None)
        if batch is None:
            self.live = False
            return
        stoptimes, recorded, columns, kept = batch
        self.stoptimes = np.concatenate((self.stoptimes, np.array(stoptimes, dtype=np.int64)))
        self.recorded = np.concatenate((self.recorded, np.array(recorded, dtype=bool)))
        for mine, more in zip(self.columns, columns, strict=True):
            mine.extend(more)
        self.kept.extend(kept)

    def take(self, count: int) -> _Part:
        """The first ``count`` records."""
        end = self.first + count
        taken = _Part(self.shard, self.first, self.stoptimes[:count], self.recorded[:count],
                      [column[:count] for column in self.columns],
                      [n for n in self.kept if n < end])
        self.stoptimes = self.stoptimes[count:]
        self.recorded = self.recorded[count:]
        for column in self.columns:
            del column[:count]
        if taken.kept:
            self.kept = [n for n in self.kept if n >= end]
        self.first = end
        return taken


@dataclass
class _Part:
    """A shard's records in one block of the merge."""

    shard: int
    first: int  # the shard position of the first
    stoptimes: np.ndarray
    recorded: np.ndarray
    columns: list[list[Any]]
    kept: list[int]  # positions of kept records among them


def merge_into(output: Output | None, sources: list[str | bytes],
               following: list[Callable[[], bool] | None] | None = None,
               ) -> dict[tuple[int, int], int]:
    """Merge shard spools into ``output`` in (stoptime, shard, position) order, numbering the
    recorded records' flowno 1, 2, 3 …; returns the flowno given to each kept record, by
    (shard, position). ``following`` holds a ``wait_more`` for each spool a shard still
    writes (see ``_batches``): the merge then keeps pace with it.

    Block by block: the smallest last stoptime among the shards' pending records is a horizon
    no record still unread can be below, so every pending record before it goes out at once,
    in one stable sort of the shards' parts taken in shard order. A shard whose pending records
    all sit on the horizon reads on, so records tied on a stoptime are never split across
    blocks out of order.
    """
    if output is None:
        return {}
    writers = [_Writer(f, sink) for f, sink in zip(output.formats, output.sinks, strict=True)]
    pending = [_Pending(i, source, len(writers), wait_more)
               for i, (source, wait_more) in enumerate(
                   zip(sources, following or [None] * len(sources), strict=True))]
    numbered = 0
    kept: dict[tuple[int, int], int] = {}
    while True:
        for shard in pending:
            while shard.live and not len(shard.stoptimes):
                shard.read()
        ends = [int(shard.stoptimes[-1]) for shard in pending if shard.live]
        horizon = min(ends) if ends else None
        parts = []
        for shard in pending:
            cut = (len(shard.stoptimes) if horizon is None
                   else int(np.searchsorted(shard.stoptimes, horizon, side="left")))
            if cut:
                parts.append(shard.take(cut))
        if parts:
            numbered = _write_merged(writers, parts, numbered, kept)
        if horizon is None:
            return kept
        for shard in pending:
            if shard.live and int(shard.stoptimes[-1]) == horizon:
                shard.read()


def _write_merged(writers: list[_Writer], parts: list[_Part], numbered: int,
                  kept: dict[tuple[int, int], int]) -> int:
    """One block of the merge into every writer; returns the last flowno given."""
    stoptimes = np.concatenate([part.stoptimes for part in parts])
    recorded = np.concatenate([part.recorded for part in parts])
    order = np.argsort(stoptimes, kind="stable") if len(parts) > 1 else None
    if order is not None:
        stoptimes, recorded = stoptimes[order], recorded[order]
    flownos = np.cumsum(recorded) + numbered
    chosen = np.flatnonzero(recorded)
    # where each merged record sits in the shards' parts laid end to end
    every_place = order.tolist() if order is not None else None
    recorded_places = (order[chosen] if order is not None else chosen).tolist()
    recorded_stoptimes = stoptimes[chosen].tolist()
    recorded_flownos = flownos[chosen].tolist()
    all_flownos: list[int | None] | None = None
    for k, writer in enumerate(writers):
        items = [item for part in parts for item in part.columns[k]]
        if writer.all_records:
            if all_flownos is None:
                all_flownos = [f if r else None
                               for f, r in zip(flownos.tolist(), recorded.tolist(), strict=True)]
            writer.write_block(stoptimes.tolist(), items if every_place is None
                               else [items[i] for i in every_place], all_flownos)
        else:
            writer.write_block(recorded_stoptimes, [items[i] for i in recorded_places],
                               recorded_flownos)
    if any(part.kept for part in parts):
        _number_kept(kept, parts, order, flownos)
    return numbered + len(chosen)


def _number_kept(kept: dict[tuple[int, int], int], parts: list[_Part],
                 order: np.ndarray | None, flownos: np.ndarray) -> None:
    """The final flowno of the kept records (``expect:`` calls) this block holds."""
    total = sum(len(part.stoptimes) for part in parts)
    placed = np.empty(total, dtype=np.int64)  # merged place of each record of the parts
    placed[order if order is not None else np.arange(total)] = np.arange(total)
    offset = 0
    for part in parts:
        for n in part.kept:
            kept[part.shard, n] = int(flownos[placed[offset + n - part.first]])
        offset += len(part.stoptimes)


def run_sharded(scenario: Scenario, output: Output | None, formats: tuple[str, ...], *,
                workers: int = 1, dask_address: str | Any | None = None,
                on_shard_done: Callable[[RunStats], None] | None = None,
                calls: int | None = None,
                ) -> tuple[RunStats, dict[str, Cdr], dict[str, Outcome]]:
    """Run ``scenario`` as ``workers`` shards (local processes, or tasks on a Dask cluster);
    ``calls`` keeps the scenario's first ``calls`` attempts, each shard its own of them. The
    statistics, and the records and outcomes of the ``expect:`` calls by id."""
    shards = plan_shards(scenario, workers)
    stats = RunStats()
    kept: dict[str, Cdr] = {}
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix=".vossim-shards-",
                                     dir=output.staging if output else None) as spool_dir:
        if dask_address is not None:
            results = _run_on_dask(dask_address, scenario, shards, formats, on_shard_done, calls)
            flownos = merge_into(output, [data for _, data, _ in results])
        else:
            paths = [os.path.join(spool_dir, f"shard-{s.index}.spool") for s in shards]
            results, flownos = _run_local(
                scenario, shards, formats, paths, on_shard_done, calls,
                lambda following: merge_into(output, list(paths), following))
        for shard_stats, _, shard_kept in results:
            stats.merge(shard_stats)
            for call_id, (position, cdr, outcome) in shard_kept.items():
                # The shard numbered the record itself; the merge gave it its final flowno.
                cdr.flowno = None if position is None else flownos.get(position)
                kept[call_id] = cdr
                if outcome is not None:
                    outcomes[call_id] = outcome
    return stats, kept, outcomes


ShardResult = tuple[RunStats, bytes | None, dict[str, Any]]


def _run_local(scenario: Scenario, shards: list[Shard], formats: tuple[str, ...],
               paths: list[str], on_done: Callable[[RunStats], None] | None,
               calls: int | None,
               merge: Callable[[list[Callable[[], bool] | None]], dict[tuple[int, int], int]],
               ) -> tuple[list[ShardResult], dict[tuple[int, int], int]]:
    """Run the shards, then ``merge`` their spools: the results in shard order, and what the
    merge returns."""
    if len(shards) == 1:
        done = run_shard(scenario, shards[0], formats, paths[0], calls)
        if on_done:
            on_done(done[0])
        return [done], merge([None])
    # The lightest shard runs here, while N - 1 workers run the others: this process has its
    # modules loaded already (a worker takes a few tenths of a second to start), and it merges
    # when its shard is done, following the spools of the workers still running as they
    # write them, so that the merge fills the wait for them instead of coming after it.
    # spawn: a clean interpreter per worker, safe whatever threads the parent runs (rich, Dask).
    here = min(range(len(shards)), key=lambda i: (shards[i].cost, i))
    for i, path in enumerate(paths):
        if i != here:
            Path(path).touch()  # there for the merge, even before its worker opens it
    pool = get_context("spawn").Pool(len(shards) - 1, initializer=watch_parent,
                                     initargs=(os.getpid(),))
    try:
        started = {i: pool.apply_async(run_shard, (scenario, shard, formats, paths[i], calls))
                   for i, shard in enumerate(shards) if i != here}
        done_here = run_shard(scenario, shards[here], formats, paths[here], calls)
        if on_done:
            on_done(done_here[0])
        flownos = merge([None if i == here else _following(started[i])
                         for i in range(len(shards))])
        results = []
        for i in range(len(shards)):
            results.append(done_here if i == here else started[i].get())
            if on_done and i != here:
                on_done(results[-1][0])
    except BaseException:
        pool.terminate()  # a stopped run (Ctrl-C, SIGTERM, an error) does not wait for them
        pool.join()
        raise
    pool.close()
    pool.join()
    return results, flownos


def _run_on_dask(address: str | Any, scenario: Scenario, shards: list[Shard],
                 formats: tuple[str, ...], on_done: Callable[[RunStats], None] | None,
                 calls: int | None) -> list[ShardResult]:
    from distributed import Client

    if isinstance(address, Client):
        client = address
    else:
        try:
            client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ShardingError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        futures = [client.submit(run_shard, scenario, shard, formats, None, calls, pure=False)
                   for shard in shards]
        return _in_order([future.result for future in futures], on_done)
    finally:
        if client is not address:
            client.close()


def _in_order(results_of: list[Callable[[], ShardResult]],
              on_done: Callable[[RunStats], None] | None) -> list[ShardResult]:
    """Shard results in shard order (each waited for: a worker's, a Dask future's), reporting
    each one."""
    results = []
    for result_of in results_of:
        results.append(result_of())
        if on_done:
            on_done(results[-1][0])
    return results
