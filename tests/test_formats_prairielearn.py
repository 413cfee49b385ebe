"""PrairieLearn's external-grader results.json: documented fields, score 0..1, gradable false, under 1 MB."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import report_data
from platform_schemas import PRAIRIELEARN_SCHEMA

from grader.report import default_out_for, write_reports
from grader.report.prairielearn import MAX_BYTES
from grader.results import Status, SubmissionResult


def _written(result: SubmissionResult, tmp_path: Path) -> dict:
    path = write_reports(result, tmp_path, ["prairielearn"])["prairielearn"]
    assert path == tmp_path / "results.json"
    assert path.stat().st_size < MAX_BYTES
    data = json.loads(path.read_text("utf-8"))
    jsonschema.Draft202012Validator(PRAIRIELEARN_SCHEMA).validate(data)
    return data


def test_score_is_a_fraction_and_tests_carry_points(tmp_path: Path) -> None:
    data = _written(report_data.failed_only(), tmp_path)
    assert data["gradable"] is True
    assert data["score"] == pytest.approx(0.4)
    assert [(t["points"], t["max_points"]) for t in data["tests"]] == [(4, 4), (0, 3), (0, 3)]
    failed = data["tests"][1]
    assert "expected 6 partitions, found 3" in failed["message"]
    assert "What to do: pass --partitions 6" in failed["message"]
    assert "PartitionCount: 3" in failed["output"]
    assert _written(report_data.full_marks(), tmp_path)["score"] == 1


def test_a_grader_error_is_not_gradable(tmp_path: Path) -> None:
    data = _written(report_data.mixed(), tmp_path)
    assert data["gradable"] is False
    assert "score" not in data
    assert "does not count" in data["message"]
    assert "not your fault" in data["message"]
    assert "the Kafka cluster did not start within 60 s" in data["output"]


def test_checks_not_visible_yet_count_but_are_not_listed(tmp_path: Path) -> None:
    data = _written(report_data.with_hidden(), tmp_path)
    assert data["score"] == pytest.approx(0.7)
    assert [t["name"] for t in data["tests"]] == ["Create a topic: Visible check"]
    assert "2 more check(s) count but are not shown" in data["message"]
    assert "secret expectation" not in json.dumps(data)


def test_huge_output_is_cut_to_stay_under_one_megabyte(tmp_path: Path) -> None:
    result = report_data.failed_only()
    a = result.assignments[0]
    a.checks = [
        report_data.check(f"c{i}", Status.FAILED, 0, 1, message="x" * 50_000, details="y" * 200_000)
        for i in range(60)
    ]
    data = _written(result, tmp_path)
    assert len(data["tests"]) == 60
    assert "characters cut" in data["tests"][0]["message"]


def test_default_folder_is_prairielearns() -> None:
    assert default_out_for(["prairielearn"]) == Path("/grade/results")
