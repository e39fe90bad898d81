"""Frame sizes as users type them (``--size``, a job's ``size``): 720p, 1080p, portrait, 4k or WIDTHxHEIGHT."""

from __future__ import annotations

import re

# H.264 in yuv420p needs even sides; past 4096 a frame is slow to compose and most players refuse it
MIN_SIDE, MAX_SIDE = 128, 4096
NAMED_SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "portrait": (1080, 1920), "4k": (3840, 2160)}
_WXH = re.compile(r"(\d{1,6})x(\d{1,6})")


def parse_size(text: str) -> tuple[int, int]:
    """(width, height) in ``text``; ValueError saying what is allowed (the caller names the option or key)."""
    s = str(text).strip().lower()
    m = _WXH.fullmatch(s)
    size = NAMED_SIZES.get(s) or (m and (int(m[1]), int(m[2])))
    if not size or not all(MIN_SIDE <= side <= MAX_SIDE and side % 2 == 0 for side in size):
        raise ValueError(
            f"give an even WIDTHxHEIGHT, {MIN_SIDE} to {MAX_SIDE} a side, or one of {', '.join(NAMED_SIZES)}"
        )
    return size
