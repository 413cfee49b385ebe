"""A real browser on the service: Playwright driving Debian's Chromium (no browser download).

A student logs in by their link, uploads a submission through the form, watches the status page reach
"done" (its script polls the API) and opens the report; a TA then sees the class page. The pages must
work under their strict Content-Security-Policy: the browser reports no violation.
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import EXAMPLES, Service

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, nothing_left_behind: Path) -> Iterator[Service]:
    """The service with one student and one TA."""
    svc = Service(tmp_path_factory.mktemp("browser"), students=["s001"], args=["--jobs", "1"])
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Chromium through Playwright, headless, with a fresh profile; closed at the end."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-deps.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1100, "height": 900},
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


def _zip_of(folder: Path, path: Path) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                info = zipfile.ZipInfo(f"my-repo/{file.relative_to(folder).as_posix()}")
                info.external_attr = (0o755 if os.access(file, os.X_OK) else 0o644) << 16
                archive.writestr(info, file.read_bytes())
    path.write_bytes(buf.getvalue())
    return path


def _shots(tmp_path: Path) -> Path:
    """Where screenshots go: $GRADER_SCREENSHOTS to keep them, else the test's temp folder."""
    kept = os.environ.get("GRADER_SCREENSHOTS")
    folder = Path(kept) if kept else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_student_submits_in_the_browser_and_a_ta_sees_the_class(
    service: Service, browser: object, tmp_path: Path
) -> None:
    context = browser
    shots = _shots(tmp_path)
    violations: list[str] = []
    page = context.new_page()  # type: ignore[attr-defined]
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(f"{service.url}/login?token={service.tokens['s001']}")
    page.click("#login-button")
    page.wait_for_url(f"{service.url}/submissions")
    assert page.locator("h1").inner_text() == "My submissions"

    upload = _zip_of(EXAMPLES / "good-student", tmp_path / "lab.zip")
    page.set_input_files("#archive", str(upload))
    page.check("input[name=assignment][value=topic-create]")
    page.click("#submit-button")
    page.wait_for_url("**/submissions/*")
    status = page.locator("#status")
    assert status.get_attribute("data-status") in {"queued", "running"}
    page.screenshot(path=str(shots / "status-waiting.png"), full_page=True)
    # status.js polls the API and reloads the page once the result is in.
    page.wait_for_selector('#status[data-status="done"]', timeout=240_000)
    assert page.locator("#score").inner_text().replace(" ", "") == "10/10"
    page.screenshot(path=str(shots / "status-done.png"), full_page=True)

    page.click("#report-link")
    page.wait_for_selector("#total-score")
    assert page.locator("#total-score").inner_text().replace(" ", "") == "10/10"
    assert page.locator("#banner").get_attribute("data-outcome") == "passed"
    bar = page.locator(".bar > span")
    assert bar.evaluate("e => e.getBoundingClientRect().width") > 0, "the report's style attribute applies"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", ""), "the report's inline stylesheet applies"
    page.screenshot(path=str(shots / "report.png"), full_page=True)

    page.goto(f"{service.url}/submissions")
    page.click("nav.top button")  # log out
    page.wait_for_url(f"{service.url}/login")
    page.goto(f"{service.url}/login?token={service.tokens['ta1']}")
    page.click("#login-button")
    page.wait_for_url(f"{service.url}/class")
    row = page.locator('tr[data-student="s001"]')
    assert "10 / 10" in row.inner_text()
    assert page.locator("#counts").inner_text().startswith("0 queued · 0 running · 1 graded")
    assert page.locator("#checks meter").count() >= 5
    page.screenshot(path=str(shots / "class.png"), full_page=True)
    assert violations == [], violations
    if not os.environ.get("GRADER_SCREENSHOTS"):
        shutil.rmtree(shots, ignore_errors=True)
