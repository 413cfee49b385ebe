"""Benchmark: what grading integrity costs — the jar cache check on every use, and ending a run's
whole process tree (group + descendants + re-parented orphans) instead of only its group.

    .venv/bin/python bench/integrity_costs.py            # 5 rounds each
    .venv/bin/python bench/integrity_costs.py --rounds 20

Jar cache: ``_check_lock`` on the real cached Kafka bundle, cheap (size + mtime against
``verified.json``, the everyday path) versus deep (SHA-256 of every jar, ``grader setup --verify``).
Process tree: a process that leaves N setsid daemons behind, then ``grader.procs.kill_tree`` with
the grader as subreaper, versus ``kill_group`` (which leaves the daemons alive; the benchmark
kills them afterwards). Not a test: it prints figures, nothing is asserted, everything it starts
is killed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import time

import psutil

from grader.procs import become_subreaper, child_setup, kill_group, kill_tree
from grader.runtime.jars import _check_lock, kafka_bundle

MARKER = "GRADER_SANDBOX_RUN"


def jar_check(rounds: int) -> None:
    bundle = kafka_bundle()
    jars = _check_lock(bundle, deep=False)  # records verified.json if missing
    if jars is None:
        print("jar cache: the Kafka bundle is not cached (run 'grader setup' first)")
        return
    size = sum(j.stat().st_size for j in jars) / 2**20
    for deep in (False, True):
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            _check_lock(bundle, deep=deep)
            times.append(time.perf_counter() - began)
        kind = "deep (SHA-256 of all)" if deep else "cheap (size + mtime)"
        print(
            f"jar cache check, {len(jars)} jars / {size:.0f} MiB, {kind}: "
            f"median {statistics.median(times) * 1000:.1f} ms"
        )


def _daemons(n: int, token: str) -> tuple[subprocess.Popen, list[int]]:
    script = f"for i in $(seq {n}); do setsid sh -c 'echo $$; exec sleep 300 >/dev/null 2>&1' & done; wait"
    proc = subprocess.Popen(
        ["bash", "-c", script + " & sleep 0.3; exit 0"],
        stdout=subprocess.PIPE,
        env={**os.environ, MARKER: token},
        preexec_fn=child_setup(),
    )
    out, _ = proc.communicate(timeout=30)
    return proc, [int(x) for x in out.split()]


def tree_kill(rounds: int, n: int) -> None:
    become_subreaper()
    for name in ("kill_group", "kill_tree"):
        times, left = [], []
        for _ in range(rounds):
            token = secrets.token_hex(8)
            proc, pids = _daemons(n, token)
            began = time.perf_counter()
            if name == "kill_tree":
                kill_tree(proc, marker=(MARKER, token))
            else:
                kill_group(proc)
            times.append(time.perf_counter() - began)
            alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
            left.append(len(alive))
            for pid in alive:
                os.kill(pid, signal.SIGKILL)
            for pid in pids:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        print(
            f"end of a run with {n} setsid daemons, {name}: median {statistics.median(times) * 1000:.1f} ms, "
            f"daemons left alive {statistics.median(left):g} of {n}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--daemons", type=int, default=10)
    args = parser.parse_args()
    jar_check(args.rounds)
    tree_kill(args.rounds, args.daemons)


if __name__ == "__main__":
    main()
