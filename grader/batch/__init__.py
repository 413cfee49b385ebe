"""Batch grading of a whole class: intake, roster, jobs, executors, gradebook and the class page.

The public front: :func:`run_batch` with :class:`BatchOptions`; :class:`GradeJob` and
:func:`run_job` (one submission, the same code path as ``grader check``); the :class:`Executor`
protocol with :class:`LocalExecutor` (a process pool on this machine).
"""

from grader.batch.executor import Executor, Finished, LocalExecutor, Started, default_jobs
from grader.batch.jobs import GradeJob, JobResult, JobStatus, run_job
from grader.batch.run import BatchOptions, BatchOutcome, run_batch

__all__ = [
    "BatchOptions",
    "BatchOutcome",
    "Executor",
    "Finished",
    "GradeJob",
    "JobResult",
    "JobStatus",
    "LocalExecutor",
    "Started",
    "default_jobs",
    "run_batch",
    "run_job",
]
