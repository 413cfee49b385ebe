"""``grader submit``: pack a repository, send it to the course's grading service, wait for the result.

The folder is packed as a tar.gz without ``.git/`` and ``reports/`` (links and special files are
left out, as the service would refuse them); with ``--out`` the student-view reports are written
there (``report.html``, ``summary.md``, ``classroom/results.json``, ...), for a CI job summary.
Exit codes are ``grader check``'s: 0 full marks, 1 some checks failed, 2 interrupted, 3 grader or
service error, 4 refused (a bad token, the rate limit, an unsafe upload) or a usage error.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import GraderError, UsageError
from grader.submission_files import NOT_SUBMITTED

WAIT_S = 3600.0


@dataclass
class Packed:
    """A packed folder and what was left out of it."""

    data: bytes
    files: int
    left_out: list[str]


def pack_folder(root: Path) -> Packed:
    """``root`` as a tar.gz of its folders and regular files (no .git/, no reports/, no links)."""
    buf = io.BytesIO()
    left_out: list[str] = []
    files = 0
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for folder, dirs, names in os.walk(root):
            rel = Path(folder).relative_to(root)
            if rel == Path("."):
                dirs[:] = [d for d in dirs if d not in NOT_SUBMITTED]
            dirs.sort()
            for name in sorted(names) + [d for d in dirs if (Path(folder) / d).is_symlink()]:
                path = Path(folder) / name
                mode = path.lstat().st_mode
                arcname = (rel / name).as_posix()
                if not stat.S_ISREG(mode):
                    left_out.append(arcname)
                    continue
                info = tarfile.TarInfo(arcname)
                info.size = path.lstat().st_size
                info.mode = 0o755 if mode & 0o111 else 0o644
                with path.open("rb") as f:
                    tar.addfile(info, f)
                files += 1
            dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
    return Packed(buf.getvalue(), files, left_out)


def _detail(response: Any) -> str:
    try:
        return str(response.json().get("detail", "")) or response.reason_phrase
    except ValueError:
        return response.text.strip().splitlines()[0] if response.text.strip() else response.reason_phrase


def _request(client: Any, method: str, url: str, **kwargs: Any) -> Any:
    """One request; a busy or restarting service is asked again (it says when), a refusal is final."""
    import httpx

    for attempt in range(30):
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            if method == "GET" and attempt < 5:
                time.sleep(2.0)
                continue
            raise GraderError(
                f"cannot reach the grading service at {client.base_url} ({exc}); check --server"
            ) from None
        if response.status_code in (502, 503, 504) or (response.status_code == 429 and method == "GET"):
            time.sleep(min(30.0, float(response.headers.get("retry-after", "2"))))
            continue
        return response
    raise GraderError(f"the grading service at {client.base_url} stayed unavailable; try again later")


def _final_code(data: dict[str, Any]) -> int:
    if data["status"] != "done" or data.get("outcome") == "error":
        return 3
    return 0 if data.get("outcome") == "passed" else 1


def submit(
    server: str,
    token: str,
    folder: Path,
    assignments: list[str] | None = None,
    *,
    wait: bool = True,
    out: Path | None = None,
    wait_s: float = WAIT_S,
) -> int:
    """Submit ``folder``; print what happens; return the exit code (see the module docstring)."""
    import httpx

    packed = pack_folder(folder)
    for entry in packed.left_out:
        print(f"note: {entry} is not a regular file; left out of the submission", file=sys.stderr)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=60.0) as client:
        response = _request(
            client, "POST", "/api/submissions", params={"assignment": assignments or []}, content=packed.data,
            headers={"Content-Type": "application/gzip"},
        )  # fmt: skip
        if response.status_code == 401:
            raise UsageError(f"the grading service does not accept this token: {_detail(response)}")
        if response.status_code in (403, 413, 422, 429):
            raise UsageError(f"not submitted: {_detail(response)}")
        if response.status_code != 202:
            raise GraderError(f"the grading service answered {response.status_code}: {_detail(response)}")
        data = response.json()
        print(f"Submitted: attempt {data['attempt']} ({packed.files} files), {data['url']}", flush=True)
        if not wait:
            return 0
        deadline = time.monotonic() + wait_s
        shown = ""
        while not data["final"]:
            if time.monotonic() > deadline:
                raise GraderError(f"no result after {wait_s:g} s; it stays queued: {data['url']}")
            line = data["status_text"] + (f", position {data['position']}" if data.get("position") else "")
            if line != shown:
                print(f"  {line}", flush=True)
                shown = line
            time.sleep(1.0)
            polled = _request(client, "GET", f"/api/submissions/{data['id']}")
            if polled.status_code != 200:
                raise GraderError(f"the grading service answered {polled.status_code}: {_detail(polled)}")
            data = polled.json()
        if data["status"] == "done" and data.get("points") is not None:
            print(
                f"Score: {data['points']:g}/{data['max_points']:g} ({data['outcome']}); "
                f"report: {data['report_url']}"
            )
        else:
            print(f"Grader error (not your fault; no attempt used): {data['message']} {data['url']}")
        if out is not None and data.get("report_url"):
            _write_reports(client, data["id"], out)
        return _final_code(data)


def _write_reports(client: Any, submission_id: int, out: Path) -> None:
    from grader.report import write_reports
    from grader.results import SubmissionResult

    response = _request(client, "GET", f"/submissions/{submission_id}/results.json")
    if response.status_code != 200:
        raise GraderError(f"cannot fetch the results: {response.status_code} {_detail(response)}")
    result = SubmissionResult.model_validate_json(response.content)
    for kind, path in write_reports(result, out, view="student").items():
        if kind in ("html", "summary"):
            print(f"{kind}: {path}")
