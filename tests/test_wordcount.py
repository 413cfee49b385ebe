"""stateful-wordcount on a real cluster and real Spark: the reference gets full marks, the stub zero,
and every realistic mistake loses exactly the right checks with the right message."""

from __future__ import annotations

from pathlib import Path

import pytest
from grading import SUBMISSIONS, F, S, message, only_failing, statuses
from grading import grade as grade_assignment

from grader.registry import select, template_root
from grader.results import AssignmentResult, Status

ID = "stateful-wordcount"

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def grade(cluster, source: Path, tmp_path: Path) -> AssignmentResult:
    return grade_assignment(cluster, ID, source, tmp_path)


def expected(failing: dict[str, Status]) -> dict[str, Status]:
    return only_failing(ID, failing)


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


def test_reference_scores_full_marks_and_leaves_nothing_behind(kafka_cluster, tmp_path):
    (a,) = select([ID])
    res = grade(kafka_cluster, a.reference, tmp_path)
    assert res.error is None
    assert res.points == res.max_points == 14, {c.id: c.message for c in res.checks}
    assert res.timings["spark_start_run1"] > 0
    assert spark_leftovers() == []


def test_template_stub_scores_zero_with_guidance(kafka_cluster, tmp_path):
    res = grade(kafka_cluster, template_root() / ID, tmp_path)
    assert res.error is None
    assert res.points == 0
    assert "not implemented yet" in message(res, "runs")
    assert all(c.hint for c in res.checks if c.status is F)


CASES = [
    (
        "per_batch",
        {"running_totals": F, "checkpoint_restart": S, "final_counts": F},
        {"running_totals": "per-batch count"},
    ),
    ("empty_word", {"tokenisation": F, "final_counts": F}, {"tokenisation": "the empty word '' is counted"}),
    ("lowercase", {"tokenisation": F, "final_counts": F}, {"tokenisation": "lower-cased"}),
    ("never_stops", {"stops_by_itself": F}, {"stops_by_itself": "never stops by itself"}),
    (
        "stops_first_burst",
        {"stops_by_itself": F, "final_counts": F},
        {"stops_by_itself": "before all data was counted"},
    ),
    (
        "no_checkpoint",
        {"checkpoint_restart": F, "final_counts": F},
        {"checkpoint_restart": "the state was not restored from CHECKPOINT_DIR"},
    ),
    (
        "cyrillic_crash",
        {
            "runs": F,
            "tokenisation": F,
            "running_totals": F,
            "checkpoint_restart": S,
            "final_counts": F,
            "stops_by_itself": F,
        },
        {"runs": "Cyrillic"},
    ),
    (
        "seminar_dstream",
        {
            "runs": F,
            "tokenisation": F,
            "running_totals": F,
            "checkpoint_restart": S,
            "final_counts": F,
            "stops_by_itself": F,
        },
        {"runs": "lambda kv: kv[1]"},
    ),
    (
        "seminar_kafkautils",
        {
            "runs": F,
            "tokenisation": F,
            "running_totals": F,
            "checkpoint_restart": S,
            "final_counts": F,
            "stops_by_itself": F,
        },
        {"runs": "removed in Spark 3.0"},
    ),
]


@pytest.mark.parametrize(("name", "failing", "messages"), CASES, ids=[c[0] for c in CASES])
def test_wrong_submission_loses_exactly_the_right_checks(kafka_cluster, tmp_path, name, failing, messages):
    res = grade(kafka_cluster, SUBMISSIONS / ID / name, tmp_path)
    assert res.error is None
    assert statuses(res) == expected(failing), {c.id: c.message for c in res.checks}
    for check_id, text in messages.items():
        assert text in message(res, check_id)
    assert spark_leftovers() == []
