"""Checks for stateful-wordcount: exact running totals after every burst, state that survives a
restart from the checkpoint, the contract's tokenisation, exact final counts, and stopping by
itself neither before IDLE_TIMEOUT_S of silence nor never.

The timeline (see ``harness.py``) produces the hidden corpus in four bursts while the app runs,
stops it after burst 2, lets "retention" delete burst 1's records, produces burst 3 while it is
down, restarts it with the same checkpoint, keeps the topic silent for a while, produces burst 4
and waits for it to stop by itself. Waits follow the app's progress (its checkpoint); the checks
only judge what was observed. A crash is reported as a crash by every check it spoils, and an
app that was still busy when its time budget ran out is told so ("still behind"), never "wrong
counts" for counts it had not computed yet.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from grader.content import TIMINGS, CheckContext, ExecRecord, SandboxProcess, StateKey, check, tail

from . import appfiles, harness
from .harness import Observations, PhaseObservation, RunObservation

TRIGGER_SECONDS = 1.0
IDLE_TIMEOUT_S = 10.0
PAUSE_S = 3.0
"""Silence before the last burst: long enough for an app that stops at the first empty trigger to
do so, and the further below IDLE_TIMEOUT_S the less a correct app risks stopping in it on a busy
machine (its micro-batch with the last burst may take a few seconds to report rows)."""
OBS = StateKey[Observations]("obs")
"""What the timeline observed (plain data: the checks judge it)."""
APP_EXPECTATIONS = StateKey[tuple[list[dict[str, int]], list[dict[str, int]]]]("app_expectations")
"""(each burst alone, cumulative) as this app's own tokenisation counts them (computed once)."""

CONFIG = harness.HarnessConfig(
    trigger_seconds=TRIGGER_SECONDS, idle_timeout_s=IDLE_TIMEOUT_S, pause_s=PAUSE_S
)
STOP_TOLERANCE_S = 1.0
"""An exit this much sooner than IDLE_TIMEOUT_S after the last counted rows still passes (clocks, polling)."""

# Errors students meet when they submit the seminar's code, or trip over the contract.
DIAGNOSES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"lambda \(|SyntaxError: .*(parenthes|tuple)|Python 2", re.S),
        "Python 2 syntax: 'lambda (x, line): ...' unpacks a tuple in the parameter list, which Python 3 "
        "removed. Write 'lambda kv: kv[1]' (or a def) — and use Structured Streaming, not DStreams.",
    ),
    (
        re.compile(r"No module named 'pyspark\.streaming\.kafka'|pyspark\.streaming\.kafka"),
        "pyspark.streaming.kafka (KafkaUtils) was removed in Spark 3.0. Read Kafka with Structured "
        "Streaming: "
        "spark.readStream.format('kafka').option('kafka.bootstrap.servers', ...).option('subscribe', TOPIC).",
    ),
    (
        re.compile(r"cannot import name '\w+' from 'seminar_spark'"),
        "seminar_spark provides spark_session, write_totals and kafka_jars: check the spelling of the name "
        "you import.",
    ),
    (
        re.compile(r"UnicodeEncodeError|UnicodeDecodeError"),
        "a Unicode error: the corpus has Cyrillic words. Decode values as UTF-8 (CAST(value AS STRING)) and "
        "write files with encoding='utf-8' (write_totals from seminar_spark does).",
    ),
    (
        re.compile(r"Failed to find data source: kafka|ClassNotFoundException.*kafka", re.I),
        "Spark could not find the Kafka source: build the session with seminar_spark.spark_session() or put "
        "$SPARK_KAFKA_JARS into spark.jars.",
    ),
    (
        re.compile(r"KeyError: '([A-Z_]+)'"),
        "a missing environment variable: the app gets BOOTSTRAP_SERVERS, TOPIC, CHECKPOINT_DIR, OUTPUT_DIR, "
        "TRIGGER_SECONDS and IDLE_TIMEOUT_S.",
    ),
    (re.compile(r"not implemented yet"), "the template stub is still in place: write wordcount.py."),
]

_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*)$")


def diagnose(stderr: str) -> str:
    """A plain-words cause for a crash, or ''."""
    for pattern, explanation in DIAGNOSES:
        if pattern.search(stderr):
            return explanation
    return ""


