"""A MySQL/MariaDB database of VOS3000 CDRs, as the readers open it: its e_cdr tables.

PyMySQL is loaded only when a ``mysql://`` source is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simulator.analyze._layouts import SourceError

# The tables VOS3000 keeps CDRs in: ``e_cdr`` and the daily ``e_cdr_YYYYMMDD``, in date order.
_CDR_TABLES = ("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
               "AND (TABLE_NAME = 'e_cdr' OR TABLE_NAME REGEXP '^e_cdr_[0-9]{8}$') "
               "ORDER BY TABLE_NAME")


@contextmanager
def cdr_database(url_text: str, label: str) -> Iterator[tuple[Any, list[str]]]:
    """(connection, its CDR tables) of a ``mysql://`` URL; every database error, while open or
    while read, is one ``SourceError`` line naming ``label`` (the URL, its password hidden)."""
    import pymysql
    import pymysql.cursors

    from cdr_writer._mariadb import CdrDatabaseError, parse_url

    try:
        url = parse_url(url_text)
        db = pymysql.connect(host=url.host, port=url.port, user=url.user, password=url.password,
                             database=url.database, unix_socket=url.unix_socket,
                             charset="utf8mb4", connect_timeout=10,
                             cursorclass=pymysql.cursors.SSCursor)
    except (CdrDatabaseError, pymysql.err.MySQLError) as exc:
        raise SourceError(f"{label}: cannot read the database: "
                          f"{exc.args[-1] if exc.args else exc}") from None
    try:
        with db.cursor() as cursor:
            cursor.execute(_CDR_TABLES)
            tables = [t for (t,) in cursor.fetchall()]
        yield db, tables
    except pymysql.err.MySQLError as exc:
        raise SourceError(f"{label}: {exc.args[-1] if exc.args else exc}") from None
    finally:
        db.close()
