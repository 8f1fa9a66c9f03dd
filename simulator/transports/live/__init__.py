"""Live mode: the scenario over real SIP on 127.0.0.1 (sippy switch, pjsua2 parties).

Importing this package imports sippy; the core (``simulator.core._state``) never does. The run
around the switch (outputs, statistics, signals) is ``simulator.run._live``.
"""

from simulator.transports.live._addresses import AddressPlan
from simulator.transports.live._agents import AgentPool
from simulator.transports.live._capacity import agent_needs
from simulator.transports.live._switch import (
    LiveError,
    LiveOptions,
    LiveSwitch,
    console,
    stack_errors,
)

__all__ = ["AddressPlan", "AgentPool", "LiveError", "LiveOptions", "LiveSwitch", "agent_needs",
           "console", "stack_errors"]
