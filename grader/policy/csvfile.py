"""Course CSV files (overrides, extensions): headers matched by common spellings, rows with their line."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

from grader.errors import UsageError


def read_rows(
    path: Path, aliases: Mapping[str, set[str]], required: set[str], what: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {field: value}) per non-empty row; headers are matched case-insensitively via ``aliases``.

    A file that cannot be read or lacks a required column is a usage error naming it and the fix.
    Rows whose first cell starts with ``#`` are comments.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror or exc}; check the path") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"the {what} {path} is not UTF-8 text; save it as UTF-8 CSV") from exc
    reader = csv.reader(text.splitlines())
    headers = next(reader, [])
    columns: dict[str, int] = {}
    for i, header in enumerate(headers):
        name = header.strip().lower()
        for field, spellings in aliases.items():
            if name in spellings and field not in columns:
                columns[field] = i
    missing = sorted(required - set(columns))
    if missing:
        found = ", ".join(headers) or "nothing"
        raise UsageError(
            f"{path}:1: the {what} has no {', '.join(missing)} column (found: {found}); "
            f"fix: its first line names the columns, e.g. {','.join(aliases)}"
        )
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells) or (cells and cells[0].lstrip().startswith("#")):
            continue
        yield line, {f: (cells[i].strip() if i < len(cells) else "") for f, i in columns.items()}


def number(text: str) -> float:
    """``2``, ``+2``, ``-1.5`` or ``2,5`` as a float; ValueError otherwise."""
    return float(text.replace(",", ".").replace(" ", ""))
