"""Token buckets: a student's attempts (kept in the database) and request rates (kept in memory).

A bucket holds up to ``capacity`` tokens and refills continuously at ``capacity / period_s`` per
second; each attempt (or request) takes one. A refusal says how long until the next token.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Bucket:
    """A bucket's size and refill period."""

    capacity: float
    period_s: float

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.capacity / self.period_s

    def level(self, tokens: float | None, at: datetime | None, now: datetime) -> float:
        """Tokens available at ``now`` given ``tokens`` at ``at`` (None: a full bucket)."""
        if tokens is None or at is None:
            return self.capacity
        elapsed = max(0.0, (now - at).total_seconds())
        return min(self.capacity, tokens + elapsed * self.rate)

    def wait_s(self, level: float) -> float:
        """Seconds until a bucket at ``level`` holds one whole token."""
        return max(0.0, (1.0 - level) / self.rate)


class RequestLimiter:
    """Per-key request buckets in this process (logins per address, API calls per token)."""

    def __init__(self, bucket: Bucket, max_keys: int = 100_000) -> None:
        self.bucket = bucket
        self.max_keys = max_keys
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._state.get(key, (self.bucket.capacity, now))
            tokens = min(self.bucket.capacity, tokens + (now - at) * self.bucket.rate)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                return (1.0 - tokens) / self.bucket.rate
            if len(self._state) >= self.max_keys and key not in self._state:
                # Forget the fullest buckets first: they are the ones that no longer matter.
                for stale in [k for k, (t, _) in self._state.items() if t >= self.bucket.capacity - 1][:1000]:
                    del self._state[stale]
            self._state[key] = (tokens - 1.0, now)
            return 0.0
