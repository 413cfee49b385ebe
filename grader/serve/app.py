"""The FastAPI application: the student and TA pages, the JSON API, and the rules every response follows.

Routes get the viewer from one dependency (:mod:`grader.serve.auth`), and every submission from
:func:`owned_submission`, which answers 404 for anything that is not the viewer's (a TA sees all).
The OpenAPI description is at ``/openapi.json`` (FastAPI's interactive pages load scripts from other
sites, which the Content-Security-Policy forbids, so they are off).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

import grader
from grader.serve import messages as M
from grader.serve import queue
from grader.serve.auth import (
    COOKIE,
    LOGIN_COOKIE,
    SESSION_MAX_AGE_S,
    Viewer,
    check_csrf,
    client_address,
    optional_viewer,
    ta_viewer,
    user_for_token,
    utcnow,
    viewer,
    viewer_of,
)
from grader.serve.context import Context
from grader.serve.intake import Packed, UploadRefused, pack_files, pack_upload, too_large
from grader.serve.models import State, Submission, User
from grader.serve.pages import STATIC, render
from grader.serve.results import changes, for_viewer, load
from grader.serve.security import BodyLimit, SecurityHeaders, csp_for_report
from grader.serve.views import class_page, gradebook, status_of, submission_rows

log = logging.getLogger("grader.serve")
SMALL_BODY = 64 * 1024
"""Limit of every body that is not an upload (forms, JSON)."""

Who = Annotated[Viewer, Depends(viewer)]
TA = Annotated[Viewer, Depends(ta_viewer)]


def context(request: Request) -> Context:
    """The service's shared state."""
    ctx: Context = request.app.state.ctx
    return ctx


class SubmissionOut(BaseModel):
    """A submission as the API shows it to its student (or a TA)."""

    id: int
    attempt: int
    student: str
    assignments: list[str]
    status: str
    status_text: str
    final: bool
    position: int | None = None
    """Place in the queue (1 = next) while queued."""
    eta_s: float | None = None
    """Expected seconds until the result, from recent grading times."""
    points: float | None = None
    max_points: float | None = None
    outcome: str | None = None
    """``passed`` | ``failed`` once graded; ``error`` when the grader broke (not the student's fault)."""
    counted: bool
    """Whether it used up an attempt (never after a grader error)."""
    message: str = ""
    seed: int
    created_at: str
    url: str
    report_url: str | None = None


async def owned_submission(submission_id: int, request: Request, who: Who) -> Submission:
    """The submission ``submission_id`` if the viewer may see it; 404 otherwise, whatever the id."""
    ctx = context(request)
    with ctx.db.reading() as session:
        sub = session.get(Submission, submission_id)
        if sub is None or (not who.ta and sub.user_id != who.user_id):
            raise HTTPException(404, M.text("not_found"))
        session.expunge(sub)
        return sub


Owned = Annotated[Submission, Depends(owned_submission)]


def result_json(ctx: Context, submission_id: int) -> str | None:
    """The stored result of a submission (read only by the routes that show it)."""
    with ctx.db.reading() as session:
        value: str | None = session.scalar(
            select(Submission.result_json).where(Submission.id == submission_id)
        )
        return value


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _page(
    request: Request, template: str, who: Viewer | None, code: int = 200, **values: Any
) -> HTMLResponse:
    ctx = context(request)
    html = render(template, who=who, course_title=ctx.course_title, **values)
    return HTMLResponse(html, status_code=code)


