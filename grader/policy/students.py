"""Who is in the class, by every name a course file may use for them (id, login, e-mail)."""

from __future__ import annotations

import difflib


class Students:
    """Canonical student ids and the aliases that resolve to them (case-insensitive)."""

    def __init__(self) -> None:
        self._by: dict[str, str] = {}
        self.ids: list[str] = []

    def add(self, student_id: str, *aliases: str) -> None:
        """Add a student; ``aliases`` (login, e-mail, the LMS's id) resolve to ``student_id`` too."""
        if student_id not in self.ids:
            self.ids.append(student_id)
        for name in (student_id, *aliases):
            if name:
                self._by.setdefault(name.strip().lower(), student_id)

    def resolve(self, name: str) -> str | None:
        """The canonical id ``name`` stands for, or None when no student goes by it."""
        return self._by.get(name.strip().lower())

    def unknown(self, name: str) -> str:
        """Why ``name`` is refused, with the closest names the class has."""
        close = difflib.get_close_matches(name.strip().lower(), list(self._by), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return (
            f"student {name!r} is not in this class (no submission or roster row has that id, login or "
            f"e-mail){hint}"
        )
