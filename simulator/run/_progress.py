"""The progress bar of long runs: calls done, CDR/s, the simulated clock and an ETA (rich)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.0f} CDR/s", style="progress.data.speed")


class RunProgress:
    """Fed by the run as calls end; ``expected`` is the mean number of calls of the scenario."""

    def __init__(self, expected: float, start_epoch: float, console: Console | None = None,
                 label: str = "simulating") -> None:
        self.start_epoch = start_epoch
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} calls"), _Rate(),
            TextColumn("[dim]{task.fields[clock]}"), TimeRemainingColumn(),
            console=console or Console(stderr=True), transient=False)
        self.task = self.progress.add_task(label, total=max(1.0, expected), clock="")
        self._last = 0.0

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def update(self, calls: int, sim_seconds: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        clock = datetime.fromtimestamp(self.start_epoch + sim_seconds, UTC)
        total = self.progress.tasks[0].total or 1.0
        self.progress.update(self.task, completed=calls, total=max(total, calls),
                             clock=clock.strftime("sim %Y-%m-%d %H:%M:%S"))

    def finish(self, calls: int, sim_seconds: float) -> None:
        self.progress.update(self.task, total=max(1, calls))
        self.update(calls, sim_seconds, force=True)
