"""results.json: the shipped JSON Schema is generated from the model (no drift) and real files validate."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import report_data

from grader.report import write_reports
from grader.report.schema import results_schema, schema_bytes, shipped_schema_path
from grader.results import SCHEMA_FILE, SubmissionResult

RESULTS = {
    "full_marks": report_data.full_marks,
    "mixed": report_data.mixed,
    "failed_only": report_data.failed_only,
    "with_hidden": report_data.with_hidden,
    "empty": lambda: report_data.submission("nobody", []),
}


def _validator(tmp_path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads((tmp_path / SCHEMA_FILE).read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_shipped_schema_matches_the_model() -> None:
    shipped = shipped_schema_path()
    assert shipped.is_file(), "run: python -m grader.report.schema"
    assert shipped.read_bytes() == schema_bytes(), (
        "grader/report/results.schema.json is out of date with grader/results.py; "
        "regenerate it with: python -m grader.report.schema"
    )


def test_schema_is_valid_draft_2020_12_with_computed_totals() -> None:
    schema = results_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    for total in ("points", "max_points", "passed", "has_error", "outcome"):
        assert total in schema["required"], f"{total} is always written"
        assert props[total].get("readOnly") is True, f"{total} is computed, not input"
    assert props["$schema"]["default"] == SCHEMA_FILE
    check = schema["$defs"]["CheckResult"]["properties"]
    assert check["visibility"]["$ref"].endswith("/Visibility")
    assert schema["$defs"]["Visibility"]["enum"] == ["visible", "after_due_date", "hidden"]
    assert "description" in check["visibility"], "attribute docstrings document the fields"


@pytest.mark.parametrize("name", list(RESULTS))
def test_written_results_validate_against_the_schema_written_beside_them(name: str, tmp_path: Path) -> None:
    result: SubmissionResult = RESULTS[name]()
    path = write_reports(result, tmp_path, ["json"])["json"]
    data = json.loads(path.read_text("utf-8"))
    _validator(tmp_path).validate(data)
    assert data["$schema"] == SCHEMA_FILE
    assert (tmp_path / data["$schema"]).is_file()


def test_schema_rejects_what_the_model_rejects(tmp_path: Path) -> None:
    path = write_reports(report_data.mixed(), tmp_path, ["json"])["json"]
    validator = _validator(tmp_path)
    data = json.loads(path.read_text("utf-8"))
    data["assignments"][0]["checks"][0]["status"] = "sort-of-passed"
    assert not validator.is_valid(data)
    data = json.loads(path.read_text("utf-8"))
    del data["seed"]
    assert not validator.is_valid(data)
    data = json.loads(path.read_text("utf-8"))
    data["assignments"][0]["checks"][0]["visibility"] = "sometimes"
    assert not validator.is_valid(data)
