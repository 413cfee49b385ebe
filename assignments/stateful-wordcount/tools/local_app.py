"""Local processes for running the stateful-wordcount harness outside the grader (try_harness.py).

The grader starts the app through the sandbox (``checks._Starter``); these plain local helpers
serve the developer tool beside this file: a process group per run, output to files, the
connector jars from this machine's cache, and a JVM class-data archive of Spark.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from grader.student import STUDENT_LIB


def _group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is left in process group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) "
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class SubprocessApp:
    """A local process group started with ``start_new_session=True``; output goes to files."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, stdout: Path, stderr: Path) -> None:
        self.cmd = cmd
        self.stdout_path = stdout
        self.stderr_path = stderr
        with stdout.open("wb") as out, stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        with contextlib.suppress(ImportError):
            from grader.procs import registry  # killed at interpreter exit, whatever happens

            registry.add(self.proc)

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def _running(self) -> bool:
        return self.proc.poll() is None or _group_alive(self.proc.pid)

    def terminate(self, grace_s: float) -> int | None:
        """SIGTERM the group; SIGKILL whatever is left of it (the JVM too) after ``grace_s``."""
        if self._running():
            self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while self._running() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._running():
                self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        return self.proc.returncode

    def stderr_text(self, limit: int = 200_000) -> str:
        try:
            data = self.stderr_path.read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", errors="replace")


def _local_spark_kafka_jars() -> str:
    """The connector jars from this machine's grader cache (standalone runs outside a sandbox)."""
    from grader.runtime.jars import ensure_runtime

    return ",".join(str(j) for j in ensure_runtime(progress=False).spark_kafka_jars)


class SubprocessStarter:
    """``start_app`` for local runs: ``python <script>`` with a small, documented environment.

    Every run gets ``run-<n>.stdout`` / ``run-<n>.stderr`` in ``log_dir``; ``TMPDIR`` and
    ``SPARK_LOCAL_DIRS`` point into ``log_dir`` too, so nothing is left behind in /tmp.
    """

    def __init__(
        self,
        script: Path,
        log_dir: Path,
        *,
        python: str = sys.executable,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.script = script.resolve()
        self.log_dir = log_dir
        self.python = python
        self.extra_env = extra_env or {}
        self.apps: list[SubprocessApp] = []

    def __call__(self, env: dict[str, str]) -> SubprocessApp:
        n = len(self.apps) + 1
        tmp = self.log_dir / f"tmp-{n}"
        tmp.mkdir(parents=True, exist_ok=True)
        full_env = {
            "PATH": os.pathsep.join([str(Path(self.python).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": os.environ.get("HOME", str(tmp)),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TMPDIR": str(tmp),
            "SPARK_LOCAL_DIRS": str(tmp),
            "PYSPARK_PYTHON": self.python,
            "PYTHONPATH": str(STUDENT_LIB),
            "PYTHONUNBUFFERED": "1",
            "SPARK_KAFKA_JARS": _local_spark_kafka_jars(),
            **({"JAVA_HOME": os.environ["JAVA_HOME"]} if "JAVA_HOME" in os.environ else {}),
            **self.extra_env,
            **env,
        }
        app = SubprocessApp(
            [self.python, str(self.script)],
            full_env,
            self.script.parent,
            self.log_dir / f"run-{n}.stdout",
            self.log_dir / f"run-{n}.stderr",
        )
        self.apps.append(app)
        return app

    def stop_all(self, grace_s: float = 2.0) -> None:
        for app in self.apps:
            app.terminate(grace_s)


def build_class_archive(target: Path, *, python: str = sys.executable, timeout_s: float = 180.0) -> float:
    """Make a JVM class-data archive of Spark (``SPARK_CDS_ARCHIVE`` for seminar_spark) at ``target``
    with the grader's own builder (:mod:`grader.runtime.spark_cds`); seconds taken."""
    from grader.runtime.jars import ensure_runtime
    from grader.runtime.spark_cds import build_archive

    began = time.monotonic()
    if build_archive(ensure_runtime(progress=False), target, python=python, timeout_s=timeout_s) is None:
        raise RuntimeError(f"building the class archive {target} failed")
    return time.monotonic() - began

