"""``grader serve``: check everything, bring the database up to date, then run the web server and the workers.

Every problem that can be found before serving is found first and said in one line: a bad roster
or option (exit 4), a port in use (4), an unreachable database (3), a docker sandbox asked for
without an engine or image (3). Ctrl-C or SIGTERM stops the server, stops running jobs (they go
back to the queue) and removes the work folder; ``kill -9`` loses nothing either (the next start
queues again what was running).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from grader.batch.roster import Student, load_roster
from grader.errors import GraderError, UsageError
from grader.serve.auth import Sessions, utcnow
from grader.serve.config import CourseSettings, ServeConfig, course_settings
from grader.serve.context import Context
from grader.serve.db import Database, session_secret, shown_url, sqlite_url, stored_course_seed
from grader.serve.models import Role, User
from grader.serve.ratelimit import Bucket, RequestLimiter

log = logging.getLogger("grader.serve")
WORK = "work"


def _roster(path: Path, option: str) -> list[Student]:
    from grader.paths import input_file

    checked = input_file(
        path,
        option,
        what="CSV file",
        hint="pass the class roster as CSV (UTF-8) with id, name, email, login columns",
        encoding="utf-8-sig",
    )  # fmt: skip
    students = load_roster(checked)
    if not students:
        raise UsageError(f"{option} {path}: no students in it (every row lacks an id)")
    return students


def data_folder(path: Path) -> Path:
    """The data folder, created; a file there or an unwritable folder is a usage error."""
    from grader.paths import output_folder

    output_folder(path, "--data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_database(config: ServeConfig) -> Database:
    """The database of ``config``, reachable and migrated to the newest schema."""
    url = config.db_url or sqlite_url(data_folder(config.data))
    db = Database(url)
    db.check_reachable()
    try:
        db.migrate()
    except Exception as exc:
        raise GraderError(f"cannot bring the database {shown_url(url)} up to date: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]}") from None  # fmt: skip
    return db


def sync_roster(db: Database, students: list[Student], tas: list[Student]) -> tuple[int, int]:
    """Users from the rosters (a TA listed in both is a TA); users no longer listed cannot log in."""
    wanted = {s.id: (s, Role.STUDENT) for s in students} | {t.id: (t, Role.TA) for t in tas}
    with db.writing() as session:
        existing = {u.student_id: u for u in session.scalars(select(User))}
        for sid, (entry, role) in wanted.items():
            user = existing.get(sid)
            if user is None:
                user = User(student_id=sid, created_at=utcnow())
                session.add(user)
            user.name, user.email, user.login = entry.name, entry.email, entry.login
            user.role, user.active = role.value, True
        for sid, user in existing.items():
            if sid not in wanted:
                user.active = False
    return sum(r is Role.STUDENT for _, r in wanted.values()), sum(r is Role.TA for _, r in wanted.values())


def bind(host: str, port: int) -> socket.socket:
    """The listening socket; a port in use is a usage error naming it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is already in use (another grader serve?); pass --port N"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class Prepared:
    """Everything checked and opened before serving."""

    config: ServeConfig
    db: Database
    ctx: Context
    sandbox: str


@dataclass
class Inputs:
    """The rosters, assignments, sandbox and course policy, checked."""

    students: list[Student]
    tas: list[Student]
    assignments: list[Any]
    sandbox: str
    course: CourseSettings


def check_inputs(config: ServeConfig) -> Inputs:
    """Everything ``serve`` reads before it opens the database: each problem is one clear error."""
    from grader.registry import select as select_assignments
    from grader.sandbox import resolve_kind

    students = _roster(config.roster, "--roster")
    tas = _roster(config.tas, "--tas") if config.tas else []
    assignments = select_assignments(config.assignment_ids)
    course = course_settings(config, [a.id for a in select_assignments(None)])
    if config.sandbox == "docker":
        from grader.sandbox.docker import docker_unavailable_reason

        reason = docker_unavailable_reason()
        if reason:
            raise GraderError(f"--sandbox docker: {reason}")
    return Inputs(students, tas, assignments, resolve_kind(config.sandbox), course)


def prepare(config: ServeConfig, inputs: Inputs | None = None) -> Prepared:
    """Check the inputs, open and migrate the database, sync the roster; build the shared context."""
    inputs = inputs or check_inputs(config)
    students, tas, assignments, sandbox, course = (
        inputs.students, inputs.tas, inputs.assignments, inputs.sandbox, inputs.course
    )  # fmt: skip
    db = open_database(config)
    try:
        sync_roster(db, students, tas)
        seed = course.seed if course.seed is not None else stored_course_seed(db)
        work = data_folder(config.data) / WORK
        shutil.rmtree(work, ignore_errors=True)  # what a killed server left: nothing in it is needed
        (work / "uploads").mkdir(parents=True)
        ctx = Context(
            db=db, rules=course.rules, course_seed=seed, assignments=assignments,
            sessions=Sessions(session_secret(db)), slots=1, work=work / "uploads",
            upload_limit=config.max_upload_bytes, https=config.https, public_url=config.url,
            timezone=course.timezone, policy=course.policy,
            course_title=course.title or "Kafka + Spark Streaming seminar",
            api_calls=RequestLimiter(Bucket(config.api_per_minute, 60)),
        )  # fmt: skip
    except BaseException:
        db.dispose()
        raise
    return Prepared(config, db, ctx, sandbox)


def serve(config: ServeConfig) -> int:
    """Run the service until Ctrl-C / SIGTERM; returns the CLI's exit code."""
    import uvicorn

    from grader.batch.executor import default_jobs
    from grader.batch.jobs import assignment_version
    from grader.batch.run import default_timeout
    from grader.registry import select as select_assignments
    from grader.serve.app import create_app
    from grader.serve.workers import WorkerPool, dask_executors, local_executors

    inputs = check_inputs(config)
    sock = bind(config.host, config.port)
    try:
        prepared = prepare(config, inputs)
    except BaseException:
        sock.close()
        raise
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    ctx, db = prepared.ctx, prepared.db
    pool: WorkerPool | None = None
    work = ctx.work.parent
    try:
        if config.scheduler:
            executors, slots = dask_executors(config.scheduler)
        else:
            slots = config.jobs or default_jobs(with_spark="stateful-wordcount" in ctx.assignment_ids)
            executors = local_executors(work / "jobs")
        ctx.slots = slots
        everything = select_assignments(None)
        pool = WorkerPool(
            db, ctx.rules, executors=executors, slots=slots,
            versions={a.id: assignment_version(a) for a in everything}, sandbox=prepared.sandbox,
            timeout_for=lambda ids: config.timeout_s or default_timeout(select_assignments(ids)),
            lease_s=config.lease_s,
        )  # fmt: skip
        ctx.pool = pool
        app = create_app(ctx)
        server = uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", access_log=False, proxy_headers=config.proxy,
                forwarded_allow_ips="127.0.0.1,::1" if config.proxy else "", timeout_graceful_shutdown=5,
                limit_concurrency=4000, backlog=2048,
            )
        )  # fmt: skip
        pool.start()
        print(
            f"grader serve: {config.url} (database {shown_url(db.url)}, {slots} sandbox slot(s), "
            f"{'Dask ' + config.scheduler if config.scheduler else prepared.sandbox + ' sandbox'}, "
            f"course seed {ctx.course_seed}); Ctrl-C stops it",
            flush=True,
        )
        server.run(sockets=[sock])
        return 0
    finally:
        if pool is not None:
            pool.stop()
        with contextlib.suppress(OSError):
            sock.close()
        db.dispose()
        shutil.rmtree(work, ignore_errors=True)
