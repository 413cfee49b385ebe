"""What every response carries and what none may carry: strict CSP and friends, body limits, no paths.

Pages load only the service's own stylesheet and script (``'self'``); the grading report keeps its
inline stylesheet, which is allowed by its SHA-256 (and its few style attributes by theirs), never by
``'unsafe-inline'``. Grader messages are scrubbed of file-system paths before they are stored.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BASE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)
_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def csp_for_report(html: str) -> str:
    """A CSP that allows exactly the inline styles of ``html`` (a rendered report) and nothing else."""
    import html as html_lib

    blocks = {_sha(m) for m in _STYLE_BLOCK.findall(html)}
    attrs = {_sha(html_lib.unescape(m)) for m in _STYLE_ATTR.findall(html)}
    sources = " ".join(sorted(blocks | attrs))
    hashes = f" 'unsafe-hashes' {sources}" if attrs else f" {sources}"
    return (
        f"default-src 'none'; style-src{hashes}; img-src 'self' data:; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


class SecurityHeaders:
    """Adds the security headers to every HTTP response (a route may set its own CSP first)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            """Add the headers to the response's start."""
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = {
                    b"content-security-policy": BASE_CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"cross-origin-resource-policy": b"same-origin",
                    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
                    b"cache-control": b"no-store",
                }
                if self.https:
                    extra[b"strict-transport-security"] = b"max-age=31536000"
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuses a request body over its route's limit while it streams: never read whole, never buffered.

    A declared ``Content-Length`` over the limit is answered 413 at once; a chunked body is counted
    as it arrives and reading stops at the limit (the route sees a 413 ``HTTPException``).
    """

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str, str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            from grader.serve.intake import too_large

            await _plain(send, 413, str(too_large(limit)))
            return
        received = 0

        async def counted() -> Message:
            """The next body chunk, counted against the limit."""
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    from grader.serve.intake import too_large

                    raise HTTPException(413, str(too_large(limit)))
            return message

        await self.app(scope, counted, send)


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_ABS_PATH = re.compile(r"(?<![\w.:/-])/(?:[\w.@+-]+/)*[\w.@+-]+/?")
_TRACE = re.compile(r"Traceback \(most recent call last\):.*", re.S)


def scrub(text: str) -> str:
    """``text`` without file-system paths (each becomes ``…/<last part>``) and without tracebacks."""
    text = _TRACE.sub("", text).strip()
    return _ABS_PATH.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def one_line(text: str, limit: int = 300) -> str:
    """The first line of ``text``, scrubbed and capped: what a response may say about a grader problem."""
    first = scrub(text).splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
