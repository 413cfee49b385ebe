"""Entrypoint detection and the check outcome model (no cluster needed)."""

from __future__ import annotations

import os
from pathlib import Path

from grader.checks import _entrypoint as decide
from grader.common import int_lines


def on_path(name: str) -> bool:
    """``has_command`` of a sandbox that has bash, sh and python3 (and absolute paths that exist)."""
    return name in {"bash", "sh", "python3"} or (name.startswith("/") and os.access(name, os.X_OK))


def _entrypoint(path: Path):
    return decide(path, on_path)


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


def test_crlf_shell_script_is_converted_and_named_with_the_fix(tmp_path):
    path = script(tmp_path, "#!/usr/bin/env bash\r\necho hi\r\n")
    entry = _entrypoint(path)
    assert not entry.runnable_as_is
    assert entry.command == ["bash", "run.sh"]
    assert "Windows (CRLF) line endings" in entry.problem
    assert "dos2unix run.sh" in entry.problem
    assert "eol=lf" in entry.problem
    # The sandbox's copy now runs under bash; the mode is kept.
    assert path.read_bytes() == b"#!/usr/bin/env bash\necho hi\n"
    assert os.access(path, os.X_OK)


def test_crlf_conversion_never_writes_through_a_symlink(tmp_path):
    outside = tmp_path / "outside.sh"
    outside.write_bytes(b"#!/bin/bash\r\necho hi\r\n")
    outside.chmod(0o755)
    (tmp_path / "sub").mkdir()
    link = tmp_path / "sub" / "run.sh"
    link.symlink_to(outside)
    entry = decide(link, on_path)
    assert "CRLF" in entry.problem
    assert outside.read_bytes() == b"#!/bin/bash\r\necho hi\r\n"
    assert not link.is_symlink()
    assert link.read_bytes() == b"#!/bin/bash\necho hi\n"


def test_crlf_and_not_executable_are_both_named(tmp_path):
    entry = _entrypoint(script(tmp_path, "#!/bin/bash\r\necho hi\r\n", executable=False))
    assert "CRLF" in entry.problem
    assert "chmod +x run.sh" in entry.problem


def test_missing_shebang_says_why_it_matters(tmp_path):
    entry = _entrypoint(script(tmp_path, "echo hi\n"))
    assert not entry.runnable_as_is
    assert entry.command == ["bash", "run.sh"]
    assert "no shebang" in entry.problem
    assert "Exec format error" in entry.problem


def test_crlf_python_entrypoint_is_accepted_as_is(tmp_path):
    path = tmp_path / "x.py"
    path.write_bytes(b"print(1)\r\n")
    entry = _entrypoint(path)
    assert entry.runnable_as_is
    assert path.read_bytes() == b"print(1)\r\n"
