"""Intake: turn a class's download (a folder or an LMS zip) into one submission folder per student.

Recognised layouts, and where the student id comes from:

==================  ==========================================================  ======================
layout              what it looks like                                          student id
==================  ==========================================================  ======================
``folders``         ``alice/topic-create/...``, ``bob/...``                     the folder name
``zips``            ``alice.zip``, ``bob.tar.gz``                               the archive's name
``moodle``          ``Alice Smith_123456_assignsubmission_file_/sub.zip``       Moodle's participant id
                    (folders), or ``..._assignsubmission_file_sub.zip`` (flat)  (the number); name too
``canvas``          ``smithalice_4321_98765_sub.zip`` (``_LATE_`` allowed)      Canvas's user id (the
                                                                                first number); login too
``gradescope``      ``submission_metadata.yml`` + ``submission_<n>/``           the submitter's ``sid``
                                                                                (else e-mail); name too
``github``          ``<assignment>-<login>/.git`` (GitHub Classroom clones)     the login (the name
                                                                                without the shared prefix)
==================  ==========================================================  ======================

Inside each student's material the submission root is the shallowest folder holding an
assignment folder (``topic-create/``, ...), so a zip of ``my-repo/topic-create/...`` works too.
Archives are extracted with :mod:`grader.batch.safety` into the batch's own work folder; an unsafe
archive, an empty or unrecognisable submission gets a row saying so instead of a grade.

The submission time comes from where the layout knows one: the graded commit's committer date for
Classroom clones, ``:created_at:`` in Gradescope's metadata, and the times the LMS put on the files of
a Moodle or Canvas zip passed as downloaded (an extracted folder's times are whatever the tool that
extracted it wrote, so they are not trusted). Anywhere else it is unknown, and nothing is late.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path

from grader.batch.safety import UnsafeArchive, is_archive, safe_extract, safe_extract_tar
from grader.errors import UsageError
from grader.submission_files import SubmissionRefused, copy_tree, inspect

IGNORED = {".DS_Store", "__MACOSX", "Thumbs.db", "desktop.ini"}
MAX_DEPTH = 3
LAYOUTS = ("folders", "zips", "moodle", "canvas", "gradescope", "github")
"""The class download layouts ``--layout`` may force (``auto`` recognises them)."""
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?:file|onlinetext)_?(?P<rest>.*)$")
_CANVAS = re.compile(r"^(?P<login>[^_]+)(?:_LATE)?_(?P<uid>\d+)_(?P<subid>\d+)_(?P<rest>.+)$")
_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9._@-]+")


class IntakeStatus(StrEnum):
    """Whether a student's material became a gradable submission folder."""

    OK = "ok"
    EMPTY = "empty"
    """Nothing was handed in (no files)."""
    UNRECOGNISED = "unrecognised"
    """Files, but no assignment folder among them."""
    REFUSED = "refused"
    """An unsafe archive or link; nothing of it was extracted."""


@dataclass
class Submission:
    """One student's submission as found in the download."""

    student_id: str
    source: str
    """Where it came from, relative to the download (for the TA)."""
    layout: str
    name: str = ""
    email: str = ""
    login: str = ""
    root: Path | None = None
    """The folder to grade (holds ``topic-create/`` and the like); None unless status is OK."""
    status: IntakeStatus = IntakeStatus.OK
    note: str = ""
    """Why it is not gradable, or anything else the TA should know (e.g. the commit graded)."""
    key: str = ""
    """Unique, file-system-safe name: the student's folder under ``--out``."""
    lms_id: str = ""
    """The LMS's own id of the student (Moodle's participant number, Canvas's user id), kept when the
    roster replaces ``student_id`` with the institution's id: the LMS exports are joined on it."""
    submitted_at: datetime | None = None
    """When it was handed in, where the layout says so (aware); None: unknown."""
    time_source: str = ""
    """Where ``submitted_at`` came from, e.g. ``Moodle file time``, ``commit 3f2a1b0c9d``."""


def safe_key(text: str) -> str:
    """A folder name made from ``text``: no separators, no leading dots, never empty."""
    key = _UNSAFE_KEY.sub("_", text.strip()).strip("._") or "student"
    return key[:80]


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in IGNORED)


