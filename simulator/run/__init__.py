"""A run: options, sharding over workers, progress and the run summary."""
