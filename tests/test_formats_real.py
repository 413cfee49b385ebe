"""Every format written from a real grading run (real Kafka, real student processes) passes its validator."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from grading import example_path
from junitparser import JUnitXml
from lxml import etree
from platform_schemas import GRADESCOPE_SCHEMA, PRAIRIELEARN_SCHEMA

from grader import api
from grader.results import SCHEMA_FILE
from grader.sandbox import factory

XSD = Path(__file__).parent / "data" / "junit-10.xsd"


@pytest.mark.kafka
def test_a_real_run_validates_in_every_format(tmp_path: Path) -> None:
    result, paths = api.check(
        example_path("flawed-student"),
        ["topic-create"],
        out=tmp_path,
        seed=7,
        sandbox_factory=factory("local", warn=False),
    )
    assert not result.has_error, result.assignments[0].error
    assert not result.passed, "the flawed example loses points, so failures are exercised"

    data = json.loads(paths["json"].read_text())
    schema = json.loads((tmp_path / SCHEMA_FILE).read_text())
    jsonschema.Draft202012Validator(schema).validate(data)

    gradescope = json.loads(paths["gradescope"].read_text())
    jsonschema.Draft202012Validator(GRADESCOPE_SCHEMA).validate(gradescope)
    assert gradescope["score"] == result.points

    prairielearn = json.loads(paths["prairielearn"].read_text())
    jsonschema.Draft202012Validator(PRAIRIELEARN_SCHEMA).validate(prairielearn)
    assert prairielearn["score"] == pytest.approx(result.points / result.max_points)

    xsd = etree.XMLSchema(etree.parse(str(XSD)))
    assert xsd.validate(etree.parse(str(paths["junit"]))), xsd.error_log
    (suite,) = JUnitXml.fromfile(str(paths["junit"]))
    run = next(c for c in suite if c.name.startswith("run: "))
    assert run.time > 0.1, "the student's real run time"
    assert all(c.time > 0 for c in suite), "real check durations, none 0.000"

    classroom = json.loads(paths["classroom"].read_text())
    assert sum(t["score"] for t in classroom["tests"]) == result.points
    assert "## Grading:" in paths["summary"].read_text()
