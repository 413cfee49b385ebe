"""The check API that assignment check modules use.

A check is a plain function decorated with :func:`check`; it passes by returning, fails (the
student's fault) through ``ctx.fail``/``ctx.expect``, and any other exception is a grader
*error*, reported as such and never silently turned into a zero:

    @check(points=2, title="Topic has 6 partitions", hint="--partitions 6 when creating it",
           requires=("topic_exists",))
    def six_partitions(ctx: CheckContext) -> None:
        n = len(ctx.kafka.describe_topic(ctx.params["TOPIC"]).partitions)
        ctx.expect(n == 6, f"expected 6 partitions on {ctx.params['TOPIC']!r}, found {n}")

A check module may also define ``prepare(ctx)`` (set the stage before student code runs, e.g.
create and fill a topic) and ``act(ctx)`` (run the student's code; the default runs the
entrypoint once and keeps its record under :data:`RUN`). Checks run in definition order after
``act``. Assignment code imports all this from :mod:`grader.content`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from grader.kafka_util import KafkaView
from grader.results import ExecRecord, Note, Visibility
from grader.runtime.shims import ASSIGNMENT_ENV
from grader.sandbox.base import Sandbox, SandboxProcess
from grader.spec import AssignmentSpec, RunSecret
from grader.state import Stash, StateKey

RUN = StateKey[ExecRecord | None]("run")
"""The entrypoint's run (None: there was no entrypoint); the default ``act`` sets it."""
TIMINGS = StateKey[dict[str, float]]("timings")
"""Extra phases (seconds by name) an assignment measured; the runner adds them to the result's timings."""
STUDENT_SECONDS = StateKey[float]("student_seconds")
"""Time spent in the student's processes that ``ctx.runs`` does not record (e.g. a streaming app's)."""


