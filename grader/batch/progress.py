"""Progress of a batch: a live ``rich`` display on a terminal, plain lines anywhere else (CI, logs)."""

from __future__ import annotations

import sys
import time
from typing import IO, Protocol

from grader.batch.records import Grading, StudentRecord


class Progress(Protocol):
    """What the batch tells whoever watches it."""

    def begin(self, total: int, skipped: int, slots: int) -> None:
        """``total`` students to grade now (``skipped`` already done), ``slots`` at a time."""

    def started(self, key: str) -> None:
        """A student's grading began."""

    def finished(self, record: StudentRecord) -> None:
        """A student's grading ended."""

    def end(self) -> None:
        """The batch is over (or interrupted)."""


class _Counts:
    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.running: dict[str, float] = {}
        self.failed = 0
        self.grader = 0
        self.began = time.monotonic()
        self.slots = 1

    def record(self, record: StudentRecord) -> None:
        self.running.pop(record.key, None)
        self.done += 1
        if record.status.grader_side:
            self.grader += 1
        elif record.status is not Grading.PASSED:
            self.failed += 1

    def eta(self) -> str:
        if not self.done:
            return "?"
        per = (time.monotonic() - self.began) / self.done
        left = per * (self.total - self.done)
        return f"{left / 60:.0f} min" if left >= 90 else f"{left:.0f} s"

    def line(self) -> str:
        return (
            f"{self.done}/{self.total} done · {len(self.running)} running · {self.failed} not passed · "
            f"{self.grader} grader errors · ETA {self.eta()}"
        )


def _describe(record: StudentRecord) -> str:
    score = (
        f" {record.total:g}/{record.max_total:g}" if record.total is not None and record.max_points else ""
    )
    note = f" ({record.note.splitlines()[0][:100]})" if record.note else ""
    return f"{record.student_id}: {record.status.value}{score}{note}"


class PlainProgress:
    """One line per event, for logs and CI."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.c = _Counts()

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def begin(self, total: int, skipped: int, slots: int) -> None:
        self.c.total, self.c.slots = total, slots
        already = f" ({skipped} already graded, kept)" if skipped else ""
        self._print(f"grading {total} submission(s), {slots} at a time{already}")

    def started(self, key: str) -> None:
        self.c.running[key] = time.monotonic()

    def finished(self, record: StudentRecord) -> None:
        self.c.record(record)
        self._print(f"[{self.c.done}/{self.c.total}] {_describe(record)} · {self.c.line()}")

    def end(self) -> None:
        pass


class RichProgress:
    """A live bar with counts, ETA and who is being graded now, above the finished lines."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.console = Console()
        self.c = _Counts()
        self.bar = Bar(
            TextColumn("[bold]grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            transient=False,
        )
        self.task = self.bar.add_task("grading", total=0, status="")

    def _update(self) -> None:
        now = time.monotonic()
        running = ", ".join(f"{k} {now - t:.0f}s" for k, t in list(self.c.running.items())[:4])
        self.bar.update(
            self.task,
            completed=self.c.done,
            total=self.c.total,
            status=f"{len(self.c.running)} running · {self.c.failed} not passed · "
            f"{self.c.grader} grader errors · ETA {self.c.eta()}" + (f" · {running}" if running else ""),
        )

    def begin(self, total: int, skipped: int, slots: int) -> None:
        self.c.total, self.c.slots = total, slots
        already = f" ({skipped} already graded, kept)" if skipped else ""
        self.console.print(f"grading {total} submission(s), {slots} at a time{already}")
        self.bar.start()
        self._update()

    def started(self, key: str) -> None:
        self.c.running[key] = time.monotonic()
        self._update()

    def finished(self, record: StudentRecord) -> None:
        self.c.record(record)
        style = {"passed": "green", "failed": "red"}.get(record.status.value, "magenta")
        self.bar.console.print(f"[{style}]{_describe(record)}", markup=True, highlight=False)
        self._update()

    def end(self) -> None:
        self._update()
        self.bar.stop()


def make_progress(stream: IO[str] | None = None) -> Progress:
    """Rich on a terminal, plain lines otherwise."""
    target = stream or sys.stdout
    if target.isatty():
        return RichProgress()
    return PlainProgress(target)
