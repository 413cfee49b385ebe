"""Checks for consume-partition: stdout is exactly partition $PARTITION's values in offset order."""

from __future__ import annotations

import random

from grader.checks import CheckContext, check
from grader.common import int_lines, preview, runs_cleanly

PARTITIONS = 6


def prepare(ctx: CheckContext) -> None:
    """Create the topic and fill it: values 1..M, keyed, spread over all 6 partitions."""
    topic = ctx.params["TOPIC"]
    ctx.kafka.create_topic(topic, PARTITIONS, 2)
    rng = random.Random(f"{ctx.params['TOPIC']}:{ctx.params['PARTITION']}")
    total = rng.randint(60, 120)
    order = list(range(PARTITIONS)) + [rng.randrange(PARTITIONS) for _ in range(total - PARTITIONS)]
    rng.shuffle(order)
    expected: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    records = []
    for value, partition in enumerate(order, start=1):
        expected[partition].append(value)
        records.append((partition, f"key-{value}".encode(), str(value).encode()))
    ctx.kafka.produce(topic, records)
    ctx.state["expected"] = expected


def act(ctx: CheckContext) -> None:
    ctx.state["run"] = record = ctx.run_entrypoint("consumer run")
    values, other = int_lines(record.stdout) if record else ([], [])
    ctx.state.update(values=values, other=other)


runs = runs_cleanly(3, title="Consumer ends by itself with exit status 0")


@check(
    points=4,
    title="Output is exactly partition $PARTITION, from the beginning, in order",
    hint='kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" '
    '--partition "$PARTITION" --from-beginning --timeout-ms 5000',
)
def exact_partition(ctx: CheckContext) -> None:
    p = ctx.params["PARTITION"]
    expected: list[int] = ctx.state["expected"][p]
    found: list[int] = ctx.state["values"]
    if found == expected:
        return
    if not found:
        ctx.fail(f"expected the {len(expected)} values of partition {p}; the script printed no numbers")
    for other, values in ctx.state["expected"].items():
        if other != p and found == values:
            ctx.fail(
                f"expected partition {p} ($PARTITION); you printed partition {other} — is the partition "
                "number hard-coded?"
            )
    everything = sorted(v for vs in ctx.state["expected"].values() for v in vs)
    if sorted(found) == everything:
        ctx.fail(
            f"expected only partition {p} ({len(expected)} values); you printed the whole topic "
            f'({len(found)} values): add --partition "$PARTITION"'
        )
    if sorted(found) == sorted(expected):
        ctx.fail(
            f"the right values but in another order: expected offset order {preview(expected)}, "
            f"found {preview(found)}"
        )
    missing = [v for v in expected if v not in set(found)]
    ctx.fail(
        f"expected {preview(expected)}; found {preview(found)}"
        + (f"; missing {preview(missing)} — read from the beginning (--from-beginning)" if missing else "")
    )


@check(
    points=2,
    title="Nothing from other partitions",
    hint='Read a single partition: --partition "$PARTITION" (with kafka-python: assign() that one '
    "TopicPartition instead of subscribe()).",
)
def nothing_from_others(ctx: CheckContext) -> None:
    p = ctx.params["PARTITION"]
    found = ctx.state["values"]
    ctx.expect(found, "the script printed no numbers at all")
    mine = set(ctx.state["expected"][p])
    foreign = [v for v in found if v not in mine]
    ctx.expect(
        not foreign,
        f"expected only values of partition {p}; {len(foreign)} printed values come from "
        f"other partitions, e.g. {preview(foreign, 6)}",
    )


@check(
    points=1,
    title="Standard output holds only the values, one per line",
    hint="Print nothing else on stdout: send progress messages and logs to stderr (echo ... >&2).",
)
def clean_stdout(ctx: CheckContext) -> None:
    ctx.expect(ctx.state["values"], "the script printed no numbers at all")
    other = ctx.state["other"]
    ctx.expect(
        not other, f"expected only numbers on stdout; found {len(other)} other lines, e.g. {other[:3]}"
    )
