"""Faults: ``kill -9`` of the server with jobs queued and running, a grading worker killed mid-job, the
PostgreSQL server restarted under the service, and the start-up errors that must be one clear line.

Every submission that was accepted ends with exactly one recorded result: the runs table of the
service's own database says how each run ended.
"""

from __future__ import annotations

import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from serve_support import (
    PostgresServer,
    Service,
    course_file,
    example,
    grader_cli,
    pg_bin,
    runs_by_submission,
    submit,
    too_many_entries,
    wait_final,
)

from grader.procs import free_port

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own (it is restarted here)."""
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/system-deps.sh installs Debian's postgresql)")
    server = PostgresServer()
    try:
        yield server
    finally:
        server.close()


def _wait(what: str, condition: object, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def _status(svc: Service, student: str, sub_id: int) -> str:
    with svc.api(student) as api:
        return str(api.get(f"/api/submissions/{sub_id}").json()["status"])


def _gone(processes: list[psutil.Process]) -> bool:
    return not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_kill_9_with_jobs_queued_and_running_then_a_restart_grades_each_exactly_once(
    tmp_path: Path, nothing_left_behind: Path
) -> None:
    students = ["s001", "s002", "s003", "s004"]
    svc = Service(tmp_path, students=students, args=["--jobs", "2", "--course", str(course_file(tmp_path))])
    svc.start()
    try:
        ids = {}
        for student, name in zip(students, ["good-student"] * 2 + ["flawed-student"] * 2, strict=True):
            with svc.api(student) as api:
                ids[student] = submit(api, example(name), "topic-create").json()["id"]
        _wait("two jobs running", lambda: [_status(svc, s, ids[s]) for s in students[:2]] == ["running"] * 2)
        _wait("both grading workers started", lambda: len(svc.workers()) == 2)
        queued = [s for s in students if _status(svc, s, ids[s]) == "queued"]
        started = svc.kill9()
        # Every process the server started (workers, brokers, student scripts) dies with it.
        _wait("the killed server's processes to end", lambda: _gone(started), 60)
        svc.start()
        results = {}
        for student in students:
            with svc.api(student) as api:
                results[student] = wait_final(api, ids[student])
    finally:
        svc.stop()
    assert len(queued) == 2, "two jobs were still queued at the kill"
    assert [results[s]["outcome"] for s in students] == ["passed", "passed", "failed", "failed"]
    assert all(results[s]["attempt"] == 1 for s in students), "a restart makes no new attempt"
    runs = runs_by_submission(svc)
    for student in students:
        outcomes = runs[int(str(ids[student]))]
        assert outcomes.count("graded") == 1, (student, outcomes)
        if student in students[:2]:
            assert outcomes == ["lost", "graded"], (student, outcomes)
    assert "queued again 2 job(s) whose server had stopped" in svc.log_text()


def test_a_worker_killed_mid_job_is_retried_and_graded_once(
    tmp_path: Path, nothing_left_behind: Path
) -> None:
    svc = Service(tmp_path, students=["s001"], args=["--jobs", "1", "--retry-backoff", "0"])
    svc.start()
    try:
        with svc.api("s001") as api:
            sub_id = submit(api, example("good-student"), "topic-create").json()["id"]
            _wait("a grading worker", lambda: len(svc.workers()) == 1)
            (worker,) = svc.workers()
            _wait("the worker's cluster", lambda: len(worker.children(recursive=True)) > 2)
            below = worker.children(recursive=True)
            worker.send_signal(signal.SIGKILL)
            _wait("the killed worker's brokers to end", lambda: _gone(below), 60)
            result = wait_final(api, sub_id)
    finally:
        svc.stop()
    assert (result["status"], result["outcome"], result["counted"]) == ("done", "passed", True)
    assert runs_by_submission(svc)[sub_id] == ["crashed", "graded"]


@pytest.mark.postgres
def test_the_database_restarted_under_the_service_loses_nothing(
    tmp_path: Path, postgres: PostgresServer, nothing_left_behind: Path
) -> None:
    url = postgres.create_database(f"faults_{uuid.uuid4().hex[:8]}")
    svc = Service(tmp_path, db_url=url, students=["s001", "s002"], args=["--jobs", "1"])
    svc.start()
    try:
        with svc.api("s001") as api:
            sub_id = submit(api, example("good-student"), "topic-create").json()["id"]
            _wait("the job running", lambda: _status(svc, "s001", sub_id) == "running")
            postgres.stop("fast")
            try:
                down = api.get(f"/api/submissions/{sub_id}")
                health = httpx.get(f"{svc.url}/healthz")
                time.sleep(3)
            finally:
                postgres.start()
            result = wait_final(api, sub_id)
        with svc.api("s002") as api:
            after = submit(api, too_many_entries())
            later = wait_final(api, after.json()["id"])
    finally:
        svc.stop()
    assert down.status_code == 503
    assert "database is not reachable right now" in down.json()["detail"]
    assert health.status_code == 503
    assert "Traceback" not in down.text + health.text
    assert (result["status"], result["outcome"]) == ("done", "passed")
    assert runs_by_submission(svc)[sub_id] == ["graded"], "recorded once, after the database came back"
    assert after.status_code == 202
    assert later["status"] == "done"


def _one_line_error(done: object, code: int, words: str) -> None:
    stderr = done.stderr  # type: ignore[attr-defined]
    assert done.returncode == code, stderr  # type: ignore[attr-defined]
    assert stderr.startswith("grader: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert words in stderr
    assert "Traceback" not in stderr


def test_start_up_problems_are_one_line_with_exit_4_or_3(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\ns001,Ann\n", encoding="utf-8")
    common = ["serve", "--roster", str(roster), "--data", str(tmp_path / "data"), "--sandbox", "local"]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nAnn,a@x\n", encoding="utf-8")
    _one_line_error(
        grader_cli("serve", "--roster", str(bad), "--data", str(tmp_path / "d2")), 4, "no id column"
    )
    _one_line_error(grader_cli("serve", "--roster", str(tmp_path)), 4, "is a folder")
    dead_port = free_port()
    _one_line_error(
        grader_cli(*common, "--db", f"postgresql://grader@127.0.0.1:{dead_port}/nowhere"), 3,
        f"cannot reach the database postgresql://grader@127.0.0.1:{dead_port}/nowhere",
    )  # fmt: skip
    _one_line_error(
        grader_cli("serve", "--roster", str(roster), "--data", str(tmp_path / "d3"), "--sandbox", "docker",
                   env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}),
        3, "--sandbox docker: no docker engine is reachable",
    )  # fmt: skip
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        _one_line_error(
            grader_cli(*common, "--port", str(port)), 4, f"port {port} on 127.0.0.1 is already in use"
        )
    _one_line_error(grader_cli("submit", str(tmp_path), "--server", f"http://127.0.0.1:{dead_port}",
                               "--token", "t"), 3, "cannot reach the grading service")  # fmt: skip
