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

Accounts go to shards by expected load, heaviest first onto the lightest shard (ties by name
and shard number), so the split is deterministic: the same scenario, seed and N give
byte-identical output.

How the output is merged
------------------------
Each shard renders its records (in the formats asked for, by each format's ``renderer`` in the
registry, ``cdr_writer._formats``) with a placeholder for ``flowno`` and spools them in stoptime
order. The parent merges the spools on (stoptime, shard, order in the shard), numbers the
recorded ones 1, 2, 3 … and hands them to the same sinks (``write_rendered``), hourly and daily
files included, as a single process does. A format without ``renderer`` gets the record itself.
"""

from __future__ import annotations

import heapq
import io
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from cdr_writer import FLOWNO, Cdr, CdrFormat, Output, get_format
from simulator.run._stats import RunStats
from simulator.scenario._schema import Scenario
from simulator.transports._simulated import Simulation

_BATCH = 2048
DASK_CONNECT_TIMEOUT = 15.0  # s to reach a scheduler given by address


class ShardingError(Exception):
    """A sharded run cannot start (e.g. the Dask scheduler is out of reach)."""


@dataclass(frozen=True)
class Shard:
    index: int
    accounts: frozenset[str]
    capacities: dict[str, int | None]


def account_loads(scenario: Scenario) -> dict[str, float]:
    """The expected number of call attempts of each account."""
    start = scenario.start.timestamp()
    loads = dict.fromkeys(scenario.accounts, 0.0)
    gateways = scenario.mapping_gateways
    for call in scenario.calls:
        loads[gateways[call.from_].account] += 1
    for profile in scenario.traffic:
        loads[gateways[profile.from_].account] += profile.expected_calls(start)
    return loads


def plan_shards(scenario: Scenario, count: int) -> list[Shard]:
    """Split the accounts over ``count`` shards (see the module docstring)."""
    loads = account_loads(scenario)
    totals = [0.0] * count
    members: list[set[str]] = [set() for _ in range(count)]
    for name in sorted(loads, key=lambda n: (-loads[n], n)):
        target = min(range(count), key=lambda i: (totals[i], i))
        members[target].add(name)
        totals[target] += loads[name]
    grand = sum(totals)
    weights = [t / grand for t in totals] if grand else [1 / count] * count
    capacities: list[dict[str, int | None]] = [{} for _ in range(count)]
    for name, gateway in scenario.routing_gateways.items():
        for i, share in enumerate(split(gateway.capacity, weights)):
            capacities[i][name] = share
    return [Shard(i, frozenset(members[i]), capacities[i]) for i in range(count)]


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
    """Receives a shard's CDRs and spools them, rendered, in batches of pickled tuples.

    Entry: (stoptime, shard, n, recorded, rendered): ``rendered`` holds one item per format
    asked for, None where the format does not take the record (a suppressed one).
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
        self.batch: list[tuple[Any, ...]] = []
        self.count = 0

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
            flowno, cdr.flowno = cdr.flowno, FLOWNO
        rendered = tuple(render(cdr) if recorded or all_records else None
                         for render, all_records in self.renderers)
        if recorded:
            cdr.flowno = flowno
        self.batch.append((cdr.stoptime, self.shard, self.count, recorded, rendered))
        if len(self.batch) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            pickle.dump(self.batch, self.handle, protocol=pickle.HIGHEST_PROTOCOL)
            self.batch = []


def _the_record(cdr: Cdr) -> Cdr:
    """What a shard spools for a format without ``renderer``: a copy of the record."""
    copy = Cdr()
    for name in Cdr.__slots__:
        setattr(copy, name, getattr(cdr, name))
    return copy


class _Writer:
    """The parent's side of one format: rendered records (or records) into its sink."""

    def __init__(self, cdr_format: CdrFormat, sink: Any) -> None:
        self.all_records = cdr_format.all_records
        if cdr_format.renderer is not None:
            self.write = sink.write_rendered
        else:
            def write(_stoptime: int, cdr: Cdr, flowno: int | None) -> None:
                cdr.flowno = flowno
                sink.write(cdr)
            self.write = write


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

        def on_cdr(cdr: Cdr) -> None:
            stats.add(cdr, cdr.fee)
            spool(cdr)
        simulation = Simulation(scenario, on_cdr, accounts=shard.accounts,
                                capacities=shard.capacities, calls=calls)
        simulation.run()
        stats.sim_seconds = simulation.last_end
        spool.flush()
        data = None if spool_path else handle.getvalue()
    finally:
        handle.close()
    return stats, data, spool.kept


