"""Where each key of a TOML document is written, so a validation error can name its line.

``tomllib`` gives values without positions; this scanner reads the document's structure only (table
headers, keys, inline tables, array elements; strings and comments skipped) and records the line
of every key path, e.g. ``("assignments", "topic-create", "late", "percent") -> 12``. It assumes a
document ``tomllib`` already accepted, so it never has to report syntax errors itself.
"""

from __future__ import annotations

from collections.abc import Sequence

Path = tuple[str | int, ...]
_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.array_tables: dict[Path, int] = {}

    # -- characters ---------------------------------------------------------------------------------

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def advance(self, n: int = 1) -> None:
        chunk = self.text[self.pos : self.pos + n]
        self.line += chunk.count("\n")
        self.pos += n

    def skip_space(self, newlines: bool) -> None:
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.pos < len(self.text) and self.text[self.pos] != "\n":
                    self.advance()
            else:
                return

    def skip_string(self) -> str:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            self.advance(3)
            end = self.text.find(quote * 3, self.pos) if quote == "'" else self._basic_end(quote * 3)
            end = len(self.text) if end < 0 else end
            while self.text[end + 3 : end + 4] == quote:
                end += 1  # up to two quotes may end the content right before the delimiter
            value = self.text[self.pos : end]
            self.advance(end - self.pos + 3)
            return value
        self.advance()
        end = self.text.find(quote, self.pos) if quote == "'" else self._basic_end(quote)
        end = len(self.text) if end < 0 else end
        value = self.text[self.pos : end]
        self.advance(end - self.pos + 1)
        return value.encode().decode("unicode_escape") if quote == '"' and "\\" in value else value

    def _basic_end(self, delimiter: str) -> int:
        i = self.pos
        while i < len(self.text):
            if self.text[i] == "\\":
                i += 2
                continue
            if self.text.startswith(delimiter, i):
                return i
            i += 1
        return -1

    # -- structure ------------------------------------------------------------------------------------

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_space(newlines=False)
            if self.peek() in ('"', "'"):
                parts.append(self.skip_string())
            else:
                start = self.pos
                while self.pos < len(self.text) and self.text[self.pos] in _BARE:
                    self.advance()
                parts.append(self.text[start : self.pos])
            self.skip_space(newlines=False)
            if self.peek() != ".":
                return tuple(parts)
            self.advance()

    def value(self, path: Path) -> None:
        self.skip_space(newlines=False)
        c = self.peek()
        if c in ('"', "'"):
            self.skip_string()
        elif c == "{":
            self.advance()
            while True:
                self.skip_space(newlines=True)
                if self.peek() in ("}", ""):
                    self.advance()
                    return
                line = self.line
                key = self.key()
                self.note_key(path, key, line)
                self.skip_space(newlines=False)
                self.advance()  # '='
                self.value(path + key)
                self.skip_space(newlines=True)
                if self.peek() == ",":
                    self.advance()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_space(newlines=True)
                if self.peek() in ("]", ""):
                    self.advance()
                    return
                self.note((*path, index), self.line)
                self.value((*path, index))
                self.skip_space(newlines=True)
                if self.peek() == ",":
                    self.advance()
                    index += 1
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}\n#":
                self.advance()

    def note(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    def note_key(self, table: Path, key: tuple[str, ...], line: int) -> None:
        # A dotted key (late.percent = 5) also defines its parents on that line.
        for i in range(1, len(key) + 1):
            self.note(table + key[:i], line)

    def document(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self.skip_space(newlines=True)
            if self.pos >= len(self.text):
                return self.lines
            line = self.line
            if self.peek(2) == "[[":
                self.advance(2)
                name = self.key()
                self.advance(2)
                index = self.array_tables.get(name, 0)
                self.array_tables[name] = index + 1
                table = (*name, index)
                self.note(name, line)
                self.note(table, line)
            elif self.peek() == "[":
                self.advance()
                name = self.key()
                self.advance()
                table = name
                self.note(table, line)
            else:
                key = self.key()
                self.note_key(table, key, line)
                self.skip_space(newlines=False)
                self.advance()  # '='
                self.value(table + key)


def key_lines(text: str) -> dict[Path, int]:
    """Every key path (tables, keys, array elements by index) -> the line it is written on (1-based)."""
    return _Scanner(text).document()


def line_of(lines: dict[Path, int], loc: Sequence[str | int]) -> int | None:
    """The line of ``loc``, else of its nearest written ancestor (e.g. the table of a missing key)."""
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None
