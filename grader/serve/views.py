"""What the pages and the API show: a submission's status, a student's history, the class, the gradebook."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from grader.batch.gradebook import Grading, StudentRecord, check_stats, gradebook_csv
from grader.policy import Attempt, apply_policy
from grader.results import SubmissionResult
from grader.serve.auth import Viewer, utcnow
from grader.serve.context import Context
from grader.serve.models import Role, State, Submission, User
from grader.serve.queue import aware
from grader.serve.results import load

STATUS_TEXT = {
    State.QUEUED.value: "Waiting in the queue",
    State.RUNNING.value: "Being graded",
    State.DONE.value: "Graded",
    State.ERROR.value: "Grader error (not your fault)",
    State.TIMEOUT.value: "Grading timed out (not your fault)",
    State.CRASHED.value: "Grader crashed (not your fault)",
}


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{round(value)} s"
    return f"{int(value // 60)} min {round(value % 60)} s"


def status_of(ctx: Context, sub: Submission) -> dict[str, Any]:
    """Status text, queue position and ETA of one submission."""
    state = State(sub.status)
    position = None
    eta = None
    if state is State.QUEUED:
        with ctx.db.reading() as session:
            ahead = session.scalar(
                select(func.count(Submission.id)).where(
                    Submission.status == State.QUEUED.value, Submission.id < sub.id
                )
            )
        position = (ahead or 0) + 1
        eta = ctx.typical_duration() * math.ceil(position / max(1, ctx.slots))
    elif state is State.RUNNING and sub.started_at is not None:
        elapsed = (utcnow() - aware(sub.started_at)).total_seconds()
        eta = max(1.0, ctx.typical_duration() - elapsed)
    text = STATUS_TEXT[state.value]
    if state is State.DONE and sub.outcome == "error":
        text = STATUS_TEXT[State.ERROR.value]
    return {
        "status_text": text,
        "final": state.final,
        "grader_side": state.grader_side or (state is State.DONE and sub.outcome == "error"),
        "position": position,
        "eta_s": round(eta, 1) if eta is not None else None,
        "eta": _seconds(eta),
    }


def _score(sub: Submission) -> str:
    if sub.status == State.DONE.value and sub.outcome != "error" and sub.points is not None:
        return f"{sub.points:g} / {(sub.max_points or 0):g}"
    return ""


def _badge(sub: Submission) -> str:
    if sub.status == State.DONE.value:
        return {"passed": "passed", "failed": "failed"}.get(sub.outcome or "", "error")
    return sub.status


def submission_rows(ctx: Context, who: Viewer) -> dict[str, Any]:
    """The history table and the attempt bucket of the viewer (a TA: the latest 200 of everyone)."""
    with ctx.db.reading() as session:
        stmt = select(Submission, User.student_id).join(User, User.id == Submission.user_id)
        if not who.ta:
            stmt = stmt.where(Submission.user_id == who.user_id)
        found = session.execute(stmt.order_by(Submission.id.desc()).limit(200)).all()
        me = session.get(User, who.user_id)
    rows = [
        {
            "id": sub.id,
            "attempt": sub.attempt,
            "student": student,
            "created": ctx.local_time(sub.created_at),
            "assignments": ", ".join(sub.assignments),
            "status": sub.status,
            "status_text": status_of(ctx, sub)["status_text"] if not State(sub.status).final else (
                STATUS_TEXT[State.ERROR.value] if sub.outcome == "error" else STATUS_TEXT[sub.status]),
            "badge": _badge(sub),
            "score": _score(sub),
        }
        for sub, student in found
    ]  # fmt: skip
    bucket = ctx.rules.bucket
    now = utcnow()
    level = bucket.level(
        me.bucket_tokens if me else None, aware(me.bucket_at) if me and me.bucket_at else None, now
    )
    next_at = ""
    if level < bucket.capacity:
        from datetime import timedelta

        next_at = ctx.local_time(now + timedelta(seconds=bucket.wait_s(level - math.floor(level))))
    from grader.serve.messages import duration

    return {
        "rows": rows,
        "left": math.floor(level),
        "next_at": next_at,
        "period": duration(ctx.rules.period_s),
    }


def _latest_and_best(subs: list[Submission]) -> tuple[Submission | None, Submission | None]:
    graded = [s for s in subs if s.status == State.DONE.value and s.outcome != "error"]
    latest = max(subs, key=lambda s: s.attempt) if subs else None
    best = max(graded, key=lambda s: (s.points or 0, s.attempt)) if graded else None
    return latest, best


def class_page(ctx: Context) -> dict[str, Any]:
    """The TA's class page: queue, running, each student's latest and best, check pass rates, problems."""
    with ctx.db.reading() as session:
        users = session.scalars(
            select(User).where(User.role == Role.STUDENT.value).order_by(User.student_id)
        ).all()
        columns = [c for c in Submission.__table__.c if c.name != "archive"]
        subs = [Submission(**dict(row._mapping)) for row in session.execute(select(*columns))]
    by_user: dict[int, list[Submission]] = defaultdict(list)
    for sub in subs:
        by_user[sub.user_id].append(sub)
    names = {u.id: u.student_id for u in users}
    counts = {
        "queued": sum(s.status == State.QUEUED.value for s in subs),
        "running": sum(s.status == State.RUNNING.value for s in subs),
        "done": sum(s.status == State.DONE.value for s in subs),
        "errors": sum(State(s.status).grader_side or s.outcome == "error" for s in subs),
    }
    waiting = sorted(
        (s for s in subs if not State(s.status).final), key=lambda s: (s.status != "running", s.id)
    )
    queue_rows = [
        {"id": s.id, "student": names.get(s.user_id, "?"), "attempt": s.attempt, "status": s.status,
         "status_text": STATUS_TEXT[s.status], "since": ctx.local_time(s.started_at or s.created_at)}
        for s in waiting
    ]  # fmt: skip
    students = []
    latest_results: dict[str, SubmissionResult] = {}
    for u in users:
        latest, best = _latest_and_best(by_user.get(u.id, []))
        graded = [s for s in by_user.get(u.id, []) if s.status == State.DONE.value and s.result_json]
        if graded:
            last = max(graded, key=lambda s: s.attempt)
            latest_results[u.student_id] = load(last.result_json or "")
        students.append(
            {
                "student_id": u.student_id,
                "name": u.name,
                "attempts": len(by_user.get(u.id, [])),
                "latest": {
                    "id": latest.id,
                    "text": f"#{latest.attempt} · {_score(latest) or STATUS_TEXT[latest.status]}",
                }
                if latest
                else None,
                "best": _score(best) if best else "",
            }
        )
    checks = [
        {"assignment": c["assignment"], "check": c["check"], "title": c["title"], "passed": c["passed"],
         "failed": c["failed"], "error": c["error"],
         "total": c["passed"] + c["failed"] + c["error"] + c["skipped"]}
        for c in check_stats(latest_results)
    ]  # fmt: skip
    problems = [
        {"id": s.id, "student": names.get(s.user_id, "?"), "attempt": s.attempt,
         "status": s.status if s.status != State.DONE.value else "error", "message": s.message}
        for s in sorted(subs, key=lambda s: -s.id)
        if State(s.status).grader_side or (s.status == State.DONE.value and s.outcome == "error")
    ]  # fmt: skip
    return {
        "counts": counts,
        "queue": queue_rows,
        "students": students,
        "checks": checks,
        "problems": problems,
    }


def gradebook(ctx: Context) -> bytes:
    """``gradebook.csv`` in ``grader batch``'s columns; what counts is the course policy's (last or best,
    late penalties, attempt caps, grace days: :func:`grader.policy.apply_policy`, as in a batch)."""
    ids = ctx.assignment_ids
    max_points = {a.id: a.spec.points for a in ctx.assignments}
    with ctx.db.reading() as session:
        users = session.scalars(
            select(User).where(User.role == Role.STUDENT.value).order_by(User.student_id)
        ).all()
        rows = session.execute(
            select(Submission.user_id, Submission.id, Submission.attempt, Submission.created_at,
                   Submission.result_json)
            .where(Submission.status == State.DONE.value, Submission.result_json.is_not(None))
            .order_by(Submission.attempt)
        ).all()  # fmt: skip
    attempts: dict[int, dict[str, list[Attempt]]] = defaultdict(lambda: {a: [] for a in ids})
    reports: dict[int, dict[str, int]] = defaultdict(dict)
    for user_id, sub_id, attempt, created_at, result_json in rows:
        for a in load(result_json or "{}").assignments:
            if a.has_error or a.id not in max_points:
                continue  # a grader error is no attempt: never a zero
            attempts[user_id][a.id].append(
                Attempt(a.points, a.max_points, aware(created_at), "upload", f"attempt {attempt}")
            )
            reports[user_id].setdefault(a.id, sub_id)
            reports[user_id]["last"] = sub_id
    records = []
    for u in users:
        mine = attempts.get(u.id)
        if not mine or not any(mine.values()):
            records.append(
                StudentRecord(key=u.student_id, student_id=u.student_id, name=u.name, email=u.email,
                              login=u.login, status=Grading.MISSING, note="no graded submission",
                              points={a: None for a in ids}, max_points=max_points)
            )  # fmt: skip
            continue
        outcome = apply_policy(ctx.policy, mine, student=u.student_id, max_points=max_points)
        points: dict[str, float | None] = {a: outcome.counted[a].points or 0.0 for a in ids}
        full = all((points[a] or 0.0) >= max_points[a] for a in ids)
        notes = [f"{a}: {c.explanation}" for a, c in outcome.counted.items() if c.explanation]
        records.append(
            StudentRecord(
                key=u.student_id, student_id=u.student_id, name=u.name, email=u.email, login=u.login,
                status=Grading.PASSED if full else Grading.FAILED, note="; ".join(notes + outcome.notes),
                points=points, max_points=max_points,
                report=f"{ctx.public_url}/submissions/{reports[u.id]['last']}/report",
            )
        )  # fmt: skip
    return gradebook_csv(records, ids)
