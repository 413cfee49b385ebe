"""Executors: where a batch's :class:`GradeJob` values run. The local pool is one implementation.

An :class:`Executor` takes jobs and yields :class:`Started` / :class:`Finished` events as they
happen; it never writes ``--out`` (the batch client does, atomically) and never raises for one
job's trouble: a worker that crashes, hangs past the job's ``timeout_s`` or refuses a job becomes a
:class:`JobResult` with that status, and the batch goes on. A distributed executor (Dask) is a
second implementation of the same protocol running the same :func:`grader.batch.jobs.run_job`.

:class:`LocalExecutor` runs every job in a fresh worker process (``python -m
grader.batch.worker``) in its own session with a parent-death signal, so the JVMs of a job die
with its worker and every worker dies with the batch, even on ``kill -9``. Each worker's temp
files live in a folder of the batch's work dir, removed when the job ends (and at the next start
after a hard kill).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psutil

from grader.batch.jobs import GradeJob, JobResult, JobStatus
from grader.procs import child_setup, kill_group, registry

DEFAULT_RUNNER = "grader.batch.jobs:run_job"
SANDBOX_MIB = {"small": 900, "spark": 1700}
"""Measured peak RSS of one sandbox (MiB): 3 brokers + CLI tools, and with the Spark word count
(3 brokers ~150 MiB each + the Spark driver ~700 MiB + the harness). See bench/batch.py."""
RESERVE_MIB = 1024
"""Memory left for the system and the batch client itself."""
TERM_GRACE_S = 10.0
"""How long a worker gets to stop its sandbox cleanly before SIGKILL."""


@dataclass(frozen=True)
class Started:
    """A job began running on a worker."""

    job: GradeJob


@dataclass(frozen=True)
class Finished:
    """A job ended, however it ended."""

    job: GradeJob
    result: JobResult


Event = Started | Finished


class Executor(Protocol):
    """Runs grading jobs and reports as each starts and ends."""

    slots: int
    """How many jobs run at once (for the progress display and the ETA)."""

    def run(self, jobs: Iterable[GradeJob]) -> Iterator[Event]:
        """Run every job; yield events as they happen. Closing the iterator stops and cleans up all."""
        ...


def default_jobs(with_spark: bool = True) -> int:
    """How many sandboxes this machine can hold at once: bounded by free memory and by CPUs.

    Each sandbox is several JVMs that mostly wait (for brokers, for Spark triggers, for the
    student's processes), so one per core keeps the CPUs busy without thrashing.
    """
    per_sandbox = SANDBOX_MIB["spark" if with_spark else "small"]
    available = psutil.virtual_memory().available // (1024 * 1024) - RESERVE_MIB
    by_memory = max(1, int(available // per_sandbox))
    by_cpu = max(1, os.cpu_count() or 1)
    return max(1, min(by_memory, by_cpu))


@dataclass
class _Running:
    job: GradeJob
    proc: subprocess.Popen
    folder: Path
    began: float
    log: object = field(repr=False, default=None)


class LocalExecutor:
    """A pool of ``slots`` worker processes on this machine, one fresh process per job."""

    def __init__(self, slots: int, work: Path, runner: str = DEFAULT_RUNNER, poll_s: float = 0.1) -> None:
        if slots < 1:
            raise ValueError("a pool needs at least one slot")
        self.slots = slots
        self.work = work
        self.runner = runner
        self.poll_s = poll_s

    def _start(self, job: GradeJob, index: int) -> _Running:
        folder = self.work / f"job-{index:05d}-{job.key}"
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "tmp").mkdir(parents=True)
        (folder / "job.json").write_text(job.model_dump_json(), encoding="utf-8")
        log = (folder / "worker.log").open("wb")
        env = {**os.environ, "TMPDIR": str(folder / "tmp"), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader.batch.worker", self.runner, str(folder / "job.json"),
             str(folder / "result.json")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            preexec_fn=child_setup(),
        )  # fmt: skip
        registry.add(proc)
        return _Running(job, proc, folder, time.monotonic(), log)

    def _finish(self, run: _Running, timed_out: bool) -> JobResult:
        """Collect a worker's result (or say why there is none) and remove its folder."""
        if timed_out or run.proc.poll() is None:
            kill_group(run.proc, grace=TERM_GRACE_S)
        else:
            # Its own children (a sandbox stopped in a hurry) must be gone too.
            kill_group(run.proc)
        if run.log is not None:
            run.log.close()  # type: ignore[attr-defined]
        duration = round(time.monotonic() - run.began, 3)
        result_file = run.folder / "result.json"
        try:
            if timed_out:
                return JobResult(
                    key=run.job.key,
                    status=JobStatus.TIMEOUT,
                    message=f"grading took longer than {run.job.timeout_s:g} s and was stopped",
                    duration_s=duration,
                    worker=f"local:{run.proc.pid}",
                )
            if result_file.is_file():
                with contextlib.suppress(ValueError):
                    return JobResult.model_validate_json(result_file.read_bytes())
            tail = _tail_text(run.folder / "worker.log")
            return JobResult(
                key=run.job.key,
                status=JobStatus.CRASHED,
                message=f"the grading worker died (exit status {run.proc.returncode}) without a result"
                + (f"; its last output:\n{tail}" if tail else ""),
                duration_s=duration,
                worker=f"local:{run.proc.pid}",
            )
        finally:
            _remove(run.folder)

    def run(self, jobs: Iterable[GradeJob]) -> Iterator[Event]:
        """Run ``jobs`` with at most ``slots`` at once; a closed iterator kills and cleans up all."""
        pending = deque(jobs)
        running: list[_Running] = []
        index = 0
        self.work.mkdir(parents=True, exist_ok=True)
        try:
            while pending or running:
                while pending and len(running) < self.slots:
                    job = pending.popleft()
                    index += 1
                    running.append(self._start(job, index))
                    yield Started(job)
                now = time.monotonic()
                done = [
                    (r, r.proc.poll() is None)
                    for r in running
                    if r.proc.poll() is not None or now - r.began > r.job.timeout_s
                ]
                for run, timed_out in done:
                    running.remove(run)
                    yield Finished(run.job, self._finish(run, timed_out))
                if not done:
                    time.sleep(self.poll_s)
        finally:
            # Ctrl-C, SIGTERM or a consumer that stopped early: no worker, JVM or temp file stays.
            for run in running:
                kill_group(run.proc, grace=TERM_GRACE_S)
                if run.log is not None:
                    run.log.close()  # type: ignore[attr-defined]
                _remove(run.folder)


def _tail_text(path: Path, limit: int = 3000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", errors="replace").strip()


def _remove(folder: Path) -> None:
    """Remove a job folder; a JVM that is just dying may still write, so retry briefly."""
    for _ in range(20):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.1)
