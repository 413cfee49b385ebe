"""Benchmark: wall time to grade one correct submission, split into cluster start, student
processes and the grader's own work (everything else).

    .venv/bin/python bench/grade_one.py                      # assignments 1-3
    .venv/bin/python bench/grade_one.py -a stateful-wordcount
    .venv/bin/python bench/grade_one.py --repeat 3
    .venv/bin/python bench/grade_one.py --all --repeat 5 --sandbox docker   # a whole submission

Not a test: it prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from grader.registry import select
from grader.runner import grade_submission
from grader.sandbox import factory

DEFAULT = ["topic-create", "produce-sequence", "consume-partition"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-a", "--assignment", action="append", help="assignment id (repeatable)")
    parser.add_argument("--all", action="store_true", help="all four assignments (a whole submission)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sandbox", default="local", choices=["auto", "docker", "local"])
    args = parser.parse_args()
    assignments = select(None if args.all else args.assignment or DEFAULT)
    rows = []
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        submission = Path(tmp) / "reference"
        for a in assignments:
            shutil.copytree(a.reference, submission / a.id)
        for i in range(args.repeat):
            result = grade_submission(
                submission, assignments, seed=100 + i, sandbox_factory=factory(args.sandbox)
            )
            t = result.timings
            extra = {
                k: v
                for a in result.assignments
                for k, v in a.timings.items()
                if k not in ("student", "grader", "total")
            }
            rows.append(t)
            print(
                f"run {i + 1}: score {result.points:g}/{result.max_points:g}  total {t['total']:.2f} s = "
                f"cluster start {t['cluster_start']:.2f} + student processes {t['student']:.2f} + "
                f"grader's own work {t['grader']:.2f} ({100 * t['grader'] / t['total']:.1f}% of wall time)"
            )
            beside = sum(a.timings["total"] for a in result.assignments) - (t["total"] - t["cluster_start"])
            if beside > 0.5:
                print(f"    overlap: {beside:.2f} s of assignment time ran beside the word count")
            for a in result.assignments:
                phases = ", ".join(f"{k} {v:.2f}" for k, v in a.timings.items())
                print(f"    {a.id:<20} {phases}")
            if extra:
                print(f"    phases: {extra}")
    if len(rows) > 1:
        share = [100 * r["grader"] / r["total"] for r in rows]
        print(
            f"median total {statistics.median(r['total'] for r in rows):.2f} s, "
            f"median grader share {statistics.median(share):.1f}%"
        )


if __name__ == "__main__":
    main()
