"""Usage errors are usage errors: a wrong path or number on the command line is one line, exit 4.

Every case here is refused before any Java, Kafka or Spark work starts, so these tests are fast.
Where a command would go on to grade, ``api.check`` (or the batch, or the package build) is
replaced by a stub that records it was reached: nothing is graded.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.cli import ExitCode, main

NOBODY = 65534
Runner = Callable[[list[str]], tuple[int, str]]
"""Runs the CLI with these arguments unprivileged; returns (exit status, stderr)."""


class Reached(Exception):
    """Raised by the stubs: the command got past every check to the real work."""


@pytest.fixture
def sub(tmp_path: Path) -> Path:
    """A submission with one assignment folder."""
    (tmp_path / "sub" / "topic-create").mkdir(parents=True)
    (tmp_path / "sub" / "topic-create" / "create_topic.sh").write_text("#!/usr/bin/env bash\n")
    return tmp_path / "sub"


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stub out grading, batch and packaging; returns what the stub was called with."""
    import grader.batch
    import grader.package.gradescope
    from grader import api

    calls: dict[str, Any] = {}

    def stub(name: str) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            calls[name] = (args, kwargs)
            raise Reached(name)

        return record

    monkeypatch.setattr(api, "check", stub("check"))
    monkeypatch.setattr(grader.batch, "run_batch", stub("batch"))
    monkeypatch.setattr(grader.package.gradescope, "build_package", stub("package"))
    return calls


