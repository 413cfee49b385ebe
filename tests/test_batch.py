"""``grader batch`` end to end on real Kafka: a mixed class, killed with SIGKILL mid-way, then resumed.

One test on purpose (each real submission costs a cluster start and JVM tools): it grades
correct, wrong, crashing, hanging, empty and malicious submissions with ``-a topic-create``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import junitparser
import pytest
from conftest import wait_until

from grader.batch.jobs import derive_seed
from grader.batch.records import RECORD_FILE
from grader.registry import select

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = Path(__file__).parent / "submissions" / "topic-create"
ASSIGNMENT = "topic-create"


def _copy(source: Path, dest: Path) -> None:
    shutil.copytree(source, dest / ASSIGNMENT, symlinks=True)


def _class(root: Path) -> Path:
    subs = root / "subs"
    (topic,) = select([ASSIGNMENT])
    _copy(topic.reference, subs / "alice")
    _copy(SUBMISSIONS / "five_partitions", subs / "bob")
    _copy(SUBMISSIONS / "syntax_error", subs / "carl")
    hang = subs / "dana" / ASSIGNMENT / "create_topic.sh"
    hang.parent.mkdir(parents=True)
    hang.write_text("#!/bin/bash\nexec sleep 100000\n")
    hang.chmod(0o755)
    (subs / "erin").mkdir()
    with zipfile.ZipFile(subs / "mallory.zip", "w") as z:
        z.writestr(f"{ASSIGNMENT}/create_topic.sh", "#!/bin/bash\ncat /etc/passwd\n")
        z.writestr("../../../../tmp/grader-batch-owned", "x")
    return subs


def _jvms_of(out: Path) -> list[int]:
    """Live processes whose command line names a file under ``out`` (brokers, tools, workers)."""
    found = []
    needle = str(out).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (entry / "cmdline").read_bytes():
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append(int(entry.name))
    return found


def _batch(subs: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out), "-a", ASSIGNMENT,
           "--sandbox", "local", "--jobs", "2", *extra]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


@pytest.mark.kafka
def test_mixed_class_killed_mid_batch_then_resumed(tmp_path: Path) -> None:
    subs = _class(tmp_path)
    out = tmp_path / "grades"
    first = _batch(subs, out, "--course-seed", "4242")
    try:
        wait_until(lambda: list(out.glob(f"*/{RECORD_FILE}")) and _jvms_of(out / ".work" / "jobs"),
                   "a first result while another submission is being graded", timeout=300)  # fmt: skip
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    done_before = {p.parent.name: p.read_bytes() for p in out.glob(f"*/{RECORD_FILE}")}
    # Brokers, student processes and workers die with the batch (parent-death signals down the chain).
    wait_until(lambda: not _jvms_of(out), "every process of the killed batch to die", timeout=60)

    second = _batch(subs, out, "--resume")
    try:
        output, _ = second.communicate(timeout=900)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(second.pid, signal.SIGKILL)
    text = output.decode()
    assert second.returncode == 1, text  # some failed, no grader errors
    assert f"Class page: {out / 'index.html'}" in text

    for key, before in done_before.items():  # kept, not graded twice
        assert (out / key / RECORD_FILE).read_bytes() == before, key
    rows = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert {k: r["status"] for k, r in rows.items()} == {
        "alice": "passed", "bob": "failed", "carl": "failed", "dana": "failed", "erin": "empty",
        "mallory": "refused",
    }, text  # fmt: skip
    assert rows["alice"]["total"] == "10"
    assert rows["erin"]["total"] == rows["mallory"]["total"] == "0"
    assert "climbs out" in rows["mallory"]["note"]
    assert not Path("/tmp/grader-batch-owned").exists()

    summary = json.loads((out / "summary.json").read_text())
    assert summary["course_seed"] == 4242
    assert summary["grader_problems"] == []
    junit = junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    suites = {s.name: s for s in junit}
    for key in ("alice", "bob", "carl", "dana"):
        result = json.loads((out / key / "results.json").read_text())
        assert result["seed"] == derive_seed(4242, key)  # a regrade reproduces the parameters
        (assignment,) = result["assignments"]
        failed = sum(c["status"] == "failed" for c in assignment["checks"])
        (own,) = junitparser.JUnitXml.fromfile(str(out / key / "junit.xml"))
        combined = suites[f"{key}/{ASSIGNMENT}"]
        assert (combined.tests, combined.failures, combined.errors) == (own.tests, own.failures, own.errors)
        assert combined.failures >= failed > 0 or key == "alice", key
        assert float(rows[key][ASSIGNMENT]) == assignment["points"]
        check = next(c for c in summary["checks"] if c["check"] == assignment["checks"][0]["id"])
        assert check["graded"] == 4
    dana = json.loads((out / "dana" / "results.json").read_text())["assignments"][0]
    assert any(r["timed_out"] for r in dana["runs"])  # a hanging script is the student's time-out
    assert not _jvms_of(out)
    assert not (out / ".work").exists()
