"""Checks for produce-sequence: the topic holds exactly 1..N, each partition in increasing order."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from grader.checks import CheckContext, check
from grader.common import preview, runs_cleanly, topic_snapshot, topic_unchanged


def prepare(ctx: CheckContext) -> None:
    """The topic exists before the student's script runs, as it would after assignment 1."""
    ctx.kafka.create_topic(ctx.params["TOPIC"], 6, 2)


def act(ctx: CheckContext) -> None:
    """Run the producer once, then read back everything the topic holds (the effect, not the output)."""
    topic_snapshot(ctx, "topic_before", wait_s=15)
    ctx.state["run"] = ctx.run_entrypoint("producer run")
    topic_snapshot(ctx, "topic_after")
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
    ctx.state.update(values=values, junk=junk, per_partition=per_partition, count=len(records))


def _values(ctx: CheckContext) -> list[int]:
    ctx.expect(ctx.state["count"], f"the topic {ctx.params['TOPIC']!r} is empty: nothing was written to it")
    return ctx.state["values"]


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
    present = set(_values(ctx))
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
    counts = Counter(_values(ctx))
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
    values = _values(ctx)
    outside = sorted({v for v in values if not 1 <= v <= n})
    junk = ctx.state["junk"]
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
    _values(ctx)
    for partition, values in sorted(ctx.state["per_partition"].items()):
        first_seen = list(dict.fromkeys(values))
        for a, b in pairwise(first_seen):
            if b < a:
                ctx.fail(
                    f"expected increasing numbers within each partition; partition {partition} has {a} "
                    f"before {b}: {preview(first_seen)}"
                )
