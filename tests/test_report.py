"""Reports: HTML (escaped, phone-friendly, every check findable), results.json, Gradescope JSON, JUnit XML."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.report import write_reports
from grader.report.html import html_id
from grader.results import (
    AssignmentResult,
    CheckResult,
    ExecRecord,
    Note,
    Status,
    SubmissionResult,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
CUT_BYTES = 123_456


def _check(cid: str, status: Status, points: float, max_points: float, **kw: str) -> CheckResult:
    return CheckResult(id=cid, title=kw.pop("title", cid.replace("-", " ").capitalize()), status=status,
                       points=points, max_points=max_points, duration_s=0.25, **kw)


def _submission(name: str, assignments: list[AssignmentResult]) -> SubmissionResult:
    return SubmissionResult(
        submission=name, seed=424242, grader_version="0.1.0",
        started_at=datetime(2026, 1, 15, 10, 30, tzinfo=UTC), duration_s=83.4,
        timings={"cluster_start": 9.1, "student": 41.0, "grader": 42.4, "total": 83.4},
        assignments=assignments,
    )


@pytest.fixture
def full_marks() -> SubmissionResult:
    checks = [_check("topic-exists", Status.PASSED, 4, 4, message="topic hob2026-abc exists"),
              _check("partitions", Status.PASSED, 6, 6, message="6 partitions, as expected")]
    a = AssignmentResult(id="topic-create", title="Create a topic", max_points=10,
                         entrypoint="create_topic.sh", params={"topic": "hob2026-abc", "partitions": 6},
                         checks=checks, timings={"student": 2.0, "grader": 3.0, "total": 5.0})
    return _submission("alice", [a])


@pytest.fixture
def mixed() -> SubmissionResult:
    long_out = SCRIPT + "\n" + "".join(f"line {i}: produced message {i}\n" for i in range(200))
    runs = [
        ExecRecord(label="first run", command=["bash", "create_topic.sh", "hob2026-abc"], returncode=-9,
                   timed_out=True, killed_by_grader=True, duration_s=30.02, stdout=long_out,
                   stderr="\x1b[31mERROR\x1b[0m something\x00 odd", stdout_truncated_bytes=CUT_BYTES),
        ExecRecord(label="restart after checkpoint", command=["python3", "stream.py", "--topic", "a b"],
                   returncode=0, killed_by_grader=True, duration_s=4.5, stdout="ok\n"),
        ExecRecord(label="never started", command=["python3", "missing.py"], returncode=None, duration_s=0.0),
    ]
    topic = AssignmentResult(
        id="topic-create", title="Create a topic", max_points=10, entrypoint="create_topic.sh",
        params={"topic": "hob2026-abc", "partitions": 6, "ratio": 0.5},
        checks=[
            _check("topic-exists", Status.PASSED, 4, 4, message="topic hob2026-abc exists"),
            _check("partitions", Status.FAILED, 0, 3, title="Topic has 6 partitions",
                   message=f"expected 6 partitions, found 3; your script printed {IMG}",
                   hint="pass --partitions 6 to kafka-topics --create",
                   details="kafka-topics --describe:\n" + SCRIPT + "\nPartitionCount: 3"),
            _check("replication", Status.SKIPPED, 0, 3, title="Replication factor 2",
                   message="not checked because the partitions check failed",
                   hint="fix the partitions first"),
        ],
        notes=[Note(text="you used --zookeeper; in Kafka 4 write --bootstrap-server"),
               Note(text="your script took 30 s", kind="warning")],
        runs=runs, timings={"cluster_start": 9.1, "student": 34.5, "grader": 6.0, "total": 49.6},
        logs={"broker-1": "logs/broker-1.log", "broker-2": "logs/broker-2.log"},
    )
    produce = AssignmentResult(
        id="produce-sequence", title="Produce a sequence", max_points=15, entrypoint="produce.py",
        params={"n": 20},
        checks=[
            _check("count", Status.PASSED, 8, 8, title="20 messages produced"),
            _check("order", Status.PASSED, 5, 5, title="Messages in order"),
            _check("keys", Status.ERROR, 0, 2, title="Keys are set",
                   message="Traceback (most recent call last):\n  KeyError: 'partition'"),
        ],
    )
    consume = AssignmentResult(id="consume-partition", title="Consume one partition", max_points=5,
                               error="the Kafka cluster did not start within 60 s")
    return _submission("bob <dev>", [topic, produce, consume])


@pytest.fixture
def failed_only(mixed: SubmissionResult) -> SubmissionResult:
    return mixed.model_copy(update={"assignments": mixed.assignments[:1]})


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


def test_write_reports_writes_every_file(mixed: SubmissionResult, tmp_path: Path) -> None:
    paths = write_reports(mixed, tmp_path / "out")
    assert set(paths) == {"html", "json", "gradescope", "junit"}
    assert paths["html"] == tmp_path / "out" / "report.html"
    assert paths["gradescope"] == tmp_path / "out" / "gradescope" / "results.json"
    for path in paths.values():
        assert path.is_file()
        assert path.stat().st_size > 0
    write_reports(mixed, tmp_path / "out")  # overwriting is fine and leaves no temp files
    leftovers = [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


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


def test_html_score_and_banners(full_marks: SubmissionResult, mixed: SubmissionResult,
                                failed_only: SubmissionResult, tmp_path: Path) -> None:
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


def test_html_checks_show_message_hint_details(mixed: SubmissionResult, full_marks: SubmissionResult,
                                               tmp_path: Path) -> None:
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
    assert data["schema_version"] == mixed.schema_version
    assert (data["points"], data["max_points"], data["passed"], data["has_error"]) == (17, 30, False, True)
    assert data["outcome"] == "error"
    totals = [(a["points"], a["max_points"], a["passed"], a["has_error"]) for a in data["assignments"]]
    assert totals == [(4, 10, False, False), (13, 15, False, True), (0, 5, False, True)]
    assert SubmissionResult.model_validate(data) == mixed


def test_results_json_full_marks(full_marks: SubmissionResult, tmp_path: Path) -> None:
    data = json.loads(write_reports(full_marks, tmp_path)["json"].read_text("utf-8"))
    assert data["passed"] is True
    assert data["outcome"] == "passed"
    assert SubmissionResult.model_validate(data) == full_marks


def test_gradescope_json(mixed: SubmissionResult, tmp_path: Path) -> None:
    data = json.loads(write_reports(mixed, tmp_path)["gradescope"].read_text("utf-8"))
    assert data["score"] == 17
    assert data["max_score"] == 30
    assert isinstance(data["execution_time"], int | float)
    assert "17 / 30" in data["output"]
    assert "not your fault" in data["output"]
    tests = data["tests"]
    for t in tests:
        assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert t["status"] in {"passed", "failed"}
        assert t["visibility"] == "visible"
    by_name = {t["name"]: t for t in tests}
    assert by_name["Create a topic: Topic has 6 partitions"]["status"] == "failed"
    assert "Hint: pass --partitions 6" in by_name["Create a topic: Topic has 6 partitions"]["output"]
    keys = by_name["Produce a sequence: Keys are set"]
    assert keys["status"] == "failed"
    assert keys["score"] == 0
    assert keys["output"].startswith("GRADER ERROR:")
    stopped = by_name["Consume one partition: grader error"]
    assert stopped["max_score"] == 5
    assert stopped["output"].startswith("GRADER ERROR:")
    assert sum(t["score"] for t in tests) == data["score"]
    assert sum(t["max_score"] for t in tests) == data["max_score"]


def test_gradescope_full_marks(full_marks: SubmissionResult, tmp_path: Path) -> None:
    data = json.loads(write_reports(full_marks, tmp_path)["gradescope"].read_text("utf-8"))
    assert (data["score"], data["max_score"]) == (10, 10)
    assert [t["status"] for t in data["tests"]] == ["passed", "passed"]


def _counts(element: ET.Element) -> tuple[str | None, ...]:
    return tuple(element.get(k) for k in ("tests", "failures", "errors", "skipped"))


def test_junit_xml(mixed: SubmissionResult, tmp_path: Path) -> None:
    mixed.assignments[0].checks[1].message += " \x1b[31mred\x1b[0m \x00"
    root = ET.parse(write_reports(mixed, tmp_path)["junit"]).getroot()
    assert root.tag == "testsuites"
    assert _counts(root) == ("7", "1", "2", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["topic-create", "produce-sequence", "consume-partition"]
    topic = suites["topic-create"]
    assert _counts(topic) == ("3", "1", "0", "1")
    assert len(topic.findall("testcase")) == 3
    failure = topic.find("testcase/failure")
    assert failure is not None
    assert "expected 6 partitions" in (failure.get("message") or "")
    assert IMG in (failure.text or "")  # escaped on disk, intact once parsed
    assert SCRIPT in (failure.text or "")
    assert len(root.findall(".//error")) == 2
    assert len(root.findall(".//skipped")) == 1
    assert len(suites["consume-partition"].findall("testcase/error")) == 1
    assert "--zookeeper" in (topic.findtext("system-out") or "")


def test_empty_submission_still_reports(tmp_path: Path) -> None:
    empty = _submission("nobody", [])
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
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
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
