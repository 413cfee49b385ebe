"""LMS exports by round trip: an LMS-layout download graded (fake runner), exported, and read back the way
the LMS's importer reads it (Moodle's worksheet and feedback zip, Canvas's gradebook CSV)."""

from __future__ import annotations

import csv
import io
import os
import re
import struct
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from policy_fake import HERE, RUNNER

from grader.batch import BatchOptions, LocalExecutor, run_batch
from grader.batch.exports import CANVAS_COLUMNS, MOODLE_COLUMNS, POINTS_POSSIBLE
from grader.batch.progress import PlainProgress
from grader.errors import UsageError

TOPIC = "topic-create"
POLICY = """\
[course]
name = "Big Data"
timezone = "Europe/Moscow"

[assignments.topic-create]
due = 2026-12-01T23:59:00
late = { per = "day", percent = 20 }
"""


@pytest.fixture(autouse=True)
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def inner_zip(*failed: str, top: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{top}{TOPIC}/create_topic.sh", 'kafka-topics --create --topic "$TOPIC"\n')
        z.writestr(f"{top}{TOPIC}/failed", "\n".join(failed))
    return buf.getvalue()


def entry(name: str, when: tuple[int, ...], utc: datetime | None = None) -> zipfile.ZipInfo:
    """A zip entry with a DOS time (the LMS server's local time), or a UTC extended timestamp too."""
    info = zipfile.ZipInfo(name, date_time=when)  # type: ignore[arg-type]
    if utc is not None:
        info.extra = struct.pack("<HHBi", 0x5455, 5, 1, int(utc.timestamp()))
    return info


def grade(download: Path, out: Path, *exports: str) -> None:
    policy = out.parent / "course.toml"
    policy.write_text(POLICY)
    run_batch(
        BatchOptions(download, out, [TOPIC], sandbox="local", policy=policy, exports=list(exports)),
        executor=LocalExecutor(1, out / ".work" / "jobs", runner=RUNNER),
        progress=PlainProgress(io.StringIO()),
    )


def moodle_download(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        # In folders, on time (DOS time = the server's local time, Moscow).
        z.writestr(
            entry("Alice Smith_123456_assignsubmission_file_/lab.zip", (2026, 12, 1, 20, 0, 0)), inner_zip()
        )
        # Flat, a day and a bit late, one check failed.
        z.writestr(
            entry("Bob Jones_654321_assignsubmission_file_lab.zip", (2026, 12, 3, 9, 0, 0)),
            inner_zip("six_partitions", top="lab/"),
        )
        # An underscore in the name; the extended timestamp (UTC) wins over the DOS time.
        z.writestr(
            entry("Carol_King_777777_assignsubmission_file_/lab.zip", (2030, 1, 1, 0, 0, 0),
                  utc=datetime(2026, 12, 1, 18, 0, tzinfo=UTC)),
            inner_zip(),
        )  # fmt: skip
    return path


def moodle_participant(folder: str) -> int | None:
    """Moodle's feedback-zip importer on one path part: explode('_', 5), numeric id, plugin type and name."""
    info = folder.split("_", 4)
    if len(info) < 4 or not info[1].isdigit() or (info[2], info[3]) != ("assignfeedback", "file"):
        return None
    return int(info[1])


def test_moodle_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "grades"
    grade(moodle_download(tmp_path / "moodle.zip"), out, "moodle")
    gradebook = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert {k: v[TOPIC] for k, v in gradebook.items()} == {"123456": "10", "654321": "4.8", "777777": "10"}
    assert gradebook["654321"]["submitted_at"] == "2026-12-03T09:00:00+03:00"  # the DOS time read in Moscow
    assert gradebook["777777"]["submitted_at"] == "2026-12-01T18:00:00+00:00"

    sheet = list(csv.reader((out / "moodle-grading-worksheet.csv").open()))
    assert sheet[0] == MOODLE_COLUMNS
    rows = [dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]]
    ids = [r["Identifier"] for r in rows]
    assert sorted(ids) == ["Participant 123456", "Participant 654321", "Participant 777777"]  # one row each
    by_id = {r["Identifier"].removeprefix("Participant "): r for r in rows}
    assert {k: r["Grade"] for k, r in by_id.items()} == {"123456": "10", "654321": "4.8", "777777": "10"}
    assert {r["Maximum Grade"] for r in rows} == {"10"}
    assert by_id["654321"]["Full name"] == "Bob Jones"
    assert "autograde 8/10" in by_id["654321"]["Feedback comments"]
    assert "60 % counts" in by_id["654321"]["Feedback comments"]
    datetime.fromisoformat(by_id["123456"]["Last modified (grade)"])  # strtotime-readable ISO 8601

    with zipfile.ZipFile(out / "moodle-feedback.zip") as z:
        names = z.namelist()
        found = {moodle_participant(n.split("/")[0]): n for n in names}
        assert sorted(found) == [123456, 654321, 777777]  # every participant, matched the way Moodle does
        assert len(names) == 3
        assert names[0].endswith("/feedback.html")
        bob = z.read(found[654321]).decode()
    assert bob.startswith("<!DOCTYPE html>")
    assert "4.8 / 10" in bob  # the student's own report, with what counts
    assert "Submission time:" in bob


def test_canvas_round_trip_with_points_possible(tmp_path: Path) -> None:
    download = tmp_path / "submissions.zip"
    with zipfile.ZipFile(download, "w") as z:
        z.writestr(
            entry("smithalice_4321_98765_lab.zip", (2026, 12, 1, 12, 0, 0)), inner_zip("replicas_spread")
        )
        z.writestr(entry("jonesbob_LATE_5555_98766_lab.zip", (2026, 12, 2, 1, 0, 0)), inner_zip())
    out = tmp_path / "grades"
    grade(download, out, "canvas")
    rows = list(csv.reader((out / "canvas-gradebook.csv").open()))
    assert rows[0] == [*CANVAS_COLUMNS, "Big Data (grader)"]
    assert rows[1][0] == POINTS_POSSIBLE
    assert re.fullmatch(r"\s*Points Possible", rows[1][0])
    assert rows[1][5] == "10"
    students = {r[1]: r for r in rows[2:]}
    assert sorted(students) == ["4321", "5555"]  # Canvas user ids, one row each
    assert (students["4321"][3], students["4321"][5]) == ("smithalice", "9")
    assert students["5555"][5] == "8"  # an hour late: one started day, -20 %
    notes = {r["student_id"]: r["note"] for r in csv.DictReader((out / "gradebook.csv").open())}
    assert "Canvas marked it late" in notes["5555"]


def test_an_export_the_download_cannot_feed_is_refused_before_grading(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--export canvas needs a Canvas download"):
        grade(moodle_download(tmp_path / "moodle.zip"), tmp_path / "grades", "canvas")
    assert not (tmp_path / "grades" / "gradebook.csv").exists()


def test_cli_batch_with_policy_overrides_and_moodle_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from grader.cli import main

    download = tmp_path / "moodle.zip"
    with zipfile.ZipFile(download, "w") as z:  # one participant with nothing gradable: no sandbox
        z.writestr("Dana Lee_424242_assignsubmission_file_/", "")
        z.writestr("Dana Lee_424242_assignsubmission_file_/.keep", "")
    (tmp_path / "course.toml").write_text(POLICY)
    (tmp_path / "overrides.csv").write_text(
        "student,assignment,adjustment,comment\n424242,topic-create,1,x\n"
    )
    out = tmp_path / "grades"
    code = main(
        ["batch", str(download), "--out", str(out), "-a", TOPIC, "--sandbox", "local",
         "--policy", str(tmp_path / "course.toml"), "--overrides", str(tmp_path / "overrides.csv"),
         "--export", "moodle", "--export", "moodle"]
    )  # fmt: skip
    assert code == 1  # nothing passed
    printed = capsys.readouterr().out
    assert f"Moodle grading worksheet: {out / 'moodle-grading-worksheet.csv'}" in printed
    (row,) = list(csv.DictReader((out / "moodle-grading-worksheet.csv").open()))
    assert (row["Identifier"], row["Full name"], row["Grade"]) == ("Participant 424242", "Dana Lee", "0")
    note = {r["student_id"]: r["note"] for r in csv.DictReader((out / "gradebook.csv").open())}["424242"]
    assert "an override waits" in note  # nothing was graded to apply it to; it is not lost either
