"""Process helpers shared by the cluster and the sandbox: start children that die with us, kill groups."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_libc = None
with contextlib.suppress(OSError):
    _libc = ctypes.CDLL(None, use_errno=True)


def child_setup(extra: Callable[[], None] | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: new session (so the whole group can be killed) and SIGKILL when we die.

    The parent-death signal means a grader killed with SIGKILL still leaves no broker or student
    process behind.
    """

    def setup() -> None:
        os.setsid()
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if extra is not None:
            extra()

    return setup


def kill_group(proc: subprocess.Popen, grace: float = 0.0) -> None:
    """Stop ``proc`` and every process in its group: SIGTERM then, after ``grace`` s, SIGKILL."""
    if proc.poll() is None and grace > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


class _Registry:
    """Every live child group we started, so that a signal or exit tears all of them down."""

    def __init__(self) -> None:
        self._procs: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()
        self._lock = threading.Lock()

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.add(proc)

    def kill_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            kill_group(proc)


registry = _Registry()


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out to outgoing connections (32768 by default)."""
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1", avoid: set[int] | None = None) -> int:
    """A TCP port that is free now, chosen *below* the ephemeral range.

    A port from bind(0) lies in the ephemeral range, where any outgoing connection (a Kafka client,
    a broker's replica fetcher) may take it before our broker binds it; listening ports outside
    that range only collide with other listeners.
    """
    low = max(1024, min(_ephemeral_low(), 65536) - 12000)
    high = max(low + 1000, _ephemeral_low() - 1)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(low, high)
        if (avoid is None or port not in avoid) and not port_in_use(port, host):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether binding ``host:port`` fails right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False
