"""Checks for stateful-wordcount: exact running totals after every burst, state that survives a
restart from the checkpoint, the contract's tokenisation, and stopping by itself.

The timeline (see ``harness.py``) produces the hidden corpus in four bursts while the app runs,
stops it after burst 2, lets "retention" delete burst 1's records, produces burst 3 while it is
down, restarts it with the same checkpoint, produces burst 4 and waits for it to stop by itself.
The checks only judge what was observed.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path

from grader.checks import CheckContext, check
from grader.common import tail
from grader.results import ExecRecord

_spec = importlib.util.spec_from_file_location(
    "grader_wordcount_harness", Path(__file__).with_name("harness.py")
)
assert _spec is not None
assert _spec.loader is not None
harness = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = harness
_spec.loader.exec_module(harness)

TRIGGER_SECONDS = 1.0
IDLE_TIMEOUT_S = 10.0

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


def diagnose(stderr: str) -> str:
    """A plain-words cause for a crash, or ''."""
    for pattern, explanation in DIAGNOSES:
        if pattern.search(stderr):
            return explanation
    return ""


class _Starter:
    """Starts the student's app in the sandbox for the harness, one labelled run at a time."""

    def __init__(self, ctx: CheckContext, scratch: Path) -> None:
        self.ctx = ctx
        self.scratch = scratch
        self.procs: list = []

    def __call__(self, env: dict[str, str]):
        n = len(self.procs) + 1
        if self.ctx.entrypoint() is None:
            raise FileNotFoundError(self.ctx.missing_entrypoint_message())
        local = self.scratch / f"spark-local-{n}"
        local.mkdir(parents=True, exist_ok=True)
        label = (
            "run 1 (bursts 1-2, then stopped by the grader)"
            if n == 1
            else f"run {n} (restart from checkpoint)"
        )
        proc = self.ctx.spawn_entrypoint(label, env={**env, "SPARK_LOCAL_DIRS": str(local)})
        self.procs.append(proc)
        return proc

    def records(self) -> list[ExecRecord]:
        return [p.record() for p in self.procs]


def act(ctx: CheckContext) -> None:
    """Play the timeline against the sandbox and keep the observations for the checks."""
    scratch = ctx.sandbox.scratch_dir("wordcount")
    starter = _Starter(ctx, scratch)
    config = harness.HarnessConfig(
        trigger_seconds=TRIGGER_SECONDS,
        idle_timeout_s=IDLE_TIMEOUT_S,
        seed=ctx.params["TOPIC"],
        topic=ctx.params["TOPIC"],
        spark_kafka_jars=None,
    )
    obs = harness.run_timeline(ctx.sandbox, starter, config, workdir=scratch)
    ctx.runs.extend(starter.records())
    ctx.state["obs"] = obs
    if obs.error:
        raise RuntimeError(f"the grader's timeline failed: {obs.error}")
    t = obs.timings
    ctx.state["timings"] = {k.removesuffix("_s"): v for k, v in t.items()}


# -- comparing totals ------------------------------------------------------------------------------


def _lowercased(found: dict[str, int], expected: dict[str, int]) -> bool:
    """The app folds case: it has no upper-case words although the expected totals have some."""
    return any(w != w.lower() for w in expected) and all(w == w.lower() for w in found)


# Tokenisations students actually write. The state checks compare each app against the totals its
# *own* tokenisation gives (the tokenisation check charges for the mistake once), so that one
# mistake does not cost every check.
TOKENISERS = {
    "the contract's": harness.tokenize,
    "a single space, like the seminar": lambda line: line.split(" "),
    "Python's str.split()": str.split,
}


def _strip(found: dict[str, int] | None) -> dict[str, int] | None:
    """Counts without the empty word (which the tokenisation check charges for)."""
    return None if found is None else {w: n for w, n in found.items() if w != ""}


def _count(lines: list[str], tokenise, fold: bool) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(w.lower() if fold else w for w in tokenise(line) if w)
    return dict(counts)


def app_expectations(ctx: CheckContext) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    """(each burst alone, cumulative after each burst) as this app's tokenisation counts them.

    The tokenisation is recognised on the first snapshot after burst 1, where running totals and
    per-batch counts agree; when none matches, the contract's is used.
    """
    if "app_expectations" in ctx.state:
        return ctx.state["app_expectations"]
    obs = ctx.state["obs"]
    first = obs.phase("burst1")
    reference = _strip(first.snapshot) if first is not None and first.new_files else None
    chosen = (harness.tokenize, False)
    for tokenise in TOKENISERS.values():
        for fold in (False, True):
            if reference is not None and _count(obs.bursts[0], tokenise, fold) == reference:
                chosen = (tokenise, fold)
                break
        else:
            continue
        break
    alone = [_count(lines, *chosen) for lines in obs.bursts]
    cumulative, running = [], Counter()
    for counts in alone:
        running.update(counts)
        cumulative.append(dict(running))
    ctx.state["app_expectations"] = (alone, cumulative)
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
    return [p for p in ctx.state["obs"].phases if p.snapshot is not None and p.new_files]


def _crash(ctx: CheckContext) -> tuple[int, ExecRecord | None] | None:
    obs = ctx.state["obs"]
    records = {i + 1: r for i, r in enumerate(ctx.runs)}
    for run in obs.runs:
        if run.start_error:
            return run.run, None
        if run.exited_by_itself and run.exit_code not in (0, None):
            return run.run, records.get(run.run)
    return None


