"""The count-in: before a line that follows a pause, dots that go out one a beat (or a bar that fills) count
the viewer in to its first syllable.

A cue starts ``seconds`` before the line (never before the pause began) and ends on its first syllable. The
indicator sits just above the line's first row, from its left edge (below it when the line is at the top of
the frame). Its pieces are premultiplied like the text sprites and blended straight into the frame's planes
(yuv420p for ffmpeg), a few hundred pixels a frame.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from composer.karaoke.render.background import PlaneFormat
from composer.karaoke.render.text import REFERENCE_SIDE
from composer.karaoke.template import CountInSettings, hex_rgb
from composer.types import LyricLine

_SUPERSAMPLE = 4  # dots are drawn this much larger and shrunk: smooth edges
_EDGE = (0, 0, 0)  # a dark rim keeps a white dot visible over a pale background
_TRACK_OPACITY = 0.3  # the bar's unfilled part


@dataclass(frozen=True)
class Cue:
    line: int  # index of the line counted in
    start: float  # first beat
    end: float  # the line's first syllable


def count_in_cues(lines: Sequence[LyricLine], settings: CountInSettings) -> list[Cue]:
    """A cue for every line after a pause longer than ``after_gap`` (the first line counts from 0 s)."""
    if settings.style == "none":
        return []
    cues = []
    for i, line in enumerate(lines):
        quiet_from = lines[i - 1].end if i else 0.0
        if line.start - quiet_from > settings.after_gap and not line.unsure:  # nothing to count in to
            cues.append(Cue(i, max(quiet_from, line.start - settings.seconds), line.start))
    return cues


@dataclass(frozen=True, eq=False)
class _Piece:
    """A premultiplied sprite in one plane format: per plane 256 - alpha and colour * alpha (+ rounding)."""

    inv: list[np.ndarray]
    pm: list[np.ndarray]
    width: int
    height: int


class CountIn:
    """Cues of one timeline and the drawing of them."""

    def __init__(
        self,
        settings: CountInSettings,
        lines: Sequence[LyricLine],
        frame: tuple[int, int],
        line_box: Callable[[int], tuple[int, int, int, int]],
    ):
        """``line_box(i)``: (x, y, height, width) of line i's sprite when it is sung, which the indicator sits by."""
        self.settings = settings
        self._line_box = line_box
        self._boxes: dict[int, tuple[int, int, int, int]] = {}
        self.cues = count_in_cues(lines, settings)
        self._starts = [c.start for c in self.cues]
        self.width, self.height = frame
        k = min(frame) / REFERENCE_SIDE
        self.dot = max(4, _even(settings.size * k))
        self.pitch = _even(self.dot * 1.8)  # dot to dot
        self._colour = hex_rgb(settings.color)
        self._pieces: dict[tuple[str, str], _Piece] = {}

    def active(self, t: float) -> Cue | None:
        """The cue running at ``t``, if any."""
        k = bisect.bisect_right(self._starts, t) - 1
        if k >= 0 and t < self.cues[k].end:
            return self.cues[k]
        return None

    def lit(self, cue: Cue, t: float) -> int:
        """Dots still lit at ``t``: all of them on the first beat, one fewer each beat, none on the syllable."""
        beats = self.settings.beats
        beat = (cue.end - cue.start) / beats
        return min(beats, max(0, math.ceil((cue.end - t) / beat - 1e-9)))

    def box(self, line: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the indicator of line ``line``."""
        hit = self._boxes.get(line)
        if hit is None:
            line_x, line_y, line_h, _ = self._line_box(line)
            hit = self._boxes[line] = self._place(line_x, line_y, line_h)
        return hit

    def _place(self, line_x: int, line_y: int, line_h: int) -> tuple[int, int, int, int]:
        w = (self.settings.beats - 1) * self.pitch + self.dot
        h = self.dot
        y = line_y - h - self.dot // 2
        if y < 0:
            y = line_y + line_h + self.dot // 2
        x = min(max(0, line_x), self.width - w)
        y = min(max(0, _even(y)), self.height - h)
        return _even(x), y, w, h

    def dot_boxes(self, line: int) -> list[tuple[int, int, int, int]]:
        """(x, y, width, height) of each dot of line ``line``'s count-in, first to go out first."""
        x, y, _, h = self.box(line)
        return [(x + j * self.pitch, y, self.dot, h) for j in range(self.settings.beats)]

    def draw(self, planes: list[np.ndarray], fmt: PlaneFormat, t: float) -> None:
        """The count-in running at ``t``, if any, blended into ``planes``."""
        cue = self.active(t)
        if cue is None:
            return
        x, y, w, _ = self.box(cue.line)
        if self.settings.style == "bar":
            fill = min(w, max(0, _even(w * (t - cue.start) / max(cue.end - cue.start, 1e-6))))
            _blend(planes, fmt, self._piece("track", fmt), x, y, 0, w)
            _blend(planes, fmt, self._piece("bar", fmt), x, y, 0, fill)
            return
        # the row of dots is one sprite; the ones gone out are the columns left of the lit ones
        gone = self.settings.beats - self.lit(cue, t)
        _blend(planes, fmt, self._piece("dots", fmt), x, y, gone * self.pitch, w)

    def _piece(self, kind: str, fmt: PlaneFormat) -> _Piece:
        hit = self._pieces.get((kind, fmt.name))
        if hit is None:
            hit = self._pieces[(kind, fmt.name)] = self._make(kind, fmt)
        return hit

    def _make(self, kind: str, fmt: PlaneFormat) -> _Piece:
        d = self.dot
        if kind == "dots":
            fill, edge = _disc(d)
            w = (self.settings.beats - 1) * self.pitch + d
            fill, edge = (_row(a, self.pitch, self.settings.beats, w) for a in (fill, edge))
            opacity = 1.0
        else:
            w = (self.settings.beats - 1) * self.pitch + d
            h = _even(d / 2)
            fill, edge = _rounded_bar(w, h)
            opacity = _TRACK_OPACITY if kind == "track" else 1.0
        fill, edge = fill * opacity, edge * opacity
        cover_fill, cover_edge = fmt.weights(fill), fmt.weights(edge)
        colour, rim = fmt.colour(self._colour), fmt.colour(_EDGE)
        inv, pm = [], []
        for i in range(len(fmt.subsample)):
            a8 = np.rint((cover_fill[i] + cover_edge[i]) * 256.0)
            inv.append((256 - a8).astype(np.uint16))
            value = cover_fill[i] * colour[i] + cover_edge[i] * rim[i]
            pm.append((np.minimum(np.rint(value * 256.0), a8 * 255.0) + 127).astype(np.uint16))
        return _Piece(inv, pm, fill.shape[1], fill.shape[0])


def _row(piece: np.ndarray, pitch: int, n: int, width: int) -> np.ndarray:
    """``n`` copies of ``piece`` side by side, ``pitch`` apart, in a strip ``width`` wide."""
    out = np.zeros((piece.shape[0], width), piece.dtype)
    for j in range(n):
        out[:, j * pitch : j * pitch + piece.shape[1]] = piece
    return out


def _disc(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (0-1) of a filled disc of diameter ``d`` and of its dark rim."""
    return _shape(d, d, lambda draw, box, inset: draw.ellipse(_inset(box, inset), fill=255))


def _rounded_bar(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    return _shape(w, h, lambda draw, box, inset: draw.rounded_rectangle(_inset(box, inset), h * _SUPERSAMPLE // 2, 255))


def _shape(w: int, h: int, paint) -> tuple[np.ndarray, np.ndarray]:
    s = _SUPERSAMPLE
    rim = max(1, round(min(w, h) * 0.12)) * s
    outer, inner = Image.new("L", (w * s, h * s)), Image.new("L", (w * s, h * s))
    box = (0, 0, w * s - 1, h * s - 1)
    paint(ImageDraw.Draw(outer), box, 0)
    paint(ImageDraw.Draw(inner), box, rim)
    outer_a = np.asarray(outer.resize((w, h), Image.BOX), np.float32) / 255.0
    inner_a = np.asarray(inner.resize((w, h), Image.BOX), np.float32) / 255.0
    return inner_a, np.clip(outer_a - inner_a, 0.0, 1.0)


def _inset(box: tuple[int, int, int, int], by: int) -> tuple[int, int, int, int]:
    return box[0] + by, box[1] + by, box[2] - by, box[3] - by


def _blend(planes: list[np.ndarray], fmt: PlaneFormat, piece: _Piece, x: int, y: int, a: int, b: int) -> None:
    """Columns [a, b) of ``piece`` over the planes at (x, y): dst = (dst * (256 - alpha) + pm) >> 8."""
    for i, sub in enumerate(fmt.subsample):
        x0, y0, c0, c1 = x // sub, y // sub, a // sub, b // sub
        if c1 <= c0:
            continue
        dst = planes[i][y0 : y0 + piece.height // sub, x0 + c0 : x0 + c1]
        mixed = dst * piece.inv[i][: dst.shape[0], c0:c1] + piece.pm[i][: dst.shape[0], c0:c1]
        np.copyto(dst, mixed >> 8, casting="unsafe")


def _even(x: float) -> int:
    return 2 * int(round(x / 2))