def _error(request: Request, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": text}, status_code=status, headers=headers)
    headings = {
        401: "Log in first",
        403: "Not allowed",
        404: "Not found",
        413: "Too large",
        429: "Please wait",
    }
    who = None
    with contextlib.suppress(Exception):
        who = viewer_of(request)
    response = _page(request, "message.html.j2", who, status, heading=headings.get(status, "Error"),
                     text=text, status=status)  # fmt: skip
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _out(ctx: Context, sub: Submission, student: str) -> SubmissionOut:
    st = status_of(ctx, sub)
    return SubmissionOut(
        id=sub.id,
        attempt=sub.attempt,
        student=student,
        assignments=list(sub.assignments),
        status=sub.status,
        status_text=st["status_text"],
        final=st["final"],
        position=st["position"],
        eta_s=st["eta_s"],
        points=sub.points if sub.status == State.DONE.value else None,
        max_points=sub.max_points if sub.status == State.DONE.value else None,
        outcome=sub.outcome if State(sub.status).final else None,
        counted=sub.counted,
        message=sub.message,
        seed=sub.seed,
        created_at=ctx.local_time(sub.created_at),
        url=f"{ctx.public_url}/submissions/{sub.id}",
        report_url=f"{ctx.public_url}/submissions/{sub.id}/report" if sub.outcome else None,
    )


def _selected(ctx: Context, wanted: list[str]) -> list[str]:
    known = ctx.assignment_ids
    wanted = [w for w in dict.fromkeys(wanted) if w]
    for w in wanted:
        if w not in known:
            raise UploadRefused(M.text("unknown_assignment", assignment=w, known=", ".join(known)))
    return wanted or known


def _accept(ctx: Context, who: Viewer, packed: Packed, assignments: list[str], source: str) -> Submission:
    """Admit and store a submission in one transaction (committed before the response says accepted)."""
    now = utcnow()
    with ctx.db.writing() as session:
        user = queue.admit(session, who.user_id, ctx.rules, now)
        sub = queue.enqueue(
            session, user, assignments, packed.archive, packed.sha256, source=source, seed_for=ctx.seed_for,
            now=now,
        )  # fmt: skip
        session.flush()
        session.expunge(sub)
    if ctx.pool is not None:
        ctx.pool.wake()
    log.info("accepted submission %d: %s attempt %d (%s)", sub.id, who.student_id, sub.attempt, source)
    return sub


def _upload_limit(ctx: Context) -> Any:
    def limit_for(method: str, path: str) -> int:
        """The body limit of a request to ``path``."""
        if method == "POST" and path in ("/api/submissions", "/submissions"):
            return ctx.upload_limit
        return SMALL_BODY

    return limit_for


def create_app(ctx: Context) -> FastAPI:
    """The service's ASGI application over ``ctx``."""
    app = FastAPI(
        title="grader",
        version=grader.__version__,
        description="The course's grading service: submit, watch the queue, read the report.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ctx = ctx
    app.add_middleware(BodyLimit, limit_for=_upload_limit(ctx))
    app.add_middleware(SecurityHeaders, https=ctx.https)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """HTTP errors as a page or JSON, with the message only."""
        text = M.text("not_found") if exc.status_code == 404 else str(exc.detail)
        return _error(request, exc.status_code, text, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        """A malformed request: which parameter, never the input echoed back."""
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:3])
        return _error(request, 422, f"invalid request ({where})")

    @app.exception_handler(UploadRefused)
    async def refused_upload(request: Request, exc: UploadRefused) -> Response:
        """An upload that is not accepted: why."""
        return _error(request, exc.status, str(exc))

    @app.exception_handler(queue.Refused)
    async def refused(request: Request, exc: queue.Refused) -> Response:
        """A submission the course's rules refuse now: why and when (Retry-After)."""
        headers = {"Retry-After": str(math.ceil(exc.retry_after_s))} if exc.retry_after_s else None
        return _error(request, exc.status, str(exc), headers)

    @app.exception_handler(SQLAlchemyError)
    async def database_down(request: Request, exc: SQLAlchemyError) -> Response:
        """The database is unreachable: 503, try again (logged, never shown)."""
        log.warning("database error on %s: %s", request.url.path, type(exc).__name__)
        return _error(request, 503, M.text("db_down"), {"Retry-After": "10"})

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        """Anything else: logged with its traceback, answered without it."""
        log.exception("internal error on %s", request.url.path)
        return _error(request, 500, M.text("internal"))

    # -- public -------------------------------------------------------------------------------------

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        """Liveness for a load balancer: the database answers; how many jobs wait."""
        with ctx.db.reading() as session:
            queued = session.scalar(select(func.count(Submission.id)).where(Submission.status == "queued"))
        return {"ok": True, "queued": queued}

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, token: str = "") -> Response:
        """A personal link: the page with the Log in button (a link alone never logs in)."""
        ctx.limit(ctx.login_attempts, client_address(request))
        if not token:
            return _page(
                request, "message.html.j2", None, heading="Log in", text=M.text("use_your_link"), status=200
            )
        with ctx.db.reading() as session:
            found = user_for_token(session, token)
        if found is None:
            ctx.limit(ctx.auth_failures, client_address(request))
            return _error(request, 401, M.text("bad_token"))
        user, _ = found
        login_csrf = os.urandom(16).hex()
        response = _page(request, "login.html.j2", None, name=user.name or user.student_id, token=token,
                         login_csrf=login_csrf)  # fmt: skip
        response.set_cookie(LOGIN_COOKIE, login_csrf, max_age=600, httponly=True, samesite="strict",
                            secure=ctx.https, path="/login")  # fmt: skip
        return response

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        """The Log in button: checks the token and sets the session cookie."""
        ctx.limit(ctx.login_attempts, client_address(request))
        form = await request.form()
        token, sent = str(form.get("token", "")), str(form.get("login_csrf", ""))
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or sent != expected:
            raise HTTPException(403, M.text("csrf"))
        with ctx.db.reading() as session:
            found = user_for_token(session, token)
        if found is None:
            ctx.limit(ctx.auth_failures, client_address(request))
            raise HTTPException(401, M.text("bad_token"))
        user, row = found
        cookie, _ = ctx.sessions.issue(user.id, row.id)
        response = RedirectResponse("/class" if user.role == "ta" else "/submissions", status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=SESSION_MAX_AGE_S, httponly=True, samesite="lax",
                            secure=ctx.https)  # fmt: skip
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    # -- pages --------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home(request: Request, who: Annotated[Viewer | None, Depends(optional_viewer)]) -> Response:
        """To the viewer's start page."""
        if who is None:
            return _error(request, 401, "log in with your personal link first")
        return RedirectResponse("/class" if who.ta else "/submissions", status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, who: Who) -> Response:
        """Forget the session cookie."""
        await check_csrf(request, who)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    def submissions_page(request: Request, who: Viewer, refusal: str = "", status: int = 200) -> Response:
        """The viewer's history and the upload form."""
        values = submission_rows(ctx, who)
        return _page(request, "submissions.html.j2", who, status, refusal=refusal, rules=ctx.rules,
                     assignments=ctx.assignments, **values)  # fmt: skip

    @app.get("/submissions", response_class=HTMLResponse, include_in_schema=False)
    def my_submissions(request: Request, who: Who) -> Response:
        """My submissions (a TA: everyone's latest)."""
        return submissions_page(request, who)

    @app.post("/submissions", include_in_schema=False)
    async def upload_form(request: Request, who: Who) -> Response:
        """The upload form: an archive or loose files, checked, stored and queued."""
        await check_csrf(request, who)
        form = await request.form(max_files=20_000, max_fields=50)
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        one = str(form.get("assignment", "") or "")
        try:
            assignments = _selected(ctx, [one])
            packed = await run_in_threadpool(_pack_form, ctx, files, assignments, one or None)
            sub = await run_in_threadpool(_accept, ctx, who, packed, assignments, "web")
        except (UploadRefused, queue.Refused) as exc:
            status = exc.status
            return submissions_page(request, who, refusal=str(exc), status=status)
        finally:
            for f in files:
                await f.close()
        return RedirectResponse(f"/submissions/{sub.id}", status_code=303)

    @app.get("/submissions/{submission_id}", response_class=HTMLResponse, include_in_schema=False)
    def submission_page(request: Request, who: Who, sub: Owned) -> Response:
        """One submission: live status, score, report link, what changed since the last attempt."""
        with ctx.db.reading() as session:
            user = session.get(User, sub.user_id)
            previous = session.scalars(
                select(Submission)
                .where(Submission.user_id == sub.user_id, Submission.attempt < sub.attempt,
                       Submission.status == State.DONE.value)
                .order_by(Submission.attempt.desc())
                .limit(1)
            ).first()  # fmt: skip
        st = status_of(ctx, sub)
        diff: dict[str, Any] | None = None
        mine = result_json(ctx, sub.id) if sub.status == State.DONE.value else None
        theirs = result_json(ctx, previous.id) if previous is not None and mine else None
        if mine and theirs and previous is not None:
            diff = dict(changes(for_viewer(load(theirs), who.ta), for_viewer(load(mine), who.ta)))
            diff["previous"] = previous.attempt
        values = {
            **st,
            "id": sub.id,
            "attempt": sub.attempt,
            "student": user.student_id if user else "",
            "name": user.name if user else "",
            "assignments": ", ".join(sub.assignments),
            "seed": sub.seed,
            "created": ctx.local_time(sub.created_at),
            "status": sub.status,
            "outcome": sub.outcome,
            "points": f"{sub.points:g}" if sub.points is not None else "",
            "max_points": f"{sub.max_points:g}" if sub.max_points is not None else "",
            "message": sub.message,
            "tries": sub.tries,
            "has_report": bool(sub.outcome),
        }
        return _page(request, "submission.html.j2", who, s=values, changes=diff)

    @app.get("/submissions/{submission_id}/report", response_class=HTMLResponse, include_in_schema=False)
    def report(who: Who, sub: Owned) -> Response:
        """The grading report (the student view for students) under a CSP made for it."""
        stored = result_json(ctx, sub.id)
        if not stored:
            raise HTTPException(404, M.text("not_found"))
        from grader.report.html import render_html

        html = render_html(load(stored), "ta" if who.ta else "student")
        return HTMLResponse(html, headers={"Content-Security-Policy": csp_for_report(html)})

    @app.get("/submissions/{submission_id}/{name:path}", include_in_schema=False)
    def report_file(name: str, who: Who, sub: Owned) -> Response:
        """The result in a machine format (results.json, summary.md; JUnit and Gradescope: TAs)."""
        from grader.report import FORMATS
        from grader.report.gradescope import AutograderFailure

        files = {"results.json": "json", "summary.md": "summary", "junit.xml": "junit",
                 "gradescope/results.json": "gradescope"}  # fmt: skip
        kind = files.get(name)
        stored = result_json(ctx, sub.id) if kind is not None else None
        if not stored or kind is None or (kind in ("junit", "gradescope") and not who.ta):
            raise HTTPException(404, M.text("not_found"))
        result = for_viewer(load(stored), who.ta)
        try:
            data = FORMATS[kind].render(result)
        except AutograderFailure:
            raise HTTPException(404, M.text("not_found")) from None
        media = {"json": "application/json", "gradescope": "application/json", "junit": "application/xml",
                 "summary": "text/markdown; charset=utf-8"}[kind]  # fmt: skip
        return Response(data, media_type=media)

    @app.post("/submissions/{submission_id}/regrade", include_in_schema=False)
    async def regrade_one(request: Request, who: TA, sub: Owned) -> Response:
        """A TA grades a submission again (same attempt, same seed)."""
        await check_csrf(request, who)
        with ctx.db.writing() as session:
            queue.regrade(session, [sub.id], utcnow())
        if ctx.pool is not None:
            ctx.pool.wake()
        return RedirectResponse(f"/submissions/{sub.id}", status_code=303)

    @app.get("/class", response_class=HTMLResponse, include_in_schema=False)
    def class_view(request: Request, who: TA) -> Response:
        """The TA's class page."""
        return _page(request, "class.html.j2", who, assignments=ctx.assignments, **class_page(ctx))

    @app.post("/class/regrade", include_in_schema=False)
    async def regrade_assignment(request: Request, who: TA) -> Response:
        """A TA grades every finished submission of one assignment again."""
        await check_csrf(request, who)
        form = await request.form()
        assignment = str(form.get("assignment", ""))
        if assignment not in ctx.assignment_ids:
            raise HTTPException(404, M.text("not_found"))
        with ctx.db.writing() as session:
            ids = [
                s.id
                for s in session.scalars(select(Submission).where(Submission.status.in_(
                    [State.DONE.value, State.ERROR.value, State.TIMEOUT.value, State.CRASHED.value])))
                if assignment in s.assignments
            ]  # fmt: skip
            queue.regrade(session, ids, utcnow())
        if ctx.pool is not None:
            ctx.pool.wake()
        return RedirectResponse("/class", status_code=303)

    @app.get("/class/gradebook.csv", include_in_schema=False)
    def gradebook_csv(who: TA) -> Response:
        """gradebook.csv: what counts for each student, as the course policy says."""
        return Response(gradebook(ctx), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="gradebook.csv"'})  # fmt: skip

    # -- API ----------------------------------------------------------------------------------------

    @app.post("/api/submissions", status_code=202, response_model=SubmissionOut, tags=["submissions"])
    async def submit(
        request: Request, who: Who, assignment: Annotated[list[str] | None, Query()] = None
    ) -> SubmissionOut:
        """Submit an archive (the request body: zip, tar or tar.gz); 202 once it is stored and queued.

        ``assignment`` (repeatable) grades only those; refusals say why and, when rate-limited, when the
        next attempt is possible (``Retry-After``).
        """
        await check_csrf(request, who)
        assignments = _selected(ctx, assignment or [])
        fd, name = tempfile.mkstemp(prefix="body-", dir=ctx.work)
        path = Path(name)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > ctx.upload_limit:
                        raise too_large(ctx.upload_limit)
                    out.write(chunk)
            packed = await run_in_threadpool(pack_upload, path, ctx.work, ctx.assignment_ids)
        finally:
            path.unlink(missing_ok=True)
        sub = await run_in_threadpool(_accept, ctx, who, packed, assignments, "api")
        return _out(ctx, sub, who.student_id)

    @app.get("/api/submissions", response_model=list[SubmissionOut], tags=["submissions"])
    def list_submissions(who: Who) -> list[SubmissionOut]:
        """The viewer's submissions, newest first (a TA: everyone's latest 500)."""
        with ctx.db.reading() as session:
            stmt = select(Submission, User.student_id).join(User, User.id == Submission.user_id)
            if not who.ta:
                stmt = stmt.where(Submission.user_id == who.user_id)
            rows = session.execute(stmt.order_by(Submission.id.desc()).limit(500)).all()
        return [_out(ctx, sub, student) for sub, student in rows]

    @app.get("/api/submissions/{submission_id}", response_model=SubmissionOut, tags=["submissions"])
    async def get_submission(sub: Owned, who: Who) -> SubmissionOut:
        """One submission's status: queue position and ETA while waiting, the score once graded."""
        if sub.user_id == who.user_id:
            return _out(ctx, sub, who.student_id)
        with ctx.db.reading() as session:
            student = session.scalar(select(User.student_id).where(User.id == sub.user_id)) or ""
        return _out(ctx, sub, student)

    return app


def _pack_form(ctx: Context, files: list[UploadFile], assignments: list[str], one: str | None) -> Packed:
    """The web form's upload: one archive, or loose files (a folder picker's names carry their folders)."""
    if not files:
        raise UploadRefused(M.text("empty_upload"))
    paths = []
    for f in files:
        # Starlette spooled each part to a temp file: hand its name over without reading it into memory.
        fd, name = tempfile.mkstemp(prefix="part-", dir=ctx.work)
        with os.fdopen(fd, "wb") as out:
            f.file.seek(0)
            while chunk := f.file.read(1 << 20):
                out.write(chunk)
        paths.append((f.filename or "file", Path(name)))
    try:
        if len(paths) == 1 and paths[0][0].lower().endswith((".zip", ".tar", ".tar.gz", ".tgz")):
            return pack_upload(paths[0][1], ctx.work, ctx.assignment_ids)
        return pack_files(paths, ctx.work, ctx.assignment_ids, one if len(assignments) == 1 else None)
    finally:
        for _, path in paths:
            path.unlink(missing_ok=True)
