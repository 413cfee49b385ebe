"""Checks for consume-partition: stdout is exactly partition $PARTITION's values in offset order.

The values are drawn from the run's secret (``ctx.secret``), never from $TOPIC, $PARTITION or the
seed: the only way to print them is to read them from Kafka.
"""

from __future__ import annotations

import re

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

PARTITIONS = 6
INT = re.compile(r"[+-]?\d+")
# "key<TAB>value" as kafka-console-consumer prints it with print.key=true (or "key:value", "key value").
KEYED_LINE = re.compile(r"(\S+?)(?:\t|:|,| +)([+-]?\d+)")

EXPECTED = StateKey[dict[int, list[int]]]("expected")
"""Partition -> the secret values the grader wrote into it, in offset order."""
KEYS = StateKey[set[str]]("keys")
"""The record keys the grader wrote (a consumer printing them is told so)."""
VALUES = StateKey[list[int]]("values")
"""The numbers the consumer printed (also those of 'key<TAB>value' lines), in order."""
KEYED = StateKey[list[str]]("keyed")
"""Printed lines that carry a record's key."""
OTHER = StateKey[list[str]]("other")
"""Printed lines that are neither a value nor a keyed value."""


def prepare(ctx: CheckContext) -> None:
    """Create the topic and fill it with secret random values, keyed, spread over all 6 partitions."""
    topic = ctx.params["TOPIC"]
    ctx.kafka.create_topic(topic, PARTITIONS, 2)
    rng = ctx.secret.rng("consume-partition:records")
    total = rng.randint(60, 120)
    values = rng.sample(range(100_000, 1_000_000), total)
    order = list(range(PARTITIONS)) + [rng.randrange(PARTITIONS) for _ in range(total - PARTITIONS)]
    rng.shuffle(order)
    expected: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    records: list[tuple[int | None, bytes | None, bytes]] = []
    for number, (value, partition) in enumerate(zip(values, order, strict=True), start=1):
        expected[partition].append(value)
        records.append((partition, f"k{number}".encode(), str(value).encode()))
    ctx.kafka.produce(topic, records)
    ctx.state[EXPECTED] = expected
    ctx.state[KEYS] = {f"k{n}" for n in range(1, total + 1)}


def parse_stdout(text: str, keys: set[str]) -> tuple[list[int], list[str], list[str]]:
    """The contract of the README: (values, keyed lines, other lines) of the consumer's stdout.

    Each line is stripped of surrounding white space (so '\\r' from CRLF output is fine) and blank
    lines are ignored. A line that is a number is a value. A line "KEY<sep>NUMBER" whose KEY is a key
    the grader wrote (print.key=true) counts its value but is reported as extra output. Anything
    else is extra output.
    """
    values: list[int] = []
    keyed: list[str] = []
    other: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if INT.fullmatch(stripped):
            values.append(int(stripped))
            continue
        match = KEYED_LINE.fullmatch(stripped)
        if match and match.group(1) in keys:
            values.append(int(match.group(2)))
            keyed.append(stripped)
        else:
            other.append(stripped)
    return values, keyed, other


def act(ctx: CheckContext) -> None:
    topic_snapshot(ctx, TOPIC_BEFORE, wait_s=15)
    ctx.state[RUN] = record = ctx.run_entrypoint("consumer run")
    topic_snapshot(ctx, TOPIC_AFTER)
    values, keyed, other = parse_stdout(record.stdout, ctx.state[KEYS]) if record else ([], [], [])
    ctx.state[VALUES], ctx.state[KEYED], ctx.state[OTHER] = values, keyed, other


runs = runs_cleanly(3, title="Consumer ends by itself with exit status 0")
same_topic = topic_unchanged(0, "Read")


@check(
    points=4,
    title="Output is exactly partition $PARTITION, from the beginning, in order",
    hint='kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" '
    '--partition "$PARTITION" --from-beginning --timeout-ms 5000',
    requires=["same_topic"],
)
def exact_partition(ctx: CheckContext) -> None:
    p = ctx.params["PARTITION"]
    expected = ctx.state[EXPECTED][p]
    found = ctx.state[VALUES]
    if found == expected:
        return
    if not found:
        ctx.fail(f"expected the {len(expected)} values of partition {p}; the script printed no numbers")
    in_topic = {v for values in ctx.state[EXPECTED].values() for v in values}
    if not in_topic & set(found):
        ctx.fail(
            f"expected {preview(expected)}; found {preview(found)}: none of the printed numbers is in the "
            "topic. The values change on every run: print the records your consumer reads from Kafka"
        )
    for other, values in ctx.state[EXPECTED].items():
        if other != p and found == values:
            ctx.fail(
                f"expected partition {p} ($PARTITION); you printed partition {other} — is the partition "
                "number hard-coded?"
            )
    everything = sorted(v for vs in ctx.state[EXPECTED].values() for v in vs)
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
    requires=["same_topic"],
)
def nothing_from_others(ctx: CheckContext) -> None:
    p = ctx.params["PARTITION"]
    found = ctx.state[VALUES]
    ctx.expect(found, "the script printed no numbers at all")
    mine = set(ctx.state[EXPECTED][p])
    in_topic = {v for values in ctx.state[EXPECTED].values() for v in values}
    invented = [v for v in found if v not in in_topic]
    ctx.expect(
        not invented,
        f"expected only values read from partition {p}; {len(invented)} printed values are not in the "
        f"topic at all, e.g. {preview(invented, 6)}: print the records your consumer reads",
    )
    foreign = [v for v in found if v not in mine]
    ctx.expect(
        not foreign,
        f"expected only values of partition {p}; {len(foreign)} printed values come from "
        f"other partitions, e.g. {preview(foreign, 6)}",
    )


@check(
    points=1,
    title="Standard output holds only the values, one per line",
    hint="Print nothing else on stdout: send progress messages and logs to stderr (echo ... >&2), "
    "and print the values without their keys (no print.key=true).",
    requires=["same_topic"],
)
def clean_stdout(ctx: CheckContext) -> None:
    found = ctx.state[VALUES]
    ctx.expect(found, "the script printed no numbers at all")
    # Judged only on output that holds the topic's records: numbers made up without reading Kafka are
    # not the consumer's output, and their tidy lines are worth nothing.
    in_topic = {v for values in ctx.state[EXPECTED].values() for v in values}
    ctx.expect(
        in_topic & set(found),
        f"nothing to check: none of the {len(found)} printed numbers is a record of the topic "
        f"(e.g. {preview(found, 6)}); print the records your consumer reads from Kafka",
    )
    keyed, other = ctx.state[KEYED], ctx.state[OTHER]
    ctx.expect(
        not keyed,
        f"expected only the values on stdout, one per line; {len(keyed)} lines also carry the record's "
        f"key, e.g. {keyed[:3]} (print.key=true): print the value alone",
    )
    ctx.expect(
        not other, f"expected only numbers on stdout; found {len(other)} other lines, e.g. {other[:3]}"
    )
