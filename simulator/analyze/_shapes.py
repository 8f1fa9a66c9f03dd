"""Every input shape ``vossim analyze`` (and the row reader) accepts, in one list.

An error about an input names them all (``vossim analyze: FILE: ...`` then this list), so a user
with an unreadable file sees what would have been read. A reader that learns a new shape adds
it here; ``docs/reading-cdrs.md`` tells how each is recognised.
"""

from __future__ import annotations

ACCEPTED_SHAPES: tuple[str, ...] = (
    "a vossim output directory (its fullest format)",
    "pipe text files cdr/YYYYMMDDHH.txt (18 |-separated fields)",
    "e_cdr rows as CSV or TSV, with a header row or without one (63, 61, 53, 52, 46 or 39 "
    "fields)",
    "the billing export cdr_YYYYMMDD_HHMMSS.csv",
    "JSON lines (cdr.jsonl, GetCdr objects) or one JSON array of CDR objects",
    "SQLite (vos3000.db: e_cdr and e_cdr_YYYYMMDD tables)",
    "Parquet (e_cdr_*.parquet or any file with e_cdr column names)",
    "mysql://USER:PASS@HOST:PORT/DB (e_cdr and e_cdr_YYYYMMDD tables)",
)


def accepted_shapes_text() -> str:
    """One line naming every accepted shape, for an error message."""
    return "vossim analyze reads: " + "; ".join(ACCEPTED_SHAPES)
