"""Helpers the assignment tests share: grade one folder on the session cluster, read the outcome."""

from __future__ import annotations

import atexit
import itertools
import os
import random
import shutil
import tempfile
from pathlib import Path

from grader.assemble import examples
from grader.registry import select
from grader.results import AssignmentResult, Status, SubmissionResult
from grader.runner import grade_submission
from grader.runtime.cluster import KafkaCluster
from grader.sandbox.base import SandboxFactory
from grader.sandbox.local import LocalSandbox
from grader.spec import AssignmentSpec

_EXAMPLES: list[Path] = []


def example_path(name: str) -> Path:
    """The example submission ``name`` (``grader examples``), assembled once per test session."""
    if not _EXAMPLES:
        _EXAMPLES.append(Path(tempfile.mkdtemp(prefix="grader-examples-")))
        atexit.register(shutil.rmtree, _EXAMPLES[0], True)
        examples(select(None), _EXAMPLES[0])
    return _EXAMPLES[0] / name


def case_path(assignment_id: str, name: str) -> Path:
    """The folder of one case of an assignment (``assignments/<id>/cases/<name>``)."""
    (assignment,) = select([assignment_id])
    return assignment.cases / name
P, F, S = Status.PASSED, Status.FAILED, Status.SKIPPED
# A new base every run, so repeated runs grade each realistic submission with other parameters;
# the end of pytest's output prints it, GRADER_TEST_SEED=<base> repeats a run's parameters.
SEED_BASE = int(os.environ.get("GRADER_TEST_SEED") or random.randrange(1000, 1_000_000, 1000))
# One counter for every module, and no topic name twice: the tests share one cluster.
_seeds = itertools.count(SEED_BASE)
_topics_used: set[str] = set()


def _fresh_seed(*specs: AssignmentSpec) -> int:
    """The next seed whose topics no earlier test used (the tests share one cluster)."""
    while True:
        seed = next(_seeds)
        topics = {
            str(value)
            for spec in specs
            for name, value in spec.draw_params(seed).items()
            if spec.params[name].kind == "topic"
        }
        if not topics & _topics_used:
            _topics_used.update(topics)
            return seed


def grade(cluster: KafkaCluster, assignment_id: str, source: Path, tmp_path: Path) -> AssignmentResult:
    """Grade ``source`` (the assignment's folder) as a one-assignment submission on the shared cluster."""
    submission = tmp_path / "submission"
    submission.mkdir()
    if source.exists():
        shutil.copytree(source, submission / assignment_id, symlinks=True)
    (assignment,) = select([assignment_id])
    result = grade_submission(
        submission,
        [assignment],
        seed=_fresh_seed(assignment.spec),
        sandbox_factory=lambda sub, brokers, limits: LocalSandbox(sub, limits=limits, cluster=cluster),
    )
    (res,) = result.assignments
    return res


def statuses(res: AssignmentResult) -> dict[str, Status]:
    """Check id -> status."""
    return {c.id: c.status for c in res.checks}


def message(res: AssignmentResult, check_id: str) -> str:
    """The message of one check."""
    return next(c.message for c in res.checks if c.id == check_id)


def only_failing(assignment_id: str, failing: dict[str, Status]) -> dict[str, Status]:
    """Expected statuses: PASSED everywhere except ``failing``."""
    (a,) = select([assignment_id])
    return {c.id: failing.get(c.id, P) for c in a.checks}


def grade_example(name: str, factory: SandboxFactory) -> SubmissionResult:
    """Grade the example ``name`` on every assignment in one sandbox made by ``factory``."""
    assignments = select(None)
    return grade_submission(
        example_path(name),
        assignments,
        seed=_fresh_seed(*(a.spec for a in assignments)),
        sandbox_factory=factory,
    )


def assert_full_marks_with_overlap(result: SubmissionResult) -> None:
    """The good example: full marks; the others were graded beside the word count (the submission
    took less than its assignments one after another); each seminar note under its own assignment."""
    assert [a.id for a in result.assignments] == [a.id for a in select(None)]
    for a in result.assignments:
        assert a.points == a.max_points, (a.id, a.error, [(c.id, c.message) for c in a.checks if c.message])
    one_after_another = sum(a.timings["total"] for a in result.assignments)
    # Behaviour, not speed: some of them ran beside the word count (how much is bench/grade_one.py's).
    assert result.duration_s < one_after_another, (result.duration_s, one_after_another)
    notes = {a.id: [n.text for n in a.notes if n.kind == "seminar"] for a in result.assignments}
    assert any("--new-consumer" in n for n in notes["consume-partition"]), notes
    assert notes["stateful-wordcount"] == [], notes


def spark_leftovers() -> list[str]:
    """Spark JVMs (SparkSubmit) started inside a grader sandbox that are still running.

    Sandbox processes carry TMPDIR=<grader-sandbox-*>/home, which tells them apart from any other
    Spark on the machine.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if "org.apache.spark.deploy.SparkSubmit" in cmd and b"grader-sandbox-" in environ:
            found.append(f"{entry.name}: {cmd[:120]}")
    return found
