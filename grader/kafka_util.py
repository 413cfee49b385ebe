"""Small kafka-python helpers the grader's checks use to look at a cluster."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

# kafka-python logs connection attempts at WARNING/ERROR while a cluster starts; the grader
# reports what matters itself.
logging.getLogger("kafka").setLevel(logging.CRITICAL)

# kafka-python backs off exponentially up to 30 s between connection attempts; while a broker is
# still starting (or was just restarted) that turns a 5 s start into 11 s. Retry at least every second.
RECONNECT_BACKOFF_MAX_MS = 1000
METADATA_MAX_AGE_MS = 5000


def admin_client(
    bootstrap: str, timeout_ms: int = 10000, connect_timeout_ms: int | None = None
) -> KafkaAdminClient:
    """An admin client for ``bootstrap`` (comma-separated host:port list).

    Raises ``kafka.errors.KafkaTimeoutError`` if no broker answers within ``connect_timeout_ms``
    (default: ``timeout_ms``, the per-request timeout).
    """
    # KafkaAdminClient starts its IO thread before it bootstraps and does not stop it when the
    # bootstrap fails, so every failed attempt (callers retry while brokers start) would leak a
    # thread and its sockets. Build it in two steps to be able to clean up.
    admin = KafkaAdminClient.__new__(KafkaAdminClient)
    try:
        admin.__init__(
            bootstrap_servers=bootstrap.split(","),
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms if connect_timeout_ms is None else connect_timeout_ms,
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
            # The broker list is otherwise refreshed every 5 minutes; requests routed to a broker
            # that joined (or restarted) since then fail with UnknownBrokerIdError until it is.
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
            client_id="grader",
        )
    except BaseException:
        _discard_half_built(admin)
        raise
    return admin


def _discard_half_built(admin: KafkaAdminClient) -> None:
    """Stop what a failed ``KafkaAdminClient.__init__`` already started."""
    for name, method in (("_metrics", "close"), ("_client", "close"), ("_net", "stop")):
        part = getattr(admin, name, None)
        if part is not None:
            with contextlib.suppress(Exception):
                getattr(part, method)()


def registered_brokers(admin: KafkaAdminClient) -> set[int]:
    """Ids of the brokers that are registered and not fenced."""
    brokers = admin.describe_cluster()["brokers"]
    return {int(b.get("broker_id", b.get("node_id", -1))) for b in brokers if not b.get("is_fenced", False)}


@dataclass(frozen=True)
class PartitionInfo:
    """One partition as ``kafka-topics --describe`` shows it."""

    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class TopicInfo:
    """A topic's name and partitions (sorted by partition number)."""

    name: str
    partitions: tuple[PartitionInfo, ...]
    topic_id: str = ""
    """Kafka's id of this incarnation of the topic (KIP-516); a re-created topic gets a new one."""

    @property
    def replication_factors(self) -> set[int]:
        return {len(p.replicas) for p in self.partitions}


class KafkaView:
    """Read-only-ish helpers over one cluster, opened lazily and closed with ``close()``."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._admin: KafkaAdminClient | None = None

    @property
    def admin(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = admin_client(self.bootstrap)
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None

    def topics(self) -> list[str]:
        """User topics (internal ``__`` topics are left out)."""
        return sorted(t for t in self.admin.list_topics() if not t.startswith("__"))

    def describe_topic(self, topic: str) -> TopicInfo | None:
        """The topic's partitions, or None if it does not exist."""
        (meta,) = self.admin.describe_topics([topic])
        if meta.get("error_code"):
            return None
        parts = tuple(
            sorted(
                (
                    PartitionInfo(
                        p["partition_index"], p["leader_id"], tuple(p["replica_nodes"]), tuple(p["isr_nodes"])
                    )
                    for p in meta["partitions"]
                ),
                key=lambda p: p.partition,
            )
        )
        topic_id = meta.get("topic_id")
        return TopicInfo(topic, parts, str(topic_id) if topic_id else "")

    def create_topic(self, topic: str, partitions: int, replication: int) -> None:
        from kafka.admin import NewTopic

        self.admin.create_topics([NewTopic(topic, partitions, replication)], timeout_ms=15000)

    def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","),
            client_id="grader",
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
        )
        try:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
        finally:
            consumer.close()

    def read_all(self, topic: str, timeout_s: float = 20.0) -> list[tuple[int, int, bytes | None, bytes]]:
        """Every record of ``topic`` as (partition, offset, key, value), per partition in offset order."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","),
            client_id="grader",
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not parts:
                return []
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends = consumer.end_offsets(parts)
            records: list[tuple[int, int, bytes | None, bytes]] = []
            import time

            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and any(consumer.position(tp) < ends[tp] for tp in parts):
                for batch in consumer.poll(timeout_ms=500).values():
                    for rec in batch:
                        records.append((rec.partition, rec.offset, rec.key, rec.value))
            records.sort(key=lambda r: (r[0], r[1]))
            return records
        finally:
            consumer.close()

    def producer(self) -> KafkaProducer:
        """A new producer as the grader writes: every record acknowledged by all in-sync replicas."""
        return KafkaProducer(
            bootstrap_servers=self.bootstrap.split(","),
            acks="all",
            linger_ms=5,
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
        )

    def produce(self, topic: str, records: list[tuple[int | None, bytes | None, bytes]]) -> None:
        """Write (partition, key, value) records and wait until every one is acknowledged."""
        producer = self.producer()
        try:
            futures = [producer.send(topic, value=v, key=k, partition=p) for p, k, v in records]
            producer.flush(timeout=30)
            for fut in futures:
                fut.get(timeout=30)
        finally:
            producer.close()


READY_TOPIC = "__grader_ready"


def wait_until_ready(
    bootstrap: str,
    broker_ids: set[int],
    deadline: float,
    on_poll: Callable[[], None] = lambda: None,
    connect_timeout_ms: int = 1500,
) -> Exception | None:
    """Poll until every broker in ``broker_ids`` is registered and a topic with RF=len(broker_ids)
    can be created (and is deleted again). Returns None once ready, else the last problem seen
    when ``deadline`` (a ``time.monotonic()`` value) passes. ``on_poll`` runs before every
    attempt: it may raise to give up early (e.g. a broker process died).
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = None
    last_error: Exception | None = None
    try:
        while time.monotonic() < deadline:
            on_poll()
            try:
                if admin is None:
                    admin = admin_client(bootstrap, connect_timeout_ms=connect_timeout_ms)
                if registered_brokers(admin) >= broker_ids:
                    try:
                        admin.create_topics([NewTopic(READY_TOPIC, 1, len(broker_ids))], timeout_ms=10000)
                    except TopicAlreadyExistsError:
                        # An earlier attempt timed out on our side but went through on the
                        # controller: remove it and create it again on the next round.
                        admin.delete_topics([READY_TOPIC], timeout_ms=10000)
                        continue
                    admin.delete_topics([READY_TOPIC], timeout_ms=10000)
                    return None
            except Exception as exc:
                last_error = exc
                # Start over with a fresh client: one that bootstrapped while only some brokers
                # were up keeps a stale broker list and can stay stuck on UnknownBrokerIdError.
                if admin is not None:
                    with contextlib.suppress(Exception):
                        admin.close()
                    admin = None
            time.sleep(0.1)
    finally:
        if admin is not None:
            with contextlib.suppress(Exception):
                admin.close()
    return last_error or TimeoutError("deadline passed before the first attempt")
