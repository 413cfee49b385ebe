"""The public API for assignment code: everything an assignment folder may import from the engine.

An assignment (``assignments/<id>/``) is loaded as a package by :mod:`grader.registry`, so its
modules import each other relatively (``from .harness import run_timeline``) and the engine only
through this module (like pytest's ``pytest`` over ``_pytest``)::

    from grader.content import CheckContext, StateKey, check

    COUNT = StateKey[int]("count")

    def act(ctx: CheckContext) -> None:
        ctx.state[COUNT] = len(ctx.kafka.read_all(ctx.params["TOPIC"]))

    @check(points=2, title="Something was written", hint="Write into $TOPIC.")
    def written(ctx: CheckContext) -> None:
        ctx.expect(ctx.state[COUNT] > 0, f"expected records in {ctx.params['TOPIC']!r}; found none")

Anything not listed in ``__all__`` is the engine's own and may change without notice.
"""

from __future__ import annotations

from grader.checks import RUN, STUDENT_SECONDS, TIMINGS, Check, CheckContext, Entrypoint, check
from grader.common import (
    TOPIC_AFTER,
    TOPIC_BEFORE,
    describe_run,
    int_lines,
    known_error_hint,
    preview,
    runs_cleanly,
    tail,
    topic_snapshot,
    topic_unchanged,
)
from grader.kafka_util import KafkaView, PartitionInfo, TopicInfo, registered_brokers
from grader.results import ExecRecord
from grader.sandbox.base import Sandbox, SandboxProcess
from grader.state import Stash, StateKey
from grader.waiting import WaitTimeout, poll_until, wait_while

__all__ = [
    "RUN",
    "STUDENT_SECONDS",
    "TIMINGS",
    "TOPIC_AFTER",
    "TOPIC_BEFORE",
    "Check",
    "CheckContext",
    "Entrypoint",
    "ExecRecord",
    "KafkaView",
    "PartitionInfo",
    "Sandbox",
    "SandboxProcess",
    "Stash",
    "StateKey",
    "TopicInfo",
    "WaitTimeout",
    "check",
    "describe_run",
    "int_lines",
    "known_error_hint",
    "poll_until",
    "preview",
    "registered_brokers",
    "runs_cleanly",
    "tail",
    "topic_snapshot",
    "topic_unchanged",
    "wait_while",
]
