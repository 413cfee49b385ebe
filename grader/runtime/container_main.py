"""The Kafka side of a grading container: runs as the container's main process, as the ``kafka`` user.

The image holds the Kafka jars, Java, Python and this runtime; :class:`~grader.sandbox.docker.DockerSandbox`
starts one container per submission with this module as its main process::

    python3 -m grader.runtime.container_main serve --brokers 3

``serve`` starts a KRaft cluster whose brokers listen on loopback for the student's code and on a
second listener for the grader's checks outside the container, prints one ``GRADER-READY {json}``
line (or ``GRADER-FAILED {json}``) and then keeps the cluster up until SIGTERM. ``status`` prints the
brokers that are no longer running with the tail of their logs; ``log ID`` prints one broker's log;
``prepare`` (run once while the image is built) caches the KRaft bootstrap checkpoint, the
brokers' class-data archive and Spark's inside the image, so that containers start as fast as local
clusters.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from grader.runtime.cluster import KafkaCluster, _bootstrap_checkpoint, class_archive
from grader.runtime.jars import Runtime
from grader.runtime.java import find_java
from grader.runtime.spark_cds import build_archive

IMAGE_ROOT = Path(os.environ.get("GRADER_IMAGE_ROOT", "/opt/grader"))
IMAGE_SPARK_ARCHIVE = IMAGE_ROOT / "cache" / "spark.jsa"
"""Spark's class-data archive in the image (``$SPARK_CDS_ARCHIVE`` of the student's processes)."""
STATE_FILE = Path(os.environ.get("GRADER_STATE_FILE", "/run/grader/brokers.json"))
INSIDE_PORT = 9092
"""Broker i listens on 127.0.0.1:9092+i-1 inside the container (the course's port, for seminar commands)."""
OUTSIDE_PORT = 19092
"""...and on <container address>:19092+i-1 for the grader outside."""
READY, FAILED = "GRADER-READY", "GRADER-FAILED"


def image_runtime() -> Runtime:
    """The runtime laid out in the image: Java from PATH, jars from ``/opt/grader``."""
    kafka = tuple(sorted((IMAGE_ROOT / "kafka").glob("*.jar")))
    spark = tuple(sorted((IMAGE_ROOT / "spark-kafka").glob("*.jar")))
    return Runtime(find_java(), kafka, spark, str(IMAGE_ROOT / "kafka"))


def _own_address() -> str:
    """The container's address on its network (docker maps the host name to it in /etc/hosts)."""
    return socket.gethostbyname(socket.gethostname())


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(line[:300] for line in text[-lines:])


def serve(brokers: int, heap: str, max_seconds: float) -> int:
    """Start the cluster, announce it, keep it up until SIGTERM (or ``max_seconds``); the exit status."""
    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    runtime = image_runtime()
    cluster = KafkaCluster(
        brokers,
        runtime=runtime,
        base_port=INSIDE_PORT,
        heap=heap,
        outside_listener=(_own_address(), OUTSIDE_PORT),
    )
    try:
        cluster.start()
    except Exception as exc:
        print(f"{FAILED} {json.dumps({'error': f'{type(exc).__name__}: {exc}'})}", flush=True)
        cluster.stop()
        return 1
    try:
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(
            json.dumps(
                {
                    str(n.node_id): {"pid": n.process.pid if n.process else 0, "log": str(n.log_file)}
                    for n in cluster.nodes
                }
            )
        )
        info = {
            "inside": cluster.bootstrap_servers,
            "outside": cluster.outside_bootstrap_servers,
            "start_seconds": round(cluster.start_seconds or 0.0, 3),
            "spark_kafka_jars": ",".join(str(j) for j in runtime.spark_kafka_jars),
        }
        print(f"{READY} {json.dumps(info)}", flush=True)
        deadline = time.monotonic() + max_seconds
        while not stop and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        cluster.stop()
    return 0


def status() -> int:
    """Print ``{broker id: log tail}`` for every broker that is no longer running."""
    try:
        state = json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        print(json.dumps({"error": "the cluster has not started"}))
        return 1
    dead = {bid: _tail(Path(b["log"])) for bid, b in state.items() if not _alive(int(b["pid"]))}
    print(json.dumps(dead))
    return 0


def log(broker_id: str) -> int:
    """Write one broker's whole log to stdout."""
    state = json.loads(STATE_FILE.read_text())
    sys.stdout.buffer.write(Path(state[broker_id]["log"]).read_bytes())
    return 0


def prepare() -> int:
    """Image build step: cache the bootstrap checkpoint and the brokers' and Spark's class-data archives."""
    runtime = image_runtime()
    print(f"bootstrap checkpoint: {_bootstrap_checkpoint(runtime)}")
    print(f"broker class-data archive: {class_archive(runtime)}")
    print(f"Spark class-data archive: {build_archive(runtime, IMAGE_SPARK_ARCHIVE)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="container_main")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--brokers", type=int, default=3)
    p.add_argument("--heap", default="256m")
    p.add_argument("--max-seconds", type=float, default=3 * 3600.0, help="stop by itself after this long")
    sub.add_parser("status")
    p = sub.add_parser("log")
    p.add_argument("broker")
    sub.add_parser("prepare")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.brokers, args.heap, args.max_seconds)
    if args.command == "status":
        return status()
    if args.command == "log":
        return log(args.broker)
    return prepare()


if __name__ == "__main__":
    sys.exit(main())
