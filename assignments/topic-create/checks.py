"""Checks for topic-create: the topic $TOPIC exists with 6 partitions and RF 2, spread over brokers."""

from __future__ import annotations

from grader.content import (
    RUN,
    CheckContext,
    ExecRecord,
    StateKey,
    TopicInfo,
    check,
    registered_brokers,
    runs_cleanly,
    topic_snapshot,
)

PARTITIONS = 6
REPLICATION = 2
SETTLE_S = 5.0

AFTER_FIRST = StateKey[TopicInfo | None]("after_first")
"""$TOPIC after the first run (None: no such topic)."""
AFTER_SECOND = StateKey[TopicInfo | None]("after_second")
TOPICS = StateKey[list[str]]("topics")
"""Every topic of the cluster after the first run (to show a student who used another name)."""
SECOND_RUN = StateKey[ExecRecord | None]("second_run")
MARKER_KEPT = StateKey[bool]("marker_kept")
"""The secret record written between the two runs is still in the topic after the second."""


def act(ctx: CheckContext) -> None:
    """Run the script, leave a record in the topic, run the script again, look at the topic."""
    topic = ctx.params["TOPIC"]
    ctx.state[RUN] = ctx.run_entrypoint("first run")
    # The controller accepts a creation a moment before every broker knows the topic (longer under
    # load): a topic that is missing is looked for again for a few seconds before it counts as missing.
    run = ctx.state[RUN]
    topic_snapshot(ctx, AFTER_FIRST, wait_s=SETTLE_S if run is not None and run.returncode == 0 else 1.0)
    info = ctx.state[AFTER_FIRST]
    ctx.state[TOPICS] = ctx.kafka.topics()
    if run is None or info is None:
        return
    # The record's content is secret, so a script cannot fake "the data survived" by writing it back.
    marker = f"grader-marker-{ctx.secret.rng('topic-create:marker').getrandbits(64):016x}".encode()
    ctx.kafka.produce(topic, [(0, None, marker)])
    ctx.state[SECOND_RUN] = ctx.run_entrypoint("second run (must not break anything)")
    topic_snapshot(ctx, AFTER_SECOND, wait_s=SETTLE_S)
    ctx.state[MARKER_KEPT] = any(v == marker for _, _, _, v in ctx.kafka.read_all(topic, timeout_s=10))


def _info(ctx: CheckContext) -> TopicInfo:
    info = ctx.state[AFTER_FIRST]
    assert info is not None
    return info


runs = runs_cleanly(2)


@check(
    points=2,
    title="Topic exists under the name in $TOPIC",
    hint='Use the name from the environment: --topic "$TOPIC" (it changes on every run).',
)
def topic_exists(ctx: CheckContext) -> None:
    topic = ctx.params["TOPIC"]
    if ctx.state[AFTER_FIRST] is None:
        others = ctx.state[TOPICS]
        found = (
            f"the cluster has these topics: {', '.join(others)}" if others else "the cluster has no topics"
        )
        ctx.fail(f"expected a topic named {topic!r} ($TOPIC); {found}")


@check(
    points=2, title="Topic has 6 partitions", hint="Create it with --partitions 6.", requires=["topic_exists"]
)
def six_partitions(ctx: CheckContext) -> None:
    n = len(_info(ctx).partitions)
    ctx.expect(n == PARTITIONS, f"expected {PARTITIONS} partitions on {ctx.params['TOPIC']!r}, found {n}")


@check(
    points=2,
    title="Replication factor 2 on every partition",
    hint="Create it with --replication-factor 2.",
    requires=["topic_exists"],
)
def replication_factor(ctx: CheckContext) -> None:
    wrong = {p.partition: len(p.replicas) for p in _info(ctx).partitions if len(p.replicas) != REPLICATION}
    if wrong:
        found = ", ".join(f"partition {p}: {rf}" for p, rf in sorted(wrong.items()))
        ctx.fail(f"expected {REPLICATION} replicas on every partition; found {found}")


@check(
    points=1,
    title="Replicas on distinct brokers, spread over the cluster",
    hint="Let Kafka place the replicas (no --replica-assignment): each partition's copies must live on "
    "different brokers, and the partitions should use every broker.",
    requires=["topic_exists"],
)
def replicas_spread(ctx: CheckContext) -> None:
    info = _info(ctx)
    same = [p.partition for p in info.partitions if len(set(p.replicas)) != len(p.replicas)]
    ctx.expect(not same, f"partitions {same} keep two copies on the same broker")
    used = {b for p in info.partitions for b in p.replicas}
    expected = registered_brokers(ctx.kafka.admin)
    idle = sorted(expected - used)
    ctx.expect(
        not idle,
        f"expected the replicas to use all {len(expected)} brokers; broker(s) {idle} hold "
        f"no replica (replicas: { {p.partition: list(p.replicas) for p in info.partitions} })",
    )


@check(
    points=1,
    title="Running the script a second time breaks nothing",
    hint="Make it idempotent: kafka-topics --create --if-not-exists (or check --list first); never "
    "delete and re-create the topic.",
    requires=["topic_exists"],
)
def second_run_safe(ctx: CheckContext) -> None:
    second = ctx.state.get(SECOND_RUN)
    after = ctx.state.get(AFTER_SECOND)
    if after is None:
        ctx.fail("after the second run the topic is gone")
    before = _info(ctx)
    ctx.expect(
        len(after.partitions) == len(before.partitions)
        and after.replication_factors == before.replication_factors,
        f"the second run changed the topic: {len(before.partitions)} -> {len(after.partitions)} partitions",
    )
    ctx.expect(
        after.topic_id == before.topic_id,
        "the second run deleted and re-created the topic (its topic id changed from "
        f"{before.topic_id} to {after.topic_id}), which loses every record in it",
    )
    ctx.expect(
        ctx.state.get(MARKER_KEPT),
        "the record written between the two runs is gone: the second run "
        "deleted and re-created the topic, which loses data",
    )
    if second is not None and second.returncode != 0:
        output = second.stderr + second.stdout
        ctx.expect(
            "already exists" in output,
            f"the second run failed with exit status {second.returncode}: {output.strip()[-300:]}",
        )
        ctx.note(
            "On the second run kafka-topics said the topic already exists and exited with status "
            f"{second.returncode}: harmless here, but --if-not-exists makes the script idempotent."
        )
