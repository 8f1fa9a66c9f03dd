"""The registry of CDR output formats: the one place that says which formats exist.

A format is a name (what ``--format`` takes) and a factory of its sink. The command line, the
output directory (``Output``), the ``--workers`` merge and the ``--realtime`` guard all read this
registry and nothing else, so adding a format is one ``register`` call next to its sink::

    class ParquetSink:
        def __init__(self, context: SinkContext) -> None: ...  # files under context.directory
        def write(self, cdr: Cdr) -> None: ...                 # records arrive in CDR order
        def close(self) -> None: ...                           # the run succeeded: finish

    register(CdrFormat("parquet", ParquetSink, "daily Parquet files e_cdr_YYYYMMDD.parquet",
                       files=("e_cdr_*.parquet",)))

and one import of the module in ``cdr_writer/__init__.py``. A sink writes its files under
``context.directory`` (a staging directory moved into place when the run succeeds); a sink that
also writes elsewhere (a database, a file renamed in place) defines ``discard()``, called instead
of ``close()`` when the run fails, and may define ``notes()`` (lines for the user). Options a
format takes beyond the directory (``options=("db",)``: ``--db URL``) arrive in
``context.options``. A sink that needs a heavy library registers a small ``open`` function that
imports it, so only runs that ask for the format load it. Everything else is optional:

* ``modes``: the commands that may write the format (``("run",)`` for one that live mode
  cannot serve); ``formats_for(mode)`` is what each command offers and accepts.
* ``all_records=True``: the sink also receives records the switch suppressed (``recorded`` is
  False); by default it sees recorded ones only.
* ``renderer`` and the sink's ``write_rendered``: with ``--workers`` each shard renders its
  records in parallel (``renderer(fee_places)`` makes one render function per shard, called with
  ``cdr.flowno`` set to ``FLOWNO``) and the parent writes them in order with the final number
  (``write_rendered(stoptime, rendered, flowno)``, flowno None for a suppressed record). Without
  them the shard ships the record itself and the parent calls ``write``: correct, only less
  parallel. Shards may run as threads (Dask), so a render function keeps its state to itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from simulator.core import Cdr

FLOWNO = "\x1f"  # stands for the flowno in a shard's rendered record; never in a CDR value


@dataclass(frozen=True)
class SinkContext:
    """Where and how a sink writes."""

    directory: Path          # files go here (a staging directory unless ``flush``)
    fee_places: int          # SERVER_BILLING_FEE_PRECISTION
    flush: bool = False      # --realtime: every record reaches its file (or table) at once
    options: Mapping[str, Any] = field(default_factory=dict)  # format settings, e.g. a DB URL


class Sink(Protocol):
    def write(self, cdr: Cdr) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class CdrFormat:
    name: str
    open: Callable[[SinkContext], Sink]
    description: str
    files: tuple[str, ...] = ()  # glob patterns of what it writes in the output directory
    options: tuple[str, ...] = ()  # the SinkContext.options it takes (command-line --NAME)
    all_records: bool = False    # also receives suppressed records
    renderer: Callable[[int], Callable[[Cdr], Any]] | None = None  # see above (--workers)
    modes: tuple[str, ...] = ("run", "live")  # the commands that can write it (see above)


FORMATS: dict[str, CdrFormat] = {}


def register(cdr_format: CdrFormat) -> CdrFormat:
    if cdr_format.name in FORMATS:
        raise ValueError(f"CDR format {cdr_format.name!r} is already registered")
    FORMATS[cdr_format.name] = cdr_format
    return cdr_format


class UnknownFormat(ValueError):
    pass


def get_format(name: str) -> CdrFormat:
    found = FORMATS.get(name)
    if found is None:
        close = difflib.get_close_matches(name, FORMATS, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownFormat(f"unknown format {name!r}{hint}; expected one of "
                            f"{', '.join(FORMATS)}")
    return found


def formats_for(mode: str) -> tuple[str, ...]:
    """The formats the command ``mode`` (``run``, ``live``) can write, in registry order."""
    return tuple(name for name, cdr_format in FORMATS.items() if mode in cdr_format.modes)


def parse_formats(values: list[str] | tuple[str, ...], mode: str | None = None
                  ) -> tuple[str, ...]:
    """Format names from repeatable or comma-separated ``--format`` values, in order, once;
    with ``mode``, only the formats that command accepts."""
    out: list[str] = []
    for value in values:
        for name in value.split(","):
            cdr_format = get_format(name.strip())
            if mode is not None and mode not in cdr_format.modes:
                raise UnknownFormat(f"vossim {mode} cannot write format {cdr_format.name!r} "
                                    f"(only {' or '.join(f'vossim {m}' for m in cdr_format.modes)}"
                                    f" can); expected one of {', '.join(formats_for(mode))}")
            out.append(cdr_format.name)
    return tuple(dict.fromkeys(out))
