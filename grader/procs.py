"""Process helpers shared by the cluster and the sandbox: start children that die with us, kill groups
and whole process trees."""

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
from collections.abc import Callable, Iterable

import psutil

from grader.waiting import wait_while

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
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
        wait_while(lambda: proc.poll() is None, timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux); True if it is now one.

    A process that double-forks or calls ``setsid`` and whose parent exits is re-parented to its
    nearest subreaper ancestor instead of to init. With the grader as subreaper every process
    student code leaves behind stays a descendant of the grader, where :func:`kill_tree` finds it.
    """
    if _libc is None:
        return False
    return _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def descendants(pid: int) -> list[psutil.Process]:
    """The live descendants of ``pid`` right now (empty when it is gone)."""
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if _alive(p)]
    except psutil.Error:
        return []


def marked_orphans(marker: tuple[str, str], spare: Iterable[int] = ()) -> list[psutil.Process]:
    """Our direct children (re-parented orphans, with us as subreaper) whose environment holds
    ``marker`` (name, value), except the pids in ``spare``, and their descendants."""
    name, value = marker
    spared = set(spare)
    found: list[psutil.Process] = []
    try:
        children = psutil.Process().children()
    except psutil.Error:
        return []
    for child in children:
        if child.pid in spared or not _alive(child):
            continue
        try:
            marked = child.environ().get(name) == value
        except psutil.Error:
            continue
        if marked:
            found.append(child)
            found.extend(descendants(child.pid))
    return found


def kill_tree(
    proc: subprocess.Popen,
    grace: float = 0.0,
    *,
    known: Iterable[psutil.Process] = (),
    marker: tuple[str, str] | None = None,
    spare: Iterable[int] = (),
) -> None:
    """Stop ``proc``, its process group and every process it started, wherever they went.

    A process group only holds what did not call ``setsid``; a daemonising child leaves it and,
    once its parent exits, is no longer a descendant of ``proc``. So this kills the union of: the
    group, ``proc``'s descendants now, ``known`` (descendants seen earlier while it ran) and, with
    ``marker``, our re-parented children carrying it (see :func:`become_subreaper`) except ``spare``.
    It repeats until a round finds nothing alive (a process may fork while we kill), then reaps
    the re-parented ones so that no zombie is left.
    """
    if proc.poll() is None and grace > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        for p in descendants(proc.pid):
            with contextlib.suppress(psutil.Error):
                p.terminate()
        wait_while(lambda: proc.poll() is None, timeout=grace)
    spared = {proc.pid, *spare}
    killed: dict[int, psutil.Process] = {}
    candidates = [p for p in known if _alive(p)]
    for _ in range(20):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            if proc.poll() is None:
                proc.kill()
        candidates += descendants(proc.pid)
        if marker is not None:
            candidates += marked_orphans(marker, spared)
        alive = [p for p in candidates if _alive(p) and p.pid not in spared]
        if not alive:
            break
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
            killed[p.pid] = p
        candidates = []
        time.sleep(0.02)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    _reap_orphans(set(killed) | {s for p in killed.values() if (s := _session(p.pid))} | {proc.pid}, spared)


def _session(pid: int) -> int | None:
    """The session id of ``pid`` (also of a zombie), or None."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return None


def _reap_orphans(sessions: set[int], spare: set[int]) -> None:
    """Collect the exit status of our zombie children that were re-parented to us from a killed
    tree (their pid or session is in ``sessions``); as subreaper nobody else would, and they would
    stay zombies. Children we started ourselves (``spare``, any Popen) are in other sessions."""

    def pending() -> bool:
        """Reap what has exited; whether some of them still run."""
        waiting = False
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process().children():
                if child.pid in spare or not (child.pid in sessions or _session(child.pid) in sessions):
                    continue
                with contextlib.suppress(ChildProcessError, OSError):
                    if not os.waitpid(child.pid, os.WNOHANG)[0]:
                        waiting = True
        return waiting

    wait_while(pending, timeout=1.0, interval=0.01)


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