def crash_cause(stderr: str) -> str:
    """The exception a Python traceback ends with (``ImportError: cannot import ...``), or ''.

    A SyntaxError in the script itself is printed without the "Traceback" header, so without one
    the last unindented exception line of the whole output counts.
    """
    lines = stderr.splitlines()
    start = max((i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")), default=-1)
    for line in reversed(lines[start + 1 :]):
        found = _EXCEPTION_LINE.match(line)
        if found:
            return found.group(1)[:300]
    return ""


class _Starter:
    """Starts the student's app in the sandbox for the harness, one labelled run at a time."""

    def __init__(self, ctx: CheckContext, scratch: Path) -> None:
        self.ctx = ctx
        self.scratch = scratch
        self.procs: list[SandboxProcess] = []

    def __call__(self, env: dict[str, str]) -> SandboxProcess:
        n = len(self.procs) + 1
        # Made by the sandbox, so the folder belongs to the app's user (in docker another uid).
        local = self.ctx.sandbox.scratch_dir(f"{self.scratch.name}/spark-local-{n}")
        label = (
            "run 1 (bursts 1-2, then stopped by the grader)"
            if n == 1
            else f"run {n} (restart from checkpoint)"
        )
        proc = self.ctx.spawn_entrypoint(label, env={**env, "SPARK_LOCAL_DIRS": str(local)})
        if proc is None:
            raise FileNotFoundError(self.ctx.missing_entrypoint_message())
        self.procs.append(proc)
        return proc

    def records(self) -> list[ExecRecord]:
        return [p.record() for p in self.procs]


def act(ctx: CheckContext) -> None:
    """Play the timeline against the sandbox and keep the observations for the checks."""
    scratch = ctx.sandbox.scratch_dir("wordcount")
    ctx.sandbox.scratch_dir("wordcount/output")  # the harness's OUTPUT_DIR, writable by the app
    starter = _Starter(ctx, scratch)
    config = dataclasses.replace(
        CONFIG, seed=ctx.params["TOPIC"], topic=ctx.params["TOPIC"], on_quiet=ctx.allow_overlap
    )
    obs = harness.run_timeline(ctx.sandbox, starter, config, workdir=scratch)
    ctx.runs.extend(starter.records())
    ctx.state[OBS] = obs
    if obs.error:
        raise RuntimeError(f"the grader's timeline failed: {obs.error}")
    t = obs.timings
    ctx.state[TIMINGS] = {k.removesuffix("_s"): v for k, v in t.items()}


# -- what happened to the app ----------------------------------------------------------------------


def _record(ctx: CheckContext, run: int) -> ExecRecord | None:
    return ctx.runs[run - 1] if 0 < run <= len(ctx.runs) else None


def _crash(ctx: CheckContext) -> RunObservation | None:
    """The first run that could not start or exited by itself with a non-zero status, else None."""
    for run in ctx.state[OBS].runs:
        if run.start_error or (run.exited_by_itself and run.exit_code not in (0, None)):
            return run
    return None


ENDED_AT_ONCE_S = 5.0
"""A query that shows no sign of life for less than this before the exit ended with the script."""


def _ended_at_start(ctx: CheckContext) -> RunObservation | None:
    """The first run that exited with status 0 by itself before its query had counted anything."""
    for run in ctx.state[OBS].runs:
        if run.exited_by_itself and run.exit_code == 0 and not run.counted_anything:
            return run
    return None


def _stopped_early(run: RunObservation, bursts: int) -> bool:
    """Ended by itself with status 0 before the last burst was written, or with records not counted yet."""
    if not run.exited_by_itself or run.exit_code != 0 or not run.counted_anything:
        return False
    if (run.bursts_produced_at_exit or 0) < bursts:
        return True
    return run.processed_at_exit is not None and run.processed_at_exit < (run.written_at_exit or 0)


def _crash_summary(ctx: CheckContext) -> str:
    """One line on a crash or an app that ended at once (for the checks it spoils), or ''."""
    crash = _crash(ctx)
    if crash is not None:
        if crash.start_error:
            return f"run {crash.run} could not be started ({crash.start_error})"
        record = _record(ctx, crash.run)
        cause = crash_cause(record.stderr) if record is not None else ""
        return f"run {crash.run} crashed (exit status {crash.exit_code}" + (f": {cause})" if cause else ")")
    ended = _ended_at_start(ctx)
    if ended is None:
        return ""
    if ended.query_age_s is None:
        return f"run {ended.run} ended without starting a streaming query in CHECKPOINT_DIR"
    if ended.query_age_s < ENDED_AT_ONCE_S:
        return f"run {ended.run} ended right after starting its query, before counting anything"
    return f"run {ended.run} stopped by itself before its first micro-batch had finished"


BUDGET_ADVICE = (
    f"Each burst must be counted within {CONFIG.burst_budget_s:g} s after it is written "
    f"({CONFIG.start_budget_s:g} s when that includes Spark's start-up). Keep micro-batches fast: "
    "seminar_spark.spark_session() sets 2 shuffle partitions (with Spark's default of 200 shuffle "
    "partitions every stateful micro-batch takes 10-30 s on 2 cores), and do not set a small "
    "maxOffsetsPerTrigger."
)


def behind_message(processed: int | None, written: int, after_s: float, limit_s: float) -> str:
    """'still behind: processed X of Y records after Z s (limit W s)' with advice."""
    if processed is None:
        head = (
            f"still behind: after {after_s:.0f} s (limit {limit_s:.0f} s) the output does not hold the "
            f"totals of the {written} records written so far, and CHECKPOINT_DIR shows no committed "
            "micro-batch"
        )
    else:
        head = (
            f"still behind: processed {processed} of {written} records after {after_s:.0f} s "
            f"(limit {limit_s:.0f} s)"
        )
    return f"{head}. {BUDGET_ADVICE}"


def _phase_behind(phase: PhaseObservation) -> str:
    return behind_message(phase.processed, phase.written, phase.duration_s, phase.budget_s)


def _output_shape(ctx: CheckContext) -> str:
    """What is wrong with the shape of the newest output file that could not be read as totals
    (a folder, empty, not UTF-8, other separators), or ''."""
    obs = ctx.state[OBS]
    if obs.final_snapshot is None and obs.final_file:
        return appfiles.describe_problems(obs.final_file, obs.final_problems)
    for phase in reversed(obs.phases):
        if phase.snapshot is None and phase.snapshot_file:
            return appfiles.describe_problems(phase.snapshot_file, phase.problems)
    return ""


def _also(problems: list[str], name: str | None) -> str:
    """'; besides, OUTPUT_DIR/x: line 3 has no tab ...' for a file read in part, or ''."""
    if not problems or name is None:
        return ""
    return "; besides, " + appfiles.describe_problems(name, problems)


def _nothing_to_check(ctx: CheckContext) -> str:
    """Why there is no output to judge: a crash, output of the wrong shape, an app still behind, or
    no output at all."""
    crashed = _crash_summary(ctx)
    if crashed:
        return f"no output to check: {crashed} — see the first check"
    shape = _output_shape(ctx)
    if shape:
        return f"no output to check: {shape}"
    behind = [p for p in ctx.state[OBS].phases if p.behind]
    if behind:
        return "no output to check: " + _phase_behind(behind[0])
    return "no output to check: the app never wrote its totals (OUTPUT_DIR/batch-NNNNNN.tsv)"


# -- comparing totals ------------------------------------------------------------------------------


def _about_the_data(found: dict[str, int], expected: dict[str, int]) -> bool:
    """Whether ``found`` counts the grader's text at all: some word of it is a word of the text, maybe
    with another case or with whitespace left around it (what the tokenisation check judges)."""
    folded = {w.casefold() for w in expected}
    return any(w.strip(" \t").casefold() in folded for w in found)


def _lowercased(found: dict[str, int], expected: dict[str, int]) -> bool:
    """The app folds case: it has no upper-case words although the expected totals have some."""
    return any(w != w.lower() for w in expected) and all(w == w.lower() for w in found)


# Tokenisations students actually write. The state checks compare each app against the totals its
# *own* tokenisation gives (the tokenisation check charges for the mistake once), so that one
# mistake does not cost every check. (The hidden text has no whitespace but spaces and tabs, so
# '\s+' and str.split() count exactly like the contract's '[ \t]+'.)
TOKENISERS: dict[str, Callable[[str], list[str]]] = {
    "the contract's": harness.tokenize,
    "a single space, like the seminar": lambda line: line.split(" "),
    "Python's str.split()": str.split,
}


def _strip(found: dict[str, int] | None) -> dict[str, int] | None:
    """Counts without the empty word (which the tokenisation check charges for)."""
    return None if found is None else {w: n for w, n in found.items() if w != ""}


def _count(lines: list[str], tokenise: Callable[[str], list[str]], fold: bool) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(w.lower() if fold else w for w in tokenise(line) if w)
    return dict(counts)


def app_expectations(ctx: CheckContext) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    """(each burst alone, cumulative after each burst) as this app's tokenisation counts them.

    The tokenisation is recognised on the first snapshot after burst 1, where running totals and
    per-batch counts agree; when none matches, the contract's is used.
    """
    if APP_EXPECTATIONS in ctx.state:
        return ctx.state[APP_EXPECTATIONS]
    obs = ctx.state[OBS]
    first = obs.phase("burst1")
    reference = _strip(first.snapshot) if first is not None and first.new_files else None
    chosen: tuple[Callable[[str], list[str]], bool] = (harness.tokenize, False)
    for tokenise in TOKENISERS.values():
        for fold in (False, True):
            if reference is not None and _count(obs.bursts[0], tokenise, fold) == reference:
                chosen = (tokenise, fold)
                break
        else:
            continue
        break
    alone = [_count(lines, *chosen) for lines in obs.bursts]
    cumulative: list[dict[str, int]] = []
    running: Counter[str] = Counter()
    for counts in alone:
        running.update(counts)
        cumulative.append(dict(running))
    ctx.state[APP_EXPECTATIONS] = (alone, cumulative)
    return alone, cumulative


def diff(expected: dict[str, int], found: dict[str, int] | None, limit: int = 6) -> str:
    """A short expected-vs-found difference of two word counts."""
    if found is None:
        return "no output file was written"
    wrong = [(w, expected[w], found[w]) for w in expected if w in found and found[w] != expected[w]]
    missing = [w for w in expected if w not in found]
    extra = [w for w in found if w not in expected]
    parts = []
    if wrong:
        parts.append(
            "wrong counts: " + ", ".join(f"{w!r} expected {e} found {f}" for w, e, f in wrong[:limit])
        )
    if missing:
        parts.append(f"missing words: {', '.join(map(repr, missing[:limit]))}")
    if extra:
        parts.append(f"unexpected words: {', '.join(map(repr, extra[:limit]))}")
    total_e, total_f = sum(expected.values()), sum(found.values())
    parts.append(f"{total_f} words counted in all, expected {total_e}")
    return "; ".join(parts)


def _observed(ctx: CheckContext) -> list:
    return [p for p in ctx.state[OBS].phases if p.snapshot is not None and p.new_files]


def _k(phase: PhaseObservation) -> int:
    """The burst number of a phase ("burst3" -> 3)."""
    return int(phase.name.removeprefix("burst"))


def _ended_message(run: RunObservation) -> str:
    """Why a run that exited with status 0 counted nothing: it ended with start(), or stopped too soon."""
    after = f"{run.exit_after_s:g} s after it started"
    if run.query_age_s is None:
        return (
            f"run {run.run} ended by itself (exit status 0) {after} without counting anything and without "
            "a streaming query in CHECKPOINT_DIR: start one with checkpointLocation = CHECKPOINT_DIR and "
            "keep the driver running until the data has ended"
        )
    if run.query_age_s < ENDED_AT_ONCE_S:
        return (
            f"run {run.run} ended by itself (exit status 0) {after}, before its query had counted anything: "
            "the script ended right after start(). start() only starts the streaming query in the "
            "background and returns at once; when the script ends, Spark ends with it. Keep the driver "
            "running: loop while query.isActive and stop after IDLE_TIMEOUT_S s without new rows (or "
            "query.awaitTermination())."
        )
    return (
        f"run {run.run} stopped by itself (exit status 0) {after}, {run.query_age_s:.0f} s after its query "
        "last wrote to CHECKPOINT_DIR, before its first micro-batch had finished: nothing was counted. A "
        "micro-batch can take a while (the first one longest): do not let the idle clock run while "
        "query.status['isTriggerActive'] is true."
    )


# -- checks ----------------------------------------------------------------------------------------


@check(
    points=2,
    title="The app starts, reads Kafka and does not crash",
    hint="Run it yourself against 'grader cluster up' first; read the stderr of the run in the report.",
)
def runs(ctx: CheckContext) -> None:
    crash = _crash(ctx)
    if crash is not None:
        if crash.start_error:
            ctx.fail(f"run {crash.run} could not be started: {crash.start_error}")
        record = _record(ctx, crash.run)
        stderr = record.stderr if record is not None else ""
        cause, explanation = crash_cause(stderr), diagnose(stderr)
        if crash.counted_anything and crash.processed_at_exit is not None:
            when = f"after it had counted {crash.processed_at_exit} of {crash.written_at_exit} records"
        else:
            when = "before it counted anything" if not crash.counted_anything else "while counting"
        ctx.fail(
            f"expected the app to keep running and count; run {crash.run} crashed {when} "
            f"(exit status {crash.exit_code} after {crash.exit_after_s:g} s)"
            + (f": {cause}" if cause else "")
            + (f"\nLikely cause: {explanation}" if explanation else "")
            + f"\nLast lines of stderr:\n{tail(stderr, 8)}"
        )
    ended = _ended_at_start(ctx)
    if ended is not None:
        ctx.fail(_ended_message(ended))
    if not _observed(ctx) and ctx.state[OBS].final_snapshot is None:
        obs = ctx.state[OBS]
        if any(r.committed for r in obs.runs):
            # It ran: its query read Kafka and committed micro-batches, and it neither crashed nor
            # ended at once. What it wrote is the output checks' to judge (and to name).
            return
        shape = _output_shape(ctx)
        if shape:
            ctx.fail(
                "no sign that the app read Kafka: CHECKPOINT_DIR shows no committed micro-batch (pass "
                f"CHECKPOINT_DIR as the query's checkpointLocation), and {shape}"
            )
        behind = [p for p in obs.phases if p.behind]
        if behind and not any(r.counted_anything for r in obs.runs):
            ctx.fail("the app never counted anything: " + _phase_behind(behind[0]))
        ctx.fail(
            "the app never wrote an output file: expected OUTPUT_DIR/batch-NNNNNN.tsv after every "
            "micro-batch (use foreachBatch with seminar_spark.write_totals)"
        )


@check(
    points=2,
    title="Words are split on whitespace, case kept, no empty word",
    hint="split(line, '[ \\t]+') and drop empty strings (splitting on a single ' ' makes the seminar's "
    "(u'', 1)); do not lower-case: 'Kafka' and 'kafka' are different words.",
)
def tokenisation(ctx: CheckContext) -> None:
    obs = ctx.state[OBS]
    observed = _observed(ctx)
    if obs.final_snapshot is not None:
        found, expected = obs.final_snapshot, obs.expected[-1]
    elif observed:
        found, expected = observed[-1].snapshot, observed[-1].expected
    else:
        ctx.fail(_nothing_to_check(ctx))
    if not _about_the_data(found, expected):
        ctx.fail(
            "nothing to check: none of the words in the output is a word of the text the grader wrote "
            f"(found {sorted(found)[:6]}): count the words of the records your query reads from $TOPIC"
        )
    problems = []
    if "" in found:
        problems.append(
            f"the empty word '' is counted ({found['']} times): runs of spaces or a leading space "
            "give empty strings when you split on a single space"
        )
    spaced = [w for w in found if w and re.search(r"\s", w)]
    if spaced:
        problems.append(f"words contain whitespace, e.g. {spaced[:3]}: split on runs of spaces *and* tabs")
    if _lowercased(found, expected):
        problems.append(
            "every word is lower-cased, e.g. 'Kafka' and 'kafka' were merged: the contract counts "
            "words exactly as written"
        )
    elif any(w != w.upper() for w in expected) and all(w == w.upper() for w in found if w):
        problems.append("every word is upper-cased: the contract counts words exactly as written")
    ctx.expect(not problems, "; ".join(problems))


@check(
    points=3,
    title="Running totals: after each burst the output holds the totals of all bursts so far",
    hint="Keep state across micro-batches: groupBy('word').count() with outputMode('complete') (the "
    "modern updateStateByKey) — not a count of each batch alone.",
)
def running_totals(ctx: CheckContext) -> None:
    observed = _observed(ctx)
    ctx.expect(observed, _nothing_to_check(ctx) if not observed else "")
    alone, cumulative = app_expectations(ctx)
    for phase in observed:
        k = _k(phase)
        found = _strip(phase.snapshot)
        if k >= 2 and found == alone[k - 1] and found != cumulative[k - 1]:
            ctx.fail(
                f"after burst {k} the output holds the counts of burst {k} alone, not the totals of bursts "
                f"1..{k}: this is a per-batch count (like reduceByKey on each batch); expected e.g. "
                + diff(cumulative[k - 1], found, 3)
            )
    proven = [p for p in observed if p.name != "burst1" and _strip(p.snapshot) == cumulative[_k(p) - 1]]
    if proven:
        return
    later = [p for p in ctx.state[OBS].phases if p.name != "burst1"]
    judged = [p for p in later if p in observed and not p.behind]
    if not judged and any(p.behind for p in later):
        ctx.fail(_phase_behind(next(p for p in later if p.behind)))
    last = judged[-1] if judged else observed[-1]
    ctx.fail(
        f"expected the totals of bursts 1..k after burst k; after {last.name} found: "
        + diff(cumulative[_k(last) - 1], _strip(last.snapshot))
        + _also(last.problems, last.snapshot_file)
    )


@check(
    points=2,
    title="State survives a restart from the checkpoint (no loss, no double counting)",
    hint="Pass CHECKPOINT_DIR as the query's checkpointLocation: Spark keeps offsets and state there and a "
    "restarted query continues exactly where it stopped.",
    requires=["running_totals"],
)
def checkpoint_restart(ctx: CheckContext) -> None:
    obs = ctx.state[OBS]
    phase = obs.phase("burst3")
    if phase is None or phase.snapshot is None or not phase.new_files:
        crashed = _crash_summary(ctx)
        if crashed:
            ctx.fail(f"after the restart the app wrote no output: {crashed} — see the first check")
        if phase is not None and phase.behind:
            ctx.fail("after the restart: " + _phase_behind(phase))
        shape = _output_shape(ctx)
        ctx.fail(
            "after the restart the app wrote no output for the data that arrived while it was down"
            + (f": {shape}" if shape else "")
        )
    alone, cumulative = app_expectations(ctx)
    found = _strip(phase.snapshot)
    want = cumulative[2]
    if found == want:
        return
    lost = dict(Counter(want) - Counter(alone[0]))
    doubled = dict(Counter(want) + Counter(cumulative[1]))
    if found == lost:
        ctx.fail(
            "after the restart the words of burst 1 are gone: the grader deleted burst 1's records from "
            "Kafka "
            "(as retention would) while the app was down, so only the checkpoint still knew them — the "
            "state was not restored from CHECKPOINT_DIR"
        )
    if found == doubled:
        ctx.fail(
            "after the restart bursts 1-2 are counted twice: the app re-read data its checkpoint had "
            "already counted"
        )
    if phase.behind:
        ctx.fail("after the restart: " + _phase_behind(phase))
    ctx.fail("after the restart expected the totals of bursts 1..3: " + diff(want, found))


@check(
    points=3,
    title="Exact final counts over all bursts",
    hint="Every word of every record, counted once, exactly as written (see the tokenisation check); the "
    "grader reads the last file your app wrote before it stopped.",
)
def final_counts(ctx: CheckContext) -> None:
    obs = ctx.state[OBS]
    expected = obs.expected[-1]
    final = obs.final_snapshot
    if final == expected:
        return
    bursts = len(obs.expected)
    if final is None:
        crashed = _crash_summary(ctx)
        written = [p.name for p in _observed(ctx)]
        shape = "" if crashed else _output_shape(ctx)
        if shape:
            ctx.fail(f"expected the totals of all {bursts} bursts in the last output file; {shape}")
        ctx.fail(
            f"expected the totals of all {bursts} bursts in the last output file; the final run wrote none"
            + (f": {crashed} — see the first check" if crashed else "")
            + (f" (earlier output was seen after {written[-1]})" if written and not crashed else "")
        )
    last = obs.runs[-1]
    if _stopped_early(last, bursts):
        counted = next((k for k in range(bursts, 0, -1) if final == obs.expected[k - 1]), None)
        ctx.fail(
            f"expected the totals of all {bursts} bursts; the app stopped by itself before all data was "
            f"counted (see the last check): its last output file {obs.final_file} holds "
            + (f"the totals of bursts 1..{counted} only" if counted else diff(expected, final))
        )
    crashed = _crash_summary(ctx)
    if crashed and last.exited_by_itself:
        ctx.fail(
            f"expected the totals of all {bursts} bursts; {crashed} — see the first check. Its last output "
            f"file {obs.final_file}: " + diff(expected, final)
        )
    if obs.processed is not None and obs.processed < obs.written:
        ctx.fail(behind_message(obs.processed, obs.written, obs.final_after_s or 0.0, CONFIG.burst_budget_s))
    ctx.fail(
        f"expected the exact totals of all bursts in the last output file ({obs.final_file}): "
        + diff(expected, final)
        + _also(obs.final_problems, obs.final_file)
    )


@check(
    points=2,
    title="Stops by itself (exit status 0) once the data has ended",
    hint="Watch the query's progress (query.recentProgress): once no new rows arrived for IDLE_TIMEOUT_S "
    "seconds (read it from the environment), query.stop() and spark.stop(). Do not stop at the first empty "
    "batch: data can pause between bursts.",
)
def stops_by_itself(ctx: CheckContext) -> None:
    obs = ctx.state[OBS]
    crashed = _crash_summary(ctx)
    if crashed:
        ctx.fail(
            f"not a stop after the data ended: {crashed} — see the first check. Once it runs, the app must "
            f"exit by itself with status 0 after {IDLE_TIMEOUT_S:g} s without new rows."
        )
    if not obs.runs:
        ctx.fail("the app was never started")
    final = obs.runs[-1]
    early = next((run for run in obs.runs if _stopped_early(run, len(obs.expected))), None)
    if early is not None:
        quiet = "" if early.silence_s is None else f"{early.silence_s:.1f} s after it last counted new rows, "
        written, processed = early.written_at_exit or 0, early.processed_at_exit or 0
        if processed < written:
            state = f"with {written - processed} of the {written} records written so far not yet counted"
        else:
            burst = (early.bursts_produced_at_exit or 0) + 1
            state = f"before burst {burst} of {len(obs.expected)} was written"
        ctx.fail(
            f"run {early.run} stopped by itself before all data was counted: {quiet}{state}. The data only "
            f"pauses between bursts (for up to {CONFIG.pause:g} s); stop once no new rows arrived for "
            f"IDLE_TIMEOUT_S = {IDLE_TIMEOUT_S:g} s, not at the first idle trigger and not after a shorter "
            "limit of your own"
        )
    limit = IDLE_TIMEOUT_S + CONFIG.stop_extra_s
    if final.killed:
        ctx.fail(
            f"expected the app to exit within {limit:g} s after it counted the last data; it was still "
            "running and was killed: it never stops by itself"
        )
    ctx.expect(
        final.exit_code == 0, f"expected exit status 0 after the data ended; it exited with {final.exit_code}"
    )
    if final.silence_s is not None and final.silence_s < IDLE_TIMEOUT_S - STOP_TOLERANCE_S:
        ctx.fail(
            f"it stopped {final.silence_s:.1f} s after it had counted the last rows: expected it to wait "
            f"until no new rows arrived for IDLE_TIMEOUT_S = {IDLE_TIMEOUT_S:g} s (read IDLE_TIMEOUT_S from "
            "the environment; do not hard-code a shorter limit)"
        )
