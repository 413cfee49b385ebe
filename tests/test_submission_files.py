"""A submission's files are the student's, whatever they are: sparse giants, FIFOs, sockets and
floods of entries are refused or left out by name, never copied in full, never a grader error."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from grader.batch.intake import IntakeStatus, collect
from grader.cli import main
from grader.registry import select
from grader.results import Status
from grader.runner import grade_submission
from grader.submission_files import (
    LIMITS,
    SubmissionLimits,
    SubmissionRefused,
    copy_tree,
    inspect,
    size_text,
)

GIB = 1 << 30
SCRIPT = '#!/usr/bin/env bash\nkafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --list\n'


def submission(root: Path) -> Path:
    script = root / "topic-create" / "create_topic.sh"
    script.parent.mkdir(parents=True)
    script.write_text(SCRIPT)
    script.chmod(0o755)
    return root


def sparse(path: Path, size: int = GIB) -> Path:
    """A file of ``size`` bytes apparent size that takes a few bytes on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size - 5)
        f.seek(size - 5)
        f.write(b"hello")
    return path


def used_bytes(folder: Path) -> int:
    """Bytes ``folder`` really takes on disk (blocks, not apparent sizes)."""
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*"))


def no_sandbox(*_args: object) -> object:
    raise AssertionError("a refused submission must not start a sandbox")


def test_a_sparse_giant_is_refused_by_name_and_limit_without_reading_it(tmp_path: Path) -> None:
    sub = submission(tmp_path / "sub")
    sparse(sub / "topic-create" / "data.bin")
    with pytest.raises(SubmissionRefused) as refused:
        inspect(sub)
    text = str(refused.value)
    assert text.startswith("topic-create/data.bin is 1 GiB (apparent size, ")
    assert "a sparse file" in text
    assert f"at most {size_text(LIMITS.max_file_bytes)}" in text
    assert "git rm --cached" in text


def test_totals_and_entry_counts_are_limited_and_reports_and_git_do_not_count(tmp_path: Path) -> None:
    sub = submission(tmp_path / "sub")
    for i in range(3):
        (sub / "topic-create" / f"f{i}.txt").write_bytes(b"x" * 400)
    with pytest.raises(SubmissionRefused, match="add up to more than 1000 bytes"):
        inspect(sub, limits=SubmissionLimits(max_total_bytes=1000))
    with pytest.raises(SubmissionRefused, match="more than 3 files and folders"):
        inspect(sub, limits=SubmissionLimits(max_entries=3))
    sparse(sub / ".git" / "objects" / "pack.bin")
    sparse(sub / "reports" / "old" / "report.bin")
    found = inspect(sub)  # the grader's report folder and git's data are not part of the submission
    assert found.files == 4


def test_special_files_are_left_out_of_copies_and_named(tmp_path: Path) -> None:
    sub = submission(tmp_path / "sub")
    os.mkfifo(sub / "topic-create" / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sub / "sock"))
    (sub / "topic-create" / "link").symlink_to("/etc/passwd")
    try:
        found = inspect(sub)
        assert found.left_out == ["sock (a socket)", "topic-create/pipe (a named pipe)"]
        left_out = copy_tree(sub, tmp_path / "copy")
    finally:
        server.close()
    assert sorted(left_out) == ["sock (a socket)", "topic-create/pipe (a named pipe)"]
    copy = tmp_path / "copy"
    assert (copy / "topic-create" / "create_topic.sh").read_text() == SCRIPT
    assert os.access(copy / "topic-create" / "create_topic.sh", os.X_OK)
    assert os.readlink(copy / "topic-create" / "link") == "/etc/passwd"  # a link, never followed
    assert not (copy / "topic-create" / "pipe").exists()


def test_the_runner_refuses_a_giant_as_the_students_failure_without_a_sandbox(tmp_path: Path) -> None:
    sub = submission(tmp_path / "sub")
    sparse(sub / "junk.iso")
    assignments = select(["topic-create", "produce-sequence"])
    result = grade_submission(sub, assignments, seed=7, sandbox_factory=no_sandbox)  # type: ignore[arg-type]
    assert not result.has_error
    assert result.outcome == "failed"
    assert result.points == 0
    for a in result.assignments:
        first, *rest = a.checks
        assert first.status is Status.FAILED
        assert first.message.startswith("the submission was not graded: junk.iso is 1 GiB")
        assert first.hint
        assert all(c.status is Status.SKIPPED for c in rest)


def test_grader_check_of_a_sparse_giant_exits_1_with_bounded_temp_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = submission(tmp_path / "sub")
    sparse(sub / "topic-create" / "data.bin")
    (sub / ".git").mkdir()  # makes `grader check` build its grading copy (without .git)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    out = tmp_path / "out"
    code = main(["check", str(sub), "-a", "topic-create", "--sandbox", "local", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 1, printed
    assert "topic-create/data.bin is 1 GiB" in printed.out
    assert "Traceback" not in printed.err
    assert used_bytes(temp) < 1 << 20
    assert "topic-create/data.bin is 1 GiB" in (out / "report.html").read_text()


def test_batch_intake_refuses_a_sparse_giant_and_grades_the_others(tmp_path: Path) -> None:
    download = tmp_path / "download"
    submission(download / "alice")
    sparse(submission(download / "mallory") / "topic-create" / "core")
    # One level deeper: the file is named from the submission's root.
    sparse(download / "trudy" / "lab" / "topic-create" / "core")
    (download / "trudy" / "notes.txt").write_text("see lab/")
    work = tmp_path / "out" / ".work"
    _, subs = collect(download, work, ["topic-create"])
    found = {s.student_id: s for s in subs}
    assert found["alice"].status is IntakeStatus.OK
    assert found["mallory"].status is IntakeStatus.REFUSED
    assert found["mallory"].note.startswith("refused: topic-create/core is 1 GiB")
    assert found["trudy"].status is IntakeStatus.REFUSED
    assert found["trudy"].note.startswith("refused: topic-create/core is 1 GiB")
    assert not work.exists() or used_bytes(work) < 1 << 20


def test_grader_check_names_special_files_left_out(tmp_path: Path) -> None:
    """A FIFO in a submission does not block or break the grading copy (which `check .` makes)."""
    sub = submission(tmp_path / "sub")
    os.mkfifo(sub / "topic-create" / "pipe")
    (sub / "reports").mkdir()
    from grader.api import grading_copy

    copy = grading_copy(sub, sub / "reports" / "x", tmp_path / "tmp")
    assert copy != sub
    assert (copy / "topic-create" / "create_topic.sh").exists()
    assert not (copy / "topic-create" / "pipe").exists()
    assert not (copy / "reports").exists()
    shutil.rmtree(tmp_path / "tmp")
