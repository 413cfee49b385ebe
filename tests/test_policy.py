"""course.toml and the counted score: time-travel tests of due dates, late penalties, grace days shared
between assignments, extensions that cost no grace day, and best against last attempt."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from grader.errors import UsageError
from grader.policy import (
    AssignmentPolicy,
    Attempt,
    CoursePolicy,
    Extension,
    apply_policy,
    credit_for,
    final_score,
    load_policy,
    parse_duration,
)

MSK = ZoneInfo("Europe/Moscow")
DUE = datetime(2026, 12, 1, 23, 59, tzinfo=MSK)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def policy(text: str, tmp_path: Path) -> CoursePolicy:
    path = tmp_path / "course.toml"
    path.write_text(textwrap.dedent(text))
    return load_policy(path)


def rule(**late: object) -> AssignmentPolicy:
    return AssignmentPolicy.model_validate({"due": DUE, "late": late or None})


def test_no_file_gives_the_defaults(tmp_path: Path) -> None:
    for p in (load_policy(None), load_policy(tmp_path / "absent.toml"), policy("", tmp_path)):
        assert p.course.seed is None
        assert p.course.timezone == "UTC"
        assert p.service.attempts >= 1
        assert p.service.max_pending == 1
        assert p.rule("topic-create").due is None


def test_a_full_course_toml(tmp_path: Path) -> None:
    p = policy(
        """
        [course]
        seed = 4242
        timezone = "Europe/Moscow"
        grace_days = 3

        [service]
        attempts = 5
        period = "30m"
        max_pending = 2

        [assignments.topic-create]
        due = 2026-12-01T23:59:00
        late = { per = "day", percent = 10, max_percent = 50 }
        counts = "best"
        max_attempts = 20

        [assignments.produce-sequence]
        due = 2026-12-08
        late.timeline = [
          { until = "2d", credit = 80 },
          { until = 2026-12-15T23:59:59+03:00, credit = 50 },
        ]
        """,
        tmp_path,
    )
    assert (p.course.seed, p.course.grace_days, p.service.attempts, p.service.max_pending) == (4242, 3, 5, 2)
    assert p.service.period_s == 1800
    topic = p.rule("topic-create")
    assert topic.due == DUE  # a local time in course.toml is the course's time zone
    assert (topic.counts, topic.max_attempts) == ("best", 20)
    produce = p.rule("produce-sequence")
    assert produce.due == datetime(2026, 12, 8, 23, 59, 59, tzinfo=MSK)  # a date: the end of that day
    assert produce.credit_steps() == [(2 * 86400, 80), (7 * 86400, 50)]


@pytest.mark.parametrize(
    ("text", "seconds"), [(90, 90), ("90", 90), ("30m", 1800), ("1h30m", 5400), ("2d", 172800)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_errors_name_the_file_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "course.toml"
    path.write_text(
        textwrap.dedent(
            """\
            [course]
            timezone = "Europe/Mosco"
            grace_dayz = 2

            [service]
            period = "an hour"

            [assignments.topic-create]
            due = 2026-12-01T23:59:00
            late = { per = "day", percent = 150 }

            [assignments.produce-sequence]
            late = { timeline = [{ until = "2d", credit = 120 }] }
            counts = "first"
            """
        )
    )
    with pytest.raises(UsageError) as err:
        load_policy(path)
    lines = str(err.value).splitlines()[1:]
    by_line = {int(line.split(":")[1]): line for line in lines}
    assert "not an IANA time zone" in by_line[2]
    assert "Europe/Moscow" in by_line[2]
    assert "unknown key 'grace_dayz'" in by_line[3]
    assert "grace_days" in by_line[3]
    assert "not a duration" in by_line[6]
    assert "1h" in by_line[6]
    assert "more than 100 %" in by_line[10]
    assert "more than 100 %" in by_line[13]
    assert "'last' or 'best'" in by_line[14]
    assert all(line.startswith(f"{path}:") for line in lines)


def test_bad_toml_and_unknown_assignment(tmp_path: Path) -> None:
    path = tmp_path / "course.toml"
    path.write_text("[course]\nseed = \n")
    with pytest.raises(UsageError, match=r"not valid TOML.*line 2"):
        load_policy(path)
    path.write_text("[assignments.topic-creat]\ndue = 2026-12-01\n")
    with pytest.raises(
        UsageError, match=r"course.toml:1: assignments.topic-creat: no such assignment.*topic-create"
    ):
        load_policy(path, known_assignments=["topic-create", "produce-sequence"])


def test_a_policy_never_gives_more_than_everything() -> None:
    with pytest.raises(ValueError, match="rises with lateness"):
        rule(timeline=[{"until": "1d", "credit": 50}, {"until": "2d", "credit": 80}])
    with pytest.raises(ValueError, match="either per period"):
        rule(per="day", percent=10, timeline=[{"until": "1d", "credit": 50}])
    with pytest.raises(ValueError, match="less than or equal to 100"):
        rule(per="day", percent=10, max_percent=120)


def test_credit_per_day_with_a_cap() -> None:
    r = rule(per="day", percent=10, max_percent=30)
    assert credit_for(r, 0) == 100
    assert credit_for(r, 1) == 90  # a second late is a started day
    assert credit_for(r, 86400) == 90
    assert credit_for(r, 86401) == 80
    assert credit_for(r, 30 * 86400) == 70  # the cap


def test_credit_per_hour_and_no_credit_after() -> None:
    r = rule(per="hour", percent=5, no_credit_after="1d")
    assert credit_for(r, 3 * 3600 - 1) == 85
    assert credit_for(r, 86400) == 0  # 24 started hours: 120 % capped at 100
    r = rule(per="hour", percent=1, no_credit_after="1d")
    assert credit_for(r, 86400) == 76
    assert credit_for(r, 86401) == 0


def test_credit_timeline_like_prairielearn() -> None:
    r = rule(timeline=[{"until": "1w", "credit": 80}])
    assert [credit_for(r, s) for s in (0, 1, 7 * 86400, 7 * 86400 + 1)] == [100, 80, 80, 0]


def test_on_time_late_and_unknown() -> None:
    r = rule(per="day", percent=10)
    on_time = final_score([Attempt(8, 10, DUE - HOUR)], r, tz=MSK)
    assert (on_time.points, on_time.credit, on_time.late_s) == (8, 100, 0)
    assert "on time" in on_time.explanation
    late = final_score([Attempt(8, 10, DUE + timedelta(minutes=1))], r, tz=MSK)
    assert (late.points, late.credit) == (7.2, 90)
    assert "1 min late" in late.explanation
    assert "90 % of 8 counts: 7.2" in late.explanation
    unknown = final_score([Attempt(8, 10, None)], r, tz=MSK)
    assert (unknown.points, unknown.credit, unknown.late_s) == (8, 100, None)
    assert "submission time unknown: no late penalty applied" in unknown.explanation
    nothing = final_score([], r, max_points=10)
    assert (nothing.points, nothing.max_points) == (None, 10)


def test_late_without_a_penalty_is_shown_but_costs_nothing() -> None:
    c = final_score([Attempt(9, 10, DUE + 3 * DAY)], AssignmentPolicy(due=DUE), tz=MSK)
    assert c.points == 9
    assert "3 d late" in c.explanation
    assert "no late penalty is set" in c.explanation


def test_best_against_last_attempt() -> None:
    attempts = [Attempt(9, 10, DUE - DAY), Attempt(6, 10, DUE - HOUR), Attempt(10, 10, DUE + 2 * DAY)]
    late = {"per": "day", "percent": 25}
    last = final_score(attempts, AssignmentPolicy.model_validate({"due": DUE, "late": late}), tz=MSK)
    assert (last.attempt, last.points) == (2, 5.0)  # the last one, 2 days late: 50 %
    best = final_score(
        attempts, AssignmentPolicy.model_validate({"due": DUE, "late": late, "counts": "best"}), tz=MSK
    )
    assert (best.attempt, best.points) == (0, 9.0)  # the on-time 9 beats the late 10 (worth 5)
    assert "the best of 3 attempts counts: attempt 1" in best.explanation


def test_attempts_past_the_cap_never_count() -> None:
    r = AssignmentPolicy.model_validate({"due": DUE, "counts": "best", "max_attempts": 2})
    c = final_score([Attempt(3, 10, DUE - DAY), Attempt(4, 10, DUE - DAY), Attempt(10, 10, DUE - HOUR)], r)
    assert (c.points, c.attempt, c.ignored) == (4, 1, 1)
    assert "1 attempt after the first 2 do not count" in c.explanation


def test_an_extension_moves_the_due_date_and_costs_no_grace_day() -> None:
    p = CoursePolicy.model_validate(
        {"course": {"timezone": "Europe/Moscow", "grace_days": 2},
         "assignments": {"topic-create": {"due": DUE, "late": {"per": "day", "percent": 10}}}}
    )  # fmt: skip
    ext = Extension("alice", DUE + 3 * DAY, "topic-create", comment="medical certificate")
    handed_in = {"topic-create": [Attempt(10, 10, DUE + 2 * DAY)]}
    out = apply_policy(p, handed_in, student="alice", extensions=[ext])
    c = out.counted["topic-create"]
    assert (c.points, c.grace_days, out.grace_days_left) == (10, 0, 2)
    assert "extended from 2026-12-01 23:59 MSK: medical certificate" in c.explanation
    assert "on time" in c.explanation
    # Past the extension, grace days cover what is left after it, and only that.
    out = apply_policy(p, {"topic-create": [Attempt(10, 10, DUE + 3 * DAY + HOUR)]}, student="alice",
                       extensions=[ext])  # fmt: skip
    c = out.counted["topic-create"]
    assert (c.points, c.grace_days, out.grace_days_left) == (10, 1, 1)
    # Someone else's extension is not alice's.
    out = apply_policy(p, handed_in, student="bob", extensions=[ext])
    assert out.counted["topic-create"].grace_days == 2
    assert out.counted["topic-create"].extension is None


def test_an_extension_moves_the_timeline_with_it() -> None:
    r = AssignmentPolicy.model_validate({"due": DUE, "late": {"timeline": [{"until": "1d", "credit": 50}]}})
    ext = Extension("alice", DUE + 5 * DAY)
    assert final_score([Attempt(10, 10, DUE + 5 * DAY + HOUR)], r, extension=ext).points == 5
    assert final_score([Attempt(10, 10, DUE + 6 * DAY + HOUR)], r, extension=ext).points == 0
    early = Extension("alice", DUE - 5 * DAY)  # a mistaken earlier date never makes anyone late
    assert final_score([Attempt(10, 10, DUE - HOUR)], r, extension=early).points == 10


def test_grace_days_are_shared_and_go_where_they_save_the_most() -> None:
    p = CoursePolicy.model_validate(
        {
            "course": {"grace_days": 2},
            "assignments": {
                "cheap": {"due": DUE, "late": {"per": "day", "percent": 5}},
                "dear": {"due": DUE + 7 * DAY, "late": {"per": "day", "percent": 50}},
                "ontime": {"due": DUE + 14 * DAY, "late": {"per": "day", "percent": 50}},
            },
        }
    )
    attempts = {
        "cheap": [Attempt(10, 10, DUE + 2 * HOUR)],  # 1 day late: -0.5 points
        "dear": [Attempt(10, 10, DUE + 8 * DAY + HOUR)],  # 2 days late: -10 points (capped at 100 %)
        "ontime": [Attempt(10, 10, DUE + 10 * DAY)],
    }
    out = apply_policy(p, attempts)
    assert {a: c.grace_days for a, c in out.counted.items()} == {"cheap": 0, "dear": 2, "ontime": 0}
    assert {a: c.points for a, c in out.counted.items()} == {"cheap": 9.5, "dear": 10, "ontime": 10}
    assert out.notes == ["grace days: 2 of 2 used (dear 2), 0 left"]
    # With three days, the third one goes to the cheap lateness; nothing is spent on time work.
    out = apply_policy(p, attempts, grace_days=3)
    assert {a: c.grace_days for a, c in out.counted.items()} == {"cheap": 1, "dear": 2, "ontime": 0}
    assert out.grace_days_left == 0
    # Days move between assignments: when a later one comes in late, the cheap lateness gives its day up.
    attempts["ontime"] = [Attempt(10, 10, DUE + 14 * DAY + HOUR)]
    out = apply_policy(p, attempts, grace_days=3)
    assert {a: c.grace_days for a, c in out.counted.items()} == {"cheap": 0, "dear": 2, "ontime": 1}
    assert {a: c.points for a, c in out.counted.items()} == {"cheap": 9.5, "dear": 10, "ontime": 10}


def test_max_grace_days_per_assignment_and_unknown_times_use_none() -> None:
    p = CoursePolicy.model_validate(
        {"course": {"grace_days": 5},
         "assignments": {"a": {"due": DUE, "late": {"per": "day", "percent": 10}, "max_grace_days": 1},
                         "b": {"due": DUE, "late": {"per": "day", "percent": 10}}}}
    )  # fmt: skip
    out = apply_policy(p, {"a": [Attempt(10, 10, DUE + 3 * DAY)], "b": [Attempt(10, 10, None)]})
    assert (out.counted["a"].grace_days, out.counted["a"].points) == (1, 8)
    assert out.counted["b"].grace_days == 0
    assert out.grace_days_left == 4


def test_times_are_compared_across_time_zones() -> None:
    r = rule(per="hour", percent=10)
    same_instant = DUE.astimezone(UTC)
    assert final_score([Attempt(10, 10, same_instant)], r).points == 10
    assert final_score([Attempt(10, 10, same_instant + timedelta(seconds=1))], r).points == 9
