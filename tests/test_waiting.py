"""poll_until / wait_while: the one wait loop (no Kafka needed)."""

from __future__ import annotations

import itertools

import pytest

from grader.waiting import WaitTimeout, poll_until, wait_while


def test_returns_the_first_truthy_value_and_retries_named_errors():
    values = iter([None, 0, "", "ready"])
    assert poll_until(lambda: next(values), timeout=5, interval=0) == "ready"
    calls = itertools.count()

    def flaky() -> int:
        n = next(calls)
        if n < 2:
            raise ConnectionError(f"attempt {n}")
        return n

    assert poll_until(flaky, timeout=5, interval=0, retry_on=(ConnectionError,)) == 2


def test_a_time_out_names_what_and_the_last_error_or_value():
    def refuse() -> None:
        raise ConnectionError("refused")

    with pytest.raises(WaitTimeout, match=r"0\.0 s for the broker in vain; last error: ConnectionError"):
        poll_until(refuse, timeout=0.0, what="the broker", retry_on=(ConnectionError,))
    with pytest.raises(WaitTimeout, match=r"waited 0\.0 s for 2 replicas in vain; last seen: \[\]"):
        poll_until(list, timeout=0.0, what="2 replicas")


def test_an_unexpected_error_ends_the_wait_at_once():
    def broken() -> None:
        raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        poll_until(broken, timeout=60, retry_on=(ConnectionError,))


def test_wait_while_reports_whether_the_condition_ended_and_sleeps_through_the_callers_clock():
    slept: list[float] = []
    left = iter([True, True, False])
    assert wait_while(lambda: next(left), timeout=5, interval=0.01, sleep=slept.append)
    assert slept == [0.01, 0.01]
    assert not wait_while(lambda: True, timeout=0.05, interval=0.01)