def _has_files(folder: Path) -> bool:
    return any(p.is_file() and p.name not in IGNORED for p in folder.rglob("*"))


def find_root(material: Path, assignment_ids: set[str]) -> Path | None:
    """The shallowest folder under ``material`` (itself included) that holds an assignment folder."""
    level = [material]
    for _ in range(MAX_DEPTH + 1):
        for folder in level:
            if any((folder / a).is_dir() and not (folder / a).is_symlink() for a in assignment_ids):
                return folder
        level = [
            child
            for folder in level
            for child in _entries(folder)
            if child.is_dir() and not child.is_symlink() and child.name != ".git"
        ]
    return None


def _links_out(root: Path) -> str:
    """The first symbolic link under ``root`` that points outside it, as a note, or ``""``."""
    base = root.resolve()
    for path in root.rglob("*"):
        if path.is_symlink():
            target = (path.parent / os.readlink(path)).resolve()
            if target != base and base not in target.parents:
                return f"{path.relative_to(root)} is a link pointing outside the submission"
    return ""


def _over_limits(root: Path, label: str = "") -> str:
    """Why ``root`` is not graded (a file or a total over the size limits, unreadable files), or ``""``.

    Checked before the submission is copied, hashed or packed: a sparse file of 1 GiB apparent size
    would otherwise be expanded to its full size by each of them.
    """
    try:
        inventory = inspect(root, label=label)
    except SubmissionRefused as exc:
        return str(exc)
    return inventory.refusal()


def _extended_mtime(extra: bytes) -> int | None:
    """The UTC mtime in a zip entry's extended-timestamp field (0x5455), if it has one."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + size]
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            return int(struct.unpack_from("<i", body, 1)[0])
        i += 4 + size
    return None


def zip_entry_times(archive: Path, tz: tzinfo) -> dict[str, datetime]:
    """Entry name -> its time in ``archive``: the UTC extended timestamp where present, else the DOS
    time read in ``tz`` (DOS times carry no zone; an LMS writes its server's local time)."""
    times: dict[str, datetime] = {}
    try:
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if info.is_dir():
                    continue
                stamp = _extended_mtime(info.extra)
                if stamp is not None:
                    times[info.filename.rstrip("/")] = datetime.fromtimestamp(stamp, UTC)
                elif info.date_time[0] > 1980:  # 1980-01-01 is "no time" in DOS terms
                    times[info.filename.rstrip("/")] = datetime(*info.date_time, tzinfo=tz)
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}
    return times


