"""stateful-wordcount: the grader's own reading and judging, without Spark (its reference, stub and
cases are graded on real Kafka and Spark by tests/test_validate.py)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from grader.checks import CheckContext, CheckFailed
from grader.registry import select
from grader.results import ExecRecord

ID = "stateful-wordcount"


# Advice that belongs to other mistakes must not be given to an app that crashed or ended at once.
WRONG_ADVICE = ("not at the first idle batch", "use foreachBatch", "wrong counts", "still behind")


# -- the grader's side, without Spark ---------------------------------------------------------------

CHECKS = select([ID])[0].module
HARNESS = CHECKS.harness
APPFILES = CHECKS.appfiles


@pytest.mark.parametrize("seed", [0, 1, "hob2026-3f1c-topic", 4242])
def test_hidden_text_splits_the_same_on_spaces_and_tabs_or_any_whitespace(seed):
    """The README promises that '[ \\t]+', '\\s+' and str.split() count the same words."""
    for lines in HARNESS.make_corpus(seed):
        for line in lines:
            words = HARNESS.tokenize(line)
            assert [w for w in re.split(r"\s+", line) if w] == words == line.split()


def _output(root: Path) -> Path:
    (root / "output").mkdir(parents=True, exist_ok=True)
    return root / "output"


def test_output_files_are_read_without_following_links_or_fifos(tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("password\t42\n")
    out = _output(tmp_path / "work")
    (out / "batch-000000.tsv").write_text("Kafka\t2\nкафка\t1\n", encoding="utf-8")
    (out / "batch-000001.tsv").symlink_to(secret)
    os.mkfifo(out / "batch-000002.tsv")
    (out / "batch-000003.tsv").write_bytes(b"x\t1\n" * (APPFILES.OUTPUT_CAP // 4 + 1))
    root = tmp_path / "work"

    assert set(APPFILES.scan_output(root)) == {f"batch-00000{i}.tsv" for i in range(4)}
    assert APPFILES.read_snapshot(root, "batch-000000.tsv").totals == {"Kafka": 2, "кафка": 1}
    linked = APPFILES.read_snapshot(root, "batch-000001.tsv")
    assert linked.totals is None
    assert "symbolic link" in linked.problems[0]
    assert "password" not in repr(linked)
    began = time.monotonic()
    fifo = APPFILES.read_snapshot(root, "batch-000002.tsv")
    assert time.monotonic() - began < 5  # opening a FIFO must not block
    assert fifo.totals is None
    assert "not a regular file" in fifo.problems[0]
    big = APPFILES.read_snapshot(root, "batch-000003.tsv")
    assert big.totals is None
    assert "more than" in big.problems[0]


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda f: (f.mkdir(), (f / "part-00000.csv").write_text("Kafka\t2\n")), "is a folder (Spark's own"),
        (lambda f: f.write_bytes(b""), "is empty: after every micro-batch that had input"),
        (lambda f: f.write_bytes("кафка\t1\n".encode("cp1251")), "is not UTF-8 text"),
        (lambda f: f.write_text("Kafka,2\nkafka,1\n"), "line 1 has no tab: 'Kafka,2' (and 1 more"),
        (lambda f: f.write_text("('Kafka', 2)\n"), "is not in the contract's shape"),
    ],
    ids=["folder", "empty", "cp1251", "commas", "tuples"],
)
def test_output_of_the_wrong_shape_has_no_totals_and_is_named(tmp_path, make, said):
    root = tmp_path / "work"
    make(_output(root) / "batch-000003.tsv")
    snap = APPFILES.read_snapshot(root, "batch-000003.tsv")
    assert snap.totals is None
    text = APPFILES.describe_problems(snap.name, snap.problems)
    assert text.startswith("OUTPUT_DIR/batch-000003.tsv ")
    assert said in text
    assert "seminar_spark.write_totals" in text


def test_an_output_folder_replaced_by_a_link_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "batch-000000.tsv").write_text("password\t1\n")
    root = tmp_path / "work"
    root.mkdir()
    (root / "output").symlink_to(elsewhere)
    assert APPFILES.scan_output(root) == {}
    assert APPFILES.read_snapshot(root, "batch-000000.tsv").totals is None
    (root / "checkpoint").symlink_to(elsewhere)
    assert APPFILES.read_progress(root, "t") is None


def _checkpoint(root: Path, topic: str, batches: dict[int, dict[int, int]], committed: list[int]) -> None:
    """A checkpoint laid out like Spark's: offsets/<batch> (v1, metadata, sources), commits/<batch>."""
    (root / "checkpoint" / "offsets").mkdir(parents=True, exist_ok=True)
    (root / "checkpoint" / "commits").mkdir(parents=True, exist_ok=True)
    for batch, offsets in batches.items():
        source = json.dumps({topic: {str(p): o for p, o in offsets.items()}})
        meta = json.dumps({"batchWatermarkMs": 0, "batchTimestampMs": 1, "conf": {}})
        (root / "checkpoint" / "offsets" / str(batch)).write_text(f"v1\n{meta}\n{source}")
    for batch in committed:
        (root / "checkpoint" / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')
        (root / "checkpoint" / "commits" / f".{batch}.crc").write_bytes(b"crc")


def test_progress_is_the_newest_committed_batch_of_the_graded_topic(tmp_path):
    written = {0: 5, 1: 5}
    assert APPFILES.read_progress(tmp_path, "t") is None
    _checkpoint(tmp_path, "t", {0: {0: 3, 1: 2}, 1: {0: 5, 1: 5}}, committed=[0])
    progress = APPFILES.read_progress(tmp_path, "t")
    assert (progress.batch, progress.processed(written), progress.covers(written)) == (0, 5, False)
    assert APPFILES.read_progress(tmp_path, "another-topic") is None
    _checkpoint(tmp_path, "t", {2: {0: 5, 1: 5}}, committed=[1, 2])  # batch 2: a no-data batch
    progress = APPFILES.read_progress(tmp_path, "t")
    assert (progress.batch, progress.processed(written), progress.covers(written)) == (2, 10, True)
    # the last rows were counted by batch 1, the oldest commit that covers everything written
    assert APPFILES.first_covering(tmp_path, "t", written).batch == 1


def test_crash_cause_is_the_exception_a_traceback_ends_with():
    stderr = (
        "WARNING: something from Spark\n"
        "Traceback (most recent call last):\n"
        '  File "wordcount.py", line 9, in <module>\n'
        "    from seminar_spark import spark_session, write_total\n"
        "ImportError: cannot import name 'write_total' from 'seminar_spark' (/lib/seminar_spark.py)\n"
    )
    assert CHECKS.crash_cause(stderr) == (
        "ImportError: cannot import name 'write_total' from 'seminar_spark' (/lib/seminar_spark.py)"
    )
    assert CHECKS.crash_cause("no traceback here\n") == ""
    syntax = '  File "wordcount.py", line 14\n    lambda (x, line): x\n    ^\nSyntaxError: invalid syntax\n'
    assert CHECKS.crash_cause(syntax) == "SyntaxError: invalid syntax"
    assert "write_totals" in CHECKS.diagnose(stderr)


def _context(obs, runs: list[ExecRecord] | None = None) -> CheckContext:
    (assignment,) = select([ID])
    ctx = CheckContext(spec=assignment.spec, params={"TOPIC": obs.topic}, sandbox=None, kafka=None)  # type: ignore[arg-type]
    ctx.state[CHECKS.OBS] = obs
    ctx.runs.extend(runs or [])
    return ctx


def _failure(check, ctx: CheckContext) -> str:
    with pytest.raises(CheckFailed) as failed:
        check.fn(ctx)
    return failed.value.message


def _slow_observations():
    """A correct app that was still counting burst 2 when its budget ran out, and burst 4 at the end."""
    corpus = HARNESS.make_corpus(7)
    alone, cumulative = HARNESS.expected_totals(corpus)
    obs = HARNESS.Observations("t", corpus, [dict(c) for c in alone], [dict(c) for c in cumulative])
    half = dict(list(cumulative[1].items())[:5])

    def phase(k: int, snapshot, ended_by: str, processed: int, written: int, run: int):
        return HARNESS.PhaseObservation(
            name=f"burst{k}",
            run=run,
            expected=dict(cumulative[k - 1]),
            snapshot=snapshot,
            snapshot_file=f"batch-00000{k}.tsv",
            problems=[],
            new_files=[f"batch-00000{k}.tsv"],
            ended_by=ended_by,
            duration_s=60.4,
            budget_s=60.0,
            written=written,
            processed=processed,
        )

    obs.phases = [
        phase(1, dict(cumulative[0]), "caught_up", 24, 24, 1),
        phase(2, half, "deadline", 30, 48, 1),
        phase(3, half, "deadline", 31, 70, 2),
        phase(4, half, "deadline", 33, 95, 2),
    ]
    obs.runs = [
        HARNESS.RunObservation(run=1, exit_code=-15, terminated_by_grader=True, counted_anything=True),
        HARNESS.RunObservation(run=2, exit_code=-9, killed=True, counted_anything=True),
    ]
    obs.final_snapshot, obs.final_file = half, "batch-000009.tsv"
    obs.written, obs.processed, obs.final_after_s = 95, 40, 100.2
    return obs


def test_an_app_still_behind_is_told_so_not_wrong_counts():
    ctx = _context(_slow_observations())
    for check, text in [
        (CHECKS.running_totals, "still behind: processed 30 of 48 records after 60 s (limit 60 s)"),
        (CHECKS.checkpoint_restart, "after the restart: still behind: processed 31 of 70 records after 60 s"),
        (CHECKS.final_counts, "still behind: processed 40 of 95 records after 100 s (limit 90 s)"),
    ]:
        said = _failure(check, ctx)
        assert text in said
        assert "wrong counts" not in said
        assert "200 shuffle partitions" in said


def _early_observations(silence_s: float):
    obs = _slow_observations()
    for p in obs.phases:
        p.snapshot, p.ended_by, p.processed = dict(p.expected), "caught_up", p.written
    obs.runs[1] = HARNESS.RunObservation(
        run=2,
        exit_code=0,
        exited_by_itself=True,
        exited_during="stop",
        bursts_produced_at_exit=4,
        counted_anything=True,
        written_at_exit=95,
        processed_at_exit=95,
        silence_s=silence_s,
    )
    obs.final_snapshot, obs.processed = dict(obs.expected[-1]), 95
    return obs


def test_the_stop_must_wait_for_idle_timeout_of_silence():
    ctx = _context(_early_observations(silence_s=6.4))
    said = _failure(CHECKS.stops_by_itself, ctx)
    assert said.startswith("it stopped 6.4 s after it had counted the last rows: expected it to wait")
    assert "IDLE_TIMEOUT_S = 10 s" in said
    CHECKS.final_counts.fn(ctx)  # everything was counted: only the stop is wrong
    CHECKS.stops_by_itself.fn(_context(_early_observations(silence_s=11.2)))


def test_an_app_that_stops_in_the_pause_is_told_so_by_both_checks():
    obs = _early_observations(silence_s=1.2)
    obs.runs[0] = HARNESS.RunObservation(
        run=1,
        exit_code=0,
        exited_by_itself=True,
        exited_during="burst2",
        bursts_produced_at_exit=2,
        counted_anything=True,
        written_at_exit=48,
        processed_at_exit=23,
        silence_s=1.2,
    )
    run2 = obs.runs[1]
    run2.exited_during, run2.bursts_produced_at_exit, run2.written_at_exit, run2.processed_at_exit = (
        "pause",
        3,
        70,
        70,
    )
    obs.final_snapshot, obs.final_file, obs.processed = dict(obs.expected[2]), "batch-000004.tsv", 70
    ctx = _context(obs)
    assert _failure(CHECKS.stops_by_itself, ctx) == (
        "run 1 stopped by itself before all data was counted: 1.2 s after it last counted new rows, with 25 "
        "of the 48 records written so far not yet counted. The data only pauses between bursts (for up to "
        "3 s); stop once no new rows arrived for IDLE_TIMEOUT_S = 10 s, not at the first idle trigger and "
        "not after a shorter limit of your own"
    )
    assert _failure(CHECKS.final_counts, ctx) == (
        "expected the totals of all 4 bursts; the app stopped by itself before all data was counted (see the "
        "last check): its last output file batch-000004.tsv holds the totals of bursts 1..3 only"
    )


@pytest.mark.parametrize(
    ("query_age_s", "said"),
    [
        (1.3, "the script ended right after start()"),
        (11.0, "before its first micro-batch had finished: nothing was counted"),
        (None, "without a streaming query in CHECKPOINT_DIR"),
    ],
)
def test_an_app_that_counted_nothing_and_exited_0_is_told_what_happened(query_age_s, said):
    obs = _slow_observations()
    for p in obs.phases:
        p.snapshot, p.new_files, p.ended_by = None, [], "exited"
    obs.runs[0] = HARNESS.RunObservation(
        run=1,
        exit_code=0,
        exited_by_itself=True,
        exited_during="burst1",
        exit_after_s=21.5,
        bursts_produced_at_exit=1,
        query_age_s=query_age_s,
    )
    obs.final_snapshot = None
    ctx = _context(obs)
    assert said in _failure(CHECKS.runs, ctx)
    for check in (CHECKS.tokenisation, CHECKS.running_totals, CHECKS.final_counts, CHECKS.stops_by_itself):
        assert "run 1 " in _failure(check, ctx)
        assert not [a for a in WRONG_ADVICE if a in _failure(check, ctx)]


def _shapeless_observations(name: str = "batch-000012.tsv", problems: list[str] | None = None):
    """A correct app (checkpoint commits, stops by itself) whose output files cannot be read as totals."""
    obs = _early_observations(silence_s=11.2)
    problems = problems if problems is not None else [f"cannot read {name}: it is a folder"]
    for p in obs.phases:
        p.snapshot, p.problems = None, list(problems)
    for run in obs.runs:
        run.committed = True
    obs.final_snapshot, obs.final_file, obs.final_problems = None, name, list(problems)
    return obs


def test_an_app_that_ran_but_wrote_folders_passes_the_run_and_is_told_the_shape():
    ctx = _context(_shapeless_observations())
    CHECKS.runs.fn(ctx)  # it read Kafka, committed micro-batches and exited 0 by itself
    CHECKS.stops_by_itself.fn(ctx)
    for check in (CHECKS.tokenisation, CHECKS.running_totals, CHECKS.checkpoint_restart, CHECKS.final_counts):
        said = _failure(check, ctx)
        assert "OUTPUT_DIR/batch-000012.tsv is a folder" in said, said
        assert "write one file per micro-batch; seminar_spark.write_totals" in said


def test_without_checkpoint_commits_shapeless_output_is_no_evidence_that_it_ran():
    obs = _shapeless_observations(problems=["it is empty"])
    for run in obs.runs:
        run.committed = False
    said = _failure(CHECKS.runs, _context(obs))
    assert said.startswith("no sign that the app read Kafka: CHECKPOINT_DIR shows no committed micro-batch")
    assert "OUTPUT_DIR/batch-000012.tsv is empty" in said


def test_output_that_is_not_the_datas_words_is_not_judged_as_tokenisation():
    obs = _early_observations(silence_s=11.2)
    obs.final_snapshot = {"hello": 3, "World": 1}
    said = _failure(CHECKS.tokenisation, _context(obs))
    assert said.startswith("nothing to check: none of the words in the output is a word of the text")
    obs.final_snapshot = {"KAFKA ": 3, "Поток": 1}  # the data's words, badly split: judged as such
    assert "contain whitespace" in _failure(CHECKS.tokenisation, _context(obs))
