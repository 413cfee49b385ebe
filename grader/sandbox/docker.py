"""DockerSandbox: one fresh, locked-down container per submission, with its own Kafka cluster inside.

Trust boundary (see ARCHITECTURE.md)::

    host (grader, checks, references, reports)          container (one per submission)
      docker SDK: create / exec / remove  ──────────►     tini ─ kafka user: N KRaft brokers
      checks ──► <container address>:19092+ (OUTSIDE)       student user: the submission, shims, Spark
                                                          ── 127.0.0.1:9092+ (inside listener)

* The container sits alone on its own **internal** docker network: no route out, no other
  sandbox to talk to; the grader reaches the brokers' second listener at the container's address.
* Brokers run as the image's ``kafka`` user (uid 10002); the student's code runs as a user of its
  own (a fresh uid per sandbox, so RLIMIT_NPROC and ``kill -1`` never touch another sandbox), with
  no capabilities, ``no-new-privileges``, a read-only root, tmpfs for /tmp, and CPU/memory/pids limits.
* The only writable host folder in the container is the sandbox's own ``box/`` (the submission
  copy, the grader's scratch dirs, the CLI shims), bind-mounted at the same path so that paths
  mean the same on both sides. A watchdog caps what the student writes there.
* A run's end kills every process of the student's user (``kill -KILL -1`` as that user), so
  nothing a submission starts (daemons, setsid/double-fork) outlives its run; ``stop()`` removes
  the container and its network on every path, and leftovers of a crashed grader are swept by label.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from grader.errors import ClusterStartError, GraderError
from grader.results import ExecRecord
from grader.runtime.shims import Translation, install, read_translations
from grader.runtime.spark_cds import ARCHIVE_ENV
from grader.sandbox.output import CappedOutput
from grader.spec import Limits
from grader.submission_files import NOT_SUBMITTED, copy_tree

LABEL = "org.grader.sandbox"
OWNER_LABEL = "org.grader.owner"
KAFKA_UID = 10002
STUDENT_UIDS = (200_000, 299_999)
IMAGE_PYTHON = "/usr/bin/python3"
IMAGE_JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
IMAGE_RUNTIME = "/opt/grader/python"
IMAGE_STUDENT_LIB = f"{IMAGE_RUNTIME}/grader/student"
IMAGE_TOOLS_LOG4J = f"{IMAGE_RUNTIME}/grader/runtime/log4j2-tools.properties"
RUN_STUDENT = "/opt/grader/bin/run-student"
IMAGE_SPARK_ARCHIVE = "/opt/grader/cache/spark.jsa"
"""Made while the image is built (``container_main prepare``); ``seminar_spark`` starts Spark from it."""
CONTAINER_MEMORY_MB = 4096
"""Memory of the whole container (brokers + Spark + student), a cgroup limit."""
CONTAINER_PIDS = 4096
"""Tasks (processes and threads) of the whole container; the student's own cap is RLIMIT_NPROC."""
STUDENT_PROCESSES = 1024
"""Processes and threads the student's user may have at once (a fork bomb stops here)."""
TMP_MB = 512
"""The student's /tmp (tmpfs, counted in the container's memory)."""
BOX_MB = 1024
"""What the student may write into the bind-mounted box (submission copy, scratch) before being killed."""
READY_TIMEOUT_S = 180.0
MAX_LIFETIME_S = 3 * 3600
"""The container stops by itself after this long, whatever happens to the grader."""
RUN_MARKER_ENV = "GRADER_RUN"
"""Each run's own value in its environment: while runs overlap, ending one spares the others'."""
RUN_KILLER = "/opt/grader/python/grader/runtime/run_killer.py"
"""Run as the student's user to end one run while others go on (see ``grader.runtime.run_killer``)."""
COURSE_HOSTS = (*(f"mipt-node0{i}.atp-fivt.org" for i in range(1, 9)), "mipt-master.atp-fivt.org")
"""The seminar's cluster host names: inside the container they resolve to the sandbox's own brokers."""


def course_hosts() -> tuple[str, ...]:
    """The course's cluster host names: ``$GRADER_COURSE_HOSTS`` (comma-separated) or COURSE_HOSTS."""
    configured = os.environ.get("GRADER_COURSE_HOSTS", "")
    names = tuple(name.strip() for name in configured.split(",") if name.strip())
    return names or COURSE_HOSTS


class DockerUnavailable(GraderError):
    """No engine, no image, or no SDK: the message says which and the command that fixes it."""


