"""A submission's files, whatever they are: sized up before anything is copied, copied safely.

A submission is a folder from a student, so it may hold anything: a 1 GiB sparse file that takes
a few bytes on disk but expands to its full size when copied, a named pipe that blocks whoever
opens it, a socket, a device, a file the grader cannot read. None of that is the grader's
failure. :func:`inspect` walks the folder without reading any file and refuses one that no honest
submission has (a file or a total over the limits, too many entries); the refusal names the file
and the limit, and the runner turns it into a failed check (exit 1), never a grader error.
:func:`copy_tree` copies folders, regular files and links (as links, never followed) and leaves
special files out, naming them.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

NOT_SUBMITTED = ("reports", ".git")
"""Top-level folders of a submission that are never graded (the grader's own reports, git's data)."""


@dataclass(frozen=True)
class SubmissionLimits:
    """What an honest submission never exceeds (the sizes are apparent sizes: a sparse file counts
    as large as it would be once copied)."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 200 * 1024 * 1024
    max_entries: int = 10_000


LIMITS = SubmissionLimits()


class SubmissionRefused(Exception):
    """The submission breaks a limit; the message names the file and the limit, and what to do."""


@dataclass
class Inventory:
    """What :func:`inspect` found in a submission that it did not refuse."""

    files: int = 0
    total_bytes: int = 0
    left_out: list[str] = field(default_factory=list)
    """Entries that are not folders, regular files or links (FIFOs, sockets, devices): never copied."""
    unreadable: list[str] = field(default_factory=list)
    """Files or folders the grader's user cannot read."""

    def refusal(self) -> str:
        """Why a submission within the size limits still cannot be graded (unreadable files), or ``""``."""
        if not self.unreadable:
            return ""
        shown = ", ".join(self.unreadable[:3]) + (" and more" if len(self.unreadable) > 3 else "")
        return (
            f"the grader cannot read {shown} (permission denied): make every file of the submission "
            "readable (chmod -R a+rX)"
        )


def size_text(n: float) -> str:
    """``1.0 GiB``, ``64 MiB``, ``12 KiB``, ``5 bytes``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 and value != int(value) else f"{value:.0f} {unit}"
    return f"{int(n)} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file"


def inspect(
    root: Path, *, skip: Collection[str] = NOT_SUBMITTED, limits: SubmissionLimits = LIMITS, label: str = ""
) -> Inventory:
    """Walk ``root`` (links not followed, no file opened) and check it against ``limits``.

    ``skip`` names paths (relative, with ``/``) that are not part of the submission. Raises
    :class:`SubmissionRefused` for a file or a total over the limits or too many entries.
    ``label`` is put before every path the messages name (e.g. the folder's own name).
    """
    found = Inventory()
    entries = 0
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as scan:
                listing = sorted(scan, key=lambda e: e.name)
        except FileNotFoundError:  # no submission folder at all: nothing to refuse
            continue
        except PermissionError:
            found.unreadable.append(label + (prefix.rstrip("/") or "."))
            continue
        for entry in listing:
            rel = prefix + entry.name
            if rel in skip:
                continue
            entries += 1
            if entries > limits.max_entries:
                raise SubmissionRefused(
                    f"the submission holds more than {limits.max_entries} files and folders: a submission "
                    "is a few scripts; remove generated files (checkpoints, outputs, virtual environments)"
                )
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append((Path(entry.path), rel + "/"))
                continue
            if not stat.S_ISREG(info.st_mode):
                found.left_out.append(f"{label}{rel} ({_kind(info.st_mode)})")
                continue
            found.files += 1
            found.total_bytes += info.st_size
            if info.st_size > limits.max_file_bytes:
                on_disk = info.st_blocks * 512
                sparse = (
                    f", {size_text(on_disk)} on disk: a sparse file" if on_disk < info.st_size // 2 else ""
                )
                raise SubmissionRefused(
                    f"{label}{rel} is {size_text(info.st_size)} (apparent size{sparse}); a file in a "
                    f"submission may be at most {size_text(limits.max_file_bytes)}: remove it from the "
                    "submission (with git: git rm --cached, and add it to .gitignore)"
                )
            if found.total_bytes > limits.max_total_bytes:
                raise SubmissionRefused(
                    f"the submission's files add up to more than {size_text(limits.max_total_bytes)} "
                    f"(the limit for a whole submission; reached at {label}{rel}): remove large files that "
                    "are not your scripts (data, logs, checkpoints, archives)"
                )
            if not os.access(entry.path, os.R_OK, follow_symlinks=False):
                found.unreadable.append(label + rel)
    return found


def copy_tree(src: Path, dest: Path, *, skip: Collection[str] = (), _prefix: str = "") -> list[str]:
    """Copy ``src`` into ``dest``: folders, regular files, and links as links (never followed).

    Special files (FIFOs, sockets, devices) are left out: opening a FIFO would block the grader.
    ``skip`` names paths (relative to ``src``, with ``/``) to leave out silently. Returns what was
    left out, with why.
    """
    left_out: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)
    if not src.is_dir():
        return left_out
    with os.scandir(src) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        rel = _prefix + entry.name
        if rel in skip:
            continue
        target = dest / entry.name
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(entry.path), target)
        elif stat.S_ISDIR(mode):
            left_out += copy_tree(Path(entry.path), target, skip=skip, _prefix=rel + "/")
        elif stat.S_ISREG(mode):
            shutil.copy2(entry.path, target, follow_symlinks=False)
        else:
            left_out.append(f"{rel} ({_kind(mode)})")
    return left_out
