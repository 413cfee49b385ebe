"""The command line: exit codes, reports, Ctrl-C clean-up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
            str(ROOT / "examples" / example),
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


@pytest.mark.kafka
def test_cluster_up_prints_how_to_use_it_and_ctrl_c_leaves_nothing(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "cluster", "up", "--brokers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Press Ctrl-C" in line or not line:
            break
    text = "".join(lines)
    assert "bootstrap servers: 127.0.0.1:" in text
    assert "kafka-topics --bootstrap-server $BOOTSTRAP_SERVERS" in text
    assert any(tmp_path.iterdir())
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == ExitCode.INTERRUPTED
    assert list(tmp_path.iterdir()) == []


@pytest.mark.kafka
def test_validate_passes_for_the_bundled_reference_and_stub(capsys, tmp_path):
    rc = main(["validate", "-a", "topic-create", "-a", "consume-partition", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == ExitCode.OK, out
    assert "reference topic-create" in " ".join(out.split())
    assert "validate: OK" in out
    assert (tmp_path / "reference" / "report.html").is_file()
    assert (tmp_path / "template" / "report.html").is_file()


@pytest.mark.kafka
def test_validate_fails_when_a_reference_loses_points(capsys, tmp_path, monkeypatch):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "assignments" / "topic-create", course / "topic-create")
    broken = course / "topic-create" / "reference" / "create_topic.sh"
    broken.write_text(broken.read_text().replace("--partitions 6", "--partitions 4"))
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(course))
    assert main(["validate"]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "PROBLEM: reference of topic-create scores 8/10" in out
    assert "found 4" in out
