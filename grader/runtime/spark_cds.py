"""A JVM class-data-sharing archive of Spark, so that the student's word count starts sooner.

The word count starts Spark twice per grading (the restart from the checkpoint is the point of
the assignment); each start loads ~10,000 classes from pyspark's jars. Mapping them from an
archive made once with ``-XX:ArchiveClassesAtExit`` instead saves about 2 s per start on 2 cores.
The student's code gets the archive's path in ``$SPARK_CDS_ARCHIVE``; ``seminar_spark`` passes it
to the driver JVM. It is an optimisation only: a missing or stale archive (another JDK build,
another pyspark) is silently not used, and an app that builds its own session simply does not
get it.

Built by ``grader setup`` on the host (local sandbox) and while the grading image is built
(docker sandbox); a grading never builds one.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from grader.procs import kill_group
from grader.runtime.jars import Runtime, cache_root, pyspark_jars_dir, pyspark_version
from grader.student import STUDENT_LIB
from grader.waiting import wait_while

ARCHIVE_ENV = "SPARK_CDS_ARCHIVE"

# A small streaming job through seminar_spark's own session settings (the JVM flags must be those
# of a graded run for the archive to be used), so that the classes of a streaming query with state
# and foreachBatch are archived too.
_ARCHIVE_JOB = """
import sys, time
import seminar_spark
seminar_spark.SPARK_SETTINGS["spark.driver.extraJavaOptions"] += (
    " -XX:ArchiveClassesAtExit=" + sys.argv[1] + " -Xlog:cds=off -Xlog:cds+dynamic=off")
spark = seminar_spark.spark_session("class-archive")
rows = spark.readStream.format("rate").option("rowsPerSecond", 20).load()
counts = rows.selectExpr("CAST(value % 7 AS STRING) AS word").groupBy("word").count()
seen = []
query = (counts.writeStream.outputMode("complete").trigger(processingTime="500 milliseconds")
         .foreachBatch(lambda df, batch_id: seen.append(df.collect())).start())
while len(seen) < 3 and query.isActive:
    time.sleep(0.2)
query.stop()
spark.stop()
"""


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in process group ``pgid``."""
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def archive_path(runtime: Runtime) -> Path:
    """Where the archive for this Java + pyspark + student library lives in the cache."""
    from grader.student import seminar_spark

    key = hashlib.sha256(
        "|".join(
            [
                str(runtime.java.executable.resolve()),
                str(runtime.java.major),
                str(pyspark_jars_dir()),  # Spark's classpath, which the archive must match
                pyspark_version(),
                seminar_spark.SPARK_SETTINGS["spark.driver.extraJavaOptions"],
            ]
        ).encode()
    ).hexdigest()[:16]
    return cache_root() / "spark-cds" / f"spark-{key}.jsa"


def existing_archive(runtime: Runtime) -> Path | None:
    """The cached archive if ``grader setup`` made one, else None (never builds)."""
    try:
        path = archive_path(runtime)
    except Exception:
        return None
    return path if path.is_file() else None


def build_archive(
    runtime: Runtime, target: Path | None = None, *, python: str = sys.executable, timeout_s: float = 300.0
) -> Path | None:
    """Make the archive (``target`` or the cache's path) unless it exists; None if it cannot be made.

    Runs :data:`_ARCHIVE_JOB` once (~20-40 s on 2 cores); the JVM writes the archive at its exit,
    then it is renamed into place, so a half-written archive is never used.
    """
    target = target or archive_path(runtime)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(STUDENT_LIB), os.environ.get("PYTHONPATH")])),
        "PYSPARK_PYTHON": python,
        "JAVA_HOME": str(runtime.java.home),
        "SPARK_KAFKA_JARS": ",".join(str(j) for j in runtime.spark_kafka_jars),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    env.pop(ARCHIVE_ENV, None)
    try:
        proc = subprocess.Popen(
            [python, "-c", _ARCHIVE_JOB, str(partial)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        began = time.monotonic()
        try:
            code = proc.wait(timeout=timeout_s)
            # The driver JVM outlives the Python process by a moment: it writes the archive as it exits.
            left = timeout_s - (time.monotonic() - began)
            wait_while(lambda: _group_alive(proc.pid), timeout=left, interval=0.1)
        finally:
            kill_group(proc)  # also Spark's JVM and Python workers, on a time-out or Ctrl-C
        if code != 0 or not partial.is_file():
            return None
        os.replace(partial, target)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        partial.unlink(missing_ok=True)
    return target


def timed_build(runtime: Runtime, target: Path | None = None) -> tuple[Path | None, float]:
    """:func:`build_archive` and the seconds it took (for setup's output and benchmarks)."""
    began = time.monotonic()
    return build_archive(runtime, target), time.monotonic() - began
