"""``grader serve --scheduler``: the service's jobs run on a real Dask cluster (a scheduler and a worker
as separate processes on 127.0.0.1) through the batch's Dask executor and the same ``run_job``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from serve_support import Service, example, runs_by_submission, submit, too_many_entries, wait_final

from grader.procs import child_setup, kill_group

DASK = str(Path(sys.executable).parent / "dask")

pytestmark = pytest.mark.kafka


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``dask scheduler`` and one ``dask worker --resources sandbox=1``; the address and the worker's pid."""
    pytest.importorskip("distributed")
    folder = tmp_path / "dask"
    folder.mkdir()
    env = {**os.environ, "TMPDIR": str(folder)}
    procs: list[subprocess.Popen[bytes]] = []

    def start(cmd: list[str], log: str) -> None:
        out = (folder / log).open("ab")
        procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, preexec_fn=child_setup()))  # fmt: skip

    try:
        sched_file = folder / "scheduler.json"
        start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(sched_file)], "scheduler.log")  # fmt: skip
        deadline = time.monotonic() + 60
        while not (sched_file.exists() and json.loads(sched_file.read_text() or "{}").get("address")):
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        start([DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
               "--resources", "sandbox=1", "--host", "127.0.0.1"], "worker.log")  # fmt: skip
        yield address, procs[-1].pid
    finally:
        for proc in reversed(procs):
            kill_group(proc, grace=5)


def _grading_below(pid: int) -> bool:
    try:
        return any("grader.batch.worker" in " ".join(p.cmdline()) for p in psutil.Process(pid).children(True))
    except psutil.Error:
        return False


def test_jobs_run_on_the_dask_workers_and_are_recorded_once(
    scheduler: tuple[str, int], tmp_path: Path, nothing_left_behind: Path
) -> None:
    address, dask_worker = scheduler
    svc = Service(tmp_path / "serve", students=["s001", "s002"], args=["--scheduler", address])
    svc.start(timeout_s=120)
    try:
        with svc.api("s001") as one, svc.api("s002") as two:
            good = submit(one, example("good-student"), "topic-create").json()["id"]
            seen_on_dask = seen_here = False
            deadline = time.monotonic() + 240
            while (
                one.get(f"/api/submissions/{good}").json()["status"] != "done" and time.monotonic() < deadline
            ):
                seen_on_dask |= _grading_below(dask_worker)
                seen_here |= bool(svc.workers())
                time.sleep(0.2)
            cheap = submit(two, too_many_entries()).json()["id"]
            results = wait_final(one, good), wait_final(two, cheap)
    finally:
        svc.stop()
    assert seen_on_dask, "the job's grading process ran under the Dask worker"
    assert not seen_here, "and not under the server"
    assert [r["outcome"] for r in results] == ["passed", "failed"]
    assert runs_by_submission(svc) == {good: ["graded"], cheap: ["graded"]}
    assert f"Dask {address}" in svc.log_text()
