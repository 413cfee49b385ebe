"""The grader's timeline for *stateful-wordcount*, as a reusable driver (no pytest, no scoring).

:func:`run_timeline` drives one submission through the whole story and returns plain
:class:`Observations`; checks and reports decide what they mean. The timeline:

1. create the topic (6 partitions, RF 2) and a seeded corpus split into 4 bursts;
2. run 1: start the app, produce burst 1, wait for its totals; produce burst 2, wait;
3. stop the app (SIGTERM to its process group), delete burst 1's records from Kafka (as
   retention would: only the checkpoint still knows them), produce burst 3 while it is down;
4. run 2: start the app again with the same checkpoint and output dirs, wait for the totals of
   bursts 1..3; produce burst 4, wait; then wait for the app to exit by itself.

Waiting is driven by observation, never by fixed sleeps: the output dir is polled every
``poll_s`` and a phase ends as soon as the newest file of the current run holds the expected
totals, or once no new file has appeared for ``settle_s``, or the app exited, or a deadline
passed. How a process is started is pluggable (``start_app``); :class:`SubprocessStarter` is a
plain local implementation.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from grader.student import STUDENT_LIB

BATCH_FILE = re.compile(r"^batch-(\d{6,})\.tsv$")


# -- process start (pluggable) -------------------------------------------------------------------


@runtime_checkable
class AppProcess(Protocol):
    """A running student app (its whole process group)."""

    def poll(self) -> int | None:
        """Exit status if it has ended, else None."""

    def terminate(self, grace_s: float) -> int | None:
        """SIGTERM the group, SIGKILL it after ``grace_s``; the exit status."""

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s; the exit status, or None if still running."""


StartApp = Callable[[dict[str, str]], AppProcess]


class ClusterLike(Protocol):
    """Anything with the brokers' ``host:port,...`` (a KafkaCluster, a sandbox)."""

    @property
    def bootstrap_servers(self) -> str: ...


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


_ARCHIVE_JOB = """
import sys, time
import seminar_spark
seminar_spark.SPARK_SETTINGS["spark.driver.extraJavaOptions"] += (
    " -XX:ArchiveClassesAtExit=" + sys.argv[1] + " -Xlog:cds=off -Xlog:cds+dynamic=off")
spark = seminar_spark.spark_session("class-archive")
rows = spark.readStream.format("rate").option("rowsPerSecond", 20).load()
counts = rows.selectExpr("CAST(value % 7 AS STRING) AS word").groupBy("word").count()
seen = []
query = (counts.writeStream.outputMode("complete").trigger(processingTime="500 milliseconds")
         .foreachBatch(lambda df, batch_id: seen.append(df.collect())).start())
while len(seen) < 3 and query.isActive:
    time.sleep(0.2)
query.stop()
spark.stop()
"""


