"""Live mode: the scenario over real SIP on 127.0.0.1 (sippy switch, pjsua2 parties).

Importing this package imports sippy; the core (``simulator.core._state``) never does.
"""

from simulator.transports.live._addresses import AddressPlan
from simulator.transports.live._runner import LiveResult, run_live
from simulator.transports.live._switch import LiveError

__all__ = ["AddressPlan", "LiveError", "LiveResult", "run_live"]
