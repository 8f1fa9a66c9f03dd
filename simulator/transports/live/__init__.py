"""Live mode: the scenario over real SIP on 127.0.0.1 (sippy switch, pjsua2 parties).

Importing this package imports sippy; the core (``simulator.core._state``) never does. The run
around the switch (outputs, statistics, signals) is ``simulator.run._live``.
"""

from simulator.transports.live._addresses import AddressPlan
from simulator.transports.live._switch import LiveError, LiveOptions, LiveSwitch

__all__ = ["AddressPlan", "LiveError", "LiveOptions", "LiveSwitch"]
