"""Batch mechanics with a fake job runner (no sandbox): the pool, the class outputs, resume, kill -9."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
from collections import Counter
from pathlib import Path

import junitparser
import pytest
from batch_fake import HERE, RUNNER
from conftest import wait_until

from grader.batch import BatchOptions, Finished, GradeJob, JobStatus, LocalExecutor, Started, run_batch
from grader.batch.jobs import derive_seed
from grader.batch.progress import PlainProgress
from grader.batch.records import RECORD_FILE
from grader.cli import main

ASSIGNMENT = "topic-create"


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Workers import the fake runner from tests/; every start/end goes to the returned log."""
    log = tmp_path / "fake.log"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_SLEEP", "0")
    return log


def student(root: Path, name: str, behaviour: str) -> Path:
    """A submission whose fake grade is ``behaviour`` (points, crash, hang, raise)."""
    folder = root / name / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fake").write_text(behaviour)
    return root / name


def log_lines(log: Path, kind: str) -> list[str]:
    """Keys of the ``start`` or ``end`` lines in the fake log."""
    if not log.exists():
        return []
    return [line.split()[1] for line in log.read_text().splitlines() if line.startswith(kind + " ")]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def job(key: str, submission: Path, timeout: float = 60.0) -> GradeJob:
    return GradeJob(
        key=key, submission_path=str(submission), assignments=[ASSIGNMENT], versions={}, seed=1,
        timeout_s=timeout,
    )  # fmt: skip


