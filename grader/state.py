"""Typed per-run state: what an assignment's ``prepare``/``act`` leave for its checks (pytest's Stash).

A string-keyed dict let a check read ``ctx.state["vaules"]`` and fail with a KeyError at grading
time, and told the type checker nothing. A :class:`StateKey` is a module-level object with a
name and a type; :class:`Stash` maps keys to values, so ``ctx.state[VALUES]`` has the key's type:

    VALUES = StateKey[list[int]]("values")
    ctx.state[VALUES] = [1, 2, 3]
    numbers = ctx.state[VALUES]          # list[int] to mypy
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast, overload

T = TypeVar("T")
D = TypeVar("D")
T_co = TypeVar("T_co", covariant=True)


class StateKey(Generic[T_co]):
    """A key of :class:`Stash` whose values are ``T_co``; compared by identity, named for messages.

    Covariant, so that a ``StateKey[bool]`` is read where any object will do (``ctx.expect``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"


class Stash:
    """Values keyed by :class:`StateKey`; a missing key says which one and that nothing set it."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[StateKey[Any], object] = {}

    def __setitem__(self, key: StateKey[T], value: T) -> None:
        self._values[key] = value

    def __getitem__(self, key: StateKey[T]) -> T:
        try:
            return cast(T, self._values[key])
        except KeyError:
            raise KeyError(f"{key.name!r} was never set in this run's state (prepare/act set it)") from None

    @overload
    def get(self, key: StateKey[T]) -> T | None: ...

    @overload
    def get(self, key: StateKey[T], default: D) -> T | D: ...

    def get(self, key: StateKey[T], default: object = None) -> object:
        """The value of ``key``, or ``default`` when nothing set it."""
        return self._values.get(key, default)

    def setdefault(self, key: StateKey[T], default: T) -> T:
        """The value of ``key``, first setting it to ``default`` when nothing set it."""
        return cast(T, self._values.setdefault(key, default))

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __delitem__(self, key: StateKey[T]) -> None:
        del self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "Stash(" + ", ".join(k.name for k in self._values) + ")"
