"""VOS3000 CDR output: the registry of formats and their sinks (pipe files, e_cdr CSV, SQLite,
JSON lines). The record itself is the core's (``simulator.core._record``), re-exported here.

A new format registers itself (see ``_formats``) in a module imported below.
"""

from cdr_writer import (
    _heavy_formats,  # noqa: F401  (registers parquet and mariadb after _sinks)
    _vos_csv,  # noqa: F401  (registers vos-csv)
)
from cdr_writer._formats import (
    FLOWNO,
    FORMATS,
    CdrFormat,
    Sink,
    SinkContext,
    UnknownFormat,
    formats_for,
    get_format,
    parse_formats,
    register,
)
from cdr_writer._sinks import (
    DEFAULT_FORMATS,
    JSONL_NAME,
    SQLITE_NAME,
    Output,
    pipe_line,
    remove_stale_staging,
    staged_name,
)
from simulator.core import E_CDR_COLUMNS, E_CDR_NAMES, EXPECTABLE, PIPE_FIELDS, Cdr, column_for

__all__ = [
    "DEFAULT_FORMATS",
    "EXPECTABLE",
    "E_CDR_COLUMNS",
    "E_CDR_NAMES",
    "FLOWNO",
    "FORMATS",
    "JSONL_NAME",
    "PIPE_FIELDS",
    "SQLITE_NAME",
    "Cdr",
    "CdrFormat",
    "Output",
    "Sink",
    "SinkContext",
    "UnknownFormat",
    "column_for",
    "formats_for",
    "get_format",
    "parse_formats",
    "pipe_line",
    "register",
    "remove_stale_staging",
    "staged_name",
]
