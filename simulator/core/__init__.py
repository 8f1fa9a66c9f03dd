"""The pure core: the call state machine, the decision table, rating, end reasons, the CDR
built from a call and the plain config records the core is built from.

Sans-I/O and standard library only: nothing here reads a clock, opens a socket or a file, or
imports a SIP stack, simpy, pjsua2, scapy, pydantic or a database. Both transports
(``simulator.transports``) translate the scenario once (``simulator.scenario._core``) and drive
the same ``Call``.
"""

from simulator.core import _decisions as decisions
from simulator.core import _events as events
from simulator.core._calendar import Calendar
from simulator.core._cdr import cdr_from_call
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
from simulator.core._plan import CallNeverEnds, PlannedCall
from simulator.core._rating import Charge, Rate, RateTable, Section, Wallet, round_money
from simulator.core._reasons import Q850_TEXTS, SIP_PHRASES, EndReason, q850_text, sip_phrase
from simulator.core._record import (
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
    column_for,
)
from simulator.core._state import EVENT, Call, CallAttempt, Kind, Leg, Phase, Signalling, Switch

__all__ = [
    "ALL_ROWS",
    "ANSWER",
    "ANSWER_AT_ONCE",
    "CALLEE_BYE",
    "CALLER_BYE",
    "CALLER_CANCEL",
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
    "Kind",
    "Leg",
    "MappingGatewayConfig",
    "Outage",
    "Outcome",
    "Party",
    "Phase",
    "PlannedCall",
    "Rate",
    "RateTable",
    "RoutingGatewayConfig",
    "Section",
    "Signalling",
    "Switch",
    "SwitchConfig",
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
    "is_callee_response",
    "observed_code_clash",
    "outcome_from_events",
    "outcome_of",
    "placeholder_code",
    "q850_text",
    "ratio",
    "round_money",
    "sip_phrase",
    "suppressed_by",
    "verdict_of_row",
]

