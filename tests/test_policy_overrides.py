"""A TA's overrides and per-student extensions: the files, their checks before grading, and a batch in which
an override survives a regrade, ``--resume`` and ``--rerun-errors`` (fake runner with the real check ids)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from policy_fake import HERE, RUNNER

from grader.batch import BatchOptions, LocalExecutor, run_batch
from grader.batch.progress import PlainProgress
from grader.cli import main
from grader.errors import UsageError
from grader.policy import CoursePolicy
from grader.policy.extensions import read_extensions, roster_extensions
from grader.policy.overrides import OverrideRow, apply_overrides, check_overrides, load_overrides
from grader.policy.students import Students
from grader.registry import select
from grader.results import AssignmentResult, CheckResult, Status

TOPIC = "topic-create"
MSK = ZoneInfo("Europe/Moscow")


def students() -> Students:
    s = Students()
    s.add("alice", "alice-gh", "alice@uni.edu")
    s.add("bob", "bobby", "bob@uni.edu")
    return s


def checks() -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    everything = select(None)
    return {a.id: {c.id: c.points for c in a.checks} for a in everything}, {
        a.id: a.spec.points for a in everything
    }


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# -- the overrides file --------------------------------------------------------------------------------


def test_overrides_csv_and_toml_read_the_same(tmp_path: Path) -> None:
    from_csv = load_overrides(
        write(
            tmp_path / "overrides.csv",
            """
            student,assignment,check,points,adjustment,comment,by,at
            alice,topic-create,six_partitions,2,,the broker restart was ours,ta1,2026-12-03
            # a comment row
            bob@uni.edu,produce-sequence,,,"-1,5",copied the seminar's output,ta2,
            """,
        )
    )
    from_toml = load_overrides(
        write(
            tmp_path / "overrides.toml",
            """
            [[override]]
            student = "alice"
            assignment = "topic-create"
            check = "six_partitions"
            points = 2
            comment = "the broker restart was ours"
            by = "ta1"
            at = 2026-12-03

            [[override]]
            student = "bob@uni.edu"
            assignment = "produce-sequence"
            adjustment = -1.5
            comment = "copied the seminar's output"
            by = "ta2"
            """,
        )
    )
    strip = [
        (r.student, r.assignment, r.check, r.points, r.adjustment, r.comment, r.by, r.at) for r in from_csv
    ]
    assert strip == [
        (r.student, r.assignment, r.check, r.points, r.adjustment, r.comment, r.by, r.at) for r in from_toml
    ]
    assert strip[1][4] == -1.5  # a decimal comma is read too
    assert from_csv[1].origin.endswith("overrides.csv:4")
    assert from_toml[1].origin.endswith("overrides.toml:10")


def test_malformed_override_rows_are_all_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "overrides.csv",
        """
        student,assignment,check,points,adjustment,comment
        alice,topic-create,,2,1,both
        alice,topic-create,,,,neither
        alice,topic-create,,lots,,not a number
        alice,topic-create,,1,,
        """,
    )
    with pytest.raises(UsageError) as err:
        load_overrides(path)
    text = str(err.value)
    assert f"{path}:2: give either points (the new value) or adjustment (+/- points), not both" in text
    assert f"{path}:3:" in text
    assert "neither" in text
    assert f"{path}:4: points 'lots' is not a number" in text
    assert f"{path}:5: no comment; fix: the student reads the comment: say why" in text


def test_unknown_students_checks_and_too_many_points_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "overrides.csv",
        """
        student,assignment,check,points,adjustment,comment
        alise,topic-create,,,1,typo in the name
        alice,topic-create,six_partitons,2,,typo in the check
        alice,topic-creat,,,1,typo in the assignment
        alice,topic-create,six_partitions,3,,more than the check is worth
        alice,topic-create,,11,,more than the assignment is worth
        """,
    )
    by_check, points = checks()
    with pytest.raises(UsageError) as err:
        check_overrides(load_overrides(path), students(), by_check, points)
    text = str(err.value)
    assert "overrides refused before grading" in text
    assert f"{path}:2: student 'alise' is not in this class" in text
    assert "did you mean alice" in text
    assert f"{path}:3: topic-create has no check 'six_partitons'; fix: use one of runs_cleanly" in text
    assert f"{path}:4: no assignment 'topic-creat'" in text
    assert f"{path}:5: points 3 for check six_partitions, which is worth 2" in text
    assert f"{path}:6: points 11 for topic-create, which is worth 10" in text
    ok = write(tmp_path / "ok.csv", "student,assignment,adjustment,comment\nalice-gh,topic-create,1,x\n")
    (row,) = check_overrides(load_overrides(ok), students(), by_check, points)
    assert row.student == "alice"  # a login resolves to the student's id


def _assignment(*failed: str) -> AssignmentResult:
    (a,) = select([TOPIC])
    return AssignmentResult(
        id=a.id, title=a.spec.title, max_points=a.spec.points,
        checks=[CheckResult(id=c.id, title=c.title, max_points=c.points,
                            status=Status.FAILED if c.id in failed else Status.PASSED,
                            points=0.0 if c.id in failed else c.points) for c in a.checks],
    )  # fmt: skip


def row(**kw: object) -> OverrideRow:
    base: dict[str, object] = {"student": "alice", "assignment": TOPIC, "check": None, "points": None,
                               "adjustment": None, "comment": "why", "by": "ta1"}  # fmt: skip
    return OverrideRow(**{**base, **kw})  # type: ignore[arg-type]


def test_apply_overrides_on_checks_and_on_the_assignment() -> None:
    a = _assignment("six_partitions", "replicas_spread")
    assert a.autograde_points == 7
    overrides = apply_overrides(a, [row(check="six_partitions", points=2), row(adjustment=-0.5)])
    scored = a.model_copy(update={"overrides": overrides})
    assert [(o.check, o.delta, o.set_to, o.capped) for o in overrides] == [
        ("six_partitions", 2.0, 2.0, False),
        (None, -0.5, None, False),
    ]
    assert (scored.autograde_points, scored.points) == (7, 8.5)
    # An adjustment never takes a check (or the assignment) out of 0..max; the report says so.
    capped = apply_overrides(a, [row(check="runs_cleanly", adjustment=5), row(adjustment=-20)])
    assert [(o.delta, o.capped) for o in capped] == [(0.0, True), (-7.0, True)]
    assert a.model_copy(update={"overrides": capped}).points == 0
    # A check the result does not have (a grader error stopped the assignment first) changes nothing.
    assert apply_overrides(a.model_copy(update={"checks": []}), [row(check="six_partitions", points=2)]) == []


# -- extensions ----------------------------------------------------------------------------------------


POLICY = CoursePolicy.model_validate(
    {"course": {"timezone": "Europe/Moscow"},
     "assignments": {TOPIC: {"due": "2026-12-01T23:59"}, "produce-sequence": {"due": "2026-12-08T23:59"}}}
)  # fmt: skip
IDS = [a.id for a in select(None)]


def test_extensions_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path / "extensions.csv",
        """
        student,assignment,due,days,comment
        alice,topic-create,2026-12-05,,medical certificate
        bobby,*,,3,exchange week
        """,
    )
    ext = read_extensions(path, POLICY, students(), IDS)
    by = {(e.student, e.assignment): e for e in ext}
    assert by[("alice", TOPIC)].due == datetime(2026, 12, 5, 23, 59, 59, tzinfo=MSK)
    assert by[("alice", TOPIC)].comment == "medical certificate"
    # days on every assignment: each assignment's own due date plus three days
    assert by[("bob", TOPIC)].due == datetime(2026, 12, 4, 23, 59, tzinfo=MSK)
    assert by[("bob", "produce-sequence")].due == datetime(2026, 12, 11, 23, 59, tzinfo=MSK)


def test_an_extension_without_a_date_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "extensions.csv",
        """
        student,assignment,due,days,comment
        alice,topic-create,,,forgot the date
        bob,topic-create,next week,,not a date
        carol,,2026-12-05,,not in the class
        bob,consume-partition,,2,no due date to add to
        """,
    )
    with pytest.raises(UsageError) as err:
        read_extensions(path, POLICY, students(), IDS)
    text = str(err.value)
    assert f"{path}:2: alice: an extension without a date" in text
    assert f"{path}:3: bob: 'next week' is not a date" in text
    assert f"{path}:4: student 'carol' is not in this class" in text
    assert f"{path}:5: bob: consume-partition has no due date" in text


def test_roster_extension_columns(tmp_path: Path) -> None:
    rows = [
        (2, "alice", {"Extension topic-create": "2026-12-03T12:00", "Group": "B"}),
        (3, "bob", {"Extension topic-create": "", "Group": "A"}),
        (4, "bob", {"extension": "+2 days"}),
    ]
    ext = roster_extensions(tmp_path / "roster.csv", rows, POLICY, students(), IDS)
    assert {(e.student, e.assignment, e.due) for e in ext} == {
        ("alice", TOPIC, datetime(2026, 12, 3, 12, 0, tzinfo=MSK)),
        ("bob", TOPIC, datetime(2026, 12, 3, 23, 59, tzinfo=MSK)),
        ("bob", "produce-sequence", datetime(2026, 12, 10, 23, 59, tzinfo=MSK)),
    }
    with pytest.raises(UsageError, match=r"roster.csv:2: alice: 'soon' is not a date"):
        roster_extensions(
            tmp_path / "roster.csv", [(2, "alice", {"extension": "soon"})], POLICY, students(), IDS
        )


# -- in a batch ----------------------------------------------------------------------------------------


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Workers import the fake runner from tests/; every start goes to the returned log."""
    log = tmp_path / "fake.log"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("FAKE_LOG", str(log))
    return log


