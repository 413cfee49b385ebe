"""Checks for produce-sequence: the topic holds exactly 1..N, each partition in increasing order."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from grader.content import (
    RUN,
    TOPIC_AFTER,
    TOPIC_BEFORE,
    CheckContext,
    StateKey,
    check,
    preview,
    runs_cleanly,
    topic_snapshot,
    topic_unchanged,
)

VALUES = StateKey[list[int]]("values")
"""The numbers read back from the topic, partition by partition in offset order."""
JUNK = StateKey[list[str]]("junk")
"""Records that are not numbers (their text, stripped)."""
PER_PARTITION = StateKey[dict[int, list[int]]]("per_partition")
COUNT = StateKey[int]("count")
"""Records in the topic, numbers or not."""


def prepare(ctx: CheckContext) -> None:
    """The topic exists before the student's script runs, as it would after assignment 1."""
    ctx.kafka.create_topic(ctx.params["TOPIC"], 6, 2)


def act(ctx: CheckContext) -> None:
    """Run the producer once, then read back everything the topic holds (the effect, not the output)."""
    topic_snapshot(ctx, TOPIC_BEFORE, wait_s=15)
    ctx.state[RUN] = ctx.run_entrypoint("producer run")
    topic_snapshot(ctx, TOPIC_AFTER)
    records = ctx.kafka.read_all(ctx.params["TOPIC"])
    values: list[int] = []
    junk: list[str] = []
    per_partition: dict[int, list[int]] = {}
    for partition, _offset, _key, raw in records:
        text = (raw or b"").decode("utf-8", errors="replace").strip()
        try:
            value = int(text)
        except ValueError:
            junk.append(text)
            continue
        values.append(value)
        per_partition.setdefault(partition, []).append(value)
    ctx.state[VALUES], ctx.state[JUNK] = values, junk
    ctx.state[PER_PARTITION], ctx.state[COUNT] = per_partition, len(records)


def _records(ctx: CheckContext) -> list[int]:
    """The numbers in the topic; fails when the topic holds no record at all."""
    ctx.expect(ctx.state[COUNT], f"the topic {ctx.params['TOPIC']!r} is empty: nothing was written to it")
    return ctx.state[VALUES]


def _no_numbers(ctx: CheckContext) -> str:
    """Why the topic's records are not numbers, with what they are."""
    junk = ctx.state[JUNK]
    found = f"the topic holds {ctx.state[COUNT]} records but none of them is a number, e.g. {junk[:3]}"
    if any("\x00" in j for j in junk):
        found += (
            " (zero bytes: in Python bytes(i) is i zero bytes, not the digits of i; send "
            "str(i).encode() or set value_serializer=lambda v: str(v).encode())"
        )
    return found + ": write each number as its digits, one record per number, like seq does"


def _subject(ctx: CheckContext, what: str) -> list[int]:
    """The numbers of 1..N in the topic, in the order read: what the duplicates and order checks judge.

    A check over nothing would pass for nothing: with no such number there is nothing to judge, and
    the check fails saying why (e.g. records that are not numbers at all).
    """
    n = ctx.params["N"]
    values = _records(ctx)
    if not values:
        ctx.fail(f"nothing to check {what} in: {_no_numbers(ctx)}")
    mine = [v for v in values if 1 <= v <= n]
    if not mine:
        ctx.fail(
            f"nothing to check {what} in: none of the {len(values)} numbers in the topic is in 1..{n} "
            f"(found {preview(sorted(set(values)), 6)}); write the numbers 1..N with N from the environment"
        )
    return mine


runs = runs_cleanly(2)
same_topic = topic_unchanged(0, "Write into")


@check(
    points=3,
    title="Every number 1..N is in the topic",
    hint='Use N from the environment: seq "$N" | kafka-console-producer --bootstrap-server '
    '"$BOOTSTRAP_SERVERS" --topic "$TOPIC"',
    requires=["same_topic"],
)
def all_values(ctx: CheckContext) -> None:
    n = ctx.params["N"]
    present = set(_records(ctx))
    if not present:
        ctx.fail(f"expected every number 1..{n} (N={n}); {_no_numbers(ctx)}")
    missing = sorted(set(range(1, n + 1)) - present)
    if missing:
        found = f"found {len(present & set(range(1, n + 1)))} of them"
        if present and max(present) < n:
            found += f"; the largest number written is {max(present)} — is N hard-coded? N is {n} this run"
        ctx.fail(f"expected every number 1..{n} (N={n}); {found}; missing {preview(missing)}")


@check(
    points=2,
    title="No number written twice",
    hint="Run the producer once; do not send the sequence again (and do not retry a whole batch by hand).",
    requires=["same_topic"],
)
def no_duplicates(ctx: CheckContext) -> None:
    counts = Counter(_subject(ctx, "for duplicates"))
    dupes = sorted(v for v, c in counts.items() if c > 1)
    ctx.expect(
        not dupes,
        f"expected each number once; {len(dupes)} numbers appear more than once, e.g. "
        + ", ".join(f"{v} ×{counts[v]}" for v in dupes[:8]),
    )


@check(
    points=1,
    title="Nothing but 1..N in the topic",
    hint="Start at 1, not 0 (seq N prints 1..N), and write nothing else into the topic.",
    requires=["same_topic"],
)
def nothing_else(ctx: CheckContext) -> None:
    n = ctx.params["N"]
    values = _records(ctx)
    outside = sorted({v for v in values if not 1 <= v <= n})
    junk = ctx.state[JUNK]
    problems = []
    if outside:
        problems.append(f"numbers outside 1..{n}: {preview(outside)}")
    if junk:
        problems.append(f"{len(junk)} records that are not numbers, e.g. {junk[:3]}")
    ctx.expect(not problems, "expected only the numbers 1..N; found " + "; ".join(problems))


@check(
    points=2,
    title="Each partition's numbers are in increasing order",
    hint="Send the numbers in order from one producer (Kafka keeps order within a partition only).",
    requires=["same_topic"],
)
def partition_order(ctx: CheckContext) -> None:
    n = ctx.params["N"]
    _subject(ctx, "the order")
    per_partition = {
        partition: list(dict.fromkeys(v for v in values if 1 <= v <= n))
        for partition, values in sorted(ctx.state[PER_PARTITION].items())
    }
    if all(len(values) < 2 for values in per_partition.values()):
        ctx.fail(
            "nothing to check the order in: no partition holds two different numbers of 1..N "
            f"(numbers per partition: { {p: len(v) for p, v in per_partition.items()} }); write all of 1..N"
        )
    for partition, first_seen in per_partition.items():
        for a, b in pairwise(first_seen):
            if b < a:
                ctx.fail(
                    f"expected increasing numbers within each partition; partition {partition} has {a} "
                    f"before {b}: {preview(first_seen)}"
                )
