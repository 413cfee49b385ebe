"""Uploads: streamed to disk under a size limit, checked like ``grader batch``'s intake, packed for a job.

An upload (a zip, a tar or tar.gz, or loose files from the web form) is written to a temp file while
it streams in; the body limit (:class:`grader.serve.security.BodyLimit`) stops a body that is too
large, so none is ever held in memory. The archive is then extracted with the batch's own checks
(:mod:`grader.batch.safety`: absolute paths, ``..``, links, devices, entry count, size, compression
ratio), the submission is the shallowest folder holding an assignment folder (as in a batch), and its
entries are packed as a gzip tar (no ``.git/``, no ``reports/``) that travels with the job. What
the runner refuses (the size limits of :mod:`grader.submission_files`) it refuses when grading, as
``grader check`` does, with the reason in the report.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from grader.batch.intake import find_root
from grader.batch.safety import UnsafeArchive, safe_extract_tar, safe_extract_zip
from grader.serve import messages as M
from grader.submission_files import NOT_SUBMITTED, size_text

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Default limit of an upload's body (a course's scripts are kilobytes; ``--max-upload-mib`` changes it)."""


class UploadRefused(Exception):
    """An upload that is not accepted; the message is for the student (no path, no traceback)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Packed:
    """A submission ready to queue."""

    archive: bytes
    """gzip-compressed tar of the submission's files."""
    sha256: str
    files: int


def _parts(name: str) -> tuple[str, ...]:
    """An archive entry's name as path parts (the batch checks already refused ``..`` and absolute ones)."""
    return tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def _entries(upload: Path, kind: str) -> Iterator[tuple[tuple[str, ...], bool, int, Callable[[], IO[bytes]]]]:
    """(parts, is folder, mode, opener) of every entry of an archive that passed the batch checks."""
    if kind == "zip":
        with zipfile.ZipFile(upload) as zipped:
            for info in zipped.infolist():

                def open_entry(info: zipfile.ZipInfo = info) -> IO[bytes]:
                    """The entry's content."""
                    return zipped.open(info)

                yield _parts(info.filename), info.is_dir(), (info.external_attr >> 16) & 0o777, open_entry
        return
    with tarfile.open(upload) as tarred:
        for member in tarred.getmembers():

            def opener(member: tarfile.TarInfo = member) -> IO[bytes]:
                """The member's content."""
                data = tarred.extractfile(member)
                assert data is not None  # a regular file (the batch checks refused everything else)
                return data

            yield _parts(member.name), member.isdir(), member.mode, opener


def _pack(upload: Path, kind: str, root: tuple[str, ...]) -> tuple[bytes, int]:
    """The entries of ``upload`` under ``root`` as a gzip tar with names relative to it.

    Built from the archive's own entries (never more of them than the checked archive had), without
    ``.git/`` and ``reports/`` at the submission's top.
    """
    raw = io.BytesIO()
    files = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for parts, is_dir, mode, opener in _entries(upload, kind):
            if parts[: len(root)] != root or len(parts) == len(root):
                continue
            rel = parts[len(root) :]
            if rel[0] in NOT_SUBMITTED:
                continue
            info = tarfile.TarInfo("/".join(rel))
            info.mode = 0o755 if is_dir or mode & 0o111 else 0o644
            if is_dir:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                continue
            with opener() as data:
                content = data.read()
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
            files += 1
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0), files


def _kind(path: Path) -> str:
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        pass
    return ""


def _checked_submission(extracted: Path, assignment_ids: Sequence[str]) -> Path:
    root = find_root(extracted, set(assignment_ids))
    if root is None:
        if not any(p.is_file() for p in extracted.rglob("*")):
            raise UploadRefused(M.text("empty_upload"))
        raise UploadRefused(
            M.text("no_assignment_folder", folders=", ".join(f"{a}/" for a in assignment_ids))
        )
    return root


def pack_upload(upload: Path, work: Path, assignment_ids: Sequence[str]) -> Packed:
    """Check an uploaded archive like ``grader batch`` and pack its submission; UploadRefused otherwise."""
    kind = _kind(upload)
    if not kind:
        raise UploadRefused(M.text("not_an_archive"))
    extracted = Path(tempfile.mkdtemp(prefix="upload-", dir=work))
    try:
        try:
            if kind == "zip":
                safe_extract_zip(upload, extracted / "x")
            else:
                safe_extract_tar(upload, extracted / "x")
        except UnsafeArchive as exc:
            raise UploadRefused(M.text("unsafe_archive", reason=str(exc))) from None
        root = _checked_submission(extracted / "x", assignment_ids)
        archive, files = _pack(upload, kind, root.relative_to(extracted / "x").parts)
    finally:
        shutil.rmtree(extracted, ignore_errors=True)
    return Packed(archive, hashlib.sha256(archive).hexdigest(), files)


def pack_files(
    files: Iterable[tuple[str, Path]], work: Path, assignment_ids: Sequence[str], folder_for_loose: str | None
) -> Packed:
    """Loose files from the web form (names may carry folders, as a folder picker sends them).

    They are put into a tar under their names and go through the same checks as an archive; files
    without a folder go into ``folder_for_loose`` (the one assignment chosen), else are refused.
    """
    fd, name = tempfile.mkstemp(prefix="files-", suffix=".tar", dir=work)
    os.close(fd)
    tar_path = Path(name)
    try:
        count = 0
        with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
            for filename, path in files:
                arcname = filename.replace("\\", "/")
                if "/" not in arcname.strip("/"):
                    if folder_for_loose is None:
                        raise UploadRefused(M.text("loose_files"))
                    arcname = f"{folder_for_loose}/{arcname}"
                info = tarfile.TarInfo(arcname)
                info.size = path.stat().st_size
                info.mode = 0o755 if arcname.endswith((".sh", ".py")) else 0o644
                with path.open("rb") as f:
                    tar.addfile(info, f)
                count += 1
        if not count:
            raise UploadRefused(M.text("empty_upload"))
        return pack_upload(tar_path, work, assignment_ids)
    finally:
        tar_path.unlink(missing_ok=True)


def too_large(limit: int) -> UploadRefused:
    """The refusal of a body over ``limit`` bytes."""
    return UploadRefused(M.text("too_large", limit=size_text(limit)), status=413)