# -- checks ----------------------------------------------------------------------------------------


@check(
    points=2,
    title="The app starts, reads Kafka and does not crash",
    hint="Run it yourself against 'grader cluster up' first; read the stderr of the run in the report.",
)
def runs(ctx: CheckContext) -> None:
    crash = _crash(ctx)
    if crash is not None:
        number, record = crash
        if record is None:
            run = ctx.state["obs"].runs[number - 1]
            ctx.fail(f"run {number} could not be started: {run.start_error}")
        cause = diagnose(record.stderr)
        ctx.fail(
            f"expected the app to keep running and count; run {number} exited with status "
            f"{record.returncode}. Last lines of stderr:\n{tail(record.stderr, 8)}"
            + (f"\nLikely cause: {cause}" if cause else "")
        )
    ctx.expect(
        _observed(ctx),
        "the app never wrote an output file: expected OUTPUT_DIR/batch-NNNNNN.tsv after "
        "every micro-batch (use foreachBatch with seminar_spark.write_totals)",
    )


@check(
    points=2,
    title="Words are split on whitespace, case kept, no empty word",
    hint="split(line, '[ \\t]+') and drop empty strings (splitting on a single ' ' makes the seminar's "
    "(u'', 1)); do not lower-case: 'Kafka' and 'kafka' are different words.",
)
def tokenisation(ctx: CheckContext) -> None:
    observed = _observed(ctx)
    ctx.expect(observed, "no output to check: the app never wrote its totals")
    latest = observed[-1]
    found, expected = latest.snapshot, latest.expected
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
    ctx.expect(observed, "no output to check: the app never wrote its totals")
    alone, cumulative = app_expectations(ctx)
    for phase in observed:
        k = int(phase.name.removeprefix("burst"))
        found = _strip(phase.snapshot)
        if k >= 2 and found == alone[k - 1] and found != cumulative[k - 1]:
            ctx.fail(
                f"after burst {k} the output holds the counts of burst {k} alone, not the totals of bursts "
                f"1..{k}: this is a per-batch count (like reduceByKey on each batch); expected e.g. "
                + diff(cumulative[k - 1], found, 3)
            )
    proven = [p for p in observed if p.name != "burst1" and _strip(p.snapshot) == cumulative[_k(p) - 1]]
    if not proven:
        last = observed[-1]
        ctx.fail(
            f"expected the totals of bursts 1..k after burst k; after {last.name} found: "
            + diff(cumulative[_k(last) - 1], _strip(last.snapshot))
        )


def _k(phase) -> int:
    """The burst number of a phase ("burst3" -> 3)."""
    return int(phase.name.removeprefix("burst"))


@check(
    points=2,
    title="State survives a restart from the checkpoint (no loss, no double counting)",
    hint="Pass CHECKPOINT_DIR as the query's checkpointLocation: Spark keeps offsets and state there and a "
    "restarted query continues exactly where it stopped.",
    requires=["running_totals"],
)
def checkpoint_restart(ctx: CheckContext) -> None:
    obs = ctx.state["obs"]
    phase = obs.phase("burst3")
    ctx.expect(
        phase is not None and phase.snapshot is not None and phase.new_files,
        "after the restart the app wrote no output for the data that arrived while it was down",
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
    ctx.fail("after the restart expected the totals of bursts 1..3: " + diff(want, found))


@check(
    points=3,
    title="Exact final counts over all bursts",
    hint="Every word of every record, counted once, exactly as written (see the tokenisation check).",
)
def final_counts(ctx: CheckContext) -> None:
    obs = ctx.state["obs"]
    expected = obs.expected[-1]
    final = obs.phase(f"burst{len(obs.expected)}")
    observed = _observed(ctx)
    snapshot = final.snapshot if final is not None and final.new_files else None
    if snapshot is None:
        seen = observed[-1].name if observed else None
        ctx.fail(
            f"expected the totals of all {len(obs.expected)} bursts; the app wrote nothing after the last "
            "burst" + (f" (its last output was after {seen})" if seen else "")
        )
    ctx.expect(snapshot == expected, "expected the exact totals of all bursts: " + diff(expected, snapshot))


@check(
    points=2,
    title="Stops by itself (exit status 0) once the data has ended",
    hint="Watch the query's progress (query.lastProgress / recentProgress): once no new rows arrived for "
    "IDLE_TIMEOUT_S seconds, query.stop() and spark.stop(). Do not stop at the first empty batch: data can "
    "pause between bursts.",
)
def stops_by_itself(ctx: CheckContext) -> None:
    obs = ctx.state["obs"]
    early = obs.early_exit
    if early is not None:
        ctx.fail(
            f"run {early.run} stopped by itself after {early.bursts_produced_at_exit} of {len(obs.expected)} "
            f"bursts, before all data was counted (exit status {early.exit_code}): the data only pauses "
            f"between bursts; stop after {IDLE_TIMEOUT_S:g} s without new rows, not at the first idle batch"
        )
    final = obs.runs[-1] if obs.runs else None
    ctx.expect(final is not None, "the app was never started")
    limit = IDLE_TIMEOUT_S + harness.HarnessConfig().stop_extra_s
    if final.killed:
        ctx.fail(
            f"expected the app to exit within {limit:g} s after the last data; it was still running and was "
            "killed: it never stops by itself"
        )
    ctx.expect(
        final.exit_code == 0, f"expected exit status 0 after the data ended; it exited with {final.exit_code}"
    )