def build_class_archive(target: Path, *, python: str = sys.executable, timeout_s: float = 180.0) -> float:
    """Make a JVM class-data archive of Spark (``SPARK_CDS_ARCHIVE`` for seminar_spark); seconds taken.

    Runs a small streaming job once with ``-XX:ArchiveClassesAtExit``; the archive (~150 MB)
    is written at JVM exit, then renamed into place. Later Spark starts map these classes
    instead of loading them (measured: about 2 s sooner per start on 2 cores).
    """
    began = time.monotonic()
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    env = {**os.environ, "PYTHONPATH": str(STUDENT_LIB), "PYSPARK_PYTHON": python}
    env.pop("SPARK_CDS_ARCHIVE", None)
    try:
        done = subprocess.run(
            [python, "-c", _ARCHIVE_JOB, str(partial)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
            start_new_session=True,
        )
        if done.returncode != 0 or not partial.is_file():
            tail = done.stderr.decode(errors="replace")[-1500:]
            raise RuntimeError(f"building the class archive failed (exit {done.returncode}):\n{tail}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return time.monotonic() - began


# -- corpus ----------------------------------------------------------------------------------------

# Words differing only by case, Cyrillic (with ё), punctuation glued to words, a lone dash.
VOCABULARY = (
    "Kafka",
    "kafka",
    "KAFKA",
    "Spark",
    "spark",
    "stream",
    "Stream",
    "log",
    "logs",
    "offset",
    "partition",
    "leader",
    "replica",
    "topic",
    "broker",
    "state",
    "checkpoint",
    "batch",
    "kafka,",
    "Spark.",
    "(stream)",
    "at-least-once",
    "exactly-once!",
    "don't",
    "x=1",
    "—",
    "Кафка",
    "кафка",
    "КАФКА",
    "поток",
    "Поток",
    "данные",
    "слово",
    "слова",
    "лидер",
    "реплика",
    "ёж",
    "Ёж",
    "счётчик",
    "партиция,",
    "«лог»",
    "данные.",
    "Привет!",
    "мир?",
)
SEPARATORS = (" ", " ", " ", "  ", "\t", " \t", "\t\t", "   ")


def tokenize(line: str) -> list[str]:
    """The contract's tokenisation: split on runs of spaces/tabs, drop empty tokens, keep case."""
    return [token for token in re.split(r"[ \t]+", line) if token]


def make_corpus(seed: int | str, bursts: int = 4) -> list[list[str]]:
    """Lines for each burst; every burst has case pairs, Cyrillic, double/leading spaces and tabs."""
    rng = random.Random(f"stateful-wordcount:{seed}")
    corpus = []
    for number in range(1, bursts + 1):
        lines = [
            "Kafka  kafka\tKAFKA kafka",  # case must be kept; a double space
            "  Кафка кафка  поток\tПоток ",  # leading spaces, trailing space, Cyrillic case pair
            "\tspark Spark.  Spark",  # leading tab
            f"burst{number} " * rng.randint(1, 3),  # a word only this burst has
        ]
        for _ in range(rng.randint(14, 22)):
            words = [rng.choice(VOCABULARY) for _ in range(rng.randint(1, 9))]
            line = "".join(word + rng.choice(SEPARATORS) for word in words[:-1]) + words[-1]
            if rng.random() < 0.25:
                line = rng.choice((" ", "  ", "\t", " \t")) + line
            if rng.random() < 0.2:
                line += rng.choice((" ", "  ", "\t"))
            lines.append(line)
        lines.append("   ")  # a record without any word
        rng.shuffle(lines)
        corpus.append(lines)
    return corpus


def expected_totals(corpus: list[list[str]]) -> tuple[list[Counter[str]], list[Counter[str]]]:
    """(each burst alone, cumulative totals after each burst)."""
    alone = [Counter(token for line in lines for token in tokenize(line)) for lines in corpus]
    cumulative: list[Counter[str]] = []
    running: Counter[str] = Counter()
    for counts in alone:
        running = running + counts
        cumulative.append(Counter(running))
    return alone, cumulative


# -- observations ----------------------------------------------------------------------------------


@dataclass
class HarnessConfig:
    """Knobs of the timeline. ``settle_s`` must stay below ``idle_timeout_s`` (bursts' gaps)."""

    trigger_seconds: float = 1.0
    idle_timeout_s: float = 10.0
    start_deadline_s: float = 90.0  # a phase that includes Spark's start-up
    burst_deadline_s: float = 30.0  # a phase of an app that already wrote output in this run
    stop_grace_s: float = 15.0
    stop_extra_s: float = 45.0  # waiting for the exit: idle_timeout_s + this
    poll_s: float = 0.2
    seed: int | str = 0
    topic: str | None = None  # default: a fresh unique name
    partitions: int = 6
    replication: int = 2
    spark_kafka_jars: str | None = None  # default: what the starter's environment has

    @property
    def settle_s(self) -> float:
        return min(3 * self.trigger_seconds + 2, self.idle_timeout_s - 2)


@dataclass
class Snapshot:
    """One output file as read: totals (None if unreadable) and what was wrong with it."""

    name: str
    totals: dict[str, int] | None
    problems: list[str] = field(default_factory=list)


@dataclass
class PhaseObservation:
    """What the grader saw while waiting for one burst's totals."""

    name: str  # "burst1" .. "burst4"
    run: int
    expected: dict[str, int]  # cumulative totals of bursts 1..k
    snapshot: dict[str, int] | None  # newest file of the current run at the end of the phase
    snapshot_file: str | None
    problems: list[str]
    new_files: list[str]  # output files written (or rewritten) after the phase began
    ended_by: str  # "match" | "settled" | "exited" | "deadline"
    duration_s: float

    @property
    def matched(self) -> bool:
        return self.snapshot == self.expected


@dataclass
class RunObservation:
    """One start of the app."""

    run: int
    spark_start_s: float | None = None  # launch -> first output file of this run
    exit_code: int | None = None
    exited_by_itself: bool = False
    exited_during: str | None = None  # phase in which an exit not asked for was noticed
    bursts_produced_at_exit: int | None = None
    exit_after_s: float | None = None  # launch -> exit noticed
    terminated_by_grader: bool = False  # SIGTERM of the timeline's planned stop
    killed: bool = False  # did not exit by itself in time; killed by the grader
    start_error: str | None = None


@dataclass
class Observations:
    """Everything one timeline run observed (plain data; the checks judge it)."""

    topic: str
    bursts: list[list[str]]
    burst_alone: list[dict[str, int]]
    expected: list[dict[str, int]]  # cumulative after each burst
    phases: list[PhaseObservation] = field(default_factory=list)
    runs: list[RunObservation] = field(default_factory=list)
    deleted_before: dict[int, int] = field(default_factory=dict)  # partition -> new log start offset
    stop_wait_s: float | None = None
    exit_after_last_output_s: float | None = None  # last new output file -> exit of the final run
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None  # a failure of the grader's side (Kafka, file system), not the app's

    def phase(self, name: str) -> PhaseObservation | None:
        return next((p for p in self.phases if p.name == name), None)

    @property
    def early_exit(self) -> RunObservation | None:
        """The first run that ended by itself before the timeline expected it to."""
        return next((r for r in self.runs if r.exited_during is not None and r.exited_during != "stop"), None)


# -- the timeline ----------------------------------------------------------------------------------


class _Clock:
    """Time bookkeeping: named durations and the total time spent sleeping."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.sleep_s = 0.0
        self.sections: dict[str, float] = {}

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep_s += seconds
            time.sleep(seconds)

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.sections[name] = self.sections.get(name, 0.0) + time.monotonic() - start


def _scan(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Output files -> (mtime_ns, inode, size): a changed tuple means (re)written."""
    found = {}
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            if BATCH_FILE.match(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    st = entry.stat()
                    found[entry.name] = (st.st_mtime_ns, st.st_ino, st.st_size)
    return found


def read_snapshot(path: Path) -> Snapshot:
    """Parse ``word<TAB>count`` lines (UTF-8); problems are reported, not raised."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Snapshot(path.name, None, [f"cannot read: {exc}"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Snapshot(path.name, None, [f"not UTF-8: {exc}"])
    totals: dict[str, int] = {}
    problems: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix("\r")
        word, tab, count = line.rpartition("\t")
        if not tab:
            problems.append(f"line {number} has no tab: {line[:60]!r}")
            continue
        try:
            value = int(count)
        except ValueError:
            problems.append(f"line {number}: count is not a number: {count[:30]!r}")
            continue
        if word in totals:
            problems.append(f"line {number}: word {word!r} appears twice")
        totals[word] = totals.get(word, 0) + value
    return Snapshot(path.name, totals, problems)


class _Timeline:
    def __init__(
        self, cluster: ClusterLike, start_app: StartApp, config: HarnessConfig, workdir: Path
    ) -> None:
        from grader.kafka_util import KafkaView

        self.config = config
        self.start_app = start_app
        self.clock = _Clock()
        self.kafka = KafkaView(cluster.bootstrap_servers)
        self.bootstrap = cluster.bootstrap_servers
        self.checkpoint_dir = workdir / "checkpoint"
        self.output_dir = workdir / "output"
        self.output_dir.mkdir(parents=True, exist_ok=True)
        topic = config.topic or f"wordcount-{uuid.uuid4().hex[:8]}"
        corpus = make_corpus(config.seed)
        alone, cumulative = expected_totals(corpus)
        self.obs = Observations(topic, corpus, [dict(c) for c in alone], [dict(c) for c in cumulative])
        self.apps: list[tuple[RunObservation, AppProcess]] = []
        self.app: AppProcess | None = None
        self.run: RunObservation | None = None
        self.launched_at = 0.0
        self.run_baseline: dict[str, tuple[int, int, int]] = {}
        self.first_output_at: float | None = None
        self.last_new_output_at: float | None = None
        self.bursts_produced = 0

    # -- helpers ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The app's variables; SPARK_KAFKA_JARS comes from the starter (the sandbox) unless configured."""
        env = {
            "BOOTSTRAP_SERVERS": self.bootstrap,
            "TOPIC": self.obs.topic,
            "CHECKPOINT_DIR": str(self.checkpoint_dir),
            "OUTPUT_DIR": str(self.output_dir),
            "TRIGGER_SECONDS": f"{self.config.trigger_seconds:g}",
            "IDLE_TIMEOUT_S": f"{self.config.idle_timeout_s:g}",
        }
        if self.config.spark_kafka_jars is not None:
            env["SPARK_KAFKA_JARS"] = self.config.spark_kafka_jars
        return env

    def launch(self, number: int) -> None:
        self.run = RunObservation(run=number)
        self.obs.runs.append(self.run)
        self.run_baseline = _scan(self.output_dir)
        self.first_output_at = None
        self.last_new_output_at = None
        with self.clock.section("grader_work"):
            self.launched_at = time.monotonic()
            try:
                self.app = self.start_app(self.env())
            except Exception as exc:  # the app could not even be started: observed, not fatal
                self.app = None
                self.run.start_error = f"{type(exc).__name__}: {exc}"
                return
            self.apps.append((self.run, self.app))

    def check_exit(self, phase: str) -> int | None:
        """Exit status of the current app if it ended; an unasked-for end is recorded once."""
        if self.app is None or self.run is None:
            return -1
        code = self.app.poll()
        if code is not None and self.run.exit_after_s is None:
            self.run.exit_code = code
            self.run.exited_by_itself = True
            self.run.exited_during = phase
            self.run.bursts_produced_at_exit = self.bursts_produced
            self.run.exit_after_s = round(time.monotonic() - self.launched_at, 2)
        return code

    def produce(self, number: int) -> dict[str, tuple[int, int, int]]:
        """Write burst ``number`` (spread over all partitions); the output dir as it was before."""
        lines = self.obs.bursts[number - 1]
        records = [(i % self.config.partitions, None, line.encode("utf-8")) for i, line in enumerate(lines)]
        with self.clock.section("grader_work"):
            before = _scan(self.output_dir)
            self.kafka.produce(self.obs.topic, records)
        self.bursts_produced = number
        return before

    def newest_in_run(self, files: dict[str, tuple[int, int, int]]) -> str | None:
        fresh = [name for name, sig in files.items() if self.run_baseline.get(name) != sig]
        return max(fresh, key=lambda name: (files[name][0], name)) if fresh else None

    def await_totals(self, number: int, before: dict[str, tuple[int, int, int]]) -> None:
        """Wait (polling) until the current run's newest file holds bursts 1..number.

        ``before`` is the output dir as scanned before the burst was produced: files that differ
        from it were written in this phase.
        """
        cfg = self.config
        name = f"burst{number}"
        expected = self.obs.expected[number - 1]
        began = time.monotonic()
        warm = self.first_output_at is not None  # this run already wrote output: Spark is up
        limit = cfg.burst_deadline_s if warm else cfg.start_deadline_s
        previous = dict(before)
        snapshot: Snapshot | None = None
        snapshot_sig: tuple[int, int, int] | None = None
        new_in_phase = False
        ended_by = "deadline"
        with self.clock.section(name):
            while True:
                now = time.monotonic()
                exited = self.check_exit(name) is not None
                files = _scan(self.output_dir)
                if any(previous.get(n) != sig for n, sig in files.items()):
                    new_in_phase = True
                    self.last_new_output_at = now
                    if self.first_output_at is None:
                        self.first_output_at = now
                        assert self.run is not None
                        self.run.spark_start_s = round(now - self.launched_at, 2)
                previous = files
                newest = self.newest_in_run(files)
                if newest is not None and (
                    snapshot is None or snapshot.name != newest or snapshot_sig != files[newest]
                ):
                    snapshot, snapshot_sig = read_snapshot(self.output_dir / newest), files[newest]
                if snapshot is not None and snapshot.totals == expected:
                    ended_by = "match"
                    break
                if exited:
                    ended_by = "exited"
                    break
                if new_in_phase and now - (self.last_new_output_at or now) >= cfg.settle_s:
                    ended_by = "settled"
                    break
                if now - began >= limit:
                    break
                self.clock.sleep(cfg.poll_s)
        new_files = sorted(n for n, sig in _scan(self.output_dir).items() if before.get(n) != sig)
        assert self.run is not None
        self.obs.phases.append(
            PhaseObservation(
                name=name,
                run=self.run.run,
                expected=expected,
                snapshot=snapshot.totals if snapshot else None,
                snapshot_file=snapshot.name if snapshot else None,
                problems=snapshot.problems if snapshot else [],
                new_files=new_files,
                ended_by=ended_by,
                duration_s=round(time.monotonic() - began, 2),
            )
        )

    def stop_run(self) -> None:
        """The planned stop between bursts 2 and 3: SIGTERM the group, SIGKILL after the grace."""
        if self.app is None or self.run is None or self.check_exit("burst2") is not None:
            return
        with self.clock.section("terminate"):
            self.run.exit_code = self.app.terminate(self.config.stop_grace_s)
        self.run.terminated_by_grader = True
        self.run.exit_after_s = round(time.monotonic() - self.launched_at, 2)

    def delete_burst1(self, ends: dict[int, int]) -> None:
        """Delete the records of burst 1 (the end offsets right after it), like retention would."""
        from kafka import TopicPartition

        with self.clock.section("grader_work"):
            request = {TopicPartition(self.obs.topic, p): off for p, off in ends.items() if off > 0}
            if request:
                self.kafka.admin.delete_records(request, timeout_ms=15000)
            self.obs.deleted_before = dict(sorted(ends.items()))

    def await_exit(self) -> None:
        """Wait for the final run to end by itself (idle_timeout_s + stop_extra_s); else kill it."""
        if self.app is None or self.run is None:
            return
        began = time.monotonic()
        limit = self.config.idle_timeout_s + self.config.stop_extra_s
        with self.clock.section("stop_wait"):
            while self.check_exit("stop") is None and time.monotonic() - began < limit:
                self.clock.sleep(self.config.poll_s)
            if self.app.poll() is None:
                self.run.exit_code = self.app.terminate(2.0)
                self.run.killed = True
                self.run.exit_after_s = round(time.monotonic() - self.launched_at, 2)
        ended = time.monotonic()
        self.obs.stop_wait_s = round(ended - began, 2)
        if self.run.exited_during == "stop" and self.last_new_output_at is not None:
            self.obs.exit_after_last_output_s = round(ended - self.last_new_output_at, 2)

    # -- the story -------------------------------------------------------------------------

    def play(self) -> None:
        cfg = self.config
        with self.clock.section("grader_work"):
            self.kafka.create_topic(self.obs.topic, cfg.partitions, cfg.replication)
        self.launch(1)
        before = self.produce(1)
        with self.clock.section("grader_work"):
            ends_after_burst1 = self.kafka.end_offsets(self.obs.topic)
        self.await_totals(1, before)
        self.check_exit("burst2")
        self.await_totals(2, self.produce(2))
        self.stop_run()
        self.delete_burst1(ends_after_burst1)
        self.produce(3)
        self.launch(2)
        self.await_totals(3, self.run_baseline)
        self.check_exit("burst4")
        self.await_totals(4, self.produce(4))
        self.await_exit()

    def cleanup(self) -> None:
        for run, app in self.apps:
            if app.poll() is None:
                run.exit_code = app.terminate(2.0)
                run.killed = True
        with contextlib.suppress(Exception):
            self.kafka.admin.delete_topics([self.obs.topic], timeout_ms=10000)
        self.kafka.close()


def run_timeline(
    cluster: ClusterLike,
    start_app: StartApp,
    config: HarnessConfig | None = None,
    workdir: Path | None = None,
) -> Observations:
    """Play the whole timeline against ``cluster``; always stops every app it started.

    ``workdir`` receives ``checkpoint/`` and ``output/``; without it a temp dir is used and
    removed afterwards. A failure on the grader's side is recorded in ``Observations.error``.
    """
    config = config or HarnessConfig()
    if config.settle_s >= config.idle_timeout_s:
        raise ValueError(
            "settle time must be shorter than IDLE_TIMEOUT_S, or a correct app stops between bursts"
        )
    owned = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="wordcount-harness-")) if workdir is None else workdir
    timeline: _Timeline | None = None
    try:
        timeline = _Timeline(cluster, start_app, config, folder)
        try:
            timeline.play()
        except Exception:
            timeline.obs.error = traceback.format_exc(limit=8)
        return timeline.obs
    finally:
        if timeline is not None:
            timeline.cleanup()
            clock = timeline.clock
            timings = {f"{name}_s": round(value, 2) for name, value in clock.sections.items()}
            for run in timeline.obs.runs:
                if run.spark_start_s is not None:
                    timings[f"spark_start_run{run.run}_s"] = run.spark_start_s
            timings["sleep_s"] = round(clock.sleep_s, 2)
            timings["total_s"] = round(time.monotonic() - clock.began, 2)
            timeline.obs.timings = timings
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
