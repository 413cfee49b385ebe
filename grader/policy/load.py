"""Read ``course.toml``: TOML syntax and pydantic validation errors become one usage error that names the
file, the line and the fix, for every problem at once (a course maintainer fixes them in one go).
"""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError

from grader.errors import UsageError
from grader.policy.model import CoursePolicy
from grader.policy.tomlpos import key_lines, line_of

DATE_FIX = "write a date like 2026-12-01T23:59 (or 2026-12-01 for the end of that day)"
FIXES = {
    "missing": "add it",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "int_from_float": "write a whole number",
    "float_parsing": "write a number",
    "float_type": "write a number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "string_type": 'write text in quotes, e.g. "..."',
    "literal_error": "write one of the values named",
    "greater_than": "write a larger number",
    "greater_than_equal": "write a larger number",
    "less_than": "write a smaller number",
    "less_than_equal": "write a smaller number",
    "too_short": "add at least one entry",
    "list_type": "write a list, e.g. [ ... ]",
    "dict_type": "write a table, e.g. [section] or { key = value }",
    "model_type": "write a table, e.g. [section] or { key = value }",
    "datetime_type": DATE_FIX,
    "datetime_parsing": DATE_FIX,
    "datetime_from_date_parsing": DATE_FIX,
    "timezone_aware": DATE_FIX,
}

PERCENT_FIELDS = {"percent", "max_percent", "credit"}


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types inside Optional/Union/Annotated."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _unwrap(arg)]
    return [tp]


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        names = {name, *(alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else [])}
        if key in names:
            return info.annotation
    return None


def _keys(model: type[BaseModel]) -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        out.append(str(alias.choices[0]) if isinstance(alias, AliasChoices) else name)
    return out


def known_keys(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys allowed in the table at ``loc`` (for "did you mean" in an unknown-key error)."""
    current: list[Any] = [root]
    for part in loc:
        following: list[Any] = []
        for tp in current:
            for t in _unwrap(tp):
                origin = typing.get_origin(t)
                if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
                    field = _field(t, part)
                    if field is not None:
                        following.append(field)
                elif origin is dict:
                    following.append(typing.get_args(t)[1])
                elif origin is list:
                    following.append(typing.get_args(t)[0])
        current = following
    for tp in current:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel):
                return _keys(t)
    return []


def dotted(loc: Sequence[str | int]) -> str:
    """``assignments.topic-create.late.timeline[1].credit``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if all(c.isalnum() or c in "_-" for c in part) else f'"{part}"'
            out += f".{text}" if out else text
    return out or "(top level)"


def explain(exc: ValidationError, path: Path, text: str, root: type[BaseModel]) -> str:
    """One line per problem: ``file:line: where: what was wrong; fix: what to write``."""
    lines = key_lines(text)
    problems = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if isinstance(p, str | int)]
        where = f"{path}:{line_of(lines, loc) or 1}"
        msg = str(err["msg"]).removeprefix("Value error, ")
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = known_keys(root, loc[:-1])
            fix = f"remove it or check its spelling (known here: {', '.join(allowed)})"
            msg = f"unknown key {loc[-1]!r}" if loc else msg
        elif kind in ("less_than_equal", "less_than") and loc and loc[-1] in PERCENT_FIELDS:
            fix = "a policy never gives more than 100 % of an assignment's points: write 0 to 100"
        elif kind == "missing":
            fix = f"add {loc[-1]} = ..." if loc else "add it"
        else:
            fix = FIXES.get(kind, "")
        problems.append(f"{where}: {dotted(loc)}: {msg}" + (f"; fix: {fix}" if fix else ""))
    return "\n".join(problems)


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text and data of a TOML file; unreadable or bad TOML is a usage error naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror or exc}; check the path and its permissions"
        ) from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text; save it as UTF-8") from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"{path}: not valid TOML: {exc}; fix: check quotes, brackets and '=' on that line "
            "(an inline table { ... } must stay on one line)"
        ) from exc


def load_policy(path: Path | None, *, known_assignments: Iterable[str] | None = None) -> CoursePolicy:
    """``course.toml`` as a :class:`CoursePolicy`; None or a missing file gives the defaults.

    Every problem is reported at once as a :class:`~grader.errors.UsageError` naming the file, the
    line and the fix; with ``known_assignments``, an assignment id that is not one of them is one too.
    """
    if path is None or not path.exists():
        return CoursePolicy()
    text, data = read_toml(path)
    try:
        policy = CoursePolicy.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path} has problems:\n{explain(exc, path, text, CoursePolicy)}") from exc
    if known_assignments is not None:
        known = sorted(known_assignments)
        lines = key_lines(text)
        unknown = [
            f"{path}:{line_of(lines, ('assignments', a)) or 1}: assignments.{a}: no such assignment; "
            f"fix: use one of {', '.join(known)}"
            for a in policy.assignments
            if a not in known
        ]
        if unknown:
            raise UsageError(f"{path} has problems:\n" + "\n".join(unknown))
    return policy
