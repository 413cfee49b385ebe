"""Text helpers every report shares: points as people write them, cleaned and capped student output."""

from __future__ import annotations

import re

from grader.results import CheckResult, Status

GRADER_ERROR_PREFIX = "GRADER ERROR: "
NOT_YOUR_FAULT = "This is not your fault; tell your TA."

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def fmt_points(value: float) -> str:
    """``17`` for 17.0, ``2.5`` for 2.5: points as people write them."""
    return f"{round(value, 2):g}"


def clean_output(text: str) -> str:
    """Strip ANSI colour codes and other control characters from captured output."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def cap(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping the head and the tail (a traceback ends last)."""
    if len(text) <= limit:
        return text
    marker = f"\n[... {len(text) - limit} characters cut ...]\n"
    head = (limit - len(marker)) * 2 // 3
    tail = max(0, limit - len(marker) - head)
    return text[:head] + marker + (text[-tail:] if tail else "")


def check_feedback(check: CheckResult, *, details: bool = False, limit: int = 8000) -> str:
    """What a check found, in plain text: message, hint (when not passed), optionally its details."""
    parts = [check.message.strip()]
    if check.status is not Status.PASSED and check.hint:
        parts.append(f"What to do: {check.hint.strip()}")
    if details and check.details.strip():
        parts.append(f"Details:\n{check.details.rstrip()}")
    text = "\n\n".join(p for p in parts if p)
    if check.status is Status.SKIPPED and not text:
        text = "Skipped because an earlier check did not pass."
    if check.status is Status.ERROR:
        text = f"{GRADER_ERROR_PREFIX}{text}\n{NOT_YOUR_FAULT}"
    return cap(clean_output(text), limit)
