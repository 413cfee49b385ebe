"""The service's parts on their own: the queue's state machine on a real database, the attempt bucket,
the upload intake, the CSP hashes and path scrubbing, the migrations, the student workflow."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from serve_support import tar_gz

from grader.serve import queue
from grader.serve.db import Database
from grader.serve.intake import UploadRefused, pack_upload
from grader.serve.models import Run, State, Submission, User
from grader.serve.ratelimit import Bucket
from grader.serve.security import csp_for_report, scrub

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RULES = queue.Rules(
    attempts=2,
    period_s=3600,
    max_pending=2,
    max_tries=2,
    retry_backoff_s=5,
    timezone=ZoneInfo("Europe/Moscow"),
)
IDS = ["topic-create", "produce-sequence"]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database with one student."""
    database = Database(f"sqlite:///{tmp_path}/q.db")
    database.migrate()
    with database.writing() as session:
        session.add(User(student_id="ann", name="Ann", created_at=NOW))
    try:
        yield database
    finally:
        database.dispose()


def _new(db: Database, now: datetime = NOW) -> int:
    with db.writing() as session:
        user = queue.admit(session, 1, RULES, now)
        sub = queue.enqueue(session, user, ["topic-create"], b"x", "0" * 64, source="api",
                            seed_for=lambda sid, n: n * 100, now=now)  # fmt: skip
        return sub.id


def _claim(db: Database, owner: str = "host:1:1", now: datetime = NOW) -> tuple[int, int]:
    with db.writing() as session:
        claimed = queue.claim(session, owner, 30, now)
        assert claimed is not None
        return claimed[0].id, claimed[1].id


def _row(db: Database, sub_id: int) -> Submission:
    with db.reading() as session:
        sub = session.get(Submission, sub_id)
        assert sub is not None
        return sub


GRADED = queue.Outcome("graded", result_json="{}", points=7, max_points=10, result_outcome="failed")


def test_a_job_goes_queued_running_done_and_only_its_run_records_it(db: Database) -> None:
    sub_id = _new(db)
    assert _row(db, sub_id).status == "queued"
    assert _row(db, sub_id).seed == 100
    _, run_id = _claim(db)
    assert (_row(db, sub_id).status, _row(db, sub_id).tries) == ("running", 1)
    with db.writing() as session:
        assert queue.finish(session, sub_id, run_id + 1, GRADED, RULES, NOW) is None, (
            "a stale run changes nothing"
        )
    with db.writing() as session:
        assert queue.finish(session, sub_id, run_id, GRADED, RULES, NOW) is State.DONE
    with db.writing() as session:
        assert queue.finish(session, sub_id, run_id, GRADED, RULES, NOW) is None, "recorded once"
    done = _row(db, sub_id)
    assert (done.status, done.points, done.outcome, done.counted) == ("done", 7, "failed", True)


def test_grader_faults_are_retried_then_final_and_the_attempt_given_back(db: Database) -> None:
    sub_id = _new(db)
    _new(db)
    with db.reading() as session:
        user = session.get(User, 1)
        assert user is not None
        assert RULES.bucket.level(user.bucket_tokens, user.bucket_at, NOW) == 0.0
    _, run_id = _claim(db)
    crash = queue.Outcome("crashed", message="the worker died", detail="/tmp/x Traceback")
    with db.writing() as session:
        assert queue.finish(session, sub_id, run_id, crash, RULES, NOW) is State.QUEUED
    retry = _row(db, sub_id)
    assert retry.not_before == NOW + timedelta(seconds=5), "a back-off before the retry"
    with db.writing() as session:
        assert queue.claim(session, "host:1:1", 30, NOW) is not None  # the other submission, not the retry
    _, run_id = _claim(db, now=NOW + timedelta(seconds=6))
    with db.writing() as session:
        assert queue.finish(session, sub_id, run_id, crash, RULES, NOW) is State.CRASHED
    final = _row(db, sub_id)
    assert (final.status, final.counted, final.message) == ("crashed", False, "the worker died")
    with db.reading() as session:
        user = session.get(User, 1)
        assert user is not None
        assert RULES.bucket.level(user.bucket_tokens, user.bucket_at, NOW) == 1.0
        assert [r.outcome for r in session.query(Run).filter_by(submission_id=sub_id)] == [
            "crashed",
            "crashed",
        ]


def test_recover_queues_the_jobs_of_a_dead_server_and_release_gives_a_try_back(db: Database) -> None:
    first, second = _new(db), _new(db)
    _, run_a = _claim(db, "host:7:7")
    _, run_b = _claim(db, "host:8:8")
    with db.writing() as session:
        found = queue.recover(session, lambda owner: owner == "host:7:7", "host:9:9", set(), RULES, NOW)
    assert found == [first]
    assert (_row(db, first).status, _row(db, second).status) == ("queued", "running")
    with db.writing() as session:
        assert queue.release(session, second, run_b, NOW)
    assert (_row(db, second).status, _row(db, second).tries) == ("queued", 0)
    with db.writing() as session:
        expired = queue.recover(
            session, lambda owner: False, "host:9:9", set(), RULES, NOW + timedelta(minutes=5)
        )
    assert expired == [], "nothing running any more"
    with db.reading() as session:
        assert session.get(Run, run_a).outcome == "lost"  # type: ignore[union-attr]


