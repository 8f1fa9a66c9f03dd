"""Live mode: the scenario over real SIP on 127.0.0.1 (sippy switch, pjsua2 parties).

Importing this package imports sippy; the core (``simulator.core._state``) never does.
"""

from simulator.transports.live._addresses import AddressPlan
from simulator.transports.live._runner import LiveResult, run_live

__all__ = ["AddressPlan", "LiveResult", "run_live"]
