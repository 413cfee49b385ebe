"""LocalSandbox: environment, limits, output caps, process-group kills, clean-up."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader.sandbox import LocalSandbox, Sandbox, SandboxProcess
from grader.spec import Limits

pytestmark = pytest.mark.kafka


@pytest.fixture
def sandbox(kafka_cluster, tmp_path):
    submission = tmp_path / "submission"
    (submission / "demo").mkdir(parents=True)
    (submission / "demo" / "hello.sh").write_text("#!/usr/bin/env bash\necho hello\n")
    with LocalSandbox(submission, limits=Limits(output_kb=4), cluster=kafka_cluster) as box:
        yield box


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_satisfies_the_sandbox_protocol(sandbox):
    assert isinstance(sandbox, Sandbox)
    assert isinstance(sandbox.spawn(["true"], label="t"), SandboxProcess)


def test_student_sees_documented_env_and_seminar_cli_but_no_grader_internals(sandbox, kafka_cluster):
    record = sandbox.run(
        ["bash", "-c", "env; command -v kafka-topics kafka-console-consumer.sh"], label="env", timeout=30
    )
    assert record.returncode == 0
    assert f"BOOTSTRAP_SERVERS={kafka_cluster.bootstrap_servers}" in record.stdout
    assert "/kafka-topics" in record.stdout
    assert "/kafka-console-consumer.sh" in record.stdout
    assert "assignments" not in record.stdout
    assert "reference" not in record.stdout
    assert sorted(p.name for p in sandbox.workdir.iterdir()) == ["demo"]


def test_time_limit_kills_the_whole_process_group(sandbox, tmp_path):
    pids = tmp_path / "pids"
    record = sandbox.run(
        ["bash", "-c", f"sleep 300 & echo $! > {pids}; sleep 300"], label="hang", timeout=1.5
    )
    assert record.timed_out
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_output_is_capped_but_fully_drained(sandbox):
    record = sandbox.run(
        ["bash", "-c", "echo first; head -c 3000000 /dev/zero | tr '\\0' x; echo last"],
        label="flood",
        timeout=30,
    )
    assert record.returncode == 0
    assert record.stdout.startswith("first\nxxx")
    assert record.stdout.endswith("xxxlast\n")
    assert record.stdout_truncated_bytes == len("first\n") + 3000000 + len("last\n") - 4 * 1024
    assert f"[... {record.stdout_truncated_bytes} bytes cut ...]" in record.stdout


def test_file_size_limit_applies(kafka_cluster, tmp_path):
    with LocalSandbox(tmp_path, limits=Limits(file_size_mb=1), cluster=kafka_cluster) as box:
        record = box.run(["bash", "-c", "head -c 3000000 /dev/zero > big"], label="big", timeout=30)
        assert record.returncode != 0
        assert (box.workdir / "big").stat().st_size <= 1024 * 1024


def test_stdin_is_fed_and_terminate_marks_grader_stop(sandbox):
    record = sandbox.run(["cat"], label="cat", timeout=10, stdin=b"1\n2\n")
    assert record.stdout == "1\n2\n"
    proc = sandbox.spawn(["sleep", "60"], label="bg")
    assert proc.poll() is None
    proc.terminate(grace=1)
    rec = proc.record()
    assert rec.killed_by_grader
    assert not rec.timed_out


def test_a_missing_program_is_reported_not_raised(sandbox):
    record = sandbox.run(["/nonexistent/prog"], label="missing", timeout=5)
    assert record.returncode is None
    assert "could not start" in record.stderr


def test_stop_removes_the_sandbox_but_leaves_a_shared_cluster_running(kafka_cluster, tmp_path):
    box = LocalSandbox(tmp_path, cluster=kafka_cluster).start()
    root = box.workdir.parent
    box.spawn(["sleep", "60"], label="bg")
    box.stop()
    assert not root.exists()
    assert all(node.alive() for node in kafka_cluster.nodes)
