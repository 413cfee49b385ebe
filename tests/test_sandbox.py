"""LocalSandbox: environment, limits, output caps, process-group kills, clean-up."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader.sandbox import Sandbox, SandboxProcess
from grader.sandbox.local import LocalSandbox
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


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    """Whether ``pid`` is gone (or a zombie) within ``seconds``; polls, never sleeps a fixed time."""
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _kill_if_alive(pid: int) -> None:
    """Test hygiene: a daemon the sandbox failed to kill must not outlive the test."""
    if _alive(pid):
        os.kill(pid, 9)


# Each script starts a daemon that escapes the process group (setsid) and writes its pid to stdout;
# the parent exits at once, so the daemon is re-parented (to the grader, its subreaper).
DAEMON = "sh -c 'echo $$; exec sleep 300 >/dev/null 2>&1'"
ESCAPES = {
    "setsid_background": f"setsid {DAEMON} & sleep 0.2; exit 0",
    "double_fork_nohup": f"( setsid nohup {DAEMON} & ); sleep 0.2; exit 0",
    # Scrubbed environment (no marker) but seen by the sampler while its parent still ran.
    "env_scrubbed_after_a_while": f"env -i setsid {DAEMON} & sleep 1.5; exit 0",
}


@pytest.mark.parametrize("script", ESCAPES.values(), ids=list(ESCAPES))
def test_nothing_started_by_a_run_outlives_it(sandbox, script):
    record = sandbox.run(["bash", "-c", script], label="daemon", timeout=30)
    assert record.returncode == 0, record.stderr
    daemon = int(record.stdout.split()[0])
    try:
        assert _wait_gone(daemon), f"the daemon {daemon} survived the run"
        stat = Path(f"/proc/{daemon}/stat").read_text() if Path(f"/proc/{daemon}").exists() else ""
        assert not stat, f"the daemon was killed but left as a zombie: {stat} (we are {os.getpid()})"
    finally:
        _kill_if_alive(daemon)


def test_overlapping_runs_end_separately(sandbox):
    # The runner grades short assignments while the word count's app waits: the end of a short run
    # kills the daemon it started, never the app of the run still going (nor the reverse).
    app = sandbox.spawn(["bash", "-c", "sleep 555; true"], label="app")
    record = sandbox.run(["bash", "-c", ESCAPES["double_fork_nohup"]], label="short", timeout=30)
    daemon = int(record.stdout.split()[0])
    try:
        assert _wait_gone(daemon), f"the daemon {daemon} survived the short run"
        assert app.poll() is None, "the end of the short run killed the app's run"
        short = sandbox.spawn(["bash", "-c", "sleep 556; true"], label="short 2")
        assert app.terminate(grace=1) is not None
        assert short.poll() is None
        assert short.terminate(grace=1) is not None
    finally:
        _kill_if_alive(daemon)
        app.terminate(grace=0)


def test_a_daemon_that_keeps_forking_is_killed_with_its_children(sandbox):
    loop = "sh -c 'echo $$; while true; do sleep 0.05 & sleep 0.05; done >/dev/null 2>&1'"
    record = sandbox.run(["bash", "-c", f"setsid {loop} & sleep 0.3; exit 0"], label="forker", timeout=30)
    assert record.returncode == 0
    forker = int(record.stdout.split()[0])
    try:
        assert _wait_gone(forker), "the forking loop survived the run"
    finally:
        _kill_if_alive(forker)


def test_the_time_limit_kills_daemons_too(sandbox):
    record = sandbox.run(["bash", "-c", "setsid sleep 300 & echo $!; sleep 300"], label="hang", timeout=2)
    assert record.timed_out
    daemon = int(record.stdout.split()[0])
    try:
        assert _wait_gone(daemon)
    finally:
        _kill_if_alive(daemon)


def test_a_background_process_of_the_sandbox_is_spared_by_another_run_ending(sandbox):
    """Killing one run's orphans must not kill another live process of the same sandbox."""
    app = sandbox.spawn(["bash", "-c", "sleep 300"], label="app")
    try:
        sandbox.run(["bash", "-c", "setsid sleep 300 & exit 0"], label="other", timeout=30)
        assert app.poll() is None
    finally:
        app.terminate(grace=1)
    assert app.poll() is not None
