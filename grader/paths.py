"""Check the paths a user gives the CLI before any work starts: every problem is one usage error.

A report folder that is a file, cannot be created or written, or lies where the grader would grade
it; an input that is missing, of the wrong kind or unreadable: each raises :class:`UsageError`
with one line saying what was given, what is wrong and what to do, instead of a traceback after
(or in the middle of) grading.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Collection, Iterable
from pathlib import Path

from grader.errors import GraderError, UsageError

READABLE_FIX = "make it readable by the user running the grader"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _denied() -> str:
    return os.strerror(errno.EACCES)


def _label(option: str, path: Path) -> str:
    return f"{option} {path}" if option else str(path)


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (symlinks resolved; neither need exist)."""
    return path.resolve().is_relative_to(folder.resolve())


def kind(path: Path, label: str, fix: str) -> str:
    """``missing``, ``dir``, ``file``, ``other`` or ``dangling`` (a symlink to nothing).

    Unlike ``Path.exists()``, a folder on the way that cannot be searched is a usage error naming
    the path, not a PermissionError; a file on the way counts as missing (creating it says why).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "dangling" if os.path.islink(path) else "missing"
    except NotADirectoryError:
        return "missing"
    except OSError as exc:
        raise UsageError(f"cannot reach {label}: {_reason(exc)}: {fix}") from exc
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def writable_layout(
    folder: Path,
    *,
    files: Iterable[str | Path] = (),
    folders: Iterable[str | Path] = (),
    option: str = "--out",
) -> None:
    """What the command writes in ``folder`` (``files``, ``folders``: relative paths) is not in the way:
    no folder where it writes a file, no file where it needs a folder (one left by hand or an old run)."""
    fix = f"remove it or pass another {option}"
    needed = [folder / f for f in folders]
    for f in files:
        target = folder / f
        if kind(target, str(target), fix) == "dir":
            raise UsageError(f"{target} is a folder where the grader writes a file: {fix}")
        needed.extend(p for p in target.parents if p.is_relative_to(folder) and p != folder)
    for d in needed:
        if kind(d, str(d), fix) in ("file", "other", "dangling"):
            raise UsageError(f"{d} is a file where the grader writes a folder: {fix}")


def _file_ancestor(path: Path) -> Path | None:
    """``path`` or its nearest existing ancestor when that is not a folder (why a mkdir fails)."""
    for parent in (path, *path.parents):
        try:
            mode = os.stat(parent).st_mode
        except OSError:
            continue
        return None if stat.S_ISDIR(mode) else parent
    return None


def _create(path: Path, label: str, fix: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = _file_ancestor(path)
        reason = f"{blocker} is a file, not a folder" if blocker is not None else _reason(exc)
        raise UsageError(f"cannot create {label}: {reason}: {fix}") from exc


def _writable(folder: Path, label: str, fix: str) -> None:
    """A folder we can create files in, tested by creating one.

    ``os.access`` alone would not do: it ignores ACLs and some mounts, says "no" without the reason
    (a read-only file system is not a permission problem) and root passes it where a write fails.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=".grader-write-test-", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write into {label}: {_reason(exc)}: {fix}") from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def _assignment_ids() -> list[str]:
    """The course's assignment ids; none when they cannot be read (the command reports that itself)."""
    from grader.registry import discover

    try:
        return [a.id for a in discover()]
    except GraderError:
        return []


def output_folder(
    path: Path,
    option: str = "--out",
    submission: Path | None = None,
    *,
    given: bool = True,
    default: Path | None = None,
    writes: Iterable[str | Path] = (),
    assignment_ids: Collection[str] | None = None,
) -> Path:
    """``path`` as a folder the command can write its files into: created (parents too) if missing.

    ``given``: False when ``path`` is the command's default rather than the user's ``option``.
    With ``submission``, the folder must not be where the grader would grade it: not the submission
    itself, not inside one of its assignment folders (any direct sub-folder named like an assignment
    of ``assignment_ids``, default: the course's), and none of ``writes`` (paths relative to
    ``path`` the command writes) may be the submission or hold it. Elsewhere inside the submission
    (``SUB/reports/...``, the default of ``grader check .``) is fine: it is left out of grading.
    """
    label = f"{option} {path}" if given else f"the default {option} {path}"
    pass_ = "pass" if given else f"pass {option} with"
    fix = f"{pass_} a folder you can write to"
    found = kind(path, label, fix)
    if found == "dangling":
        raise UsageError(f"{label} is a symlink to nothing: {pass_} a folder (it is created if missing)")
    if found in ("file", "other"):
        raise UsageError(f"{label} is a file, not a folder: {pass_} a folder (it is created if missing)")
    if submission is not None:
        _outside_submission(path, label, submission, given, default, writes, assignment_ids)
    _create(path, label, fix)
    _writable(path, label, fix)
    return path


