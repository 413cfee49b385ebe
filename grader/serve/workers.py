"""Workers: take jobs from the durable queue and grade them through the batch's executors and ``run_job``.

One thread per sandbox slot claims a job (:func:`grader.serve.queue.claim`), runs it as a
:class:`grader.batch.jobs.GradeJob` through an :class:`grader.batch.executor.Executor` (the local
pool: a fresh worker process per job; or Dask), and records the outcome. A heartbeat keeps the
leases of running jobs and queues again the jobs of servers that died. A job's worker processes
die with the server (parent-death signals), so after ``kill -9`` nothing grades on, and the next
start gives each such job to a new run: one result each.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy.exc import SQLAlchemyError

from grader.batch.executor import Executor, Finished
from grader.batch.intake import safe_key
from grader.batch.jobs import GradeJob, JobResult, JobStatus
from grader.serve import messages as M
from grader.serve import queue
from grader.serve.db import Database
from grader.serve.models import User
from grader.serve.results import dumps, public_result
from grader.serve.security import one_line

log = logging.getLogger("grader.serve")


def now() -> datetime:
    """The current time, timezone-aware (every time the service stores is UTC)."""
    return datetime.now(UTC)


def owner_id() -> str:
    """This server process as a lease owner: host, pid and start time (a reused pid is another owner)."""
    me = psutil.Process()
    return f"{socket.gethostname()}:{me.pid}:{int(me.create_time())}"


def owner_dead(owner: str) -> bool:
    """Whether ``owner`` is a server process of this host that is no longer running."""
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's server: its lease running out says it died
    try:
        return int(psutil.Process(int(pid_text)).create_time()) != int(started or 0)
    except psutil.Error:
        return True


@dataclass
class JobSpec:
    """What a worker needs of a claimed submission."""

    submission_id: int
    run_id: int
    job: GradeJob


def outcome_of(result: JobResult, assignment_ids: list[str], timeout_s: float) -> queue.Outcome:
    """How the queue records an executor's result."""
    if result.status is JobStatus.GRADED and result.result is not None:
        shown = public_result(result.result, assignment_ids)
        return queue.Outcome(
            kind="graded",
            result_json=dumps(shown),
            points=shown.points,
            max_points=shown.max_points,
            result_outcome=shown.outcome,
            message=M.text("grader_error") if shown.outcome == "error" else "",
            duration_s=result.duration_s,
        )
    message = {
        JobStatus.TIMEOUT: M.text("timed_out", seconds=f"{timeout_s:g}"),
        JobStatus.CRASHED: M.text("crashed"),
        JobStatus.REFUSED: M.text("worker_refused"),
    }.get(result.status, M.text("grader_error"))
    return queue.Outcome(
        kind=result.status.value, message=message, detail=result.message, duration_s=result.duration_s
    )


