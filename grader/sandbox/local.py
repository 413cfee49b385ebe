"""LocalSandbox: student code as local subprocesses next to a fresh local KafkaCluster.

Isolation is by process group, rlimits, a private temp copy of the submission and a minimal
environment; it is meant for students checking their own work and for CI. (A container
sandbox gives stronger isolation for grading untrusted code at scale.)

Nothing a student process starts outlives its run: the grader becomes the child subreaper of
its descendants, every run's environment carries a per-sandbox marker, the descendants of a
running process are sampled while it runs, and the end of a run kills the process group, the
descendants seen and every re-parented orphan carrying the marker (see ``grader.procs.kill_tree``).
"""

from __future__ import annotations

import functools
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import psutil

from grader.procs import become_subreaper, child_setup, descendants, kill_tree, registry
from grader.results import ExecRecord
from grader.runtime.cluster import KafkaCluster
from grader.runtime.jars import Runtime, ensure_runtime
from grader.runtime.shims import Translation, install, read_translations
from grader.runtime.spark_cds import ARCHIVE_ENV, existing_archive
from grader.sandbox.output import CappedOutput
from grader.spec import Limits
from grader.student import STUDENT_LIB
from grader.submission_files import NOT_SUBMITTED, copy_tree


class _CappedReader(threading.Thread):
    """Drains a pipe completely into a :class:`CappedOutput`."""

    def __init__(self, pipe, cap: int) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.output = CappedOutput(cap)
        self.start()

    def run(self) -> None:
        for chunk in iter(lambda: self.pipe.read1(65536), b""):
            self.output.feed(chunk)
        self.pipe.close()

    @property
    def dropped(self) -> int:
        return self.output.dropped

    def text(self) -> str:
        return self.output.text()


MARKER_ENV = "GRADER_SANDBOX_RUN"
"""Set in every student process's environment; its value names the sandbox (finds re-parented orphans)."""
SAMPLE_SECONDS = 0.5


