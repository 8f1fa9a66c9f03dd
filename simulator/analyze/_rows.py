"""CDRs one row at a time, keyed by lower-case e_cdr column names, whatever shape they came in.

Public API (exported from ``simulator.analyze``), for ``vossim explain --cdr``, ``reproduce`` and
``audit``:

- ``read_cdr_rows(source, warnings=None) -> Iterator[dict[str, object]]``: every CDR of a file,
  a vossim output directory or a ``mysql://`` URL: e_cdr CSV or TSV (63, 61, 53, 52, 46 or 39
  columns, with or without a header, ``#`` comment lines skipped), the pipe file, GetCdr JSON
  (camelCase, JSON lines or an array, or the API's reply object holding the array), vossim's
  ``cdr.jsonl``, SQLite, Parquet, MySQL/MariaDB.
- ``parse_cdr_row(text) -> dict[str, object]``: one row given as text: a CSV or TSV line (a
  header line may come before it), a JSON object, or a pipe line.

Both raise ``SourceError`` (one line: where, and what was expected) on what they cannot read.

Keys are e_cdr names (``calleeGateway`` → ``calleegatewayid``, ``start`` → ``starttime``,
``calleebilling`` → ``billingtype``, ``pdd`` → ``callerpdd``); names e_cdr does not have stay,
lower-cased (``feeprefix``, ``endreasonname``, ``callid``, ``softswitchdn``). Values are typed by
the column's declared type: ``int``/``bigint`` columns as ``int``, ``double`` as ``float``, the
rest as ``str``; an empty or ``NULL`` number is ``None``. A value that does not parse as its
column's type is kept as the text, so nothing is guessed: in particular a spreadsheet's
``1.00206285364032E+017`` (digits lost) stays text, and ``read_cdr_rows`` adds one warning per
column naming how many such values it saw.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from simulator.analyze._database import cdr_database
from simulator.analyze._layouts import (
    FLOAT_COLUMNS,
    INTEGER_COLUMNS,
    PIPE_NAMES,
    SourceError,
    canonical,
    is_comment,
    is_mangled_number,
    json_file_objects,
    json_objects,
    layout_for,
    looks_like_header,
    separator_of,
)

__all__ = ["SourceError", "parse_cdr_row", "read_cdr_rows"]

_NULLS = ("", "NULL", "\\N")


def typed_value(column: str, value: object) -> object:
    """``value`` as the column's declared type; text that does not parse stays text."""
    if not isinstance(value, str):
        return value
    if column in INTEGER_COLUMNS:
        text = value.strip()
        if text in _NULLS:
            return None
        try:
            return int(text)
        except ValueError:
            pass
        if is_mangled_number(text):
            return value
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() else value
    if column in FLOAT_COLUMNS:
        text = value.strip()
        if text in _NULLS:
            return None
        try:
            return float(text)
        except ValueError:
            return value
    return value


def typed_row(raw: dict[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, object]:
    """A row keyed by e_cdr names with typed values (the first of two names for one column wins)."""
    row: dict[str, object] = {}
    for name, value in (raw.items() if isinstance(raw, dict) else raw):
        key = canonical(name)
        if key not in row:
            row[key] = typed_value(key, value)
    return row


def mangled_columns(row: dict[str, object]) -> list[str]:
    """The columns of ``row`` holding a number a spreadsheet rewrote (not in double columns)."""
    return [k for k, v in row.items()
            if isinstance(v, str) and k not in FLOAT_COLUMNS and is_mangled_number(v)]


# -- one row given as text ----------------------------------------------------------------------
def parse_cdr_row(text: str) -> dict[str, object]:
    """One CDR given as text: a CSV/TSV line (its header line may precede it), JSON, pipe."""
    return parse_row_and_shape(text)[1]


def parse_row_and_shape(text: str) -> tuple[str, dict[str, object]]:
    """(the shape it was read as, the row): what ``explain --cdr`` shows."""
    stripped = text.strip(" \r\n")  # not tabs: a TSV row may begin or end with empty fields
    if stripped.startswith(("{", "[")):
        return "JSON object", typed_row(_one_json_object(stripped))
    lines = [line.strip(" \r") for line in stripped.split("\n")
             if line.strip() and not is_comment(line)]
    if not lines:
        raise SourceError("expected a CDR row (a CSV or TSV line, a JSON object or a pipe line), "
                          "found nothing")
    last = lines[-1]
    pipes = last.count("|")
    separator = "|" if pipes > max(last.count("\t"), last.count(",")) else separator_of(last)
    name = {"|": "pipe", "\t": "tab-separated", ",": "comma-separated"}[separator]
    fields = [_fields(line, separator) for line in lines]
    if len(lines) == 2 and looks_like_header(fields[0]):
        header, values = fields
        if len(header) != len(values):
            raise SourceError(f"the header names {len(header)} columns but the row has "
                              f"{len(values)} fields")
        return f"{name} row with its header", typed_row(zip(header, values, strict=True))
    if len(lines) != 1:
        raise SourceError(f"expected one CDR row (or a header line and one row), found "
                          f"{len(lines)} lines: give a file with --flowno N instead")
    (values,) = fields
    if looks_like_header(values):
        raise SourceError("this is a header row (it names the columns), not a CDR")
    if separator == "|":
        if len(values) != len(PIPE_NAMES):
            raise SourceError(f"expected a pipe CDR line of {len(PIPE_NAMES)} |-separated "
                              f"fields (callerE164|calleeE164|startTime|…|flowNo), found "
                              f"{len(values)}")
        return "pipe line", typed_row(zip(PIPE_NAMES, values, strict=True))
    label, names = layout_for(len(values), f"a {name} row")
    if label == "pipe":
        layout_for(-1, f"a {name} row of {len(values)} fields")  # 18 fields are pipe-only
    return f"{name} row, {label} layout", typed_row(zip(names, values, strict=True))


def _fields(line: str, separator: str) -> list[str]:
    return next(csv.reader([line], delimiter=separator))


def _one_json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"not a JSON object: {exc.msg} (line {exc.lineno}, column "
                          f"{exc.colno})") from None
    objects = list(json_objects(data, "the JSON"))
    if len(objects) != 1:
        raise SourceError(f"expected one CDR object, found {len(objects)}: give a file with "
                          "--flowno N instead")
    return objects[0]


