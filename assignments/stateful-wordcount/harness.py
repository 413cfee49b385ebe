"""The grader's timeline for *stateful-wordcount*, as a reusable driver (no pytest, no scoring).

:func:`run_timeline` drives one submission through the whole story and returns plain
:class:`Observations`; checks and reports decide what they mean. The timeline:

1. create the topic (6 partitions, RF 2) and a seeded corpus split into 4 bursts;
2. run 1: start the app, produce burst 1, wait until it is counted; produce burst 2, wait;
3. stop the app (SIGTERM to its process group), delete burst 1's records from Kafka (as
   retention would: only the checkpoint still knows them), produce burst 3 while it is down;
4. run 2: start the app again with the same checkpoint and output dirs, wait until bursts 1..3
   are counted; keep the topic silent for ``pause`` s (less than IDLE_TIMEOUT_S); produce burst
   4, wait; then wait for the app to exit by itself, and read its last output file.

Waiting follows the app's progress, never fixed sleeps: every ``poll_s`` the grader reads the
app's checkpoint (the offsets of its newest committed micro-batch, see ``appfiles.py``) and its
output dir. A phase ends once the app has counted every record written so far, or its output
holds the expected totals, or it exited, or the burst's time budget is spent. How a process is
started is pluggable (``start_app``): the grader starts it in the sandbox.
"""

from __future__ import annotations

import contextlib
import random
import re
import shutil
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from grader.content import KafkaView, wait_while

from .appfiles import (
    FileSig,
    Progress,
    Snapshot,
    first_covering,
    newest_write,
    read_progress,
    read_snapshot,
    scan_output,
)

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
    """Knobs of the timeline, and the time budget a correct app must keep (see the README)."""

    trigger_seconds: float = 1.0
    idle_timeout_s: float = 10.0
    start_budget_s: float = 180.0
    """Counting a burst whose wait includes Spark's start-up (burst 1; burst 3 after the restart)."""
    burst_budget_s: float = 90.0
    """Counting any other burst, from the moment it was written."""
    pause_s: float | None = None
    """Silence between counting burst 3 and writing burst 4; default ``idle_timeout_s / 2``."""
    stop_extra_s: float = 30.0
    """The app must exit within ``idle_timeout_s`` + this after it counted the last rows."""
    stop_grace_s: float = 15.0
    poll_s: float = 0.2
    seed: int | str = 0
    topic: str | None = None  # default: a fresh unique name
    partitions: int = 6
    replication: int = 2
    spark_kafka_jars: str | None = None  # default: what the starter's environment has
    on_quiet: Callable[[], None] | None = None
    """Called when what is left is waiting on the app (the pause before the last burst, or the wait
    for its exit): the caller may then run other work beside it."""

    @property
    def pause(self) -> float:
        return self.idle_timeout_s / 2 if self.pause_s is None else self.pause_s

    @property
    def settle_s(self) -> float:
        """For apps whose checkpoint shows no progress: a phase ends after this long without new output."""
        return min(3 * self.trigger_seconds + 2, self.idle_timeout_s - 2)


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
    ended_by: str  # "match" | "caught_up" | "settled" | "exited" | "deadline"
    duration_s: float
    budget_s: float = 0.0  # how long the app had to count this burst
    written: int = 0  # records written to the topic so far
    processed: int | None = None  # of those, counted according to the app's checkpoint (None: unknown)

    @property
    def matched(self) -> bool:
        return self.snapshot == self.expected

    @property
    def behind(self) -> bool:
        """The budget ran out before the app had counted everything written so far."""
        return self.ended_by == "deadline" and not self.matched and (self.processed or 0) < self.written


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
    counted_anything: bool = False  # this run committed a batch or wrote an output file
    committed: bool = False  # this run's query committed a micro-batch in CHECKPOINT_DIR (it read Kafka)
    written_at_exit: int | None = None  # records in the topic when it exited by itself
    processed_at_exit: int | None = None  # of those, counted (checkpoint), None if unknown
    silence_s: float | None = None  # its last counted rows -> its exit by itself
    query_age_s: float | None = None  # its query's last sign of life in the checkpoint -> its exit


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
    pause_s: float | None = None  # the silence actually kept before the last burst
    stop_wait_s: float | None = None
    final_snapshot: dict[str, int] | None = None  # the last output file of the final run
    final_file: str | None = None
    final_problems: list[str] = field(default_factory=list)
    written: int = 0  # records written to the topic in all
    processed: int | None = None  # of those, counted at the end (checkpoint), None if unknown
    final_after_s: float | None = None  # last burst written -> final output read
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


