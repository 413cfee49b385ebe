"""Signal the processes of one uid except those of the runs named: how a docker run ends while
others of the same submission are still going.

Runs inside the container as the student's user, started by the docker sandbox as
``python3 -I /opt/grader/python/grader/runtime/run_killer.py SIGNAL RUN...``. ``-I`` keeps the
student's environment (PYTHONPATH, user site, the working folder) out of it, so it imports only
the standard library and psutil, never the grader.

A process is spared when its environment carries the marker (``GRADER_RUN``) of one of the named
runs. One that hides its marker (cleared its environment, or is not dumpable) counts as the
ending run's; one that renames itself like runc's init is spared like a run being born, but only
until the end of the last run still going (``kill -1`` then, and the container's removal in any
case).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator

import psutil

MARKER = "GRADER_RUN"
ROUNDS = 50
"""SIGKILL is repeated until nothing is left (a fork loop refills the table between two rounds)."""


def victims(uid: int, spare: set[str], exempt: set[int]) -> Iterator[psutil.Process]:
    """Live processes of ``uid`` without one of the ``spare`` markers (``exempt``: pids never signalled)."""
    for proc in psutil.process_iter(["uids", "status", "name"]):
        info = proc.info
        if proc.pid in exempt or info["uids"] is None or info["uids"].real != uid:
            continue
        if info["status"] == psutil.STATUS_ZOMBIE or (info["name"] or "").startswith("runc:"):
            continue  # dead already, or a run being started right now (runc's init, not its command)
        try:
            marker = proc.environ().get(MARKER)
        except psutil.Error:
            marker = None  # unreadable or gone: not shown to belong to a spared run
        if marker not in spare:
            yield proc


def end_run(sig: int, spare: set[str]) -> int:
    """Send ``sig`` to every process of this uid but the spared runs'; how many were signalled."""
    exempt = {os.getpid(), os.getppid()}
    signalled = 0
    for _ in range(ROUNDS if sig == signal.SIGKILL else 1):
        found = list(victims(os.getuid(), spare, exempt))
        for proc in found:
            try:
                proc.send_signal(sig)
            except psutil.Error:
                continue
            signalled += 1
        if not found:
            break
    return signalled


def main(argv: list[str]) -> int:
    """``SIGNAL RUN...``: the signal number, then the markers of the runs to spare."""
    if not argv or not argv[0].isdigit():
        print("usage: run_killer.py SIGNAL [RUN ...]", file=sys.stderr)
        return 2
    end_run(int(argv[0]), set(argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
