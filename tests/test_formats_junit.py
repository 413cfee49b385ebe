"""JUnit XML: valid against junit-10.xsd (as pytest checks its own), real durations, student output."""

from __future__ import annotations

from pathlib import Path

import pytest
import report_data
from junitparser import Error, Failure, JUnitXml, Skipped
from lxml import etree

from grader.report import write_reports
from grader.results import SubmissionResult

XSD = Path(__file__).parent / "data" / "junit-10.xsd"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def _written(result: SubmissionResult, tmp_path: Path, schema: etree.XMLSchema) -> Path:
    path = write_reports(result, tmp_path, ["junit"])["junit"]
    document = etree.parse(str(path))
    assert schema.validate(document), schema.error_log
    return path


@pytest.mark.parametrize("name", ["full_marks", "mixed", "failed_only", "with_hidden"])
def test_valid_against_junit_10_xsd(name: str, tmp_path: Path, schema: etree.XMLSchema) -> None:
    _written(getattr(report_data, name)(), tmp_path, schema)


def test_empty_run_is_valid(tmp_path: Path, schema: etree.XMLSchema) -> None:
    _written(report_data.submission("nobody", []), tmp_path, schema)


def test_outcomes_counts_and_durations(tmp_path: Path, schema: etree.XMLSchema) -> None:
    result = report_data.mixed()
    result.assignments[0].checks[1].message += " \x1b[31mred\x1b[0m \x00"
    xml = JUnitXml.fromfile(str(_written(result, tmp_path, schema)))
    suites = {s.name: s for s in xml}
    assert list(suites) == ["topic-create", "produce-sequence", "consume-partition"]
    topic = suites["topic-create"]
    assert (topic.tests, topic.failures, topic.errors, topic.skipped) == (4, 2, 0, 1)
    cases = {c.name: c for c in topic}
    run = cases["run: create_topic.sh"]
    assert run.time == pytest.approx(34.52), "the student's program time is a test case's time"
    assert "line 199: produced message 199" in (run.system_out or "")
    assert "ERROR something odd" in (run.system_err or ""), "ANSI and NUL removed"
    assert isinstance(run.result[0], Failure)
    assert "could not be started" in (run.result[0].message or "")
    failure = cases["partitions: Topic has 6 partitions"].result[0]
    assert isinstance(failure, Failure)
    assert "expected 6 partitions" in (failure.message or "")
    assert report_data.IMG in (failure.text or "")
    assert "PartitionCount: 3" in (failure.text or "")
    assert isinstance(cases["replication: Replication factor 2"].result[0], Skipped)
    assert all(c.time > 0 for c in topic), "no check reports 0.000 s"
    produce = {c.name: c for c in suites["produce-sequence"]}
    error = produce["keys: Keys are set"].result[0]
    assert isinstance(error, Error), "a grader error is <error>, not the student's <failure>"
    assert "not your fault" in (error.text or "")
    consume = list(suites["consume-partition"])
    assert len(consume) == 1
    assert isinstance(consume[0].result[0], Error)
    assert (xml.tests, xml.failures, xml.errors) == (8, 2, 2)


def test_suite_properties_and_no_skipped_on_testsuites(tmp_path: Path, schema: etree.XMLSchema) -> None:
    root = etree.parse(str(_written(report_data.failed_only(), tmp_path, schema))).getroot()
    assert root.get("skipped") is None, "junit-10.xsd has no skipped attribute on <testsuites>"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["seed"] == "424242"
    assert props["param.topic"] == "hob2026-abc"
    assert props["max_points"] == "10"
    assert "--zookeeper" in (root.findtext("testsuite/system-out") or "")
