"""``grader serve`` as students and TAs use it: a real server on loopback driven by httpx, the same suite
on SQLite (the embedded default) and on PostgreSQL (a server of its own in a temp dir).

Gradings are real (``-a topic-create`` on the local sandbox: a Kafka cluster per job); the rate-limit
tests use a submission the size limits refuse, which the real ``run_job`` grades without a sandbox.
"""

from __future__ import annotations

import csv
import io
import re
import socket
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from serve_support import (
    EXAMPLES,
    PostgresServer,
    Service,
    course_file,
    csrf_of,
    example,
    grader_cli,
    pg_bin,
    runs_by_submission,
    submit,
    too_many_entries,
    wait_final,
)

from grader.serve.context import attempt_seed

STUDENTS = ["s001", "s002", "s003", "s004", "s005", "s006"]
NAMES = {"s006": "<b>Mallory</b> & Co"}
XSS = "<script>alert('owned')</script><img src=x onerror=alert(1)>"

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session's service tests (each test module makes its own databases)."""
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/system-deps.sh installs Debian's postgresql)")
    server = PostgresServer()
    try:
        yield server
    finally:
        server.close()


def _db_url(request: pytest.FixtureRequest, backend: str) -> str | None:
    if backend == "sqlite":
        return None
    pg: PostgresServer = request.getfixturevalue("postgres")
    return pg.create_database(f"serve_{uuid.uuid4().hex[:10]}")


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, nothing_left_behind: Path
) -> Iterator[Service]:
    """A running service with two sandbox slots, on the backend of the parameter."""
    folder = tmp_path_factory.mktemp(f"serve-{request.param}")
    svc = Service(
        folder, db_url=_db_url(request, request.param), students=STUDENTS, names=NAMES,
        args=["--jobs", "2",
              "--course", str(course_file(folder, attempts=4, max_pending=1, best="topic-create"))],
    )  # fmt: skip
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def graded(service: Service, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """s001's correct topic-create through the API, s002's flawed one through ``grader submit``; graded.

    ``cli`` holds what ``grader submit`` did: its exit code, output and report folder.
    """
    with service.api("s001") as api:
        response = submit(api, example("good-student"), "topic-create")
        assert response.status_code == 202, response.text
        out = tmp_path_factory.mktemp("submit") / "report"
        done = grader_cli(
            "submit", str(EXAMPLES / "flawed-student"), "-a", "topic-create", "--server", service.url,
            "--token", service.tokens["s002"], "--out", str(out), timeout=400,
        )  # fmt: skip
        good = wait_final(api, response.json()["id"])
    with service.api("s002") as api:
        (flawed,) = api.get("/api/submissions").json()
    return {"s001": good, "s002": flawed, "cli": {"code": done.returncode, "stdout": done.stdout,
                                                    "stderr": done.stderr, "out": out}}  # fmt: skip


def test_a_login_link_sets_a_signed_httponly_session_cookie(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        bad = client.get("/login", params={"token": "not-a-token"})
        assert bad.status_code == 401
        assert "grader_session" not in bad.headers.get("set-cookie", "")
        page = client.get("/login", params={"token": service.tokens["s001"]})
        assert page.status_code == 200
        assert "Log in as Student S001" in page.text
        forged = client.post("/login", data={"token": service.tokens["s001"], "login_csrf": "guess"})
        assert forged.status_code == 403, "a login form from another site is refused"
        login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
        assert login_csrf is not None
        done = client.post(
            "/login", data={"token": service.tokens["s001"], "login_csrf": login_csrf.group(1)}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/submissions"
        cookie = done.headers["set-cookie"]
        assert "grader_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie, "plain http on loopback: a Secure cookie would never come back"
        mine = client.get("/submissions")
        assert mine.status_code == 200
        assert "My submissions" in mine.text
        tampered = httpx.get(
            f"{service.url}/submissions",
            cookies={"grader_session": client.cookies["grader_session"][:-2] + "xx"},
        )
        assert tampered.status_code == 401


def test_submissions_are_graded_with_the_right_scores_and_seeds(
    service: Service, graded: dict[str, dict[str, object]]
) -> None:
    good, flawed = graded["s001"], graded["s002"]
    assert (good["status"], good["outcome"], good["points"], good["max_points"]) == ("done", "passed", 10, 10)
    assert flawed["status"] == "done"
    assert flawed["outcome"] == "failed"
    assert isinstance(flawed["points"], float)
    assert flawed["points"] < 10
    assert good["counted"]
    assert flawed["counted"]
    assert good["seed"] == attempt_seed(4242, "s001", 1), "the course seed, the student and the attempt"
    assert flawed["seed"] == attempt_seed(4242, "s002", 1)
    with service.api("s001") as api:
        listed = api.get("/api/submissions").json()
    assert [s["id"] for s in listed] == [good["id"]], "a student's list holds only their own submissions"


def test_the_report_is_the_student_view_under_a_strict_csp(
    service: Service, graded: dict[str, dict[str, object]]
) -> None:
    sub_id = graded["s002"]["id"]
    with service.browser_session("s002") as client:
        report = client.get(f"/submissions/{sub_id}/report")
        assert report.status_code == 200
        assert 'id="total-score"' in report.text
        assert "Create your topic" in report.text
        csp = report.headers["content-security-policy"]
        assert "'sha256-" in csp
        assert "unsafe-inline" not in csp
        assert "script-src" not in csp
        assert "default-src 'none'" in csp
        results = client.get(f"/submissions/{sub_id}/results.json").json()
        assert results["points"] == graded["s002"]["points"]
        assert client.get(f"/submissions/{sub_id}/junit.xml").status_code == 404, "TA only"
        page = client.get(f"/submissions/{sub_id}")
        assert 'id="report-link"' in page.text
        assert 'data-status="done"' in page.text
    with service.browser_session("ta1") as ta:
        assert ta.get(f"/submissions/{sub_id}/junit.xml").status_code == 200


def test_the_next_attempt_shows_what_changed(service: Service, graded: dict[str, dict[str, object]]) -> None:
    with service.api("s001") as api:
        response = submit(api, too_many_entries(), "topic-create")
        assert response.status_code == 202, response.text
        second = wait_final(api, response.json()["id"])
    assert second["attempt"] == 2
    assert second["outcome"] == "failed"
    assert second["seed"] == attempt_seed(4242, "s001", 2) != graded["s001"]["seed"]
    with service.browser_session("s001") as client:
        page = client.get(f"/submissions/{second['id']}").text
    changes = page[page.index('id="changes"') :]
    assert "Since attempt 1" in changes
    assert "No longer passing:" in changes
    assert "Topic has 6 partitions" in changes
    assert "Now passing:" not in changes


def test_grader_submit_sends_a_folder_and_writes_the_student_reports(
    service: Service, graded: dict[str, dict[str, object]]
) -> None:
    cli = graded["cli"]
    assert cli["code"] == 1, cli  # some checks failed: grader check's exit code
    assert "Submitted: attempt 1 (4 files)" in str(cli["stdout"])
    assert f"Score: {graded['s002']['points']:g}/10 (failed)" in str(cli["stdout"])
    out = Path(str(cli["out"]))
    assert "Create your topic" in (out / "summary.md").read_text(encoding="utf-8")
    assert (out / "report.html").is_file()
    assert (out / "classroom" / "results.json").is_file()
    bad = grader_cli("submit", str(EXAMPLES / "good-student"), "--server", service.url, "--token", "nope")
    assert bad.returncode == 4
    assert bad.stderr.count("\n") == 1
    assert "does not accept this token" in bad.stderr


def test_rate_limit_and_pending_cap_refuse_with_when(service: Service) -> None:
    cheap = too_many_entries()
    with service.api("s004") as api:
        # A real grading takes seconds: the next submission finds it still waiting.
        first = submit(api, example("good-student"), "topic-create")
        assert first.status_code == 202
        second = submit(api, example("good-student"), "topic-create")
        assert second.status_code == 429, second.text
        assert "at most 1 at once" in second.json()["detail"]
        assert wait_final(api, first.json()["id"])["outcome"] == "passed"
        cheap_ids = []
        for _ in range(3):
            accepted = submit(api, cheap)
            assert accepted.status_code == 202
            cheap_ids.append(accepted.json()["id"])
            result = wait_final(api, accepted.json()["id"])
            # Refused by the size limits inside run_job: the student's problem, an attempt, no sandbox.
            assert (result["status"], result["outcome"], result["counted"]) == ("done", "failed", True)
        refused = submit(api, cheap)
    assert refused.status_code == 429
    detail = refused.json()["detail"]
    assert "You have used your 4 attempts per 1 h; the next attempt is possible at" in detail
    assert 0 < int(refused.headers["retry-after"]) <= 900 + 1
    report = httpx.get(f"{service.url}/submissions/{cheap_ids[0]}/results.json",
                       headers={"Authorization": f"Bearer {service.tokens['s004']}"}).json()  # fmt: skip
    assert "more than 10000 files and folders" in report["assignments"][0]["checks"][0]["message"]


def test_the_web_form_takes_archives_and_files_and_refuses_unsafe_ones(service: Service) -> None:
    with service.browser_session("s005") as client:
        page = client.get("/submissions")
        csrf = csrf_of(page.text)
        archive = ("sub.zip", _zip({"../evil.sh": b"echo"}), "application/zip")
        no_csrf = client.post("/submissions", files={"files": archive})
        assert no_csrf.status_code == 403
        unsafe = client.post("/submissions", data={"csrf": csrf}, files={"files": archive})
        assert unsafe.status_code == 422
        assert "climbs out of the archive" in unsafe.text
        loose = client.post(
            "/submissions", data={"csrf": csrf}, files=[("files", ("create_topic.sh", "echo", "text/x-sh"))]
        )
        assert loose.status_code == 422
        assert "put them into their assignment" in loose.text
        body = f'#!/bin/bash\necho "{XSS}"\necho "{XSS}" >&2\n'
        ok = client.post(
            "/submissions", data={"csrf": csrf, "assignment": "topic-create"},
            files=[("files", ("create_topic.sh", body, "text/x-sh"))],
        )  # fmt: skip
        assert ok.status_code == 303, ok.text
        sub_id = int(ok.headers["location"].rsplit("/", 1)[1])
        result = wait_final(client, sub_id)
        assert result["assignments"] == ["topic-create"]
        assert result["outcome"] == "failed"
        report = client.get(f"/submissions/{sub_id}/report").text
    assert "<script>alert" not in report
    assert "onerror=alert(1)>" not in report
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in report, "student output is escaped text"


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_the_class_page_gradebook_and_a_regrade(
    service: Service, graded: dict[str, dict[str, object]]
) -> None:
    with service.browser_session("ta1") as ta:
        page = ta.get("/class")
        assert page.status_code == 200
        assert 'data-student="s001"' in page.text
        assert 'data-check="topic-create.' in page.text
        assert "&lt;b&gt;Mallory&lt;/b&gt; &amp; Co" in page.text
        assert "<b>Mallory</b>" not in page.text
        book = ta.get("/class/gradebook.csv")
        assert book.status_code == 200
        assert book.headers["content-type"].startswith("text/csv")
        rows = {row["student_id"]: row for row in csv.DictReader(io.StringIO(book.text))}
        # course.toml counts the best attempt of topic-create: s001's 10 points, not the refused attempt 2.
        assert rows["s001"]["topic-create"] == "10"
        assert rows["s001"]["name"] == "Student S001"
        assert rows["s006"]["status"] == "missing"
        assert rows["s006"]["name"] == NAMES["s006"]
        sub_id = graded["s001"]["id"]
        before = runs_by_submission(service)[sub_id]
        no_csrf = ta.post(f"/submissions/{sub_id}/regrade")
        assert no_csrf.status_code == 403
        again = ta.post(f"/submissions/{sub_id}/regrade", data={"csrf": csrf_of(page.text)})
        assert again.status_code == 303
        regraded = wait_final(ta, sub_id)
    assert regraded["outcome"] == "passed"
    assert regraded["seed"] == graded["s001"]["seed"]
    assert runs_by_submission(service)[sub_id] == [*before, "graded"]


def test_a_body_over_the_limit_is_refused_while_it_streams(service: Service) -> None:
    assert service.proc is not None
    server = psutil.Process(service.proc.pid)
    # A declared length over the limit is answered before any of the body is sent.
    answer: bytes | str
    with socket.create_connection(("127.0.0.1", service.port), timeout=30) as sock:
        sock.sendall(
            f"POST /api/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {service.tokens['s005']}\r\n"
            f"Content-Length: {21 * 1024 * 1024}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413")
    assert "larger than 20 MiB" in answer
    before = server.memory_info().rss

    def body() -> Iterator[bytes]:
        chunk = b"\0" * (1 << 20)
        for _ in range(64):
            yield chunk

    try:
        streamed = httpx.post(
            f"{service.url}/api/submissions", content=body(),
            headers={"Authorization": f"Bearer {service.tokens['s005']}"}, timeout=60,
        )  # fmt: skip
        assert streamed.status_code == 413
        assert "larger than 20 MiB" in streamed.text
    except (httpx.RemoteProtocolError, httpx.WriteError):
        pass  # the server closed the connection before the client stopped sending: refused either way
    assert server.memory_info().rss - before < 16 * 1024 * 1024, "the body was never held in memory"


def test_pages_carry_a_strict_csp_and_no_paths_or_tracebacks(
    service: Service, graded: dict[str, dict[str, object]]
) -> None:
    sub_id = graded["s001"]["id"]
    seen = []
    with service.browser_session("s001") as me, service.browser_session("ta1") as ta:
        for client, path in [
            (me, "/submissions"), (me, f"/submissions/{sub_id}"), (me, f"/submissions/{sub_id}/report"),
            (me, f"/submissions/{sub_id}/results.json"), (me, "/api/submissions"), (me, "/nowhere"),
            (me, "/submissions/999999"), (me, "/api/submissions/abc"), (ta, "/class"),
            (ta, f"/submissions/{sub_id}/junit.xml"), (ta, "/class/gradebook.csv"), (me, "/static/style.css"),
        ]:  # fmt: skip
            seen.append(client.get(path))
    seen += [httpx.get(f"{service.url}/login"), httpx.get(f"{service.url}/openapi.json")]
    for response in seen:
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp, response.url
        assert "unsafe-inline" not in csp, response.url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        for secret in (
            "Traceback",
            str(service.folder),
            str(Path(__file__).parents[1]),
            "/tmp/",
            "site-packages",
        ):
            assert secret not in response.text, f"{response.url} shows {secret!r}"
    assert [r.status_code for r in seen[5:8]] == [404, 404, 422]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_grader_time_out_is_retried_never_counted_and_never_a_zero(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, nothing_left_behind: Path
) -> None:
    folder = tmp_path / "timeout"
    folder.mkdir()
    svc = Service(
        folder, db_url=_db_url(request, backend), students=["s001"],
        args=["--jobs", "1", "--timeout", "2", "--retry-backoff", "0",
              "--course", str(course_file(folder, attempts=2, max_pending=1))],
    )  # fmt: skip
    svc.start()
    try:
        with svc.api("s001") as api:
            response = submit(api, example("good-student"), "topic-create")
            assert response.status_code == 202
            result = wait_final(api, response.json()["id"], timeout_s=120)
            page_html = ""
            with svc.browser_session("s001") as client:
                page_html = client.get(f"/submissions/{result['id']}").text
                history = client.get("/submissions").text
            again = submit(api, too_many_entries())
    finally:
        svc.stop()
    assert result["status"] == "timeout"
    assert result["points"] is None
    assert result["outcome"] is None
    assert result["counted"] is False
    assert "not your fault" in str(result["message"])
    assert runs_by_submission(svc)[int(str(result["id"]))] == ["timeout", "timeout", "timeout"], "3 tries"
    assert "Grader error: not your fault." in page_html
    assert 'id="score"' not in page_html
    assert "2 available now" in history, "the attempt was given back"
    assert again.status_code == 202, "the bucket still has both attempts"


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) of the application, read from the app itself."""
    import tempfile

    from fastapi.routing import APIRoute

    from grader.registry import discover
    from grader.serve.app import create_app
    from grader.serve.auth import Sessions
    from grader.serve.context import Context
    from grader.serve.db import Database
    from grader.serve.queue import Rules

    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(
            db=Database(f"sqlite:///{tmp}/x.db"), rules=Rules(),
            course_seed=1, assignments=discover(), sessions=Sessions("k"), slots=1, work=Path(tmp),
            upload_limit=1,
        )  # fmt: skip
        app = create_app(ctx)
        ctx.db.dispose()
    return sorted((m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods)


PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz"), ("GET", "/openapi.json")}
OWN = {("GET", "/"), ("GET", "/submissions"), ("POST", "/submissions"), ("POST", "/logout"),
       ("GET", "/api/submissions"), ("POST", "/api/submissions")}  # fmt: skip


def test_every_route_answers_404_for_another_students_ids_and_401_without_a_session(
    service: Service, graded: dict[str, dict[str, object]]
) -> None:
    theirs = graded["s001"]["id"]
    routes = _routes()
    checked: set[tuple[str, str]] = set()
    with service.browser_session("s002") as other, service.api("s002") as other_api:
        csrf = csrf_of(other.get("/submissions").text)
        for method, path in routes:
            url = path.replace("{submission_id}", str(theirs)).replace("{name:path}", "results.json")
            anonymous = httpx.request(method, f"{service.url}{url}", data={"csrf": csrf})
            if (method, path) in PUBLIC:
                assert anonymous.status_code != 401, (method, path)
                checked.add((method, path))
                continue
            assert anonymous.status_code == 401, (method, path, anonymous.status_code)
            checked.add((method, path))
            if (method, path) in OWN:
                continue
            for client in (other, other_api):
                answer = client.request(method, url, data={"csrf": csrf})
                assert answer.status_code == 404, (method, path, answer.status_code, answer.text[:200])
                assert str(graded["s001"]["seed"]) not in answer.text
        mine = other_api.get("/api/submissions").json()
        assert theirs not in [s["id"] for s in mine]
    assert checked == set(routes), "every route of the app was tried"
    assert ("GET", "/submissions/{submission_id}/report") in checked
