"""Durations and times as users type them: 12, 12s, 1.5s, 90s, 10m, 1h, 1h30m, 1:30, 1:30:00."""

from __future__ import annotations

import math
import re

_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
MAX_LENGTH = "3h"  # the longest render or track made unless the user raises it (--max-length, max_length)
_MAX_CHARS = 40  # no time is written longer; the unit search below is quadratic in a long digit run


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ValueError with the accepted forms when it cannot be read."""
    s = str(text).strip().lower()
    seconds = _parse(s) if len(s) <= _MAX_CHARS else None
    if seconds is None or not math.isfinite(seconds):  # a long enough digit run reads as inf
        shown = repr(s if len(s) <= _MAX_CHARS else s[:_MAX_CHARS] + "...")
        raise ValueError(f"cannot read {shown} as a time: use forms like 12s, 90s, 10m, 1h30m, 1:30 or 1:30:00")
    return seconds


def _parse(s: str) -> float | None:
    try:
        if re.fullmatch(r"\d+(\.\d+)?", s):
            return float(s)
        if re.fullmatch(r"\d+(:\d{1,2}){1,2}(\.\d+)?", s):
            value = 0.0
            for part in s.split(":"):
                value = value * 60 + float(part)
            return value
        if s and _PART.sub("", s) == "":
            return sum(float(n) * _UNIT[u] for n, u in _PART.findall(s))
    except ValueError:
        pass
    return None