class WorkerPool:
    """``slots`` threads grading queued submissions, a heartbeat, and a clean stop."""

    def __init__(
        self,
        db: Database,
        rules: queue.Rules,
        *,
        executors: Callable[[int], Executor],
        slots: int,
        versions: dict[str, str],
        sandbox: str,
        timeout_for: Callable[[list[str]], float],
        lease_s: float = 30.0,
        poll_s: float = 1.0,
    ) -> None:
        self.db = db
        self.rules = rules
        self.executors = executors
        self.slots = slots
        self.versions = versions
        self.sandbox = sandbox
        self.timeout_for = timeout_for
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.owner = owner_id()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._running: dict[int, int] = {}
        """run id -> submission id, for the heartbeat and the stop."""
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Queue again what dead servers left running, then start the slots and the heartbeat."""
        self._recover()
        for slot in range(self.slots):
            thread = threading.Thread(
                target=self._slot, args=(slot,), name=f"grader-slot-{slot}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._heartbeat, name="grader-heartbeat", daemon=True)
        beat.start()
        self._threads.append(beat)

    def wake(self) -> None:
        """A job was queued: an idle slot takes it now instead of at its next poll."""
        with self._wake:
            self._wake.notify()

    @property
    def busy(self) -> int:
        """Jobs running now in this server."""
        with self._lock:
            return len(self._running)

    def stop(self, grace_s: float = 15.0) -> None:
        """Stop claiming, stop running jobs (their worker processes get SIGTERM) and queue them again."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        for proc in self._worker_processes():
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        deadline = time.monotonic() + grace_s
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        with self._lock:
            left = dict(self._running)
        for run_id, sub_id in left.items():
            with contextlib.suppress(SQLAlchemyError), self.db.writing() as session:
                queue.release(session, sub_id, run_id, now())

    def _worker_processes(self) -> list[psutil.Process]:
        found = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "grader.batch.worker" in child.cmdline():
                        found.append(child)
        return found

    def _recover(self) -> None:
        try:
            with self.db.writing() as session:
                with self._lock:
                    active = set(self._running)
                ids = queue.recover(session, owner_dead, self.owner, active, self.rules, now())
        except SQLAlchemyError as exc:
            log.warning("could not check for jobs of stopped servers: %s", one_line(str(exc)))
            return
        if ids:
            log.info("queued again %d job(s) whose server had stopped: %s", len(ids), ids)
            self.wake()

    def _heartbeat(self) -> None:
        last_recover = time.monotonic()
        while not self._stopping.wait(max(1.0, self.lease_s / 4)):
            with self._lock:
                runs = list(self._running)
            try:
                with self.db.writing() as session:
                    queue.heartbeat(session, self.owner, runs, self.lease_s, now())
            except SQLAlchemyError as exc:
                log.warning("lease heartbeat failed (database unreachable?): %s", one_line(str(exc)))
            if time.monotonic() - last_recover > self.lease_s / 2:
                self._recover()
                last_recover = time.monotonic()

    def _claim(self) -> JobSpec | None:
        with self.db.writing() as session:
            claimed = queue.claim(session, self.owner, self.lease_s, now())
            if claimed is None:
                return None
            sub, run = claimed
            student = session.get(User, sub.user_id)
            key = safe_key(f"{student.student_id if student else sub.user_id}-attempt-{sub.attempt}")
            job = GradeJob(
                key=key,
                submission_tar=gzip.decompress(sub.archive),
                assignments=list(sub.assignments),
                versions={a: self.versions[a] for a in sub.assignments if a in self.versions},
                seed=sub.seed,
                sandbox=self.sandbox,
                timeout_s=self.timeout_for(list(sub.assignments)),
            )
            return JobSpec(sub.id, run.id, job)

    def _idle(self) -> None:
        with self._wake:
            self._wake.wait(self.poll_s)

    def _slot(self, slot: int) -> None:
        executor = self.executors(slot)
        failures = 0
        while not self._stopping.is_set():
            try:
                spec = self._claim()
                failures = 0
            except SQLAlchemyError as exc:
                failures += 1
                log.warning(
                    "slot %d cannot claim a job (database unreachable?): %s", slot, one_line(str(exc))
                )
                self._stopping.wait(min(10.0, 0.5 * 2**failures))
                continue
            if spec is None:
                self._idle()
                continue
            with self._lock:
                self._running[spec.run_id] = spec.submission_id
            try:
                self._grade(executor, spec)
            except Exception:
                # A bug must not end the slot: the job's lease runs out and the heartbeat queues it again.
                log.exception("slot %d failed on submission %d", slot, spec.submission_id)
            finally:
                with self._lock:
                    self._running.pop(spec.run_id, None)

    def _grade(self, executor: Executor, spec: JobSpec) -> None:
        log.info("grading submission %d (run %d, %s)", spec.submission_id, spec.run_id, spec.job.key)
        result = _run_one(executor, spec.job)
        if self._stopping.is_set() and result.status is not JobStatus.GRADED:
            # Stopped under it (the server is shutting down): back to the queue, the try does not count.
            with contextlib.suppress(SQLAlchemyError), self.db.writing() as session:
                queue.release(session, spec.submission_id, spec.run_id, now())
            return
        outcome = outcome_of(result, spec.job.assignments, spec.job.timeout_s)
        if outcome.detail:
            log.warning("submission %d, run %d: %s", spec.submission_id, spec.run_id, outcome.detail)
        self._record(spec, outcome)

    def _record(self, spec: JobSpec, outcome: queue.Outcome) -> None:
        """Store the outcome; while the database is down, keep trying (the result is not given up)."""
        delay = 0.5
        while True:
            try:
                with self.db.writing() as session:
                    state = queue.finish(session, spec.submission_id, spec.run_id, outcome, self.rules, now())
                log.info(
                    "submission %d, run %d: %s", spec.submission_id, spec.run_id, state or "no longer ours"
                )
                if state is queue.State.QUEUED:
                    self.wake()
                return
            except SQLAlchemyError as exc:
                if self._stopping.is_set():
                    return  # the job stays running in the database; the next start queues it again
                log.warning("cannot record a result yet (database unreachable?): %s", one_line(str(exc)))
                self._stopping.wait(delay)
                delay = min(10.0, delay * 2)


def _run_one(executor: Executor, job: GradeJob) -> JobResult:
    events: Iterable[Any] = executor.run([job])
    try:
        for event in events:
            if isinstance(event, Finished):
                return event.result
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    return JobResult(key=job.key, status=JobStatus.CRASHED, message="the executor gave no result")


def local_executors(work: Path) -> Callable[[int], Executor]:
    """One-slot local pools, each in its own folder of ``work`` (a fresh worker process per job)."""
    from grader.batch.executor import LocalExecutor

    def make(slot: int) -> Executor:
        """The executor of slot ``slot``."""
        return LocalExecutor(1, work / f"slot-{slot}")

    return make


def dask_executors(address: str) -> tuple[Callable[[int], Executor], int]:
    """Executors sharing one connection to a Dask scheduler, and how many sandbox slots its workers have."""
    from grader.batch.dask import DaskExecutor

    class _Shared(DaskExecutor):
        def close(self) -> None:
            """Keep the connection: the service runs one job after another on it (closed at exit)."""

    first = _Shared(address)
    client = first.client

    def make(slot: int) -> Executor:
        """The executor of slot ``slot``."""
        return first if slot == 0 else _Shared(address, client=client)

    return make, first.slots


__all__ = ["WorkerPool", "dask_executors", "local_executors", "now", "owner_dead", "owner_id"]
