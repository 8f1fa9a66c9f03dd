"""``vossim audit``: every row re-decided and re-rated against the operator's configuration.

Rows stream in (in the order the switch wrote them, by stoptime). Rows of one account whose calls
overlap in time (or fall within the same second, which a CPS limit counts) form a group: shared
balances and limits only reproduce together. Finished groups are replayed in batches, one
simulation per batch. A prepaid account's balance carries from one replay to the next: the
configuration's balance is taken as the balance before the first row (the CDRs do not show it).
Groups are cut at a bounded size (see ``MAX_GROUP_ROWS``), so memory stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.core import Outcome
from simulator.run import SimulationError, run_scenario
from simulator.scenario import CallSpec, Scenario, load_scenario

from ._compare import AUDITED, DIFFERENT, compare_row
from ._infer import Endings, Plan, plan_row, profile_of, spread_over_routes
from ._rows import Row, RowError, read_rows
from ._scenario import check_config, configured_call, gateway_for

CPS_WINDOW_MS = 1000
# A group this large is cut, so that memory stays bounded: calls across the cut replay apart,
# which only matters where a concurrency or CPS limit bites, or, for a prepaid account, where
# its balance is about to run out (its calls hold money on it); so its groups are cut later.
MAX_GROUP_ROWS = 5000
MAX_PREPAID_GROUP_ROWS = 50_000
# How long a finished group waits for a later row that overlaps it, when the switch sets no
# max_call_duration: an hour, or the longest call seen so far if longer.
HORIZON_MS = 3_600_000
_NO_NOTES: list[str] = []  # shared and never appended to: audit keeps no notes per row
BATCH_ROWS = 2000


@dataclass(slots=True)
class _Group:
    account: str
    plans: list[Plan] = field(default_factory=list)
    first_invite: int = 2 ** 62
    last_stop: int = 0


@dataclass
class Audit:
    """The running tallies of an audit (``report`` turns them into plain data)."""

    config: Scenario
    rows: int = 0
    consistent: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)
    by_field: dict[str, int] = field(default_factory=dict)
    by_cause: dict[str, int] = field(default_factory=dict)
    money: dict[str, list[Any]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    unreadable_count: int = 0
    notes: list[str] = field(default_factory=list)

    def report(self, seconds: float) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "consistent": self.consistent,
            "differences": self.differences,
            "by_field": dict(sorted(self.by_field.items(), key=lambda kv: -kv[1])),
            "by_cause": dict(sorted(self.by_cause.items(), key=lambda kv: -kv[1])),
            "money": {customer: {"rows": count, "difference": format(amount, "f")}
                      for customer, (count, amount) in sorted(self.money.items())},
            "unreadable": {"rows": self.unreadable_count, "first": self.unreadable},
            "notes": self.notes,
            "seconds": round(seconds, 3),
            "rows_per_second": round(self.rows / seconds) if seconds > 0 else 0,
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return str(value)


class Auditor:
    """Replays groups of plans against ``config`` and tallies the verdicts."""

    def __init__(self, config: Scenario, batch_rows: int = BATCH_ROWS) -> None:
        self.config = config
        self.endings = Endings(config)
        self.profile = profile_of(config)
        self.tally = Audit(config)
        self.batch_rows = batch_rows
        self._batch: list[_Group] = []
        self._batch_size = 0
        # what each prepaid account holds after the rows replayed so far (the CDRs do not
        # show balances: the configuration's is the balance before the first row)
        self._money = {name: account.money for name, account in config.accounts.items()
                       if account.type == "prepaid"}
        self._start_ms = round(config.start.timestamp() * 1000)
        self._serial = 0

    # -- grouping ---------------------------------------------------------------------------
    def run(self, rows: Iterable[Row | str]) -> Audit:
        """Group, replay and tally every row. Rows come by stoptime, so a row may still join
        a group of calls that ended before it began: a group waits until no later row can
        overlap it (the stream has passed its end by more than the longest call can last),
        and a row that overlaps several waiting groups joins them into one."""
        pending: dict[str, list[_Group]] = {}
        limit_ms = self.config.switch.max_call_duration * 1000
        horizon = limit_ms or HORIZON_MS
        latest_stop = 0
        for count, row in enumerate(rows, 1):
            if isinstance(row, str):  # a row that could not be read
                self.tally.unreadable_count += 1
                if len(self.tally.unreadable) < 20:
                    self.tally.unreadable.append(row)
                continue
            plan = plan_row(row, self.endings, self.profile)
            spread_over_routes(plan, self.endings)
            # only the audited columns are compared: the rest of the row, and the notes that
            # reproduce shows, need not wait in memory
            fields = row.fields
            row.fields = {name: fields[name] for name in AUDITED if name in fields}
            plan.notes = row.notes = _NO_NOTES
            account = row.customeraccount
            groups = pending.setdefault(account, [])
            low, high = plan.invite_ms - CPS_WINDOW_MS, row.stoptime + CPS_WINDOW_MS
            joined = [g for g in groups if g.first_invite <= high and g.last_stop >= low]
            if joined:
                group = joined[0]
                for other in joined[1:]:
                    group.plans.extend(other.plans)
                    group.first_invite = min(group.first_invite, other.first_invite)
                    group.last_stop = max(group.last_stop, other.last_stop)
                    groups.remove(other)
            else:
                group = _Group(account)
                groups.append(group)
            group.plans.append(plan)
            group.first_invite = min(group.first_invite, plan.invite_ms)
            group.last_stop = max(group.last_stop, row.stoptime)
            if not limit_ms:  # no switch limit: the longest call seen so far bounds the wait
                horizon = max(horizon, row.stoptime - plan.invite_ms)
            latest_stop = max(latest_stop, row.stoptime)
            limit = MAX_PREPAID_GROUP_ROWS if account in self._money else MAX_GROUP_ROWS
            if len(group.plans) >= limit:  # cut: it and the account's earlier groups go
                self._flush(groups, lambda g, cut=group: g.first_invite <= cut.first_invite)
            if count % 512 == 0:
                settled = latest_stop - horizon  # no later row can reach back before this
                for waiting in pending.values():
                    self._flush(waiting, lambda g, settled=settled: g.last_stop < settled)
        for waiting in pending.values():
            self._flush(waiting, lambda g: True)
        self._replay_batch()
        return self.tally

    def _flush(self, groups: list[_Group], done: Callable[[_Group], bool]) -> None:
        """Replay (in time order) the groups of one account that ``done`` picks."""
        ready = sorted((g for g in groups if done(g)), key=lambda g: g.first_invite)
        for group in ready:
            groups.remove(group)
            self._finished(group)

    def _finished(self, group: _Group) -> None:
        self._batch.append(group)
        self._batch_size += len(group.plans)
        if self._batch_size >= self.batch_rows:
            self._replay_batch()

    # -- replaying ----------------------------------------------------------------------------
    def _replay_batch(self) -> None:
        groups, self._batch = self._batch, []
        self._batch_size = 0
        plans = [plan for group in groups for plan in group.plans]
        if plans:
            self._replay(plans)

    def _replay(self, plans: list[Plan]) -> None:
        config = self.config
        start_ms = self._start_ms
        earliest = min(plan.invite_ms for plan in plans)
        update: dict[str, Any] = {"traffic": []}
        if earliest < start_ms:
            start_ms = earliest - earliest % 1000
            update["start"] = config.start.fromtimestamp(start_ms / 1000, config.start.tzinfo)
            note = ("rows older than the configuration's start were replayed from an earlier "
                    "start (outages given in seconds move with it)")
            if note not in self.tally.notes:
                self.tally.notes.append(note)
        ids, calls, replayed = [], [], []
        for plan in plans:
            self._serial += 1
            call_id = f"r{self._serial}"
            gateway, source_ip = gateway_for(config, plan.row.callerip, plan.row.callergatewayid)
            entry = configured_call(plan, start_ms, config, gateway)
            entry.update({"id": call_id, "from": gateway, "caller": plan.row.caller,
                          "callee": plan.row.callee, "expect": {"recorded": True}})
            if source_ip:
                entry["source_ip"] = source_ip
            try:
                calls.append(CallSpec.model_validate(entry))
            except ValidationError as exc:
                problem = exc.errors()[0]
                where = ".".join(str(part) for part in problem["loc"])
                self._tally(plan, None, f"the row makes no valid call: {where}: "
                                        f"{problem['msg']}")
                continue
            ids.append(call_id)
            replayed.append(plan)
        if not calls:
            return
        plans = replayed
        update["calls"] = calls
        paying = {plan.row.customeraccount for plan in plans} & self._money.keys()
        if paying:
            update["accounts"] = {**config.accounts, **{
                name: config.accounts[name].model_copy(update={"money": self._money[name]})
                for name in paying}}
        scenario = config.model_copy(update=update)
        try:
            outcomes = run_scenario(scenario, None).outcomes
        except SimulationError as exc:
            if len(plans) == 1:
                self._tally(plans[0], None, f"the replay failed: {exc}")
            else:  # one call at a time, to find the one that fails
                for plan in plans:
                    self._replay([plan])
            return
        for call_id, plan in zip(ids, plans, strict=True):
            outcome = outcomes.get(call_id)
            if outcome is not None and outcome.record.customeraccount in paying:
                # what the replay really took from the account (nothing for a suppressed record)
                self._money[outcome.record.customeraccount] -= outcome.billing.charged
            self._tally(plan, outcome, None, scenario)

    def _tally(self, plan: Plan, outcome: Outcome | None, failure: str | None,
               scenario: Scenario | None = None) -> None:
        tally = self.tally
        tally.rows += 1
        row = plan.row
        if failure is not None:
            fields = {"record": {"cdr": "row", "simulated": None, "why": failure}}
            tally.differences.append({"flowno": row.flowno, "fields": fields})
            tally.by_cause["replay failed"] = tally.by_cause.get("replay failed", 0) + 1
            return
        names = tuple(name for name in AUDITED if name in row.fields)
        verdicts = compare_row(row, plan, outcome, scenario or self.config, names)
        different = [v for v in verdicts if v.status == DIFFERENT]
        if not different:
            tally.consistent += 1
            return
        fields = {}
        for verdict in different:
            fields[verdict.name] = {"cdr": _json_value(verdict.original),
                                    "simulated": _json_value(verdict.simulated),
                                    "why": verdict.reason}
            tally.by_field[verdict.name] = tally.by_field.get(verdict.name, 0) + 1
            tally.by_cause[verdict.cause] = tally.by_cause.get(verdict.cause, 0) + 1
            if verdict.name == "fee" and outcome is not None:
                customer = row.customeraccount or "(no account)"
                count, amount = tally.money.get(customer, (0, Decimal(0)))
                tally.money[customer] = [count + 1, amount + row.fee - outcome.record.fee]
        tally.differences.append({"flowno": row.flowno, "fields": fields})


def readable_rows(source: str | Path) -> Iterator[Row | str]:
    """The rows of ``source``; a row that cannot be read comes as its error message."""
    for number, fields in enumerate(read_rows(source), 1):
        try:
            yield Row.from_fields(fields, f"{source}: row {number}")
        except RowError as exc:
            yield str(exc)


def audit(sources: list[str], config_path: str, *, batch_rows: int = BATCH_ROWS
          ) -> dict[str, Any]:
    """The audit report of every row of ``sources`` against the scenario ``config_path``."""
    began = time.perf_counter()
    config = load_scenario(config_path)
    check_config(config, config_path)
    auditor = Auditor(config, batch_rows)

    def every_row() -> Iterator[Row | str]:
        for source in sources:
            yield from readable_rows(source)

    tally = auditor.run(every_row())
    report = tally.report(time.perf_counter() - began)
    report["config"] = config_path
    report["profile"] = auditor.profile
    return report
