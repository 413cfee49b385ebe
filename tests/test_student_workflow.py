"""The student template's workflow and ignore file: no solutions reachable, score recorded, feedback shown."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "student_template"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load((TEMPLATE / ".github" / "workflows" / "grade.yml").read_text())


def _steps(workflow: dict) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def test_nothing_fetches_the_course_repository(workflow: dict) -> None:
    text = (TEMPLATE / ".github" / "workflows" / "grade.yml").read_text()
    assert "git+" not in text, "pip install git+<course repo> clones the reference solutions"
    for step in _steps(workflow):
        if str(step.get("uses", "")).startswith("actions/checkout"):
            assert "repository" not in step.get("with", {}), "only the student's own repository"
    install = next(s for s in _steps(workflow) if s.get("name") == "Install the grader")
    assert 'pip install "$GRADER_WHEEL"' in install["run"]
    assert workflow["env"]["GRADER_WHEEL"] == "${{ vars.GRADER_WHEEL_URL }}"


def test_score_reaches_classroom_and_feedback_the_job_summary(workflow: dict) -> None:
    (job,) = workflow["jobs"].values()
    assert job["name"] == "Autograding Tests", "the reporter looks the check run up by this name"
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    assert workflow["permissions"]["checks"] == "write"
    steps = {s.get("name"): s for s in _steps(workflow)}
    reporter = steps["Record the score in GitHub Classroom"]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter@")
    runner = reporter["with"]["runners"]
    assert f"{runner.upper()}_RESULTS" in reporter["env"], "the reporter reads <RUNNER>_RESULTS"
    assert "classroom/results.json" in steps["Results for the Classroom reporter"]["run"]
    assert "GITHUB_STEP_SUMMARY" in steps["Job summary"]["run"]
    assert "summary.md" in steps["Job summary"]["run"]
    assert "--student-view" in steps["Grade"]["run"]
    assert "$RUNNER_TEMP/report" in steps["Grade"]["run"], "reports outside the repository"


def test_pip_and_the_jar_cache_are_cached(workflow: dict) -> None:
    steps = _steps(workflow)
    python = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert python["with"]["cache"] == "pip"
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache"))
    assert cache["with"]["path"] == "~/.cache/grader"


def test_gitignore_keeps_reports_out() -> None:
    lines = (TEMPLATE / ".gitignore").read_text().splitlines()
    assert "reports/" in lines
