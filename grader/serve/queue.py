"""The durable queue: every change of a submission's ``status`` happens here, in one transaction each.

    queued --claim--> running --finish--> done | error | timeout | crashed
       ^                 |  \\--finish (grader's fault, tries left)--> queued (after a short back-off)
       |                 \\--release (server stopping) / recover (its server died)--> queued
       \\--regrade (a TA)-- done | error | timeout | crashed

Only the run that holds a job (``run_id``) may finish or release it, so a result is recorded once
whatever happens to servers and workers. A job that ends by the grader's fault (error, time-out,
crash, a server that died under it) is tried again up to ``max_tries`` times; after that it stays
in that state, shown as "not your fault", and the attempt is given back to the student.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from grader.serve import messages as M
from grader.serve.models import Run, State, Submission, User
from grader.serve.ratelimit import Bucket


@dataclass(frozen=True)
class Rules:
    """What the course allows each student (from the course policy)."""

    attempts: int = 6
    """Token bucket capacity: attempts per ``period_s``."""
    period_s: float = 3600.0
    max_pending: int = 1
    """Submissions a student may have queued or running at once."""
    max_tries: int = 3
    """Times a job is tried when it ends by the grader's fault."""
    retry_backoff_s: float = 5.0
    timezone: tzinfo = UTC
    """The course's time zone, for the times a refusal names."""

    @property
    def bucket(self) -> Bucket:
        """The students' attempt bucket."""
        return Bucket(float(self.attempts), self.period_s)


