"""Capped capture of a student process's output: the head and the tail are kept, the middle counted."""

from __future__ import annotations


class CappedOutput:
    """Keeps the first and last ``cap / 2`` bytes fed to it and counts the rest.

    The tail matters as much as the head: a crash's traceback comes last, after pages of logs.
    """

    def __init__(self, cap: int) -> None:
        self.head_cap = cap - cap // 2
        self.tail_cap = cap // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_cap:
            self.tail += chunk
            del self.tail[: max(0, len(self.tail) - self.tail_cap)]

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        if not self.tail:
            return head
        tail = self.tail.decode("utf-8", errors="replace")
        marker = f"\n[... {self.dropped} bytes cut ...]\n" if self.dropped else ""
        return head + marker + tail
