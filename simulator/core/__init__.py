"""The pure core: the call state machine, the decision table, rating, end reasons, the CDR
built from a call and the plain config records the core is built from.

Sans-I/O and standard library only: nothing here reads a clock, opens a socket or a file, or
imports a SIP stack, simpy, pjsua2, scapy, pydantic or a database. Both transports
(``simulator.transports``) translate the scenario once (``simulator.scenario._core``) and drive
the same ``Call``.
"""

from simulator.core._cdr import cdr_from_call
from simulator.core._config import (
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
from simulator.core._decisions import ALL_ROWS, SETUP_CHECKS, Party, Verdict
from simulator.core._rating import Charge, Rate, RateTable, Section, Wallet
from simulator.core._reasons import EndReason
from simulator.core._record import Cdr
from simulator.core._state import Call, CallAttempt, Kind, Leg, Phase, Signalling, Switch

__all__ = [
    "ALL_ROWS",
    "SETUP_CHECKS",
    "AccountConfig",
    "Behaviour",
    "Call",
    "CallAttempt",
    "CallerBehaviour",
    "Cdr",
    "Charge",
    "CoreConfig",
    "Credentials",
    "EndReason",
    "Kind",
    "Leg",
    "MappingGatewayConfig",
    "Outage",
    "Party",
    "Phase",
    "Rate",
    "RateTable",
    "RoutingGatewayConfig",
    "Section",
    "Signalling",
    "Switch",
    "SwitchConfig",
    "Verdict",
    "Wallet",
    "cdr_from_call",
]
