"""Benchmark: batch grading throughput with ``--jobs 1`` and with the default pool, side by side.

    .venv/bin/python bench/batch.py                          # 12 submissions, all four assignments
    .venv/bin/python bench/batch.py --count 4 -a topic-create -a produce-sequence
    .venv/bin/python bench/batch.py --jobs 1 --jobs 3        # other pool sizes

The class is synthetic: copies of examples/good-student and examples/flawed-student, alternating.
Prints per pool size: wall time, submissions per hour, the speed-up over the first pool size,
peak memory of the whole process tree (batch + workers + JVMs) and where the time went (summed
phase timings from every results.json). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil

from grader.assemble import examples
from grader.batch import BatchOptions, default_jobs, run_batch
from grader.batch.progress import PlainProgress
from grader.registry import assignments_root, select

ROOT = Path(__file__).resolve().parents[1]
# The example submissions, assembled from the assignments' cases (as `grader examples` does).
_EXAMPLES = Path(tempfile.mkdtemp(prefix="bench-examples-"))
atexit.register(shutil.rmtree, _EXAMPLES, True)
KINDS = examples(select(None), _EXAMPLES, ["good-student", "flawed-student"])


class PeakMemory(threading.Thread):
    """Samples the RSS of this process and all its descendants every 0.5 s; keeps the peak."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.stopped.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self.stopped.wait(0.5)


def make_class(root: Path, count: int, assignment_ids: list[str]) -> Path:
    subs = root / "class"
    for i in range(count):
        source = KINDS[i % len(KINDS)]
        for a in assignment_ids:
            if (source / a).is_dir():
                shutil.copytree(source / a, subs / f"student{i + 1:02d}" / a, symlinks=True)
    return subs


def one_run(subs: Path, out: Path, ids: list[str], jobs: int) -> dict[str, float]:
    meter = PeakMemory()
    meter.start()
    began = time.monotonic()
    outcome = run_batch(
        BatchOptions(subs, out, ids, jobs=jobs, sandbox="local", course_seed=1),
        progress=PlainProgress(io.StringIO()),
    )
    wall = time.monotonic() - began
    meter.stopped.set()
    meter.join()
    phases: dict[str, float] = defaultdict(float)
    durations = []
    for record in outcome.records:
        try:
            result = json.loads((out / record.key / "results.json").read_text())
        except OSError:
            continue
        durations.append(result["duration_s"])
        for k, v in result["timings"].items():
            phases[f"submission.{k}"] += v
        for a in result["assignments"]:
            for k, v in a["timings"].items():
                if k not in {"student", "grader", "total"}:
                    phases[f"{a['id']}.{k}"] += v
    statuses = {k: v for k, v in outcome.counts.items() if v}
    return {
        "wall": wall,
        "per_hour": 3600 * len(outcome.records) / wall,
        "peak_mib": meter.peak / 2**20,
        "median_submission_s": statistics.median(durations) if durations else 0.0,
        "max_submission_s": max(durations, default=0.0),
        "statuses": statuses,  # type: ignore[dict-item]
        "phases": dict(phases),  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="submissions in the class (default 12)")
    parser.add_argument("-a", "--assignment", action="append", help="assignment id (default: all)")
    parser.add_argument("--jobs", type=int, action="append", help="pool sizes (default: 1 and the default)")
    args = parser.parse_args()
    snapshot = Path(tempfile.mkdtemp(prefix="grader-bench-assignments-"))
    # Workers refuse jobs whose assignment versions changed since the batch began (as they must);
    # a snapshot keeps a checkout that is being edited from turning the benchmark into refusals.
    shutil.copytree(
        assignments_root(), snapshot / "assignments", ignore=shutil.ignore_patterns("__pycache__")
    )
    os.environ["GRADER_ASSIGNMENTS"] = str(snapshot / "assignments")
    try:
        bench(args)
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)


def bench(args: argparse.Namespace) -> None:
    ids = [a.id for a in select(args.assignment)]
    default = default_jobs(with_spark="stateful-wordcount" in ids)
    sizes = args.jobs or [1, default]
    print(f"{args.count} submissions, assignments {', '.join(ids)}; default pool on this machine: {default}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="grader-bench-batch-") as tmp:
        subs = make_class(Path(tmp), args.count, ids)
        for jobs in sizes:
            row = one_run(subs, Path(tmp) / f"out-{jobs}", ids, jobs)
            rows.append((jobs, row))
            print(
                f"--jobs {jobs}: {row['wall']:.0f} s wall, {row['per_hour']:.0f} submissions/hour, "
                f"peak memory {row['peak_mib']:.0f} MiB, "
                f"per submission median {row['median_submission_s']:.1f} s "
                f"max {row['max_submission_s']:.1f} s, {row['statuses']}",
                flush=True,
            )
            total = row["phases"].get("submission.total", 0.0) or 1.0  # type: ignore[union-attr]
            for name, seconds in sorted(row["phases"].items()):  # type: ignore[union-attr]
                print(f"    {name:<36} {seconds:8.1f} s  ({100 * seconds / total:4.1f}% of the total)")
    base = rows[0][1]["per_hour"]
    print("\nside by side:")
    for jobs, row in rows:
        print(
            f"  --jobs {jobs:<3} {row['per_hour']:7.0f} submissions/hour  {row['per_hour'] / base:4.2f}x  "
            f"peak {row['peak_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
