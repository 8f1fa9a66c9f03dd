"""``mariadb``: CDRs into a MySQL or MariaDB server, daily tables ``e_cdr_YYYYMMDD`` like VOS3000.

The tables have the 63 e_cdr columns with the reference's types, ``flowno`` as primary key and
the reference's five indexes; they are created when missing (InnoDB: VOS3000's own MyISAM has no
transactions, and a killed run must leave whole batches only). Rows are inserted in batches of
``batch`` rows, one transaction each; ``--realtime`` commits every row, so a pipeline polling the
table sees each call as it ends.

A rerun into the same database **resumes**: when a daily table already holds rows, the first
record bound for it must equal the stored row with the same ``id`` (same scenario, seed and
options give byte-identical CDRs), then every record up to the table's highest ``id`` is skipped
and the rest inserted. ``id`` is the write order in both CDR profiles (under ``seeds`` it equals
``flowno``; under ``vos3000`` flowno is the INVITE's number, which the write order does not
follow). A run that was killed half-way is completed, a run that had finished adds nothing, and
a table holding another run's CDRs is refused (``CdrDatabaseError``) before anything is written
to it. Rows are never duplicated: flowno is the key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
from pymysql.constants import SERVER_STATUS
from pymysql.converters import escape_string

from cdr_writer._sinks import EcdrRows, sqlite_row
from simulator.core import E_CDR_COLUMNS, E_CDR_NAMES, Cdr

BATCH_ROWS = 1000
INDEXED = ("callere164", "callergatewayid", "starttime", "stoptime", "customeraccount")
_ID = E_CDR_NAMES.index("id")  # the write order: what a resumed run skips up to
_SCHEMES = ("mysql", "mariadb", "mysql+pymysql")


def _literal_renderer(no_backslash_escapes: bool) -> Callable[[object], str]:
    """One SQL literal per value. PyMySQL's own escaping, called per value through its type
    dispatch, costs five times this; rows here hold only str, int, float, bytes or None."""

    def literal(value: object) -> str:
        kind = value.__class__
        if kind is str:
            if not value:
                return "''"
            if no_backslash_escapes:
                return "'" + value.replace("'", "''") + "'"  # type: ignore[attr-defined]
            return "'" + escape_string(value) + "'"  # type: ignore[arg-type]
        if value is None:
            return "NULL"
        if kind is bytes:
            return "x'" + value.hex() + "'"  # type: ignore[attr-defined]
        if kind is float:
            return repr(value)
        return str(int(value))  # type: ignore[call-overload]

    return literal


class CdrDatabaseError(Exception):
    """The CDR database cannot be used: bad URL, unreachable server, or another run's rows."""


@dataclass(frozen=True)
class DatabaseUrl:
    user: str
    password: str
    host: str
    port: int
    database: str
    unix_socket: str | None = None
    batch: int = BATCH_ROWS

    @property
    def shown(self) -> str:
        """The URL with its password hidden (``***``), for messages."""
        where = f"{self.host}:{self.port}" if not self.unix_socket else self.unix_socket
        secret = ":***" if self.password else ""
        return f"mysql://{self.user}{secret}@{where}/{self.database}"

    def connect(self, *, database: bool = True) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            database=self.database if database else None, unix_socket=self.unix_socket,
            charset="utf8mb4", autocommit=False, connect_timeout=10)


def parse_url(text: str) -> DatabaseUrl:
    """``mysql://USER:PASS@HOST:PORT/DATABASE[?batch=N&unix_socket=PATH]``."""
    expected = "expected mysql://USER:PASS@HOST:PORT/DATABASE"
    try:
        parts = urlsplit(text)
        port = parts.port or 3306
    except ValueError as exc:
        raise CdrDatabaseError(f"bad database URL {text!r}: {exc}; {expected}") from None
    if parts.scheme not in _SCHEMES:
        raise CdrDatabaseError(f"bad database URL {text!r}: scheme {parts.scheme!r}; {expected}")
    database = parts.path.lstrip("/")
    if not database or "/" in database or "`" in database:
        raise CdrDatabaseError(f"bad database URL {text!r}: no database name; {expected}")
    query = parse_qs(parts.query)
    batch_text = query.get("batch", [str(BATCH_ROWS)])[0]
    if not batch_text.isdigit() or int(batch_text) < 1:
        raise CdrDatabaseError(f"bad database URL {text!r}: batch={batch_text!r}, expected a "
                               "whole number of rows >= 1")
    return DatabaseUrl(user=unquote(parts.username or "root"),
                       password=unquote(parts.password or ""),
                       host=parts.hostname or "127.0.0.1", port=port, database=database,
                       unix_socket=query.get("unix_socket", [None])[0], batch=int(batch_text))


def _mysql_type(kind: str) -> str:
    return kind


def create_table_sql(table: str) -> str:
    columns = [f"`{name}` {_mysql_type(kind)}" + (" NOT NULL" if name == "flowno" else " NULL")
               for name, kind in E_CDR_COLUMNS]
    keys = ["PRIMARY KEY (`flowno`)", *(f"KEY `{c}` (`{c}`)" for c in INDEXED)]
    return (f"CREATE TABLE IF NOT EXISTS `{table}` ({', '.join(columns + keys)}) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")


