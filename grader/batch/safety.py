"""Safe extraction of untrusted archives: nothing lands outside the target, nothing absurd is unpacked.

Every archive is checked *before* anything is written: entries whose path is absolute or climbs
out with ``..``, links (symbolic or hard), device files, too many entries, too many bytes in total
and compression ratios only a zip bomb has are all refused with an :class:`UnsafeArchive` that says
which entry and why. Sizes are enforced again while writing, since headers can lie.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO


class UnsafeArchive(Exception):
    """An archive that must not be extracted; the message names the entry and the reason."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What an honest submission archive never exceeds."""

    max_total_bytes: int = 200 * 1024 * 1024
    max_file_bytes: int = 64 * 1024 * 1024
    max_entries: int = 10_000
    max_ratio: float = 200.0
    """Largest uncompressed/compressed ratio of one entry (text compresses ~5-20x; bombs 1000x+)."""


LIMITS = ArchiveLimits()


def _safe_relative(name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside the target, or UnsafeArchive."""
    cleaned = name.replace("\\", "/")
    path = PurePosixPath(cleaned)
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise UnsafeArchive(f"entry {name!r} has an absolute path")
    if any(part == ".." for part in path.parts):
        raise UnsafeArchive(f"entry {name!r} climbs out of the archive with '..'")
    return PurePosixPath(*[p for p in path.parts if p not in {"", "."}])


def _copy_capped(src: IO[bytes], dest: Path, cap: int, name: str) -> int:
    """Copy at most ``cap`` bytes; more means the header lied about the size."""
    written = 0
    with dest.open("wb") as out:
        for chunk in iter(lambda: src.read(1 << 16), b""):
            written += len(chunk)
            if written > cap:
                raise UnsafeArchive(f"entry {name!r} is larger than its header says (over {cap} bytes)")
            out.write(chunk)
    return written


def _check_totals(entries: int, total: int, limits: ArchiveLimits) -> None:
    if entries > limits.max_entries:
        raise UnsafeArchive(f"{entries} entries (more than {limits.max_entries})")
    if total > limits.max_total_bytes:
        raise UnsafeArchive(
            f"{total} bytes uncompressed (more than {limits.max_total_bytes // (1024 * 1024)} MiB)"
        )


def safe_extract_zip(source: Path | BinaryIO, target: Path, limits: ArchiveLimits = LIMITS) -> None:
    """Extract a zip into ``target`` (created) after checking every entry; UnsafeArchive otherwise."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeArchive(f"not a readable zip file ({exc})") from exc
    with archive:
        infos = archive.infolist()
        plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        total = 0
        for info in infos:
            rel = _safe_relative(info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFLNK:
                raise UnsafeArchive(f"entry {info.filename!r} is a symbolic link")
            if kind not in {0, stat.S_IFREG, stat.S_IFDIR}:
                raise UnsafeArchive(f"entry {info.filename!r} is a special file")
            if info.file_size > limits.max_file_bytes:
                raise UnsafeArchive(f"entry {info.filename!r} is {info.file_size} bytes uncompressed")
            if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(
                1, info.compress_size
            ):
                raise UnsafeArchive(
                    f"entry {info.filename!r} expands {info.file_size // max(1, info.compress_size)}x "
                    "(a zip bomb?)"
                )
            total += info.file_size
            plan.append((info, rel))
        _check_totals(len(infos), total, limits)
        target.mkdir(parents=True, exist_ok=True)
        written = 0
        for info, rel in plan:
            if not rel.parts:
                continue
            dest = target.joinpath(*rel.parts)
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src:
                written += _copy_capped(src, dest, info.file_size, info.filename)
            if written > limits.max_total_bytes:
                raise UnsafeArchive("more bytes than the headers announce")
            mode = (info.external_attr >> 16) & 0o777
            dest.chmod(0o755 if mode & 0o111 else 0o644)


def safe_extract_tar(source: Path | BinaryIO, target: Path, limits: ArchiveLimits = LIMITS) -> None:
    """Extract a (possibly compressed) tar into ``target`` after checking every entry."""
    try:
        # Closed by the ``with`` below; opening is inside the try to turn a bad file into a refusal.
        archive = tarfile.open(**({"name": source} if isinstance(source, Path) else {"fileobj": source}))  # noqa: SIM115
    except (tarfile.TarError, OSError) as exc:
        raise UnsafeArchive(f"not a readable tar file ({exc})") from exc
    with archive:
        members = archive.getmembers()
        total = 0
        plan: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
        for member in members:
            rel = _safe_relative(member.name)
            if member.issym() or member.islnk():
                raise UnsafeArchive(f"entry {member.name!r} is a link (to {member.linkname!r})")
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchive(f"entry {member.name!r} is a special file")
            if member.size > limits.max_file_bytes:
                raise UnsafeArchive(f"entry {member.name!r} is {member.size} bytes")
            total += member.size
            plan.append((member, rel))
        _check_totals(len(members), total, limits)
        target.mkdir(parents=True, exist_ok=True)
        for member, rel in plan:
            if not rel.parts:
                continue
            dest = target.joinpath(*rel.parts)
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = archive.extractfile(member)
            if src is None:
                raise UnsafeArchive(f"entry {member.name!r} cannot be read")
            with src:
                _copy_capped(src, dest, member.size, member.name)
            dest.chmod(0o755 if member.mode & 0o111 else 0o644)


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a zip or tar file we know how to open safely."""
    name = path.name.lower()
    return path.is_file() and (name.endswith((".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")))


def safe_extract(path: Path, target: Path, limits: ArchiveLimits = LIMITS) -> None:
    """Extract a zip or tar at ``path`` into ``target``; on refusal ``target`` is removed again."""
    try:
        if zipfile.is_zipfile(path) or path.name.lower().endswith(".zip"):
            safe_extract_zip(path, target, limits)
        else:
            safe_extract_tar(path, target, limits)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
