"""``vossim reproduce`` and ``vossim audit``: from real CDR rows back to scenarios and replays.

``reproduce`` turns one row (any shape the readers of ``vossim analyze`` take, either CDR
profile) into a commented scenario, runs it and sets the replayed row beside the original.
``audit`` does the same in bulk against the operator's configuration: it re-decides and re-rates
every row and reports what differs. Only ``simulator.cli`` imports this package.
"""

from simulator.audit._audit import audit
from simulator.audit._compare import DIFFERENT, EQUAL, UNKNOWN, FieldVerdict
from simulator.audit._html import render_html, write_html
from simulator.audit._reproduce import PROFILES, Reproduction, reproduce
from simulator.audit._rows import RowError
from simulator.audit._text import print_audit, print_reproduction

__all__ = ["DIFFERENT", "EQUAL", "PROFILES", "UNKNOWN", "FieldVerdict", "Reproduction",
           "RowError", "audit", "print_audit", "print_reproduction", "render_html", "reproduce",
           "write_html"]
