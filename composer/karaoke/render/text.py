"""Lyric lines drawn once into sprites: the same pixels in the plain and in the highlight colours, plus
where each word or syllable sits, so that any instant maps to a sweep column per row.

A line too wide for the frame wraps into balanced rows at the template's size (so all lines look alike);
only when ``max_rows`` rows do not fit does it shrink, and a line that still does not fit at half size
is scaled down as an image, so a sprite never leaves the frame.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from composer.karaoke.render.fontchain import FontChain, is_rtl, load_chain
from composer.karaoke.template import TextSettings, TitleSettings, hex_rgb
from composer.types import LyricLine

REFERENCE_SIDE = 1080  # template lengths are pixels for a frame whose shorter side is this long
MIN_SHRINK = 0.5  # a line may shrink to half the template's size before it is squeezed as an image


@dataclass(frozen=True)
class TextStyle:
    """Text settings resolved to pixels for one frame size."""

    font: str
    size: int
    color: tuple[int, int, int]
    highlight: tuple[int, int, int]
    stroke_width: int
    stroke_color: tuple[int, int, int]
    effect: str
    effect_color: tuple[int, int, int]
    effect_size: int
    uppercase: bool
    mode: str = "smooth"
    max_rows: int = 2

    @classmethod
    def from_settings(cls, text: TextSettings, frame: tuple[int, int]) -> TextStyle:
        k = min(frame) / REFERENCE_SIDE
        return cls(
            font=text.font,
            size=max(8, round(text.size * k)),
            color=hex_rgb(text.color),
            highlight=hex_rgb(text.highlight_color),
            stroke_width=round(text.stroke_width * k),
            stroke_color=hex_rgb(text.stroke_color),
            effect=text.effect,
            effect_color=hex_rgb(text.effect_color),
            effect_size=round(text.effect_size * k),
            uppercase=text.uppercase,
            mode=text.highlight,
            max_rows=text.max_rows,
        )

    @classmethod
    def for_title(cls, title: TitleSettings, text: TextSettings, frame: tuple[int, int]) -> TextStyle:
        k = min(frame) / REFERENCE_SIDE
        colour = hex_rgb(title.color)
        # the outline keeps its proportion to the letters, so a big title looks like the lyrics
        stroke = round(text.stroke_width * k * title.size / text.size)
        return dataclasses.replace(
            cls.from_settings(text, frame),
            size=max(8, round(title.size * k)),
            color=colour,
            highlight=colour,
            stroke_width=stroke,
            max_rows=3,
        )

    @property
    def pads(self) -> tuple[int, int, int, int]:
        """Room around the ink (left, top, right, bottom) for stroke, shadow or glow, so nothing is
        clipped at the sprite edge and no more than needed is blended per frame."""
        s = self.effect_size
        before = after = 0
        if self.effect == "shadow":
            # offset s down-right, blurred with sigma s/2 (reach 3 sigma)
            before, after = math.ceil(0.5 * s), math.ceil(2.5 * s)
        elif self.effect == "glow":
            before = after = math.ceil(3.5 * s)
        lead, trail = self.stroke_width + before + 2, self.stroke_width + after + 2
        return lead, lead, trail, trail


# ------------------------------------------------------------------------------------------- sweep units


@dataclass(frozen=True)
class _Unit:
    """A timed piece of text (a word or a syllable) at character offsets inside its row."""

    start: float
    end: float
    c0: int
    c1: int
    word_end: bool  # last unit of its word: lit, it extends to the middle of the following space


@dataclass(frozen=True)
class _Token:
    text: str
    start: float
    end: float
    pieces: tuple[tuple[str, float, float], ...]  # syllables (text, start, end), concatenating to text


def _tokens(line: LyricLine, uppercase: bool) -> list[_Token]:
    def up(s: str) -> str:
        return s.upper() if uppercase else s

    if line.unsure:  # the aligner could not place it: shown, never lit as sung
        return [_Token(up(w), math.inf, math.inf, ((up(w), math.inf, math.inf),)) for w in line.text.split()]
    if line.words:
        tokens = []
        for w in line.words:
            sylls = tuple((up(s.text), s.start, s.end) for s in w.syllables)
            if "".join(s[0] for s in sylls) != up(w.text) or not sylls:
                sylls = ((up(w.text), w.start, w.end),)  # syllables that do not spell the word: time it whole
            tokens.append(_Token(up(w.text), w.start, w.end, sylls))
        return tokens
    # an untimed line: spread its words evenly over the line
    words = line.text.split()
    if not words:
        return []
    cuts = np.linspace(line.start, line.end, len(words) + 1)
    return [
        _Token(up(w), float(cuts[i]), float(cuts[i + 1]), ((up(w), float(cuts[i]), float(cuts[i + 1])),))
        for i, w in enumerate(words)
    ]


@dataclass(frozen=True, eq=False)
class RowSweep:
    """Where the sweep is in one row of a sprite: sprite rows [y0, y1) cut at column ``column(t)``.

    Columns count from the left edge, or from the right edge in a right-to-left row (``rtl``), whose sweep
    reveals the text from the right."""

    y0: int
    y1: int
    starts: np.ndarray  # unit start times, ascending
    ends: np.ndarray
    x_from: np.ndarray  # smooth mode: column when the unit starts...
    x_to: np.ndarray  # ...and when it ends
    x_done: np.ndarray  # column once the unit is lit (word and syllable modes; smooth after the unit)
    rtl: bool = False

    def column(self, t: float, mode: str) -> int:
        k = bisect.bisect_right(self.starts, t) - 1  # type: ignore[arg-type]
        if k < 0:
            return 0
        if mode == "smooth" and t < self.ends[k]:
            span = self.ends[k] - self.starts[k]
            f = (t - self.starts[k]) / span if span > 0 else 1.0
            return int(round(self.x_from[k] + f * (self.x_to[k] - self.x_from[k])))
        return int(self.x_done[k])


# ----------------------------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Row:
    tokens: tuple[_Token, ...]

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.tokens)


@dataclass(frozen=True)
class LineLayout:
    """How a line is set: font size, rows, and a final squeeze factor (1.0 unless it had to be scaled)."""

    style: TextStyle
    size: int
    rows: tuple[_Row, ...]
    squeeze: float

    @cached_property
    def chain(self) -> FontChain:
        return load_chain(self.style.font, self.size)

    @cached_property
    def rtl(self) -> bool:
        return is_rtl(" ".join(r.text for r in self.rows))

    @cached_property
    def metrics(self) -> tuple[int, int]:
        """(ascent, descent) of a row: the tallest of the fonts the line is set in, so rows never overlap."""
        return self.chain.metrics([r.text for r in self.rows])

    @cached_property
    def row_height(self) -> int:
        ascent, descent = self.metrics
        return ascent + descent + 2 * self.style.stroke_width

    @cached_property
    def row_widths(self) -> list[float]:
        return [self.chain.getlength(r.text, self.rtl) + 2 * self.style.stroke_width for r in self.rows]

    @cached_property
    def overhang(self) -> tuple[int, int, int, int]:
        """Ink beyond the advance widths and font metrics (left, top, right, bottom): accents above the
        ascender, glyphs like "|" or "}" below the descender, overhanging first or last letters."""
        ascent, descent = self.metrics
        sw = self.style.stroke_width
        left = top = right = bottom = 0
        for row in self.rows:
            if not row.text:
                continue
            x0, y0, x1, y1 = self.chain.getbbox(row.text, self.rtl, ascent, stroke_width=sw)
            length = self.chain.getlength(row.text, self.rtl)
            left, top = max(left, math.ceil(-(x0 + sw))), max(top, math.ceil(-(y0 + sw)))
            right = max(right, math.ceil(x1 - (length + sw)))
            bottom = max(bottom, math.ceil(y1 - (ascent + descent + sw)))
        return left, top, right, bottom

    @property
    def raw_size(self) -> tuple[int, int]:
        """Sprite size before the squeeze, padded and even (4:2:0 chroma needs even sizes)."""
        pad_l, pad_t, pad_r, pad_b = self.style.pads
        left, top, right, bottom = self.overhang
        w = max(self.row_widths, default=0) + pad_l + pad_r + left + right
        h = self.row_height * max(1, len(self.rows)) + pad_t + pad_b + top + bottom
        return _even_up(w), _even_up(h)

    def origin(self, r: int) -> tuple[float, float]:
        """Where row r is drawn (left edge, top of the row's ascent)."""
        left, top, _, _ = self.overhang
        sw = self.style.stroke_width
        pad_l, pad_t, _, _ = self.style.pads
        x = pad_l + left + sw + (max(self.row_widths) - self.row_widths[r]) / 2
        y = pad_t + top + sw + r * self.row_height
        return x, y

    @property
    def size_px(self) -> tuple[int, int]:
        w, h = self.raw_size
        return _even_up(w * self.squeeze), _even_up(h * self.squeeze)


def layout_line(line: LyricLine, style: TextStyle, max_width: int, max_height: int) -> LineLayout:
    """Pick font size and rows so the sprite fits ``max_width`` x ``max_height``."""
    tokens = _tokens(line, style.uppercase)
    # wrap at the template's size (every line the same size); shrink only when max_rows rows do not fit
    size = style.size
    floor = max(6, int(style.size * MIN_SHRINK))
    while True:
        layout = _wrap(tokens, style, size, max_width)
        w, h = layout.raw_size
        if (w <= max_width and h <= max_height) or size <= floor:
            break
        size = max(floor, int(size * 0.92))
    w, h = layout.raw_size
    squeeze = min(1.0, max_width / w, max_height / h)
    if squeeze < 1.0:
        layout = LineLayout(style, layout.size, layout.rows, squeeze * 0.999)
    return layout


def one_row_height(style: TextStyle) -> int:
    """Sprite height of a one-row line at the style's full size."""
    return LineLayout(style, style.size, (_Row(()),), 1.0).raw_size[1]


def _wrap(tokens: list[_Token], style: TextStyle, size: int, max_width: int) -> LineLayout:
    chain = load_chain(style.font, size)
    pad_l, _, pad_r, _ = style.pads
    inner = max_width - pad_l - pad_r - 2 * style.stroke_width
    rtl = is_rtl(" ".join(t.text for t in tokens))
    space = chain.getlength(" ", rtl)
    widths = [chain.getlength(t.text, rtl) for t in tokens]
    total = sum(widths) + space * max(0, len(tokens) - 1)
    if total <= inner or len(tokens) <= 1:
        return LineLayout(style, size, (_Row(tuple(tokens)),), 1.0)
    # fewest rows that fit, then the narrowest limit that keeps that row count: balanced rows read better
    n_rows = len(_greedy(widths, space, inner))
    lo, hi = max(widths), max(inner, max(widths))
    if n_rows > style.max_rows:
        # too long for max_rows at this size: split it in max_rows balanced rows anyway; the caller shrinks
        n_rows, hi = style.max_rows, total
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        if len(_greedy(widths, space, mid)) <= n_rows:
            hi = mid
        else:
            lo = mid
    groups = _greedy(widths, space, hi)
    return LineLayout(style, size, tuple(_Row(tuple(tokens[i] for i in g)) for g in groups), 1.0)


def _greedy(widths: list[float], space: float, limit: float) -> list[list[int]]:
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        need = w if not rows[-1] else used + space + w
        if rows[-1] and need > limit + 1e-6:
            rows.append([i])
            used = w
        else:
            rows[-1].append(i)
            used = need
    return rows


# ------------------------------------------------------------------------------------------------ sprite


@dataclass(frozen=True, eq=False)
class LineSprite:
    """A drawn line as three (h, w) uint8 coverage maps, one per flat colour: the letters' ``fill``, their
    ``stroke`` and the shadow or glow ``effect``. Their sum is the alpha (never above 255).

    Plain and highlighted versions differ only in the fill colour, so both come from the same maps, and
    since compositing is linear in these maps a renderer can build premultiplied planes directly from
    them. ``rows`` map a time to each row's sweep column.
    """

    fill: np.ndarray
    stroke: np.ndarray
    effect: np.ndarray
    colours: dict[str, tuple[int, int, int]]  # "plain", "high", "stroke", "effect"
    rows: tuple[RowSweep, ...]
    mode: str

    @property
    def width(self) -> int:
        return self.fill.shape[1]

    @property
    def height(self) -> int:
        return self.fill.shape[0]

    @property
    def alpha(self) -> np.ndarray:
        return self.fill + self.stroke + self.effect  # uint8: the maps are split so this cannot pass 255

    def columns(self, t: float) -> list[int]:
        """The sweep column of each row at time t (0 = nothing lit, width = all lit; counted from the right
        in a right-to-left row)."""
        return [r.column(t, self.mode) for r in self.rows]


def render_line(line: LyricLine, style: TextStyle, max_width: int, max_height: int) -> LineSprite:
    """Lay out and draw ``line``; the sweep follows its word or syllable times."""
    return draw_layout(layout_line(line, style, max_width, max_height))


def render_title(text: str, style: TextStyle, max_width: int, max_height: int) -> LineSprite:
    """A static block of text (title card) drawn with the same machinery; its sweep is never used."""
    line = LyricLine(text=text, start=0.0, end=0.0, words=())
    return draw_layout(layout_line(line, style, max_width, max_height))


def draw_layout(layout: LineLayout) -> LineSprite:
    style = layout.style
    w, h = layout.raw_size
    chain, rtl, ascent = layout.chain, layout.rtl, layout.metrics[0]
    full = Image.new("L", (w, h))  # fill and stroke together
    inner = Image.new("L", (w, h))  # fill only: where the text colour goes
    d_full, d_inner = ImageDraw.Draw(full), ImageDraw.Draw(inner)
    origins = []
    for r, row in enumerate(layout.rows):
        x, y = layout.origin(r)
        origins.append((x, y))
        chain.draw(d_full, (x, y), row.text, rtl, ascent, fill=255, stroke_width=style.stroke_width, stroke_fill=255)
        chain.draw(d_inner, (x, y), row.text, rtl, ascent, fill=255)
    effect = _effect_mask(full, style)
    bands = _row_bands(layout, h)
    rows = [_row_sweep(layout, r, origins[r][0], bands[r], w) for r in range(len(layout.rows))]

    if layout.squeeze < 1.0:
        size = layout.size_px
        full, inner = (m.resize(size, Image.Resampling.LANCZOS) for m in (full, inner))
        effect = effect.resize(size, Image.Resampling.LANCZOS) if effect is not None else None
        rows = [_scale_row(r, size[0] / w, size[1] / h, size) for r in rows]

    fill, stroke, glow = _coverage(full, inner, effect)
    colours = {
        "plain": style.color,
        "high": style.highlight,
        "stroke": style.stroke_color,
        "effect": style.effect_color,
    }
    return LineSprite(fill, stroke, glow, colours, tuple(rows), style.mode)


def _coverage(full: Image.Image, inner: Image.Image, effect: Image.Image | None):
    """Split the masks into disjoint uint8 coverages: fill, stroke (ink that is not fill) and effect
    (shadow or glow showing where the ink does not cover it), so that fill + stroke + effect <= 255."""
    ink = np.asarray(full, np.int16)
    fill = np.minimum(np.asarray(inner, np.int16), ink)
    if effect is None:
        halo = np.zeros_like(ink)
    else:
        # the effect sits under the ink at 85% strength: visible share = 0.85 * effect * (1 - ink)
        halo = (np.asarray(effect, np.int32) * (255 - ink) * 85 + 255 * 50) // (255 * 100)
    return fill.astype(np.uint8), (ink - fill).astype(np.uint8), halo.astype(np.uint8)


def _effect_mask(full: Image.Image, style: TextStyle) -> Image.Image | None:
    if style.effect == "none" or style.effect_size <= 0:
        return None
    s = style.effect_size
    if style.effect == "shadow":
        moved = Image.new("L", full.size)
        moved.paste(full, (s, s))
        return moved.filter(ImageFilter.GaussianBlur(max(1.0, s / 2)))
    # glow: thicken, then blur wide; boost so the halo is visible right next to the letters
    grown = full.filter(ImageFilter.MaxFilter(_odd(max(3, s // 2))))
    halo = grown.filter(ImageFilter.GaussianBlur(s))
    return halo.point(lambda v: min(255, int(v * 1.8)))


def _row_bands(layout: LineLayout, height: int) -> list[tuple[int, int]]:
    """Sprite rows owned by each text row: cut halfway between rows, on even rows (chroma pairs)."""
    n = len(layout.rows)
    cuts = [0] + [_even_round(layout.origin(r)[1] - layout.style.stroke_width) for r in range(1, n)] + [height]
    return [(cuts[i], cuts[i + 1]) for i in range(n)]


def _row_sweep(layout: LineLayout, r: int, x0: float, band: tuple[int, int], width: int) -> RowSweep:
    style, chain, rtl = layout.style, layout.chain, layout.rtl
    row = layout.rows[r]
    text = row.text
    units: list[_Unit] = []
    offset = 0
    for token in row.tokens:
        if style.mode == "word":
            units.append(_Unit(token.start, token.end, offset, offset + len(token.text), True))
        else:
            c = offset
            for i, (piece, s0, s1) in enumerate(token.pieces):
                units.append(_Unit(s0, s1, c, c + len(piece), i == len(token.pieces) - 1))
                c += len(piece)
        offset += len(token.text) + 1
    sw = style.stroke_width
    if rtl:
        # measured from the right edge: logical order runs right to left, and so does the sweep
        x0 = width - x0 - chain.getlength(text, rtl)
    xs = {c: x0 + chain.getlength(text[:c], rtl) for u in units for c in (u.c0, u.c1)}
    x_from, x_to, x_done = [], [], []
    for i, u in enumerate(units):
        first_piece = i == 0 or units[i - 1].word_end
        left = xs[u.c0] - (sw + 1 if first_piece else 0)
        right = xs[u.c1] + (sw + 1 if u.word_end else 0)
        if not u.word_end:
            done = xs[u.c1]
        elif i + 1 < len(units):
            done = 0.5 * (right + xs[units[i + 1].c0] - sw - 1)  # middle of the space between words
        else:
            done = width
        x_from.append(left)
        x_to.append(right)
        x_done.append(done)
    # a row's units must rise in time for bisect; timelines guarantee it, clamp defensively anyway
    starts = np.maximum.accumulate(np.array([u.start for u in units], np.float64)) if units else np.zeros(0)
    ends = np.maximum(np.array([u.end for u in units], np.float64), starts) if units else np.zeros(0)
    return RowSweep(
        band[0],
        band[1],
        starts,
        ends,
        np.clip(x_from, 0, width),
        np.clip(x_to, 0, width),
        np.clip(np.round(x_done), 0, width),
        rtl,
    )


def _scale_row(row: RowSweep, kx: float, ky: float, size: tuple[int, int]) -> RowSweep:
    y0 = 0 if row.y0 == 0 else _even_round(row.y0 * ky)
    y1 = size[1] if row.y1 * ky >= size[1] - 2 else _even_round(row.y1 * ky)
    return RowSweep(
        y0,
        y1,
        row.starts,
        row.ends,
        row.x_from * kx,
        row.x_to * kx,
        np.minimum(np.round(row.x_done * kx), size[0]),
        row.rtl,
    )


def _even_up(x: float) -> int:
    n = int(math.ceil(x - 1e-9))
    return n + (n % 2)


def _even_round(x: float) -> int:
    return 2 * int(round(x / 2))


def _odd(n: int) -> int:
    return n if n % 2 else n + 1
