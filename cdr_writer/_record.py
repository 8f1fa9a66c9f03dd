"""The CDR record lives in the core (``simulator.core._record``); kept importable from here."""

from simulator.core import (
    E_CDR_COLUMNS,
    E_CDR_NAMES,
    EXPECTABLE,
    EXTRA_FIELDS,
    PIPE_FIELDS,
    PIPE_TO_COLUMN,
    Cdr,
    column_for,
)

__all__ = ["EXPECTABLE", "EXTRA_FIELDS", "E_CDR_COLUMNS", "E_CDR_NAMES", "PIPE_FIELDS",
           "PIPE_TO_COLUMN", "Cdr", "column_for"]
