"""Where ``make bench`` keeps its results: a section of ``docs/benchmarks.md`` per script.

Each bench script prints its report and, with ``--results FILE``, also writes it into FILE
between two marker comments of its own, replacing what the previous run wrote there and leaving
the rest of the file (the prose around the numbers) as it was. A file without the markers gets
the section at its end.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Report:
    """Lines printed as they come and kept for the results file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.lines.append(text)


def _markers(name: str) -> tuple[str, str]:
    return (f"<!-- {name} results: written by make bench, replaced on every run -->",
            f"<!-- end of {name} results -->")


def _commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown commit"


def _without_password(argument: str) -> str:
    """``mysql://USER:PASS@HOST`` as ``mysql://USER:***@HOST``: results files are published."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", argument)


def section(name: str, lines: list[str], argv: list[str]) -> str:
    """The Markdown of one script's results: when, where, the command and its report."""
    begin, end = _markers(name)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python", name, *(_without_password(arg) for arg in argv)])
    fence = "`" * 3
    return "\n".join([
        begin,
        f"Last run {stamp} on commit {_commit()}, {os.cpu_count()} cores, load average {load} "
        f"at the end, Python {platform.python_version()}: `{command}`",
        "",
        f"{fence}text", *lines, fence,
        end,
    ])


def write_section(path: Path, name: str, lines: list[str], argv: list[str] | None = None) -> None:
    """Put ``name``'s results into ``path``, replacing its previous section (written whole:
    a temporary file renamed over the old one)."""
    text = path.read_text() if path.exists() else ""
    begin, end = _markers(name)
    new = section(name, lines, sys.argv[1:] if argv is None else argv)
    start = text.find(begin)
    stop = text.find(end, start) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        text = text[:start] + new + text[stop + len(end):]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + new + "\n"
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)
