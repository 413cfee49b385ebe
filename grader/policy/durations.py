"""Durations as a course writes them (``90``, ``"30m"``, ``"1h30m"``, ``"2d"``) and as people read them."""

from __future__ import annotations

import math
import re

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$", re.IGNORECASE)
HINT = "write seconds (3600) or numbers with units s, m, h, d, w (30m, 1h, 1h30m, 2d)"


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a text like ``"1h30m"``; ValueError says how to write one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; {HINT}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            if not _WHOLE.match(text):
                raise ValueError(f"{value!r} is not a duration; {HINT}") from None
            seconds = sum(float(n) * UNITS[u.lower()] for n, u in _PART.findall(text))
    else:
        raise ValueError(f"{value!r} is not a duration; {HINT}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} is not a duration (it must be 0 or more); {HINT}")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: ``2 d 3 h``, ``10 h 16 min``, ``4 min``, ``12 s``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"
