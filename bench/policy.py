"""Benchmark: the course policy and copy evidence over a synthetic class (figures printed, never asserted).

    .venv/bin/python bench/policy.py [--students 200] [--rounds 3]

Each student hands in all four assignments, written from one of several independent styles with
their own names (and 5 % are renamed copies of someone else's word count, 2 % hold another student's
topic). Timed, as ``grader batch`` does them:

- policy: reading and checking course.toml, overrides.csv (one row per ten students) and extensions.csv,
  then applying overrides, late penalties and shared grace days to every student's result (and the
  gradebook rows);
- copy evidence: parameters of every student from the course seed, then copydetect over every
  assignment's entrypoints (copydetect's import included);
- for comparison, rendering every student's reports again, which the batch does when the policy
  changed a result.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from grader.batch.course import class_members, load_course_files, report_files
from grader.batch.intake import Submission
from grader.batch.jobs import derive_seed
from grader.batch.records import Grading, StudentRecord, record_for_result
from grader.policy import CopySettings, load_policy
from grader.policy.copies import Candidate, find_copies
from grader.registry import discover
from grader.results import AssignmentResult, CheckResult, Status, SubmissionResult

COURSE_SEED = 4242
DUE = datetime(2026, 12, 1, 20, 59, tzinfo=UTC)
COURSE = """\
[course]
seed = 4242
timezone = "Europe/Moscow"
grace_days = 3

[assignments.topic-create]
due = 2026-12-01T23:59:00
late = { per = "day", percent = 10, max_percent = 50 }

[assignments.produce-sequence]
due = 2026-12-08T23:59:00
late = { timeline = [{ until = "2d", credit = 80 }, { until = "7d", credit = 50 }] }

[assignments.consume-partition]
due = 2026-12-15T23:59:00
late = { per = "hour", percent = 2 }
counts = "best"

[assignments.stateful-wordcount]
due = 2026-12-22T23:59:00
late = { per = "day", percent = 20 }
"""

SHELL = {
    "topic-create/create_topic.sh": [
        'kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --topic "$TOPIC" --partitions 6 '
        "--replication-factor 2 --if-not-exists\n",
        '#!/bin/bash\n{v}="$BOOTSTRAP_SERVERS"\n'
        "kafka-topics.sh --bootstrap-server ${v} --create --topic $TOPIC \\\n"
        "  --partitions 6 --replication-factor 2 || true\n"
        "kafka-topics.sh --bootstrap-server ${v} --describe --topic $TOPIC\n",
        'set -e\nif ! kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --list | grep -qx "$TOPIC"; then\n'
        '  kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --topic "$TOPIC" --partitions 6 '
        "--replication-factor 2\nfi\n",
    ],
    "produce-sequence/produce.sh": [
        'seq "$N" | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"\n',
        "for {v} in $(seq 1 $N); do echo ${v}; done | kafka-console-producer.sh --broker-list "
        '"$BOOTSTRAP_SERVERS" --topic "$TOPIC"\n',
        '{v}=1\nwhile [ ${v} -le "$N" ]; do echo ${v}; {v}=$(({v} + 1)); done \\\n'
        '  | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"\n',
    ],
    "consume-partition/consume.sh": [
        'kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" --partition '
        '"$PARTITION" --from-beginning --timeout-ms 5000\n',
        "{v}=$BOOTSTRAP_SERVERS\n"
        "kafka-console-consumer.sh --bootstrap-server ${v} --topic $TOPIC --partition $PARTITION "
        "--offset earliest --timeout-ms 4000 2>/dev/null\n",
    ],
}
WORDCOUNT = [
    """import os
import time
from pyspark.sql import functions as F
from seminar_spark import spark_session, write_totals

{v} = spark_session("{w}")
{x} = ({v}.readStream.format("kafka").option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
      .option("subscribe", os.environ["TOPIC"]).option("startingOffsets", "earliest").load())
{y} = {x}.select(F.explode(F.split(F.col("value").cast("string"), r"\\s+")).alias("word")).where("word != ''")
{z} = ({y}.groupBy("word").count().writeStream.outputMode("complete")
      .foreachBatch(lambda df, i: write_totals(df, i, os.environ["OUTPUT_DIR"]))
      .option("checkpointLocation", os.environ["CHECKPOINT_DIR"]).start())
{w} = time.time()
while {z}.isActive:
    time.sleep(0.5)
    p = {z}.lastProgress
    if p and p["numInputRows"]:
        {w} = time.time()
    if time.time() - {w} > float(os.environ.get("IDLE_TIMEOUT_S", "10")):
        {z}.stop()
""",
    """import os, sys, time
import pyspark.sql.functions as fn
from seminar_spark import spark_session, write_totals


