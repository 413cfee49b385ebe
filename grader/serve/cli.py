"""The ``serve`` (with ``serve tokens``) and ``submit`` subcommands, registered by :mod:`grader.cli`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

DEFAULT_DATA = "grader-data"
DEFAULT_PORT = 8000


def _common(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument(
        "--roster", required=required, help="class roster CSV (id, name, email, login), as for batch"
    )
    p.add_argument("--tas", help="the TAs' roster CSV (same columns); they see the class page")
    p.add_argument("--data", default=DEFAULT_DATA, help="data folder (default ./grader-data)")
    p.add_argument(
        "--db", help="database URL, e.g. postgresql://user@host/grader (default: SQLite in --data)"
    )
    p.add_argument(
        "--public-url", default="", help="the address students use, e.g. https://grader.example.edu"
    )


def register(sub: Any, *, count: Any, port: Any, seconds: Any, sandbox: Any) -> None:
    """Add ``serve`` and ``submit`` to the CLI's subparsers (the CLI passes its value checkers)."""
    p = sub.add_parser(
        "serve", help="run the course's grading service (students submit, TAs watch the class)"
    )
    _common(p, required=False)
    p.add_argument("--course", help="course.toml: attempts per period, pending cap, course seed")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--jobs", type=count, help="sandboxes at once (default: what memory and CPUs allow)")
    p.add_argument("--scheduler", help="grade on a Dask cluster at this address (tcp://HOST:8786)")
    p.add_argument("-a", "--assignment", action="append", help="only these assignments are open (repeatable)")
    p.add_argument("--timeout", type=seconds, help="wall-clock limit per submission in seconds")
    p.add_argument("--max-upload-mib", type=count, default=20, help="largest upload (default 20 MiB)")
    p.add_argument(
        "--proxy", action="store_true", help="behind a reverse proxy on this machine: trust X-Forwarded-*"
    )
    p.add_argument(
        "--api-per-minute",
        type=count,
        default=600,
        help="requests per minute per user or token (default 600)",
    )
    p.add_argument("--lease", type=seconds, default=30.0, help=argparse.SUPPRESS)
    p.add_argument("--retry-backoff", type=float, default=5.0, help=argparse.SUPPRESS)
    sandbox(p)
    p.set_defaults(func=cmd_serve)
    ssub = p.add_subparsers(dest="serve_command", parser_class=type(p))
    t = ssub.add_parser("tokens", help="one personal login link per student and TA, as CSV for a mail merge")
    _common(t, required=True)
    t.add_argument("--out", required=True, help="CSV to write (id, name, email, role, token, link)")
    t.add_argument(
        "--student", action="append", help="only this user (repeatable): a new link, the old one revoked"
    )
    t.add_argument("--new-only", action="store_true", help="only users who have no link yet")
    t.set_defaults(func=cmd_tokens)

    s = sub.add_parser(
        "submit", help="send a submission to the course's grading service and wait for the result"
    )
    s.add_argument("path", nargs="?", default=".", help="the repository folder (default: .)")
    s.add_argument(
        "--server", default=os.environ.get("GRADER_SERVER", ""), help="the service's URL ($GRADER_SERVER)"
    )
    s.add_argument(
        "--token", default=os.environ.get("GRADER_TOKEN", ""), help="your personal token ($GRADER_TOKEN)"
    )
    s.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    s.add_argument("--no-wait", action="store_true", help="return once the submission is accepted")
    s.add_argument("--out", help="write the student-view reports here (report.html, summary.md, ...)")
    s.set_defaults(func=cmd_submit)


def _config(args: argparse.Namespace) -> Any:
    from grader.errors import UsageError
    from grader.serve.config import ServeConfig

    if not args.roster:
        raise UsageError("--roster is required: the class roster CSV (id, name, email, login)")
    values: dict[str, Any] = {
        "roster": Path(args.roster),
        "tas": Path(args.tas) if args.tas else None,
        "data": Path(args.data),
        "db_url": args.db,
        "public_url": args.public_url,
    }
    if getattr(args, "serve_command", None) is None and hasattr(args, "host"):
        values.update(
            course=Path(args.course) if args.course else None, host=args.host, port=args.port,
            jobs=args.jobs, scheduler=args.scheduler, sandbox=args.sandbox, assignment_ids=args.assignment,
            timeout_s=args.timeout,
            max_upload_bytes=args.max_upload_mib * 1024 * 1024, lease_s=args.lease, proxy=args.proxy,
            retry_backoff_s=args.retry_backoff, api_per_minute=args.api_per_minute,
        )  # fmt: skip
    return ServeConfig(**values)


def _service_installed() -> None:
    """The service's packages are an extra: without them ``serve`` says how to get them."""
    try:
        import alembic  # noqa: F401
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        from grader.errors import UsageError

        raise UsageError(
            f"grader serve needs the service's packages ({exc.name} is missing): pip install 'grader[serve]'"
        ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    """``grader serve``."""
    _service_installed()
    from grader.serve.server import serve

    return serve(_config(args))


def cmd_tokens(args: argparse.Namespace) -> int:
    """``grader serve tokens``."""
    _service_installed()
    from grader.serve.tokens import issue

    n = issue(_config(args), Path(args.out), only=args.student, new_only=args.new_only)
    print(
        f"{n} personal link(s) written to {args.out} "
        "(readable by you only; each replaces the user's old link)"
    )
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    """``grader submit``."""
    from grader.errors import UsageError
    from grader.paths import input_folder
    from grader.serve.client import submit

    if not args.server:
        raise UsageError("--server is required (or $GRADER_SERVER): the grading service's URL")
    if not args.token:
        raise UsageError("--token is required (or $GRADER_TOKEN): your personal token")
    folder = input_folder(Path(args.path), hint="pass your repository folder")
    return submit(args.server, args.token, folder, args.assignment, wait=not args.no_wait,
                  out=Path(args.out) if args.out else None)  # fmt: skip
