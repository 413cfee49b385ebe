"""The command line: exit codes, reports, Ctrl-C clean-up."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from grading import case_path, example_path

from grader.cli import ExitCode, main

ROOT = Path(__file__).resolve().parents[1]


def test_usage_errors_exit_4(capsys, tmp_path):
    assert main(["check", str(tmp_path / "missing")]) == ExitCode.USAGE
    assert "is not a folder" in capsys.readouterr().err
    assert main(["check", str(tmp_path), "-a", "no-such-assignment"]) == ExitCode.USAGE
    assert "unknown assignment" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == ExitCode.USAGE


def test_list_shows_assignments_points_and_entrypoints(capsys):
    assert main(["list"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "topic-create" in out
    assert "create_topic.sh | create_topic.py" in out
    assert "$PARTITION" in out


def test_broken_spec_is_a_grader_error_exit_3(capsys, tmp_path, monkeypatch):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "spec.toml").write_text('id = "broken"\n')
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(tmp_path))
    assert main(["list"]) == ExitCode.GRADER_ERROR
    assert "invalid spec" in capsys.readouterr().err


@pytest.mark.kafka
@pytest.mark.parametrize(
    ("example", "code"), [("good-student", ExitCode.OK), ("flawed-student", ExitCode.FAILED)]
)
def test_check_exit_code_and_reports(example, code, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "check",
            str(example_path(example)),
            "-a",
            "produce-sequence",
            "--out",
            str(out),
            "--seed",
            "7",
        ]
    )
    assert rc == code
    printed = capsys.readouterr().out
    assert "Total:" in printed
    assert "--seed 7" in printed
    assert (out / "report.html").is_file()
    data = json.loads((out / "results.json").read_text())
    assert data["seed"] == 7
    assert (out / "gradescope" / "results.json").is_file()


def _ignore_sigint() -> None:
    """The worst case for Ctrl-C: what any background job of a non-interactive shell starts with."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_group(proc: subprocess.Popen) -> None:
    """Whatever the test's outcome: nothing it started survives (the child leads its own session)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


@pytest.mark.kafka
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cluster_up_prints_how_to_use_it_and_a_signal_leaves_nothing(tmp_path, signum):
    """Even when started with SIGINT ignored (as '... &' in a script does), Ctrl-C and SIGTERM stop it."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "cluster", "up", "--brokers", "1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=_ignore_sigint,
    )
    try:
        lines = []
        deadline = time.monotonic() + 180
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        text = "".join(lines)
        assert "bootstrap servers: 127.0.0.1:" in text, text
        assert "kafka-topics --bootstrap-server $BOOTSTRAP_SERVERS" in text
        assert any(tmp_path.iterdir())
        proc.send_signal(signum)
        assert proc.wait(timeout=90) == ExitCode.INTERRUPTED
        assert list(tmp_path.iterdir()) == []
    finally:
        _stop_group(proc)


@pytest.mark.kafka
def test_a_daemon_left_by_student_code_cannot_rewrite_the_reports(tmp_path):
    """A submission that does the work, then daemonises (setsid nohup) a process that waits for the
    grader's results.json to rewrite it: it dies with the run, so the reports stay final."""
    out = tmp_path / "out"
    submission = tmp_path / "sub"
    grade_args = ["--out", str(out), "--seed", "11", "--sandbox", "local"]
    shutil.copytree(
        case_path("produce-sequence", "daemon_rewrites_results"), submission / "produce-sequence",
        ignore=shutil.ignore_patterns("expect.toml"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "check", str(submission), "-a", "produce-sequence", *grade_args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        printed, _ = proc.communicate(timeout=600)
        assert proc.returncode == ExitCode.OK, printed
        data = json.loads((out / "results.json").read_text())
        (result,) = data["assignments"]
        (run,) = result["runs"]
        daemon = int(re.search(r"daemon pid (\d+)", run["stderr"]).group(1))
        # The daemon only acts once results.json exists; by then it must be gone.
        assert not _running(daemon), f"the student's daemon {daemon} outlived the grader"
        assert "hacked" not in (out / "results.json").read_text()
    finally:
        _stop_group(proc)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.kafka
def test_validate_quick_passes_for_the_bundled_reference_and_stub(capsys, tmp_path):
    two = ["-a", "topic-create", "-a", "consume-partition"]
    rc = main(["validate", "--quick", *two, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == ExitCode.OK, out
    assert re.search(r"^  reference +\. +\. +\. +\. +\. +\.   10/10$", out, re.M), out
    assert re.search(r"^  stub +X +X ", out, re.M), out
    assert "validate: OK (4 submissions of 2 assignments" in out
    assert (tmp_path / "reference" / "report.html").is_file()
    assert (tmp_path / "stub" / "report.html").is_file()


@pytest.mark.kafka
def test_validate_fails_when_a_reference_loses_points(capsys, tmp_path, monkeypatch):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "assignments" / "topic-create", course / "topic-create")
    broken = course / "topic-create" / "reference" / "create_topic.sh"
    broken.write_text(broken.read_text().replace("--partitions 6", "--partitions 4"))
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(course))
    assert main(["validate", "--quick"]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "PROBLEM: reference of topic-create scores 8/10" in out
    assert "found 4" in out
