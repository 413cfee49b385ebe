"""Copy evidence: found on planted copies (another student's parameters, a renamed copy of an entrypoint)
and not on independent correct solutions that look alike."""

from __future__ import annotations

import csv
import io
import json
import os
import textwrap
from pathlib import Path

import pytest
from policy_fake import HERE, RUNNER

from grader.batch import BatchOptions, LocalExecutor, run_batch
from grader.batch.jobs import derive_seed
from grader.batch.progress import PlainProgress
from grader.policy import CopySettings
from grader.policy.copies import Candidate, find_copies
from grader.registry import select

COURSE_SEED = 4242

WORDCOUNT_A = """
import os
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session, write_totals


def main():
    spark = spark_session("wc")
    raw = (spark.readStream.format("kafka")
           .option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
           .option("subscribe", os.environ["TOPIC"])
           .option("startingOffsets", "earliest").load())
    text = raw.selectExpr("CAST(value AS STRING) AS line")
    tokens = text.select(F.explode(F.split(F.col("line"), r"\\s+")).alias("token")).filter("token != ''")
    totals = tokens.groupBy("token").count().withColumnRenamed("token", "word")
    out_dir = os.environ["OUTPUT_DIR"]
    query = (totals.writeStream.outputMode("complete")
             .foreachBatch(lambda df, epoch: write_totals(df, epoch, out_dir))
             .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
             .trigger(processingTime=os.environ.get("TRIGGER_SECONDS", "1") + " seconds")
             .start())
    idle = float(os.environ.get("IDLE_TIMEOUT_S", "10"))
    quiet_since = time.time()
    seen = -1
    while query.isActive:
        time.sleep(0.5)
        progress = query.lastProgress
        if progress and progress["batchId"] != seen:
            seen = progress["batchId"]
            if progress["numInputRows"]:
                quiet_since = time.time()
        if time.time() - quiet_since > idle:
            query.stop()
    spark.stop()


if __name__ == "__main__":
    main()
"""

# The same program with every name changed, other comments and spacing: what a copier does.
WORDCOUNT_A_DISGUISED = """
# my own word count (lab 4)
import os
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session, write_totals


def run_job():
    session = spark_session("counter")
    source = (session.readStream.format("kafka")
              .option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
              .option("subscribe", os.environ["TOPIC"])
              .option("startingOffsets", "earliest").load())
    # one line per record
    lines = source.selectExpr("CAST(value AS STRING) AS line")
    pieces = lines.select(F.explode(F.split(F.col("line"), r"\\s+")).alias("w")).filter("w != ''")
    counts = pieces.groupBy("w").count().withColumnRenamed("w", "word")
    target = os.environ["OUTPUT_DIR"]
    stream = (counts.writeStream.outputMode("complete")
              .foreachBatch(lambda frame, n: write_totals(frame, n, target))
              .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
              .trigger(processingTime=os.environ.get("TRIGGER_SECONDS", "1") + " seconds")
              .start())
    limit = float(os.environ.get("IDLE_TIMEOUT_S", "10"))
    last_data = time.time()
    last_batch = -1
    while stream.isActive:
        time.sleep(0.5)
        info = stream.lastProgress
        if info and info["batchId"] != last_batch:
            last_batch = info["batchId"]
            if info["numInputRows"]:
                last_data = time.time()
        if time.time() - last_data > limit:
            stream.stop()
    session.stop()


if __name__ == "__main__":
    run_job()
"""

# Independent correct solutions: the same lesson, the same API, written by other people.
WORDCOUNT_B = '''
"""Word count for the Kafka seminar."""
import os
import sys
import time

import pyspark.sql.functions as fn
from seminar_spark import spark_session, write_totals

IDLE = float(os.getenv("IDLE_TIMEOUT_S", "10"))


class Counter:
    def __init__(self):
        self.spark = spark_session("wordcount-b")
        self.output = os.getenv("OUTPUT_DIR")

    def stream(self):
        df = self.spark.readStream.format("kafka") \\
            .option("kafka.bootstrap.servers", os.getenv("BOOTSTRAP_SERVERS")) \\
            .option("subscribe", os.getenv("TOPIC")) \\
            .option("startingOffsets", "earliest") \\
            .load()
        words = df.select(fn.explode(fn.split(df.value.cast("string"), "[ \\t]+")).alias("word"))
        words = words.where(words.word != "")
        return words.groupBy("word").count()

    def save(self, batch, batch_id):
        write_totals(batch, batch_id, self.output)

    def run(self):
        q = self.stream().writeStream.outputMode("complete").foreachBatch(self.save) \\
            .option("checkpointLocation", os.getenv("CHECKPOINT_DIR")) \\
            .trigger(processingTime="%s seconds" % os.getenv("TRIGGER_SECONDS", "1")).start()
        last = time.monotonic()
        done = set()
        while q.isActive:
            for p in q.recentProgress:
                if p["batchId"] not in done:
                    done.add(p["batchId"])
                    if p["numInputRows"] > 0:
                        last = time.monotonic()
            if time.monotonic() - last >= IDLE and not q.status["isTriggerActive"]:
                q.stop()
            time.sleep(1)
        self.spark.stop()
        return 0


if __name__ == "__main__":
    sys.exit(Counter().run())
'''

