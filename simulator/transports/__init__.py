"""What drives the core: simulated time on simpy (``_simulated``) and real SIP (``live``)."""

from simulator.transports._simulated import Simulation, SimulationError, expected_arrivals

__all__ = [
    "Simulation",
    "SimulationError",
    "expected_arrivals",
]