def assert_usage(rc: int, err: str, *needles: str) -> None:
    """Exit 4, and stderr is one ``grader:`` line naming what is wrong (no traceback)."""
    assert rc == ExitCode.USAGE, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("grader: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


# -- grader check --out ------------------------------------------------------------------------


def test_check_out_an_existing_file(sub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.txt"
    target.write_text("not a folder")
    rc, err = run(["check", str(sub), "--out", str(target)], capsys)
    assert_usage(rc, err, f"--out {target} is a file, not a folder", "pass a folder")
    assert target.read_text() == "not a folder"


def test_check_out_under_a_file(sub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "reports"
    rc, err = run(["check", str(sub), "--out", str(out)], capsys)
    assert_usage(rc, err, f"cannot create --out {out}", f"{tmp_path / 'file'} is a file, not a folder")


def test_check_out_a_symlink_to_nothing(
    sub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dangling"
    out.symlink_to(tmp_path / "nowhere")
    rc, err = run(["check", str(sub), "--out", str(out)], capsys)
    assert_usage(rc, err, f"--out {out} is a symlink to nothing")


@pytest.mark.parametrize(
    ("error", "reason"),
    [(errno.EACCES, "Permission denied"), (errno.EROFS, "Read-only file system")],
    ids=["permission", "read-only"],
)
def test_check_out_where_nothing_can_be_written(
    sub: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: int,
    reason: str,
) -> None:
    """What root is not stopped by (mode bits) is simulated; the real thing is tested further down."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr("grader.paths.tempfile.mkstemp", refuse)
    out = tmp_path / "out"
    rc, err = run(["check", str(sub), "--out", str(out)], capsys)
    assert_usage(rc, err, f"cannot write into --out {out}: {reason}", "pass a folder you can write to")


def test_check_out_that_cannot_be_created(
    sub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    out = tmp_path / "new" / "out"
    rc, err = run(["check", str(sub), "--out", str(out)], capsys)
    assert_usage(rc, err, f"cannot create --out {out}: Permission denied")


def test_check_out_is_the_submission(sub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(["check", str(sub), "--out", str(sub)], capsys)
    assert_usage(rc, err, f"--out {sub} is the submission folder itself", "default: reports/sub")


@pytest.mark.parametrize("inside", ["topic-create/rep", "produce-sequence/rep"])
def test_check_out_inside_an_assignment_folder(
    sub: Path, capsys: pytest.CaptureFixture[str], inside: str
) -> None:
    """Existing or not: a report there would be graded as part of the assignment next time."""
    out = sub / inside
    rc, err = run(["check", str(sub), "--out", str(out)], capsys)
    top = inside.split("/")[0]
    assert_usage(rc, err, f"--out {out} is inside the submission's {top}/ folder", "graded as part of it")
    assert not out.exists()


def test_check_out_that_holds_the_submission_where_it_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = tmp_path / "out" / "logs" / "sub"
    (sub / "topic-create").mkdir(parents=True)
    rc, err = run(["check", str(sub), "--out", str(tmp_path / "out")], capsys)
    assert_usage(rc, err, f"holds the submission {sub}", "logs")


def test_check_out_with_a_folder_where_a_report_file_goes(
    sub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out" / "report.html").mkdir(parents=True)
    rc, err = run(["check", str(sub), "--out", str(tmp_path / "out")], capsys)
    assert_usage(rc, err, f"{tmp_path / 'out' / 'report.html'} is a folder where the grader writes a file")


@pytest.mark.parametrize("out", ["reports/x", "notes/x", "elsewhere"])
def test_check_out_outside_the_assignment_folders_reaches_grading(
    sub: Path, tmp_path: Path, reached: dict[str, Any], out: str
) -> None:
    """SUB/reports/..., SUB/<not an assignment>/... and a new folder anywhere: created, then graded."""
    target = tmp_path / out if out == "elsewhere" else sub / out
    with pytest.raises(Reached):
        main(["check", str(sub), "--out", str(target), "--sandbox", "local"])
    assert target.is_dir()
    assert list(target.iterdir()) == []  # the write test left nothing behind
    assert reached["check"][1]["out"] == target


def test_check_dot_defaults_to_its_own_reports_folder(
    sub: Path, reached: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sub)
    with pytest.raises(Reached):
        main(["check", ".", "--sandbox", "local"])
    assert reached["check"][1]["out"] == Path("reports") / "sub"
    assert (sub / "reports" / "sub").is_dir()


def test_check_default_out_inside_an_assignment_folder(
    sub: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sub / "topic-create")
    rc, err = run(["check", ".."], capsys)
    assert_usage(
        rc, err, "the default --out reports/sub is inside the submission's topic-create/", "pass --out"
    )


def test_check_an_unknown_assignment_creates_nothing(
    sub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, err = run(["check", str(sub), "-a", "nope", "--out", str(tmp_path / "out")], capsys)
    assert_usage(rc, err, "unknown assignment(s) nope")
    assert not (tmp_path / "out").exists()


# -- grader check SUBMISSION -------------------------------------------------------------------


def test_check_a_submission_that_is_a_file_or_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sub.zip").write_bytes(b"PK")
    rc, err = run(["check", str(tmp_path / "sub.zip")], capsys)
    assert_usage(rc, err, f"{tmp_path / 'sub.zip'} is not a folder (it is a file)", "topic-create/")
    rc, err = run(["check", str(tmp_path / "missing")], capsys)
    assert_usage(rc, err, f"{tmp_path / 'missing'} is not a folder (it does not exist)")


def test_check_a_submission_that_cannot_be_listed(
    sub: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated (root reads everything); the real thing is tested further down."""
    real = os.scandir
    locked = sub / "topic-create"

    def scandir(path: Any = ".") -> Any:
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path)

    monkeypatch.setattr("grader.paths.os.scandir", scandir)
    rc, err = run(["check", str(sub)], capsys)
    assert_usage(rc, err, f"cannot read {locked}: Permission denied", "make it readable")


# -- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "SUB", "--seed", "-1"], "argument --seed: -1 is too small; pass a seed >= 0"),
        (["check", "SUB", "--seed", "x"], "argument --seed: 'x' is not a whole number"),
        (["validate", "--seed", "-3"], "argument --seed: -3 is too small"),
        (["cluster", "up", "--brokers", "0"], "argument --brokers: 0 is too small; pass 1 or more"),
        (["cluster", "up", "--port", "0"], "argument --port: 0 is too small; pass a port from 1 to 65535"),
        (["cluster", "up", "--port", "70000"], "argument --port: 70000 is too large"),
        (["batch", "SUB", "--out", "o", "--jobs", "0"], "argument --jobs: 0 is too small; pass 1 or more"),
        (["batch", "SUB", "--out", "o", "--timeout", "-1"], "argument --timeout: -1 is not a time limit"),
        (["batch", "SUB", "--out", "o", "--timeout", "0"], "argument --timeout: 0 is not a time limit"),
        (["batch", "SUB", "--out", "o", "--timeout", "inf"], "argument --timeout: inf is not a time limit"),
        (["batch", "SUB", "--out", "o", "--course-seed", "-2"], "argument --course-seed: -2 is too small"),
    ],
)
def test_numbers_out_of_range_are_argparse_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("usage: grader")
    assert message in err.strip().splitlines()[-1], err


def test_cluster_up_with_ports_past_65535(capsys: pytest.CaptureFixture[str]) -> None:
    """Refused before the runtime (Java, the Kafka jars) is even looked for."""
    rc, err = run(["cluster", "up", "--port", "65500"], capsys)
    assert_usage(
        rc, err, "--port 65500 with 3 broker(s) needs ports up to 65602", "pass --port 65433 or lower"
    )


# -- grader validate ---------------------------------------------------------------------------


def test_validate_out_and_references(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    rc, err = run(["validate", "--out", str(tmp_path / "file")], capsys)
    assert_usage(rc, err, f"--out {tmp_path / 'file'} is a file, not a folder")
    rc, err = run(["validate", "--references", str(tmp_path / "file")], capsys)
    assert_usage(
        rc, err, f"--references {tmp_path / 'file'} is not a folder (it is a file)", "<assignment id>/"
    )


# -- grader batch ------------------------------------------------------------------------------


def test_batch_roster_that_is_a_folder_missing_or_not_utf8(
    sub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "grades")
    rc, err = run(["batch", str(sub), "--out", out, "--roster", str(tmp_path)], capsys)
    assert_usage(rc, err, f"--roster {tmp_path} is a folder, not a CSV file", "id, name, email, login")
    rc, err = run(["batch", str(sub), "--out", out, "--roster", str(tmp_path / "none.csv")], capsys)
    assert_usage(rc, err, f"--roster {tmp_path / 'none.csv'} does not exist")
    latin = tmp_path / "roster.csv"
    latin.write_bytes("id,name\n1,Zoë\n".encode("latin-1"))
    rc, err = run(["batch", str(sub), "--out", out, "--roster", str(latin)], capsys)
    assert_usage(rc, err, f"--roster {latin} is not a CSV file in UTF-8 (byte 0xeb at offset 12)")
    sheet = tmp_path / "roster.xls"
    sheet.write_bytes(b"id\x00name\n")
    rc, err = run(["batch", str(sub), "--out", out, "--roster", str(sheet)], capsys)
    assert_usage(rc, err, f"--roster {sheet} is not a CSV file: it contains NUL bytes")
    assert not (tmp_path / "grades").exists()


def test_batch_out_that_is_a_file_or_overlaps_the_submissions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    rc, err = run(["batch", str(subs), "--out", str(tmp_path / "file")], capsys)
    assert_usage(rc, err, f"--out {tmp_path / 'file'} is a file, not a folder")
    rc, err = run(["batch", str(subs), "--out", str(subs)], capsys)
    assert_usage(rc, err, f"--out {subs} is the submissions folder", "outside it")
    rc, err = run(["batch", str(subs), "--out", str(subs / "grades")], capsys)
    assert_usage(rc, err, f"--out {subs / 'grades'} is inside the submissions folder", "one more student")
    assert not (subs / "grades").exists()
    inner = tmp_path / "grades" / ".work" / "subs"
    inner.mkdir(parents=True)
    rc, err = run(["batch", str(inner), "--out", str(tmp_path / "grades")], capsys)
    assert_usage(rc, err, f"the submissions {inner} are inside --out {tmp_path / 'grades'}")


def test_batch_submissions_missing_or_not_an_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "grades")
    rc, err = run(["batch", str(tmp_path / "nope"), "--out", out], capsys)
    assert_usage(rc, err, f"{tmp_path / 'nope'} does not exist")
    (tmp_path / "notes.txt").write_text("hi")
    rc, err = run(["batch", str(tmp_path / "notes.txt"), "--out", out], capsys)
    assert_usage(rc, err, "is neither a folder nor a zip/tar archive")
    assert not (tmp_path / "grades").exists()


def test_batch_out_with_an_earlier_run_and_a_zip_in_it_reaches_the_batch(
    tmp_path: Path, reached: dict[str, Any]
) -> None:
    out = tmp_path / "grades"
    (out / "alice").mkdir(parents=True)
    (out / "gradebook.csv").write_text("student_id\nalice\n")
    download = out / "moodle.zip"
    shutil.make_archive(str(download.with_suffix("")), "zip", tmp_path, "grades/alice")
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeffid,name\nalice,Alice\n", encoding="utf-8")
    with pytest.raises(Reached):
        main(["batch", str(download), "--out", str(out), "--roster", str(roster), "--jobs", "1"])
    (opts,), _ = reached["batch"]
    assert (opts.source, opts.out, opts.roster, opts.jobs) == (download, out, roster, 1)


# -- grader package gradescope -----------------------------------------------------------------


def test_package_out_that_is_a_folder_under_a_file_or_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reached: dict[str, Any]
) -> None:
    rc, err = run(["package", "gradescope", "--out", str(tmp_path)], capsys)
    assert_usage(rc, err, f"--out {tmp_path} is a folder, not a zip file", f"{tmp_path / 'autograder.zip'}")
    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "autograder.zip"
    rc, err = run(["package", "gradescope", "--out", str(target)], capsys)
    assert_usage(rc, err, f"cannot create --out {target}", f"{tmp_path / 'file'} is a file, not a folder")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    rc, err = run(["package", "gradescope", "--out", str(fifo)], capsys)
    assert_usage(rc, err, f"--out {fifo} is not a regular file")
    assert "package" not in reached
    with pytest.raises(Reached):
        main(["package", "gradescope", "--out", str(tmp_path / "new" / "autograder.zip")])
    assert (tmp_path / "new").is_dir()


