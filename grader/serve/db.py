"""The database: SQLite under the data folder by default, PostgreSQL by URL; Alembic brings it up to date.

SQLite runs in WAL mode (readers never wait for the writer) with ``synchronous=FULL`` (a commit is on
disk before a response says "accepted"); transactions that write begin ``IMMEDIATE`` so two writers
never deadlock on a lock upgrade. PostgreSQL connections are checked before use, so a restarted
database server costs the requests made while it was down, not the service.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import GraderError, UsageError
from grader.serve.models import Setting

CONNECT_TIMEOUT_S = 3


def sqlite_url(data: Path) -> str:
    """The embedded default: ``grader.db`` in the data folder."""
    return f"sqlite:///{(data / 'grader.db').resolve()}"


def shown_url(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off; _sqlite_begin emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writes") else "BEGIN")


class Database:
    """An engine with a read session factory and a write session factory."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise UsageError(
                f"--db {url!r} is not a database URL; pass e.g. postgresql://user@host/grader"
            ) from exc
        self.url = url
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif self.dialect == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
            kwargs.update(pool_size=10, max_overflow=30)
        else:
            raise UsageError(f"--db {shown_url(url)}: only sqlite:/// and postgresql:// URLs are supported")
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (NoSuchModuleError, ImportError) as exc:
            raise UsageError(f"--db {shown_url(url)}: no driver for it ({exc})") from exc
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self.read = sessionmaker(self.engine, expire_on_commit=False)
        self.write = sessionmaker(self.engine.execution_options(writes=True), expire_on_commit=False)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session whose transaction commits at the end of the block (rolled back on an exception)."""
        with self.write() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session."""
        with self.read() as session:
            yield session

    def check_reachable(self) -> None:
        """Connect once; an unreachable or unusable database is a grader error naming it."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise GraderError(
                f"cannot reach the database {shown_url(self.url)} ({reason}); check --db and that the "
                "database server runs and accepts this user"
            ) from None

    def migrate(self) -> None:
        """Bring the schema up to the newest Alembic revision (creates every table on a new database)."""
        from alembic import command
        from alembic.config import Config

        logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines say nothing to a TA
        config = Config()
        config.set_main_option("script_location", str(resources.files("grader.serve") / "migrations"))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def setting(session: Session, key: str, make: Any = None) -> str | None:
    """The stored value of ``key``; with ``make`` (a callable), created when missing."""
    row = session.get(Setting, key)
    if row is not None:
        return row.value
    if make is None:
        return None
    value = str(make())
    session.add(Setting(key=key, value=value))
    session.flush()
    return value


def session_secret(db: Database) -> str:
    """The key that signs session cookies: made once, kept in the database (shared by every server)."""
    with db.writing() as session:
        value = setting(session, "session_secret", lambda: secrets.token_urlsafe(48))
    assert value is not None
    return value


def stored_course_seed(db: Database) -> int:
    """The course seed kept in the database when no course policy names one (new: random, recorded)."""
    with db.writing() as session:
        value = setting(session, "course_seed", lambda: secrets.randbelow(1_000_000))
    return int(value or 0)


def first(session: Session, stmt: Any) -> Any:
    """The first row's first column of ``stmt``, or None."""
    return session.execute(stmt).scalars().first()


__all__ = ["Database", "first", "select", "session_secret", "setting", "sqlite_url", "stored_course_seed"]