class Refused(Exception):
    """A submission the rules do not let in now; the message says why and when it will be possible."""

    def __init__(self, message: str, *, status: int = 429, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Outcome:
    """How one run of a job ended, as the queue records it."""

    kind: str
    """``graded`` | ``error`` | ``timeout`` | ``crashed`` | ``refused``."""
    result_json: str | None = None
    points: float | None = None
    max_points: float | None = None
    result_outcome: str | None = None
    """The result's own outcome when graded: ``passed`` | ``failed`` | ``error``."""
    message: str = ""
    """Public, one line."""
    detail: str = ""
    """For the server's log only."""
    duration_s: float = 0.0

    @property
    def grader_fault(self) -> bool:
        """Whether this run ended by the grader's fault (to retry, never the student's zero)."""
        return self.kind != "graded" or self.result_outcome == "error"


_FINAL_FOR = {
    "error": State.ERROR,
    "refused": State.ERROR,
    "timeout": State.TIMEOUT,
    "crashed": State.CRASHED,
}


def _locked_user(session: Session, user_id: int) -> User:
    """The user row, locked for this transaction (PostgreSQL; SQLite's writers are serialised anyway)."""
    return session.execute(select(User).where(User.id == user_id).with_for_update()).scalar_one()


def _when(now: datetime, seconds: float, tz: tzinfo) -> str:
    at = now + timedelta(seconds=math.ceil(seconds - 1e-6))
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def admit(session: Session, user_id: int, rules: Rules, now: datetime) -> User:
    """Check the rules for a new submission and take an attempt from the student's bucket.

    Raises :class:`Refused` (nothing taken) when the student has too many submissions waiting or an
    empty bucket. (An assignment's ``max_attempts`` is the policy's: later attempts are graded and shown,
    and the gradebook does not count them.)
    """
    user = _locked_user(session, user_id)
    pending = session.scalar(
        select(func.count(Submission.id)).where(
            Submission.user_id == user.id, Submission.status.in_([State.QUEUED.value, State.RUNNING.value])
        )
    )
    if (pending or 0) >= rules.max_pending:
        raise Refused(M.text("pending_cap", pending=pending, cap=rules.max_pending))
    bucket = rules.bucket
    level = bucket.level(user.bucket_tokens, user.bucket_at, now)
    if level < 1.0:
        wait = bucket.wait_s(level)
        raise Refused(
            M.text(
                "rate_limited",
                attempts=rules.attempts,
                period=M.duration(rules.period_s),
                when=_when(now, wait, rules.timezone),
            ),
            retry_after_s=wait,
        )
    user.bucket_tokens = level - 1.0
    user.bucket_at = now
    return user


def enqueue(
    session: Session,
    user: User,
    assignments: Sequence[str],
    archive: bytes,
    sha256: str,
    *,
    source: str,
    seed_for: Callable[[str, int], int],
    now: datetime,
) -> Submission:
    """Store a new submission as ``queued`` (the caller admitted it in this same transaction)."""
    last = session.scalar(select(func.max(Submission.attempt)).where(Submission.user_id == user.id))
    attempt = (last or 0) + 1
    sub = Submission(
        user_id=user.id,
        attempt=attempt,
        assignments=list(assignments),
        seed=seed_for(user.student_id, attempt),
        archive=archive,
        archive_sha256=sha256,
        source=source,
        status=State.QUEUED.value,
        tries=0,
        counted=True,
        created_at=now,
        message="",
    )
    session.add(sub)
    session.flush()
    return sub


def claim(session: Session, owner: str, lease_s: float, now: datetime) -> tuple[Submission, Run] | None:
    """Take the oldest queued job that may run now: ``running``, one more try, leased to ``owner``."""
    ready = (
        select(Submission.id)
        .where(
            Submission.status == State.QUEUED.value,
            or_(Submission.not_before.is_(None), Submission.not_before <= now),
        )
        .order_by(Submission.id)
        .limit(8)
    )
    if session.get_bind().dialect.name == "postgresql":
        ready = ready.with_for_update(skip_locked=True)
    for sub_id in session.scalars(ready).all():
        taken = session.execute(
            update(Submission)
            .where(Submission.id == sub_id, Submission.status == State.QUEUED.value)
            .values(
                status=State.RUNNING.value,
                tries=Submission.tries + 1,
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_s),
                started_at=now,
            )
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another server took it a moment ago
        run = Run(submission_id=sub_id, owner=owner, started_at=now, detail="")
        session.add(run)
        session.flush()
        sub = session.get(Submission, sub_id, populate_existing=True)
        assert sub is not None
        sub.run_id = run.id
        return sub, run
    return None


def heartbeat(session: Session, owner: str, run_ids: Sequence[int], lease_s: float, now: datetime) -> int:
    """Extend the leases of ``owner``'s running jobs; returns how many it still holds."""
    if not run_ids:
        return 0
    done = session.execute(
        update(Submission)
        .where(
            Submission.status == State.RUNNING.value,
            Submission.lease_owner == owner,
            Submission.run_id.in_(list(run_ids)),
        )
        .values(lease_until=now + timedelta(seconds=lease_s))
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def _holding(session: Session, sub_id: int, run_id: int) -> Submission | None:
    sub = session.execute(
        select(Submission).where(Submission.id == sub_id).with_for_update()
    ).scalar_one_or_none()
    if sub is None or sub.status != State.RUNNING.value or sub.run_id != run_id:
        return None
    return sub


def _end_run(
    session: Session, run_id: int, outcome: str, now: datetime, duration: float, detail: str
) -> None:
    run = session.get(Run, run_id)
    if run is not None and run.ended_at is None:
        run.ended_at = now
        run.outcome = outcome
        run.duration_s = round(duration, 3)
        run.detail = detail[:20_000]


def _give_back(session: Session, sub: Submission, rules: Rules, now: datetime) -> None:
    """A grader-side end: the attempt taken from the student's bucket is returned."""
    if not sub.counted:
        return
    sub.counted = False
    user = _locked_user(session, sub.user_id)
    bucket = rules.bucket
    user.bucket_tokens = min(bucket.capacity, bucket.level(user.bucket_tokens, user.bucket_at, now) + 1.0)
    user.bucket_at = now


def _requeue_or_end(
    session: Session, sub: Submission, state: State, message: str, rules: Rules, now: datetime
) -> State:
    sub.lease_owner = None
    sub.lease_until = None
    sub.run_id = None
    if sub.tries < rules.max_tries:
        sub.status = State.QUEUED.value
        sub.not_before = now + timedelta(seconds=rules.retry_backoff_s * sub.tries)
        return State.QUEUED
    sub.status = state.value
    sub.finished_at = now
    sub.message = message
    _give_back(session, sub, rules, now)
    return state


def finish(
    session: Session, sub_id: int, run_id: int, outcome: Outcome, rules: Rules, now: datetime
) -> State | None:
    """Record how run ``run_id`` ended; None when that run no longer holds the job (nothing changes)."""
    sub = _holding(session, sub_id, run_id)
    if sub is None:
        return None
    _end_run(session, run_id, outcome.kind, now, outcome.duration_s, outcome.detail or outcome.message)
    if outcome.result_json is not None:
        sub.result_json = outcome.result_json
        sub.points = outcome.points
        sub.max_points = outcome.max_points
        sub.outcome = outcome.result_outcome
        sub.duration_s = round(outcome.duration_s, 3)
    if not outcome.grader_fault:
        sub.status = State.DONE.value
        sub.finished_at = now
        sub.message = outcome.message
        sub.lease_owner = sub.lease_until = sub.run_id = None
        return State.DONE
    state = _FINAL_FOR.get(outcome.kind, State.ERROR)
    return _requeue_or_end(session, sub, state, outcome.message or M.text("grader_error"), rules, now)


def release(session: Session, sub_id: int, run_id: int, now: datetime) -> bool:
    """Give a running job back to the queue (its server is stopping): the try does not count."""
    sub = _holding(session, sub_id, run_id)
    if sub is None:
        return False
    _end_run(session, run_id, "lost", now, 0.0, "the server stopped before the job ended")
    sub.status = State.QUEUED.value
    sub.tries = max(0, sub.tries - 1)
    sub.lease_owner = sub.lease_until = sub.run_id = None
    return True


def recover(
    session: Session,
    dead: Callable[[str], bool],
    me: str,
    active: Collection[int],
    rules: Rules,
    now: datetime,
) -> list[int]:
    """Queue again (or end, when out of tries) the running jobs whose server died or lost its lease.

    ``me`` is this server and ``active`` the runs it is grading now: a job of ours whose run is not
    among them was left behind (its slot failed) and is queued again too.
    """
    stale = session.scalars(
        select(Submission).where(Submission.status == State.RUNNING.value).with_for_update()
    ).all()
    recovered = []
    for sub in stale:
        owner = sub.lease_owner or ""
        if owner == me:
            if sub.run_id in active:
                continue  # ours and still being graded
        elif not (sub.lease_until is None or aware(sub.lease_until) < now or dead(owner)):
            continue
        if sub.run_id is not None:
            _end_run(session, sub.run_id, "lost", now, 0.0, f"its server {owner} stopped or lost its lease")
        _requeue_or_end(session, sub, State.CRASHED, M.text("server_died"), rules, now)
        recovered.append(sub.id)
    return recovered


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def regrade(session: Session, sub_ids: Sequence[int], now: datetime) -> int:
    """Queue finished submissions again (same attempt, same seed); returns how many were queued."""
    count = 0
    for sub in session.scalars(
        select(Submission).where(Submission.id.in_(list(sub_ids))).with_for_update()
    ).all():
        if not State(sub.status).final:
            continue
        sub.status = State.QUEUED.value
        sub.tries = 0
        sub.not_before = None
        sub.started_at = sub.finished_at = None
        sub.message = ""
        count += 1
    return count


def result_summary(result_json: str) -> tuple[float, float, str]:
    """Points, max points and outcome of a stored result."""
    data = json.loads(result_json)
    return float(data["points"]), float(data["max_points"]), str(data["outcome"])
