"""Assignments 1-3 on a real cluster: references get full marks, stubs zero, wrong submissions lose
exactly the right checks with the right message."""

from __future__ import annotations

import re

import pytest
from grading import SUBMISSIONS, F, P, S, grade, message, only_failing, statuses

from grader.registry import select, template_root
from grader.results import Status
from grader.runtime.cluster import KafkaCluster

pytestmark = pytest.mark.kafka


@pytest.fixture
def cluster(kafka_cluster):
    """The session's 3-broker cluster; every grading uses its own randomised topic names."""
    return kafka_cluster


ALL = ["topic-create", "produce-sequence", "consume-partition"]


@pytest.mark.parametrize("assignment_id", ALL)
def test_reference_scores_full_marks(cluster, tmp_path, assignment_id):
    (a,) = select([assignment_id])
    res = grade(cluster, assignment_id, a.reference, tmp_path)
    assert res.error is None
    assert res.points == res.max_points == a.spec.points, [c.message for c in res.checks]


@pytest.mark.parametrize("assignment_id", ALL)
def test_template_stub_scores_zero_with_guidance(cluster, tmp_path, assignment_id):
    res = grade(cluster, assignment_id, template_root() / assignment_id, tmp_path)
    assert res.error is None
    assert res.points == 0
    assert all(c.hint for c in res.checks if c.status is F)
    assert "not implemented yet" in message(res, "runs_cleanly")


@pytest.mark.parametrize("assignment_id", ALL)
def test_empty_submission_folder_scores_zero_without_crashing(cluster, tmp_path, assignment_id):
    res = grade(cluster, assignment_id, tmp_path / "nothing-here", tmp_path)
    assert res.error is None
    assert res.points == 0
    assert f"there is no {assignment_id}/ folder" in message(res, "runs_cleanly")


# (assignment, submission, {check: status} for the checks that do not pass, {check: text in message})
CASES = [
    ("topic-create", "seminar_literal", {}, {}),
    ("topic-create", "python_style", {}, {}),
    ("topic-create", "five_partitions", {"six_partitions": F}, {"six_partitions": "found 5"}),
    ("topic-create", "rf_one", {"replication_factor": F}, {"replication_factor": "partition 0: 1"}),
    (
        "topic-create",
        "hardcoded_topic",
        {
            "topic_exists": F,
            "six_partitions": S,
            "replication_factor": S,
            "replicas_spread": S,
            "second_run_safe": S,
        },
        {"topic_exists": "hob201942-topic"},
    ),
    ("topic-create", "pinned_replicas", {"replicas_spread": F}, {"replicas_spread": "hold no replica"}),
    ("topic-create", "recreates", {"second_run_safe": F}, {"second_run_safe": "deleted and re-created"}),
    ("topic-create", "not_executable", {"runs_cleanly": F}, {"runs_cleanly": "chmod +x"}),
    (
        "topic-create",
        "wrong_shebang",
        {"runs_cleanly": F},
        {"runs_cleanly": "interpreter that does not exist"},
    ),
    (
        "topic-create",
        "syntax_error",
        {
            "runs_cleanly": F,
            "topic_exists": F,
            "six_partitions": S,
            "replication_factor": S,
            "replicas_spread": S,
            "second_run_safe": S,
        },
        {"runs_cleanly": "syntax error"},
    ),
    ("topic-create", "no_shebang", {"runs_cleanly": F}, {"runs_cleanly": "no shebang line"}),
    (
        "topic-create",
        "symlinked",  # create_topic.sh is a link to /etc/passwd: never read or run through the link
        {
            "runs_cleanly": F,
            "topic_exists": F,
            "six_partitions": S,
            "replication_factor": S,
            "replicas_spread": S,
            "second_run_safe": S,
        },
        {"runs_cleanly": "is a symbolic link"},
    ),
    ("produce-sequence", "seminar_literal", {}, {}),
    (
        "produce-sequence",
        "recreates_small_topic",
        {"same_topic": F, "all_values": S, "no_duplicates": S, "nothing_else": S, "partition_order": S},
        {"same_topic": "deleted and re-created (its topic id changed)"},
    ),
    ("produce-sequence", "python_style", {}, {}),
    ("produce-sequence", "fixed_twenty", {"all_values": F}, {"all_values": "largest number written is 20"}),
    ("produce-sequence", "zero_based", {"all_values": F, "nothing_else": F}, {"nothing_else": "[0]"}),
    ("produce-sequence", "twice", {"no_duplicates": F}, {"no_duplicates": "×2"}),
    (
        # Records that are not numbers: the duplicates and order checks have nothing to judge and pay nothing.
        "produce-sequence",
        "bytes_not_numbers",
        {"all_values": F, "no_duplicates": F, "nothing_else": F, "partition_order": F},
        {
            "all_values": "bytes(i) is i zero bytes",
            "no_duplicates": "nothing to check for duplicates in: the topic holds",
            "partition_order": "nothing to check the order in",
            "nothing_else": "records that are not numbers",
        },
    ),
    ("consume-partition", "seminar_literal", {}, {}),
    ("consume-partition", "python_style", {}, {}),
    (
        "consume-partition",
        "whole_topic",
        {"exact_partition": F, "nothing_from_others": F},
        {"exact_partition": "whole topic"},
    ),
    (
        "consume-partition",
        "partition_zero",
        {"exact_partition": F, "nothing_from_others": F},
        {"exact_partition": "you printed partition 0"},
    ),
    ("consume-partition", "never_stops", {"runs_cleanly": F}, {"runs_cleanly": "killed"}),
    (
        "consume-partition",
        "predicts_values",
        {"exact_partition": F, "nothing_from_others": F, "clean_stdout": F},
        {
            "exact_partition": "none of the printed numbers is in the topic",
            "nothing_from_others": "not in the topic at all",
            "clean_stdout": "nothing to check: none of the",
        },
    ),
    ("consume-partition", "keys_and_values", {"clean_stdout": F}, {"clean_stdout": "carry the record's key"}),
    ("consume-partition", "crlf_output", {}, {}),
    (
        "consume-partition",
        "windows_line_endings",
        {"runs_cleanly": F},
        {"runs_cleanly": "dos2unix consume.sh"},
    ),
    (
        "consume-partition",
        "deletes_topic_after_reading",
        {"same_topic": F, "exact_partition": S, "nothing_from_others": S, "clean_stdout": S},
        {"same_topic": "it was deleted while your script ran"},
    ),
    ("consume-partition", "noisy_stdout", {"clean_stdout": F}, {"clean_stdout": "Reading partition"}),
    (
        "consume-partition",
        "crashes",
        {"runs_cleanly": F, "exact_partition": F, "nothing_from_others": F, "clean_stdout": F},
        {"runs_cleanly": "KeyError"},
    ),
    (
        "consume-partition",
        "floods_output",
        {"runs_cleanly": F, "exact_partition": F, "nothing_from_others": F, "clean_stdout": F},
        {"runs_cleanly": "killed"},
    ),
]


