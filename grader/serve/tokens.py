"""``grader serve tokens``: one personal login link per student and TA, for a mail merge.

Tokens are random; only their SHA-256 is stored, so a token is shown once, in the CSV written here
(readable by its owner only). Issuing a user a new token revokes their old one (and its sessions).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from sqlalchemy import select, update

from grader.serve.auth import new_token, token_hash, utcnow
from grader.serve.config import ServeConfig
from grader.serve.models import Token, User
from grader.serve.server import _roster, open_database, sync_roster


def issue(config: ServeConfig, out: Path, *, only: list[str] | None = None, new_only: bool = False) -> int:
    """Write ``out`` (id, name, email, role, token, link) for the roster's users; returns how many."""
    from grader.paths import output_file

    out = output_file(out, "--out", what="CSV file", example="tokens.csv")
    students = _roster(config.roster, "--roster")
    tas = _roster(config.tas, "--tas") if config.tas else []
    db = open_database(config)
    try:
        sync_roster(db, students, tas)
        now = utcnow()
        rows = []
        with db.writing() as session:
            users = session.scalars(
                select(User).where(User.active.is_(True)).order_by(User.role, User.student_id)
            ).all()
            if only:
                unknown = sorted(set(only) - {u.student_id for u in users})
                if unknown:
                    from grader.errors import UsageError

                    raise UsageError(f"--student {', '.join(unknown)}: not on the roster")
                users = [u for u in users if u.student_id in only]
            for user in users:
                live = session.scalars(
                    select(Token.id).where(Token.user_id == user.id, Token.revoked_at.is_(None))
                ).all()
                if new_only and live:
                    continue
                session.execute(update(Token).where(Token.user_id == user.id, Token.revoked_at.is_(None))
                                .values(revoked_at=now))  # fmt: skip
                token = new_token()
                session.add(Token(user_id=user.id, token_hash=token_hash(token), created_at=now))
                rows.append([user.student_id, user.name, user.email, user.role, token,
                             f"{config.url}/login?token={token}"])  # fmt: skip
    finally:
        db.dispose()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "name", "email", "role", "token", "link"])
    writer.writerows(rows)
    tmp = out.with_name(f".{out.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(buf.getvalue())
    os.replace(tmp, out)
    return len(rows)
