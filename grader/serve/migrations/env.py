"""Alembic's environment for the service: runs on the connection :func:`grader.serve.db.migrate` passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from grader.serve.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Two servers starting at once on one database: the second waits, then finds nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(4717001)"))
    context.run_migrations()
