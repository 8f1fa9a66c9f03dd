"""Synthetic traffic: load profiles turned into a stream of call attempts."""

from simulator.traffic._generator import Script, all_calls

__all__ = [
    "Script",
    "all_calls",
]
