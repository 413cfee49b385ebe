"""GitHub Classroom: the autograding reporter's runner JSON and the Markdown job summary."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import report_data

from grader.report import write_reports
from grader.report.classroom import classroom_summary
from grader.results import Status


def _runner(result, tmp_path: Path) -> dict:  # type: ignore[no-untyped-def]
    raw = write_reports(result, tmp_path, ["classroom"])["classroom"].read_bytes()
    # The workflow hands the reporter base64 of exactly these bytes.
    return json.loads(base64.b64decode(base64.b64encode(raw)))


def test_runner_results_sum_to_the_score(tmp_path: Path) -> None:
    data = _runner(report_data.failed_only(), tmp_path)
    assert (data["version"], data["status"], data["max_score"]) == (1, "fail", 10)
    assert sum(t["score"] for t in data["tests"]) == 4
    assert [t["status"] for t in data["tests"]] == ["pass", "fail", "fail"]
    assert "expected 6 partitions" in data["tests"][1]["message"]
    full = _runner(report_data.full_marks(), tmp_path)
    assert (full["status"], full["max_score"], sum(t["score"] for t in full["tests"])) == ("pass", 10, 10)


def test_a_grader_error_records_no_points(tmp_path: Path) -> None:
    data = _runner(report_data.mixed(), tmp_path)
    assert data["status"] == "error"
    assert data["max_score"] == 0, "the reporter records no 'Points X/Y' when max_score is 0"
    assert "not your fault" in data["tests"][0]["message"].lower()


def test_hidden_checks_count_without_their_feedback(tmp_path: Path) -> None:
    data = _runner(report_data.with_hidden(), tmp_path)
    assert sum(t["score"] for t in data["tests"]) == 7
    assert "secret expectation" not in json.dumps(data)


def test_summary_lists_failed_checks_and_hints_safely() -> None:
    result = report_data.failed_only()
    result.assignments[0].checks[1].message += "\n```\n# injected heading\n```"
    text = classroom_summary(result)
    assert text.startswith("## Grading: 4 / 10 points")
    assert "- **Failed**: Topic has 6 partitions (3 points)" in text
    assert "What to do: pass --partitions 6" in text
    assert "grader check . --seed 424242" in text
    fence = text.split("- **Failed**: Topic has 6 partitions (3 points)\n\n")[1].split("text\n")[0]
    assert len(fence) >= 4, "the fence is longer than any backtick run inside"
    assert "\n# injected heading" in text  # inside the fenced block, so not a heading
    assert "<script>" not in text.split("```")[0]


def test_summary_grader_error_and_hidden() -> None:
    assert "**Grader error**" in classroom_summary(report_data.mixed())
    hidden = classroom_summary(report_data.with_hidden())
    assert "secret expectation" not in hidden
    assert report_data.with_hidden().assignments[0].checks[1].status is Status.FAILED
