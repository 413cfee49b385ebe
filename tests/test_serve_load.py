"""Load, bounded and on loopback only: 20 clients submit 100 submissions while 200 clients poll their
status; nothing is lost or graded twice.

Most submissions are cheap real jobs: the size limits refuse them inside the real ``run_job`` before any
sandbox starts (a committed virtual environment of 10,000+ files and folders); five are real
``-a topic-create`` gradings. Every loop is bounded by a count and a deadline. Timing is measured in
``bench/serve.py``, never asserted here.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_support import (
    Service,
    course_file,
    example,
    runs_by_submission,
    submit,
    too_many_entries,
    wait_final,
)

SUBMITTERS = [f"s{i:03d}" for i in range(1, 21)]
PER_SUBMITTER = 5
REAL = 5
POLLERS = 200
DEADLINE_S = 900.0

pytestmark = pytest.mark.kafka


@pytest.fixture
def service(nothing_left_behind: Path) -> Iterator[Service]:
    """The service with its data in memory-backed storage when there is some (the load is the queue's)."""
    shm = Path("/dev/shm")
    roomy = shm.is_dir() and shutil.disk_usage(shm).free > 2 << 30
    folder = Path(tempfile.mkdtemp(prefix="grader-serve-load-", dir=shm if roomy else None))
    svc = Service(
        folder, students=SUBMITTERS,
        args=["--jobs", "2", "--api-per-minute", "100000",
              "--course", str(course_file(folder, attempts=PER_SUBMITTER, max_pending=PER_SUBMITTER))],
    )  # fmt: skip
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _submitter(
    svc: Service, student: str, real: bool, accepted: list[dict[str, object]], errors: list[str]
) -> None:
    cheap = too_many_entries()
    with svc.api(student) as api:
        for n in range(PER_SUBMITTER):
            archive, only = (example("good-student"), ["topic-create"]) if real and n == 0 else (cheap, [])
            response = submit(api, archive, *only)
            if response.status_code == 202:
                accepted.append(response.json())
            else:
                errors.append(f"{student}: {response.status_code} {response.text[:200]}")


async def _poll(svc: Service, ids: dict[str, list[int]], stop: threading.Event, seen: Counter[int]) -> None:
    """200 clients, each polling its student's submissions until ``stop`` (or the deadline)."""

    async def client(i: int) -> None:
        student = SUBMITTERS[i % len(SUBMITTERS)]
        headers = {"Authorization": f"Bearer {svc.tokens[student]}"}
        async with httpx.AsyncClient(base_url=svc.url, headers=headers, timeout=60) as http:
            deadline = time.monotonic() + DEADLINE_S
            while not stop.is_set() and time.monotonic() < deadline:
                mine = ids.get(student) or []
                path = f"/api/submissions/{random.choice(mine)}" if mine else "/api/submissions"
                response = await http.get(path)
                seen[response.status_code] += 1
                await asyncio.sleep(1.0)  # as often as the status page polls

    await asyncio.gather(*(client(i) for i in range(POLLERS)))


def test_20_submitters_and_200_pollers_lose_nothing_and_grade_nothing_twice(service: Service) -> None:
    accepted: list[dict[str, object]] = []
    errors: list[str] = []
    ids: dict[str, list[int]] = {}
    polls: Counter[int] = Counter()
    stop = threading.Event()
    pollers = threading.Thread(target=lambda: asyncio.run(_poll(service, ids, stop, polls)), daemon=True)
    pollers.start()
    try:
        submitters = [
            threading.Thread(target=_submitter, args=(service, s, i < REAL, accepted, errors))
            for i, s in enumerate(SUBMITTERS)
        ]
        for thread in submitters:
            thread.start()
        deadline = time.monotonic() + DEADLINE_S
        for thread in submitters:
            thread.join(max(1.0, deadline - time.monotonic()))
        for item in accepted:
            ids.setdefault(str(item["student"]), []).append(int(str(item["id"])))
        final = {}
        with service.api("s001") as api:
            for item in accepted:
                with service.api(str(item["student"])) as mine:
                    final[int(str(item["id"]))] = wait_final(mine, int(str(item["id"])), timeout_s=DEADLINE_S)
            assert api.get("/healthz").status_code == 200
    finally:
        stop.set()
        pollers.join(60)
    assert errors == []
    assert len(accepted) == len(SUBMITTERS) * PER_SUBMITTER == 100
    assert len({item["id"] for item in accepted}) == 100, "no submission id given twice"
    attempts = Counter((item["student"], item["attempt"]) for item in accepted)
    assert max(attempts.values()) == 1, "each student's attempt numbers are given once"
    assert len(attempts) == 100
    outcomes = Counter(str(r["outcome"]) for r in final.values())
    assert {r["status"] for r in final.values()} == {"done"}
    assert outcomes == {"passed": REAL, "failed": 100 - REAL}
    runs = runs_by_submission(service)
    assert sorted(runs) == sorted(final), "every accepted submission has runs, and nothing else does"
    assert all(outcome.count("graded") == 1 for outcome in runs.values()), "graded exactly once"
    assert polls[200] > 0, polls
    assert set(polls) <= {200}, polls
