"""The formats whose sinks need a heavy library (pyarrow, PyMySQL).

They are registered with the others, but their modules are loaded only when a run asks for the
format, so a run that writes pipe files never imports pyarrow or PyMySQL. Their sinks build on
``_sinks`` (the e_cdr rows), which therefore must not know about them: registering them here,
rather than in ``_sinks``, keeps the imports one-way.
"""

from __future__ import annotations

from cdr_writer._formats import CdrFormat, Sink, SinkContext, register
from cdr_writer._sinks import EcdrRows


def _parquet(context: SinkContext) -> Sink:
    from cdr_writer._parquet import ParquetSink

    return ParquetSink(context)


def _mariadb(context: SinkContext) -> Sink:
    from cdr_writer._mariadb import MariaDbSink

    url = context.options.get("db")
    if not url:
        raise ValueError("--format mariadb needs --db mysql://USER:PASS@HOST:PORT/DATABASE")
    return MariaDbSink(url, context.flush)


register(CdrFormat("parquet", _parquet, "daily Parquet files e_cdr_YYYYMMDD.parquet, typed "
                   "e_cdr columns", files=("e_cdr_*.parquet",), renderer=EcdrRows.renderer))
register(CdrFormat("mariadb", _mariadb, "daily tables e_cdr_YYYYMMDD in a MySQL/MariaDB "
                   "database (--db URL)", options=("db",), renderer=EcdrRows.renderer,
                   modes=("run",)))  # live mode writes files; load them into the database
