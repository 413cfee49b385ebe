"""The Dask executor on a real Dask cluster: a scheduler and two workers as separate processes on
loopback. Most tests use the fake job runner (no sandbox); one grades a real submission."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from batch_fake import HERE, RUNNER
from conftest import wait_until

pytest.importorskip("distributed")

from grader.batch import BatchOptions, GradeJob, JobStatus, LocalExecutor, run_batch
from grader.batch.dask import DaskExecutor, run_isolated, travelling
from grader.batch.jobs import assignment_version
from grader.batch.progress import PlainProgress
from grader.batch.records import StudentRecord
from grader.procs import child_setup, kill_group
from grader.registry import select

ASSIGNMENT = "topic-create"
DASK = str(Path(sys.executable).parent / "dask")


@dataclass
class DaskCluster:
    """A scheduler and workers started by the test, and the fake runner's log."""

    address: str
    workers: dict[str, subprocess.Popen[bytes]]
    log: Path


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=child_setup(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """``dask scheduler`` + two ``dask worker --resources sandbox=1`` processes on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "FAKE_LOG": str(folder / "fake.log"),
           # A worker killed with SIGKILL cannot delete its job folder: keep those in the test's.
           "TMPDIR": str(folder)}  # fmt: skip
    sched_file = folder / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        scheduler = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)]  # fmt: skip
        procs.append(_start(scheduler, env, folder / "scheduler.log"))
        wait_until(lambda: sched_file.exists() and json.loads(sched_file.read_text()).get("address"),
                   "the Dask scheduler", timeout=60)  # fmt: skip
        address = json.loads(sched_file.read_text())["address"]
        workers = {}
        for name in ("w1", "w2"):
            workers[name] = _start(
                [DASK, "worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--resources", "sandbox=1", "--host", "127.0.0.1"],
                env, folder / f"{name}.log",
            )  # fmt: skip
            procs.append(workers[name])
        yield DaskCluster(address, workers, folder / "fake.log")
    finally:
        for proc in reversed(procs):
            kill_group(proc, grace=5)


def _class(root: Path, behaviours: list[str], sleep: float = 0.0) -> Path:
    subs = root / "subs"
    for i, behaviour in enumerate(behaviours, start=1):
        folder = subs / f"s{i}" / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "fake").write_text(behaviour)
        if sleep:
            (folder / "sleep").write_text(str(sleep))
    return subs


def _wait_for_workers(cluster: DaskCluster, n: int) -> None:
    from distributed import Client

    with Client(cluster.address, timeout=30) as client:
        client.wait_for_workers(n, timeout=60)


def test_same_gradebook_as_the_local_pool(
    dask_cluster: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _wait_for_workers(dask_cluster, 2)
    subs = _class(tmp_path, ["10", "7", "0", "10", "3", "raise"])
    local, remote = tmp_path / "local", tmp_path / "dask"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    run_batch(BatchOptions(subs, local, [ASSIGNMENT], sandbox="local", course_seed=11),
              executor=LocalExecutor(2, local / ".work" / "jobs", runner=RUNNER),
              progress=PlainProgress(io.StringIO()))  # fmt: skip
    executor = DaskExecutor(dask_cluster.address, runner=RUNNER)
    assert executor.slots == 2
    outcome = run_batch(BatchOptions(subs, remote, [ASSIGNMENT], sandbox="local", course_seed=11),
                        executor=executor, progress=PlainProgress(io.StringIO()))  # fmt: skip
    assert (remote / "gradebook.csv").read_text() == (local / "gradebook.csv").read_text()
    workers = {json.loads((remote / f"s{i}" / "batch.json").read_text())["worker"] for i in range(1, 6)}
    assert workers == {"fake"}
    assert outcome.counts["crashed"] == 1  # the exception, reported, not retried forever


def test_a_worker_killed_mid_batch_loses_no_student(dask_cluster: DaskCluster, tmp_path: Path) -> None:
    _wait_for_workers(dask_cluster, 2)
    dask_cluster.log.unlink(missing_ok=True)
    subs = _class(tmp_path, ["10"] * 6, sleep=3.0)
    out = tmp_path / "grades"
    victim = dask_cluster.workers["w1"]

    class KillOnFirstResult(PlainProgress):
        def finished(self, record: StudentRecord) -> None:
            super().finished(record)
            if victim.poll() is None:
                os.killpg(victim.pid, signal.SIGKILL)  # the worker and the job process it runs

    outcome = run_batch(BatchOptions(subs, out, [ASSIGNMENT], sandbox="local"),
                        executor=DaskExecutor(dask_cluster.address, runner=RUNNER),
                        progress=KillOnFirstResult(io.StringIO()))  # fmt: skip
    assert victim.poll() is not None
    assert sorted(r.student_id for r in outcome.records) == [f"s{i}" for i in range(1, 7)]
    assert {r.status.value for r in outcome.records} == {"passed"}
    ended = Counter(line.split()[1] for line in dask_cluster.log.read_text().splitlines()
                    if line.startswith("end "))  # fmt: skip
    assert set(ended) == {f"s{i}" for i in range(1, 7)}
    # At most the job that was running on the killed worker ran twice; its first run left no result.
    assert sum(ended.values()) <= 7


@pytest.mark.kafka
def test_a_real_submission_graded_through_dask(dask_cluster: DaskCluster, tmp_path: Path) -> None:
    (topic,) = select([ASSIGNMENT])
    submission = tmp_path / "alice"
    shutil.copytree(topic.reference, submission / ASSIGNMENT)
    job = GradeJob(key="alice", submission_path=str(submission), assignments=[ASSIGNMENT],
                   versions={ASSIGNMENT: assignment_version(topic)}, seed=5, sandbox="local",
                   timeout_s=300)  # fmt: skip
    alive = [name for name, proc in dask_cluster.workers.items() if proc.poll() is None]
    from distributed import Client

    with Client(dask_cluster.address, timeout=30) as client:
        client.wait_for_workers(len(alive), timeout=60)
        began = time.monotonic()
        result = client.submit(run_isolated, travelling(job), resources={"sandbox": 1}, pure=False).result(
            timeout=600
        )
        assert time.monotonic() - began < 600
        stale = job.model_copy(update={"versions": {ASSIGNMENT: "0" * 16}})
        refused = client.submit(run_isolated, travelling(stale), resources={"sandbox": 1}, pure=False).result(
            timeout=120
        )
    assert result.status is JobStatus.GRADED, result.message
    assert result.result is not None
    assert result.result.points == result.result.max_points == 10
    assert set(result.files) >= {"report.html", "results.json", "junit.xml"}
    assert refused.status is JobStatus.REFUSED
    assert "differ from the client's" in refused.message