class _Timeline:
    def __init__(
        self, cluster: ClusterLike, start_app: StartApp, config: HarnessConfig, workdir: Path
    ) -> None:
        self.config = config
        self.start_app = start_app
        self.clock = _Clock()
        self.kafka = KafkaView(cluster.bootstrap_servers)
        self.bootstrap = cluster.bootstrap_servers
        # The app writes below workdir; the grader reads there only through appfiles (no links).
        self.workdir = workdir
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
        self.launched_wall = 0.0
        self.run_baseline: dict[str, FileSig] = {}
        self.run_first_batch = -1  # newest committed batch when the current run started
        self.first_output_at: float | None = None
        self.last_new_output_at: float | None = None
        self.bursts_produced = 0
        self.written: dict[int, int] = {}  # partition -> end offset after the grader's last write
        self._producer: Any = None
        self.written_at = 0.0  # when the grader last wrote a burst

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

    def progress(self) -> Progress | None:
        return read_progress(self.workdir, self.obs.topic)

    def launch(self, number: int) -> None:
        self.run = RunObservation(run=number)
        self.obs.runs.append(self.run)
        self.run_baseline = scan_output(self.workdir)
        before = self.progress()
        self.run_first_batch = before.batch if before is not None else -1
        self.first_output_at = None
        self.last_new_output_at = None
        with self.clock.section("grader_work"):
            self.launched_at = time.monotonic()
            self.launched_wall = time.time()
            try:
                self.app = self.start_app(self.env())
            except Exception as exc:  # the app could not even be started: observed, not fatal
                self.app = None
                self.run.start_error = f"{type(exc).__name__}: {exc}"
                return
            self.apps.append((self.run, self.app))

    def note_activity(self, progress: Progress | None) -> None:
        """Remember whether the current run has counted anything (a new commit or output file)."""
        assert self.run is not None
        committed = progress is not None and progress.batch > self.run_first_batch
        if committed:
            self.run.committed = True
        if committed or self.first_output_at is not None:
            self.run.counted_anything = True

    def last_rows_at(self) -> float | None:
        """Wall-clock time the current run last counted new rows: its commit, else its newest output."""
        newest = self.progress()
        if newest is not None and newest.batch > self.run_first_batch:
            first = first_covering(self.workdir, self.obs.topic, newest.offsets)
            return (first or newest).committed_at
        fresh = [sig for name, sig in scan_output(self.workdir).items() if self.run_baseline.get(name) != sig]
        return max(sig[0] for sig in fresh) / 1e9 if fresh else None

    def check_exit(self, phase: str) -> int | None:
        """Exit status of the current app if it ended; an unasked-for end is recorded once."""
        if self.app is None or self.run is None:
            return -1
        code = self.app.poll()
        if code is not None and self.run.exit_after_s is None:
            exit_at = time.time()
            run = self.run
            run.exit_code = code
            run.exited_by_itself = True
            run.exited_during = phase
            run.bursts_produced_at_exit = self.bursts_produced
            run.exit_after_s = round(time.monotonic() - self.launched_at, 2)
            progress = self.progress()
            self.note_activity(progress)
            if scan_output(self.workdir) != self.run_baseline:
                run.counted_anything = True
            run.written_at_exit = sum(self.written.values())
            if progress is not None:
                run.processed_at_exit = progress.processed(self.written)
            last = self.last_rows_at() if run.counted_anything else None
            if last is not None:
                run.silence_s = round(exit_at - last, 2)
            alive = newest_write(self.workdir)
            if alive is not None and alive >= self.launched_wall - 1:
                run.query_age_s = round(exit_at - alive, 2)
        return code

    def produce(self, number: int) -> dict[str, FileSig]:
        """Write burst ``number`` (spread over all partitions); the output dir as it was before."""
        lines = self.obs.bursts[number - 1]
        records = [(i % self.config.partitions, None, line.encode("utf-8")) for i, line in enumerate(lines)]
        with self.clock.section("grader_work"):
            before = scan_output(self.workdir)
            # One producer for the whole timeline (bursts are on the app's critical path); the end
            # offsets are those the brokers acknowledged for the grader's own records.
            producer = self.producer()
            sent = [(p, producer.send(self.obs.topic, value=v, key=k, partition=p)) for p, k, v in records]
            producer.flush(timeout=30)
            for partition, future in sent:
                end = future.get(timeout=30).offset + 1
                self.written[partition] = max(self.written.get(partition, 0), end)
        self.bursts_produced = number
        self.written_at = time.monotonic()
        self.obs.written = sum(self.written.values())
        return before

    def producer(self) -> Any:
        if self._producer is None:
            self._producer = self.kafka.producer()
        return self._producer

    def newest_in_run(self, files: dict[str, FileSig]) -> str | None:
        fresh = [name for name, sig in files.items() if self.run_baseline.get(name) != sig]
        return max(fresh, key=lambda name: (files[name][0], name)) if fresh else None

    def await_totals(self, number: int, before: dict[str, FileSig]) -> None:
        """Wait until the app has counted bursts 1..number, by its checkpoint or its output.

        The phase ends when the app's newest committed micro-batch covers every offset written
        ("caught_up"), when its newest output file holds the expected totals ("match"), when it
        exits, or when the burst's time budget is spent ("deadline"). Apps whose checkpoint shows
        no progress at all end a phase once no new output file appeared for ``settle_s``.
        ``before`` is the output dir as scanned before the burst was produced: files that differ
        from it were written in this phase.
        """
        cfg = self.config
        name = f"burst{number}"
        expected = self.obs.expected[number - 1]
        began = time.monotonic()
        warm = self.run is not None and self.run.counted_anything  # Spark is up in this run
        limit = cfg.burst_budget_s if warm else cfg.start_budget_s
        previous = dict(before)
        snapshot: Snapshot | None = None
        snapshot_sig: FileSig | None = None
        new_in_phase = False
        ended_by = "deadline"
        progress: Progress | None = None
        with self.clock.section(name):
            while True:
                now = time.monotonic()
                exited = self.check_exit(name) is not None
                progress = self.progress()
                files = scan_output(self.workdir)
                if any(previous.get(n) != sig for n, sig in files.items()):
                    new_in_phase = True
                    self.last_new_output_at = now
                    if self.first_output_at is None:
                        self.first_output_at = now
                        assert self.run is not None
                        self.run.spark_start_s = round(now - self.launched_at, 2)
                previous = files
                self.note_activity(progress)
                caught_up = progress is not None and progress.covers(self.written)
                if caught_up:  # the commit comes after foreachBatch: that batch's file is there
                    files = scan_output(self.workdir)
                newest = self.newest_in_run(files)
                if newest is not None and (
                    snapshot is None or snapshot.name != newest or snapshot_sig != files[newest]
                ):
                    snapshot, snapshot_sig = read_snapshot(self.workdir, newest), files[newest]
                if snapshot is not None and snapshot.totals == expected:
                    ended_by = "match"
                    break
                if caught_up:
                    ended_by = "caught_up"
                    break
                if exited:
                    ended_by = "exited"
                    break
                quiet = now - (self.last_new_output_at or now)
                if progress is None and new_in_phase and quiet >= cfg.settle_s:
                    ended_by = "settled"
                    break
                if now - began >= limit:
                    break
                self.clock.sleep(cfg.poll_s)
        new_files = sorted(n for n, sig in scan_output(self.workdir).items() if before.get(n) != sig)
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
                budget_s=limit,
                written=sum(self.written.values()),
                processed=progress.processed(self.written) if progress is not None else None,
            )
        )

    def pause(self) -> None:
        """Keep the topic silent for ``config.pause`` s (less than IDLE_TIMEOUT_S) before the last burst.

        A phase that ran out of budget gets no pause: the app is still busy with older data.
        """
        last = self.obs.phases[-1] if self.obs.phases else None
        if self.app is None or last is None or last.ended_by not in ("match", "caught_up", "settled"):
            return
        began = time.monotonic()
        self.quiet()
        with self.clock.section("pause"):
            wait_while(
                lambda: self.check_exit("pause") is None,
                timeout=self.config.pause,
                interval=self.config.poll_s,
                sleep=self.clock.sleep,
            )
        self.obs.pause_s = round(time.monotonic() - began, 2)

    def quiet(self) -> None:
        if self.config.on_quiet is not None:
            self.config.on_quiet()

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
        self.quiet()
        with self.clock.section("stop_wait"):
            wait_while(
                lambda: self.check_exit("stop") is None,
                timeout=limit,
                interval=self.config.poll_s,
                sleep=self.clock.sleep,
            )
            if self.app.poll() is None:
                self.run.exit_code = self.app.terminate(2.0)
                self.run.killed = True
                self.run.exit_after_s = round(time.monotonic() - self.launched_at, 2)
        self.obs.stop_wait_s = round(time.monotonic() - began, 2)

    def record_final(self) -> None:
        """The final output: the last file the final run wrote, and how much it had counted."""
        files = scan_output(self.workdir)
        newest = self.newest_in_run(files)
        if newest is not None:
            final = read_snapshot(self.workdir, newest)
            self.obs.final_snapshot, self.obs.final_file = final.totals, final.name
            self.obs.final_problems = final.problems
        progress = self.progress()
        self.obs.processed = progress.processed(self.written) if progress is not None else None
        self.obs.final_after_s = round(time.monotonic() - self.written_at, 2)

    # -- the story -------------------------------------------------------------------------

    def play(self) -> None:
        cfg = self.config
        with self.clock.section("grader_work"):
            self.kafka.create_topic(self.obs.topic, cfg.partitions, cfg.replication)
        self.launch(1)
        before = self.produce(1)
        ends_after_burst1 = dict(self.written)
        self.await_totals(1, before)
        self.check_exit("burst2")
        self.await_totals(2, self.produce(2))
        self.stop_run()
        self.delete_burst1(ends_after_burst1)
        self.produce(3)
        self.launch(2)
        self.await_totals(3, self.run_baseline)
        self.pause()
        self.check_exit("burst4")
        self.await_totals(4, self.produce(4))
        self.await_exit()
        self.record_final()

    def cleanup(self) -> None:
        for run, app in self.apps:
            if app.poll() is None:
                run.exit_code = app.terminate(2.0)
                run.killed = True
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.close(timeout=5)
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
    if config.settle_s >= config.idle_timeout_s or config.pause >= config.idle_timeout_s:
        raise ValueError(
            "settle time and pause must be shorter than IDLE_TIMEOUT_S, or a correct app stops between bursts"
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
