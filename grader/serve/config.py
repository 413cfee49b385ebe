"""``grader serve``'s settings, and the course policy read through :mod:`grader.policy`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from grader.policy import CoursePolicy, load_policy
from grader.serve.intake import MAX_UPLOAD_BYTES
from grader.serve.queue import Rules

DEFAULT_DATA = Path("grader-data")


@dataclass
class ServeConfig:
    """What ``grader serve`` was asked to do."""

    roster: Path
    tas: Path | None = None
    """A second roster (same columns) of the TAs."""
    data: Path = DEFAULT_DATA
    db_url: str | None = None
    """None: SQLite in ``data``."""
    course: Path | None = None
    """``course.toml``: rate limits, caps, the course seed (see :mod:`grader.policy`)."""
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    """The address students use (``https://...`` behind a reverse proxy); default ``http://HOST:PORT``."""
    jobs: int | None = None
    scheduler: str | None = None
    sandbox: str = "auto"
    assignment_ids: list[str] | None = None
    timeout_s: float | None = None
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    lease_s: float = 30.0
    max_tries: int = 3
    retry_backoff_s: float = 5.0
    api_per_minute: int = 600
    """Requests per minute per user or token (the status page polls once a second)."""
    proxy: bool = False
    """Trust X-Forwarded-For/-Proto from the reverse proxy on loopback."""

    @property
    def url(self) -> str:
        """The public address without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def https(self) -> bool:
        """Whether students reach it over https (cookies are then Secure, HSTS is sent)."""
        return self.url.startswith("https://")


@dataclass(frozen=True)
class CourseSettings:
    """What the service takes from the course policy."""

    policy: CoursePolicy
    rules: Rules
    seed: int | None
    timezone: tzinfo
    title: str


def course_settings(config: ServeConfig, assignment_ids: list[str]) -> CourseSettings:
    """The course policy of ``--course`` (read by :mod:`grader.policy`, as ``grader batch`` reads it)."""
    policy = load_policy(config.course, known_assignments=assignment_ids)
    service = policy.service
    rules = Rules(
        attempts=service.attempts,
        period_s=float(service.period_s),
        max_pending=service.max_pending,
        max_tries=config.max_tries,
        retry_backoff_s=config.retry_backoff_s,
        timezone=policy.tz,
    )
    return CourseSettings(policy, rules, policy.course.seed, policy.tz, policy.course.name)
