"""Results-model values for report tests: full marks, a mix of every status, a grader error, hidden checks."""

from __future__ import annotations

from datetime import UTC, datetime

from grader.results import (
    AssignmentResult,
    CheckResult,
    ExecRecord,
    Note,
    Status,
    SubmissionResult,
    Visibility,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
CUT_BYTES = 123_456


def check(cid: str, status: Status, points: float, max_points: float, **kw: object) -> CheckResult:
    """A check result with a readable default title and a 0.25 s duration."""
    title = str(kw.pop("title", cid.replace("-", " ").capitalize()))
    return CheckResult(
        id=cid, title=title, status=status, points=points, max_points=max_points, duration_s=0.25, **kw
    )  # type: ignore[arg-type]


def submission(name: str, assignments: list[AssignmentResult]) -> SubmissionResult:
    """A submission result with fixed seed, version and times."""
    return SubmissionResult(
        submission=name,
        seed=424242,
        grader_version="0.1.0",
        started_at=datetime(2026, 1, 15, 10, 30, tzinfo=UTC),
        duration_s=83.4,
        timings={"cluster_start": 9.1, "student": 41.0, "grader": 42.4, "total": 83.4},
        assignments=assignments,
    )


def full_marks() -> SubmissionResult:
    """One assignment, every check passed."""
    checks = [
        check("topic-exists", Status.PASSED, 4, 4, message="topic hob2026-abc exists"),
        check("partitions", Status.PASSED, 6, 6, message="6 partitions, as expected"),
    ]
    runs = [
        ExecRecord(label="run", command=["./create_topic.sh"], returncode=0, duration_s=2.0, stdout="ok\n")
    ]
    a = AssignmentResult(
        id="topic-create", title="Create a topic", max_points=10, entrypoint="topic-create/create_topic.sh",
        params={"topic": "hob2026-abc", "partitions": 6}, checks=checks, runs=runs,
        timings={"student": 2.0, "grader": 3.0, "total": 5.0},
    )  # fmt: skip
    return submission("alice", [a])


def topic_with_failures() -> AssignmentResult:
    """Passed, failed (with markup and ANSI in the message) and skipped checks; a killed run."""
    long_out = SCRIPT + "\n" + "".join(f"line {i}: produced message {i}\n" for i in range(200))
    runs = [
        ExecRecord(label="first run", command=["bash", "create_topic.sh", "hob2026-abc"], returncode=-9,
                   timed_out=True, killed_by_grader=True, duration_s=30.02, stdout=long_out,
                   stderr="\x1b[31mERROR\x1b[0m something\x00 odd", stdout_truncated_bytes=CUT_BYTES),
        ExecRecord(label="restart after checkpoint", command=["python3", "stream.py", "--topic", "a b"],
                   returncode=0, killed_by_grader=True, duration_s=4.5, stdout="ok\n"),
        ExecRecord(label="never started", command=["python3", "missing.py"], returncode=None, duration_s=0.0),
    ]  # fmt: skip
    return AssignmentResult(
        id="topic-create", title="Create a topic", max_points=10, entrypoint="create_topic.sh",
        params={"topic": "hob2026-abc", "partitions": 6, "ratio": 0.5},
        checks=[
            check("topic-exists", Status.PASSED, 4, 4, message="topic hob2026-abc exists"),
            check("partitions", Status.FAILED, 0, 3, title="Topic has 6 partitions",
                  message=f"expected 6 partitions, found 3; your script printed {IMG}",
                  hint="pass --partitions 6 to kafka-topics --create",
                  details="kafka-topics --describe:\n" + SCRIPT + "\nPartitionCount: 3"),
            check("replication", Status.SKIPPED, 0, 3, title="Replication factor 2",
                  message="not checked because the partitions check failed", hint="fix the partitions first"),
        ],
        notes=[Note(text="you used --zookeeper; in Kafka 4 write --bootstrap-server"),
               Note(text="your script took 30 s", kind="warning")],
        runs=runs, timings={"cluster_start": 9.1, "student": 34.5, "grader": 6.0, "total": 49.6},
        logs={"broker-1": "logs/broker-1.log", "broker-2": "logs/broker-2.log"},
    )  # fmt: skip


def produce_with_error() -> AssignmentResult:
    """Two passed checks and one the grader broke on."""
    return AssignmentResult(
        id="produce-sequence", title="Produce a sequence", max_points=15, entrypoint="produce.py",
        params={"n": 20},
        checks=[
            check("count", Status.PASSED, 8, 8, title="20 messages produced"),
            check("order", Status.PASSED, 5, 5, title="Messages in order"),
            check("keys", Status.ERROR, 0, 2, title="Keys are set",
                  message="Traceback (most recent call last):\n  KeyError: 'partition'"),
        ],
    )  # fmt: skip


def cluster_down() -> AssignmentResult:
    """An assignment the sandbox failed before any check existed."""
    return AssignmentResult(
        id="consume-partition", title="Consume one partition", max_points=5,
        error="the Kafka cluster did not start within 60 s",
    )  # fmt: skip


def mixed() -> SubmissionResult:
    """Every status, notes, runs, logs and a grader error."""
    return submission("bob <dev>", [topic_with_failures(), produce_with_error(), cluster_down()])


def failed_only() -> SubmissionResult:
    """Student mistakes only (no grader error)."""
    return submission("carol", [topic_with_failures()])


def with_hidden() -> SubmissionResult:
    """A visible, an after-due-date and a hidden check."""
    checks = [
        check("visible-one", Status.PASSED, 2, 2, title="Visible check"),
        check("later-one", Status.FAILED, 0, 3, title="After the due date", message="secret expectation",
              visibility=Visibility.AFTER_DUE_DATE),
        check("hidden-one", Status.PASSED, 5, 5, title="Hidden check", message="hidden detail",
              visibility=Visibility.HIDDEN),
    ]  # fmt: skip
    a = AssignmentResult(id="topic-create", title="Create a topic", max_points=10, checks=checks)
    return submission("dave", [a])
