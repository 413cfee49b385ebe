"""Shared fixtures: one 3-broker cluster for the whole session, the seminar CLI shims on a cluster,
and a session-end check that no Kafka process or cluster data directory is left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from grader.procs import kill_group
from grader.runtime.cluster import KafkaCluster
from grader.runtime.shims import Translation, install, read_translations
from grader.waiting import WaitTimeout, poll_until

# Tests pick their sandbox explicitly; the CLI's "auto" would otherwise depend on whether this machine
# happens to have a docker engine and image (the docker tests ask for --sandbox docker themselves).
os.environ["GRADER_SANDBOX"] = "local"

CLUSTER_FLAG = "-Dgrader.cluster="
CLUSTER_DIR_GLOB = "grader-kafka-*"
T = TypeVar("T")


# -- what a cluster leaves on the machine ----------------------------------------------------------


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from grading import SEED_BASE

    terminalreporter.write_line(f"grading seeds from {SEED_BASE} (GRADER_TEST_SEED={SEED_BASE} repeats them)")


def kafka_processes() -> dict[int, str]:
    """Live processes started by a KafkaCluster (``-Dgrader.cluster=`` on the command line): pid -> id."""
    found: dict[int, str] = {}
    flag = CLUSTER_FLAG.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in args:
            if arg.startswith(flag):
                found[int(entry.name)] = arg[len(flag) :].decode(errors="replace")
    return found


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def descends_from(pid: int, ancestor: int) -> bool:
    """Whether ``ancestor`` is ``pid``'s parent, grandparent, ..."""
    seen = set()
    current: int | None = pid
    while current and current not in seen:
        seen.add(current)
        current = _parent(current)
        if current == ancestor:
            return True
    return False


def own_kafka_processes() -> dict[int, str]:
    """Kafka processes started from this pytest process (others on the machine are not ours)."""
    me = os.getpid()
    return {pid: cid for pid, cid in kafka_processes().items() if descends_from(pid, me)}


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Clusters of this session keep their data in a private temp dir; at the very end (after every
    cluster fixture is torn down: they all depend on this fixture) no Kafka process started by this
    session may be alive and no ``grader-kafka-*`` directory may remain."""
    tmp_path_factory.getbasetemp()  # pytest's own temp root stays in the system temp dir
    private = Path(tempfile.mkdtemp(prefix="grader-tests-"))
    saved = tempfile.tempdir
    tempfile.tempdir = str(private)
    try:
        yield private
    finally:
        tempfile.tempdir = saved
    leaked = own_kafka_processes()
    left = sorted(p.name for p in private.glob(CLUSTER_DIR_GLOB))
    shutil.rmtree(private, ignore_errors=True)
    assert (leaked, left) == ({}, []), (
        f"left behind at the end of the session: Kafka processes {leaked} (pid: cluster id), "
        f"cluster data directories {left} (in {private})"
    )


# -- clusters ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_cluster(nothing_left_behind: Path) -> Iterator[KafkaCluster]:
    """A real 3-broker KRaft cluster shared by every test of the session."""
    with KafkaCluster(brokers=3) as cluster:
        yield cluster


# -- the seminar's CLI -------------------------------------------------------------------------------


@dataclass
class KafkaShell:
    """Runs shell commands with the grader's ``kafka-*`` shims for one cluster first on PATH."""

    bin_dir: Path
    log_file: Path
    bootstrap: str

    def run(self, command: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        """Run ``command`` with bash; fail the test (after killing the whole group) if it hangs."""
        env = {
            **os.environ,
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "BOOTSTRAP_SERVERS": self.bootstrap,
        }
        proc = subprocess.Popen(
            ["bash", "-c", command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            pytest.fail(f"command did not finish within {timeout:.0f} s: {command}\n{err[-3000:]}")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def translations(self) -> list[Translation]:
        """Seminar-era usages the shims translated so far."""
        return read_translations(self.log_file)


def make_shell(cluster: KafkaCluster, folder: Path) -> KafkaShell:
    """Install the shims for ``cluster`` into ``folder/bin``."""
    runtime = cluster.runtime
    assert runtime is not None, "cluster not started"
    log_file = folder / "translations.jsonl"
    install(
        folder / "bin",
        python=sys.executable,
        java=str(runtime.java.executable),
        classpath=runtime.kafka_classpath,
        log4j=runtime.tools_log4j,
        bootstrap=cluster.bootstrap_servers,
        log_file=log_file,
    )
    return KafkaShell(folder / "bin", log_file, cluster.bootstrap_servers)


@pytest.fixture(scope="session")
def kafka_shell(kafka_cluster: KafkaCluster, tmp_path_factory: pytest.TempPathFactory) -> KafkaShell:
    """The shims for the session cluster."""
    return make_shell(kafka_cluster, tmp_path_factory.mktemp("shims"))


# -- polling -----------------------------------------------------------------------------------------


def wait_until(probe: Callable[[], T | None], what: str, timeout: float = 45.0, interval: float = 0.25) -> T:
    """Call ``probe`` until it returns something truthy; exceptions count as "not yet".

    Fails the test after ``timeout`` seconds with the last value or exception seen."""
    try:
        return poll_until(probe, timeout=timeout, interval=interval, what=what, retry_on=(Exception,))
    except WaitTimeout as exc:
        pytest.fail(str(exc))
