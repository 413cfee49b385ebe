"""Intake of a class download (every layout), safe archive extraction and the roster join."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.batch.intake import IntakeStatus, Submission, collect, detect_layout
from grader.batch.roster import join, load_roster
from grader.batch.safety import ArchiveLimits, UnsafeArchive, safe_extract, safe_extract_tar, safe_extract_zip
from grader.errors import UsageError

IDS = ["topic-create", "produce-sequence"]
SCRIPT = '#!/bin/bash\nkafka-topics --create --topic "$TOPIC"\n'


def submission_files(root: Path, assignment: str = "topic-create") -> Path:
    """A minimal submission folder under ``root``."""
    script = root / assignment / "create_topic.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(SCRIPT)
    script.chmod(0o755)
    return root


def zip_of(path: Path, entries: dict[str, bytes], *, prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            info = zipfile.ZipInfo(prefix + name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            z.writestr(info, data)
    return path


def by_id(subs: list[Submission]) -> dict[str, Submission]:
    return {s.student_id: s for s in subs}


def test_folders_zips_nested_root_empty_and_unrecognised(tmp_path: Path) -> None:
    download = tmp_path / "download"
    submission_files(download / "alice")
    submission_files(download / "bob" / "my-repo")  # one level deeper: still found
    (download / "carol").mkdir(parents=True)
    (download / "dan").mkdir()
    (download / "dan" / "notes.txt").write_text("I did not finish")
    zip_of(download / "erin.zip", {"topic-create/create_topic.sh": SCRIPT.encode()}, prefix="erin/")
    layout, subs = collect(download, tmp_path / "out" / ".work", IDS)
    found = by_id(subs)
    assert layout == "folders"
    assert set(found) == {"alice", "bob", "carol", "dan", "erin"}
    assert found["alice"].root == download / "alice"
    assert found["bob"].root == download / "bob" / "my-repo"
    assert found["carol"].status is IntakeStatus.EMPTY
    assert found["dan"].status is IntakeStatus.UNRECOGNISED
    assert "notes.txt" in found["dan"].note
    assert "topic-create" in found["dan"].note
    erin = found["erin"]
    assert erin.status is IntakeStatus.OK
    assert erin.root is not None
    assert (tmp_path / "out" / ".work") in erin.root.parents  # extracted inside the output folder
    assert os.access(erin.root / "topic-create" / "create_topic.sh", os.X_OK)


def test_moodle_download_in_folders_and_flat(tmp_path: Path) -> None:
    download = tmp_path / "moodle"
    folder = download / "Alice Smith_123456_assignsubmission_file_"
    folder.mkdir(parents=True)
    zip_of(folder / "submission.zip", {"topic-create/create_topic.sh": SCRIPT.encode()})
    zip_of(
        download / "Bob Jones_654321_assignsubmission_file_lab.zip",
        {"lab/topic-create/create_topic.sh": SCRIPT.encode()},
    )
    assert detect_layout(download) == "moodle"
    layout, subs = collect(download, tmp_path / "work", IDS)
    found = by_id(subs)
    assert layout == "moodle"
    assert found["123456"].name == "Alice Smith"
    assert found["123456"].status is IntakeStatus.OK
    assert found["654321"].name == "Bob Jones"
    assert found["654321"].status is IntakeStatus.OK


def test_canvas_download_as_one_zip(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("topic-create/create_topic.sh", SCRIPT)
    lms = tmp_path / "submissions.zip"
    with zipfile.ZipFile(lms, "w") as z:
        z.writestr("smithalice_4321_98765_lab.zip", inner.getvalue())
        z.writestr("jonesbob_LATE_5555_98766_lab.zip", inner.getvalue())
    layout, subs = collect(lms, tmp_path / "out" / ".work", IDS)
    found = by_id(subs)
    assert layout == "canvas"
    assert found["4321"].login == "smithalice"
    assert found["4321"].status is IntakeStatus.OK
    assert found["5555"].login == "jonesbob"
    assert found["5555"].status is IntakeStatus.OK


def test_gradescope_export(tmp_path: Path) -> None:
    download = tmp_path / "gs"
    submission_files(download / "submission_111")
    submission_files(download / "submission_222" / "repo")
    (download / "submission_metadata.yml").write_text(
        "submission_111:\n  :submitters:\n  - :name: Alice Smith\n    :sid: '0042'\n    :email: a@uni.edu\n"
        "submission_222:\n  :submitters:\n  - :name: Bob Jones\n    :sid:\n    :email: b@uni.edu\n"
        "  - :name: Carol King\n    :sid: '0044'\n    :email: c@uni.edu\n"
    )
    layout, subs = collect(download, tmp_path / "work", IDS)
    found = by_id(subs)
    assert layout == "gradescope"
    assert found["0042"].name == "Alice Smith"
    assert found["0042"].email == "a@uni.edu"
    assert found["b@uni.edu"].status is IntakeStatus.OK  # no sid: the e-mail identifies them
    assert "Carol King" in found["b@uni.edu"].note


def _git(repo: Path, *args: str, when: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "s",
           "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@x"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def test_github_classroom_clones_at_the_deadline(tmp_path: Path) -> None:
    download = tmp_path / "classroom"
    for login in ("alice", "bob-2"):
        repo = download / f"kafka-lab-{login}"
        repo.mkdir(parents=True)
        _git(repo, "init", "-q", when="2026-11-01T10:00:00Z")
        (repo / "README.md").write_text("start\n")
        _git(repo, "add", ".", when="2026-11-01T10:00:00Z")
        _git(repo, "commit", "-qm", "template", when="2026-11-01T10:00:00Z")
    late = download / "kafka-lab-alice"
    submission_files(late)
    _git(late, "add", ".", when="2026-11-20T10:00:00Z")
    _git(late, "commit", "-qm", "after the deadline", when="2026-11-20T10:00:00Z")
    ontime = download / "kafka-lab-bob-2"
    submission_files(ontime)
    _git(ontime, "add", ".", when="2026-11-05T10:00:00Z")
    _git(ontime, "commit", "-qm", "done", when="2026-11-05T10:00:00Z")

    layout, subs = collect(download, tmp_path / "w1", IDS)
    assert layout == "github"
    assert {s.student_id: s.status for s in subs} == {"alice": IntakeStatus.OK, "bob-2": IntakeStatus.OK}

    deadline = datetime(2026, 11, 10, tzinfo=UTC)
    _, subs = collect(download, tmp_path / "w2", IDS, deadline=deadline)
    found = by_id(subs)
    assert found["alice"].status is IntakeStatus.UNRECOGNISED  # only the template existed in time
    assert found["bob-2"].status is IntakeStatus.OK
    assert "graded commit" in found["bob-2"].note
    assert found["bob-2"].root is not None
    assert not (found["bob-2"].root / ".git").exists()


# -- unsafe archives ---------------------------------------------------------------------------------


def test_zip_slip_absolute_paths_and_links_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "x"
    slip = zip_of(tmp_path / "slip.zip", {"../../evil.sh": b"rm -rf ~"})
    with pytest.raises(UnsafeArchive, match="climbs out"):
        safe_extract_zip(slip, target)
    absolute = zip_of(tmp_path / "abs.zip", {"/etc/cron.d/evil": b"* * * * * root true"})
    with pytest.raises(UnsafeArchive, match="absolute"):
        safe_extract_zip(absolute, target)
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("topic-create/secrets")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/shadow")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        safe_extract_zip(link, target)
    tar = tmp_path / "link.tar"
    with tarfile.open(tar, "w") as t:
        info = tarfile.TarInfo("topic-create/secrets")
        info.type = tarfile.SYMTYPE
        info.linkname = "../../../etc/passwd"
        t.addfile(info)
    with pytest.raises(UnsafeArchive, match="is a link"):
        safe_extract_tar(tar, target)
    assert not target.exists()
    assert not (tmp_path.parent / "evil.sh").exists()


def test_zip_bombs_and_absurd_sizes_are_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("topic-create/create_topic.sh", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(UnsafeArchive, match="zip bomb"):
        safe_extract(bomb, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    many = zip_of(tmp_path / "many.zip", {f"f{i}": b"x" for i in range(30)})
    with pytest.raises(UnsafeArchive, match="30 entries"):
        safe_extract(many, tmp_path / "y", ArchiveLimits(max_entries=20))
    big = zip_of(tmp_path / "big.zip", {"a": os.urandom(4096), "b": os.urandom(4096)})
    with pytest.raises(UnsafeArchive, match="bytes uncompressed"):
        safe_extract(big, tmp_path / "z", ArchiveLimits(max_total_bytes=6000))


def test_an_unsafe_submission_gets_a_row_and_the_others_are_graded(tmp_path: Path) -> None:
    download = tmp_path / "download"
    submission_files(download / "alice")
    zip_of(download / "mallory.zip", {"topic-create/create_topic.sh": SCRIPT.encode(), "../../pwned": b"x"})
    submission_files(download / "trudy")
    (download / "trudy" / "topic-create" / "key").symlink_to("/etc/passwd")
    (download / "garbage.zip").write_bytes(b"not a zip at all")
    _, subs = collect(download, tmp_path / "out" / ".work", IDS)
    found = by_id(subs)
    assert found["alice"].status is IntakeStatus.OK
    assert found["mallory"].status is IntakeStatus.REFUSED
    assert "climbs out" in found["mallory"].note
    assert found["trudy"].status is IntakeStatus.REFUSED
    assert "pointing outside" in found["trudy"].note
    assert found["garbage"].status is IntakeStatus.REFUSED
    assert "not a readable" in found["garbage"].note
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "out" / "pwned").exists()


def test_an_unsafe_lms_download_is_a_usage_error(tmp_path: Path) -> None:
    bad = zip_of(tmp_path / "class.zip", {"../outside": b"x"})
    with pytest.raises(UsageError, match="was not extracted"):
        collect(bad, tmp_path / "work", IDS)
    with pytest.raises(UsageError, match="does not exist"):
        collect(tmp_path / "nope", tmp_path / "work", IDS)


# -- roster -----------------------------------------------------------------------------------------------


def test_roster_joins_by_id_login_or_email_and_lists_the_missing(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "\ufeffStudent ID,Full name,Email address,GitHub\n"
        "s1,Alice Smith,alice@uni.edu,alice-gh\n"
        "s2,Bob Jones,bob@uni.edu,bobby\n"
        "s3,Carol King,carol@uni.edu,\n"
    )
    students = load_roster(roster)
    assert [s.id for s in students] == ["s1", "s2", "s3"]
    subs = [
        Submission("alice-gh", "kafka-lab-alice-gh", "github", login="alice-gh"),
        Submission("x", "submission_9", "gradescope", email="BOB@uni.edu"),
        Submission("zed", "zed", "folders"),
    ]
    joined, missing = join(subs, students)
    assert [(s.student_id, s.name) for s in joined] == [
        ("s1", "Alice Smith"),
        ("s2", "Bob Jones"),
        ("zed", ""),
    ]
    assert "not on the roster" in joined[2].note
    assert [m.id for m in missing] == ["s3"]


def test_roster_problems_are_usage_errors(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("who,when\nalice,now\n")
    with pytest.raises(UsageError, match="no id column"):
        load_roster(roster)
    roster.write_text("id,name\ns1,A\ns1,B\n")
    with pytest.raises(UsageError, match=r"roster.csv:3: student id 's1' appears twice"):
        load_roster(roster)
