"""The run's own error, apart so that every module of the run can raise it without importing the
options (which import the sharding, which counts through the outputs)."""


class RunOptionError(ValueError):
    """Run options that cannot go together (the scenario itself is fine)."""
