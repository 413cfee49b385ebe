"""What every request handler shares: the database, the course's rules, sessions, limits, the workers."""

from __future__ import annotations

import math
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select

from grader.batch.jobs import derive_seed
from grader.policy import CoursePolicy
from grader.registry import Assignment
from grader.serve import messages as M
from grader.serve.auth import Sessions
from grader.serve.db import Database
from grader.serve.models import State, Submission
from grader.serve.queue import Rules
from grader.serve.ratelimit import Bucket, RequestLimiter
from grader.serve.workers import WorkerPool


def attempt_seed(course_seed: int, student_id: str, attempt: int) -> int:
    """The seed of a student's attempt: from the course seed, the student and the attempt number.

    The same function as ``grader batch`` uses for a student (:func:`grader.batch.jobs.derive_seed`),
    applied to ``<student id>#<attempt>``, so a TA repeats any attempt with ``grader check --seed``.
    """
    return derive_seed(course_seed, f"{student_id}#{attempt}")


class ViewerCache:
    """Credentials checked in the last few seconds (a status page polls every second; a revoked token
    stops working within ``ttl_s``)."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        """The viewer cached under ``key`` if still fresh, else None."""
        with self._lock:
            found = self._entries.get(key)
        if found is None or time.monotonic() - found[0] > self.ttl_s:
            return None
        return found[1]

    def put(self, key: str, value: Any) -> None:
        """Remember ``value`` under ``key``."""
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic(), value)


@dataclass
class Context:
    """The service's shared state (one per server process)."""

    db: Database
    rules: Rules
    course_seed: int
    assignments: list[Assignment]
    sessions: Sessions
    slots: int
    work: Path
    """Where uploads are unpacked and checked (inside the data folder)."""
    upload_limit: int
    https: bool = False
    public_url: str = ""
    course_title: str = "Kafka + Spark Streaming seminar"
    timezone: tzinfo = UTC
    policy: CoursePolicy = field(default_factory=CoursePolicy)
    """The course policy: what counts in the gradebook (as in ``grader batch``)."""
    pool: WorkerPool | None = None
    login_attempts: RequestLimiter = field(default_factory=lambda: RequestLimiter(Bucket(30, 60)))
    auth_failures: RequestLimiter = field(default_factory=lambda: RequestLimiter(Bucket(20, 60)))
    api_calls: RequestLimiter = field(default_factory=lambda: RequestLimiter(Bucket(600, 60)))
    viewers: ViewerCache = field(default_factory=ViewerCache)
    _eta: tuple[float, float] = (0.0, 0.0)
    _eta_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def assignment_ids(self) -> list[str]:
        """The ids of the assignments students may submit."""
        return [a.id for a in self.assignments]

    def seed_for(self, student_id: str, attempt: int) -> int:
        """See :func:`attempt_seed`."""
        return attempt_seed(self.course_seed, student_id, attempt)

    def limit(self, limiter: RequestLimiter, key: str) -> None:
        """429 with Retry-After when ``key`` has used up its requests."""
        wait = limiter.take(key)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise HTTPException(
                429, M.text("too_many_requests", seconds=seconds), headers={"Retry-After": str(seconds)}
            )

    def typical_duration(self) -> float:
        """Median grading time of the last 20 graded submissions (re-read at most every 5 s)."""
        with self._eta_lock:
            value, at = self._eta
            if time.monotonic() - at < 5.0 and value:
                return value
        with self.db.reading() as session:
            recent = session.scalars(
                select(Submission.duration_s)
                .where(Submission.status == State.DONE.value, Submission.duration_s.is_not(None))
                .order_by(Submission.id.desc())
                .limit(20)
            ).all()
        value = statistics.median([d for d in recent if d is not None]) if recent else 30.0
        with self._eta_lock:
            self._eta = (value, time.monotonic())
        return value

    def local_time(self, value: datetime | None) -> str:
        """``value`` in the course's time zone, to the minute."""
        from grader.serve.queue import aware

        if value is None:
            return ""
        return aware(value).astimezone(self.timezone).strftime("%Y-%m-%d %H:%M")