# -- unreadable and unwritable for real --------------------------------------------------------


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder everyone can reach (tmp_path's parents may be 0700), removed afterwards."""
    # Not under tempfile.gettempdir(): the test session points it at a 0700 folder of its own.
    base = Path(tempfile.mkdtemp(prefix="grader-usage-", dir="/tmp" if os.path.isdir("/tmp") else None))
    base.chmod(0o755)
    try:
        yield base
    finally:
        for folder, dirs, files in os.walk(base):
            for name in dirs + files:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(folder, name), 0o700, follow_symlinks=False)
        shutil.rmtree(base, ignore_errors=True)


def _as_nobody_in_process(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Fork, drop to ``nobody`` and run the CLI in the child: for an interpreter nobody cannot exec
    (e.g. under /root). Modules the commands import are imported first, while still root."""
    import grader.api
    import grader.batch.intake
    import grader.batch.progress
    import grader.batch.run
    import grader.package.gradescope
    import grader.paths
    import grader.report
    import grader.sandbox  # noqa: F401

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.close(read_end)
            stream = os.fdopen(write_end, "w")
            sys.stderr = sys.stdout = stream
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.chdir(cwd)
            code = main(argv)
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        err = f.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


@pytest.fixture
def unprivileged(shared: Path) -> Runner:
    """Run the CLI where mode bits apply: as ``nobody`` when root, else as ourselves."""
    probe = shared / "probe"
    probe.mkdir(mode=0o000)
    try:
        if os.geteuid() != 0:
            try:
                os.listdir(probe)
            except PermissionError:
                pass
            else:
                pytest.skip(
                    "mode bits do not stop this user (a capability?): cannot make a folder unreadable"
                )

            def as_self(argv: list[str]) -> tuple[int, str]:
                proc = subprocess.run(
                    [sys.executable, "-m", "grader", *argv],
                    capture_output=True,
                    text=True,
                    cwd=shared,
                    timeout=120,
                    check=False,
                )
                return proc.returncode, proc.stderr

            return as_self
        if not hasattr(os, "fork"):
            pytest.skip("running as root without fork: cannot run the CLI as an unprivileged user")
        try:
            subprocess.run(
                [sys.executable, "-c", "import grader.cli"],
                user=NOBODY,
                group=NOBODY,
                extra_groups=[],
                cwd=shared,
                capture_output=True,
                check=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return lambda argv: _as_nobody_in_process(argv, shared)

        def as_nobody(argv: list[str]) -> tuple[int, str]:
            proc = subprocess.run(
                [sys.executable, "-m", "grader", *argv],
                user=NOBODY,
                group=NOBODY,
                extra_groups=[],
                capture_output=True,
                text=True,
                cwd=shared,
                timeout=120,
                check=False,
            )
            return proc.returncode, proc.stderr

        return as_nobody
    finally:
        probe.chmod(0o700)
        probe.rmdir()


def _submission(shared: Path) -> Path:
    sub = shared / "sub"
    (sub / "topic-create").mkdir(parents=True)
    (sub / "topic-create" / "create_topic.sh").write_text("#!/usr/bin/env bash\n")
    for p in (sub, sub / "topic-create"):
        p.chmod(0o755)
    (sub / "topic-create" / "create_topic.sh").chmod(0o755)
    return sub


def _lock(path: Path, mode: int = 0) -> None:
    """Unreadable (mode 0) or read-only (0o555) for the unprivileged run; ``shared`` restores it."""
    path.chmod(mode)


def test_unreadable_submission_for_real(shared: Path, unprivileged: Runner) -> None:
    sub = _submission(shared)
    out = shared / "out"
    argv = ["check", str(sub), "--sandbox", "local", "--out", str(out)]
    _lock(sub)
    rc, err = unprivileged(argv)
    assert_usage(
        rc, err, f"cannot read {sub}: Permission denied", "make it readable by the user running the grader"
    )
    sub.chmod(0o755)
    _lock(sub / "topic-create" / "create_topic.sh")
    rc, err = unprivileged(argv)
    assert_usage(rc, err, f"cannot read {sub / 'topic-create' / 'create_topic.sh'}: Permission denied")
    assert not out.exists()


def test_unwritable_out_for_real(shared: Path, unprivileged: Runner) -> None:
    sub = _submission(shared)
    locked = shared / "locked"
    locked.mkdir()
    _lock(locked, 0o555)
    rc, err = unprivileged(["check", str(sub), "--sandbox", "local", "--out", str(locked)])
    assert_usage(rc, err, f"cannot write into --out {locked}: Permission denied")
    rc, err = unprivileged(["check", str(sub), "--sandbox", "local", "--out", str(locked / "new")])
    assert_usage(rc, err, f"cannot create --out {locked / 'new'}: Permission denied")
    rc, err = unprivileged(["batch", str(sub), "--out", str(locked / "grades")])
    assert_usage(rc, err, f"cannot create --out {locked / 'grades'}: Permission denied")
    rc, err = unprivileged(["package", "gradescope", "--out", str(locked / "autograder.zip")])
    assert_usage(rc, err, f"cannot write into --out {locked / 'autograder.zip'}'s folder {locked}")


def test_unreadable_batch_inputs_for_real(shared: Path, unprivileged: Runner) -> None:
    subs = shared / "subs"
    (subs / "alice").mkdir(parents=True)
    roster = shared / "roster.csv"
    roster.write_text("id\nalice\n")
    _lock(roster)
    rc, err = unprivileged(["batch", str(subs), "--out", str(shared / "grades"), "--roster", str(roster)])
    assert_usage(rc, err, f"cannot read --roster {roster}: Permission denied")
    _lock(subs)
    rc, err = unprivileged(["batch", str(subs), "--out", str(shared / "grades")])
    assert_usage(rc, err, f"cannot read {subs}: Permission denied")
    assert not (shared / "grades").exists()
