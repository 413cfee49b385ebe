"""One way to wait: poll a condition until it holds or a deadline passes (testcontainers' WaitStrategy).

Every wait in the grader used to be its own ``deadline = time.monotonic() + t; while ...: sleep``
loop, each with its own idea of what to say when time ran out. :func:`poll_until` returns the
first truthy value of ``probe`` and, when time runs out, raises :class:`WaitTimeout` naming what
was awaited, for how long, and the last value or error seen; :func:`wait_while` is the quiet form
for waits whose time-out is not an error (a grace period, a best-effort clean-up).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A condition did not hold in time; the message says what, how long, and the last thing seen."""

    def __init__(self, what: str, timeout: float, last: object = None, error: BaseException | None = None):
        seen = f"; last error: {type(error).__name__}: {error}" if error is not None else ""
        if error is None and last not in (None, False):
            seen = f"; last seen: {last!r}"
        super().__init__(f"waited {timeout:.1f} s for {what} in vain{seen}")
        self.what, self.timeout, self.last, self.error = what, timeout, last, error


def poll_until(
    probe: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.1,
    what: str = "the awaited condition",
    retry_on: tuple[type[BaseException], ...] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``probe`` every ``interval`` s until it returns something truthy, and return that.

    Exceptions of the types in ``retry_on`` count as "not yet" (the last one is named in the
    time-out's message); any other exception ends the wait at once. ``probe`` runs at least once,
    also with ``timeout <= 0``. ``sleep`` lets a caller account for the time spent waiting.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            last, error = probe(), None
        except retry_on as exc:
            last, error = None, exc
        if last:
            return last  # type: ignore[return-value]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(what, timeout, last, error)
        sleep(min(interval, remaining))


def wait_while(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait while ``condition()`` is true, at most ``timeout`` s; True if it became false in time."""
    try:
        poll_until(lambda: not condition(), timeout=timeout, interval=interval, sleep=sleep)
    except WaitTimeout:
        return False
    return True
