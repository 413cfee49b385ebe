"""Submission times from the intake: only where the layout knows one; anything else stays unknown."""

from __future__ import annotations

import os
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from grader.batch.intake import collect

IDS = ["topic-create"]
SCRIPT = 'kafka-topics --create --topic "$TOPIC"\n'


def files(root: Path) -> Path:
    (root / "topic-create").mkdir(parents=True, exist_ok=True)
    (root / "topic-create" / "create_topic.sh").write_text(SCRIPT)
    return root


def test_gradescope_created_at(tmp_path: Path) -> None:
    download = tmp_path / "gs"
    files(download / "submission_1")
    files(download / "submission_2")
    (download / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Alice\n    :sid: '1'\n"
        "  :created_at: 2026-11-30 21:14:05.123456789 +0300\n"
        "submission_2:\n  :submitters:\n  - :name: Bob\n    :sid: '2'\n"
    )
    _, subs = collect(download, tmp_path / "work", IDS)
    found = {s.student_id: s for s in subs}
    assert found["1"].submitted_at == datetime(
        2026, 11, 30, 21, 14, 5, 123456, tzinfo=timezone(timedelta(hours=3))
    )
    assert found["1"].time_source == "Gradescope created_at"
    assert (found["2"].submitted_at, found["2"].time_source) == (None, "")


def test_classroom_head_commit_without_a_deadline(tmp_path: Path) -> None:
    repo = files(tmp_path / "clones" / "lab-alice")
    when = "2026-11-20T10:00:00+01:00"
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "a",
           "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}  # fmt: skip
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "done"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)
    _, (sub,) = collect(tmp_path / "clones", tmp_path / "work", IDS)
    assert sub.submitted_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert sub.time_source.startswith("commit ")
    assert sub.time_source.endswith("(committer date)")


def test_lms_file_times_only_from_the_zip_as_downloaded(tmp_path: Path) -> None:
    moscow = ZoneInfo("Europe/Moscow")
    download = tmp_path / "moodle.zip"
    with zipfile.ZipFile(download, "w") as z:
        z.writestr(zipfile.ZipInfo("Alice Smith_1_assignsubmission_file_/topic-create/create_topic.sh",
                                   date_time=(2026, 12, 1, 23, 0, 0)), SCRIPT)  # fmt: skip
        z.writestr(zipfile.ZipInfo("Alice Smith_1_assignsubmission_file_/topic-create/notes.txt",
                                   date_time=(2026, 12, 2, 0, 30, 0)), "late edit")  # fmt: skip
    _, (sub,) = collect(download, tmp_path / "work", IDS, tz=moscow)
    assert sub.submitted_at == datetime(
        2026, 12, 2, 0, 30, tzinfo=moscow
    )  # the latest of the student's files
    assert (sub.time_source, sub.lms_id) == ("Moodle file time", "1")
    # The same download extracted by someone first: the files' times are the extracting tool's, not Moodle's.
    folder = tmp_path / "extracted"
    with zipfile.ZipFile(download) as z:
        z.extractall(folder)
    _, (sub,) = collect(folder, tmp_path / "work2", IDS, tz=moscow)
    assert (sub.submitted_at, sub.time_source) == (None, "")
