"""The service's tables as SQLAlchemy 2 typed models. Alembic migrations (``migrations/``) create them.

A :class:`Submission` row is the job's state machine (see :mod:`grader.serve.queue`, the only module
that changes ``status``); a :class:`Run` row records each time a worker took it, so "graded exactly
once" can be checked from the data. Uploads are stored in the database (``archive``) in the same
transaction that queues them, so an accepted submission is never lost and every server sharing the
database (PostgreSQL) can grade it without shared storage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and always read back timezone-aware (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the service stores aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read aware UTC."""
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """The declarative base of every service table."""


class Role(StrEnum):
    """What a user may do."""

    STUDENT = "student"
    TA = "ta"


class State(StrEnum):
    """Where a submission is in the queue."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    """Graded: the score is the student's (passed or failed checks)."""
    ERROR = "error"
    """The grader broke on it after every retry: not the student's fault, no attempt used."""
    TIMEOUT = "timeout"
    """Grading exceeded its time limit after every retry: not the student's fault, no attempt used."""
    CRASHED = "crashed"
    """The grading worker died after every retry: not the student's fault, no attempt used."""

    @property
    def final(self) -> bool:
        """Whether nothing more happens to it unless a TA regrades it."""
        return self not in {State.QUEUED, State.RUNNING}

    @property
    def grader_side(self) -> bool:
        """Whether it ended by the grader's fault (shown as such, never as a zero)."""
        return self in {State.ERROR, State.TIMEOUT, State.CRASHED}


class User(Base):
    """A student or TA from the roster."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(String(200), unique=True)
    """The roster's id (the gradebook key)."""
    name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(300), default="")
    login: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default=Role.STUDENT.value)
    active: Mapped[bool] = mapped_column(default=True)
    """False once the user is no longer on the roster (they cannot log in)."""
    bucket_tokens: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Attempts left in the student's token bucket at ``bucket_at`` (None: a full bucket)."""
    bucket_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    submissions: Mapped[list[Submission]] = relationship(back_populates="user")


class Token(Base):
    """A personal login token; only its SHA-256 is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship()


class Submission(Base):
    """One attempt of one student: the upload, the job's state and, once graded, the result."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("user_id", "attempt", name="uq_submission_attempt"),
        Index("ix_submissions_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    """The student's attempt number (1, 2, ...); with the course seed it decides the parameters."""
    assignments: Mapped[list[str]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    archive: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    """The submission as a gzip-compressed tar (relative names; no .git/ or reports/); loaded when used."""
    archive_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20), default="web")
    status: Mapped[str] = mapped_column(String(20), default=State.QUEUED.value)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    """How many times a worker took it since it was (re)queued by a student or TA."""
    counted: Mapped[bool] = mapped_column(default=True)
    """Whether it uses up an attempt (False once it ended by the grader's fault)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """A retry waits until then (a short back-off after a grader error)."""
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The run that holds the job now; only that run may record its result."""
    points: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_points: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    """``passed`` | ``failed`` | ``error`` (the result's own outcome), once graded."""
    message: Mapped[str] = mapped_column(Text, default="")
    """A one-line public note (why it is a grader error, ...): never a path or a traceback."""
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)
    """The :class:`grader.results.SubmissionResult` of the grading, with server paths removed; loaded when
    used (a status poll never reads it)."""

    user: Mapped[User] = relationship(back_populates="submissions")
    runs: Mapped[list[Run]] = relationship(back_populates="submission", order_by="Run.id")


class Run(Base):
    """One time a worker took a submission, and how that ended."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    """``graded`` (the result was recorded), ``error``/``timeout``/``crashed``/``refused`` (retried or
    final), ``lost`` (its server died or it was stopped; the job was queued again)."""
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    """What the executor said (may hold paths or a traceback: for the server's log, never a response)."""

    submission: Mapped[Submission] = relationship(back_populates="runs")


class Setting(Base):
    """Service-wide values kept in the database (the session key, the course seed without a policy)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