def connect(url: DatabaseUrl) -> pymysql.connections.Connection:
    """A connection to ``url``'s database, creating the database when it is missing."""
    try:
        try:
            return url.connect()
        except pymysql.err.OperationalError as exc:
            if exc.args[0] != 1049:  # unknown database
                raise
        server = url.connect(database=False)
        with server.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{url.database}` "
                           "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        server.close()
        return url.connect()
    except pymysql.err.MySQLError as exc:
        raise CdrDatabaseError(f"cannot use the CDR database {url.shown}: "
                               f"{exc.args[-1] if exc.args else exc}") from None


@dataclass
class _Table:
    name: str
    stored_max: int | None  # highest id already in the table before this run; None: empty
    checked: bool = False


class MariaDbSink(EcdrRows):
    """Daily ``e_cdr_YYYYMMDD`` tables in a MySQL / MariaDB database, batched transactions."""

    def __init__(self, url: str, flush: bool = False) -> None:
        self.url = parse_url(url)
        self.db = connect(self.url)
        self.batch_rows = 1 if flush else self.url.batch
        self.tables: dict[str, _Table] = {}
        self.pending: dict[str, list[list[object]]] = {}
        self.pending_rows = 0
        self.day_end = -1
        self.table: _Table | None = None
        self.inserted = 0
        self.skipped = 0
        self.literal = _literal_renderer(bool(
            self.db.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES))

    def write(self, cdr: Cdr) -> None:
        self.write_row(cdr.stoptime, sqlite_row(cdr))

    def write_row(self, stoptime: int, row: list[object]) -> None:
        """An e_cdr row (fee as float, as ``sqlite_row`` gives it) that stopped at ``stoptime``."""
        if stoptime >= self.day_end:
            self.table = self._open_table(datetime.fromtimestamp(stoptime / 1000, UTC)
                                          .strftime("e_cdr_%Y%m%d"))
            self.day_end = (stoptime // 86_400_000 + 1) * 86_400_000
        table = self.table
        assert table is not None
        if table.stored_max is not None:
            written = row[_ID]
            if not table.checked:
                self._check_same_run(table, row)
                table.checked = True
            if written <= table.stored_max:  # type: ignore[operator]
                self.skipped += 1
                return
        self.pending.setdefault(table.name, []).append(row)
        self.pending_rows += 1
        if self.pending_rows >= self.batch_rows:
            self._commit()

    def _open_table(self, name: str) -> _Table:
        table = self.tables.get(name)
        if table is not None:
            return table
        self._commit()  # DDL commits implicitly in MySQL: never in the middle of a batch
        try:
            with self.db.cursor() as cursor:
                cursor.execute(create_table_sql(name))
                cursor.execute(f"SELECT MAX(`id`) FROM `{name}`")
                (stored_max,) = cursor.fetchone()
            self.db.commit()
        except pymysql.err.MySQLError as exc:
            raise CdrDatabaseError(f"{self.url.shown}: cannot create table {name}: "
                                   f"{exc.args[-1]}") from None
        table = self.tables[name] = _Table(name, stored_max)
        return table

    def _check_same_run(self, table: _Table, row: list[object]) -> None:
        with self.db.cursor() as cursor:
            cursor.execute(f"SELECT * FROM `{table.name}` WHERE `id` = %s", (row[_ID],))
            stored = cursor.fetchone()
        if stored is None or tuple(stored) != tuple(row):
            raise CdrDatabaseError(
                f"{self.url.shown}: table {table.name} already holds CDRs (up to id "
                f"{table.stored_max}) of another run: its row id {row[_ID]} differs from "
                "this run's. Resuming needs the same scenario, seed and options; otherwise drop "
                "the table or use another database")

    def _commit(self) -> None:
        if not self.pending_rows:
            return
        try:
            literal = self.literal
            with self.db.cursor() as cursor:
                for name, rows in self.pending.items():
                    values = "),(".join([",".join(map(literal, row)) for row in rows])
                    cursor.execute(f"INSERT INTO `{name}` VALUES ({values})")
            self.db.commit()
        except pymysql.err.MySQLError as exc:
            with contextlib.suppress(pymysql.err.MySQLError):
                self.db.rollback()
            raise CdrDatabaseError(f"{self.url.shown}: insert failed: {exc.args[-1]}") from None
        self.inserted += self.pending_rows
        self.pending = {}
        self.pending_rows = 0

    def notes(self) -> list[str]:
        inserted = f"inserted {self.inserted:,} CDRs into {self.url.shown}"
        if not self.skipped:
            return [inserted]
        return [f"{inserted}; {self.skipped:,} CDRs were already in it from an earlier run of "
                "the same scenario (resumed)"]

    def close(self) -> None:
        try:
            self._commit()
        finally:
            self.db.close()

    def discard(self) -> None:
        """The run failed: drop the batch in progress; committed batches stay (a rerun resumes)."""
        self.pending = {}
        self.pending_rows = 0
        with contextlib.suppress(Exception):
            self.db.rollback()
            self.db.close()


def connection_info(url: str) -> dict[str, Any]:
    """Keyword arguments for ``pymysql.connect`` (used by ``vossim analyze``)."""
    parsed = parse_url(url)
    return {"host": parsed.host, "port": parsed.port, "user": parsed.user,
            "password": parsed.password, "database": parsed.database,
            "unix_socket": parsed.unix_socket}
