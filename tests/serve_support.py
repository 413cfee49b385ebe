"""What the service's tests share: a real PostgreSQL server in a temp dir, a real ``grader serve``
process on loopback, logged-in httpx clients, and the submissions they send.

Nothing here fakes the service: the server is the ``grader serve`` command, started as a child process
with its own data folder, and every request goes over a loopback socket.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from grading import example_path

from grader.procs import free_port

ROOT = Path(__file__).resolve().parents[1]
# The example submissions are assembled from the assignments' cases (grader examples).
EXAMPLES = example_path("good-student").parent
STUDENTS = [f"s{i:03d}" for i in range(1, 4)]
TAS = ["ta1"]


# -- PostgreSQL ---------------------------------------------------------------------------------------


def pg_bin() -> Path | None:
    """Debian's PostgreSQL programs (initdb, pg_ctl), newest version, or None when not installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class PostgresServer:
    """A PostgreSQL server of its own in a temp dir on a free loopback port; removed at the end."""

    def __init__(self) -> None:
        bin_dir = pg_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        # PostgreSQL refuses to run as root: as root the cluster belongs to the 'postgres' user, and its
        # folder lies directly in /tmp (the tests' private temp folder is not reachable for that user).
        self.user = "postgres" if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="grader-pg-", dir="/tmp"))
        self.data = self.folder / "data"
        self.port = free_port()
        if self.user:
            shutil.chown(self.folder, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "grader", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / program), *args], capture_output=True, text=True, check=check, user=self.user,
            cwd=self.folder, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        """Start (or start again) the server and wait until it accepts connections."""
        options = f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect every client, as a restart does)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(f"postgresql://grader@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str) -> str:
        """The URL of database ``name``."""
        return f"postgresql://grader@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        """Stop the server and remove its files."""
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


# -- submissions ---------------------------------------------------------------------------------------


def tar_gz(files: dict[str, bytes | str], *, executable: bool = True) -> bytes:
    """A tar.gz holding ``files`` (name -> content); scripts are executable."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if executable and name.endswith((".sh", ".py")) else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def example(name: str) -> bytes:
    """An example submission of ``examples/`` as the tar.gz ``grader submit`` would send."""
    from grader.serve.client import pack_folder

    return pack_folder(EXAMPLES / name).data


def script(body: str) -> bytes:
    """A topic-create submission whose create_topic.sh is ``body``."""
    return tar_gz({"topic-create/create_topic.sh": "#!/bin/bash\n" + body + "\n"})


def too_many_entries() -> bytes:
    """A submission the size limits refuse (more than 10,000 files and folders), as a small archive.

    Like committed dependencies with deep nesting (``node_modules``): 200 files fifty folders deep. The
    archive has 201 entries (its folders are implied by the names), so it passes the upload's archive
    checks; the runner counts every folder and refuses it before any sandbox starts.
    """
    files: dict[str, bytes | str] = {"topic-create/create_topic.sh": "#!/bin/bash\nexit 0\n"}
    for i in range(200):
        files[f"node_modules/p{i:03d}/" + "/".join(["node_modules"] * 49) + "/index.js"] = ""
    return tar_gz(files)


# -- the service ------------------------------------------------------------------------------------------


def roster(path: Path, ids: list[str], names: dict[str, str] | None = None) -> Path:
    """A roster CSV with ``ids`` (e-mails made from them; names from ``names`` or made up)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "email"])
        for sid in ids:
            writer.writerow([sid, (names or {}).get(sid, f"Student {sid.upper()}"), f"{sid}@example.edu"])
    return path


@dataclass
class Service:
    """A real ``grader serve`` process on a loopback port, with its own data folder and tokens."""

    folder: Path
    db_url: str | None = None
    students: list[str] = field(default_factory=lambda: list(STUDENTS))
    tas: list[str] = field(default_factory=lambda: list(TAS))
    args: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    starts: int = 0

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = self.folder / "data"
        self.roster = roster(self.folder / "roster.csv", self.students, self.names)
        self.tas_file = roster(self.folder / "tas.csv", self.tas)
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        """The service's address."""
        return f"http://127.0.0.1:{self.port}"

    def common(self) -> list[str]:
        """The options ``serve`` and ``serve tokens`` share."""
        db = ["--db", self.db_url] if self.db_url else []
        return ["--roster", str(self.roster), "--tas", str(self.tas_file), "--data", str(self.data), *db]

    def issue_tokens(self) -> dict[str, str]:
        """Run ``grader serve tokens``; returns id -> token."""
        out = self.folder / "tokens.csv"
        done = grader_cli("serve", "tokens", *self.common(), "--public-url", self.url, "--out", str(out))
        assert done.returncode == 0, done.stderr
        with out.open(encoding="utf-8") as f:
            self.tokens = {row["id"]: row["token"] for row in csv.DictReader(f)}
        return self.tokens

    @property
    def log(self) -> Path:
        """The server's output (all its starts)."""
        return self.folder / "server.log"

    def start(self, timeout_s: float = 60.0) -> Service:
        """Start ``grader serve`` and wait until it answers."""
        if not self.tokens:
            self.issue_tokens()
        self.starts += 1
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader", "serve", *self.common(), "--port", str(self.port),
             "--sandbox", "local", *self.args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"grader serve exited with {self.proc.returncode}:\n{self.log_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise AssertionError(f"grader serve did not answer within {timeout_s} s:\n{self.log_text()}")

    def log_text(self) -> str:
        """What the server printed."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def workers(self) -> list[psutil.Process]:
        """The server's grading worker processes right now."""
        if self.proc is None:
            return []
        found = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "grader.batch.worker" in " ".join(child.cmdline()):
                        found.append(child)
        return found

    def kill9(self) -> list[psutil.Process]:
        """``kill -9`` of the server process alone; returns the processes it had started (to check on)."""
        assert self.proc is not None
        children = psutil.Process(self.proc.pid).children(recursive=True)
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return children

    def stop(self) -> int | None:
        """SIGTERM, as Ctrl-C would; then anything left of its session is killed."""
        if self.proc is None:
            return None
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                code = None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self.proc = None
        return code

    def api(self, student: str, **kwargs: object) -> httpx.Client:
        """An API client with ``student``'s token."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.tokens[student]}"},
            timeout=60,
            **kwargs,
        )  # type: ignore[arg-type]

    @contextlib.contextmanager
    def browser_session(self, student: str) -> Iterator[httpx.Client]:
        """A client logged in through the login link, as a browser is (session cookie, CSRF from pages)."""
        with httpx.Client(base_url=self.url, timeout=60, follow_redirects=False) as client:
            page = client.get("/login", params={"token": self.tokens[student]})
            assert page.status_code == 200, page.text
            login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
            assert login_csrf is not None
            token = self.tokens[student]
            done = client.post("/login", data={"token": token, "login_csrf": login_csrf.group(1)})
            assert done.status_code == 303, done.text
            yield client


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def grader_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m grader ARGS`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
    )  # fmt: skip


def submit(client: httpx.Client, archive: bytes, *assignments: str) -> httpx.Response:
    """POST an archive to the API."""
    return client.post(
        "/api/submissions", params={"assignment": list(assignments)}, content=archive,
        headers={"Content-Type": "application/gzip"},
    )  # fmt: skip


def wait_final(client: httpx.Client, submission_id: int, timeout_s: float = 240) -> dict[str, object]:
    """Poll a submission until it is final; its last status."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get(f"/api/submissions/{submission_id}")
        if response.status_code == 200 and response.json()["final"]:
            data: dict[str, object] = response.json()
            return data
        time.sleep(0.5)
    raise AssertionError(f"submission {submission_id} not final after {timeout_s} s: {response.text}")


@contextlib.contextmanager
def running(service: Service) -> Iterator[Service]:
    """``service`` started, and stopped however the block ends."""
    service.start()
    try:
        yield service
    finally:
        service.stop()


def database_url(service: Service) -> str:
    """The URL of the service's database (its SQLite file when it has no --db)."""
    return service.db_url or f"sqlite:///{service.data / 'grader.db'}"


def runs_by_submission(service: Service) -> dict[int, list[str | None]]:
    """Submission id -> the outcomes of its runs, read from the service's own database."""
    from sqlalchemy import select

    from grader.serve.db import Database
    from grader.serve.models import Run

    db = Database(database_url(service))
    try:
        with db.reading() as session:
            found: dict[int, list[str | None]] = {}
            for run in session.scalars(select(Run).order_by(Run.id)):
                found.setdefault(run.submission_id, []).append(run.outcome)
        return found
    finally:
        db.dispose()


COURSE_TOML = """\
[course]
name = "Test course"
seed = 4242
timezone = "Europe/Moscow"

[service]
attempts = {attempts}
period = "1h"
max_pending = {max_pending}
"""


def course_file(folder: Path, attempts: int = 4, max_pending: int = 1, best: str = "") -> Path:
    """A course.toml with these service limits and the course seed 4242; ``best`` counts its best attempt."""
    path = folder / "course.toml"
    text = COURSE_TOML.format(attempts=attempts, max_pending=max_pending)
    if best:
        text += f'\n[assignments.{best}]\ncounts = "best"\n'
    path.write_text(text, encoding="utf-8")
    return path
