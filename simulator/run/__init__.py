"""A run: options, sharding over workers, progress and the run summary."""

from simulator.run._stats import GatewayStats, RunStats

__all__ = ["GatewayStats", "RunStats"]