def test_pool_survives_crash_hang_and_exception(fake_env: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    jobs = [
        job("ok", student(subs, "ok", "10")),
        job("crash", student(subs, "crash", "crash")),
        job("hang", student(subs, "hang", "hang"), timeout=3.0),
        job("raise", student(subs, "raise", "raise")),
    ]
    work = tmp_path / "work"
    events = list(LocalExecutor(2, work, runner=RUNNER).run(jobs))
    started = [e.job.key for e in events if isinstance(e, Started)]
    finished = {e.job.key: e.result for e in events if isinstance(e, Finished)}
    assert sorted(started) == sorted(finished) == ["crash", "hang", "ok", "raise"]
    assert finished["ok"].status is JobStatus.GRADED
    assert finished["ok"].result is not None
    assert finished["ok"].result.points == 10
    assert finished["crash"].status is JobStatus.CRASHED
    assert "exit status 7" in finished["crash"].message
    assert finished["hang"].status is JobStatus.TIMEOUT
    assert "longer than 3 s" in finished["hang"].message
    assert finished["raise"].status is JobStatus.CRASHED
    assert "RuntimeError: the fake grader broke" in finished["raise"].message
    assert list(work.iterdir()) == []  # every worker's folder and temp dir is gone
    pids = [int(line.split()[2]) for line in fake_env.read_text().splitlines() if line.startswith("start")]
    assert len(pids) == 4
    assert not any(alive(p) for p in pids)


def _class(root: Path) -> Path:
    subs = root / "subs"
    for name, behaviour in [("s1", "10"), ("s2", "7"), ("s3", "0"), ("s4", "crash")]:
        student(subs, name, behaviour)
    (subs / "s5").mkdir()  # empty
    with zipfile.ZipFile(subs / "s6.zip", "w") as z:  # malicious
        z.writestr(f"{ASSIGNMENT}/fake", "10")
        z.writestr("../../../tmp/owned", "x")
    (subs / "s7").mkdir()
    (subs / "s7" / "homework.docx").write_text("?")  # unrecognisable
    return subs


def test_gradebook_summary_junit_and_index_agree(fake_env: Path, tmp_path: Path) -> None:
    subs = _class(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\n" + "".join(f"s{i},Student {i},s{i}@uni.edu\n" for i in range(1, 9)))
    out = tmp_path / "grades"
    opts = BatchOptions(subs, out, [ASSIGNMENT], roster=roster, jobs=2, sandbox="local", course_seed=7)
    outcome = run_batch(opts, executor=LocalExecutor(2, out / ".work" / "jobs", runner=RUNNER),
                        progress=PlainProgress(io.StringIO()))  # fmt: skip
    statuses = {r.student_id: r.status.value for r in outcome.records}
    assert statuses == {
        "s1": "passed", "s2": "failed", "s3": "failed", "s4": "crashed", "s5": "empty", "s6": "refused",
        "s7": "unrecognised", "s8": "missing",
    }  # fmt: skip

    rows = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert list(rows) == [f"s{i}" for i in range(1, 9)]
    assert (rows["s1"][ASSIGNMENT], rows["s1"]["total"], rows["s1"]["percent"]) == ("10", "10", "100")
    assert (rows["s2"]["total"], rows["s2"]["percent"], rows["s2"]["name"]) == ("7", "70", "Student 2")
    assert (rows["s4"][ASSIGNMENT], rows["s4"]["total"]) == ("", "")  # a grader crash is not a zero
    assert (rows["s5"]["total"], rows["s6"]["total"], rows["s8"]["total"]) == ("0", "0", "")
    assert "climbs out" in rows["s6"]["note"]
    assert rows["s1"]["report"] == "s1/report.html"
    assert (out / "s1" / "report.html").is_file()

    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {
        "passed": 1, "failed": 2, "error": 0, "timeout": 0, "crashed": 1, "empty": 1, "unrecognised": 1,
        "refused": 1, "missing": 1,
    }  # fmt: skip
    assert [p["student_id"] for p in summary["grader_problems"]] == ["s4"]
    assert summary["course_seed"] == 7
    assert sum(b["count"] for b in summary["histogram"]) == 6  # everyone with a percentage
    (check,) = summary["checks"]
    assert (check["passed"], check["failed"], check["graded"]) == (1, 2, 3)

    xml = junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    suites = {s.name: s for s in xml}
    assert set(suites) == {f"s{i}/{ASSIGNMENT}" for i in (1, 2, 3)} | {f"s{i}" for i in (4, 5, 6, 7)} | {"s8"}
    outcomes = {name: [type(r).__name__ for case in s for r in case.result] for name, s in suites.items()}
    assert outcomes[f"s1/{ASSIGNMENT}"] == []
    assert outcomes[f"s2/{ASSIGNMENT}"] == ["Failure"]
    assert outcomes["s4"] == ["Error"]
    assert outcomes["s5"] == outcomes["s6"] == outcomes["s7"] == ["Failure"]
    assert outcomes["s8"] == ["Skipped"]
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (8, 5, 1, 1)

    page = (out / "index.html").read_text()
    assert 'id="histogram"' in page
    assert 'id="check-table"' in page
    assert 'href="s1/report.html"' in page
    assert not (out / ".work").exists()
    assert not Path("/tmp/owned").exists()


def test_resume_keeps_what_is_done_and_regrades_what_changed(fake_env: Path, tmp_path: Path) -> None:
    subs = _class(tmp_path)
    out = tmp_path / "grades"

    def batch(**kw: bool) -> None:
        run_batch(
            BatchOptions(subs, out, [ASSIGNMENT], sandbox="local", **kw),
            executor=LocalExecutor(2, out / ".work" / "jobs", runner=RUNNER),
            progress=PlainProgress(io.StringIO()),
        )

    batch()
    first = Counter(log_lines(fake_env, "start"))
    assert first == Counter({"s1": 1, "s2": 1, "s3": 1, "s4": 1})
    seeds = json.loads((out / "s2" / RECORD_FILE).read_text())["seed"]
    course_seed = json.loads((out / "batch-state.json").read_text())["course_seed"]
    assert seeds == derive_seed(course_seed, "s2")

    fake_env.unlink()
    (subs / "s2" / ASSIGNMENT / "fake").write_text("9")  # the student handed in again
    batch(resume=True)
    assert log_lines(fake_env, "start") == ["s2"]  # the crash stays a crash until --rerun-errors
    assert json.loads((out / "s2" / RECORD_FILE).read_text())["seed"] == seeds  # same parameters

    fake_env.unlink()
    (subs / "s4" / ASSIGNMENT / "fake").write_text("5")  # the grader bug got fixed
    batch(rerun_errors=True)
    assert log_lines(fake_env, "start") == ["s4"]
    rows = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert (rows["s2"]["total"], rows["s4"]["total"], rows["s4"]["status"]) == ("9", "5", "failed")


KILL_SCRIPT = textwrap.dedent(
    """
    import signal
    import sys
    from pathlib import Path
    from batch_fake import RUNNER
    # As 'grader batch' does: Ctrl-C works even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from grader.batch import BatchOptions, LocalExecutor, run_batch
    subs, out = Path(sys.argv[1]), Path(sys.argv[2])
    run_batch(BatchOptions(subs, out, ["topic-create"], sandbox="local", resume=True),
              executor=LocalExecutor(2, out / ".work" / "jobs", runner=RUNNER))
    """
)


def test_kill_9_mid_batch_then_resume_grades_everyone_exactly_once(fake_env: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    keys = [f"s{i}" for i in range(1, 9)]
    for k in keys:
        student(subs, k, "10")
    out = tmp_path / "grades"
    env = {**os.environ, "FAKE_SLEEP": "1.5"}
    batch = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(subs), str(out)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: len(list(out.glob(f"*/{RECORD_FILE}"))) >= 3, "three students done", timeout=120)
    finally:
        os.killpg(batch.pid, signal.SIGKILL)
        batch.wait(timeout=30)
    done_before = {p.parent.name for p in out.glob(f"*/{RECORD_FILE}")}
    workers = [int(line.split()[2]) for line in fake_env.read_text().splitlines() if line.startswith("start")]
    # Workers die with the batch (parent-death signal), even though only the batch itself was killed.
    wait_until(lambda: not any(alive(p) for p in workers), "the workers to die with the batch", timeout=30)
    assert set(keys) - done_before, "the batch finished before it was killed; make the jobs slower"

    fake_env.unlink()
    outcome = run_batch(
        BatchOptions(subs, out, [ASSIGNMENT], sandbox="local", resume=True),
        executor=LocalExecutor(2, out / ".work" / "jobs", runner=RUNNER),
        progress=PlainProgress(io.StringIO()),
    )
    regraded = log_lines(fake_env, "start")
    assert sorted(regraded) == sorted(set(keys) - done_before)  # nothing done is graded twice
    assert Counter(regraded) == Counter(set(regraded))
    assert outcome.kept == len(done_before)
    assert sorted(r.student_id for r in outcome.records) == keys  # everyone exactly once
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [r["student_id"] for r in rows] == keys
    assert {r["status"] for r in rows} == {"passed"}, rows
    assert not (out / ".work").exists()


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium binary on PATH (apt-get install chromium)")
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.browser
def test_index_page_in_headless_chromium(fake_env: Path, tmp_path: Path) -> None:
    subs = _class(tmp_path)
    out = tmp_path / "grades"
    run_batch(
        BatchOptions(subs, out, [ASSIGNMENT], sandbox="local"),
        executor=LocalExecutor(2, out / ".work" / "jobs", runner=RUNNER),
        progress=PlainProgress(io.StringIO()),
    )
    page = (out / "index.html").resolve().as_uri()
    dom = _chromium(tmp_path, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    bins = re.findall(r'class="bin"[^>]*data-count="(\d+)"', html)
    assert len(bins) == 10
    assert sum(map(int, bins)) == 6  # s1..s7 minus the crashed one
    # 0 %: s3, the empty, refused and unrecognised ones; 70 %: s2; 100 %: s1.
    assert [bins[0], bins[7], bins[9]] == ["4", "1", "1"]
    assert 'id="check-table"' in html
    assert 'id="check-topic-create-whole"' in html
    assert "Grader crashed" in html
    assert 'href="s1/report.html"' in html
    shot = tmp_path / "index.png"
    taken = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank image


def test_ctrl_c_stops_the_workers_and_keeps_what_is_done(fake_env: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    keys = [f"s{i}" for i in range(1, 7)]
    for k in keys:
        student(subs, k, "10")
    out = tmp_path / "grades"
    batch = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(subs), str(out)], env={**os.environ, "FAKE_SLEEP": "2"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: len(list(out.glob(f"*/{RECORD_FILE}"))) >= 1, "a first result", timeout=120)
        batch.send_signal(signal.SIGINT)
        _, err = batch.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(batch.pid, signal.SIGKILL)
    assert "KeyboardInterrupt" in err.decode()
    workers = [int(line.split()[2]) for line in fake_env.read_text().splitlines() if line.startswith("start")]
    assert not any(alive(p) for p in workers)  # stopped by the batch itself, not by a parent-death signal
    done = {p.parent.name for p in out.glob(f"*/{RECORD_FILE}")}
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert {r["student_id"] for r in rows} == done  # the class files were written on the way out
    assert done < set(keys)
    assert not (out / ".work").exists()


def test_cli_batch_without_anything_to_grade_and_usage_errors(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    (subs / "erin").mkdir(parents=True)
    with zipfile.ZipFile(subs / "mallory.zip", "w") as z:
        z.writestr("/etc/cron.d/x", "* * * * * root true")
    out = tmp_path / "grades"
    assert main(["batch", str(subs), "--out", str(out), "-a", ASSIGNMENT, "--sandbox", "local"]) == 1
    rows = {r["student_id"]: r["status"] for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows == {"erin": "empty", "mallory": "refused"}
    assert (out / "index.html").is_file()
    assert main(["batch", str(tmp_path / "nope"), "--out", str(out), "--sandbox", "local"]) == 4
    bad_deadline = ["batch", str(subs), "--out", str(out), "--deadline", "friday", "--sandbox", "local"]
    assert main(bad_deadline) == 4
