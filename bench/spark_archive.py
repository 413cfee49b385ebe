"""Benchmark: a student's Spark start (seminar_spark session + a trivial job) with and without the
class-data archive ``grader setup`` made, alternating.

    .venv/bin/python bench/spark_archive.py --rounds 3

Not a test: it prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from grader.runtime.jars import ensure_runtime
from grader.runtime.spark_cds import ARCHIVE_ENV, build_archive, existing_archive
from grader.student import STUDENT_LIB

JOB = (
    "import time; began = time.monotonic(); import seminar_spark; "
    "spark = seminar_spark.spark_session(); spark.range(10).count(); "
    "print(time.monotonic() - began); spark.stop()"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runtime = ensure_runtime(progress=False)
    archive = existing_archive(runtime) or build_archive(runtime)
    if archive is None:
        raise SystemExit("no archive could be made (see grader setup)")
    base = {
        **os.environ,
        "PYTHONPATH": str(STUDENT_LIB),
        "JAVA_HOME": str(runtime.java.home),
        "SPARK_KAFKA_JARS": ",".join(str(j) for j in runtime.spark_kafka_jars),
    }
    base.pop(ARCHIVE_ENV, None)
    seconds: dict[str, list[float]] = {"with archive": [], "without": []}
    for _ in range(args.rounds):
        for kind in seconds:
            env = {**base, ARCHIVE_ENV: str(archive)} if kind == "with archive" else base
            done = subprocess.run(
                [sys.executable, "-c", JOB], env=env, capture_output=True, text=True, check=True, timeout=300
            )
            seconds[kind].append(float(done.stdout.strip().splitlines()[-1]))
    for kind, values in seconds.items():
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"{kind:>13}: median {statistics.median(values):.2f} s  ({each})")
    saved = statistics.median(seconds["without"]) - statistics.median(seconds["with archive"])
    print(f"the archive saves {saved:.2f} s per Spark start ({archive.stat().st_size / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
