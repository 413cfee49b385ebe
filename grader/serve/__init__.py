"""The course's grading service: ``grader serve`` (web pages, JSON API, durable queue, workers) and
``grader submit`` (its client).

Modules: :mod:`~grader.serve.models` (tables) and ``migrations/`` (Alembic), :mod:`~grader.serve.db`,
:mod:`~grader.serve.queue` (the job state machine), :mod:`~grader.serve.workers` (executors and
``run_job``), :mod:`~grader.serve.intake` (uploads), :mod:`~grader.serve.auth` (tokens, sessions,
CSRF), :mod:`~grader.serve.app` (routes), :mod:`~grader.serve.server` (``grader serve``),
:mod:`~grader.serve.tokens` (``serve tokens``), :mod:`~grader.serve.client` (``grader submit``).
Importing this package imports nothing heavy: the CLI registers its commands from here.
"""
