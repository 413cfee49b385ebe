"""Run the stateful-wordcount harness on the reference and every wrong submission (not a test).

    .venv/bin/python assignments/stateful-wordcount/tools/try_harness.py [--no-cds] [name ...]

One KafkaCluster serves all runs (each run gets its own topic and temp dir). Unless --no-cds,
a JVM class-data archive of Spark is built first (in the temp dir) and offered to every app
through SPARK_CDS_ARCHIVE. Prints a compact summary per submission and whether the deviation
it is meant to show was seen.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
CASES = HERE.parent / "cases"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import local_app  # noqa: E402  (beside this file)

from grader.registry import select  # noqa: E402
from grader.runtime.cluster import KafkaCluster  # noqa: E402
from grader.runtime.jars import ensure_runtime  # noqa: E402

harness = select(["stateful-wordcount"])[0].module.harness  # the assignment package's own module

SUBMISSIONS = {
    "reference": HERE.parent / "reference" / "wordcount.py",
    **{name: CASES / name / "wordcount.py" for name in (
        "per_batch", "empty_word", "never_stops", "stops_first_burst", "no_checkpoint", "lowercase",
        "cyrillic_crash", "seminar_dstream", "seminar_kafkautils", "default_settings", "rate_limited",
        "short_idle", "first_empty", "import_error", "ends_after_start",
    )},
    "template": HERE.parent / "stub" / "wordcount.py",
}


def diff(seen: dict[str, int] | None, want: dict[str, int], limit: int = 4) -> str:
    if seen is None:
        return "no output"
    if seen == want:
        return "exact"
    parts = []
    for word in sorted(set(seen) | set(want), key=lambda w: (w not in seen, w)):
        if seen.get(word) != want.get(word):
            parts.append(f"{word!r}: {seen.get(word, '-')} (want {want.get(word, '-')})")
    more = f" +{len(parts) - limit} more" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def stderr_of(log_dir: Path, run: int) -> str:
    path = log_dir / f"run-{run}.stderr"
    return path.read_text(errors="replace") if path.is_file() else ""


def lowered(counts: dict[str, int]) -> dict[str, int]:
    merged: Counter[str] = Counter()
    for word, n in counts.items():
        merged[word.lower()] += n
    return dict(merged)


PY_ERROR = re.compile(r"^([\w.]+\.)?\w*(Error|Exception): ")
Check = Callable[[object, Path], tuple[bool, str]]


def _snap(obs, phase: str) -> dict[str, int] | None:  # type: ignore[no-untyped-def]
    p = obs.phase(phase)
    return p.snapshot if p else None


def expect_reference(obs, logs: Path) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    ok = obs.final_snapshot == obs.expected[-1] and len(obs.phases) == 4
    run1, run2 = obs.runs[0], obs.runs[-1]
    ok = ok and run1.terminated_by_grader and run2.exited_during == "stop" and run2.exit_code == 0
    return ok, "all 4 snapshots exact, restart exact, exit 0 by itself"


def expect_per_batch(obs, logs: Path) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    return _snap(obs, "burst2") == obs.burst_alone[1], "snapshot after burst 2 == burst 2 alone"


def expect_empty_word(obs, logs: Path) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    return any(p.snapshot and "" in p.snapshot for p in obs.phases), "'' counted as a word"


def expect_never_stops(obs, logs: Path) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    return obs.runs[-1].killed and obs.runs[-1].exit_code != 0, "final run killed by the grader"


def expect_stops_first_burst(obs, logs: Path) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    run1 = obs.runs[0]
    ok = run1.exited_by_itself and run1.bursts_produced_at_exit in (1, 2) and obs.phases[0].matched
    ok = ok and _snap(obs, "burst2") != obs.expected[1]
    return ok, "run 1 ends by itself after burst 1; burst 2 never counted in run 1"


def expect_no_checkpoint(obs, logs: Path) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    without_burst1 = dict(Counter(obs.expected[2]) - Counter(obs.burst_alone[0]))
    return _snap(obs, "burst3") == without_burst1, "after restart: bursts 2..3 only (burst 1 lost)"


def expect_lowercase(obs, logs: Path) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    return _snap(obs, "burst1") == lowered(obs.expected[0]), "case merged (== lower-cased totals)"


def expect_cyrillic_crash(obs, logs: Path) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    run1 = obs.runs[0]
    crashed = run1.exited_by_itself and run1.exit_code not in (0, None)
    ok = crashed and "UnicodeEncodeError" in stderr_of(logs, 1)
    return ok, "exits non-zero with UnicodeEncodeError"


def _fails_fast(obs, logs: Path, error: str) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    run1 = obs.runs[0]
    ok = run1.exited_by_itself and run1.exit_code not in (0, None) and error in stderr_of(logs, 1)
    ok = ok and (run1.exit_after_s or 99) < 10
    return ok, f"fails fast with {error}"


EXPECTATIONS: dict[str, Check] = {
    "reference": expect_reference,
    "per_batch": expect_per_batch,
    "empty_word": expect_empty_word,
    "never_stops": expect_never_stops,
    "stops_first_burst": expect_stops_first_burst,
    "no_checkpoint": expect_no_checkpoint,
    "lowercase": expect_lowercase,
    "cyrillic_crash": expect_cyrillic_crash,
    "seminar_dstream": lambda obs, logs: _fails_fast(obs, logs, "SyntaxError"),
    "seminar_kafkautils": lambda obs, logs: _fails_fast(obs, logs, "ModuleNotFoundError"),
    "template": lambda obs, logs: _fails_fast(obs, logs, "not implemented yet"),
    "default_settings": expect_reference,
    "rate_limited": expect_reference,
    "short_idle": lambda obs, logs: (obs.early_exit is not None, "stops by itself before burst 4"),
    "first_empty": lambda obs, logs: (obs.early_exit is not None, "stops by itself at the first pause"),
    "import_error": lambda obs, logs: _fails_fast(obs, logs, "ImportError"),
    "ends_after_start": lambda obs, logs: (
        obs.runs[0].exit_code == 0 and not obs.runs[0].counted_anything, "ends before counting anything"),
}


def summarize(name: str, obs, logs: Path) -> bool:  # type: ignore[no-untyped-def]
    t = obs.timings
    print(f"== {name}: total {t.get('total_s')} s, sleeping {t.get('sleep_s')} s, "
          f"grader work {t.get('grader_work_s', 0)} s, terminate {t.get('terminate_s', 0)} s")
    for run in obs.runs:
        how = ("terminated by grader" if run.terminated_by_grader else "KILLED" if run.killed
               else f"exited by itself during {run.exited_during}" if run.exited_by_itself else "?")
        print(f"   run {run.run}: spark start {run.spark_start_s} s, exit {run.exit_code} ({how}) "
              f"after {run.exit_after_s} s" + (f", start error {run.start_error}" if run.start_error else ""))
        err = stderr_of(logs, run.run).strip().splitlines()
        last = next((ln for ln in reversed(err) if PY_ERROR.match(ln)), "")
        if last and not run.terminated_by_grader and run.exit_code not in (0, None):
            print(f"     stderr: {last[:150]}")
    for p in obs.phases:
        files = ",".join(f.removeprefix("batch-").removesuffix(".tsv") for f in p.new_files) or "-"
        print(f"   {p.name} (run {p.run}): {'MATCH' if p.matched else 'differs'} [{p.ended_by}, "
              f"{p.duration_s} s of {p.budget_s:g}, counted {p.processed}/{p.written}, new files {files}] "
              f"{'' if p.matched else diff(p.snapshot, p.expected)}"
              + (f" problems: {p.problems[:2]}" if p.problems else ""))
    if obs.stop_wait_s is not None:
        after = obs.runs[-1].silence_s if obs.runs else None
        print(f"   waited {obs.stop_wait_s} s for the exit"
              + (f"; it came {after} s after the app last counted new rows" if after is not None else ""))
    if obs.error:
        print(f"   HARNESS ERROR: {obs.error.strip().splitlines()[-1]}")
    ok, what = EXPECTATIONS[name](obs, logs)
    print(f"   expected deviation: {what}: {'SEEN' if ok else 'NOT SEEN'}")
    return ok


def main(args: list[str]) -> int:
    use_cds = "--no-cds" not in args
    names = [a for a in args if not a.startswith("--")] or list(SUBMISSIONS)
    jars = ",".join(str(j) for j in ensure_runtime().spark_kafka_jars)
    results: dict[str, bool] = {}
    totals: dict[str, dict[str, float]] = {}
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="try-wordcount-"))
    extra_env: dict[str, str] = {}
    try:
        if use_cds:
            archive = root / "spark-classes.jsa"
            seconds = local_app.build_class_archive(archive)
            print(f"class archive built in {seconds:.1f} s ({archive.stat().st_size >> 20} MB)")
            extra_env["SPARK_CDS_ARCHIVE"] = str(archive)
        with KafkaCluster(brokers=3) as cluster:
            print(f"cluster up in {cluster.start_seconds:.1f} s: {cluster.bootstrap_servers}")
            for name in names:
                folder = root / name
                logs = folder / "logs"
                logs.mkdir(parents=True)
                starter = local_app.SubprocessStarter(SUBMISSIONS[name], logs, extra_env=extra_env)
                try:
                    config = harness.HarnessConfig(seed=name, spark_kafka_jars=jars)
                    obs = harness.run_timeline(cluster, starter, config, folder / "work")
                    results[name] = summarize(name, obs, logs)
                    totals[name] = obs.timings
                finally:
                    starter.stop_all()
                sys.stdout.flush()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("-- timings (s): name, total, sleeping, spark start run 1 / run 2")
    for name, t in totals.items():
        print(f"   {name:20} {t.get('total_s', 0):6.1f} {t.get('sleep_s', 0):6.1f}   "
              f"{t.get('spark_start_run1_s', '-')} / {t.get('spark_start_run2_s', '-')}")
    print(f"-- {sum(results.values())}/{len(results)} as expected in {time.monotonic() - began:.0f} s: "
          + ", ".join(f"{n}={'ok' if ok else 'NO'}" for n, ok in results.items()))
    return 0 if all(results.values()) and len(results) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
