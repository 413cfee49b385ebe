"""Benchmark: KafkaCluster start-up vs a quickstart-style start on the same jars, plus peak RSS per broker.

    .venv/bin/python bench/cluster_startup.py                 # 1, 3 and 5 brokers, 1 round
    .venv/bin/python bench/cluster_startup.py --rounds 3 --sizes 3

"Ours" is ``KafkaCluster(n).start()``. "Quickstart" does what Kafka's docs do by hand, on loopback:
for every node it runs the real ``kafka.tools.StorageTool format`` (one JVM per node, like
``kafka-storage.sh format``), then starts every node with
``java -Xmx1G -Xms1G -cp <kafka classpath> kafka.Kafka server.properties`` using Kafka's default
settings; only listeners, the static controller quorum, log.dirs and node.id are written (the
first min(3, N) nodes are controllers, as in ours). Internal topics keep Kafka's defaults (RF 3,
50 offsets partitions): they are created lazily, so not even a 1-node cluster needs them changed
to start and pass the readiness check. Both are ready under the same condition:
every broker is registered and a topic with RF=N can be created (via grader.kafka_util).

Peak RSS is each broker JVM's VmHWM (/proc/<pid>/status), read just before stopping, after a
topic with RF=N was created and ~10k small records were produced to it (shown for the last round).

Not a test: it prints figures; nothing is asserted. Everything started is killed at the end,
also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from grader.kafka_util import KafkaView, wait_until_ready
from grader.procs import child_setup, free_port, kill_group, registry
from grader.runtime.cluster import MAX_VOTERS, KafkaCluster, _kafka_uuid
from grader.runtime.jars import Runtime, ensure_runtime

HOST = "127.0.0.1"
LOAD_TOPIC = "bench-load"


@dataclass
class Run:
    """One start of one cluster."""

    seconds: float
    rss_kb: dict[int, int]  # broker id -> VmHWM
    phases: dict[str, float] = field(default_factory=dict)


def peak_rss_kb(pid: int) -> int:
    """VmHWM (peak resident set) of ``pid`` in kB, or -1 if it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def load(bootstrap: str, size: int, records: int) -> None:
    """Create a topic with RF=N (N partitions) and produce ``records`` small records to it."""
    view = KafkaView(bootstrap)
    try:
        view.create_topic(LOAD_TOPIC, size, size)
        view.produce(LOAD_TOPIC, [(None, None, f"record-{i:06d}".encode()) for i in range(records)])
    finally:
        view.close()


def wait_ready(bootstrap: str, ids: list[int], procs: dict[int, subprocess.Popen], logs: dict[int, Path],
               timeout: float) -> None:
    """The readiness condition of KafkaCluster (the same function): every broker registered, RF=N topic."""

    def alive() -> None:
        for node_id, proc in procs.items():
            if proc.poll() is not None:
                tail = logs[node_id].read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"node {node_id} exited ({proc.returncode}):\n" + "\n".join(tail))

    last = wait_until_ready(bootstrap, set(ids), time.monotonic() + timeout, on_poll=alive)
    if last is not None:
        raise RuntimeError(f"not ready within {timeout:.0f} s (last problem: {last!r})")


# -- ours ------------------------------------------------------------------------------------------


def run_ours(size: int, runtime: Runtime, records: int) -> Run:
    """Start a KafkaCluster from nothing, time it, load it, sample RSS, stop it."""
    began = time.monotonic()
    cluster = KafkaCluster(size, runtime=runtime)
    try:
        cluster.start()
        seconds = time.monotonic() - began
        load(cluster.bootstrap_servers, size, records)
        rss = {n.node_id: peak_rss_kb(n.process.pid) for n in cluster.nodes if n.process is not None}
        return Run(seconds, rss)
    finally:
        cluster.stop()


# -- quickstart-style ------------------------------------------------------------------------------


def quickstart_properties(
    node_id: int, port: int, controller_port: int | None, voters: str, data: Path
) -> str:
    """Kafka's defaults plus only what a multi-node KRaft cluster on loopback needs."""
    listeners = f"PLAINTEXT://{HOST}:{port}"
    roles = "broker"
    if controller_port is not None:
        listeners += f",CONTROLLER://{HOST}:{controller_port}"
        roles = "broker,controller"
    return (
        f"process.roles={roles}\n"
        f"node.id={node_id}\n"
        f"controller.quorum.voters={voters}\n"
        f"listeners={listeners}\n"
        f"advertised.listeners=PLAINTEXT://{HOST}:{port}\n"
        "controller.listener.names=CONTROLLER\n"
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
        f"log.dirs={data}\n"
    )


