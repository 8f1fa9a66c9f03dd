"""Text from scenario and CDR files on a terminal: data, never markup or control sequences.

A gateway called ``[/v]`` would be a rich markup error, one called ``[red]GW`` would print as a
red "GW", and an ESC sequence in a scenario's ``name`` would retitle the window or recolour the
terminal. ``shown`` makes such text printable (control characters as escapes, as ``repr`` writes
them), ``markup_safe`` also escapes rich markup for the places that take markup strings (table
cells, titles), and ``SafeConsole`` escapes whatever control character still reaches the output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape
from rich.segment import Segment

# C0 (but the line feed rich lays out itself), DEL, C1, the Unicode line and paragraph
# separators and the bidirectional overrides and isolates, which reorder what follows them.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_LINE_FEED = re.compile(f"\n|{_CONTROL.pattern}")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object) -> str:
    """``text`` with every control character (line feeds too) written as an escape."""
    return _CONTROL_OR_LINE_FEED.sub(_escaped, str(text))


def markup_safe(text: object) -> str:
    """``shown(text)`` for a place that reads rich markup: brackets print as brackets."""
    return escape(shown(text))


class SafeConsole(Console):
    """A console whose plain text segments never carry a control character to the terminal;
    its own styles and cursor moves (control segments) pass unchanged."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            segment if segment.control or not _CONTROL.search(segment.text)
            else Segment(_CONTROL.sub(_escaped, segment.text), segment.style, segment.control)
            for segment in buffer)