class CheckFailed(Exception):
    """Raised by ``ctx.fail``: the student's work does not meet the check."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Check:
    """A registered check: the function plus its points, title and hint."""

    fn: Callable[[CheckContext], None]
    points: float
    title: str
    hint: str = ""
    requires: tuple[str, ...] = ()
    visibility: Visibility = Visibility.VISIBLE
    """Who sees the result on a grading platform: visible, after_due_date or hidden."""

    @property
    def id(self) -> str:
        return self.fn.__name__


def check(
    *,
    points: float,
    title: str,
    hint: str = "",
    requires: Sequence[str] = (),
    visibility: str = "visible",
) -> Callable[[Callable[[CheckContext], None]], Check]:
    """Register a function as a check worth ``points``; ``requires`` names checks that must pass first.

    ``visibility`` is ``"visible"`` (default), ``"after_due_date"`` or ``"hidden"``: platforms that
    support it (Gradescope, the student view of the HTML report) show the result accordingly.
    """
    try:
        seen_by = Visibility(visibility)
    except ValueError:
        choices = ", ".join(repr(v.value) for v in Visibility)
        raise ValueError(
            f"check {title!r}: visibility must be one of {choices}, not {visibility!r}"
        ) from None

    def wrap(fn: Callable[[CheckContext], None]) -> Check:
        return Check(fn, float(points), title, hint, tuple(requires), seen_by)

    return wrap


@dataclass(frozen=True)
class Entrypoint:
    """The submission file the grader runs, and how."""

    path: Path
    command: list[str]
    runnable_as_is: bool
    problem: str = ""
    """Why it is not runnable as is (not executable, bad shebang); the grader ran it anyway."""


@dataclass
class CheckContext:
    """What a check sees: the spec, this run's parameters, the sandbox, Kafka helpers, state."""

    spec: AssignmentSpec
    params: dict[str, Any]
    sandbox: Sandbox
    kafka: KafkaView
    state: Stash = field(default_factory=Stash)
    """What ``prepare``/``act`` leave for the checks, by typed :class:`StateKey`."""
    runs: list[ExecRecord] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    secret: RunSecret = field(default_factory=RunSecret)
    """This run's secret for hidden test data (``ctx.secret.rng("purpose")``); never in ``env()``."""
    on_overlap: Callable[[], None] | None = field(default=None, repr=False)
    """Set by the runner for an assignment whose spec says ``overlap = true``."""
    _entry: list[Entrypoint | None] = field(default_factory=list, repr=False)

    def allow_overlap(self) -> None:
        """From now on this assignment only waits on the student's app: the runner may grade the
        submission's other assignments beside it (in the same sandbox, with their own runs).

        Call it where the remaining work is mostly waiting (e.g. the silence before the last burst
        and the idle stop), not while the app is starting or busy: the others' runs then cost it
        little CPU. Without an ``overlap`` spec this does nothing."""
        if self.on_overlap is not None:
            self.on_overlap()

    # -- outcomes ------------------------------------------------------------------------------

    def fail(self, message: str, details: str = "") -> NoReturn:
        """Fail the current check with an expected-vs-found message."""
        raise CheckFailed(message, details)

    def expect(self, condition: object, message: str, details: str = "") -> None:
        """Fail the current check with ``message`` unless ``condition`` holds."""
        if not condition:
            self.fail(message, details)

    def note(self, text: str, kind: str = "info") -> None:
        """Add advice to the report that costs no points."""
        if all(n.text != text for n in self.notes):
            self.notes.append(Note(text=text, kind=kind))

    # -- the student's code --------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """The student's folder for this assignment inside the sandbox."""
        return self.sandbox.workdir / self.spec.id

    def env(self) -> dict[str, str]:
        """Parameters and extra variables exported to the student's processes."""
        env = {name: str(value) for name, value in self.params.items()}
        # Which assignment a process belongs to (runs may overlap): the CLI shims tag what they translate.
        env[ASSIGNMENT_ENV] = self.spec.id
        env.update(self.extra_env)
        return env

    def entrypoint(self) -> Entrypoint | None:
        """The first accepted entrypoint present in the student's folder, or None.

        Decided once per run: deciding may convert the sandbox's copy (CRLF -> LF), after which
        the file no longer shows the problem the report must name.
        """
        if not self._entry:
            names = self.spec.entrypoints
            # A symbolic link is not an entrypoint: the grader reads and may rewrite the file, and a
            # link planted by an earlier run could point at one of the grader's own files.
            found = next((self.folder / n for n in names if _regular_file(self.folder / n)), None)
            self._entry.append(_entrypoint(found, self.sandbox.has_command) if found else None)
        return self._entry[0]

    def missing_entrypoint_message(self) -> str:
        """Expected vs found when no entrypoint exists."""
        wanted = " or ".join(f"{self.spec.id}/{n}" for n in self.spec.entrypoints)
        if not self.folder.is_dir():
            found = f"there is no {self.spec.id}/ folder in the submission"
        else:
            names = sorted(p.name for p in self.folder.iterdir())[:10]
            found = f"{self.spec.id}/ contains {', '.join(names) if names else 'nothing'}"
            links = [n for n in self.spec.entrypoints if (self.folder / n).is_symlink()]
            if links:
                found += (
                    f", but {self.spec.id}/{links[0]} is a symbolic link: submit the script itself "
                    "(the grader does not follow links)"
                )
        return f"expected {wanted}; {found}"

    def run_entrypoint(
        self,
        label: str = "run",
        *,
        timeout: float | None = None,
        args: Sequence[str] = (),
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecRecord | None:
        """Run the entrypoint to completion (or its time limit); None if there is none."""
        entry = self.entrypoint()
        if entry is None:
            return None
        record = self.sandbox.run(
            [*entry.command, *args],
            label=label,
            timeout=timeout or self.spec.limits.run_seconds,
            cwd=self.folder,
            env={**self.env(), **(env or {})},
            stdin=stdin,
            limits=self.spec.limits,
        )
        self.runs.append(record)
        return record

    def spawn_entrypoint(self, label: str, env: dict[str, str] | None = None) -> SandboxProcess | None:
        """Start the entrypoint in the background (streaming apps); None if there is none."""
        entry = self.entrypoint()
        if entry is None:
            return None
        return self.sandbox.spawn(
            entry.command,
            label=label,
            cwd=self.folder,
            env={**self.env(), **(env or {})},
            limits=self.spec.limits,
        )


CRLF = b"\r\n"


def _entrypoint(path: Path, has_command: Callable[[str], bool]) -> Entrypoint:
    """Decide how to run ``path``: as is when possible, else as close to it as possible, noting why.

    The rules (documented in student_template/README.md): a ``.py`` file always runs with the
    sandbox's ``python3`` (shebang, executable bit and CRLF line endings do not matter to Python).
    A shell script runs as ``./name`` and therefore needs a shebang naming an existing interpreter,
    the executable bit and Unix (LF) line endings. When one of those is missing the grader still
    runs it (through ``bash``, with CRLF converted to LF in the sandbox's private copy) so that the
    other checks count, and the "runs as is" check fails with the exact reason and the fix.
    """
    if path.suffix == ".py":
        # Python entrypoints always run with the sandbox's Python, which has kafka-python and pyspark.
        return Entrypoint(path, ["python3", path.name], True)
    fallback = ["bash", path.name]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Entrypoint(path, fallback, False, f"cannot read {path.name}: {exc}")
    problems: list[str] = []
    if CRLF in data:
        problems.append(_convert_crlf(path, data))
        data = data.replace(CRLF, b"\n")
    first = data[:200].split(b"\n", 1)[0].decode("utf-8", errors="replace")
    if not first.startswith("#!"):
        problems.append(
            f"{path.name} has no shebang line: './{path.name}' only works from an interactive shell "
            "(a program or CI job starting it gets 'Exec format error'); start it with '#!/usr/bin/env bash'"
        )
    else:
        interpreter = first[2:].strip().split()
        exe = interpreter[0] if interpreter else ""
        if exe == "/usr/bin/env" and len(interpreter) > 1:
            found = has_command(interpreter[1])
        else:
            found = bool(exe) and has_command(exe)
        if not found:
            problems.append(
                f"the shebang '{first}' names an interpreter that does not exist; "
                "use '#!/usr/bin/env bash' (or '#!/bin/bash')"
            )
    if not os.access(path, os.X_OK):
        problems.append(
            f"{path.name} is not executable; run 'chmod +x {path.name}' and commit it "
            "('git update-index --chmod=+x' on Windows)"
        )
    if problems:
        return Entrypoint(path, fallback, False, "; ".join(problems))
    return Entrypoint(path, [f"./{path.name}"], True)


def _regular_file(path: Path) -> bool:
    """``path`` is a regular file itself, not a link to one."""
    return path.is_file() and not path.is_symlink()


def _convert_crlf(path: Path, data: bytes) -> str:
    """Replace the sandbox's copy of ``path`` by an LF version; the problem, in the student's words.

    The copy is private to this run. It is unlinked first so that a symlinked entrypoint never
    makes the grader write through the link.
    """
    mode = path.stat().st_mode & 0o777
    path.unlink()
    path.write_bytes(data.replace(CRLF, b"\n"))
    path.chmod(mode)
    return (
        f"{path.name} has Windows (CRLF) line endings: bash reads the '\\r' at the end of every line "
        "as part of the command ('$'\\r': command not found', 'bash\\r: No such file or directory'); "
        f"convert it with 'dos2unix {path.name}' (or 'sed -i \"s/\\r$//\" {path.name}') and add "
        "'*.sh text eol=lf' to .gitattributes (the grader converted its own copy to LF)"
    )
