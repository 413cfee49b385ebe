"""``grader validate``: the course's proof. Its judging without Kafka, a throw-away course assignment
graded without touching the engine, and the whole course's kill matrix on real Kafka and Spark."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from grading import spark_leftovers

from grader import api
from grader.cases import load_case, load_cases
from grader.cli import ExitCode, main
from grader.errors import SpecError
from grader.registry import discover, select
from grader.results import AssignmentResult, CheckResult, Status, SubmissionResult
from grader.validation import Group, plan, validate

ROOT = Path(__file__).resolve().parents[1]


def _result(a, statuses: dict[str, Status], messages: dict[str, str] | None = None) -> AssignmentResult:
    checks = [
        CheckResult(
            id=c.id,
            title=c.title,
            status=statuses.get(c.id, Status.PASSED),
            points=c.points if statuses.get(c.id, Status.PASSED) is Status.PASSED else 0.0,
            max_points=c.points,
            message=(messages or {}).get(c.id, ""),
            hint=c.hint,
        )
        for c in a.checks
    ]
    return AssignmentResult(id=a.id, title=a.spec.title, max_points=a.spec.points, checks=checks)


def _fake_grading(answer):
    """A grade_groups that 'grades' each column with ``answer(column)`` (no sandbox, no Kafka)."""

    def grade(laid: list[tuple[Group, Path]]):
        for group, folder in laid:
            for column in group.columns:
                assert (folder / column.assignment).is_dir() or column.kind == "stub"
            result = SubmissionResult(
                submission=group.key,
                seed=1,
                grader_version="test",
                started_at="2026-12-03T00:00:00Z",
                assignments=[answer(column) for column in group.columns],
            )
            yield group, result, ""

    return grade


def test_cases_of_different_assignments_share_submissions_and_damaging_ones_go_alone():
    assignments = select(None)
    groups = plan(assignments)
    assert [g.key for g in groups[:2]] == ["reference", "stub"]
    alone = [g for g in groups if g.key.startswith("alone-")]
    assert [g.key for g in alone] == ["alone-produce-sequence-kills_a_broker"]
    shared = [g for g in groups if g.key.startswith("cases-")]
    depth = max(len([c for c in load_cases(a.id, a.cases) if not c.expect.alone]) for a in assignments)
    assert len(shared) == depth  # the i-th case of every assignment in one submission
    for group in shared:
        ids = [c.assignment for c in group.columns]
        assert len(ids) == len(set(ids))


def test_every_case_states_its_summary_and_names_only_real_checks():
    for a in discover():
        ids = {c.id for c in a.checks}
        cases = load_cases(a.id, a.cases)
        assert cases, f"{a.id} has no cases"
        for case in cases:
            assert set(case.expect.checks) <= ids, case.label
            assert not (case.folder / a.id).exists(), f"{case.label}: holds the assignment's files directly"


def test_judging_names_each_difference(tmp_path: Path):
    (a,) = select(["topic-create"])
    case = load_case(a.id, a.cases / "five_partitions")
    ids = [c.id for c in a.checks]
    from grader.cases import judge

    said = {"six_partitions": "expected 6 partitions, found 5"}
    right = _result(a, {"six_partitions": Status.FAILED}, said)
    assert judge(case, right, ids) == []
    quiet = _result(a, {"six_partitions": Status.FAILED}, {"six_partitions": "wrong"})
    assert judge(case, quiet, ids) == ["six_partitions: the message lacks 'found 5'; it says: 'wrong'"]
    full = _result(a, {})
    assert "six_partitions: expected failed, got passed" in judge(case, full, ids)
    assert "a wrong submission got full marks (10/10)" in judge(case, full, ids)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "expect.toml").write_text(
        'summary = "x y z"\nalternative = true\n[checks.a]\nstatus = "failed"\n'
    )
    with pytest.raises(SpecError, match="an alternative"):
        load_case(a.id, broken)


def test_a_check_that_catches_nothing_is_a_problem_and_the_matrix_shows_who_caught_what():
    (a,) = select(["topic-create"])

    def answer(column):
        if column.kind == "reference":
            return _result(a, {})
        if column.kind == "stub":
            return _result(a, {c.id: Status.FAILED for c in a.checks if c.id != "replicas_spread"})
        statuses = {k: Status(v.status) for k, v in column.case.expect.checks.items()}
        statuses.pop("replicas_spread", None)  # as if the check were blind
        messages = {k: " ".join(v.message) for k, v in column.case.expect.checks.items()}
        return _result(a, statuses, messages)

    report = validate([a], _fake_grading(answer))
    wrong = "case topic-create/pinned_replicas: replicas_spread: expected failed, got passed"
    assert any(p.startswith(wrong) for p in report.problems), report.problems
    blind = "check topic-create/replicas_spread catches no wrong submission"
    assert any(p.startswith(blind) for p in report.problems)
    matrix = "\n".join(report.lines)
    assert re.search(r"^  five_partitions +\. +\. +X +\. +\. +\.   8/10$", matrix, re.M), matrix
    assert re.search(r"^  python_style +(\. +){6}  10/10 \(alternative\)$", matrix, re.M), matrix
    assert re.search(r"^  caught +\d+ +\d+ +\d+ +\d+ +0 +\d+$", matrix, re.M), matrix


@pytest.mark.kafka
def test_a_throwaway_sixth_assignment_validates_and_grades_without_touching_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kafka_cluster
):
    """``grader new`` in a temp course folder: it validates on real Kafka as scaffolded, and a
    submission of it is graded by `grader check` like any other."""
    course = tmp_path / "course"
    course.mkdir()
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(course))
    assert main(["new", "sixth-task"]) == ExitCode.OK
    assert "grader validate -a sixth-task" in capsys.readouterr().out
    assert main(["new", "Sixth"]) == ExitCode.USAGE
    (a,) = select(["sixth-task"])
    assert a.module.__name__ == "grader_course.sixth_task.checks"
    from grader.sandbox.local import LocalSandbox

    report = api.validate(
        ["sixth-task"],
        sandbox_factory=lambda sub, brokers, limits: LocalSandbox(sub, limits=limits, cluster=kafka_cluster),
    )
    assert report.ok, "\n".join(report.problems + report.lines)
    assert [c.name for c in report.columns["sixth-task"]] == ["reference", "stub", "other_text"]
    submission = tmp_path / "student"
    shutil.copytree(a.reference, submission / "sixth-task")
    out = tmp_path / "out"
    assert main(["check", str(submission), "--sandbox", "local", "--out", str(out), "-q"]) == ExitCode.OK
    assert "5/5 passed" in capsys.readouterr().out


def test_the_template_and_the_examples_are_assembled_from_the_assignment_folders(tmp_path: Path):
    assert main(["template", "--out", str(tmp_path / "template")]) == ExitCode.OK
    template = tmp_path / "template"
    for a in discover():
        assert sorted(p.name for p in (template / a.id).iterdir()) == sorted(p.name for p in a.stub.iterdir())
    assert (template / "README.md").is_file()
    assert (template / ".github" / "workflows" / "grade.yml").is_file()
    assert main(["template", "--out", str(tmp_path / "template")]) == ExitCode.OK  # its own output: replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("do not delete")
    assert main(["template", "--out", str(tmp_path / "mine")]) == ExitCode.USAGE
    assert main(["examples", "--out", str(tmp_path / "ex")]) == ExitCode.OK
    for name in ("good-student", "flawed-student"):
        assert sorted(p.name for p in (tmp_path / "ex" / name).iterdir()) == sorted(a.id for a in discover())
        assert not list((tmp_path / "ex" / name).rglob("expect.toml"))


@pytest.mark.kafka
@pytest.mark.spark
def test_the_whole_course_validates_and_every_check_catches_a_case(capsys: pytest.CaptureFixture[str]):
    """The kill matrix on real Kafka and Spark, the way course CI runs it: every reference full marks,
    every stub zero with hints, every case exactly its expect.toml, every check catching a case."""
    code = main(["validate", "--sandbox", "local", "--jobs", "2", "--seed", "4242"])
    out = capsys.readouterr().out
    print(out)
    assert code == ExitCode.OK, out
    for a in discover():
        assert f"{a.id}: {len(a.checks)} checks" in out
    assert spark_leftovers() == []
