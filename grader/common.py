"""Checks and helpers shared by several assignments (entrypoint present, runnable, exits cleanly)."""

from __future__ import annotations

import re

from grader.checks import RUN, Check, CheckContext, check
from grader.kafka_util import TopicInfo
from grader.results import ExecRecord
from grader.state import StateKey
from grader.waiting import WaitTimeout, poll_until


def tail(text: str, lines: int = 12) -> str:
    """The last ``lines`` non-empty lines of ``text``."""
    kept = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def describe_run(record: ExecRecord, limit: float) -> str:
    """One sentence on how a run ended, with the evidence a student needs."""
    if record.returncode is None and not record.timed_out:
        return f"it could not be started: {record.stderr.strip()}"
    if record.timed_out:
        return f"it was still running after the {limit:.0f} s limit and was killed"
    if record.returncode and record.returncode < 0:
        return f"it was killed by signal {-record.returncode}"
    if record.returncode:
        last = tail(record.stderr, 6) or tail(record.stdout, 6) or "(no output)"
        return f"it exited with status {record.returncode}; last lines of its output:\n{last}"
    return "it exited with status 0"


KNOWN_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"command not found|No such file or directory.*kafka-"),
        "a command was not found: the Kafka tools are on PATH as kafka-topics, kafka-console-producer, ... "
        "(also with .sh); call them by name, not by a path from the course cluster",
    ),
    (
        re.compile(r"SyntaxError"),
        "Python reported a syntax error: run 'python3 -m py_compile FILE' to see where",
    ),
    (
        re.compile(r"ModuleNotFoundError: No module named '(\w+)"),
        "a Python module is missing: only the standard library, kafka-python and pyspark are available",
    ),
    (
        re.compile(r"UNKNOWN_TOPIC_OR_PART|UnknownTopicOrPartition|does not exist"),
        "the topic does not exist: use the name from $TOPIC exactly",
    ),
    (
        re.compile(r"Connection to node -1|NoBrokersAvailable|Connection refused"),
        "it could not reach Kafka: use the brokers from $BOOTSTRAP_SERVERS",
    ),
]


def known_error_hint(text: str) -> str:
    """A plain-words explanation of a recognised error in ``text`` (stderr), or ''."""
    for pattern, explanation in KNOWN_ERRORS:
        if pattern.search(text):
            return explanation
    return ""


TOPIC_BEFORE = StateKey[TopicInfo | None]("topic_before")
"""``$TOPIC`` as the grader prepared it, just before the student's code ran (see :func:`topic_snapshot`)."""
TOPIC_AFTER = StateKey[TopicInfo | None]("topic_after")
"""``$TOPIC`` right after the student's code ran."""


def runs_cleanly(
    points: float,
    key: StateKey[ExecRecord | None] = RUN,
    title: str = "Script runs as is and ends by itself with exit status 0",
) -> Check:
    """A check: the entrypoint exists, runs as is (shebang, +x) and its run exited 0 within the limit."""

    @check(
        points=points,
        title=title,
        hint="Keep the template's file name; shell scripts need '#!/usr/bin/env bash' on line 1 and the "
        "executable bit (chmod +x). It must end on its own with exit status 0: consumers need "
        "--timeout-ms or --max-messages.",
    )
    def runs_cleanly(ctx: CheckContext) -> None:
        entry = ctx.entrypoint()
        record = ctx.state.get(key)
        if entry is None or record is None:
            ctx.fail(ctx.missing_entrypoint_message())
        problems = []
        if not entry.runnable_as_is:
            problems.append(
                f"{entry.problem} (the grader ran it with '{entry.command[0]}' so that the other "
                "checks still count)"
            )
        limit = ctx.spec.limits.run_seconds
        if record.returncode != 0 or record.timed_out:
            explanation = known_error_hint(record.stderr)
            problems.append(
                f"expected exit status 0 within {limit:.0f} s, but "
                + describe_run(record, limit)
                + (f"\nLikely cause: {explanation}" if explanation else "")
            )
        ctx.expect(not problems, "\n".join(problems))

    return runs_cleanly


def topic_snapshot(ctx: CheckContext, key: StateKey[TopicInfo | None], wait_s: float = 0.0) -> None:
    """Remember the layout and id of ``$TOPIC`` under ``ctx.state[key]`` (None if it does not exist).

    ``wait_s``: how long to wait for a topic the grader just created to show in the metadata (the
    controller accepts a creation before every broker knows it).
    """

    def described() -> TopicInfo | None:
        info = ctx.kafka.describe_topic(ctx.params["TOPIC"])
        return info if info is not None and info.partitions else None

    try:
        ctx.state[key] = poll_until(described, timeout=wait_s, what=f"topic {ctx.params['TOPIC']!r}")
    except WaitTimeout:
        ctx.state[key] = ctx.kafka.describe_topic(ctx.params["TOPIC"])


def _layout(info: TopicInfo) -> str:
    rf = "/".join(map(str, sorted(info.replication_factors))) or "0"
    return f"{len(info.partitions)} partitions, replication factor {rf}, topic id {info.topic_id or '?'}"


def topic_unchanged(points: float, action: str) -> Check:
    """A check: the topic the grader prepared (snapshots :data:`TOPIC_BEFORE`/:data:`TOPIC_AFTER`) is the same
    object after the student's run: same topic id, partitions and replication factor.

    Usually worth 0 points and required by the checks that read the topic: a script that replaces
    the object under test (e.g. re-creates the topic with 1 partition to get order for free) earns
    nothing from it, while a stub that does nothing does not earn a point for leaving it alone.
    """

    @check(
        points=points,
        title="The prepared topic is still the one the grader created (required by the other checks)",
        hint=f"{action} the existing topic $TOPIC as it is; never delete, re-create or alter it "
        "(no kafka-topics --delete/--create/--alter in this script).",
    )
    def same_topic(ctx: CheckContext) -> None:
        topic = ctx.params["TOPIC"]
        before, after = ctx.state[TOPIC_BEFORE], ctx.state[TOPIC_AFTER]
        assert before is not None, "the grader's prepared topic was missing before the student's run"
        expected = f"expected the topic {topic!r} to stay as the grader created it ({_layout(before)})"
        if after is None:
            ctx.fail(f"{expected}; it was deleted while your script ran")
        changes = []
        if after.topic_id != before.topic_id:
            changes.append("it was deleted and re-created (its topic id changed), which loses its records")
        if len(after.partitions) != len(before.partitions):
            changes.append(f"partitions {len(before.partitions)} -> {len(after.partitions)}")
        if after.replication_factors != before.replication_factors:
            rf_before, rf_after = sorted(before.replication_factors), sorted(after.replication_factors)
            changes.append(f"replication factor {rf_before} -> {rf_after}")
        ctx.expect(not changes, f"{expected}; after your script ran: {_layout(after)}: " + "; ".join(changes))

    return same_topic


def int_lines(text: str) -> tuple[list[int], list[str]]:
    """Split output into integer lines and other (non-empty) lines."""
    values, other = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if re.fullmatch(r"[+-]?\d+", stripped):
            values.append(int(stripped))
        else:
            other.append(stripped)
    return values, other


def preview(values: list[int] | list[str], n: int = 12) -> str:
    """A short readable preview of a list."""
    shown = ", ".join(map(str, values[:n]))
    return f"[{shown}{', …' if len(values) > n else ''}] ({len(values)} in all)"