class {v}:
    def __init__(self):
        self.spark = spark_session()

    def {w}(self):
        df = self.spark.readStream.format("kafka") \\
            .option("kafka.bootstrap.servers", os.getenv("BOOTSTRAP_SERVERS")) \\
            .option("subscribe", os.getenv("TOPIC")).option("startingOffsets", "earliest").load()
        words = df.select(fn.explode(fn.split(df.value.cast("string"), "[ \\t]+")).alias("word"))
        q = words.where(words.word != "").groupBy("word").count().writeStream.outputMode("complete") \\
            .foreachBatch(lambda b, i: write_totals(b, i, os.getenv("OUTPUT_DIR"))) \\
            .option("checkpointLocation", os.getenv("CHECKPOINT_DIR")).start()
        {x} = time.monotonic()
        {y} = set()
        while q.isActive:
            for p in q.recentProgress:
                if p["batchId"] not in {y}:
                    {y}.add(p["batchId"])
                    if p["numInputRows"] > 0:
                        {x} = time.monotonic()
            if time.monotonic() - {x} >= float(os.getenv("IDLE_TIMEOUT_S", "10")):
                q.stop()
            time.sleep(1)
        return 0


sys.exit({v}().{w}())
""",
]
NAMES = [
    "acc",
    "buf",
    "cnt",
    "data",
    "entry",
    "flow",
    "gen",
    "hold",
    "item",
    "job",
    "kit",
    "lst",
    "msg",
    "num",
]


PLANTED: set[tuple[str, str]] = set()
"""(original, copier) word counts."""
PLANTED_TOPICS: set[tuple[str, str]] = set()
"""(holder, owner) of a topic name."""


HELPERS = [
    "def log(*parts):\n    print(*parts, file=sys.stderr, flush=True)\n",
    "def env(name, default=None):\n    value = os.environ.get(name, default)\n    if value is None:\n"
    "        raise SystemExit(name + ' is not set')\n    return value\n",
    "MAX_WAIT = {n}\nPOLL = {f}\n",
    "def elapsed(since):\n    return round(time.time() - since, {d})\n",
    "import logging\nlogging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
    "LOG = logging.getLogger('wc')\n",
    "assert os.environ.get('TOPIC'), 'TOPIC is not set'\nassert os.environ.get('OUTPUT_DIR')\n",
    "DEBUG = bool(os.environ.get('WC_DEBUG'))\nif DEBUG:\n    print(sorted(os.environ), file=sys.stderr)\n",
    "def idle_limit():\n    try:\n        return float(os.environ['IDLE_TIMEOUT_S'])\n"
    "    except (KeyError, ValueError):\n        return {n}.0\n",
    "START = time.time()\nBATCHES = []\n",
    "def banner():\n    return '=' * {d}\n",
    "class Stats:\n    rows = 0\n    batches = 0\n\n"
    "    def add(self, n):\n        self.rows += n\n        self.batches += 1\n",
    "def checkpoint_dir():\n    path = os.environ['CHECKPOINT_DIR']\n"
    "    os.makedirs(path, exist_ok=True)\n    return path\n",
]


def vary(program: str, rng: random.Random) -> str:
    """What makes two people's programs differ beyond names: constants, helpers of their own, their order."""
    program = program.replace(
        "time.sleep(0.5)", f"time.sleep({rng.choice(['0.5', '1', '0.25', '2', '0.2'])})"
    )
    program = program.replace("time.sleep(1)", f"time.sleep({rng.choice(['0.5', '1', '0.3', '3'])})")
    program = program.replace('"10"', f'"{rng.choice(["10", "8", "12", "15", "9"])}"')
    helpers = [
        h.replace("{n}", str(rng.randrange(5, 900))).replace("{f}", str(rng.choice([0.1, 0.2, 0.5, 1.5])))
        .replace("{d}", str(rng.randrange(1, 40)))
        for h in rng.sample(HELPERS, rng.randrange(2, 6))
    ]  # fmt: skip
    head, _, body = program.partition("\n\n")
    if "sys" not in head:
        head += "\nimport sys"
    return head + "\n\n" + "\n\n".join(helpers) + "\n\n" + body


def synthetic_class(root: Path, students: int, rng: random.Random) -> list[Candidate]:
    """``students`` submissions: styles with their own names, 5 % renamed copies, 2 % holding a topic."""
    candidates = []
    wordcounts: list[str] = []
    for i in range(students):
        sid = f"s{i:03d}"
        folder = root / sid
        for rel, variants in SHELL.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rng.choice(variants).format(v=rng.choice(NAMES)))
        names = rng.sample(NAMES, 5)
        wc = rng.choice(WORDCOUNT).format(v=names[0], w=names[1], x=names[2], y=names[3], z=names[4])
        wc = vary(wc, rng)
        if wordcounts and rng.random() < 0.05:
            source = rng.randrange(len(wordcounts))
            wc = wordcounts[source].replace("time.sleep(0.5)", "time.sleep(0.5)  # poll")
            PLANTED.add((f"s{source:03d}", sid))
        wordcounts.append(wc)
        (folder / "stateful-wordcount").mkdir(parents=True, exist_ok=True)
        (folder / "stateful-wordcount" / "wordcount.py").write_text(wc)
        if i and rng.random() < 0.02:
            other = f"s{rng.randrange(i):03d}"
            PLANTED_TOPICS.add((sid, other))
            topic = next(a for a in discover() if a.id == "produce-sequence").spec.draw_params(
                derive_seed(COURSE_SEED, other)
            )["TOPIC"]
            (folder / "produce-sequence" / "produce.sh").write_text(
                f"seq $N | kafka-console-producer --topic {topic}\n"
            )
        candidates.append(Candidate(sid, sid, derive_seed(COURSE_SEED, sid), folder))
    return candidates