WORDCOUNT_C = """
import os, time
from pyspark.sql.functions import col, explode, split, length
from seminar_spark import spark_session, write_totals

spark = spark_session()
lines = spark.readStream.format("kafka").options(**{
    "kafka.bootstrap.servers": os.environ["BOOTSTRAP_SERVERS"],
    "subscribe": os.environ["TOPIC"],
    "startingOffsets": "earliest",
}).load().select(col("value").cast("string").alias("text"))
words = lines.select(explode(split(col("text"), " +")).alias("word")).where(length("word") > 0)
state = words.groupBy("word").count()


def sink(batch_df, batch_no):
    write_totals(batch_df, batch_no, os.environ["OUTPUT_DIR"])


query = state.writeStream.foreachBatch(sink).outputMode("complete") \\
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"]) \\
    .trigger(processingTime=f"{os.environ.get('TRIGGER_SECONDS', '1')} seconds").start()

timeout = float(os.environ.get("IDLE_TIMEOUT_S", 10))
t0 = time.time()
rows_so_far = 0
while query.isActive:
    query.awaitTermination(1)
    total = sum(p["numInputRows"] for p in query.recentProgress)
    if total > rows_so_far:
        rows_so_far, t0 = total, time.time()
    elif time.time() - t0 > timeout:
        query.stop()
spark.stop()
"""

PRODUCE_1 = 'seq 1 "$N" | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"\n'
PRODUCE_2 = (
    '#!/bin/bash\nfor i in $(seq "$N"); do echo "$i"; done | \\\n'
    '  kafka-console-producer.sh --broker-list "$BOOTSTRAP_SERVERS" --topic "$TOPIC"\n'
)
PRODUCE_3 = (
    'n=1\nwhile [ "$n" -le "$N" ]; do\n  echo "$n"\n  n=$((n + 1))\n'
    'done | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"\n'
)


def submission(root: Path, name: str, files: dict[str, str]) -> Candidate:
    for rel, text in files.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return Candidate(name, name, derive_seed(COURSE_SEED, name), root / name)


def params(student: str, assignment: str) -> dict[str, str | int | float]:
    (a,) = select([assignment])
    return a.spec.draw_params(derive_seed(COURSE_SEED, student))


def test_a_disguised_copy_is_found_and_independent_solutions_are_not(tmp_path: Path) -> None:
    wc = "stateful-wordcount/wordcount.py"
    candidates = [
        submission(tmp_path, "alice", {wc: WORDCOUNT_A, "produce-sequence/produce.sh": PRODUCE_1}),
        submission(
            tmp_path, "mallory", {wc: WORDCOUNT_A_DISGUISED, "produce-sequence/produce.sh": PRODUCE_1}
        ),
        submission(tmp_path, "bob", {wc: WORDCOUNT_B, "produce-sequence/produce.sh": PRODUCE_2}),
        submission(tmp_path, "carol", {wc: WORDCOUNT_C, "produce-sequence/produce.sh": PRODUCE_3}),
    ]
    evidence = find_copies(candidates, select(None), CopySettings(), base=tmp_path)
    pairs = {(p.assignment, p.a, p.b) for p in evidence.similar}
    assert pairs == {("stateful-wordcount", "alice", "mallory")}, evidence.similar
    (pair,) = evidence.similar
    assert pair.similarity >= 0.8
    assert pair.file_a == pair.file_b == wc
    assert pair.lines_a
    assert pair.lines_b
    assert "withColumnRenamed" in pair.excerpt_a
    assert "session.readStream" in pair.excerpt_b  # the matching lines, in the copier's own names
    assert evidence.parameters == []
    assert any(p.endswith("stateful-wordcount/reference/wordcount.py") for p in evidence.boilerplate)