def _client(timeout: int = 60):  # type: ignore[no-untyped-def]
    import docker

    # mypy resolves 'docker' to this repository's docker/ folder, not the SDK
    return docker.from_env(timeout=timeout)  # type: ignore[attr-defined]


def expected_image() -> str:
    """The tag of the grading image this grader needs (a hash of the image's inputs)."""
    from grader.runtime.jars import ensure_runtime
    from grader.sandbox.image import image_tag

    return image_tag(ensure_runtime(progress=False))


def docker_unavailable_reason() -> str | None:
    """None when a docker engine is reachable and the grading image exists; else why not (one line)."""
    try:
        import docker
        import docker.errors
    except ImportError:
        return "the 'docker' Python package is not installed (pip install docker)"
    try:
        client = _client(timeout=5)
        client.ping()
    except Exception:
        return "no docker engine is reachable (start one: 'sudo dockerd &' or 'systemctl start docker')"
    try:
        tag = expected_image()
    except Exception as exc:
        return f"the runtime is not ready ({exc}); run 'grader setup'"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return f"the grading image {tag} is not built yet; run 'grader image build'"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(client=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Remove containers and networks left by graders that no longer run (like testcontainers' reaper)."""
    client = client or _client()
    host = socket.gethostname()

    def orphaned(owner: str) -> bool:
        owner_host, _, pid = owner.rpartition(":")
        return not (owner_host == host and pid.isdigit() and _alive(int(pid)))

    removed = []
    for root in Path(tempfile.gettempdir()).glob("grader-docker-*"):
        with contextlib.suppress(OSError):
            owner = (root / OWNER_FILE).read_text(encoding="utf-8").strip()
            if orphaned(owner):
                _release(root)
                removed.append(root.name)
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        if orphaned((container.labels or {}).get(OWNER_LABEL, "")):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed.append(container.name)
    for network in client.networks.list(filters={"label": LABEL}):
        if orphaned((network.attrs.get("Labels") or {}).get(OWNER_LABEL, "")):
            with contextlib.suppress(Exception):
                network.remove()
                removed.append(network.name)
    return removed


OWNER_FILE = "owner"
"""In a sandbox's temp folder: the grader that made it, as in OWNER_LABEL (for the sweep)."""


def _owner() -> str:
    """``host:pid`` of this grader: the owner of the containers, networks and folders it makes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _mount_quota(box: Path) -> bool:
    """As root: make ``box`` a tmpfs of BOX_MB, so the kernel itself refuses writes past the quota.

    Otherwise (or if mounting fails) False: the disk watchdog alone enforces it, a little late.
    """
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={BOX_MB}m,mode=0755", "grader-box", str(box)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _release(root: Path) -> None:
    """Delete a sandbox's temp folder, unmounting its box first when it is a quota mount."""
    box = root / "box"
    if os.path.ismount(box):
        subprocess.run(["umount", "-l", str(box)], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def _tree_size(folder: Path, cap: int) -> int:
    """Bytes in ``folder`` (not following links); stops counting past ``cap``."""
    total = 0
    stack = [folder]
    while stack and total <= cap:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total


class DockerProcess:
    """A student command running in the container through ``docker exec``."""

    def __init__(
        self, box: DockerSandbox, cmd: list[str], label: str, exec_id: str, sock: Any, cap: int, marker: str
    ) -> None:
        self.box = box
        self.marker = marker
        self.cmd = cmd
        self.label = label
        self.exec_id = exec_id
        self.started = time.monotonic()
        self.ended: float | None = None
        self.timed_out = False
        self.killed_by_grader = False
        self._code: int | None = None
        self._out = CappedOutput(cap)
        self._err = CappedOutput(cap)
        self._sock = sock
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        from docker.utils.socket import frames_iter

        with contextlib.suppress(Exception):
            for stream, data in frames_iter(self._sock, tty=False):
                (self._err if stream == 2 else self._out).feed(data)
        with contextlib.suppress(Exception):
            self._sock.close()

    def poll(self) -> int | None:
        if self._code is not None:
            return self._code
        try:
            info = self.box.client.api.exec_inspect(self.exec_id)
        except Exception:
            # The container is gone (removed by stop()): the process is gone with it.
            info = {"Running": False, "ExitCode": -9}
        if info.get("Running"):
            return None
        code = int(info.get("ExitCode") if info.get("ExitCode") is not None else -1)
        # runc reports a death by signal N as 128 + N, as a shell does; report it as the local sandbox does.
        self._code = -(code - 128) if 128 < code <= 128 + 64 else code
        if self.ended is None:
            self.ended = time.monotonic()
        return self._code

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.02
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        return code

    def terminate(self, grace: float = 10.0) -> int | None:
        if self.poll() is None:
            self.killed_by_grader = True
            self.box.end_run(self, "TERM")
            self.wait(grace)
            self.box.end_run(self, "KILL")
            self.wait(10)
        return self.poll()

    def kill_at_limit(self) -> None:
        if self.poll() is None:
            self.timed_out = True
            self.box.end_run(self, "KILL")
            self.wait(10)

    def record(self) -> ExecRecord:
        if self.poll() is not None:
            # Whatever the run left behind (daemons, double forks) dies with it and releases the stream.
            self.box.end_run(self, "KILL")
            self._reader.join(timeout=5)
        end = self.ended if self.ended is not None else time.monotonic()
        stderr = self._err.text()
        if self.box.disk_exceeded:
            stderr += (
                f"\n[grader] killed: the run wrote more than {BOX_MB} MB into the sandbox's folders "
                "(the disk quota)"
            )
        return ExecRecord(
            label=self.label,
            command=self.cmd,
            returncode=self._code,
            timed_out=self.timed_out,
            killed_by_grader=self.killed_by_grader,
            duration_s=round(end - self.started, 3),
            stdout=self._out.text(),
            stderr=stderr,
            stdout_truncated_bytes=self._out.dropped,
            stderr_truncated_bytes=self._err.dropped,
        )


class DockerSandbox:
    """A fresh container per submission: KRaft brokers as one user, the student's code as another."""

    name = "docker"

    def __init__(
        self,
        submission: Path,
        *,
        brokers: int = 3,
        limits: Limits | None = None,
        image: str | None = None,
        client: Any = None,
        cpus: float | None = None,
    ) -> None:
        self.submission = submission
        self.brokers = brokers
        self.limits = limits or Limits()
        self.image = image
        self.client = client
        self.cpus = cpus or float(os.cpu_count() or 2)
        self.container: Any = None
        self.network: Any = None
        self.uid = secrets.randbelow(STUDENT_UIDS[1] - STUDENT_UIDS[0]) + STUDENT_UIDS[0]
        self.skipped_files: list[str] = []
        self.disk_exceeded = False
        self.quota_mounted = False
        """True when the box is a tmpfs of BOX_MB (as root), so the quota cannot be overshot."""
        self.timings: dict[str, float] = {}
        self._root: Path | None = None
        self._inside = ""
        self._outside = ""
        self._cluster_seconds = 0.0
        self._commands: dict[str, bool] = {}
        self._spark_kafka_jars = ""
        self._watchdog_stop = threading.Event()
        self._procs: list[DockerProcess] = []

    def __enter__(self) -> DockerSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- protocol ------------------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """The brokers as the grader reaches them (the outside listener at the container's address)."""
        assert self._outside, "sandbox not started"
        return self._outside

    @property
    def inside_bootstrap_servers(self) -> str:
        """The brokers as the student's code reaches them (loopback inside the container)."""
        return self._inside

    @property
    def box(self) -> Path:
        assert self._root is not None, "sandbox not started"
        return self._root / "box"

    @property
    def workdir(self) -> Path:
        return self.box / "work"

    @property
    def cluster_start_seconds(self) -> float:
        return self._cluster_seconds

    def start(self) -> DockerSandbox:
        began = time.monotonic()
        try:
            self.client = self.client or _client()
            self.client.ping()
        except Exception as exc:
            raise DockerUnavailable(
                f"no docker engine is reachable ({exc}); start one ('sudo dockerd &' or "
                "'systemctl start docker') or grade with --sandbox local"
            ) from exc
        self.image = self.image or expected_image()
        import docker.errors

        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound as exc:
            raise DockerUnavailable(
                f"the grading image {self.image} is missing; build it with 'grader image build'"
            ) from exc
        sweep(self.client)
        try:
            self._prepare_box()
            self.timings["copy_in"] = round(time.monotonic() - began, 3)
            t0 = time.monotonic()
            self._create()
            self.timings["create_start"] = round(time.monotonic() - t0, 3)
            t0 = time.monotonic()
            self._await_cluster()
            self._cluster_seconds = time.monotonic() - t0
            install(
                self.box / "bin",
                python=IMAGE_PYTHON,
                java=f"{IMAGE_JAVA_HOME}/bin/java",
                classpath="/opt/grader/kafka/*",
                log4j=Path(IMAGE_TOOLS_LOG4J),
                bootstrap=self._inside,
                log_file=self.box / "translations.jsonl",
            )
            self._own(self.box / "translations.jsonl", touch=True)
            threading.Thread(target=self._watch_disk, daemon=True).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, keep_logs_to: Path | None = None) -> None:
        self._watchdog_stop.set()
        t0 = time.monotonic()
        if self.container is not None:
            if keep_logs_to is not None:
                with contextlib.suppress(Exception):
                    self.copy_logs(keep_logs_to)
            with contextlib.suppress(Exception):
                self.container.remove(force=True)
            self.container = None
        if self.network is not None:
            with contextlib.suppress(Exception):
                self.network.remove()
            self.network = None
        if self._root is not None:
            _release(self._root)
            self._root = None
        self.timings["remove"] = round(time.monotonic() - t0, 3)

    def scratch_dir(self, name: str) -> Path:
        folder = self.box / "scratch" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        self._own(self.box / "scratch")
        self._own(folder)
        return folder

    def base_env(self) -> dict[str, str]:
        """The documented environment every student process gets (before assignment parameters)."""
        return {
            "PATH": f"{self.box / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp/home",
            "USER": "student",
            "LOGNAME": "student",
            "HADOOP_USER_NAME": "student",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TMPDIR": "/tmp",
            "JAVA_HOME": IMAGE_JAVA_HOME,
            "BOOTSTRAP_SERVERS": self._inside,
            "KAFKA_BOOTSTRAP_SERVERS": self._inside,
            "SPARK_KAFKA_JARS": self._spark_kafka_jars,
            "PYSPARK_PYTHON": IMAGE_PYTHON,
            ARCHIVE_ENV: IMAGE_SPARK_ARCHIVE,
            "PYTHONPATH": f"{IMAGE_STUDENT_LIB}:{IMAGE_RUNTIME}",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def spawn(
        self,
        cmd: list[str],
        *,
        label: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        limits: Limits | None = None,
    ) -> DockerProcess:
        assert self.container is not None, "sandbox not started"
        lim = limits or self.limits
        marker = secrets.token_hex(6)
        launcher = [
            RUN_STUDENT,
            str(lim.cpu_seconds),
            str(lim.file_size_mb * 1024),
            str(STUDENT_PROCESSES),
            "--",
        ]
        exec_id = self.client.api.exec_create(
            self.container.id,
            [*launcher, *cmd],
            stdout=True,
            stderr=True,
            stdin=stdin is not None,
            tty=False,
            environment={**self.base_env(), **(env or {}), RUN_MARKER_ENV: marker},
            workdir=str(cwd or self.workdir),
            user=f"{self.uid}:{self.uid}",
        )["Id"]
        sock = self.client.api.exec_start(exec_id, socket=True, tty=False)
        raw = getattr(sock, "_sock", sock)
        if stdin is not None:
            threading.Thread(target=self._feed, args=(raw, stdin), daemon=True).start()
        handle = DockerProcess(self, cmd, label, exec_id, sock, lim.output_kb * 1024, marker)
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
        handle = self.spawn(cmd, label=label, cwd=cwd, env=env, stdin=stdin, limits=limits)
        if handle.wait(timeout) is None:
            handle.kill_at_limit()
        return handle.record()

    def translations(self) -> list[Translation]:
        # The log is written by the shims as the student's user: read it without following a link
        # or blocking on a FIFO planted in its place, and only up to a sane size.
        try:
            fd = os.open(self.box / "translations.jsonl", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return []
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return []
            data = fh.read(1 << 20)
        assert self._root is not None
        copy = self._root / "translations.jsonl"
        copy.write_bytes(data)
        return read_translations(copy)

    def dead_brokers(self) -> dict[int, str]:
        if self.container is None:
            return {}
        try:
            self.container.reload()
            if self.container.status != "running":
                return dict.fromkeys(range(1, self.brokers + 1), "the sandbox's container has stopped")
            code, out = self.container.exec_run(
                [IMAGE_PYTHON, "-m", "grader.runtime.container_main", "status"], user=str(KAFKA_UID)
            )
        except Exception as exc:
            raise GraderError(f"cannot ask the sandbox about its brokers: {exc}") from exc
        if code != 0:
            raise GraderError(f"the sandbox's broker status failed: {out.decode(errors='replace')[-500:]}")
        return {int(k): v for k, v in json.loads(out).items()}

    def has_command(self, name: str) -> bool:
        if name not in self._commands:
            assert self.container is not None
            code, _ = self.container.exec_run(
                ["/bin/sh", "-c", 'command -v "$1" >/dev/null', "sh", name],
                user=f"{self.uid}:{self.uid}",
                environment={"PATH": self.base_env()["PATH"]},
            )
            self._commands[name] = code == 0
        return self._commands[name]

    # -- docker-specific -------------------------------------------------------------------------

    def end_run(self, run: DockerProcess, sig: str) -> None:
        """Send ``sig`` to what ``run`` started: every process of the student's user, except, while
        other runs are still going, the processes carrying one of their markers."""
        others = [h.marker for h in self._procs if h is not run and h.poll() is None]
        if not others:
            self.signal_student(sig)
            return
        if self.container is None:
            return
        number = {"TERM": 15, "KILL": 9}[sig]
        with contextlib.suppress(Exception):
            self.container.exec_run(
                [IMAGE_PYTHON, "-I", RUN_KILLER, str(number), *others], user=f"{self.uid}:{self.uid}"
            )

    def signal_student(self, sig: str) -> None:
        """Send ``sig`` to every process of the student's user (only this sandbox has that uid)."""
        if self.container is None:
            return
        with contextlib.suppress(Exception):
            self.container.exec_run(["/bin/sh", "-c", f"kill -{sig} -1"], user=f"{self.uid}:{self.uid}")

    def copy_logs(self, target: Path) -> list[Path]:
        """Copy each broker's log out of the container to ``target/broker-<id>.log``."""
        target.mkdir(parents=True, exist_ok=True)
        copies = []
        for broker in range(1, self.brokers + 1):
            code, out = self.container.exec_run(
                [IMAGE_PYTHON, "-m", "grader.runtime.container_main", "log", str(broker)], user=str(KAFKA_UID)
            )
            if code == 0:
                dest = target / f"broker-{broker}.log"
                dest.write_bytes(out)
                copies.append(dest)
        return copies

    # -- internals -----------------------------------------------------------------------------

    def _own(self, path: Path, touch: bool = False) -> None:
        """Make ``path`` the student's (as root) or writable for it (otherwise)."""
        if touch:
            path.touch()
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.uid)
        else:
            path.chmod(
                path.stat().st_mode | stat.S_IWOTH | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
            )

    def _prepare_box(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="grader-docker-"))
        (self._root / OWNER_FILE).write_text(_owner(), encoding="utf-8")
        box = self.box
        box.mkdir()
        self.quota_mounted = _mount_quota(box)
        self.skipped_files = copy_tree(self.submission, self.workdir, skip=NOT_SUBMITTED)
        (box / "scratch").mkdir()
        for folder, dirs, files in os.walk(self.workdir):
            for name in [*dirs, *files]:
                if not (Path(folder) / name).is_symlink():
                    self._own(Path(folder) / name)
        self._own(self.workdir)
        self._own(box / "scratch")
        if os.geteuid() != 0:
            box.chmod(0o755)
        # The student's uid is fresh, so the image has no account for it; Java (and so Spark) then
        # takes "?" for the home folder. These read-only account files name both users.
        etc = self._root / "etc"
        etc.mkdir()
        (etc / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/bash\n"
            f"kafka:x:{KAFKA_UID}:{KAFKA_UID}:kafka:/kafka:/usr/sbin/nologin\n"
            f"student:x:{self.uid}:{self.uid}:student:/tmp/home:/bin/bash\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        (etc / "group").write_text(
            f"root:x:0:\nkafka:x:{KAFKA_UID}:\nstudent:x:{self.uid}:\nnogroup:x:65534:\n"
        )
        for name in ("passwd", "group"):
            (etc / name).chmod(0o644)

    def _create(self) -> None:
        from docker.types import Ulimit

        tag = secrets.token_hex(6)
        labels = {LABEL: "1", OWNER_LABEL: _owner()}
        self.network = self.client.networks.create(
            f"grader-{tag}",
            driver="bridge",
            internal=True,
            labels=labels,
            options={"com.docker.network.bridge.name": f"grader-{tag}"[:15]},
        )
        _guard_host(f"grader-{tag}"[:15])
        mb = 1024 * 1024
        # Never above our own hard limit: the engine runs the container under it and refuses more.
        nofile = min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        self.container = self.client.containers.create(
            self.image,
            command=["serve", "--brokers", str(self.brokers), "--max-seconds", str(MAX_LIFETIME_S)],
            name=f"grader-{tag}",
            hostname="sandbox",
            user=f"{KAFKA_UID}:{KAFKA_UID}",
            environment={"TMPDIR": "/kafka", "HOME": "/kafka"},
            network=self.network.name,
            labels=labels,
            read_only=True,
            tmpfs={
                "/tmp": f"size={TMP_MB}m,mode=1777,exec",
                "/kafka": f"size=1024m,uid={KAFKA_UID},gid={KAFKA_UID},mode=0700,exec",
                "/run/grader": f"size=1m,uid={KAFKA_UID},gid={KAFKA_UID},mode=0755",
            },
            volumes={
                str(self.box): {"bind": str(self.box), "mode": "rw"},
                str(self.box.parent / "etc" / "passwd"): {"bind": "/etc/passwd", "mode": "ro"},
                str(self.box.parent / "etc" / "group"): {"bind": "/etc/group", "mode": "ro"},
            },
            mem_limit=CONTAINER_MEMORY_MB * mb,
            memswap_limit=CONTAINER_MEMORY_MB * mb,
            pids_limit=CONTAINER_PIDS,
            nano_cpus=int(self.cpus * 1e9),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ulimits=[Ulimit(name="core", soft=0, hard=0), Ulimit(name="nofile", soft=nofile, hard=nofile)],
            extra_hosts=dict.fromkeys(course_hosts(), "127.0.0.1"),
            stop_signal="SIGTERM",
        )
        self.container.start()

    def _await_cluster(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        lines: list[str] = []
        stream = self.container.logs(stream=True, follow=True, stdout=True, stderr=True)
        buffer = b""
        try:
            for chunk in stream:
                buffer += chunk
                *done, buffer = buffer.split(b"\n")
                for raw in done:
                    line = raw.decode(errors="replace")
                    lines.append(line)
                    if line.startswith("GRADER-READY "):
                        info = json.loads(line.split(" ", 1)[1])
                        self._inside, self._outside = info["inside"], info["outside"]
                        self._spark_kafka_jars = info["spark_kafka_jars"]
                        return
                    if line.startswith("GRADER-FAILED "):
                        raise ClusterStartError(
                            "the Kafka cluster in the sandbox did not start: "
                            + json.loads(line.split(" ", 1)[1])["error"]
                        )
                if time.monotonic() > deadline:
                    break
        finally:
            with contextlib.suppress(Exception):
                stream.close()
        raise ClusterStartError(
            f"the sandbox's Kafka cluster was not ready within {READY_TIMEOUT_S:.0f} s "
            "(or its container stopped); last lines:\n" + "\n".join(lines[-25:])
        )

    def _watch_disk(self) -> None:
        """Kill the student's processes once the box holds more than its quota."""
        cap = BOX_MB * 1024 * 1024
        while not self._watchdog_stop.wait(0.5):
            root = self._root
            if root is None:
                return
            full = False
            if self.quota_mounted:  # the file system refuses more: full is the quota reached
                with contextlib.suppress(OSError):
                    free = os.statvfs(root / "box")
                    full = free.f_bavail * free.f_frsize < 4 * 1024 * 1024
            else:
                full = _tree_size(root / "box", cap) > cap
            if full:
                self.disk_exceeded = True
                self.signal_student("KILL")

    @staticmethod
    def _feed(raw: Any, data: bytes) -> None:
        with contextlib.suppress(OSError):
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)


_guarded: set[str] = set()


def _guard_host(bridge: str) -> None:
    """Drop new connections from sandbox bridges to the host itself (root + iptables only).

    An internal docker network has no route out, but the host's own address on the bridge is
    still reachable: a service the host exposes on all interfaces would be open to student code.
    One rule for every ``grader-*`` bridge; replies to the grader's own connections still pass.
    """
    if os.geteuid() != 0 or shutil.which("iptables") is None or "grader" in _guarded:
        return
    rule = ["INPUT", "-i", "grader-+", "-m", "conntrack", "--ctstate", "NEW,INVALID", "-j", "DROP"]
    import subprocess

    exists = subprocess.run(["iptables", "-C", *rule], capture_output=True, check=False).returncode == 0
    if not exists:
        subprocess.run(["iptables", "-I", *rule], capture_output=True, check=False)
    _guarded.add("grader")


__all__ = ["DockerProcess", "DockerSandbox", "DockerUnavailable", "docker_unavailable_reason", "sweep"]
