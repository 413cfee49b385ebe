"""Who is asking: personal tokens (stored as SHA-256), signed session cookies, CSRF, roles.

Every route gets its viewer from one dependency (:func:`viewer`, :func:`ta_viewer` or
:func:`optional_viewer`), so none can forget to ask. A personal token works two ways: as a login
link (``/login?token=...``: a form POST then sets a signed, HttpOnly, SameSite cookie) and as a
``Authorization: Bearer`` token for the API (``grader submit``). Forms posted with a cookie carry a
CSRF token derived from the session; a student asking for anything of another student gets 404.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from grader.serve import messages as M
from grader.serve.models import Role, Token, User

COOKIE = "grader_session"
LOGIN_COOKIE = "grader_login"
SESSION_MAX_AGE_S = 14 * 24 * 3600


def new_token() -> str:
    """A fresh personal token (256 random bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (a token is random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """The user behind a request."""

    user_id: int
    student_id: str
    name: str
    role: str
    via: str
    """``cookie`` or ``bearer``."""
    csrf: str = ""

    @property
    def ta(self) -> bool:
        """Whether this is a TA (sees everyone's submissions)."""
        return self.role == Role.TA.value


class Sessions:
    """Signs and reads session cookies; derives each session's CSRF token."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._signer = URLSafeTimedSerializer(secret, salt="grader-session")

    def issue(self, user_id: int, token_id: int) -> tuple[str, str]:
        """A new session cookie value and its CSRF token."""
        nonce = secrets.token_urlsafe(16)
        return self._signer.dumps({"u": user_id, "t": token_id, "n": nonce}), self.csrf_for(nonce)

    def read(self, value: str) -> tuple[int, int, str] | None:
        """(user id, token id, CSRF token) of a valid cookie, else None."""
        try:
            data = self._signer.loads(value, max_age=SESSION_MAX_AGE_S)
            return int(data["u"]), int(data["t"]), self.csrf_for(str(data["n"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def csrf_for(self, nonce: str) -> str:
        """The CSRF token of the session with ``nonce``."""
        return hmac.new(self._secret, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def user_for_token(session: object, token: str) -> tuple[User, Token] | None:
    """The active user and token row of a personal token, or None."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    row = session.execute(
        select(Token, User)
        .join(User, User.id == Token.user_id)
        .where(Token.token_hash == token_hash(token), Token.revoked_at.is_(None), User.active.is_(True))
    ).first()
    return (row[1], row[0]) if row else None


def client_address(request: Request) -> str:
    """The client's address (uvicorn resolves X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"


def _lookup(request: Request) -> Viewer | None:
    """The viewer the request's credential names (None: no valid one; 401 for a bad bearer token)."""
    from grader.serve.app import context

    ctx = context(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        with ctx.db.reading() as session:
            found = user_for_token(session, token)
        if found is None:
            ctx.limit(ctx.auth_failures, client_address(request))
            raise HTTPException(401, M.text("bad_token"), headers={"WWW-Authenticate": "Bearer"})
        user = found[0]
        return Viewer(user.id, user.student_id, user.name, user.role, "bearer")
    cookie = request.cookies.get(COOKIE)
    parsed = ctx.sessions.read(cookie) if cookie else None
    if parsed is None:
        return None
    user_id, token_id, csrf = parsed
    with ctx.db.reading() as session:
        by_cookie = session.execute(
            select(User)
            .join(Token, Token.user_id == User.id)
            .where(
                User.id == user_id, Token.id == token_id, Token.revoked_at.is_(None), User.active.is_(True)
            )
        ).scalar_one_or_none()
    if by_cookie is None:
        return None
    return Viewer(by_cookie.id, by_cookie.student_id, by_cookie.name, by_cookie.role, "cookie", csrf)


def _credential(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return "bearer:" + token_hash(header[7:].strip())
    cookie = request.cookies.get(COOKIE)
    return "cookie:" + cookie if cookie else ""


def viewer_of(request: Request) -> Viewer | None:
    """The viewer of a request (cached for a few seconds), or None."""
    from grader.serve.app import context

    ctx = context(request)
    key = _credential(request)
    if not key:
        return None
    found = ctx.viewers.get(key)
    if found is None:
        found = _lookup(request)
        if found is not None:
            ctx.viewers.put(key, found)
    if found is not None:
        ctx.limit(ctx.api_calls, f"user:{found.user_id}")
    return found


# The dependencies are coroutines: a status poll then runs on the event loop alone (a checked
# credential is cached; the rest are sub-millisecond queries), with no hop through the thread pool.


async def optional_viewer(request: Request) -> Viewer | None:
    """The viewer, or None without a valid session or token."""
    return viewer_of(request)


async def viewer(request: Request) -> Viewer:
    """The viewer; 401 without a valid session or token."""
    found = viewer_of(request)
    if found is None:
        raise HTTPException(401, "log in with your personal link first")
    return found


async def ta_viewer(who: Annotated[Viewer, Depends(viewer)]) -> Viewer:
    """A TA; anyone else gets 404 (TA pages do not exist for them)."""
    if not who.ta:
        raise HTTPException(404, M.text("not_found"))
    return who


async def check_csrf(request: Request, who: Viewer) -> None:
    """A cookie-authenticated change must carry the session's CSRF token (form field or header)."""
    if who.via == "bearer":
        return  # no ambient credential: another site cannot make the browser send a bearer token
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        sent = str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent, who.csrf):
        raise HTTPException(403, M.text("csrf"))


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