class LocalProcess:
    """A student process tree started by :class:`LocalSandbox`."""

    def __init__(
        self,
        cmd: list[str],
        label: str,
        proc: subprocess.Popen,
        cap: int,
        stdin: bytes | None,
        sandbox: LocalSandbox | None = None,
    ) -> None:
        self.sandbox = sandbox
        self._seen: dict[int, psutil.Process] = {}
        self.cmd = cmd
        self.label = label
        self.proc = proc
        self.started = time.monotonic()
        self.ended: float | None = None
        self.timed_out = False
        self.killed_by_grader = False
        assert proc.stdout is not None
        assert proc.stderr is not None
        self._out = _CappedReader(proc.stdout, cap)
        self._err = _CappedReader(proc.stderr, cap)
        if proc.stdin is not None:
            threading.Thread(target=self._feed, args=(stdin or b"",), daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        """Remember every descendant seen while the process runs, so that one that daemonises
        (and so leaves the group and the tree) is still known when the run ends."""
        while self.proc.poll() is None:
            for p in descendants(self.proc.pid):
                self._seen.setdefault(p.pid, p)
            time.sleep(SAMPLE_SECONDS)

    def kill_tree(self, grace: float = 0.0) -> None:
        """Kill this run's group, its descendants (also those seen earlier) and the sandbox's orphans."""
        marker = spare = None
        if self.sandbox is not None:
            marker = (MARKER_ENV, self.sandbox.token)
            spare = [h.proc.pid for h in self.sandbox._procs if h is not self and h.proc.poll() is None]
        kill_tree(self.proc, grace, known=list(self._seen.values()), marker=marker, spare=spare or ())

    def _feed(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def _mark_end(self) -> None:
        if self.ended is None:
            self.ended = time.monotonic()

    def poll(self) -> int | None:
        rc = self.proc.poll()
        if rc is not None:
            self._mark_end()
        return rc

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._mark_end()
        return rc

    def terminate(self, grace: float = 10.0) -> int | None:
        if self.poll() is None:
            self.killed_by_grader = True
            self.kill_tree(grace)
        self._mark_end()
        return self.proc.returncode

    def kill_at_limit(self) -> None:
        if self.poll() is None:
            self.timed_out = True
            self.kill_tree()
        self._mark_end()

    def record(self) -> ExecRecord:
        if self.poll() is not None:
            # Anything it left behind may still hold the pipes or act later (rewrite files, stop
            # brokers): nothing started by a run outlives it.
            self.kill_tree()
            self._out.join(timeout=5)
            self._err.join(timeout=5)
        end = self.ended if self.ended is not None else time.monotonic()
        return ExecRecord(
            label=self.label,
            command=self.cmd,
            returncode=self.proc.returncode,
            timed_out=self.timed_out,
            killed_by_grader=self.killed_by_grader,
            duration_s=round(end - self.started, 3),
            stdout=self._out.text(),
            stderr=self._err.text(),
            stdout_truncated_bytes=self._out.dropped,
            stderr_truncated_bytes=self._err.dropped,
        )


class LocalSandbox:
    """A fresh KafkaCluster plus a private copy of the submission, run as local processes."""

    name = "local"

    def __init__(
        self,
        submission: Path,
        *,
        brokers: int = 3,
        limits: Limits | None = None,
        runtime: Runtime | None = None,
        cluster: KafkaCluster | None = None,
    ) -> None:
        """``cluster``: an already started cluster to use (and leave running) instead of a fresh one."""
        self.submission = submission
        self.brokers = brokers
        self.limits = limits or Limits()
        self.runtime = runtime
        self.cluster: KafkaCluster | None = cluster
        self._owns_cluster = cluster is None
        self._root: Path | None = None
        self._procs: list[LocalProcess] = []
        self._spark_archive: Path | None = None
        self.token = secrets.token_hex(8)
        """This sandbox's value of ``MARKER_ENV``."""

    def __enter__(self) -> LocalSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- protocol ------------------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        assert self.cluster is not None, "sandbox not started"
        return self.cluster.bootstrap_servers

    @property
    def workdir(self) -> Path:
        assert self._root is not None, "sandbox not started"
        return self._root / "work"

    @property
    def cluster_start_seconds(self) -> float:
        return (self.cluster.start_seconds or 0.0) if self.cluster and self._owns_cluster else 0.0

    def start(self) -> LocalSandbox:
        self.runtime = self.runtime or ensure_runtime()
        self._spark_archive = existing_archive(self.runtime)
        become_subreaper()
        self._root = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        try:
            # Links stay links, FIFOs and devices are left out (the runner notes them).
            copy_tree(self.submission, self.workdir, skip=NOT_SUBMITTED)
            (self._root / "home").mkdir()
            if self.cluster is None:
                self.cluster = KafkaCluster(self.brokers, runtime=self.runtime).start()
            install(
                self._root / "bin",
                python=sys.executable,
                java=str(self.runtime.java.executable),
                classpath=self.runtime.kafka_classpath,
                log4j=self.runtime.tools_log4j,
                bootstrap=self.cluster.bootstrap_servers,
                log_file=self._root / "translations.jsonl",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, keep_logs_to: Path | None = None) -> None:
        for proc in self._procs:
            proc.kill_tree()
        self._procs.clear()
        if self.cluster is not None and self._owns_cluster:
            self.cluster.stop(keep_logs_to=keep_logs_to)
            self.cluster = None
        elif self.cluster is not None and keep_logs_to is not None:
            self.cluster.copy_logs(keep_logs_to)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def scratch_dir(self, name: str) -> Path:
        assert self._root is not None, "sandbox not started"
        folder = self._root / "scratch" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def base_env(self) -> dict[str, str]:
        """The documented environment every student process gets (before assignment parameters)."""
        assert self._root is not None
        assert self.runtime is not None
        python_bin = str(Path(sys.executable).parent)
        return {
            "PATH": os.pathsep.join(
                [str(self._root / "bin"), python_bin, "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            "HOME": str(self._root / "home"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TMPDIR": str(self._root / "home"),
            "JAVA_HOME": str(self.runtime.java.home),
            "BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "SPARK_KAFKA_JARS": ",".join(str(j) for j in self.runtime.spark_kafka_jars),
            "PYSPARK_PYTHON": sys.executable,
            **({ARCHIVE_ENV: str(self._spark_archive)} if self._spark_archive else {}),
            "PYTHONPATH": str(STUDENT_LIB),
            "PYTHONUNBUFFERED": "1",
            MARKER_ENV: self.token,
        }

    @staticmethod
    def _apply_limits(lim: Limits) -> None:
        mb = 1024 * 1024
        resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_seconds, lim.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_AS, (lim.memory_mb * mb, lim.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_size_mb * mb, lim.file_size_mb * mb))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.getuid() != 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (2048, 2048))

    def spawn(
        self,
        cmd: list[str],
        *,
        label: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        limits: Limits | None = None,
    ) -> LocalProcess:
        lim = limits or self.limits
        full_env = self.base_env()
        full_env.update(env or {})
        proc = subprocess.Popen(
            cmd,
            cwd=cwd or self.workdir,
            env=full_env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=child_setup(functools.partial(self._apply_limits, lim)),
        )
        registry.add(proc)
        handle = LocalProcess(cmd, label, proc, lim.output_kb * 1024, stdin, sandbox=self)
        self._procs.append(handle)
        return handle

    def run(
        self,
        cmd: list[str],
        *,
        label: str,
        timeout: float,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        limits: Limits | None = None,
    ) -> ExecRecord:
        try:
            handle = self.spawn(cmd, label=label, cwd=cwd, env=env, stdin=stdin, limits=limits)
        except OSError as exc:
            return ExecRecord(
                label=label, command=cmd, returncode=None, duration_s=0.0, stderr=f"could not start: {exc}"
            )
        if handle.wait(timeout) is None:
            handle.kill_at_limit()
        return handle.record()

    def translations(self) -> list[Translation]:
        assert self._root is not None
        return read_translations(self._root / "translations.jsonl")

    def dead_brokers(self) -> dict[int, str]:
        if self.cluster is None:
            return {}
        return {n.node_id: n.log_tail() for n in self.cluster.nodes if not n.alive()}

    def has_command(self, name: str) -> bool:
        if "/" in name:
            return os.path.isfile(name) and os.access(name, os.X_OK)
        return shutil.which(name, path=self.base_env()["PATH"]) is not None