def test_the_reference_and_template_are_boilerplate(tmp_path: Path) -> None:
    (wc,) = select(["stateful-wordcount"])
    reference = (wc.reference / "wordcount.py").read_text()
    candidates = [
        submission(tmp_path, "dave", {"stateful-wordcount/wordcount.py": reference}),
        submission(
            tmp_path, "erin", {"stateful-wordcount/wordcount.py": reference.replace("words", "tokens")}
        ),
    ]
    evidence = find_copies(candidates, select(None), CopySettings(), base=tmp_path)
    assert evidence.similar == []  # both handed in what the course gave out; nothing of it is theirs


def test_course_boilerplate_folders_are_left_out_too(tmp_path: Path) -> None:
    notes = tmp_path / "seminar"
    notes.mkdir()
    (notes / "notes.md").write_text(
        f"The seminar's program:\n\n```python\n{textwrap.dedent(WORDCOUNT_A)}```\n"
    )
    candidates = [
        submission(tmp_path, "alice", {"stateful-wordcount/wordcount.py": WORDCOUNT_A}),
        submission(tmp_path, "mallory", {"stateful-wordcount/wordcount.py": WORDCOUNT_A_DISGUISED}),
    ]
    found = find_copies(candidates, select(None), CopySettings(), base=tmp_path)
    assert [(p.a, p.b) for p in found.similar] == [("alice", "mallory")]
    given = find_copies(candidates, select(None), CopySettings(boilerplate=["seminar"]), base=tmp_path)
    assert given.similar == []  # copied from the seminar's notes, which every student has


CONSUME = "consume-partition/consume.sh"


def test_another_students_parameters(tmp_path: Path) -> None:
    bob_topic = params("bob", "produce-sequence")["TOPIC"]
    bob_n = params("bob", "produce-sequence")["N"]
    carol_partition = params("carol", "consume-partition")["PARTITION"]
    # With this course seed bob's N and carol's partition are theirs alone in this class of four.
    assert [params(s, "produce-sequence")["N"] for s in ("alice", "carol", "mallory")].count(bob_n) == 0
    assert [params(s, "consume-partition")["PARTITION"] for s in ("alice", "bob", "mallory")].count(
        carol_partition
    ) == 0
    consume = 'kafka-console-consumer --partition "$PARTITION"\n'
    copied = f'N={bob_n}\nseq "$N" | kafka-console-producer --topic {bob_topic}\n'
    candidates = [
        submission(tmp_path, "bob", {"produce-sequence/produce.sh": PRODUCE_1}),
        submission(tmp_path, "carol", {"consume-partition/consume.sh": consume}),
        submission(tmp_path, "alice", {"produce-sequence/produce.sh": PRODUCE_1, CONSUME: consume}),
        submission(
            tmp_path,
            "mallory",
            {"produce-sequence/produce.sh": copied,
             "consume-partition/consume.sh": f"kafka-console-consumer --partition {carol_partition}\n"},
        ),
    ]  # fmt: skip
    evidence = find_copies(candidates, select(None), CopySettings(), base=tmp_path)
    by_owner = {e.owner: e for e in evidence.parameters}
    assert sorted(by_owner) == ["bob", "carol"]  # alice's scripts name nobody's parameters
    assert all(e.holder == "mallory" for e in evidence.parameters)
    bob = by_owner["bob"]
    assert bob.strength == "strong"
    assert f"TOPIC of produce-sequence '{bob_topic}' in produce-sequence/produce.sh:2" in bob.found
    own_n = params("mallory", "produce-sequence")["N"]
    assert f"N of produce-sequence {bob_n} (yours is {own_n}) in produce-sequence/produce.sh:1" in bob.found
    carol = by_owner["carol"]
    assert carol.strength == "weak"  # a small class: one partition number is shown, marked weak
    assert carol.found == [
        f"PARTITION of consume-partition {carol_partition} (yours is "
        f"{params('mallory', 'consume-partition')['PARTITION']}) in consume-partition/consume.sh:1"
    ]


