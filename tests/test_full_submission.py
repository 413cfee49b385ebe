"""A whole submission in one sandbox, as `grader check` grades it: the word count goes first and
the other three assignments are graded beside its waiting tail (real Kafka, real Spark)."""

from __future__ import annotations

import pytest
from grading import assert_full_marks_with_overlap, grade_example

from grader.sandbox.local import LocalSandbox

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def test_the_good_example_gets_full_marks_with_overlapping_assignments(kafka_cluster):
    result = grade_example(
        "good-student",
        lambda sub, brokers, limits: LocalSandbox(sub, limits=limits, cluster=kafka_cluster),
    )
    assert_full_marks_with_overlap(result)
