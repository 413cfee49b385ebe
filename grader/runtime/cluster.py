"""A real multi-broker Apache Kafka cluster (KRaft, no ZooKeeper) on loopback, as a context manager.

    with KafkaCluster(brokers=3) as cluster:
        print(cluster.bootstrap_servers)

Start-up is tuned for a 2-core machine: storage is formatted without starting a JVM per node
(the bootstrap checkpoint is produced once and cached; ``meta.properties`` is written here),
brokers get small heaps, C1-only JIT, serial GC and few threads, and internal topics are sized
to the cluster. ``start()`` returns only once every broker is registered and a topic with
replication factor N can be created. ``stop()`` always kills the processes and removes the data;
broker logs can be copied out first for a report.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from grader.errors import ClusterStartError
from grader.procs import child_setup, free_port, kill_group, port_in_use, registry
from grader.runtime.jars import Runtime, cache_root, ensure_runtime
from grader.waiting import WaitTimeout, poll_until

HOST = "127.0.0.1"
MAX_VOTERS = 3
PORT_ATTEMPTS = 3
# While brokers start, give up each connection attempt after this long and look again whether a
# broker process died (so a broker that cannot start is reported at once, not after a timeout).
CONNECT_POLL_MS = 1500
JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:ReservedCodeCacheSize=48m",
    "-XX:MaxMetaspaceSize=160m",
    "-Xss512k",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
)

_live_dirs: set[Path] = set()
_live_lock = threading.Lock()


def _cleanup_at_exit() -> None:
    registry.kill_all()
    with _live_lock:
        for folder in list(_live_dirs):
            shutil.rmtree(folder, ignore_errors=True)


atexit.register(_cleanup_at_exit)


def _kafka_uuid() -> str:
    """A Kafka ``Uuid`` as printed in meta.properties (URL-safe base64 of 16 bytes, no padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class Node:
    """One Kafka process of the cluster."""

    node_id: int
    port: int
    controller_port: int | None
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def is_controller(self) -> bool:
        return self.controller_port is not None

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(line[:300] for line in text[-lines:])


def _bootstrap_checkpoint(runtime: Runtime) -> Path:
    """The KRaft bootstrap checkpoint for this Kafka version, produced once by the real StorageTool."""
    key = runtime.kafka_source.replace(os.sep, "_").replace("=", "_")[-80:]
    target = cache_root() / "kraft-bootstrap" / key / "bootstrap.checkpoint"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-format-") as tmp:
        props = Path(tmp) / "server.properties"
        props.write_text(
            "process.roles=broker,controller\nnode.id=1\n"
            f"controller.quorum.voters=1@{HOST}:1\nlisteners=PLAINTEXT://{HOST}:2,CONTROLLER://{HOST}:1\n"
            f"controller.listener.names=CONTROLLER\nlog.dirs={tmp}/data\n"
        )
        out = subprocess.run(
            [
                str(runtime.java.executable),
                f"-Dlog4j2.configurationFile={runtime.tools_log4j}",
                "-cp",
                runtime.kafka_classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                _kafka_uuid(),
                "-c",
                str(props),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        produced = Path(tmp) / "data" / "bootstrap.checkpoint"
        if out.returncode != 0 or not produced.is_file():
            raise ClusterStartError(
                f"Kafka's storage tool could not format a log directory (exit {out.returncode}):\n"
                f"{(out.stderr or out.stdout)[-2000:]}\nRun 'grader setup --verify' to check the runtime."
            )
        partial = target.with_suffix(".partial")
        shutil.copyfile(produced, partial)
        partial.replace(target)
    return target


def class_archive(runtime: Runtime) -> Path | None:
    """A JVM class-data-sharing archive for brokers, built once per Java + Kafka + flags and cached.

    Loading the broker's ~6000 classes from a pre-parsed archive instead of 92 jars cuts start-up by
    about a third on 2 cores. It is an optimisation only: if it cannot be built, None (no archive);
    if the JVM finds it stale, it silently runs without it (``-Xshare:auto``).
    """
    key = hashlib.sha256(
        "|".join(
            [
                str(runtime.java.executable.resolve()),
                str(runtime.java.major),
                runtime.kafka_classpath,
                *JVM_FLAGS,
            ]
        ).encode()
    ).hexdigest()[:16]
    target = cache_root() / "kafka-cds" / f"broker-{key}.jsa"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    builder = KafkaCluster(1, runtime=runtime, class_archive=False, start_timeout=60)
    builder.extra_jvm_flags = [f"-XX:ArchiveClassesAtExit={partial}"]
    try:
        builder.start()
        from grader.kafka_util import KafkaView

        view = KafkaView(builder.bootstrap_servers)
        try:
            # Exercise the paths a grading run uses so that their classes are archived too.
            view.create_topic("cds", 6, 1)
            view.produce("cds", [(None, None, b"x")] * 50)
            view.read_all("cds", timeout_s=10)
        finally:
            view.close()
        process = builder.nodes[0].process
        assert process is not None
        process.terminate()  # a clean exit is what makes the JVM write the archive
        process.wait(timeout=60)
    except Exception:
        return None
    finally:
        builder.stop()
    if not partial.is_file():
        return None
    partial.replace(target)
    return target


class KafkaCluster:
    """N KRaft brokers on loopback in a temp dir (the first up-to-3 nodes are also controllers)."""

    def __init__(
        self,
        brokers: int = 3,
        *,
        runtime: Runtime | None = None,
        base_port: int | None = None,
        heap: str = "256m",
        start_timeout: float = 120.0,
        name: str = "grader",
        class_archive: bool = True,
        outside_listener: tuple[str, int] | None = None,
    ) -> None:
        """``class_archive``: start brokers from a cached class-data-sharing archive (built once).

        ``outside_listener``: ``(advertised host, first port)`` for a second listener on every
        interface, for clients outside a container (broker i gets port + i - 1); the first
        listener stays on loopback for the code inside.
        """
        if brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        self.size = brokers
        self.runtime = runtime
        self.base_port = base_port
        self.heap = heap
        self.start_timeout = start_timeout
        self.cluster_id = _kafka_uuid()
        self.name = name
        self.folder: Path | None = None
        self.nodes: list[Node] = []
        self.start_seconds: float | None = None
        self.extra_jvm_flags: list[str] = []
        self.class_archive = class_archive
        self.outside_listener = outside_listener

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of every broker, comma-separated (what ``--bootstrap-server`` takes)."""
        return ",".join(node.address for node in self.nodes)

    @property
    def outside_bootstrap_servers(self) -> str:
        """The outside listener's ``host:port,...`` (empty without one)."""
        if self.outside_listener is None:
            return ""
        host, first = self.outside_listener
        return ",".join(f"{host}:{first + i}" for i in range(len(self.nodes)))

    @property
    def broker_ids(self) -> list[int]:
        return [node.node_id for node in self.nodes]

    def start(self) -> KafkaCluster:
        """Start every broker and return once the cluster really serves requests."""
        began = time.monotonic()
        self.runtime = self.runtime or ensure_runtime()
        checkpoint = _bootstrap_checkpoint(self.runtime)
        if self.class_archive and os.environ.get("GRADER_NO_CDS") != "1":
            archive = class_archive(self.runtime)
            if archive is not None:
                self.extra_jvm_flags.append(f"-XX:SharedArchiveFile={archive}")
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.folder = Path(tempfile.mkdtemp(prefix="grader-kafka-"))
            with _live_lock:
                _live_dirs.add(self.folder)
            try:
                self._plan_nodes()
                self._write_configs(checkpoint)
                for node in self.nodes:
                    self._launch(node)
                self._wait_ready(began)
                break
            except ClusterStartError as exc:
                self.stop()
                # Another process grabbed a port between our check and the broker's bind: pick new
                # ports (only when the caller did not ask for fixed ones).
                if not exc.port_conflict or self.base_port is not None or attempt == PORT_ATTEMPTS:
                    raise
            except BaseException:
                self.stop()
                raise
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self, keep_logs_to: Path | None = None) -> None:
        """Kill every broker and delete the data; copy broker logs to ``keep_logs_to`` first."""
        for node in self.nodes:
            if node.process is not None:
                kill_group(node.process)
        if keep_logs_to is not None:
            self.copy_logs(keep_logs_to)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            with _live_lock:
                _live_dirs.discard(self.folder)
            self.folder = None

    def copy_logs(self, target: Path) -> list[Path]:
        """Copy each broker's log to ``target/broker-<id>.log``; returns the copies."""
        target.mkdir(parents=True, exist_ok=True)
        copies = []
        for node in self.nodes:
            if node.log_file.is_file():
                dest = target / f"broker-{node.node_id}.log"
                shutil.copyfile(node.log_file, dest)
                copies.append(dest)
        return copies

    # -- fault injection -----------------------------------------------------------------------

    def node(self, broker_id: int) -> Node:
        for node in self.nodes:
            if node.node_id == broker_id:
                return node
        raise KeyError(f"no broker {broker_id} in this cluster (brokers: {self.broker_ids})")

    def kill_broker(self, broker_id: int) -> None:
        """Kill broker ``broker_id`` at once (SIGKILL), as a crash would."""
        node = self.node(broker_id)
        if node.process is not None:
            kill_group(node.process)

    def restart_broker(self, broker_id: int, timeout: float = 60.0) -> None:
        """Start a killed broker again on the same ports and data; returns once it is registered."""
        node = self.node(broker_id)
        if node.alive():
            return
        self._launch(node)
        from grader.kafka_util import admin_client, registered_brokers

        def registered() -> bool:
            self._raise_if_dead([node])
            # Ask the restarted broker itself: the others still list the killed incarnation as
            # registered until its session times out, and a broker serves requests only once it
            # has caught up with the metadata and is unfenced.
            try:
                admin = admin_client(node.address, connect_timeout_ms=CONNECT_POLL_MS)
                try:
                    return broker_id in registered_brokers(admin)
                finally:
                    admin.close()
            except Exception:  # not reachable yet: any client error means "try again"
                return False

        try:
            poll_until(registered, timeout=timeout, interval=0.3, what=f"broker {broker_id} re-registering")
        except WaitTimeout as exc:
            raise ClusterStartError(f"{exc}:\n{node.log_tail()}") from exc

    # -- internals -----------------------------------------------------------------------------

    def _plan_nodes(self) -> None:
        assert self.folder is not None
        voters = min(self.size, MAX_VOTERS)
        if self.base_port is not None:
            ports = [self.base_port + i for i in range(self.size)]
            controller_ports = [self.base_port + 100 + i for i in range(voters)]
            taken = [p for p in ports + controller_ports if port_in_use(p)]
            if taken:
                raise ClusterStartError(
                    f"port(s) {', '.join(map(str, taken))} on {HOST} are already in use, so the cluster "
                    "cannot start there. Stop whatever uses them (another 'grader cluster up'?) or pick "
                    "another base port; without a base port the grader picks free ports itself."
                )
        else:
            chosen: set[int] = set()
            for _ in range(self.size + voters):
                chosen.add(free_port(avoid=chosen))
            picked = sorted(chosen, key=lambda _: random.random())
            ports, controller_ports = picked[: self.size], picked[self.size :]
        self.nodes = [
            Node(
                node_id=i + 1,
                port=ports[i],
                controller_port=controller_ports[i] if i < voters else None,
                folder=self.folder / f"broker-{i + 1}",
            )
            for i in range(self.size)
        ]

    def _write_configs(self, checkpoint: Path) -> None:
        voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in self.nodes if n.is_controller)
        internal_rf = min(self.size, 3)
        for node in self.nodes:
            data = node.folder / "data"
            data.mkdir(parents=True)
            shutil.copyfile(checkpoint, data / "bootstrap.checkpoint")
            (data / "meta.properties").write_text(
                f"node.id={node.node_id}\ndirectory.id={_kafka_uuid()}\nversion=1\ncluster.id={self.cluster_id}\n"
            )
            listeners = [f"PLAINTEXT://{HOST}:{node.port}"]
            advertised = [f"PLAINTEXT://{HOST}:{node.port}"]
            protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
            if self.outside_listener is not None:
                outside_host, first = self.outside_listener
                outside_port = first + node.node_id - 1
                listeners.append(f"OUTSIDE://0.0.0.0:{outside_port}")
                advertised.append(f"OUTSIDE://{outside_host}:{outside_port}")
                protocols.append("OUTSIDE:PLAINTEXT")
            roles = "broker"
            if node.is_controller:
                listeners.append(f"CONTROLLER://{HOST}:{node.controller_port}")
                roles = "broker,controller"
            settings = {
                "process.roles": roles,
                "node.id": node.node_id,
                "controller.quorum.voters": voters,
                "controller.listener.names": "CONTROLLER",
                "listeners": ",".join(listeners),
                "advertised.listeners": ",".join(advertised),
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": ",".join(protocols),
                "log.dirs": data,
                # Few threads: this is a classroom cluster on a 2-core machine.
                "num.network.threads": 2,
                "num.io.threads": 2,
                "background.threads": 2,
                "num.replica.fetchers": 1,
                "num.recovery.threads.per.data.dir": 1,
                "log.cleaner.threads": 1,
                "log.cleaner.dedupe.buffer.size": 4 * 1024 * 1024,
                # Internal topics sized to the cluster instead of 50 partitions with RF 3.
                "offsets.topic.replication.factor": internal_rf,
                "offsets.topic.num.partitions": 6,
                "transaction.state.log.replication.factor": internal_rf,
                "transaction.state.log.min.isr": 1,
                "transaction.state.log.num.partitions": 3,
                "share.coordinator.state.topic.replication.factor": internal_rf,
                "share.coordinator.state.topic.min.isr": 1,
                "share.coordinator.state.topic.num.partitions": 3,
                "group.initial.rebalance.delay.ms": 0,
                # Notice a killed broker within seconds (fault-injection checks wait on this).
                "broker.heartbeat.interval.ms": 500,
                "broker.session.timeout.ms": 3000,
                "controller.quorum.fetch.timeout.ms": 2000,
                "controller.quorum.election.timeout.ms": 500,
                "replica.lag.time.max.ms": 5000,
                "auto.create.topics.enable": "false",
                "default.replication.factor": 1,
                "min.insync.replicas": 1,
                "log.segment.bytes": 16 * 1024 * 1024,
                "log.retention.check.interval.ms": 60000,
            }
            text = "".join(f"{k}={v}\n" for k, v in settings.items())
            (node.folder / "server.properties").write_text(text)

    def _launch(self, node: Node) -> None:
        assert self.runtime is not None
        cmd = [
            str(self.runtime.java.executable),
            f"-Xmx{self.heap}",
            "-Xms32m",
            *JVM_FLAGS,
            *self.extra_jvm_flags,
            f"-Dlog4j2.configurationFile={self.runtime.broker_log4j}",
            f"-Dgrader.cluster={self.cluster_id}",
            "-cp",
            self.runtime.kafka_classpath,
            "kafka.Kafka",
            str(node.folder / "server.properties"),
        ]
        log = node.log_file.open("ab")
        try:
            node.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=node.folder,
                preexec_fn=child_setup(),
            )
        finally:
            log.close()
        registry.add(node.process)

    def _raise_if_dead(self, nodes: list[Node]) -> None:
        for node in nodes:
            if node.process is not None and node.process.poll() is not None:
                tail = node.log_tail()
                cause = ""
                if "Address already in use" in tail:
                    cause = f" Port {node.port} or {node.controller_port} was taken by another process."
                error = ClusterStartError(
                    f"Kafka broker {node.node_id} exited during start-up "
                    f"(exit code {node.process.returncode}).{cause}\n"
                    f"Last lines of its log ({node.log_file}):\n{tail}"
                )
                error.port_conflict = bool(cause)
                raise error

    def _wait_ready(self, began: float) -> None:
        """Wait until every broker is registered and a topic with RF=N can be created."""
        from grader.kafka_util import wait_until_ready

        last_error = wait_until_ready(
            self.bootstrap_servers,
            set(self.broker_ids),
            began + self.start_timeout,
            on_poll=lambda: self._raise_if_dead(self.nodes),
            connect_timeout_ms=CONNECT_POLL_MS,
        )
        if last_error is None:
            return
        raise ClusterStartError(
            f"The {self.size}-broker Kafka cluster was not ready within {self.start_timeout:.0f} s "
            f"(last problem: {last_error!r}).\n"
            + "\n".join(f"--- broker {n.node_id} log tail ---\n{n.log_tail(10)}" for n in self.nodes)
        )
