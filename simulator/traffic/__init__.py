"""Synthetic traffic: load profiles turned into a stream of call attempts."""
