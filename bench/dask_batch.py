"""Benchmark: grading on a Dask cluster of this machine with 1 worker vs 2, and the executor's overhead.

    .venv/bin/python bench/dask_batch.py                       # 6 submissions, topic-create
    .venv/bin/python bench/dask_batch.py --count 4 -a topic-create -a produce-sequence
    .venv/bin/python bench/dask_batch.py --overhead-only

Starts ``dask scheduler`` and ``dask worker --resources sandbox=1`` processes on 127.0.0.1 (as a
TA would on several machines), grades the same synthetic class (copies of examples/good-student and
examples/flawed-student) with 1 and with 2 workers, and prints throughput side by side.

Overhead: jobs that every worker refuses at once (their assignment versions do not match), so the
time from submit to result is only the executor's own work: scheduling, shipping the job with its
submission, starting the job process and importing the grader. The same jobs on the local pool
show which part is Dask's. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import atexit
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.assemble import examples
from grader.batch import BatchOptions, GradeJob, LocalExecutor, Started, run_batch
from grader.batch.dask import DaskExecutor
from grader.batch.progress import PlainProgress
from grader.procs import child_setup, kill_group
from grader.registry import assignments_root, select

ROOT = Path(__file__).resolve().parents[1]
# The example submissions, assembled from the assignments' cases (as `grader examples` does).
_EXAMPLES = Path(tempfile.mkdtemp(prefix="bench-examples-"))
atexit.register(shutil.rmtree, _EXAMPLES, True)
KINDS = examples(select(None), _EXAMPLES, ["good-student", "flawed-student"])
DASK = str(Path(sys.executable).parent / "dask")


class Cluster:
    """A scheduler and ``workers`` workers on loopback, stopped on exit."""

    def __init__(self, folder: Path, workers: int) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        sched_file = folder / f"scheduler-{workers}.json"
        self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], folder / "scheduler.log")  # fmt: skip
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.address = json.loads(sched_file.read_text())["address"]
        for i in range(workers):
            worker = [DASK, "worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                      "--resources", "sandbox=1", "--host", "127.0.0.1"]  # fmt: skip
            self._start(worker, folder / f"worker{i}.log")
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=120)

    def _start(self, cmd: list[str], log: Path) -> None:
        self.procs.append(
            subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, preexec_fn=child_setup())
        )

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            kill_group(proc, grace=5)


def make_class(root: Path, count: int, ids: list[str]) -> Path:
    subs = root / "class"
    for i in range(count):
        source = KINDS[i % len(KINDS)]
        for a in ids:
            if (source / a).is_dir():
                shutil.copytree(source / a, subs / f"student{i + 1:02d}" / a, symlinks=True)
    return subs


def overhead(executor_factory, subs: Path, ids: list[str], n: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds from start to result of ``n`` jobs that the worker refuses at once."""
    jobs = [
        GradeJob(key=f"probe{i}", submission_path=str(subs / "student01"), assignments=ids,
                 versions=dict.fromkeys(ids, "stale"), seed=i, sandbox="local", timeout_s=120)
        for i in range(n)
    ]  # fmt: skip
    began: dict[str, float] = {}
    spent = []
    for event in executor_factory().run(jobs):
        if isinstance(event, Started):
            began[event.job.key] = time.monotonic()
        else:
            spent.append(time.monotonic() - began[event.job.key])
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("-a", "--assignment", action="append", help="assignment id (default topic-create)")
    parser.add_argument("--overhead-only", action="store_true")
    args = parser.parse_args()
    snapshot = Path(tempfile.mkdtemp(prefix="grader-bench-dask-"))
    try:
        shutil.copytree(
            assignments_root(), snapshot / "assignments", ignore=shutil.ignore_patterns("__pycache__")
        )
        os.environ["GRADER_ASSIGNMENTS"] = str(snapshot / "assignments")  # workers inherit it
        ids = [a.id for a in select(args.assignment or ["topic-create"])]
        subs = make_class(snapshot, max(args.count, 1), ids)
        local = overhead(lambda: LocalExecutor(1, snapshot / "local-jobs"), subs, ids, 5)
        with Cluster(snapshot, 1) as cluster:
            remote = overhead(lambda: DaskExecutor(cluster.address), subs, ids, 5)
        mid_local, mid_remote = statistics.median(local), statistics.median(remote)
        print(f"per-job time of a job refused at once (5 jobs, median): local pool {mid_local:.2f} s, "
              f"Dask {mid_remote:.2f} s -> Dask's own scheduling + transfer {mid_remote - mid_local:+.2f} s "
              "per job")  # fmt: skip
        if args.overhead_only:
            return
        rows = []
        for workers in (1, 2):
            with Cluster(snapshot, workers) as cluster:
                out = snapshot / f"out-{workers}"
                began = time.monotonic()
                outcome = run_batch(
                    BatchOptions(subs, out, ids, sandbox="local", course_seed=1),
                    executor=DaskExecutor(cluster.address),
                    progress=PlainProgress(io.StringIO()),
                )
                wall = time.monotonic() - began
            statuses = {k: v for k, v in outcome.counts.items() if v}
            rows.append((workers, wall, statuses, (out / "gradebook.csv").read_text()))
            print(f"{workers} worker(s): {wall:.0f} s wall, {3600 * args.count / wall:.0f} submissions/hour, "
                  f"{statuses}", flush=True)  # fmt: skip
        base = rows[0][1]
        print("\nside by side:")
        for workers, wall, _, _ in rows:
            print(
                f"  {workers} worker(s): {3600 * args.count / wall:6.0f} submissions/hour {base / wall:4.2f}x"
            )
        print(f"same gradebook with 1 and 2 workers: {rows[0][3] == rows[1][3]}")
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)


if __name__ == "__main__":
    main()