class Intake:
    """Builds :class:`Submission` values; archives are extracted under ``work`` (inside ``--out``)."""

    def __init__(
        self,
        work: Path,
        assignment_ids: list[str],
        deadline: datetime | None = None,
        file_times: dict[str, datetime] | None = None,
    ) -> None:
        self.work = work
        self.assignment_ids = set(assignment_ids)
        self.deadline = deadline
        self.file_times = file_times or {}
        """Path relative to the download -> the time the LMS's zip gave it (empty: not a zip download)."""
        self._counter = 0

    def _lms_time(self, entries: list[Path], download: Path, what: str, sub: Submission) -> None:
        """The latest time the LMS's zip gave any of ``entries`` (a student's files), if it gave any."""
        if not self.file_times:
            return
        names = {e.relative_to(download).as_posix() for e in entries}
        found = [
            t for rel, t in self.file_times.items() if rel in names or rel.split("/", 1)[0] in names
        ]
        if found:
            sub.submitted_at, sub.time_source = max(found), f"{what} file time"

    def _scratch(self, hint: str) -> Path:
        self._counter += 1
        folder = self.work / f"{self._counter:04d}-{safe_key(hint)}"
        shutil.rmtree(folder, ignore_errors=True)
        return folder

    def settle(self, sub: Submission, material: list[Path]) -> Submission:
        """Extract archives among ``material`` if needed and find the submission root."""
        files = [m for m in material if m.name not in IGNORED]
        if not files or not any(m.is_file() or (m.is_dir() and _has_files(m)) for m in files):
            sub.status, sub.note = IntakeStatus.EMPTY, "nothing was handed in (no files)"
            return sub
        if len(files) == 1 and files[0].is_dir():
            folder = files[0]
        else:
            folder = self._scratch(sub.student_id)
            folder.mkdir(parents=True)
            for m in files:
                dest = folder / m.name
                if m.is_dir():
                    refusal = _over_limits(m, label=f"{m.name}/")
                    if refusal:
                        sub.status, sub.note = IntakeStatus.REFUSED, f"refused: {refusal}"
                        return sub
                    copy_tree(m, dest)
                elif m.is_symlink():
                    sub.status = IntakeStatus.REFUSED
                    sub.note = f"{m.name} is a link, not a file; hand in the file itself"
                    return sub
                else:
                    shutil.copy2(m, dest)
        root = find_root(folder, self.assignment_ids)
        if root is None:
            archives = [p for p in _entries(folder) if is_archive(p)]
            if len(archives) == 1:
                extracted = self._scratch(sub.student_id + "-x")
                try:
                    safe_extract(archives[0], extracted)
                except UnsafeArchive as exc:
                    sub.status = IntakeStatus.REFUSED
                    sub.note = f"{archives[0].name} was not extracted: {exc}"
                    return sub
                folder = extracted
                root = find_root(folder, self.assignment_ids)
        if root is None:
            if not _has_files(folder):
                sub.status, sub.note = IntakeStatus.EMPTY, "nothing was handed in (only empty folders)"
            else:
                found = ", ".join(p.name for p in _entries(folder)[:6])
                sub.status = IntakeStatus.UNRECOGNISED
                sub.note = (
                    f"no assignment folder found (looked for {', '.join(sorted(self.assignment_ids))} "
                    f"up to {MAX_DEPTH} levels deep; found: {found or 'nothing'}); the submission must "
                    "have one folder per assignment, like student_template/"
                )
            return sub
        link = _links_out(root)
        if link:
            sub.status, sub.note = IntakeStatus.REFUSED, f"refused: {link}"
            return sub
        refusal = _over_limits(root)
        if refusal:
            sub.status, sub.note = IntakeStatus.REFUSED, f"refused: {refusal}"
            return sub
        sub.root = root
        return sub

    # -- layouts ---------------------------------------------------------------------------------

    def folders_or_zips(self, download: Path) -> list[Submission]:
        """One entry per student: a folder or an archive named after them."""
        subs = []
        for entry in _entries(download):
            if entry.name.startswith("."):
                continue
            student = entry.name
            if entry.is_file():
                student = re.sub(r"\.(zip|tar|tgz|tar\.gz|tar\.bz2|tar\.xz)$", "", entry.name, flags=re.I)
            layout = "folders" if entry.is_dir() else "zips"
            subs.append(self.settle(Submission(student, entry.name, layout), [entry]))
        return subs

    def moodle(self, download: Path) -> list[Submission]:
        """Moodle's assignment download, with or without "submissions in folders"."""
        groups: dict[str, tuple[str, list[Path]]] = {}
        for entry in _entries(download):
            m = _MOODLE.match(entry.name)
            if m is None:
                continue
            groups.setdefault(m["id"], (m["name"], []))[1].append(entry)
        subs = []
        for student_id, (name, entries) in groups.items():
            material: list[Path] = []
            for entry in entries:
                material.extend(_entries(entry) if entry.is_dir() else [entry])
            source = ", ".join(e.name for e in entries)
            sub = Submission(student_id, source, "moodle", name=name, lms_id=student_id)
            self._lms_time(entries, download, "Moodle", sub)
            subs.append(self.settle(sub, material))
        return subs

    def canvas(self, download: Path) -> list[Submission]:
        """Canvas's "Download submissions" zip: ``login[_LATE]_userid_subid_filename``."""
        groups: dict[str, tuple[str, list[Path]]] = {}
        for entry in _entries(download):
            m = _CANVAS.match(entry.name)
            if m is None:
                continue
            groups.setdefault(m["uid"], (m["login"], []))[1].append(entry)
        subs = []
        for student_id, (login, entries) in groups.items():
            source = ", ".join(e.name for e in entries)
            sub = Submission(student_id, source, "canvas", login=login, lms_id=student_id)
            self._lms_time(entries, download, "Canvas", sub)
            if any("_LATE_" in e.name for e in entries):
                sub.note = "Canvas marked it late"
            subs.append(self.settle(sub, entries))
        return subs

    def gradescope(self, download: Path) -> list[Submission]:
        """Gradescope's "Export submissions": ``submission_metadata.yml`` + ``submission_<n>/``."""
        import yaml

        try:
            meta = yaml.safe_load((download / "submission_metadata.yml").read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"{download}/submission_metadata.yml cannot be read: {exc}") from exc
        subs = []
        for folder_name, info in sorted(meta.items()):
            submitters = (info or {}).get(":submitters") or [{}]
            first = submitters[0] or {}
            sid = str(first.get(":sid") or first.get(":email") or folder_name)
            sub = Submission(
                sid,
                str(folder_name),
                "gradescope",
                name=str(first.get(":name") or ""),
                email=str(first.get(":email") or ""),
            )
            if len(submitters) > 1:
                others = ", ".join(str(s.get(":name") or s.get(":sid")) for s in submitters[1:])
                sub.note = f"group submission; also by {others}"
            created = _gradescope_time((info or {}).get(":created_at"))
            if created is not None:
                sub.submitted_at, sub.time_source = created, "Gradescope created_at"
            folder = download / str(folder_name)
            subs.append(self.settle(sub, [folder] if folder.is_dir() else []))
        return subs

    def github(self, download: Path) -> list[Submission]:
        """GitHub Classroom clones ``<assignment>-<login>/``; at the last commit before the deadline."""
        repos = [e for e in _entries(download) if (e / ".git").exists()]
        names = [r.name for r in repos]
        # The shared "<assignment>-" prefix, compared as text (these are names, not paths).
        prefix = os.path.commonprefix(names) if len(names) > 1 else ""  # noqa: RUF071
        prefix = prefix[: prefix.rfind("-") + 1]
        subs = []
        for repo in repos:
            login = repo.name[len(prefix) :] or repo.name
            sub = Submission(login, repo.name, "github", login=login)
            if self.deadline is None:
                head = self._git(repo, "rev-parse", "--verify", "-q", "HEAD").stdout.decode().strip()
                if head:
                    self._commit_time(sub, repo, head)
                subs.append(self.settle(sub, [repo]))
                continue
            subs.append(self._at_deadline(sub, repo))
        return subs

    def _commit_time(self, sub: Submission, repo: Path, commit: str) -> None:
        found = self._git(repo, "log", "-1", "--format=%cI", commit)
        try:
            sub.submitted_at = datetime.fromisoformat(found.stdout.decode().strip())
        except ValueError:
            return
        # The committer date is written by the student's own git, so the TA should know where it is from.
        sub.time_source = f"commit {commit[:10]} (committer date)"

    def _git(self, repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
        # Untrusted repositories: no hooks, no fsmonitor, no pager; only read-only plumbing commands.
        return subprocess.run(
            ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
             "-c", f"safe.directory={repo}", "-C", str(repo), *args],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip

    def _at_deadline(self, sub: Submission, repo: Path) -> Submission:
        assert self.deadline is not None
        found = self._git(repo, "rev-list", "-1", f"--before={self.deadline.isoformat()}", "HEAD")
        commit = found.stdout.decode().strip()
        if found.returncode != 0 or not commit:
            sub.status = IntakeStatus.EMPTY
            sub.note = f"no commit before the deadline {self.deadline.isoformat()}"
            return sub
        archive = self._git(repo, "archive", "--format=tar", commit)
        if archive.returncode != 0:
            sub.status = IntakeStatus.UNRECOGNISED
            sub.note = f"git archive of {commit[:10]} failed: {archive.stderr.decode()[-300:]}"
            return sub
        folder = self._scratch(sub.student_id)
        import io

        try:
            safe_extract_tar(io.BytesIO(archive.stdout), folder)
        except UnsafeArchive as exc:
            sub.status, sub.note = IntakeStatus.REFUSED, f"commit {commit[:10]} not extracted: {exc}"
            return sub
        self._commit_time(sub, repo, commit)
        sub = self.settle(sub, [folder])
        sub.note = (
            sub.note + "; " if sub.note else ""
        ) + f"graded commit {commit[:10]} (last before deadline)"
        return sub


def _gradescope_time(value: object) -> datetime | None:
    """``:created_at:`` as Gradescope writes it (``2026-11-30 21:14:05.123456789 +0300``), or None."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?$", value.strip())
    if m is None:
        return None
    fraction = (m[3] or "0")[:6].ljust(6, "0")
    zone = m[4] or "+00:00"
    zone = "+00:00" if zone == "Z" else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        return datetime.fromisoformat(f"{m[1]}T{m[2]}.{fraction}{zone}")
    except ValueError:
        return None


def detect_layout(download: Path) -> str:
    """``gradescope`` | ``moodle`` | ``canvas`` | ``github`` | ``folders`` for a download folder."""
    if (download / "submission_metadata.yml").is_file():
        return "gradescope"
    names = [e.name for e in _entries(download) if not e.name.startswith(".")]
    if names and sum(bool(_MOODLE.match(n)) for n in names) >= max(1, len(names) // 2):
        return "moodle"
    if names and sum(bool(_CANVAS.match(n)) and not (download / n).is_dir() for n in names) >= max(
        1, len(names) // 2
    ):
        return "canvas"
    if (
        names
        and all((download / n / ".git").exists() for n in names if (download / n).is_dir())
        and any((download / n / ".git").exists() for n in names)
    ):
        return "github"
    return "folders"


def assign_keys(subs: list[Submission]) -> None:
    """Give every submission a unique folder name made from its student id."""
    seen: dict[str, int] = {}
    for sub in subs:
        base = safe_key(sub.student_id)
        n = seen.get(base, 0)
        seen[base] = n + 1
        sub.key = base if n == 0 else f"{base}-{n + 1}"


def collect(
    source: Path,
    work: Path,
    assignment_ids: list[str],
    *,
    layout: str = "auto",
    deadline: datetime | None = None,
    tz: tzinfo = UTC,
) -> tuple[str, list[Submission]]:
    """Every student's submission in ``source`` (a folder or an LMS zip); returns (layout, submissions).

    ``work`` (inside ``--out``) receives every extracted archive; it is emptied first. ``tz`` reads the
    zone-less file times of an LMS zip (the course's time zone).
    """
    if not source.exists():
        raise UsageError(f"{source} does not exist; pass the folder or zip with the class's submissions")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    download = source
    times: dict[str, datetime] = {}
    if source.is_file():
        if not is_archive(source):
            raise UsageError(f"{source} is neither a folder nor a zip/tar archive of submissions")
        download = work / "download"
        try:
            safe_extract(source, download)
        except UnsafeArchive as exc:
            raise UsageError(f"{source} was not extracted: {exc}") from exc
        times = zip_entry_times(source, tz) if zipfile.is_zipfile(source) else {}
        inner = _entries(download)
        if (
            len(inner) == 1
            and inner[0].is_dir()
            and detect_layout(download) == "folders"
            and not any((inner[0] / a).is_dir() for a in assignment_ids)
        ):
            # An LMS zip that wraps everything in one top folder.
            download = inner[0]
            prefix = inner[0].name + "/"
            times = {k.removeprefix(prefix): v for k, v in times.items() if k.startswith(prefix)}
    intake = Intake(work / "submissions", assignment_ids, deadline, file_times=times)
    layout = detect_layout(download) if layout == "auto" else layout
    methods = {
        "folders": intake.folders_or_zips,
        "zips": intake.folders_or_zips,
        "moodle": intake.moodle,
        "canvas": intake.canvas,
        "gradescope": intake.gradescope,
        "github": intake.github,
    }
    assert set(methods) == set(LAYOUTS)
    if layout not in methods:
        raise UsageError(f"unknown layout {layout!r}; choose one of auto, {', '.join(methods)}")
    subs = methods[layout](download)
    assign_keys(subs)
    return layout, subs
