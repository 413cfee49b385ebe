"""Benchmark: time to render every report format for one graded submission (figures printed, never asserted).

    .venv/bin/python bench/report_formats.py [--rounds 20]

The result is synthetic but sized like a real one: 4 assignments, 6 checks each (a third failed with
details), and two student runs per assignment with their full 64 KiB of captured output.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from grader.report import FORMATS, render_all
from grader.report.html import render_html
from grader.results import AssignmentResult, CheckResult, ExecRecord, Status, SubmissionResult

OUTPUT = "".join(f"line {i}: \x1b[32mproduced\x1b[0m message {i}\n" for i in range(2000))[: 32 * 1024]


def sample() -> SubmissionResult:
    """A submission result sized like a real four-assignment run."""
    assignments = []
    for a in range(4):
        checks = [
            CheckResult(
                id=f"check_{c}",
                title=f"Check {c} of assignment {a}",
                status=Status.FAILED if c % 3 == 0 else Status.PASSED,
                points=0 if c % 3 == 0 else 2,
                max_points=2,
                message="expected 6 partitions, found 3" if c % 3 == 0 else "",
                hint="create it with --partitions 6" if c % 3 == 0 else "",
                details=OUTPUT[:4000] if c % 3 == 0 else "",
                duration_s=0.004,
            )
            for c in range(6)
        ]
        runs = [
            ExecRecord(
                label=f"run {r}",
                command=["./run.sh"],
                returncode=0,
                duration_s=3.2,
                stdout=OUTPUT,
                stderr=OUTPUT,
            )
            for r in range(2)
        ]
        assignments.append(
            AssignmentResult(
                id=f"assignment-{a}", title=f"Assignment {a}", max_points=12, checks=checks, runs=runs
            )
        )
    return SubmissionResult(
        submission="bench",
        seed=1,
        grader_version="bench",
        started_at=datetime.now(UTC),
        assignments=assignments,
    )


def main() -> None:
    """Print the median time per format and the size of each file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    result = sample()
    sizes = {name: len(data) for name, data in render_all(result).items()}
    print(f"{'format':<14}{'median ms':>10}{'size KiB':>10}")
    for name, fmt in FORMATS.items():
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            render_html(result) if name == "html" else fmt.render(result)
            times.append(time.perf_counter() - began)
        print(f"{name:<14}{statistics.median(times) * 1000:>10.1f}{sizes[name] / 1024:>10.1f}")
    began = time.perf_counter()
    for _ in range(rounds):
        render_all(result)
    every = (time.perf_counter() - began) / rounds * 1000
    print(f"{'all':<14}{every:>10.1f}{sum(sizes.values()) / 1024:>10.1f}")


if __name__ == "__main__":
    main()
