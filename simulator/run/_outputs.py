"""A run's outputs in one object: where every CDR goes, and how the run commits or aborts.

A transport hands each finished call's record to one callable (``RunOutputs.on_cdr``). From
there it is counted into the run's statistics, written to the sinks of ``--format`` (the
``cdr_writer.Output`` of the run's directory), sent as one datagram on the UDP feed when it is
recorded, and counted on the progress bar, in that order. ``--trace`` goes to the run's trace
file. The simulated run (``_run.run``), the sharded one (``_parallel``: each shard counts and
spools through the same ``counted``; the parent merges into this object's sinks) and the live one
(``_live.run_live``) all go through here.

Whole or nothing: ``commit`` puts the files in place once the run succeeded; ``abort`` removes
whatever the run staged, so a refused or failed run leaves nothing. A realtime run (``direct``
sinks, written in place as calls end) stopped by Ctrl-C, SIGTERM or a full disk keeps what it
wrote, every record whole, and ``abort`` says so (``FeedInterrupted``, or the ``OSError`` naming
what was kept); stopped before its first record it leaves nothing either.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cdr_writer import DEFAULT_FORMATS, Cdr, Output, pipe_line
from simulator.run._errors import RunOptionError
from simulator.run._progress import RunProgress
from simulator.run._stats import RunStats
from simulator.run._stop import hold, raise_requested, release
from simulator.run._stop import requests as stop_requests
from simulator.run._trace_file import TraceFile

OnCdr = Callable[[Cdr], None]
OnBlock = Callable[[list[Cdr]], None]


class FeedInterrupted(KeyboardInterrupt):
    """A realtime run stopped by Ctrl-C or SIGTERM: ``records`` CDRs are in ``files``, whole."""

    def __init__(self, records: int, files: list[Path], signal_name: str) -> None:
        super().__init__(signal_name)
        self.records = records
        self.files = files
        self.signal_name = signal_name


class RunOutputs:
    """The sinks, statistics, trace, UDP feed and progress of one run.

    Made before the run starts (the sinks' directory first, then the trace, then the feed; a
    failure at any step undoes the ones before it), then ``on_cdr`` for the transport,
    then ``commit`` or ``abort``, and ``close`` in any case.
    """

    def __init__(self, places: int, *, out_dir: str | Path | None = None,
                 formats: tuple[str, ...] = DEFAULT_FORMATS, direct: bool = False,
                 options: dict[str, Any] | None = None, trace_path: str | Path | None = None,
                 udp: tuple[str, int] | None = None, progress: RunProgress | None = None,
                 stats: RunStats | None = None) -> None:
        self.stats = RunStats() if stats is None else stats
        self.progress = progress
        self.output: Output | None = None
        self.trace: TraceFile | None = None
        self.feed: UdpFeed | None = None
        if out_dir is not None:
            try:
                self.output = Output(out_dir, formats, places, direct=direct,
                                     options=options or {})
            except ValueError as exc:  # an option without its format, a format missing it
                raise RunOptionError(str(exc)) from None
        try:  # after the output directory, which may hold the trace
            self.trace = TraceFile(trace_path) if trace_path else None
        except BaseException:
            if trace_path:  # a stop that landed as the staged trace was made: it goes too
                TraceFile.discard_staged(trace_path)
            if self.output is not None:
                self.output.abort()
            raise
        try:  # a stop (or an error) while the feed is set up cleans up as one during the run
            self.feed = UdpFeed(udp, places) if udp else None
        except BaseException as exc:
            instead = self.abort(exc)
            if instead is exc:
                raise
            raise instead from None

    @property
    def trace_handle(self) -> Any:
        """Where the transport writes its trace lines (None: no ``--trace``)."""
        return self.trace.handle if self.trace is not None else None

    @property
    def records(self) -> int:
        """Records handed to the sinks so far, suppressed ones included (0 without sinks)."""
        return self.output.records if self.output is not None else 0

    def on_cdr(self, *, clock: Callable[[], float] | None = None, every: int = 1024,
               takes_stops: bool = True) -> OnCdr:
        """The one callable the transport hands each record to.

        ``clock`` (the transport's time) and ``every`` pace the progress bar (a power of two:
        refreshed every that many records; 1: on every one). ``takes_stops``: raise a stop a
        signal left waiting (``_stop``) after the record, as a simulated run does; a live run
        handles its signals itself.
        """
        output = self.output
        on_cdr = counted(self.stats, output.write if output is not None else None,
                         whole=bool(output is not None and output.direct),
                         takes_stops=takes_stops)
        if self.feed is not None:
            on_cdr = _tee(on_cdr, self.feed.send)
        if self.progress is not None:
            on_cdr = _counting(on_cdr, clock or (lambda: 0.0), self.progress, every - 1)
        return on_cdr

    def on_block(self, *, clock: Callable[[], float] | None = None) -> OnBlock:
        """For a batch run: the callable the transport hands each block of records to, in CDR
        order. A block goes where ``on_cdr`` sends each of its records, in the same order
        (statistics, sinks, feed); the progress bar is refreshed and a stop a signal left
        waiting is raised after each block, so a block is whole or, once the run stops, gone
        with the rest of its staged output."""
        if self.output is not None and self.output.direct:
            raise ValueError("records written in place (a realtime run) go one at a time")
        add = self.stats.add_block
        write = self.output.write_block if self.output is not None else None
        send = self.feed.send if self.feed is not None else None
        progress = self.progress
        now = clock or (lambda: 0.0)
        count = 0

        def take(cdrs: list[Cdr]) -> None:
            nonlocal count
            add(cdrs)
            if write is not None:
                write(cdrs)
            if send is not None:
                for cdr in cdrs:
                    send(cdr)
            if progress is not None:
                count += len(cdrs)
                progress.update(count, now())
            if stop_requests:
                raise_requested()
        return take

    def commit(self) -> list[Path]:
        """The run succeeded: finish the progress bar, put every file in place; what was
        written (the trace last)."""
        if self.progress is not None:
            self.progress.finish(self.stats.calls, self.stats.sim_seconds)
        files = self.output.commit() if self.output is not None else []
        written = self.trace.commit() if self.trace is not None else None
        if written is not None:
            files.append(written)
        return files

    def abort(self, exc: BaseException) -> BaseException:
        """``exc`` stopped the run: undo its outputs, and return what to raise instead of it
        (``exc`` itself, unless a realtime run keeps what it wrote: then ``FeedInterrupted`` or
        an ``OSError`` saying what is on disk)."""
        if self.trace is not None:
            self.trace.abort()
        output = self.output
        if output is not None and output.direct and isinstance(exc, KeyboardInterrupt | OSError):
            return _stopped_feed(output, exc)
        if output is not None:
            output.abort()
        return exc

    def notes(self) -> list[str]:
        """What the sinks report (a resumed database)."""
        return self.output.notes() if self.output is not None else []

    def close(self) -> None:
        """Release what the run held open whatever its end (the feed's socket)."""
        if self.feed is not None:
            self.feed.close()


def _stopped_feed(output: Output, exc: KeyboardInterrupt | OSError) -> BaseException:
    """A realtime run stopped (Ctrl-C, SIGTERM, a full disk): close its files, whose records
    are each whole (every format holds the same ones), and say what they hold. Stopped before
    its first record, it leaves nothing, as a refused run does (and so blocks no next run)."""
    if output.records:
        files, lost = output.close_feed()
    else:
        output.abort()
        files, lost = [], []
    if isinstance(exc, KeyboardInterrupt):
        return FeedInterrupted(output.records, files, str(exc) or "interrupted")
    kept = (f"; the {output.records:,} CDRs written before it are on disk, every line complete"
            if files else "; nothing was written")
    kept += "".join(f"; {note}" for note in lost)
    return OSError(exc.errno, f"{exc.strerror or exc}{kept}", exc.filename)


class UdpFeed:
    """VOS3000's real-time CDR feed: one datagram per recorded CDR, holding its pipe line."""

    def __init__(self, address: tuple[str, int], places: int) -> None:
        host, port = address
        self.flag = f"--udp {host}:{port}"
        try:
            family, kind, proto, _, target = socket.getaddrinfo(host, port, 0,
                                                                socket.SOCK_DGRAM)[0]
        except (OSError, UnicodeError) as exc:
            raise RunOptionError(f"{self.flag}: cannot find that address: "
                                 f"{getattr(exc, 'strerror', None) or exc}") from None
        self.socket = socket.socket(family, kind, proto)
        self.target = target
        self.places = places

    def send(self, cdr: Cdr) -> None:
        if cdr.recorded:
            try:
                self.socket.sendto(pipe_line(cdr, self.places).encode(), self.target)
            except OSError as exc:  # say it is the feed, not the output directory
                raise OSError(exc.errno, exc.strerror, self.flag) from None

    def close(self) -> None:
        self.socket.close()


def counted(stats: RunStats, write: OnCdr | None, whole: bool = False,
            takes_stops: bool = True) -> OnCdr:
    """Every CDR into the run's statistics, then to ``write`` (the sinks, a shard's spool), if
    any. ``whole`` (files written in place): a stop waits until the record is written and
    counted. ``takes_stops``: a signal's stop lost where it landed is taken here (see _stop)."""
    add = stats.add
    stops = stop_requests if takes_stops else []
    if write is None:
        def count(cdr: Cdr) -> None:
            add(cdr)
            if stops:
                raise_requested()
        return count

    if whole:
        def count_and_write_whole(cdr: Cdr) -> None:
            hold()
            try:
                add(cdr)
                write(cdr)
            finally:
                release()
        return count_and_write_whole

    def count_and_write(cdr: Cdr) -> None:
        add(cdr)
        write(cdr)
        if stops:
            raise_requested()
    return count_and_write


def _tee(first: OnCdr, second: OnCdr) -> OnCdr:
    def both(cdr: Cdr) -> None:
        first(cdr)
        second(cdr)
    return both


def _counting(on_cdr: OnCdr, clock: Callable[[], float], progress: RunProgress,
              mask: int) -> OnCdr:
    count = 0

    def counted_on(cdr: Cdr) -> None:
        nonlocal count
        on_cdr(cdr)
        count += 1
        if not count & mask:
            progress.update(count, clock())
    return counted_on