# -- the parent ---------------------------------------------------------------------------------
def _entries(source: str | bytes) -> Iterator[tuple[Any, ...]]:
    handle = open(source, "rb") if isinstance(source, str) else io.BytesIO(source)  # noqa: SIM115
    with handle:
        while True:
            try:
                batch = pickle.load(handle)
            except EOFError:
                return
            yield from batch


def merge_into(output: Output | None, sources: list[str | bytes],
               kept: dict[tuple[int, int], Cdr] | None = None) -> None:
    """Merge shard spools into ``output`` in stoptime order, numbering flowno 1, 2, 3 …"""
    if output is None:
        return
    writers = [_Writer(f, sink) for f, sink in zip(output.formats, output.sinks, strict=True)]
    flowno = 0
    for stoptime, shard, n, recorded, rendered in heapq.merge(*(_entries(s) for s in sources)):
        if recorded:
            flowno += 1
            for writer, item in zip(writers, rendered, strict=True):
                writer.write(stoptime, item, flowno)
            if kept and (shard, n) in kept:
                kept[(shard, n)].flowno = flowno
        else:
            for writer, item in zip(writers, rendered, strict=True):
                if writer.all_records:
                    writer.write(stoptime, item, None)


def run_sharded(scenario: Scenario, output: Output | None, formats: tuple[str, ...], *,
                workers: int = 1, dask_address: str | Any | None = None,
                on_shard_done: Callable[[RunStats], None] | None = None,
                calls: int | None = None) -> tuple[RunStats, dict[str, Cdr]]:
    """Run ``scenario`` as ``workers`` shards (local processes, or tasks on a Dask cluster);
    ``calls`` keeps the scenario's first ``calls`` attempts, each shard its own of them."""
    shards = plan_shards(scenario, workers)
    stats = RunStats()
    kept: dict[str, Cdr] = {}
    with tempfile.TemporaryDirectory(prefix=".vossim-shards-",
                                     dir=output.staging if output else None) as spool_dir:
        if dask_address is not None:
            results = _run_on_dask(dask_address, scenario, shards, formats, on_shard_done, calls)
            sources: list[str | bytes] = [data for _, data, _ in results]
        else:
            paths = [os.path.join(spool_dir, f"shard-{s.index}.spool") for s in shards]
            results = _run_local(scenario, shards, formats, paths, on_shard_done, calls)
            sources = list(paths)
        by_position: dict[tuple[int, int], Cdr] = {}
        for shard_stats, _, shard_kept in results:
            stats.merge(shard_stats)
            for call_id, (position, cdr) in shard_kept.items():
                # The shard numbered the record itself; the merge gives it the final flowno.
                cdr.flowno = None
                kept[call_id] = cdr
                if position is not None:
                    by_position[position] = cdr
        merge_into(output, sources, by_position)
    return stats, kept


def _run_local(scenario: Scenario, shards: list[Shard], formats: tuple[str, ...],
               paths: list[str], on_done: Callable[[RunStats], None] | None,
               calls: int | None) -> list[tuple[RunStats, bytes | None, dict[str, Any]]]:
    if len(shards) == 1:
        result = run_shard(scenario, shards[0], formats, paths[0], calls)
        if on_done:
            on_done(result[0])
        return [result]
    # spawn: a clean interpreter per worker, safe whatever threads the parent runs (rich, Dask).
    with ProcessPoolExecutor(len(shards), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_shard, scenario, shard, formats, path, calls)
                   for shard, path in zip(shards, paths, strict=True)]
        return _in_order(futures, on_done)


def _run_on_dask(address: str | Any, scenario: Scenario, shards: list[Shard],
                 formats: tuple[str, ...], on_done: Callable[[RunStats], None] | None,
                 calls: int | None) -> list[tuple[RunStats, bytes | None, dict[str, Any]]]:
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
        return _in_order(futures, on_done)
    finally:
        if client is not address:
            client.close()


def _in_order(futures: list[Any], on_done: Callable[[RunStats], None] | None,
              ) -> list[tuple[RunStats, bytes | None, dict[str, Any]]]:
    """Shard results in shard order (a local or a Dask future alike), reporting each one."""
    results = []
    for future in futures:
        results.append(future.result())
        if on_done:
            on_done(results[-1][0])
    return results
