"""Entrypoint detection and the check outcome model (no cluster needed)."""

from __future__ import annotations

import os
from pathlib import Path

from grader.checks import _entrypoint
from grader.common import int_lines


def script(tmp_path: Path, text: str, executable: bool = True) -> Path:
    path = tmp_path / "run.sh"
    path.write_text(text)
    path.chmod(0o755 if executable else 0o644)
    return path


def test_executable_script_with_valid_shebang_runs_as_is(tmp_path):
    entry = _entrypoint(script(tmp_path, "#!/usr/bin/env bash\necho hi\n"))
    assert entry.runnable_as_is
    assert entry.command == ["./run.sh"]


def test_not_executable_falls_back_to_bash_and_says_chmod(tmp_path):
    entry = _entrypoint(script(tmp_path, "#!/usr/bin/env bash\necho hi\n", executable=False))
    assert not entry.runnable_as_is
    assert entry.command == ["bash", "run.sh"]
    assert "chmod +x run.sh" in entry.problem


def test_broken_shebang_and_missing_shebang_are_named(tmp_path):
    assert "does not exist" in _entrypoint(script(tmp_path, "#!/bin/bash/\necho\n")).problem
    assert "no shebang" in _entrypoint(script(tmp_path, "echo hi\n")).problem
    assert "does not exist" in _entrypoint(script(tmp_path, "#!/usr/bin/env nosuchshell\necho\n")).problem


def test_python_entrypoints_run_with_the_sandbox_python(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("print(1)\n")
    entry = _entrypoint(path)
    assert entry.runnable_as_is
    assert entry.command == ["python3", "x.py"]
    assert not os.access(path, os.X_OK)


def test_int_lines_separates_values_from_noise():
    values, other = int_lines("1\n 2 \n\nReading...\n-3\n4x\n")
    assert values == [1, 2, -3]
    assert other == ["Reading...", "4x"]
