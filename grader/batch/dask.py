"""The Dask executor: the same grading jobs spread over the workers of a Dask cluster.

    dask scheduler                                                    # one machine
    dask worker tcp://SCHED:8786 --nworkers 1 --resources sandbox=1   # every grading machine
    grader batch submissions/ --out grades/ --scheduler tcp://SCHED:8786

A second implementation of :class:`grader.batch.executor.Executor`, not a second code path: each
task is :func:`run_isolated`, which runs :func:`grader.batch.jobs.run_job` in a fresh worker
process on the Dask worker (the local pool with one slot), so time-outs, crashes and process
clean-up behave exactly as in a local batch. Jobs travel with their submission as tar bytes (no
shared storage needed) and ask for ``resources={"sandbox": 1}``, so a worker runs only as many
sandboxes as it declares. A worker that dies mid-job makes the scheduler run the job elsewhere; a
job that keeps killing workers ends as ``crashed`` for that student (Dask's ``allowed-failures``),
never in a loop. Workers with another grader or assignment version refuse the job (see
``run_job``). Only the client writes ``--out``.
"""

from __future__ import annotations

import tempfile
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from grader.batch.executor import DEFAULT_RUNNER, Event, Finished, LocalExecutor, Started
from grader.batch.jobs import GradeJob, JobResult, JobStatus, pack_tree
from grader.errors import GraderError, UsageError
from grader.waiting import WaitTimeout, poll_until

RESOURCE = "sandbox"
CONNECT_TIMEOUT_S = 30.0


def run_isolated(job: GradeJob, runner: str = DEFAULT_RUNNER) -> JobResult:
    """The Dask task: run ``job`` in a fresh process on this worker, with its time limit."""
    with tempfile.TemporaryDirectory(prefix="grader-dask-") as tmp:
        for event in LocalExecutor(1, Path(tmp), runner=runner).run([job]):
            if isinstance(event, Finished):
                return event.result
    raise GraderError(f"job {job.key} produced no result")  # unreachable: one job, one Finished


def travelling(job: GradeJob) -> GradeJob:
    """``job`` with its submission folder packed into the job itself (workers share no files)."""
    if job.submission_tar is not None or job.submission_path is None:
        return job
    return job.model_copy(
        update={"submission_tar": pack_tree(Path(job.submission_path)), "submission_path": None}
    )


class DaskExecutor:
    """Runs grading jobs on a Dask cluster, at most as many at once as its workers' sandbox slots."""

    def __init__(self, address: str, *, runner: str = DEFAULT_RUNNER, client: Any = None) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise UsageError(
                "--scheduler needs Dask's 'distributed' package: pip install 'grader[dask]'"
            ) from exc
        try:
            self.client = client or Client(address, timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {address} ({exc}); start it with 'dask scheduler' "
                "and pass the address it prints"
            ) from exc
        self.runner = runner
        self.address = address
        self.slots = self._slots()

    def _slots(self) -> int:
        """Sum of the ``sandbox`` resources the connected workers declare (waits for the first one)."""

        def declared() -> int:
            workers = self.client.scheduler_info().get("workers", {})
            return int(sum(w.get("resources", {}).get(RESOURCE, 0) for w in workers.values()))

        try:
            slots = poll_until(declared, timeout=CONNECT_TIMEOUT_S, interval=0.5, what="a sandbox worker")
        except WaitTimeout:
            slots = 0
        if not slots:
            raise UsageError(
                f"no worker of the Dask cluster at {self.address} declares a '{RESOURCE}' resource; "
                f"start workers with: dask worker {self.address} --nworkers 1 --resources {RESOURCE}=1"
            )
        return slots

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster itself keeps running)."""
        self.client.close()

    def _submit(self, job: GradeJob) -> Any:
        return self.client.submit(
            run_isolated,
            travelling(job),
            self.runner,
            key=f"grade-{job.key}-{uuid.uuid4().hex[:8]}",
            resources={RESOURCE: 1},
            pure=False,
            retries=1,
        )

    def run(self, jobs: Iterable[GradeJob]) -> Iterator[Event]:
        """Keep every sandbox slot of the cluster busy; yield events as jobs start and end."""
        from distributed import as_completed

        pending = deque(jobs)
        running: dict[str, tuple[GradeJob, Any]] = {}
        done = as_completed()
        try:
            while pending or running:
                while pending and len(running) < self.slots:
                    job = pending.popleft()
                    future = self._submit(job)
                    running[future.key] = (job, future)
                    done.add(future)
                    yield Started(job)
                future = next(done)
                job, _ = running.pop(future.key)
                yield Finished(job, self._outcome(job, future))
        finally:
            # Interrupted: queued tasks are dropped; Dask cannot interrupt a running task, so a job
            # already on a worker finishes there (within its time limit) and its result is discarded.
            if running:
                self.client.cancel([future for _, future in running.values()], force=True)
            self.close()

    def _outcome(self, job: GradeJob, future: Any) -> JobResult:
        """The job's result, or a ``crashed`` result saying what Dask reported."""
        try:
            result: JobResult = future.result()
        except Exception as exc:
            name = type(exc).__name__
            why = (
                "it killed every worker that tried it"
                if name == "KilledWorker"
                else f"the task failed on the worker ({name}: {exc})"
            )
            return JobResult(key=job.key, status=JobStatus.CRASHED, message=f"not graded on Dask: {why}")
        return result
