"""Assignments 1-3 on a real cluster, beyond their cases (which tests/test_validate.py grades with
``grader validate``): an empty submission, and a broker that was down before the student ran."""

from __future__ import annotations

import pytest
from grading import P, grade, message

from grader.registry import select
from grader.results import Status
from grader.runtime.cluster import KafkaCluster

pytestmark = pytest.mark.kafka


@pytest.fixture
def cluster(kafka_cluster):
    """The session's 3-broker cluster; every grading uses its own randomised topic names."""
    return kafka_cluster


ALL = ["topic-create", "produce-sequence", "consume-partition"]


@pytest.mark.parametrize("assignment_id", ALL)
def test_empty_submission_folder_scores_zero_without_crashing(cluster, tmp_path, assignment_id):
    res = grade(cluster, assignment_id, tmp_path / "nothing-here", tmp_path)
    assert res.error is None
    assert res.points == 0
    assert f"there is no {assignment_id}/ folder" in message(res, "runs_cleanly")


@pytest.fixture(scope="module")
def fragile_cluster(nothing_left_behind):
    """A cluster of its own for a test that damages it (the shared one must stay whole)."""
    with KafkaCluster(brokers=3) as own:
        yield own


def test_a_broker_down_before_the_student_ran_is_not_blamed_on_the_student(fragile_cluster, tmp_path):
    victim = fragile_cluster.broker_ids[-1]
    fragile_cluster.kill_broker(victim)
    try:
        res = grade(fragile_cluster, "produce-sequence", select(["produce-sequence"])[0].reference, tmp_path)
    finally:
        fragile_cluster.restart_broker(victim)
    assert all("your script" not in c.message for c in res.checks), [c.message for c in res.checks]
    assert all(c.status in (P, Status.ERROR) for c in res.checks)