def _outside_submission(
    path: Path,
    label: str,
    submission: Path,
    given: bool,
    default: Path | None,
    writes: Iterable[str | Path],
    assignment_ids: Collection[str] | None,
) -> None:
    if given:
        elsewhere = f"write it elsewhere (default: {default})" if default else "write it elsewhere"
    else:
        elsewhere = "pass --out with a folder outside it"
    out, sub = path.resolve(), submission.resolve()
    if out == sub:
        raise UsageError(
            f"{label} is the submission folder itself: the reports would be mixed with the work "
            f"they grade; {elsewhere}"
        )
    if out.is_relative_to(sub):
        top = out.relative_to(sub).parts[0]
        ids = _assignment_ids() if assignment_ids is None else assignment_ids
        if top in ids:
            raise UsageError(
                f"{label} is inside the submission's {top}/ folder: the report would be graded "
                f"as part of it; {elsewhere}"
            )
        return
    for rel in writes:
        written = out / rel
        if sub.is_relative_to(written):
            raise UsageError(
                f"{label} holds the submission {submission} where the grader writes {written}: "
                f"the reports would overwrite it; {elsewhere}"
            )


def output_file(path: Path, option: str = "--out", *, what: str = "file", example: str = "") -> Path:
    """``path`` as a file the command can (over)write: not a folder, its folder created and writable."""
    label = _label(option, path)
    fix = f"pass a path for the {what} in a folder you can write to"
    found = kind(path, label, fix)
    if found == "dir":
        e_g = f", e.g. {path / example}" if example else ""
        raise UsageError(f"{label} is a folder, not a {what}: pass the {what} to write{e_g}")
    if found == "other":
        raise UsageError(f"{label} is not a regular file: pass a path for the {what}")
    if found == "file" and not os.access(path, os.W_OK):
        raise UsageError(
            f"cannot overwrite {label}: {_denied()}: make it writable or pass another path for the {what}"
        )
    folder = path.parent
    _create(folder, label, fix)
    _writable(folder, f"{label}'s folder {folder}", fix)
    return path


def input_file(
    path: Path,
    option: str,
    *,
    what: str = "file",
    hint: str = "",
    encoding: str | None = None,
) -> Path:
    """``path`` as an existing readable file (not a folder); with ``encoding``, text in it.

    A pipe or device (``--roster <(...)``) passes unread: reading it here would consume it.
    """
    label = _label(option, path)
    fix = f": {hint}" if hint else ""
    found = kind(path, label, READABLE_FIX)
    if found == "dir":
        raise UsageError(f"{label} is a folder, not a {what}{fix}")
    if found in ("missing", "dangling"):
        raise UsageError(f"{label} does not exist{fix}")
    if not os.access(path, os.R_OK):
        raise UsageError(f"cannot read {label}: {_denied()}: {READABLE_FIX}")
    if found == "other":
        return path
    try:
        with path.open("rb") as f:
            data = f.read() if encoding else f.read(1)
    except OSError as exc:
        raise UsageError(f"cannot read {label}: {_reason(exc)}: {READABLE_FIX}") from exc
    if encoding:
        name = "UTF-8" if encoding.lower().replace("_", "-").startswith("utf-8") else encoding
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"{label} is not a {what} in {name} (byte 0x{data[exc.start]:02x} at offset {exc.start}){fix}"
            ) from exc
        if "\0" in text:
            raise UsageError(f"{label} is not a {what}: it contains NUL bytes{fix}")
    return path


def input_folder(
    path: Path,
    what: str = "",
    *,
    hint: str = "",
    walk: bool = False,
    skip: Collection[str] = (),
) -> Path:
    """``path`` as an existing folder the grader can list; with ``walk``, every file in it readable.

    ``what`` is the option that named it ("" for a positional argument); ``skip``: top-level names
    left out of the walk (folders the command does not read).
    """
    label = _label(what, path)
    fix = f"; {hint}" if hint else ""
    found = kind(path, label, READABLE_FIX)
    if found in ("missing", "dangling"):
        raise UsageError(f"{label} is not a folder (it does not exist){fix}")
    if found != "dir":
        raise UsageError(f"{label} is not a folder (it is a file){fix}")
    _listable(path, label)
    if walk:
        _readable_tree(path, skip)
    return path


def _readable_tree(root: Path, skip: Collection[str]) -> None:
    """Every folder listable and every regular file readable (links are copied, not followed).

    A submission over the size limits is left alone: the runner refuses it as the student's problem.
    """
    from grader.submission_files import SubmissionRefused, inspect

    try:
        found = inspect(root, skip=skip)
    except SubmissionRefused:
        return
    if found.unreadable:
        raise UsageError(f"cannot read {root / found.unreadable[0]}: {_denied()}: {READABLE_FIX}")


def _listable(folder: Path, label: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as exc:
        raise UsageError(f"cannot read {label}: {_reason(exc)}: {READABLE_FIX}") from exc
    if not os.access(folder, os.R_OK | os.X_OK):
        raise UsageError(f"cannot read {label}: {_denied()}: {READABLE_FIX}")
    return entries
