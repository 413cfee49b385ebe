"""Who is to blame for a broken cluster: the runner's attribution of stopped brokers (no Kafka needed)."""

from __future__ import annotations

from grader.checks import CheckContext
from grader.kafka_util import KafkaView
from grader.registry import select
from grader.results import Status
from grader.runner import _DOWN_BEFORE_STUDENT, _cluster_damage, _damage_results

SIGNAL_TAIL = "[2026-11-25 11:00:01] INFO [KafkaRaftServer nodeId=2] Kafka Server started (kafka.server)"
OOM_TAIL = "java.lang.OutOfMemoryError: Java heap space\n[..] ERROR Exiting Kafka due to fatal exception"


class Cluster:
    """Just enough of a sandbox for attribution: which brokers are down right now."""

    def __init__(self, down: dict[int, str]) -> None:
        self.down = down

    def dead_brokers(self) -> dict[int, str]:
        return dict(self.down)


def context(sandbox: Cluster, assignment: str = "produce-sequence") -> CheckContext:
    (a,) = select([assignment])
    return CheckContext(spec=a.spec, params={}, sandbox=sandbox, kafka=KafkaView("127.0.0.1:9"))  # type: ignore[arg-type]


def test_a_broker_stopped_while_the_student_ran_is_the_students_fault():
    sandbox = Cluster({})
    ctx = context(sandbox)
    ctx.state[_DOWN_BEFORE_STUDENT] = sandbox.dead_brokers()
    sandbox.down = {2: SIGNAL_TAIL}
    stopped: dict[int, str] = {}
    message, details = _cluster_damage(sandbox, ctx, stopped, errored=False)  # type: ignore[arg-type, misc]
    assert message.startswith("broker 2 stopped while your script ran: expected every broker")
    assert "Kafka Server started" in message  # the evidence: the log just stops
    assert details == SIGNAL_TAIL
    assert stopped == {2: "produce-sequence"}


def test_a_broker_down_before_the_student_ran_is_not_blamed():
    sandbox = Cluster({1: SIGNAL_TAIL})
    ctx = context(sandbox)
    ctx.state[_DOWN_BEFORE_STUDENT] = sandbox.dead_brokers()
    assert _cluster_damage(sandbox, ctx, {}, errored=True) is None  # type: ignore[arg-type]


def test_a_broker_that_crashed_by_itself_is_not_blamed():
    sandbox = Cluster({})
    ctx = context(sandbox)
    ctx.state[_DOWN_BEFORE_STUDENT] = {}
    sandbox.down = {3: OOM_TAIL}
    assert _cluster_damage(sandbox, ctx, {}, errored=True) is None  # type: ignore[arg-type]


def test_no_student_code_ran_means_no_blame():
    sandbox = Cluster({2: SIGNAL_TAIL})
    assert _cluster_damage(sandbox, context(sandbox), {}, errored=True) is None  # type: ignore[arg-type]


def test_damage_from_an_earlier_assignment_explains_a_later_error():
    sandbox = Cluster({2: SIGNAL_TAIL})
    ctx = context(sandbox, "consume-partition")
    ctx.state[_DOWN_BEFORE_STUDENT] = sandbox.dead_brokers()
    stopped = {2: "produce-sequence"}
    damage = _cluster_damage(sandbox, ctx, stopped, errored=True)  # type: ignore[arg-type]
    assert damage is not None
    assert damage[0] == (
        "not graded: broker 2 was stopped by your script in 'produce-sequence', so the cluster could not "
        "grade this assignment"
    )
    # Without an error the later assignment's own result stands.
    assert _cluster_damage(sandbox, ctx, stopped, errored=False) is None  # type: ignore[arg-type]


def test_damage_results_fail_the_first_check_and_skip_the_rest():
    (a,) = select(["produce-sequence"])
    results = _damage_results(a.checks, "broker 2 stopped while your script ran: ...", "log")
    assert [r.status for r in results] == [Status.FAILED] + [Status.SKIPPED] * (len(a.checks) - 1)
    assert sum(r.points for r in results) == 0
    assert sum(r.max_points for r in results) == a.spec.points
    assert results[0].details == "log"
    assert all("damaged the grader's cluster" in r.message for r in results[1:])
