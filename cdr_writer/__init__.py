"""VOS3000-format CDR records and their sinks: pipe files, e_cdr CSV, SQLite, JSON lines."""

from cdr_writer._record import (
    E_CDR_COLUMNS,
    E_CDR_NAMES,
    EXPECTABLE,
    PIPE_FIELDS,
    Cdr,
    column_for,
)
from cdr_writer._sinks import (
    DEFAULT_FORMATS,
    FORMATS,
    JSONL_NAME,
    SQLITE_NAME,
    Output,
    pipe_line,
    remove_stale_staging,
    staged_name,
)

__all__ = [
    "DEFAULT_FORMATS",
    "EXPECTABLE",
    "E_CDR_COLUMNS",
    "E_CDR_NAMES",
    "FORMATS",
    "JSONL_NAME",
    "PIPE_FIELDS",
    "SQLITE_NAME",
    "Cdr",
    "Output",
    "column_for",
    "pipe_line",
    "remove_stale_staging",
    "staged_name",
]