CREATE_TOPIC = """
#!/usr/bin/env bash
set -euo pipefail
servers="${BOOTSTRAP_SERVERS}"
name="${TOPIC}"
if kafka-topics --bootstrap-server "$servers" --list | grep -qx "$name"; then
  echo "topic $name is there already" >&2
else
  kafka-topics --bootstrap-server "$servers" --create --topic "$name" --partitions 6 --replication-factor 2
fi
for attempt in 1 2 3; do
  kafka-topics --bootstrap-server "$servers" --describe --topic "$name" && break
  sleep "$attempt"
done
"""


def test_a_batch_puts_the_evidence_on_the_class_page_and_in_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    bob_topic = params("bob", "topic-create")["TOPIC"]
    renamed = CREATE_TOPIC.replace("servers", "bs").replace("name", "t").replace("attempt", "k")
    subs = tmp_path / "subs"
    submission(subs, "alice", {"topic-create/create_topic.sh": CREATE_TOPIC})
    submission(subs, "mallory", {"topic-create/create_topic.sh": renamed})
    submission(subs, "bob", {"topic-create/create_topic.sh": 'kafka-topics --create --topic "$TOPIC"\n'})
    submission(subs, "carol", {"topic-create/create_topic.sh": f"kafka-topics --create --topic {bob_topic}"})
    out = tmp_path / "grades"
    run_batch(
        BatchOptions(subs, out, ["topic-create"], sandbox="local", course_seed=COURSE_SEED),
        executor=LocalExecutor(1, out / ".work" / "jobs", runner=RUNNER),
        progress=PlainProgress(io.StringIO()),
    )
    copies = json.loads((out / "summary.json").read_text())["copies"]
    assert [(p["a"], p["b"]) for p in copies["similar"]] == [("alice", "mallory")]
    found = [(e["holder"], e["owner"], e["strength"]) for e in copies["parameters"]]
    assert found == [("carol", "bob", "strong")]
    assert copies["compared"] == 4
    page = (out / "index.html").read_text()
    assert 'id="copies"' in page
    assert "never a penalty" in page
    assert f"TOPIC of topic-create &#39;{bob_topic}&#39;" in page
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert {(r["student_id"], r["topic-create"], r["adjustments"]) for r in rows} == {
        (s, "10", "") for s in ("alice", "bob", "carol", "mallory")
    }  # evidence only: nobody's grade changed


def test_code_that_many_wrote_alike_is_not_evidence(tmp_path: Path) -> None:
    extra = """
report() {
  local count
  count=$(kafka-topics --bootstrap-server "$servers" --describe --topic "$name" | grep -c Leader)
  echo "created $name with $count partitions, checked $(date +%s)" >&2
}
report
"""
    rel = "topic-create/create_topic.sh"
    candidates = [submission(tmp_path, f"s{i:02d}", {rel: CREATE_TOPIC}) for i in range(12)]
    candidates += [
        submission(tmp_path, "alice", {rel: CREATE_TOPIC + extra}),
        submission(tmp_path, "mallory", {rel: CREATE_TOPIC + extra.replace("count", "n")}),
    ]
    evidence = find_copies(candidates, select(None), CopySettings(max_common=10), base=tmp_path)
    # Fourteen identical scripts are how the class writes it; the part only two of them share is the copy.
    assert [(p.a, p.b) for p in evidence.similar] == [("alice", "mallory")]
    (pair,) = evidence.similar
    assert pair.lines_a[0][0] > 5  # the shared extra (and where it joins the script), not the whole script
    assert "report()" in pair.excerpt_a
    everyone = find_copies(candidates, select(None), CopySettings(max_common=20), base=tmp_path)
    assert len(everyone.similar) > 1  # with a higher cap the identical scripts are listed too


def test_without_copydetect_the_parameters_are_still_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "copydetect", None)  # as if the 'copies' extra were not installed
    bob_topic = params("bob", "topic-create")["TOPIC"]
    candidates = [
        submission(tmp_path, "bob", {"topic-create/create_topic.sh": CREATE_TOPIC}),
        submission(
            tmp_path, "carol", {"topic-create/create_topic.sh": f"kafka-topics --create --topic {bob_topic}"}
        ),
        submission(tmp_path, "mallory", {"topic-create/create_topic.sh": CREATE_TOPIC}),
    ]
    evidence = find_copies(candidates, select(None), CopySettings(), base=tmp_path)
    assert [(e.holder, e.owner) for e in evidence.parameters] == [("carol", "bob")]
    assert evidence.similar == []
    assert "pip install 'grader[copies]'" in evidence.similarity_note
