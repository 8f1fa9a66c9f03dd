"""The shapes VOS3000 CDRs come in: column layouts, header aliases, separators, mangled numbers.

Shared by the batch readers of ``vossim analyze`` (``_sources``), the row reader (``_rows``, the
public ``read_cdr_rows``/``parse_cdr_row``) and ``vossim explain --cdr``.

Header-less rows are recognised by their field count (see ``docs/cdr-formats.md``):

- 63: the ``e_cdr`` table of a 2.1.9-era system, ``id`` … ``dynamicValue`` (vossim's own CSV);
- 61: the same without ``additional`` and ``dynamicValue`` (a plain table export);
- 53 / 52: the billing export ``cdr_YYYYMMDD_HHMMSS.csv``: the table's order without ``id``, the
  rtp ips, ``calleroriginal*`` and ``sipreasonheader``; the 53-column version adds
  ``transactionid``, assumed here to be appended last (no public sample shows where it goes);
- 46: the older real-time feed, in the order of the reference's real row;
- 39: the old export. Its full order is not documented; the layout below is the one a public
  importer of that export reads (row id first, one ``pdd``, ``feeprefix``/``agentfeeprefix``,
  ``softswitchdn``, ``calleebilling``, ``subcdr_id``; no ``customeraccount``). It is an
  assumption: a header row, when present, always wins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cdr_writer import E_CDR_COLUMNS, E_CDR_NAMES, PIPE_FIELDS
from simulator.core import EXPORT_52, EXPORT_53, TABLE_61


class SourceError(Exception):
    """A CDR source that cannot be read: says which file (line) and what was expected."""


# The 46 fields of the older real-time feed (the reference's real row, in its column order).
OLDER_FEED_NAMES: tuple[str, ...] = (
    "callere164", "calleraccesse164", "calleee164", "calleeaccesse164", "callerip",
    "callergatewayid", "callerproductid", "callertogatewaye164", "callertype", "calleeip",
    "calleegatewayid", "calleeproductid", "calleetogatewaye164", "calleetype", "billingmode",
    "calllevel", "agentfeetime", "starttime", "stoptime", "callerpdd", "calleepdd", "holdtime",
    "callerareacode", "feetime", "fee", "suitefee", "suitefeetime", "incomefee",
    "customeraccount", "customername", "calleeareacode", "agentfee", "agentsuitefee",
    "agentsuitefeetime", "agentaccount", "agentname", "flowno", "softswitchname",
    "softswitchcallid", "callercallid", "calleecallid", "enddirection", "endreason",
    "calleebilling", "cdrlevel", "agentcdr_id",
)
# The old 39-column export, as its names read (aliases below map them to e_cdr names).
OLD_EXPORT_39: tuple[str, ...] = (
    "id", "callere164", "calleraccesse164", "calleee164", "calleeaccesse164", "callerip",
    "callergatewayh323id", "callerproductid", "callertogatewaye164", "calleeip",
    "calleegatewayh323id", "calleetogatewaye164", "billingmode", "calllevel", "agentfeetime",
    "starttime", "stoptime", "pdd", "holdtime", "feeprefix", "feetime", "fee", "suitefee",
    "suitefeetime", "incomefee", "customername", "agentfeeprefix", "agentfee", "agentsuitefee",
    "agentsuitefeetime", "agentaccount", "agentname", "flowno", "softswitchdn", "enddirection",
    "endreason", "calleebilling", "cdrlevel", "subcdr_id",
)
LAYOUTS: dict[int, tuple[str, str, tuple[str, ...]]] = {
    len(names): (label, description, names) for label, description, names in (
        ("e_cdr-63", "the e_cdr table (63 columns)", E_CDR_NAMES),
        ("e_cdr-61", "the e_cdr table without additional/dynamicValue (61 columns)", TABLE_61),
        ("export-53", "the billing export with transactionid (53 columns)", EXPORT_53),
        ("export-52", "the billing export (52 columns)", EXPORT_52),
        ("feed-46", "the older real-time feed (46 columns)", OLDER_FEED_NAMES),
        ("export-39", "the old export (39 columns, assumed order)", OLD_EXPORT_39),
    )
}
PIPE_NAMES: tuple[str, ...] = tuple(column for _, column in PIPE_FIELDS)

# Names other shapes use for an e_cdr column (after lower-casing): the old export's and the
# older feed's, and the Web API's GetCdr JSON (camelCase; ``calleeGateway``, ``start``, ``stop``).
ALIASES: dict[str, str] = {
    "calleebilling": "billingtype", "pdd": "callerpdd",
    "callergatewayh323id": "callergatewayid", "calleegatewayh323id": "calleegatewayid",
    "callergateway": "callergatewayid", "calleegateway": "calleegatewayid",
    "start": "starttime", "stop": "stoptime",
}
# Declared kinds of every column a reader may type: e_cdr's, plus the extra fields.
_KINDS: dict[str, str] = {name.lower(): kind.split("(")[0] for name, kind in E_CDR_COLUMNS}
INTEGER_COLUMNS = frozenset(n for n, k in _KINDS.items() if k in ("int", "bigint"))
FLOAT_COLUMNS = frozenset(n for n, k in _KINDS.items() if k == "double")
KNOWN_NAMES = frozenset((*(n.lower() for n in E_CDR_NAMES), *OLDER_FEED_NAMES, *OLD_EXPORT_39,
                         *(n.lower() for n, _ in PIPE_FIELDS), *ALIASES, "endreasonname",
                         "recorded", "callid", "endreasoncategory"))

# What a spreadsheet makes of a long digit string: 1.00206285364032E+017 (digits lost).
_MANGLED = re.compile(r"^[+-]?\d(?:\.\d+)?[eE][+]?\d+$")


def canonical(name: str) -> str:
    """The e_cdr name of a column, whatever shape named it (``calleeGateway`` → calleegatewayid)."""
    lower = name.strip().strip('"').strip().lower()
    return ALIASES.get(lower, lower)


def is_mangled_number(text: str) -> bool:
    """A number a spreadsheet rewrote in scientific notation (its digits are gone)."""
    return bool(_MANGLED.fullmatch(text.strip()))


def is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def separator_of(line: str) -> str:
    """``|`` for a pipe line, a tab for ``mysql -B`` output, else a comma."""
    pipes, tabs, commas = line.count("|"), line.count("\t"), line.count(",")
    if pipes >= len(PIPE_FIELDS) - 1 and pipes > max(tabs, commas):
        return "|"
    if tabs and tabs >= commas:
        return "\t"
    return ","


def looks_like_header(fields: list[str]) -> bool:
    """A header names at least three known columns (a data row names none)."""
    return sum(canonical(f) in KNOWN_NAMES for f in fields) >= 3


def layout_for(count: int, where: str) -> tuple[str, tuple[str, ...]]:
    """The (label, names) of a header-less row of ``count`` fields, or a clear error."""
    if count in LAYOUTS:
        label, _, names = LAYOUTS[count]
        return label, names
    if count == len(PIPE_NAMES):
        return "pipe", PIPE_NAMES
    known = ", ".join(str(n) for n in sorted(LAYOUTS, reverse=True))
    raise SourceError(f"{where}: expected a header row naming the e_cdr columns, or a row of "
                      f"{known} fields (e_cdr layouts; see docs/cdr-formats.md) or the "
                      f"{len(PIPE_NAMES)} '|'-separated fields of a pipe file; found {count} "
                      f"fields")


def json_objects(data: Any, where: str) -> Iterator[dict[str, Any]]:
    """The CDR objects of a JSON document: an object, an array, or a reply holding an array."""
    if isinstance(data, list):
        for item in data:
            if not isinstance(item, dict):
                raise SourceError(f"{where}: expected an array of CDR objects, found a "
                                  f"{type(item).__name__}")
            yield item
        return
    if not isinstance(data, dict):
        raise SourceError(f"{where}: expected a CDR object or an array of them")
    lists = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    if len(lists) == 1 and not any(canonical(k) in ("flowno", "endreason") for k in data):
        yield from json_objects(lists[0], where)  # e.g. GetCdr's reply {"retCode": 0, "…": [ ]}
    else:
        yield data


def json_file_objects(path: Path) -> Iterator[dict[str, Any]]:
    """The CDR objects of a JSON lines file or of one JSON document (array or reply object)."""
    try:
        with path.open("r", encoding="utf-8-sig") as handle:
            head = handle.read(1 << 16).lstrip()
            handle.seek(0)
            if head.startswith("{") and whole_json_object(head):
                for number, line in enumerate(handle, 1):
                    if not line.strip() or is_comment(line):
                        continue
                    try:
                        data = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise SourceError(f"{path}:{number}: not a JSON object: {exc.msg}") \
                            from None
                    for item in json_objects(data, f"{path}:{number}"):
                        yield item
                return
            try:
                data = json.load(handle)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path}: expected UTF-8 JSON text") from None
    for item in json_objects(data, str(path)):
        yield item


def whole_json_object(head: str) -> bool:
    """JSON lines: the first line alone is a whole object (a pretty-printed document's is not)."""
    line = head.split("\n", 1)[0].strip()
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False
