"""Gradescope's results.json: valid against its documented format, honest about grader errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import report_data
from platform_schemas import GRADESCOPE_SCHEMA

from grader.errors import UsageError
from grader.report import write_reports
from grader.report.gradescope import AutograderFailure, autograder_root, gradescope_results
from grader.results import SubmissionResult


def _written(result: SubmissionResult, tmp_path: Path) -> dict:
    path = write_reports(result, tmp_path, ["gradescope"])["gradescope"]
    data = json.loads(path.read_text("utf-8"))
    jsonschema.Draft202012Validator(GRADESCOPE_SCHEMA).validate(data)
    return data


def test_student_mistakes_give_a_valid_file_with_feedback(tmp_path: Path) -> None:
    result = report_data.failed_only()
    result.assignments[0].checks[1].message += " \x1b[31mred\x1b[0m"
    data = _written(result, tmp_path)
    assert data["score"] == 4
    assert (data["output_format"], data["test_output_format"], data["test_name_format"]) == ("text",) * 3
    assert data["stdout_visibility"] == "hidden"
    assert data["extra_data"]["seed"] == 424242
    assert data["extra_data"]["grader_version"] == "0.1.0"
    assert data["extra_data"]["params"]["topic-create"]["topic"] == "hob2026-abc"
    tests = {t["number"]: t for t in data["tests"]}
    assert list(tests) == ["1.1", "1.2", "1.3"]
    failed = tests["1.2"]
    assert failed["name"] == "Create a topic: Topic has 6 partitions"
    assert (failed["status"], failed["score"], failed["max_score"]) == ("failed", 0, 3)
    assert failed["tags"] == ["topic-create", "partitions", "failed"]
    assert failed["output_format"] == "text"
    assert "expected 6 partitions, found 3" in failed["output"]
    assert "What to do: pass --partitions 6" in failed["output"]
    assert "PartitionCount: 3" in failed["output"], "the failure's details are in the test output"
    assert "\x1b" not in json.dumps(data, ensure_ascii=False), "ANSI escapes are stripped"
    assert "red" in failed["output"]
    assert tests["1.3"]["status"] == "failed"
    assert tests["1.3"]["output"].startswith("not checked because")
    assert "you used --zookeeper" in data["output"]


def test_full_marks(tmp_path: Path) -> None:
    data = _written(report_data.full_marks(), tmp_path)
    assert data["score"] == 10
    assert [t["status"] for t in data["tests"]] == ["passed", "passed"]
    assert "Every check passed." in data["output"]


def test_visibility_reaches_gradescope_and_the_summary_does_not_leak(tmp_path: Path) -> None:
    data = _written(report_data.with_hidden(), tmp_path)
    assert [t["visibility"] for t in data["tests"]] == ["visible", "after_due_date", "hidden"]
    assert data["score"] == 7, "hidden checks still count"
    assert "2 / 2 (+ 2 check(s) shown later)" in data["output"]
    assert "secret expectation" not in data["output"]


def test_a_grader_error_posts_no_score(tmp_path: Path) -> None:
    with pytest.raises(AutograderFailure) as info:
        gradescope_results(report_data.mixed())
    text = str(info.value)
    assert "no score was posted" in text
    assert "consume-partition: the Kafka cluster did not start within 60 s" in text
    assert "produce-sequence/keys" in text
    assert write_reports(report_data.mixed(), tmp_path, ["gradescope"]) == {}
    assert not (tmp_path / "results.json").exists(), "no results.json is Gradescope's autograder-failure path"


def test_default_folder_is_gradescopes_and_overridable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AUTOGRADER_ROOT", raising=False)
    assert autograder_root() / "results" == Path("/autograder/results")
    monkeypatch.setenv("AUTOGRADER_ROOT", str(tmp_path))
    from grader.report import default_out_for

    assert default_out_for(["gradescope"]) == tmp_path / "results"
    assert default_out_for(["gradescope", "junit"]) is None


def test_all_reports_into_gradescopes_folder_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUTOGRADER_ROOT", str(tmp_path))
    with pytest.raises(UsageError, match="add --format gradescope"):
        write_reports(report_data.full_marks(), tmp_path / "results")
    assert not (tmp_path / "results").exists()