def starts(log: Path) -> list[str]:
    """Keys graded since the log was last removed."""
    return [line.split()[1] for line in log.read_text().splitlines()] if log.exists() else []


def student(root: Path, name: str, *failed: str) -> None:
    folder = root / name / TOPIC
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "create_topic.sh").write_text('kafka-topics --create --topic "$TOPIC"\n')
    (folder / "failed").write_text("\n".join(failed))


def batch(subs: Path, out: Path, **kw: object) -> None:
    run_batch(
        BatchOptions(subs, out, [TOPIC], sandbox="local", **kw),  # type: ignore[arg-type]
        executor=LocalExecutor(1, out / ".work" / "jobs", runner=RUNNER),
        progress=PlainProgress(io.StringIO()),
    )


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    return {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}


def test_an_override_survives_regrade_resume_and_rerun_errors(fake_env: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    student(subs, "alice", "six_partitions")
    student(subs, "bob")
    overrides = write(
        tmp_path / "overrides.csv",
        """
        student,assignment,check,points,comment,by,at
        alice,topic-create,six_partitions,2,the broker restart was the grader's doing,ta1,2026-12-03
        """,
    )
    out = tmp_path / "grades"
    batch(subs, out, overrides=overrides)
    row = gradebook(out)["alice"]
    assert (row[TOPIC], row["total"], row["status"]) == ("10", "10", "failed")  # the checks' outcome stays
    expected = (
        "topic-create: autograde 8/10, override six_partitions +2 "
        "(the broker restart was the grader's doing; ta1) = 10"
    )
    assert row["adjustments"] == expected
    result = json.loads((out / "alice" / "results.json").read_text())
    (a,) = result["assignments"]
    assert (a["autograde_points"], a["points"]) == (8, 10)
    assert a["overrides"][0]["comment"] == "the broker restart was the grader's doing"
    report = (out / "alice" / "report.html").read_text()
    assert "the broker restart was the grader&#39;s doing" in report
    assert "ta1, 2026-12-03" in report
    page = (out / "index.html").read_text()
    assert "autograde 8/10, override six_partitions +2" in page

    fake_env.unlink()
    batch(subs, out, overrides=overrides, resume=True)
    assert starts(fake_env) == []  # nothing regraded ...
    assert gradebook(out)["alice"][TOPIC] == "10"  # ... and the override is still there

    (subs / "alice" / TOPIC / "failed").write_text("six_partitions\nreplicas_spread\n")  # handed in again
    batch(subs, out, overrides=overrides, resume=True)
    assert starts(fake_env) == ["alice"]  # the regrade ...
    row = gradebook(out)["alice"]
    assert (row[TOPIC], row["adjustments"].split(" = ")[-1]) == ("9", "9")  # ... kept the override: 7 + 2
    batch(subs, out, overrides=overrides, rerun_errors=True)
    assert gradebook(out)["alice"][TOPIC] == "9"

    # The override file is the truth: once the row is gone, so is the override, without a regrade.
    fake_env.unlink()
    batch(subs, out, resume=True)
    assert starts(fake_env) == []
    assert (gradebook(out)["alice"][TOPIC], gradebook(out)["alice"]["adjustments"]) == ("7", "")
    assert "broker restart" not in (out / "alice" / "report.html").read_text()


def test_a_bad_override_stops_the_batch_before_any_grading(fake_env: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    student(subs, "alice")
    overrides = write(
        tmp_path / "overrides.csv", "student,assignment,adjustment,comment\nalise,topic-create,1,x\n"
    )
    with pytest.raises(UsageError, match=r"overrides.csv:2: student 'alise' is not in this class"):
        batch(subs, tmp_path / "grades", overrides=overrides)
    assert starts(fake_env) == []
    args = ["batch", str(subs), "--out", str(tmp_path / "g2"), "-a", TOPIC, "--sandbox", "local"]
    assert main([*args, "--overrides", str(overrides)]) == 4
    assert main([*args, "--policy", str(tmp_path / "absent.toml")]) == 4
    assert main([*args, "--extensions", str(tmp_path / "absent.csv")]) == 4
    bad_policy = write(
        tmp_path / "course.toml", '[assignments.topic-create]\nlate = { per = "day", percent = 120 }\n'
    )
    assert main([*args, "--policy", str(bad_policy)]) == 4
    assert starts(fake_env) == []


def _commit(repo: Path, when: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "s",
           "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@x"}  # fmt: skip
    for args in (["add", "."], ["commit", "-qm", "work"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def classroom(root: Path, when: dict[str, str]) -> Path:
    """GitHub Classroom clones whose one commit was made at ``when[login]``."""
    for login, stamp in when.items():
        repo = root / f"kafka-lab-{login}"
        student(repo.parent, repo.name)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        _commit(repo, stamp)
    return root


def test_late_work_grace_days_and_an_extension_in_a_batch(fake_env: Path, tmp_path: Path) -> None:
    subs = classroom(
        tmp_path / "clones",
        {"alice": "2026-12-01T20:00:00+03:00", "bob": "2026-12-02T10:00:00+03:00",
         "carol": "2026-12-04T10:00:00+03:00", "dan": "2026-12-04T10:00:00+03:00"},
    )  # fmt: skip
    policy = write(
        tmp_path / "course.toml",
        """
        [course]
        timezone = "Europe/Moscow"
        grace_days = 1

        [assignments.topic-create]
        due = 2026-12-01T23:59:00
        late = { per = "day", percent = 20 }
        """,
    )
    extensions = write(
        tmp_path / "extensions.csv", "student,assignment,due,comment\ndan,topic-create,2026-12-05,flu\n"
    )
    out = tmp_path / "grades"
    batch(subs, out, policy=policy, extensions=extensions)
    rows = gradebook(out)
    assert {s: rows[s][TOPIC] for s in rows} == {"alice": "10", "bob": "10", "carol": "6", "dan": "10"}
    assert rows["alice"]["submitted_at"] == "2026-12-01T20:00:00+03:00"
    assert (rows["bob"]["grace_days"], rows["carol"]["grace_days"], rows["dan"]["grace_days"]) == (
        "1",
        "1",
        "",
    )
    assert "1 grace day, 1 d 10 h late: 60 % counts = 6" in rows["carol"]["adjustments"]
    assert rows["dan"]["adjustments"] == "topic-create: autograde 10/10, extension (flu) = 10"
    (a,) = json.loads((out / "carol" / "results.json").read_text())["assignments"]
    assert a["timing"]["source"].startswith("commit ")
    assert a["timing"]["credit"] == 60
    summary = json.loads((out / "summary.json").read_text())
    assert {x["student_id"] for x in summary["policy"]["late"]} == {"bob", "carol", "dan"}
    assert summary["policy"]["grace_days_used"] == 2
    report = (out / "carol" / "report.html").read_text()
    assert "Submission time:" in report
    assert "2026-12-04 10:00 MSK" in report


def test_without_a_known_time_nothing_is_late(fake_env: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    student(subs, "alice")
    policy = write(
        tmp_path / "course.toml",
        '[assignments.topic-create]\ndue = 2020-01-01\nlate = { per = "day", percent = 50 }\n',
    )
    out = tmp_path / "grades"
    batch(subs, out, policy=policy)
    row = gradebook(out)["alice"]
    assert (row[TOPIC], row["submitted_at"]) == ("10", "")
    (a,) = json.loads((out / "alice" / "results.json").read_text())["assignments"]
    assert a["timing"]["explanation"] == "submission time unknown: no late penalty applied"
    assert json.loads((out / "summary.json").read_text())["policy"]["unknown_times"] == 1
