"""Benchmark: ``grader serve``'s own costs on this machine, on loopback.

    .venv/bin/python bench/serve.py                 # all four figures
    .venv/bin/python bench/serve.py --rounds 5 --pollers 200 --seconds 20

1. Upload to first feedback for topic-create with an idle worker, against ``grader check`` of the same
   submission (target: at most 1 s of service overhead).
2. Status-poll throughput: 200 concurrent clients polling ``GET /api/submissions/{id}`` back to back
   (target: >= 500 requests/s, p95 <= 50 ms); the load generator shares the machine's cores.
3. Per-job queue overhead against ``grader batch`` (the same submissions, one job at a time).
4. Server RSS at idle and under load (the server process; graders run in their own processes).

The server is the real ``grader serve`` (see tests/serve_support.py, which this reuses). Not a test:
nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the service helpers the tests use: one way to start a server

from serve_support import (  # noqa: E402
    EXAMPLES,
    Service,
    course_file,
    database_url,
    example,
    submit,
    too_many_entries,
)


def _final(api: httpx.Client, sub_id: int, step: float = 0.05) -> tuple[float, dict[str, object]]:
    began = time.monotonic()
    while True:
        data = api.get(f"/api/submissions/{sub_id}").json()
        if data["final"]:
            return time.monotonic() - began, data
        time.sleep(step)


def _phases(svc: Service, sub_id: int) -> tuple[float, float, float]:
    """From the service's own database: accepted -> claimed, the run's wall time, run_job's own time."""
    from sqlalchemy import select

    from grader.serve.db import Database
    from grader.serve.models import Run, Submission

    db = Database(database_url(svc))
    try:
        with db.reading() as session:
            created = session.scalar(select(Submission.created_at).where(Submission.id == sub_id))
            run = session.scalars(select(Run).where(Run.submission_id == sub_id)).one()
        assert created is not None
        assert run.ended_at is not None
        return ((run.started_at - created).total_seconds(), (run.ended_at - run.started_at).total_seconds(),
                run.duration_s or 0.0)  # fmt: skip
    finally:
        db.dispose()


def feedback(svc: Service, rounds: int) -> None:
    """Figure 1: POST to final status, against grader check's wall time."""
    served, checked, phases = [], [], []
    with svc.api("s001") as api:
        for _ in range(rounds):
            began = time.monotonic()
            response = submit(api, example("good-student"), "topic-create")
            _, data = _final(api, response.json()["id"])
            served.append(time.monotonic() - began)
            phases.append(_phases(svc, int(str(data["id"]))))
            assert data["outcome"] == "passed", data
            began = time.monotonic()
            out = Path(tempfile.mkdtemp())
            subprocess.run(
                [sys.executable, "-m", "grader", "check", str(EXAMPLES / "good-student"),
                 "-a", "topic-create",
                 "--sandbox", "local", "--out", str(out), "-q"], check=False, capture_output=True,
            )  # fmt: skip
            checked.append(time.monotonic() - began)
            shutil.rmtree(out, ignore_errors=True)
    s, c = statistics.median(served), statistics.median(checked)
    print(
        f"1. upload to feedback (topic-create, idle worker, median of {rounds}): service {s:.2f} s, "
        f"grader check {c:.2f} s: overhead {s - c:+.2f} s "
        f"(service {min(served):.2f}-{max(served):.2f} s, check {min(checked):.2f}-{max(checked):.2f} s)"
    )
    wait, run, job = (statistics.median(p[i] for p in phases) for i in range(3))
    print(
        f"   in the service: accepted -> a worker took it {wait:.2f} s; the run {run:.2f} s, of which "
        f"run_job {job:.2f} s (worker process start, results back, recording: {run - job:.2f} s)"
    )


