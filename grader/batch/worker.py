"""Worker process of the local pool: ``python -m grader.batch.worker RUNNER JOB.json RESULT.json``.

Reads one :class:`GradeJob`, runs it with ``RUNNER`` (``module:function``, by default
:func:`grader.batch.jobs.run_job`) and writes the :class:`JobResult` atomically. SIGTERM becomes
KeyboardInterrupt so the sandbox stops cleanly (brokers, student processes, temp files) before the
pool's SIGKILL would come.
"""

from __future__ import annotations

import importlib
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from grader.batch.jobs import GradeJob, JobResult, JobStatus
from grader.report import write_atomic


def load_runner(spec: str) -> Callable[[GradeJob], JobResult]:
    """The function named ``module:function``."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """Run one job; exit 0 when a result was written (whatever the grade), 1 otherwise."""
    runner, job_file, result_file = argv
    signal.signal(signal.SIGTERM, _interrupt)
    job = GradeJob.model_validate_json(Path(job_file).read_bytes())
    try:
        result = load_runner(runner)(job)
    except KeyboardInterrupt:
        return 2
    except Exception as exc:
        result = JobResult(
            key=job.key,
            status=JobStatus.CRASHED,
            message=f"the grader raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}",
        )
    write_atomic(Path(result_file), result.model_dump_json().encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
