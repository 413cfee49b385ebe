"""grader.runtime.run_killer: ending one run spares the processes of the runs still going (no docker)."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from grader.runtime.run_killer import end_run, victims

NOBODY = 65534

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to run the processes as a uid of their own (like the sandbox)"
)


def sleeper(run: str | None) -> subprocess.Popen[bytes]:
    env = {"PATH": "/usr/bin:/bin", **({"GRADER_RUN": run} if run else {})}
    return subprocess.Popen(["sleep", "60"], env=env, user=NOBODY, group=NOBODY)


def test_the_ending_run_and_unmarked_processes_die_the_others_live():
    procs = {"a": sleeper("a"), "b": sleeper("b"), "hidden": sleeper(None)}
    try:
        found = {p.pid for p in victims(NOBODY, {"b"}, exempt=set())}
        assert found >= {procs["a"].pid, procs["hidden"].pid}
        assert procs["b"].pid not in found
        child = os.fork()
        if child == 0:  # as the student's uid, like `docker exec --user`
            try:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                end_run(signal.SIGKILL, {"b"})
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        assert procs["a"].wait(timeout=10) == -signal.SIGKILL
        assert procs["hidden"].wait(timeout=10) == -signal.SIGKILL
        assert procs["b"].poll() is None
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
