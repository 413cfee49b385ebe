"""Benchmark: what the docker sandbox costs over the local one, side by side in one run.

    .venv/bin/python bench/sandbox_overhead.py                 # 3 rounds, assignments 1-3, reference
    .venv/bin/python bench/sandbox_overhead.py --rounds 5 --image

Each round grades the same correct submission once locally and once in docker (alternating, so
machine load hits both alike) and splits docker's extra time into copy in, container create/start,
cluster start, remove. ``--image`` also times ``grader image build`` with unchanged inputs and prints
the image's size; ``--cold`` forces a full rebuild first (base root file system included).

Not a test: it prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from grader.registry import select
from grader.runner import grade_submission
from grader.sandbox import Sandbox, factory
from grader.spec import Limits

DEFAULT = ["topic-create", "produce-sequence", "consume-partition"]


def _grade(kind: str, submission: Path, assignments, seed: int) -> tuple[float, dict[str, float], float]:  # type: ignore[no-untyped-def]
    made: list[Sandbox] = []
    inner = factory(kind, warn=False)

    def keep(sub: Path, brokers: int, limits: Limits) -> Sandbox:
        made.append(inner(sub, brokers, limits))
        return made[-1]

    began = time.monotonic()
    result = grade_submission(submission, assignments, seed=seed, sandbox_factory=keep)
    wall = time.monotonic() - began
    phases = dict(getattr(made[0], "timings", {}))
    phases["cluster_start"] = result.timings["cluster_start"]
    phases["student"] = result.timings["student"]
    return wall, phases, result.points / result.max_points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-a", "--assignment", action="append")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image", action="store_true", help="also time an image build with unchanged inputs")
    parser.add_argument("--cold", action="store_true", help="time a full image rebuild first (minutes)")
    args = parser.parse_args()
    if args.image or args.cold:
        from grader.runtime.jars import ensure_runtime
        from grader.sandbox.image import build, describe

        if args.cold:
            print("cold build:", describe(build(ensure_runtime(), force=True, log=lambda _: None)))
        print("unchanged inputs:", describe(build(ensure_runtime(), log=lambda _: None)))
    assignments = select(args.assignment or DEFAULT)
    rows: dict[str, list[tuple[float, dict[str, float]]]] = {"local": [], "docker": []}
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        submission = Path(tmp) / "reference"
        for a in assignments:
            shutil.copytree(a.reference, submission / a.id)
        for i in range(args.rounds):
            for kind in ("local", "docker") if i % 2 == 0 else ("docker", "local"):
                wall, phases, score = _grade(kind, submission, assignments, seed=500 + i)
                rows[kind].append((wall, phases))
                shown = ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
                print(f"round {i + 1} {kind:<6} {wall:6.2f} s  score {score:.0%}  ({shown})")
    local = statistics.median(w for w, _ in rows["local"])
    docker = statistics.median(w for w, _ in rows["docker"])
    print(f"\nmedian wall: local {local:.2f} s, docker {docker:.2f} s, overhead {docker - local:+.2f} s")
    for key in ("copy_in", "create_start", "cluster_start", "remove", "student"):
        d = statistics.median(p.get(key, 0.0) for _, p in rows["docker"])
        lo = statistics.median(p.get(key, 0.0) for _, p in rows["local"])
        print(f"  {key:<14} docker {d:6.2f} s   local {lo:6.2f} s")


if __name__ == "__main__":
    main()
