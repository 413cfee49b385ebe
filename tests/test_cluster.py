"""The real KRaft cluster: shape, Kafka's own errors passed through, fault injection, clean start/stop."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KafkaShell, kafka_processes, make_shell, own_kafka_processes, wait_until

from grader.errors import ClusterStartError
from grader.kafka_util import KafkaView, PartitionInfo, admin_client, registered_brokers
from grader.procs import free_port
from grader.runtime.cluster import KafkaCluster


@pytest.fixture(scope="module")
def five_brokers(nothing_left_behind: Path) -> Iterator[KafkaCluster]:
    """A 5-broker cluster for the RF-12 error and for killing/restarting a broker."""
    with KafkaCluster(brokers=5) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def five_shell(five_brokers: KafkaCluster, tmp_path_factory: pytest.TempPathFactory) -> KafkaShell:
    return make_shell(five_brokers, tmp_path_factory.mktemp("shims5"))


@pytest.fixture
def five_view(five_brokers: KafkaCluster) -> Iterator[KafkaView]:
    view = KafkaView(five_brokers.bootstrap_servers)
    yield view
    view.close()


def registered(cluster: KafkaCluster) -> set[int]:
    admin = admin_client(cluster.bootstrap_servers)
    try:
        return registered_brokers(admin)
    finally:
        admin.close()


@pytest.mark.kafka
def test_session_cluster_has_three_registered_brokers(kafka_cluster: KafkaCluster) -> None:
    assert kafka_cluster.broker_ids == [1, 2, 3]
    assert len(kafka_cluster.bootstrap_servers.split(",")) == 3
    assert registered(kafka_cluster) == {1, 2, 3}
    assert all(node.alive() for node in kafka_cluster.nodes)
    assert sum(node.is_controller for node in kafka_cluster.nodes) == 3


@pytest.mark.kafka
def test_five_broker_cluster_has_three_controllers(five_brokers: KafkaCluster) -> None:
    assert registered(five_brokers) == {1, 2, 3, 4, 5}
    assert [n.node_id for n in five_brokers.nodes if n.is_controller] == [1, 2, 3]
    pids = {n.process.pid for n in five_brokers.nodes if n.process is not None}
    ours = own_kafka_processes()
    assert pids <= set(ours)
    assert {ours[pid] for pid in pids} == {five_brokers.cluster_id}


@pytest.mark.kafka
def test_replication_factor_above_broker_count_fails_with_kafkas_error(
    five_shell: KafkaShell, five_view: KafkaView
) -> None:
    res = five_shell.run(
        "kafka-topics --zookeeper mipt-node01.atp-fivt.org:2181 --create --partitions 1 "
        "--replication-factor 12 --topic too-many-replicas",
        timeout=60,
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "InvalidReplicationFactorException" in out
    assert "replication factor of 12 cannot be reached" in out
    assert "only 5 broker(s) are registered" in out
    assert five_view.describe_topic("too-many-replicas") is None


def _partition(view: KafkaView, topic: str) -> PartitionInfo | None:
    info = view.describe_topic(topic)
    return info.partitions[0] if info and info.partitions else None


@pytest.mark.kafka
def test_killed_leader_fails_over_and_rejoins_isr(five_brokers: KafkaCluster, five_view: KafkaView) -> None:
    topic = "failover"
    five_view.create_topic(topic, 1, 2)
    before = wait_until(
        lambda: (p := _partition(five_view, topic)) and len(p.isr) == 2 and p.leader in p.replicas and p,
        "the new partition to have a leader and a full ISR",
    )
    leader = before.leader
    (follower,) = set(before.replicas) - {leader}
    payload = [f"record-{i}".encode() for i in range(200)]
    five_view.produce(topic, [(0, None, v) for v in payload])

    five_brokers.kill_broker(leader)
    assert not five_brokers.node(leader).alive()
    after = wait_until(
        lambda: (p := _partition(five_view, topic)) and p.leader == follower and leader not in p.isr and p,
        f"leadership to move from killed broker {leader} to {follower}",
    )
    assert after.replicas == before.replicas
    assert after.isr == (follower,)
    assert leader not in registered(five_brokers)
    assert [r[3] for r in five_view.read_all(topic)] == payload  # nothing acknowledged was lost

    five_brokers.restart_broker(leader)
    assert five_brokers.node(leader).alive()
    back = wait_until(
        lambda: (p := _partition(five_view, topic)) and set(p.isr) == set(p.replicas) and p,
        f"restarted broker {leader} to rejoin the ISR",
    )
    assert leader in back.isr
    assert registered(five_brokers) == {1, 2, 3, 4, 5}


@pytest.mark.kafka
def test_taken_base_port_is_reported_by_number(nothing_left_behind: Path) -> None:
    dirs_before = set(nothing_left_behind.glob("grader-kafka-*"))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", free_port()))
        blocker.listen()
        port = blocker.getsockname()[1]
        cluster = KafkaCluster(brokers=1, base_port=port, start_timeout=30)
        with pytest.raises(ClusterStartError, match=rf"port\(s\) {port} on 127.0.0.1 are already in use"):
            cluster.start()
    assert not any(cid == cluster.cluster_id for cid in kafka_processes().values())
    assert cluster.folder is None
    assert set(nothing_left_behind.glob("grader-kafka-*")) == dirs_before


@pytest.mark.kafka
def test_broker_dying_at_start_gives_its_log(nothing_left_behind: Path) -> None:
    dirs_before = set(nothing_left_behind.glob("grader-kafka-*"))
    cluster = KafkaCluster(brokers=1, heap="1k", start_timeout=60)
    with pytest.raises(ClusterStartError, match="exited during start-up") as err:
        cluster.start()
    assert "Error occurred during initialization of VM" in str(err.value)  # the broker's own output
    assert cluster.folder is None
    assert set(nothing_left_behind.glob("grader-kafka-*")) == dirs_before
    assert not any(cid == cluster.cluster_id for cid in kafka_processes().values())


@pytest.mark.kafka
def test_start_stop_leaves_nothing_behind(tmp_path: Path, nothing_left_behind: Path) -> None:
    dirs_before = set(nothing_left_behind.glob("grader-kafka-*"))
    with KafkaCluster(brokers=1) as cluster:
        folder = cluster.folder
        assert folder is not None
        assert folder.is_dir()
        assert folder.parent == nothing_left_behind
        pids = {n.process.pid for n in cluster.nodes if n.process}
        running = {pid for pid, cid in kafka_processes().items() if cid == cluster.cluster_id}
        assert len(pids) == 1
        assert running == pids
        assert cluster.start_seconds is not None
        assert cluster.start_seconds > 0
        assert registered(cluster) == {1}
        cluster.stop(keep_logs_to=tmp_path / "logs")
    assert "Kafka Server started" in (tmp_path / "logs" / "broker-1.log").read_text()
    assert not any(cid == cluster.cluster_id for cid in kafka_processes().values())
    assert not folder.exists()
    assert set(nothing_left_behind.glob("grader-kafka-*")) == dirs_before