def test_the_bucket_and_the_pending_cap_refuse_with_when(db: Database) -> None:
    _new(db)
    _new(db)
    with db.writing() as session, pytest.raises(queue.Refused, match="at most 2 at once"):
        queue.admit(session, 1, RULES, NOW)
    for sub in (1, 2):
        _, run_id = _claim(db)
        with db.writing() as session:
            queue.finish(session, sub, run_id, GRADED, RULES, NOW)
    later = NOW + timedelta(minutes=10)
    with db.writing() as session, pytest.raises(queue.Refused) as refused:
        queue.admit(session, 1, RULES, later)
    assert (
        "You have used your 2 attempts per 1 h; the next attempt is possible at 2026-12-01 15:30:00 MSK"
        in str(refused.value)
    )
    assert refused.value.retry_after_s == pytest.approx(1200)
    assert Bucket(2, 3600).level(0.0, NOW, NOW + timedelta(hours=5)) == 2.0, "never more than full"


def test_uploads_pass_the_batch_archive_checks(tmp_path: Path) -> None:
    def refused(data: bytes, name: str) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(UploadRefused) as exc:
            pack_upload(path, tmp_path, IDS)
        return str(exc.value)

    def zipped(entries: dict[str, bytes], attr: int | None = None) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in entries.items():
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                if attr is not None:
                    info.external_attr = attr << 16
                z.writestr(info, data)
        return buf.getvalue()

    assert "climbs out of the archive with '..'" in refused(zipped({"../x.sh": b"a"}), "a.zip")
    assert "has an absolute path" in refused(zipped({"/etc/x": b"a"}), "b.zip")
    assert "symbolic link" in refused(zipped({"topic-create/l": b"/etc"}, attr=0o120777), "c.zip")
    assert "a zip bomb" in refused(zipped({"topic-create/big": b"\0" * (8 << 20)}), "d.zip")
    assert "Upload a .zip or .tar.gz" in refused(b"not an archive", "e.bin")
    assert "No assignment folder was found" in refused(tar_gz({"notes/a.txt": "hi"}), "f.tar.gz")

    upload = tmp_path / "ok.tar.gz"
    upload.write_bytes(
        tar_gz(
            {
                "my-repo/topic-create/create_topic.sh": "#!/bin/bash\n",
                "my-repo/.git/HEAD": "x",
                "my-repo/reports/report.html": "old",
                "my-repo/produce-sequence/produce.py": "p",
            }
        )
    )
    packed = pack_upload(upload, tmp_path, IDS)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(packed.archive))) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == ["produce-sequence/produce.py", "topic-create/create_topic.sh"]
    assert members["topic-create/create_topic.sh"].mode == 0o755
    assert packed.sha256 == hashlib.sha256(packed.archive).hexdigest()
    assert list(tmp_path.glob("upload-*")) == [], "the checked copy is removed"


def test_the_report_csp_allows_exactly_its_own_styles() -> None:
    html = '<style>body{color:red}</style><p style="width: 50%">x</p>'
    csp = csp_for_report(html)
    block = base64.b64encode(hashlib.sha256(b"body{color:red}").digest()).decode()
    attr = base64.b64encode(hashlib.sha256(b"width: 50%").digest()).decode()
    assert f"'sha256-{block}'" in csp
    assert f"'sha256-{attr}'" in csp
    assert "'unsafe-hashes'" in csp
    assert "unsafe-inline" not in csp
    assert "script-src" not in csp


def test_grader_messages_lose_paths_and_tracebacks() -> None:
    text = (
        "ClusterStartError: broker 1 died, see /srv/grader-data/work/slot-0/log\n"
        'Traceback (most recent call last):\n  File "/usr/lib/x.py"'
    )
    assert scrub(text) == "ClusterStartError: broker 1 died, see …/log"
    from grader.results import AssignmentResult, ExecRecord, SubmissionResult
    from grader.serve.results import public_result

    result = SubmissionResult(
        submission="k", seed=1, grader_version="0", started_at=NOW,
        assignments=[AssignmentResult(id="topic-create", title="T", max_points=10, runs=[ExecRecord(
            label="first run", command=["./create_topic.sh"], returncode=1, duration_s=1,
            stderr='File "/srv/data/work/slot-0/job-1/tmp/grader-job-ab12/ann-attempt-1/topic-create/x.py"',
        )])],
    )  # fmt: skip
    cleaned = public_result(result, IDS).assignments[0].runs[0].stderr
    assert cleaned == 'File "topic-create/x.py"'
    assert not re.search(r"/srv|grader-job", cleaned)


def test_migrations_match_the_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from grader.serve.models import Base

    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_the_student_workflow_submits_to_the_service_when_its_secret_is_set() -> None:
    path = Path(__file__).resolve().parents[1] / "student_template" / ".github" / "workflows" / "grade.yml"
    workflow = yaml.safe_load(path.read_text())
    assert workflow["env"]["GRADER_TOKEN"] == "${{ secrets.GRADER_TOKEN }}"
    assert workflow["env"]["GRADER_SERVER"] == "${{ vars.GRADER_SERVER_URL }}"
    steps = {s.get("name"): s for s in next(iter(workflow["jobs"].values()))["steps"]}
    submit = steps["Submit to the course's grading service"]
    assert submit["if"] == "env.GRADER_TOKEN != ''"
    assert 'grader submit . --out "$RUNNER_TEMP/report"' in submit["run"]
    assert steps["Grade"]["if"] == "env.GRADER_TOKEN == ''"
    assert "vars.GRADER_CLASSROOM_REPORTER == 'true'" in steps["Record the score in GitHub Classroom"]["if"]
    assert steps["Job summary"]["if"] == "always()"
    assert "summary.md" in steps["Job summary"]["run"]


def test_serve_without_its_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from grader.errors import UsageError
    from grader.serve.cli import _service_installed

    _service_installed()  # the test machine has the extra
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if it were not installed
    with pytest.raises(UsageError, match=r"fastapi is missing\): pip install 'grader\[serve\]'"):
        _service_installed()
