"""Reports: HTML (escaped, phone-friendly, every check findable), results.json, Gradescope JSON, JUnit XML."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import report_data
from report_data import CUT_BYTES, IMG, SCRIPT

from grader.errors import UsageError
from grader.report import FORMATS, write_reports
from grader.report.html import html_id, render_html
from grader.results import SCHEMA_FILE, SubmissionResult


@pytest.fixture
def full_marks() -> SubmissionResult:
    return report_data.full_marks()


@pytest.fixture
def mixed() -> SubmissionResult:
    return report_data.mixed()


@pytest.fixture
def failed_only() -> SubmissionResult:
    return report_data.failed_only()


class _Elements(HTMLParser):
    """Collects every start tag's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    return parser.tags


def _text(page: str) -> str:
    """The page's text with tags removed, entities decoded and whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _html(result: SubmissionResult, out: Path) -> str:
    return write_reports(result, out)["html"].read_text("utf-8")


def test_write_reports_writes_every_file(full_marks: SubmissionResult, tmp_path: Path) -> None:
    paths = write_reports(full_marks, tmp_path / "out")
    assert set(paths) == set(FORMATS)
    assert paths["html"] == tmp_path / "out" / "report.html"
    assert paths["gradescope"] == tmp_path / "out" / "gradescope" / "results.json"
    assert paths["prairielearn"] == tmp_path / "out" / "prairielearn" / "results.json"
    for path in paths.values():
        assert path.is_file()
        assert path.stat().st_size > 0
    assert (tmp_path / "out" / SCHEMA_FILE).is_file(), "results.json names its schema, which lies beside it"
    write_reports(full_marks, tmp_path / "out")  # overwriting is fine and leaves no temp files
    leftovers = [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_grader_error_writes_no_gradescope_file_and_removes_a_stale_one(
    full_marks: SubmissionResult, mixed: SubmissionResult, tmp_path: Path
) -> None:
    stale = write_reports(full_marks, tmp_path)["gradescope"]
    paths = write_reports(mixed, tmp_path)
    assert "gradescope" not in paths
    assert not stale.exists(), "a stale Gradescope file would post the previous score"
    assert set(paths) == set(FORMATS) - {"gradescope"}


def test_formats_alone_use_platform_file_names(full_marks: SubmissionResult, tmp_path: Path) -> None:
    paths = write_reports(full_marks, tmp_path, ["gradescope"])
    assert paths == {"gradescope": tmp_path / "results.json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"], "nothing but Gradescope's file"
    assert "tests" in json.loads(paths["gradescope"].read_text())
    paths = write_reports(full_marks, tmp_path / "two", ["junit", "summary"])
    assert paths == {"junit": tmp_path / "two" / "junit.xml", "summary": tmp_path / "two" / "summary.md"}


def test_formats_that_would_share_a_file_are_a_usage_error(
    full_marks: SubmissionResult, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match=r"both write results\.json"):
        write_reports(full_marks, tmp_path, ["json", "gradescope"])
    with pytest.raises(UsageError, match="unknown format"):
        write_reports(full_marks, tmp_path, ["moodle"])
    assert list(tmp_path.iterdir()) == []


def test_html_student_view_leaves_out_checks_not_visible_yet(tmp_path: Path) -> None:
    result = report_data.with_hidden()
    ta = _text(render_html(result))
    student = _text(render_html(result, view="student"))
    assert "Hidden check" in ta
    assert "secret expectation" in ta
    assert "After the due date (shown to students after the due date)" in ta
    assert "Hidden check (hidden from students)" in ta
    assert "Visible check (" not in ta
    assert "Hidden check" not in student
    assert "After the due date" not in student
    assert "secret expectation" not in student
    assert "2 / 2" in student, "totals cover only what the student sees"
    assert "2 more check(s), worth 8 points, are graded but shown later or only to your TA" in student
    assert result.points == 7, "the model itself is not changed by the view"


def test_html_escapes_student_output(mixed: SubmissionResult, tmp_path: Path) -> None:
    page = _html(mixed, tmp_path)
    assert SCRIPT not in page
    assert "<script" not in page.lower()
    assert IMG not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "bob &lt;dev&gt;" in page
    assert "\x1b" not in page
    assert "\x00" not in page
    assert "ERROR something odd" in page


def test_html_self_contained_and_phone_ready(mixed: SubmissionResult, tmp_path: Path) -> None:
    page = _html(mixed, tmp_path)
    tags = _elements(page)
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in tags
    assert not [t for t, a in tags if t in {"script", "link", "img", "iframe"}]
    assert not [a for _, a in tags if str(a.get("src", "")).startswith("http")]
    assert "overflow-x: auto" in page
    assert not re.search(r"[^-]width:\s*\d+px", page)


def test_html_score_and_banners(
    full_marks: SubmissionResult, mixed: SubmissionResult, failed_only: SubmissionResult, tmp_path: Path
) -> None:
    full = _text(_html(full_marks, tmp_path / "full"))
    assert "10 / 10" in full
    assert "100%" in full
    assert "every check passed" in full
    assert "not your fault" not in full

    text = _text(_html(mixed, tmp_path / "mixed"))
    assert "17 / 30" in text
    assert "57%" in text
    assert "Grader error" in text
    assert "This is not your fault; tell your TA." in text
    assert "4 / 10" in text
    assert "13 / 15" in text
    assert "0 / 5" in text
    assert "the Kafka cluster did not start within 60 s" in text

    failed = _text(_html(failed_only, tmp_path / "failed"))
    assert "4 / 10" in failed
    assert "Not passed yet" in failed
    assert "not your fault" not in failed


def test_html_every_check_has_id_and_status(mixed: SubmissionResult, tmp_path: Path) -> None:
    tags = _elements(_html(mixed, tmp_path))
    by_id = {a["id"]: a for _, a in tags if a.get("id")}
    ids = [a["id"] for _, a in tags if a.get("id")]
    assert len(ids) == len(set(ids)), "HTML ids must be unique"
    for a in mixed.assignments:
        assert html_id("assignment", a.id) in by_id
        for c in a.checks:
            element = by_id[html_id("check", a.id, c.id)]
            assert element["data-status"] == c.status.value
            assert element["data-check-id"] == c.id
    statuses = {a["data-status"] for _, a in tags if "data-check-id" in a}
    assert statuses == {"passed", "failed", "skipped", "error"}


def test_html_checks_show_message_hint_details(
    mixed: SubmissionResult, full_marks: SubmissionResult, tmp_path: Path
) -> None:
    text = _text(_html(mixed, tmp_path / "m"))
    assert "expected 6 partitions, found 3" in text
    assert "What to do: pass --partitions 6 to kafka-topics --create" in text
    assert "Details" in text
    assert "PartitionCount: 3" in text
    for label in ("✓ Passed", "✗ Failed", "– Skipped", "⚠ Grader error"):
        assert label in text
    full_marks.assignments[0].checks[0].hint = "a hint nobody needs"
    assert "a hint nobody needs" not in _html(full_marks, tmp_path / "f")


def test_html_runs_notes_params_logs_seed(mixed: SubmissionResult, tmp_path: Path) -> None:
    page = _html(mixed, tmp_path)
    text = _text(page)
    assert "killed at the time limit" in text
    assert f"({CUT_BYTES} bytes cut)" in text
    assert "bash create_topic.sh hob2026-abc" in text
    assert "python3 stream.py --topic 'a b'" in text
    assert "killed by signal 9 (SIGKILL)" in text
    assert "exit code 0" in text
    assert "could not be started" in text
    assert "stopped by the grader on purpose" in text
    assert "you used --zookeeper; in Kafka 4 write --bootstrap-server" in text
    assert "hob2026-abc" in text
    assert "424242" in text
    assert "grader check <path to bob <dev>> --seed 424242" in text
    assert ("a", {"href": "logs/broker-1.log"}) in _elements(page)
    assert "Kafka cluster start" in text
    assert page.count("<details") >= 4


def test_results_json_round_trips(mixed: SubmissionResult, tmp_path: Path) -> None:
    data = json.loads(write_reports(mixed, tmp_path)["json"].read_text("utf-8"))
    assert next(iter(data)) == "$schema"
    assert data["$schema"] == SCHEMA_FILE
    assert data["schema_version"] == mixed.schema_version
    assert (data["points"], data["max_points"], data["passed"], data["has_error"]) == (17, 30, False, True)
    assert data["outcome"] == "error"
    totals = [(a["points"], a["max_points"], a["passed"], a["has_error"]) for a in data["assignments"]]
    assert totals == [(4, 10, False, False), (13, 15, False, True), (0, 5, False, True)]
    assert [a["outcome"] for a in data["assignments"]] == ["failed", "error", "error"]
    assert SubmissionResult.model_validate(data) == mixed


def test_results_json_full_marks(full_marks: SubmissionResult, tmp_path: Path) -> None:
    data = json.loads(write_reports(full_marks, tmp_path)["json"].read_text("utf-8"))
    assert data["passed"] is True
    assert data["outcome"] == "passed"
    assert data["assignments"][0]["checks"][0]["visibility"] == "visible"
    assert SubmissionResult.model_validate(data) == full_marks


def test_empty_submission_still_reports(tmp_path: Path) -> None:
    empty = report_data.submission("nobody", [])
    paths = write_reports(empty, tmp_path)
    assert "0 / 0" in _text(paths["html"].read_text("utf-8"))
    assert json.loads(paths["gradescope"].read_text("utf-8"))["tests"] == []
    assert ET.parse(paths["junit"]).getroot().get("tests") == "0"
    assert SubmissionResult.model_validate_json(paths["json"].read_text("utf-8")) == empty


@pytest.mark.browser
def test_report_renders_in_headless_chromium(mixed: SubmissionResult, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium binary on PATH (apt-get install chromium)")
    page = write_reports(mixed, tmp_path / "out")["html"]
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'id="total-score"' in dom
    text = _text(dom)
    assert "17 / 30" in text
    assert "This is not your fault; tell your TA." in text
    for a in mixed.assignments:
        assert a.title in text
        for c in a.checks:
            assert c.title in text
            assert f'id="{html_id("check", a.id, c.id)}"' in dom
    assert "<script>alert(1)</script>" not in dom


def test_a_grader_error_takes_each_platforms_not_your_fault_path(
    mixed: SubmissionResult, tmp_path: Path
) -> None:
    paths = write_reports(mixed, tmp_path)
    assert "gradescope" not in paths, "Gradescope: no results file, its autograder-failure state"
    prairielearn = json.loads(paths["prairielearn"].read_text("utf-8"))
    assert prairielearn["gradable"] is False
    classroom = json.loads(paths["classroom"].read_text("utf-8"))
    assert (classroom["status"], classroom["max_score"]) == ("error", 0)
    junit = ET.parse(paths["junit"]).getroot()
    assert junit.get("errors") == "2"
    assert len(junit.findall(".//error")) == 2
    assert json.loads(paths["json"].read_text("utf-8"))["outcome"] == "error"
    assert "not your fault" in _text(paths["html"].read_text("utf-8"))
    assert "**Grader error**" in paths["summary"].read_text("utf-8")