@pytest.mark.parametrize(
    ("assignment_id", "name", "failing", "messages"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_submission_loses_exactly_the_right_checks(cluster, tmp_path, assignment_id, name, failing, messages):
    res = grade(cluster, assignment_id, SUBMISSIONS / assignment_id / name, tmp_path)
    assert res.error is None
    assert statuses(res) == only_failing(assignment_id, failing), {c.id: c.message for c in res.checks}
    for check_id, text in messages.items():
        assert text in message(res, check_id)
    if name == "seminar_literal":
        assert any(n.kind == "seminar" and "in Kafka 4 write" in n.text for n in res.notes)
    if name == "floods_output":
        (run,) = res.runs
        assert run.timed_out
        assert run.stdout_truncated_bytes > 0
        assert len(run.stdout.encode()) <= 64 * 1024 + 100  # the kept head and tail plus the cut marker


@pytest.fixture(scope="module")
def fragile_cluster(nothing_left_behind):
    """A cluster of its own for submissions that damage it (the shared one must stay whole)."""
    with KafkaCluster(brokers=3) as own:
        yield own


def test_a_script_that_kills_a_broker_fails_the_run_and_is_no_grader_error(fragile_cluster, tmp_path):
    try:
        res = grade(
            fragile_cluster, "produce-sequence", SUBMISSIONS / "produce-sequence" / "kills_a_broker", tmp_path
        )
    finally:
        for node in fragile_cluster.nodes:
            if not node.alive():
                fragile_cluster.restart_broker(node.node_id)
    assert res.error is None
    assert statuses(res) == {c: (F if c == "runs_cleanly" else S) for c in statuses(res)}
    assert res.points == 0
    text = message(res, "runs_cleanly")
    assert re.match(r"broker \d+ stopped while your script ran: expected every broker", text), text
    assert "Never stop, kill or restart brokers" in text
    assert "damaged the grader's cluster" in message(res, "all_values")


def test_a_broker_down_before_the_student_ran_is_not_blamed_on_the_student(fragile_cluster, tmp_path):
    victim = fragile_cluster.broker_ids[-1]
    fragile_cluster.kill_broker(victim)
    try:
        res = grade(fragile_cluster, "produce-sequence", select(["produce-sequence"])[0].reference, tmp_path)
    finally:
        fragile_cluster.restart_broker(victim)
    assert all("your script" not in c.message for c in res.checks), [c.message for c in res.checks]
    assert all(c.status in (P, Status.ERROR) for c in res.checks)
