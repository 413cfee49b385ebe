"""Read what the student's app writes (totals, Spark checkpoint) without trusting any of it.

The app writes into a folder the grader then reads. It could plant a symbolic link to a host file
there (its content would be echoed into the report as "unexpected words"), a FIFO (opening it
would block the grader) or a huge file. So every path component below the grader's scratch folder
is opened with ``O_NOFOLLOW``, only regular files are read, and every read is capped.

Two things are read:

* **snapshots**: ``output/batch-NNNNNN.tsv``, one ``word<TAB>count`` per line;
* **progress**: Spark's checkpoint (``checkpoint/offsets/<batch>`` lists the Kafka offsets a
  micro-batch reads up to, ``checkpoint/commits/<batch>`` appears once that batch -- its
  ``foreachBatch`` included -- has finished). The newest committed batch's offsets say how far
  the app has counted, which the grader compares with the offsets it wrote.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BATCH_FILE = re.compile(r"^batch-(\d{6,})\.tsv$")
OUTPUT_CAP = 4 << 20  # bytes of one output file; the hidden corpus gives a few KiB
CHECKPOINT_CAP = 1 << 20  # bytes of one offsets/commits file (a few hundred in practice)
NEWEST_BATCHES = 50  # how many of the newest committed batches are looked at, at most

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO the app planted must not block; it is rejected as not regular.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

FileSig = tuple[int, int, int]
"""(mtime_ns, inode, size) of a file: a changed tuple means it was (re)written."""


class UnsafeFile(Exception):
    """A file the grader refuses to read (a link, not a regular file, too large)."""


@contextlib.contextmanager
def open_folder(root: Path, *parts: str) -> Iterator[int | None]:
    """A directory fd for ``root/parts...`` opened without following links; None if it is not there.

    ``root`` is the grader's own scratch folder; its last component is opened with O_NOFOLLOW too
    (the app can rename things inside the scratch folder's parent in a local sandbox).
    """
    fds: list[int] = []
    try:
        try:
            fds.append(os.open(root, _DIR_FLAGS))
            for part in parts:
                fds.append(os.open(part, _DIR_FLAGS, dir_fd=fds[-1]))
        except OSError:  # missing, a link, or not a directory: nothing to read
            yield None
            return
        yield fds[-1]
    finally:
        for fd in reversed(fds):
            os.close(fd)


def read_file(dir_fd: int, name: str, cap: int) -> bytes:
    """The content of the regular file ``name`` in ``dir_fd``; UnsafeFile or OSError otherwise."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
            raise UnsafeFile("it is a symbolic link; write a regular file") from exc
        raise
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UnsafeFile("it is a folder")
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile("it is not a regular file")
        if info.st_size > cap:
            raise UnsafeFile(f"it has {info.st_size} bytes, more than the {cap} this file may have")
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(65536, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise UnsafeFile(f"it grew past the {cap} bytes this file may have")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _entries(dir_fd: int) -> dict[str, os.stat_result]:
    """Names in ``dir_fd`` -> their lstat (links are not followed)."""
    found = {}
    with os.scandir(dir_fd) as listing:
        for entry in listing:
            with contextlib.suppress(FileNotFoundError):
                found[entry.name] = entry.stat(follow_symlinks=False)
    return found


# -- output snapshots ------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """One output file as read: totals (None if unreadable) and what was wrong with it."""

    name: str
    totals: dict[str, int] | None
    problems: list[str] = field(default_factory=list)


def scan_output(root: Path, folder: str = "output") -> dict[str, FileSig]:
    """Output files (``batch-NNNNNN.tsv``) in ``root/folder`` -> their signature."""
    found: dict[str, FileSig] = {}
    with open_folder(root, folder) as fd:
        if fd is None:
            return found
        for name, info in _entries(fd).items():
            if BATCH_FILE.match(name):
                found[name] = (info.st_mtime_ns, info.st_ino, info.st_size)
    return found


def parse_totals(name: str, data: bytes) -> Snapshot:
    """Parse ``word<TAB>count`` lines (UTF-8); problems are reported, not raised.

    A file with no ``word<TAB>count`` line at all (empty, another encoding, other separators) has
    no totals (None): it is not in the contract's shape, and reading it as "no words" would blame
    the counting for a mistake in the writing.
    """
    if not data.strip():
        return Snapshot(name, None, [EMPTY])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Snapshot(name, None, [f"{NOT_UTF8}: {exc}"])
    totals: dict[str, int] = {}
    problems: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix("\r")
        word, tab, count = line.rpartition("\t")
        if not tab:
            problems.append(f"line {number} has no tab: {line[:60]!r}")
            continue
        try:
            value = int(count)
        except ValueError:
            problems.append(f"line {number}: count is not a number: {count[:30]!r}")
            continue
        if word in totals:
            problems.append(f"line {number}: word {word!r} appears twice")
        totals[word] = totals.get(word, 0) + value
    return Snapshot(name, totals if totals else None, problems)


EMPTY = "it is empty"
NOT_UTF8 = "not UTF-8"
WRITER = "seminar_spark.write_totals(batch_df, batch_id) inside foreachBatch does"


def describe_problems(name: str, problems: list[str]) -> str:
    """The student's sentence for an output file that is not in the contract's shape, or ''.

    ``problems`` are those of :func:`read_snapshot`: why the file could not be read, or which of
    its lines are not ``word<TAB>count``.
    """
    if not problems:
        return ""
    path = f"OUTPUT_DIR/{name}"
    first = problems[0].removeprefix(f"cannot read {name}: ")
    if first == "it is a folder":
        return (
            f"{path} is a folder (Spark's own writers, such as df.write.csv(path), make a folder of "
            f"part files): write one file per micro-batch; {WRITER}"
        )
    if first.startswith("it is a symbolic link") or first.startswith("it is not a regular file"):
        return f"{path}: {first.removeprefix('it ')}: write a regular file; {WRITER}"
    if first.startswith(("it has ", "it grew")):
        return f"{path} is too large ({first.removeprefix('it ')}): write one line per word"
    if first == EMPTY:
        return f"{path} is empty: after every micro-batch that had input, write all totals so far; {WRITER}"
    if first.startswith(NOT_UTF8):
        return f"{path} is not UTF-8 text ({first}): write it with encoding='utf-8'; {WRITER}"
    if first.startswith("cannot read"):
        return f"{path}: {first}"
    more = f" (and {len(problems) - 1} more such lines)" if len(problems) > 1 else ""
    return (
        f"{path} is not in the contract's shape: {first}{more}; write one word<TAB>count per line "
        f"(a tab between the word and its count, no header, no quotes); {WRITER}"
    )


def read_snapshot(root: Path, name: str, folder: str = "output") -> Snapshot:
    """Read and parse one output file safely."""
    with open_folder(root, folder) as fd:
        if fd is None:
            return Snapshot(name, None, [f"cannot read: the {folder} folder is gone or not a folder"])
        try:
            data = read_file(fd, name, OUTPUT_CAP)
        except (OSError, UnsafeFile) as exc:
            return Snapshot(name, None, [f"cannot read {name}: {exc}"])
    return parse_totals(name, data)


# -- checkpoint progress ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How far the app has counted, from its checkpoint."""

    batch: int
    """The newest committed micro-batch."""
    offsets: dict[int, int]
    """partition -> the offset that batch read up to (exclusive), for the graded topic."""
    committed_at: float
    """Wall-clock time (epoch s) the commit was written."""

    def processed(self, written: dict[int, int]) -> int:
        """Records of ``written`` (partition -> end offset) this progress covers."""
        return sum(min(self.offsets.get(p, 0), end) for p, end in written.items())

    def covers(self, written: dict[int, int]) -> bool:
        """Whether every record written so far was counted."""
        return all(self.offsets.get(p, 0) >= end for p, end in written.items())


def _topic_offsets(data: bytes, topic: str) -> dict[int, int] | None:
    """The graded topic's offsets from an ``offsets/<batch>`` file (``v1``, metadata, one line per source)."""
    for line in data.decode("utf-8", errors="replace").splitlines()[2:]:
        with contextlib.suppress(ValueError):
            source = json.loads(line)
            if isinstance(source, dict) and isinstance(source.get(topic), dict):
                return {int(p): int(o) for p, o in source[topic].items()}
    return None


def _committed(root: Path, folder: str) -> list[tuple[int, float]]:
    """(batch id, commit mtime) of the committed batches, newest first (at most NEWEST_BATCHES)."""
    with open_folder(root, folder, "commits") as fd:
        if fd is None:
            return []
        batches = [
            (int(name), info.st_mtime_ns / 1e9)
            for name, info in _entries(fd).items()
            if name.isdigit() and stat.S_ISREG(info.st_mode)
        ]
    return sorted(batches, reverse=True)[:NEWEST_BATCHES]


def _progress_of(offsets_fd: int, batch: int, committed_at: float, topic: str) -> Progress | None:
    try:
        data = read_file(offsets_fd, str(batch), CHECKPOINT_CAP)
    except (OSError, UnsafeFile):
        return None
    offsets = _topic_offsets(data, topic)
    return None if offsets is None else Progress(batch, offsets, committed_at)


def read_progress(root: Path, topic: str, folder: str = "checkpoint") -> Progress | None:
    """The newest committed batch's progress, or None (no checkpoint in ``root/folder`` yet)."""
    committed = _committed(root, folder)
    if not committed:
        return None
    with open_folder(root, folder, "offsets") as fd:
        if fd is None:
            return None
        for batch, at in committed:
            found = _progress_of(fd, batch, at, topic)
            if found is not None:
                return found
    return None


def first_covering(
    root: Path, topic: str, written: dict[int, int], folder: str = "checkpoint"
) -> Progress | None:
    """The oldest committed batch that covers ``written``: when the app had counted the last rows."""
    committed = _committed(root, folder)
    best = None
    with open_folder(root, folder, "offsets") as fd:
        if fd is None:
            return None
        for batch, at in committed:  # newest first; stop at the first that does not cover
            found = _progress_of(fd, batch, at, topic)
            if found is None or not found.covers(written):
                break
            best = found
    return best


def newest_write(root: Path, folder: str = "checkpoint") -> float | None:
    """Wall-clock time of the newest change in the checkpoint's top level, or None if there is none.

    The query writes ``metadata`` when it is created (inside ``start()``), and every new file in
    ``offsets/``, ``commits/`` or ``sources/`` changes that folder's mtime: so this tells when the
    query last showed a sign of life.
    """
    with open_folder(root, folder) as fd:
        if fd is None:
            return None
        times = [info.st_mtime_ns / 1e9 for info in _entries(fd).values()]
    return max(times, default=None)