async def _hammer(svc: Service, sub_id: int, clients: int, seconds: float, rate: float | None) -> list[float]:
    """``clients`` pollers for ``seconds``: back to back, or together ``rate`` requests/s (each its share)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    interval = clients / rate if rate else 0.0

    async def one(i: int) -> None:
        headers = {"Authorization": f"Bearer {svc.tokens['s001']}"}
        async with httpx.AsyncClient(base_url=svc.url, headers=headers, timeout=30) as http:
            await asyncio.sleep(interval * i / clients)  # spread the clients' polls over the interval
            while time.monotonic() < deadline:
                began = time.monotonic()
                response = await http.get(f"/api/submissions/{sub_id}")
                if response.status_code == 200:
                    latencies.append(time.monotonic() - began)
                if interval:
                    await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))

    await asyncio.gather(*(one(i) for i in range(clients)))
    return latencies


def polling(svc: Service, clients: int, seconds: float, rss: list[int]) -> None:
    """Figure 2: concurrent status polls."""
    with svc.api("s001") as api:
        sub_id = submit(api, too_many_entries()).json()["id"]
        _final(api, sub_id)
    sampler = _Sampler(svc, rss)
    sampler.start()
    for rate in (None, 500.0):
        latencies = sorted(asyncio.run(_hammer(svc, sub_id, clients, seconds, rate)))
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        how = "back to back" if rate is None else f"offering {rate:g} requests/s in all"
        print(
            f"2. status polls, {clients} concurrent clients {how} for {seconds:g} s: "
            f"{len(latencies) / seconds:.0f} requests/s, p50 {1000 * latencies[len(latencies) // 2]:.1f} ms, "
            f"p95 {1000 * p95:.1f} ms"
        )
    sampler.stop()


def queue_overhead(svc: Service, count: int) -> None:
    """Figure 3: per job, one at a time: the service (upload, queue, record, poll) against grader batch."""
    served = []
    with svc.api("s002") as api:
        for _ in range(count):
            began = time.monotonic()
            response = submit(api, example("good-student"), "topic-create")
            _final(api, response.json()["id"])
            served.append(time.monotonic() - began)
    folder = Path(tempfile.mkdtemp())
    try:
        for i in range(count):
            shutil.copytree(EXAMPLES / "good-student", folder / "in" / f"student{i}")
        began = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "grader", "batch", str(folder / "in"), "--out", str(folder / "out"),
             "-a", "topic-create", "--jobs", "1", "--sandbox", "local"], check=False, capture_output=True,
        )  # fmt: skip
        batch = (time.monotonic() - began) / count
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    s = statistics.mean(served)
    print(
        f"3. per job, {count} topic-create jobs one at a time: service {s:.2f} s, grader batch --jobs 1 "
        f"{batch:.2f} s per job: queue overhead {s - batch:+.2f} s"
    )


class _Sampler(threading.Thread):
    def __init__(self, svc: Service, into: list[int]) -> None:
        super().__init__(daemon=True)
        assert svc.proc is not None
        self.proc = psutil.Process(svc.proc.pid)
        self.into = into
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.into.append(self.proc.memory_info().rss)

    def stop(self) -> None:
        self.done.set()
        self.join()


def under_load(svc: Service, rss: list[int], submissions: int, pollers: int) -> None:
    """Figure 4's load: cheap submissions from 10 students while ``pollers`` clients poll."""
    sampler = _Sampler(svc, rss)
    sampler.start()
    stop = threading.Event()

    async def poll() -> None:
        async def one(i: int) -> None:
            headers = {"Authorization": f"Bearer {svc.tokens[f's{i % 10 + 1:03d}']}"}
            async with httpx.AsyncClient(base_url=svc.url, headers=headers, timeout=30) as http:
                while not stop.is_set():
                    await http.get("/api/submissions")
                    await asyncio.sleep(1.0)

        await asyncio.gather(*(one(i) for i in range(pollers)))

    thread = threading.Thread(target=lambda: asyncio.run(poll()), daemon=True)
    thread.start()
    ids = []
    for i in range(submissions):
        with svc.api(f"s{i % 10 + 1:03d}") as api:
            ids.append((api.headers["authorization"], submit(api, too_many_entries()).json()["id"]))
    for auth, sub_id in ids:
        with httpx.Client(base_url=svc.url, headers={"Authorization": auth}) as api:
            _final(api, sub_id, 0.5)
    stop.set()
    thread.join(30)
    sampler.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Run the four figures and print them (Ctrl-C or SIGTERM stops the server it started)."""
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pollers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--jobs", type=int, default=3, help="jobs of figure 3")
    parser.add_argument("--figures", default="1,2,3,4", help="which figures, e.g. 2,4")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="grader-bench-serve-"))
    students = [f"s{i:03d}" for i in range(1, 11)]
    svc = Service(
        folder,
        students=students,
        args=[
            "--jobs",
            "2",
            "--api-per-minute",
            "1000000",
            "--course",
            str(course_file(folder, attempts=1000, max_pending=100)),
        ],
    )
    try:
        svc.start()
        assert svc.proc is not None
        time.sleep(2)
        idle = psutil.Process(svc.proc.pid).memory_info().rss
        figures = {int(f) for f in args.figures.split(",")}
        if 1 in figures:
            feedback(svc, args.rounds)
        polled: list[int] = [idle]
        if 2 in figures or 4 in figures:
            polling(svc, args.pollers, args.seconds, polled)
        if 3 in figures:
            queue_overhead(svc, args.jobs)
        if 4 not in figures:
            return
        loaded: list[int] = []
        under_load(svc, loaded, 20, args.pollers)
        mib = 1024 * 1024
        print(
            f"4. server RSS: idle {idle / mib:.0f} MiB; under {args.pollers} pollers "
            f"{max(polled) / mib:.0f} MiB; 20 submissions + {args.pollers} pollers "
            f"{max(loaded) / mib:.0f} MiB"
        )
    finally:
        svc.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
