"""Spark's class-data archive: made once, handed to student processes, accepted by the driver JVM.

``-Xshare:on`` turns the JVM's silent fallback (an archive it cannot use is ignored) into a start-up
error, so a session that starts with it proves the archive fits this JVM and pyspark's classpath.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.runtime.jars import ensure_runtime
from grader.runtime.spark_cds import ARCHIVE_ENV, archive_path, build_archive, existing_archive
from grader.student import STUDENT_LIB

# Started like a student's app (seminar_spark), but with the archive made mandatory.
STRICT_SESSION = """
import seminar_spark
seminar_spark.SPARK_SETTINGS["spark.driver.extraJavaOptions"] += " -Xshare:on"
spark = seminar_spark.spark_session("cds-check")
print("count", spark.range(7).count())
spark.stop()
"""


@pytest.fixture(scope="module")
def runtime():
    return ensure_runtime(progress=False)


def test_no_archive_is_no_archive(runtime, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    assert existing_archive(runtime) is None  # a grading never builds one
    assert archive_path(runtime).parent == tmp_path / "spark-cds"


@pytest.mark.spark
def test_the_archive_setup_made_is_accepted_by_a_students_spark(runtime):
    archive = existing_archive(runtime) or build_archive(runtime)  # `make setup` made it already
    assert archive is not None
    assert archive == archive_path(runtime)
    env = {
        **os.environ,
        "PYTHONPATH": str(STUDENT_LIB),
        "JAVA_HOME": str(runtime.java.home),
        "SPARK_KAFKA_JARS": ",".join(str(j) for j in runtime.spark_kafka_jars),
        ARCHIVE_ENV: str(archive),
    }
    done = subprocess.run(
        [sys.executable, "-c", STRICT_SESSION], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "count 7" in done.stdout


@pytest.mark.kafka
def test_local_student_processes_get_the_archive(runtime, kafka_cluster, tmp_path):
    from grader.sandbox.local import LocalSandbox

    (tmp_path / "sub").mkdir()
    with LocalSandbox(tmp_path / "sub", runtime=runtime, cluster=kafka_cluster) as box:
        record = box.run(["sh", "-c", f'echo "${ARCHIVE_ENV}"'], label="env", timeout=20)
    archive = existing_archive(runtime)
    assert record.stdout.strip() == (str(archive) if archive else "")


def test_a_failed_build_leaves_nothing(runtime, tmp_path):
    # A Python that cannot run the job: no archive, no partial file, None instead of an exception.
    target = tmp_path / "spark.jsa"
    assert build_archive(runtime, target, python=str(Path("/bin/false"))) is None
    assert list(tmp_path.iterdir()) == []