def results(candidates: list[Candidate], rng: random.Random) -> dict[str, SubmissionResult]:
    """A graded result per student: the real checks, a fifth of them failed."""
    out = {}
    for c in candidates:
        result = SubmissionResult(submission=c.key, seed=c.seed, grader_version="bench", started_at=DUE)
        for a in discover():
            checks = [
                CheckResult(id=k.id, title=k.title, max_points=k.points, points=0.0 if failed else k.points,
                            status=Status.FAILED if failed else Status.PASSED)
                for k in a.checks
                for failed in [rng.random() < 0.2]
            ]  # fmt: skip
            result.assignments.append(
                AssignmentResult(id=a.id, title=a.spec.title, max_points=a.spec.points, checks=checks)
            )
        out[c.key] = result
    return out


CPU: list[float] = []


def timed(fn, rounds: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Median wall seconds of ``rounds`` calls and the last value (median CPU seconds go to ``CPU``)."""
    times, cpu, value = [], [], None
    for _ in range(rounds):
        began, began_cpu = time.perf_counter(), time.process_time()
        value = fn()
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    CPU.append(statistics.median(cpu))
    return statistics.median(times), value


def main() -> None:
    """Build the class, time each part, print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    assignments = discover()
    with tempfile.TemporaryDirectory(prefix="bench-policy-") as tmp:
        root = Path(tmp)
        candidates = synthetic_class(root / "class", args.students, rng)
        graded = results(candidates, rng)
        (root / "course.toml").write_text(COURSE)
        (root / "overrides.csv").write_text(
            "student,assignment,check,adjustment,comment,by\n"
            + "".join(
                f"{c.key},topic-create,six_partitions,1,regraded by hand,ta1\n" for c in candidates[::10]
            )
        )
        (root / "extensions.csv").write_text(
            "student,assignment,days,comment\n" + "".join(f"{c.key},*,2,medical\n" for c in candidates[::25])
        )
        subs = [Submission(c.student_id, c.key, "folders", key=c.key, root=c.root) for c in candidates]
        times = {c.key: DUE + timedelta(hours=rng.choice([-30, -2, 5, 30, 80, 400])) for c in candidates}

        def policy() -> list[StudentRecord]:
            loaded = load_policy(root / "course.toml", known_assignments=[a.id for a in assignments])
            course = load_course_files(
                loaded,
                root / "overrides.csv",
                root / "extensions.csv",
                None,
                class_members(subs, []),
                assignments,
            )
            rows = []
            for c in candidates:
                base = StudentRecord(key=c.key, student_id=c.student_id, status=Grading.FAILED,
                                     submitted_at=times[c.key], time_source="bench")  # fmt: skip
                rows.append(record_for_result(base, course.apply(base, graded[c.key])))
            return rows

        def copies() -> object:
            return find_copies(candidates, assignments, CopySettings(), base=root)

        policy_s, rows = timed(policy, args.rounds)
        first_copies_s, evidence = timed(
            copies, 1
        )  # the first call pays copydetect's import, as a batch does
        copies_s, evidence = timed(copies, args.rounds)
        sample = [course_result for course_result in graded.values()][: min(20, len(graded))]
        render_s, _ = timed(lambda: [report_files(r) for r in sample], 1)
    adjusted = sum(bool(r.adjustments) for r in rows)  # type: ignore[union-attr]
    print(f"class of {args.students} (4 assignments each), median of {args.rounds} rounds")
    pairs = {(p.a, p.b) for p in evidence.similar}  # type: ignore[attr-defined]
    held = {(e.holder, e.owner) for e in evidence.parameters if e.strength == "strong"}  # type: ignore[attr-defined]
    found = (
        f"{len(pairs)} similar pairs ({len(PLANTED & pairs)} of {len(PLANTED)} planted copies), "
        f"{len(held)} topic holders ({len(PLANTED_TOPICS & held)} of {len(PLANTED_TOPICS)} planted)"
    )
    print(f"policy (load + check course files, apply to every result): {policy_s:.2f} s wall, "
          f"{CPU[0]:.2f} s CPU ({adjusted} rows adjusted)")  # fmt: skip
    print(f"copy evidence: {copies_s:.2f} s wall / {CPU[2]:.2f} s CPU warm, "
          f"{first_copies_s:.2f} s / {CPU[1]:.2f} s with copydetect's import; {found}")  # fmt: skip
    print(f"together (cold): {policy_s + first_copies_s:.2f} s wall, {CPU[0] + CPU[1]:.2f} s CPU")
    print(f"for comparison, rendering every report again: {render_s / len(sample) * 1000:.0f} ms per student")


if __name__ == "__main__":
    main()