def run_quickstart(size: int, runtime: Runtime, records: int, tag: str) -> Run:
    """Format every node with StorageTool (one JVM each), start them with 1 GB heaps, wait, load, sample."""
    java = str(runtime.java.executable)
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="grader-bench-quickstart-"))
    procs: dict[int, subprocess.Popen] = {}
    logs: dict[int, Path] = {}
    try:
        voters_n = min(size, MAX_VOTERS)
        ports = {i: free_port() for i in range(1, size + 1)}
        cports = {i: free_port() for i in range(1, voters_n + 1)}
        voters = ",".join(f"{i}@{HOST}:{p}" for i, p in cports.items())
        cluster_id = _kafka_uuid()
        configs = {}
        for i in range(1, size + 1):
            folder = root / f"node-{i}"
            folder.mkdir()
            configs[i] = folder / "server.properties"
            configs[i].write_text(quickstart_properties(i, ports[i], cports.get(i), voters, folder / "data"))
            logs[i] = folder / "server.log"
        for i in range(1, size + 1):
            out = subprocess.run(
                [java, f"-Dlog4j2.configurationFile={runtime.tools_log4j}", "-cp", runtime.kafka_classpath,
                 "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(configs[i])],
                capture_output=True, text=True, timeout=180, check=False,
            )
            if out.returncode != 0:
                raise RuntimeError(f"StorageTool format failed for node {i}:\n{out.stdout}{out.stderr}")
        formatted = time.monotonic()
        for i in range(1, size + 1):
            with logs[i].open("ab") as log:
                procs[i] = subprocess.Popen(
                    [java, "-Xmx1G", "-Xms1G", f"-Dlog4j2.configurationFile={runtime.broker_log4j}",
                     f"-Dgrader.bench={tag}", "-cp", runtime.kafka_classpath, "kafka.Kafka", str(configs[i])],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=configs[i].parent,
                    preexec_fn=child_setup(),
                )
            registry.add(procs[i])
        bootstrap = ",".join(f"{HOST}:{ports[i]}" for i in range(1, size + 1))
        wait_ready(bootstrap, list(procs), procs, logs, timeout=300)
        ready = time.monotonic()
        load(bootstrap, size, records)
        rss = {i: peak_rss_kb(p.pid) for i, p in procs.items()}
        return Run(ready - began, rss, {"format": formatted - began, "start": ready - formatted})
    finally:
        for proc in procs.values():
            kill_group(proc)
        shutil.rmtree(root, ignore_errors=True)


# -- report ----------------------------------------------------------------------------------------


def _median(runs: list[Run], pick: Callable[[Run], float]) -> float:
    return statistics.median(pick(r) for r in runs)


def report(size: int, ours: list[Run], quick: list[Run]) -> None:
    o, q = _median(ours, lambda r: r.seconds), _median(quick, lambda r: r.seconds)
    fmt = _median(quick, lambda r: r.phases["format"])
    print(f"\n{size} broker(s)  (median of {len(ours)} run(s); each run: "
          f"ours {', '.join(f'{r.seconds:.2f}' for r in ours)} s; "
          f"quickstart {', '.join(f'{r.seconds:.2f}' for r in quick)} s)")
    print(f"  {'':<28}{'ours':>10}{'quickstart':>12}{'ratio q/o':>11}")
    print(f"  {'nothing -> ready (s)':<28}{o:>10.2f}{q:>12.2f}{q / o:>10.2f}x")
    print(f"  {'  of which format (s)':<28}{'-':>10}{fmt:>12.2f}")
    print("  peak RSS (VmHWM) after creating an RF=N topic and producing the records, last round:")
    for node_id in sorted(ours[-1].rss_kb):
        ro = ours[-1].rss_kb[node_id] / 1024
        rq = quick[-1].rss_kb.get(node_id, -1) / 1024
        print(f"  {f'peak RSS broker {node_id} (MiB)':<28}{ro:>10.0f}{rq:>12.0f}{rq / ro:>10.2f}x")
    total_o = sum(ours[-1].rss_kb.values()) / 1024
    total_q = sum(quick[-1].rss_kb.values()) / 1024
    print(f"  {'peak RSS all brokers (MiB)':<28}{total_o:>10.0f}{total_q:>12.0f}{total_q / total_o:>10.2f}x")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C stops everything even when started with SIGINT ignored (nohup, "&" in a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    tag = uuid.uuid4().hex[:8]
    try:
        runtime = ensure_runtime()
        print(f"Java {runtime.java.major}, {len(runtime.kafka_jars)} Kafka jars; sizes {args.sizes}, "
              f"{args.rounds} round(s), {args.records} records produced before sampling RSS")
        with contextlib.suppress(OSError):
            print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
        for size in args.sizes:
            ours: list[Run] = []
            quick: list[Run] = []
            for _ in range(args.rounds):
                ours.append(run_ours(size, runtime, args.records))
                quick.append(run_quickstart(size, runtime, args.records, tag))
            report(size, ours, quick)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything")
    finally:
        registry.kill_all()


if __name__ == "__main__":
    main()
