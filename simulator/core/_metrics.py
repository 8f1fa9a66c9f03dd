"""The traffic metrics and alarm rules, defined once for every reader of CDRs.

The run summary (``simulator.run``) counts a run's CDRs as they are written; ``vossim analyze``
counts CDR files it reads. Both report the same metrics and raise the same alarms, so the words
and numbers that define them live here and nowhere else:

- ASR: answered calls / calls; ACD: talk seconds / answered calls.
- who ended a call: ``endDirection`` 0 caller, 1 callee, 2 server (``DIRECTION_NAMES``).
- short hangups, the seeds' two patterns: a callee hangup under ``SHORT_CALLEE_SECONDS`` (a CLI
  or spam problem) and a caller hangup under ``SHORT_CALLER_SECONDS`` (one-way audio or a wrong
  number), as shares of the answered calls.
- the alarms: server hangups over ``SERVER_HANGUP_ALARM`` of the answered calls is the seeds'
  own rule ("over 25 %: investigate"). For the short-hangup patterns the seeds name no
  threshold; vossim takes more than ``SHORT_HANGUP_ALARM`` of the answered calls as the
  "unusually high share" they describe. That is a choice, not VOS3000 behaviour.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from simulator.core._record import Cdr

DIRECTION_NAMES: dict[int, str] = {0: "caller", 1: "callee", 2: "server"}

SHORT_CALLEE_SECONDS: Final = 5
SHORT_CALLER_SECONDS: Final = 3

SERVER_HANGUP_ALARM: Final = 0.25
SHORT_HANGUP_ALARM: Final = 0.10

# (metric, threshold, message with the share in {share}) of the seeds' per-gateway alarms.
GATEWAY_ALARM_RULES: tuple[tuple[str, float, str], ...] = (
    ("server_hangups", SERVER_HANGUP_ALARM,
     f"server hangups {{share:.1%}} of answered calls (over {SERVER_HANGUP_ALARM:.0%}): "
     "check session timers and prepaid balances"),
    ("short_callee_hangups", SHORT_HANGUP_ALARM,
     f"callee hangups under {SHORT_CALLEE_SECONDS} s {{share:.1%}} of answered calls: "
     "possible CLI or spam problem"),
    ("short_caller_hangups", SHORT_HANGUP_ALARM,
     f"caller hangups under {SHORT_CALLER_SECONDS} s {{share:.1%}} of answered calls: "
     "one-way audio or wrong numbers"),
)


def ratio(part: float, whole: float) -> float:
    """``part / whole``, 0 when there is nothing to divide by (no calls, no answered calls)."""
    return part / whole if whole else 0.0


def is_short_hangup(direction: int, hold_seconds: int) -> bool:
    """An answered call that matches one of the seeds' short-hangup patterns."""
    return (direction == 1 and hold_seconds < SHORT_CALLEE_SECONDS) or \
        (direction == 0 and hold_seconds < SHORT_CALLER_SECONDS)


def gateway_alarms(shares: dict[str, float]) -> list[tuple[str, float, float, str]]:
    """(metric, share, threshold, message) of every seed alarm that ``shares`` trips.

    ``shares`` maps each metric of ``GATEWAY_ALARM_RULES`` to its share of the answered calls.
    """
    return [(metric, shares[metric], limit, message.format(share=shares[metric]))
            for metric, limit, message in GATEWAY_ALARM_RULES if shares[metric] > limit]


_ZERO: Final = Decimal(0)

# What tells records apart for a run's totals: (caller gateway, callee gateway, endDirection,
# endReason, reason name, answered, short hangup, recorded). A run has a few hundred of them.
TallyKey = tuple[str, str, int, int, str, bool, bool, bool]


class TallyGroup:
    """The records of one ``TallyKey``: how many, their talk time and their fees."""

    __slots__ = ("calls", "fee", "fees", "talk_seconds")

    def __init__(self) -> None:
        self.calls = 0
        self.talk_seconds = 0
        self.fee = False  # some record had a fee (a fee of 0 is never added)
        self.fees = _ZERO


class Tally:
    """A run's records counted by what its totals tell apart (``TallyKey``), as they are
    written; the run summary (``simulator.run._stats``) folds the groups into its totals.
    Compiled with the core: counting runs once per record of a load run."""

    def __init__(self) -> None:
        self.groups: dict[TallyKey, TallyGroup] = {}

    def add(self, cdr: Cdr) -> None:
        hold = cdr.holdtime
        direction = cdr.enddirection
        answered = cdr.starttime != cdr.stoptime or hold != 0
        short = answered and is_short_hangup(direction, hold)
        key = (cdr.callergatewayid, cdr.calleegatewayid, direction, cdr.endreason,
               cdr.end_reason_name, answered, short, cdr.recorded)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = TallyGroup()
        group.calls += 1
        group.talk_seconds += hold
        fee = cdr.fee
        if fee:
            group.fees += fee
            group.fee = True

    def add_block(self, cdrs: list[Cdr]) -> None:
        for cdr in cdrs:
            self.add(cdr)

    def take(self) -> dict[TallyKey, TallyGroup]:
        """The groups counted since the last take, in the order their keys first came."""
        groups = self.groups
        self.groups = {}
        return groups
