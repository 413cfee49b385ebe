"""``grader serve``'s settings, and the course policy read through :mod:`grader.policy`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from grader.errors import UsageError
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
    proxy: bool = False
    """Trust X-Forwarded-For/-Proto from the reverse proxy on loopback."""
    rules: Rules = field(default_factory=Rules)

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

    rules: Rules
    seed: int | None
    timezone: ZoneInfo
    assignment_ids: list[str] | None = None


def course_settings(config: ServeConfig) -> CourseSettings:
    """The course policy's limits, seed and time zone (``--course``), else the service's defaults."""
    base = config.rules
    extra: dict[str, Any] = {"max_tries": config.max_tries, "retry_backoff_s": config.retry_backoff_s}
    if config.course is None:
        return CourseSettings(Rules(**{**base.__dict__, **extra}), None, ZoneInfo("UTC"))
    try:
        from grader.policy import load_policy
    except ImportError as exc:
        raise UsageError("--course needs the course policy module (grader.policy), missing here") from exc
    policy: Any = load_policy(config.course)
    service = policy.service
    caps = {
        aid: getattr(p, "max_attempts", None) for aid, p in (getattr(policy, "assignments", {}) or {}).items()
    }
    rules = Rules(
        attempts=int(service.attempts),
        period_s=float(service.period_s),
        max_pending=int(service.max_pending),
        max_attempts=caps,
        **extra,
    )
    try:
        zone = ZoneInfo(str(policy.course.timezone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"{config.course}: unknown time zone {policy.course.timezone!r}") from exc
    return CourseSettings(rules, policy.course.seed, zone)