# -- every row of a source ----------------------------------------------------------------------
def read_cdr_rows(source: str | Path, warnings: list[str] | None = None
                  ) -> Iterator[dict[str, object]]:
    """Every CDR of ``source`` as a dict keyed by e_cdr column names (see the module docstring).

    When the iteration ends, ``warnings`` (if given) receives one line per column that held
    numbers mangled by a spreadsheet, with their count.
    """
    from simulator.analyze._sources import _READ_ERRORS, SourceError, _first_line_of, find_sources

    for found in find_sources([str(source)]):
        mangled: Counter[str] = Counter()
        examples: dict[str, str] = {}
        rows = _rows_of(found.kind, found.path, found.label)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except SourceError:
                raise
            except _READ_ERRORS as exc:  # a damaged file: one line that names it
                raise SourceError(f"{found.label}: cannot read it as {found.kind} CDRs: "
                                  f"{_first_line_of(exc)}") from None
            for column in mangled_columns(row):
                mangled[column] += 1
                examples.setdefault(column, str(row[column]))
            yield row
        if warnings is not None:
            warnings.extend(mangled_warning(found.label, column, count, examples[column])
                            for column, count in mangled.items())


def mangled_warning(label: str, column: str, count: int, example: str,
                    consequence: str = "kept as text, never read as numbers") -> str:
    return (f"{label}: {column}: {count:,} values in a spreadsheet's scientific notation (e.g. "
            f"{example}): their digits are lost; {consequence}")


def _rows_of(kind: str, path: str, label: str) -> Iterator[dict[str, object]]:
    if kind in ("pipe", "e_cdr"):
        yield from _text_rows(Path(path))
    elif kind in ("jsonl", "json"):
        yield from _json_rows(Path(path))
    elif kind == "sqlite":
        yield from _sqlite_rows(path)
    elif kind == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
            for raw in batch.to_pylist():
                yield typed_row(raw)
    elif kind == "mariadb":
        yield from _mariadb_rows(path, label)
    else:  # pragma: no cover - find_sources names no other kind
        raise SourceError(f"{label}: no row reader for {kind}")


def _data_lines(handle: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, 1):
        if line.strip() and not is_comment(line):
            yield number, line.rstrip("\r\n")


def _text_rows(path: Path) -> Iterator[dict[str, object]]:
    try:
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
            lines = _data_lines(handle)
            first = next(lines, None)
            if first is None:
                return
            separator = separator_of(first[1])
            number, line = first
            fields = _fields(line, separator)
            if looks_like_header(fields):
                names = [canonical(f) for f in fields]
            elif separator == "|":
                if len(fields) != len(PIPE_NAMES):
                    raise SourceError(f"{path}:{number}: expected the {len(PIPE_NAMES)} "
                                      f"'|'-separated fields of a pipe file, found {len(fields)}")
                names = list(PIPE_NAMES)
                yield typed_row(zip(names, fields, strict=True))
            else:
                _, layout = layout_for(len(fields), f"{path}:{number}")
                names = list(layout)
                yield typed_row(zip(names, fields, strict=True))
            for number, line in lines:
                fields = _fields(line, separator)
                if len(fields) != len(names):
                    raise SourceError(f"{path}:{number}: expected {len(names)} fields separated "
                                      f"by {separator!r}, found {len(fields)}")
                yield typed_row(zip(names, fields, strict=True))
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None


def _json_rows(path: Path) -> Iterator[dict[str, object]]:
    for item in json_file_objects(path):
        yield typed_row(item)


def _sqlite_rows(path: str) -> Iterator[dict[str, object]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND (name = 'e_cdr' OR name "
            "GLOB 'e_cdr_[0-9]*') ORDER BY name")]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            while rows := cursor.fetchmany(10_000):
                for values in rows:
                    yield typed_row(zip(names, values, strict=True))
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{path}: not a readable SQLite database: {exc}") from None
    finally:
        db.close()


def _mariadb_rows(url_text: str, label: str) -> Iterator[dict[str, object]]:
    with cdr_database(url_text, label) as (db, tables):
        for table in tables:
            with db.cursor() as cursor:
                cursor.execute(f"SELECT * FROM `{table}`")
                names = [d[0] for d in cursor.description]
                while rows := cursor.fetchmany(10_000):
                    for values in rows:
                        yield typed_row(zip(names, values, strict=True))
