"""The pure core: the call state machine, the decision table, rating, end reasons, the CDR
built from a call and the plain config records the core is built from.

Sans-I/O and standard library only: nothing here reads a clock, opens a socket or a file, or
imports a SIP stack, simpy, pjsua2, scapy, pydantic or a database. Both transports
(``simulator.transports``) translate the scenario once (``simulator.scenario._core``) and drive
the same ``Call``.
"""

import copyreg
import dataclasses
from typing import Any

from simulator.core import _config, _rating
from simulator.core import _decisions as decisions
from simulator.core import _events as events
from simulator.core._calendar import Calendar
from simulator.core._cdr import Records, cdr_from_call
from simulator.core._config import (
    ANSWER,
    ANSWER_AT_ONCE,
    NO_ANSWER,
    UNREACHABLE,
    AccountConfig,
    Behaviour,
    CallerBehaviour,
    CoreConfig,
    Credentials,
    MappingGatewayConfig,
    Outage,
    RoutingGatewayConfig,
    SwitchConfig,
)
from simulator.core._decisions import (
    ALL_ROWS,
    CALLEE_BYE,
    CALLER_BYE,
    CALLER_CANCEL,
    FAILOVER_CODES,
    OBSERVED_CODES,
    SETUP_CHECKS,
    TIMER_B,
    Party,
    Verdict,
    bye_reason_header,
    callee_rejection,
    is_callee_response,
    observed_code_clash,
    placeholder_code,
    suppressed_by,
    verdict_of_row,
)
from simulator.core._events import Event, TraceFormatError, event_from_json, event_json
from simulator.core._metrics import (
    DIRECTION_NAMES,
    SHORT_CALLEE_SECONDS,
    SHORT_CALLER_SECONDS,
    Tally,
    gateway_alarms,
    ratio,
)
from simulator.core._outcome import (
    Billing,
    Outcome,
    VendorBilling,
    outcome_from_events,
    outcome_of,
)
from simulator.core._plan import CallNeverEnds, PlannedCall, Script, generated_scripts
from simulator.core._rating import Charge, Rate, RateTable, Section, Wallet, round_money
from simulator.core._reasons import Q850_TEXTS, SIP_PHRASES, EndReason, q850_text, sip_phrase
from simulator.core._record import (
    CDR_FIELDS,
    E_CDR_COLUMNS,
    E_CDR_NAMES,
    EXPECTABLE,
    EXPORT_52,
    EXPORT_53,
    EXTRA_FIELDS,
    PIPE_FIELDS,
    PIPE_TO_COLUMN,
    TABLE_61,
    Cdr,
    FeeTexts,
    PipeLines,
    column_for,
    only_recorded,
    stoptimes,
)
from simulator.core._state import EVENT, Call, CallAttempt, Kind, Leg, Phase, Signalling, Switch


def _by_constructor(record: Any) -> tuple[type, tuple[Any, ...]]:
    """A frozen record pickled as its constructor's arguments. The compiled core's dataclasses
    would restore their fields one setattr at a time, which a frozen class refuses; a
    ``--workers`` shard sends verdicts and rates back in its outcomes."""
    return type(record), tuple(getattr(record, f.name) for f in dataclasses.fields(record)
                               if f.init)


_FROZEN_RECORDS: tuple[type, ...] = tuple(
    value for module in (decisions, _config, _rating) for value in vars(module).values()
    if isinstance(value, type) and dataclasses.is_dataclass(value)
    and value.__module__ == module.__name__)
for _frozen in _FROZEN_RECORDS:
    copyreg.pickle(_frozen, _by_constructor)

__all__ = [
    "ALL_ROWS",
    "ANSWER",
    "ANSWER_AT_ONCE",
    "CALLEE_BYE",
    "CALLER_BYE",
    "CALLER_CANCEL",
    "CDR_FIELDS",
    "DIRECTION_NAMES",
    "EVENT",
    "EXPECTABLE",
    "EXPORT_52",
    "EXPORT_53",
    "EXTRA_FIELDS",
    "E_CDR_COLUMNS",
    "E_CDR_NAMES",
    "FAILOVER_CODES",
    "NO_ANSWER",
    "OBSERVED_CODES",
    "PIPE_FIELDS",
    "PIPE_TO_COLUMN",
    "Q850_TEXTS",
    "SETUP_CHECKS",
    "SHORT_CALLEE_SECONDS",
    "SHORT_CALLER_SECONDS",
    "SIP_PHRASES",
    "TABLE_61",
    "TIMER_B",
    "UNREACHABLE",
    "AccountConfig",
    "Behaviour",
    "Billing",
    "Calendar",
    "Call",
    "CallAttempt",
    "CallNeverEnds",
    "CallerBehaviour",
    "Cdr",
    "Charge",
    "CoreConfig",
    "Credentials",
    "EndReason",
    "Event",
    "FeeTexts",
    "Kind",
    "Leg",
    "MappingGatewayConfig",
    "Outage",
    "Outcome",
    "Party",
    "Phase",
    "PipeLines",
    "PlannedCall",
    "Rate",
    "RateTable",
    "Records",
    "RoutingGatewayConfig",
    "Script",
    "Section",
    "Signalling",
    "Switch",
    "SwitchConfig",
    "Tally",
    "TraceFormatError",
    "VendorBilling",
    "Verdict",
    "Wallet",
    "bye_reason_header",
    "callee_rejection",
    "cdr_from_call",
    "column_for",
    "decisions",
    "event_from_json",
    "event_json",
    "events",
    "gateway_alarms",
    "generated_scripts",
    "is_callee_response",
    "observed_code_clash",
    "only_recorded",
    "outcome_from_events",
    "outcome_of",
    "placeholder_code",
    "q850_text",
    "ratio",
    "round_money",
    "sip_phrase",
    "stoptimes",
    "suppressed_by",
    "verdict_of_row",
]

