"""Per-frame composition: background planes, then only the text boxes; the karaoke sweep is a column cut
(highlighted sprite left of the column, plain sprite right of it).

The fast path writes yuv420p straight into a reused buffer for ffmpeg (`-f rawvideo -pix_fmt yuv420p`),
so neither Python nor ffmpeg converts colour per frame. When the background is a still image (no Ken Burns,
not in a crossfade) each visible line is composited over its patch of background once and cached, and a
frame is only memory copies. Otherwise each text box is alpha-blended per frame in 16-bit integers.

Which lines are on screen: the line being sung (or the next one, between lines) plus the following
``lines - 1`` previewed. Line i always sits in slot ``i % lines`` so nothing jumps (traditional karaoke
alternation). A gap longer than ``gap_hide`` shows what comes next (``gap_show``: the next line faded, the title,
or nothing) until the next line's lead-in: ``lead_in``, or longer for a line with more words to read. A count-in
(``countin.py``) is drawn over the frame before a line that follows a pause.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from composer.karaoke.render.background import RGB24, YUV420P, PlaneFormat, Slideshow
from composer.karaoke.render.cards import CardLayer, PlacedCard, SongCard
from composer.karaoke.render.countin import CountIn
from composer.karaoke.render.text import (
    REFERENCE_SIDE,
    LineSprite,
    TextStyle,
    draw_layout,
    layout_line,
    one_row_height,
)
from composer.karaoke.template import Template, hex_rgb
from composer.types import LyricLine, Timeline

TITLE = -1  # sprite key of the title card (lines use their index)
_SIDE_MARGIN = 0.05  # share of the frame width kept clear left and right of the text


@dataclass(frozen=True)
class _Visible:
    key: int  # line index, or TITLE
    slot: int
    current: bool  # the line being (or about to be) sung; others are previews
    faded: bool = False  # the next line shown across a long gap (gap_opacity)


@dataclass(frozen=True, eq=False)
class _PlaneSprite:
    """A sprite ready to blend in one plane format: per plane, 256 - alpha and the premultiplied colour
    plus rounding, both uint16, so a blend is ``(bg * inv + pm) >> 8``."""

    inv: list[np.ndarray]
    pm_plain: list[np.ndarray]
    pm_high: list[np.ndarray]


class _Schedule:
    """Which lines are visible when, from the timeline and the template's text settings."""

    def __init__(
        self,
        lines: Sequence[LyricLine],
        n_slots: int,
        lead_in: float,
        gap_hide: float,
        title_seconds: float,
        read_words_per_s: float = math.inf,
        gap_show: str = "none",
        counted_from: dict[int, float] | None = None,
    ):
        self.lines = list(lines)
        self.counted_from = counted_from or {}  # line -> start of its count-in: the line is on screen by then
        self.read_words_per_s = read_words_per_s
        self.gap_show = gap_show
        self.n_slots = n_slots
        self.gap_hide = gap_hide
        self.ends = [ln.end for ln in self.lines]
        # the title yields to the first line if that comes early
        first = self.lines[0].start - lead_in if self.lines else math.inf
        self.title_end = max(0.0, min(title_seconds, first))
        self.show_from = [self._show_from(i, lead_in) for i in range(len(self.lines))]

    def _gap_before(self, i: int) -> float:
        prev_end = self.lines[i - 1].end if i > 0 else 0.0
        return self.lines[i].start - prev_end

    def _show_from(self, i: int, lead_in: float) -> float:
        """When line i (as the current line) and its previews appear."""
        prev_end = self.lines[i - 1].end if i > 0 else 0.0
        # long enough to read it before its sweep: a line of many words comes in earlier
        lead = max(lead_in, len(self.lines[i].text.split()) / self.read_words_per_s)
        start = self.lines[i].start - lead if self._gap_before(i) > self.gap_hide else prev_end
        start = min(start, self.counted_from.get(i, math.inf))
        return max(start, prev_end, self.title_end)

    def visible(self, t: float) -> list[_Visible]:
        if t < self.title_end:
            return [_Visible(TITLE, 0, False)]
        c = bisect.bisect_right(self.ends, t)  # first line not yet finished
        if c >= len(self.lines):
            return []
        if t < self.show_from[c]:  # a long gap: say what comes next
            if self.gap_show == "next":
                return [_Visible(c, c % self.n_slots, False, faded=True)]
            return [_Visible(TITLE, 0, False)] if self.gap_show == "title" else []
        out = [_Visible(c, c % self.n_slots, True)]
        for j in range(c + 1, min(c + self.n_slots, len(self.lines))):
            if self._gap_before(j) > self.gap_hide:
                break  # never preview across an instrumental break
            out.append(_Visible(j, j % self.n_slots, False))
        return out


class FrameRenderer:
    """Frames of a karaoke video: ``yuv420p(t)`` for ffmpeg, ``rgb(t)`` for previews and MoviePy."""

    def __init__(
        self,
        template: Template,
        timeline: Timeline,
        images: list[Path] | list[Image.Image],
        *,
        seed: int = 0,
        title: str | None = None,
        background=None,
        card: SongCard | None = None,
    ):
        """``background``: drawn instead of a slideshow of ``images`` (a ``VideoBackground``, a ``FlatBackground``:
        anything with Slideshow's ``draw``, ``static_key`` and ``still_planes``). ``card`` says what the title
        card shows (band, title, place in a set); without one it shows ``title``, else the timeline's title."""
        self.template = template
        self.timeline = timeline
        self.width, self.height = template.video.width, template.video.height
        self.fps = template.video.fps
        self.slideshow = background or Slideshow(images, template.background, (self.width, self.height), seed=seed)
        text = template.text
        self._style = TextStyle.from_settings(text, (self.width, self.height))
        self._preview_opacity = text.preview_opacity
        if card is None:
            card = SongCard((title if title is not None else timeline.title).strip())
        self.card = card
        show_title = template.title.enabled and bool(card.title or card.band) and template.title.seconds > 0
        title_text = card.title or card.band
        self.countin = CountIn(template.countin, timeline.lines, (self.width, self.height), self.line_box)
        self._schedule = _Schedule(
            timeline.lines,
            text.lines,
            text.lead_in,
            text.gap_hide,
            template.title.seconds if show_title else 0.0,
            text.read_words_per_s,
            "none" if text.gap_show == "title" and not title_text else text.gap_show,
            {cue.line: cue.start for cue in self.countin.cues},
        )
        self._layout_lines()
        self._cards = CardLayer(
            template,
            card,
            (self.width, self.height),
            self._free_rows(),
            max_width=self._max_width,
            duration=timeline.duration,
            first_shown=self._schedule.show_from[0] if timeline.lines else None,
            last_end=timeline.lines[-1].end if timeline.lines else 0.0,
            yield_until=self._schedule.title_end,
        )
        self._sprites: OrderedDict[int, LineSprite] = OrderedDict()
        self._plane_sprites: OrderedDict[tuple, _PlaneSprite] = OrderedDict()
        self._composites: OrderedDict[tuple, tuple[list[np.ndarray], list[np.ndarray]]] = OrderedDict()
        self._buffers: dict[str, list] = {}
        self._turn: dict[str, int] = {}
        self._scratch: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------------------------ public API

    def n_frames(self, duration: float) -> int:
        """Frames needed to cover ``duration`` seconds (frame i shows time i / fps)."""
        return max(1, math.ceil(duration * self.fps - 1e-6))

    def rgb(self, t: float) -> np.ndarray:
        """The frame at ``t`` as a new (H, W, 3) uint8 RGB array."""
        return self._compose(t, RGB24).copy()

    def yuv420p(self, t: float) -> np.ndarray:
        """The frame at ``t`` as flat uint8 yuv420p (Y, then U, then V planes; BT.601 limited range).

        The array is one of two reused buffers: it stays valid until the call after next, so a writer may
        send frame n while frame n + 1 is built. Copy it to keep it longer.
        """
        return self._compose(t, YUV420P)

    def cards(self, t: float) -> list[PlacedCard]:
        """The title or end card rows on screen at ``t``, with their sprites and places."""
        return self._cards_at(t, self._schedule.visible(t))

    def _cards_at(self, t: float, visible: list[_Visible]) -> list[PlacedCard]:
        lines_on = any(v.key != TITLE for v in visible)
        cards = self._cards.at(t, lines_on)
        if not cards and any(v.key == TITLE for v in visible):
            cards = self._cards.title()  # the schedule asks for the title outside the card's own time
        return cards

    def clip(self, duration: float):
        """A MoviePy VideoClip of this render (RGB frames), for MoviePy users."""
        from moviepy import VideoClip

        return VideoClip(frame_function=self.rgb, duration=duration).with_fps(self.fps)

    # ------------------------------------------------------------------------------------ layout

    def _layout_lines(self) -> None:
        text = self.template.text
        k = min(self.width, self.height) / REFERENCE_SIDE
        margin = round(text.margin * k)
        self._max_width = self.width - 2 * round(self.width * _SIDE_MARGIN)
        available = max(16, self.height - 2 * margin)
        n = text.lines
        max_height = int(available / (1 + (n - 1) * text.line_spacing))
        self._layouts = [
            layout_line(ln, self._voice_style(ln.voice), self._max_width, max_height) for ln in self.timeline.lines
        ]
        # each slot is as tall as the tallest line that will sit in it (line i sits in slot i % n), and
        # never shorter than one row, so the block sits in the same place whatever the lyrics
        one_row = min(one_row_height(self._style), max_height)
        self._slot_h = [max((lay.size_px[1] for lay in self._layouts[s::n]), default=one_row) for s in range(n)]
        self._slot_h = [max(h, one_row) for h in self._slot_h]
        gap = _even(one_row * (text.line_spacing - 1.0))
        block_h = sum(self._slot_h) + (n - 1) * gap
        # a block of slots at each place a voice sings from (the template's [text] position, and any other a
        # [voices.NAME] gives); a line sits in its voice's block
        self._line_pos = [self.template.voice(ln.voice).position for ln in self.timeline.lines]
        self._slot_tops_at: dict[str, list[int]] = {}
        for position in dict.fromkeys([text.position, *self._line_pos]):
            if position == "top":
                top = margin
            elif position == "center":
                top = (self.height - block_h) / 2
            else:
                top = self.height - margin - block_h
            top = min(max(0, top), max(0, self.height - block_h))
            tops = self._slot_tops_at[position] = []
            for h in self._slot_h:
                tops.append(_even(top))
                top += h + gap
        self._block_h = block_h

    def _voice_style(self, voice: str) -> TextStyle:
        if not voice:
            return self._style
        look = self.template.voice(voice)
        return dataclasses.replace(self._style, color=hex_rgb(look.color), highlight=hex_rgb(look.highlight_color))

    def _free_rows(self) -> tuple[int, int]:
        """The tallest band of frame rows (top, bottom) that no lyric block covers: where a card shares the
        screen with the lyrics."""
        taken = sorted((tops[0], tops[0] + self._block_h) for tops in self._slot_tops_at.values())
        best, edge = (0, 0), 0
        for top, bottom in [*taken, (self.height, self.height)]:
            if top - edge > best[1] - best[0]:
                best = (edge, top)
            edge = max(edge, bottom)
        return best

    def _sprite(self, key: int) -> LineSprite:
        hit = self._sprites.get(key)
        if hit is not None:
            self._sprites.move_to_end(key)
            return hit
        return _remember(self._sprites, key, draw_layout(self._layouts[key]), 8)

    def _position(self, item: _Visible, sprite: LineSprite) -> tuple[int, int]:
        x = _even((self.width - sprite.width) / 2)
        # a line shorter than its slot leans towards the anchored edge, so the usual one-row lines
        # stay near the margin and close together even when some other line needed two rows
        spare = self._slot_h[item.slot] - sprite.height
        position = self._line_pos[item.key]
        lean = {"top": 0.0, "center": 0.5, "bottom": 1.0}[position]
        y = _even(self._slot_tops_at[position][item.slot] + spare * lean)
        # never outside the frame, whatever rounding did
        x = min(max(0, x), self.width - sprite.width)
        y = min(max(0, y), self.height - sprite.height)
        return x, y

    # ------------------------------------------------------------------------------------ composition

    def _compose(self, t: float, fmt: PlaneFormat) -> np.ndarray:
        buf, planes = self._buffer(fmt)
        self.slideshow.draw(t, fmt, planes)
        still = self.slideshow.static_key(t)
        visible = self._schedule.visible(t)
        items = [v for v in visible if v.key != TITLE]  # the cards are drawn by self._cards
        for card in self._cards_at(t, visible):
            self._draw(planes, fmt, still, _Visible(card.key, 0, False), card.sprite, 1.0, None, card.x, card.y)
        for item in items:
            sprite = self._sprite(item.key)
            if sprite.width > self.width or sprite.height > self.height:
                continue  # cannot happen with layout_line's squeeze; guards the slicing below
            dim = self._opacity(item)  # 1.0: drawn at full strength
            x, y = self._position(item, sprite)
            self._draw(planes, fmt, still, item, sprite, dim, t if item.current else None, x, y)
        self.countin.draw(planes, fmt, t)
        return buf

    def _draw(self, planes, fmt, still, item: _Visible, sprite: LineSprite, dim: float, lit_at, x: int, y: int):
        """One sprite into the frame's planes at opacity ``dim``, swept up to ``lit_at`` (None: not lit)."""
        columns = sprite.columns(lit_at) if lit_at is not None else [0] * len(sprite.rows)
        if still is not None:
            plain, high = self._composite(item, sprite, dim, still, fmt, x, y)
            self._cut_copy(planes, fmt, sprite, columns, plain, high, x, y)
        else:
            ps = self._plane_sprite(item.key, sprite, dim, fmt)
            self._cut_blend(planes, fmt, sprite, columns, ps, x, y)

    def _opacity(self, item: _Visible) -> float:
        if item.key == TITLE or item.current:
            return 1.0
        return self.template.text.gap_opacity if item.faded else self._preview_opacity

    def line_box(self, i: int) -> tuple[int, int, int, int]:
        """(x, y, height, width) of line i's sprite when it is sung."""
        sprite = self._sprite(i)
        x, y = self._position(_Visible(i, i % self.template.text.lines, True), sprite)
        return x, y, sprite.height, sprite.width

    def _buffer(self, fmt: PlaneFormat) -> tuple[np.ndarray, list[np.ndarray]]:
        if fmt.name not in self._buffers:
            self._buffers[fmt.name] = [fmt.alloc(self.width, self.height) for _ in range(2)]
            self._turn[fmt.name] = 0
            shape = (self.height, self.width, 3) if fmt is RGB24 else (self.height, self.width)
            self._scratch[fmt.name] = np.empty(shape, np.uint16)
        turn = self._turn[fmt.name] = 1 - self._turn[fmt.name]
        return self._buffers[fmt.name][turn]

    def _plane_sprite(self, key: int, sprite: LineSprite, dim: float, fmt: PlaneFormat) -> _PlaneSprite:
        cache_key = (key, dim, fmt.name)
        hit = self._plane_sprites.get(cache_key)
        if hit is not None:
            self._plane_sprites.move_to_end(cache_key)
            return hit
        opacity = dim / 255.0
        # per plane: coverage of each flat colour, resampled to the plane (alpha compositing is linear in
        # coverage, so subsampling coverage and then mixing colours is exact in 4:2:0)
        cover = {
            name: fmt.weights(getattr(sprite, name).astype(np.float32) * opacity)
            for name in ("fill", "stroke", "effect")
        }
        colour = {name: fmt.colour(rgb) for name, rgb in sprite.colours.items()}
        inv, plain, high = [], [], []
        for i in range(len(fmt.subsample)):
            alpha = cover["fill"][i] + cover["stroke"][i] + cover["effect"][i]
            a8 = np.rint(alpha * 256.0)
            inv.append((256 - a8).astype(np.uint16))
            base = cover["stroke"][i] * colour["stroke"][i] + cover["effect"][i] * colour["effect"][i]
            plain.append(_premultiplied(base + cover["fill"][i] * colour["plain"][i], a8))
            # previews are never lit, so they need no highlighted version
            high.append(plain[-1] if dim < 1.0 else _premultiplied(base + cover["fill"][i] * colour["high"][i], a8))
        return _remember(self._plane_sprites, cache_key, _PlaneSprite(inv, plain, high), 12)

    def _composite(
        self, item: _Visible, sprite: LineSprite, dim: float, image: int, fmt: PlaneFormat, x: int, y: int
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The sprite over its patch of a still background, plain and highlighted (cached)."""
        cache_key = (item.key, item.slot, dim, image, fmt.name)
        hit = self._composites.get(cache_key)
        if hit is not None:
            self._composites.move_to_end(cache_key)
            return hit
        ps = self._plane_sprite(item.key, sprite, dim, fmt)
        background = self.slideshow.still_planes(image, fmt)
        plain, high = [], []
        for i, sub in enumerate(fmt.subsample):
            patch = background[i][y // sub : (y + sprite.height) // sub, x // sub : (x + sprite.width) // sub]
            p, h = patch.copy(), patch.copy()
            scratch = np.empty(patch.shape, np.uint16)
            _blend(p, ps.inv[i], ps.pm_plain[i], scratch)
            _blend(h, ps.inv[i], ps.pm_high[i], scratch)
            plain.append(p)
            high.append(h)
        return _remember(self._composites, cache_key, (plain, high), 16)

    @staticmethod
    def _bands(sprite: LineSprite, columns: list[int], sub: int):
        """Per row band of the sprite: plane rows, and column spans (start, stop, lit) that cover the row
        (the lit span is on the left, or on the right of a right-to-left row)."""
        w = sprite.width // sub
        if not sprite.rows:
            yield 0, sprite.height // sub, ((0, w, False),)
        for row, col in zip(sprite.rows, columns):
            c = (col + sub // 2) // sub
            spans = ((0, w - c, False), (w - c, w, True)) if row.rtl else ((0, c, True), (c, w, False))
            yield row.y0 // sub, row.y1 // sub, spans

    def _cut_copy(self, planes, fmt, sprite, columns, plain, high, x, y) -> None:
        for i, sub in enumerate(fmt.subsample):
            x0, y0 = x // sub, y // sub
            w = sprite.width // sub
            for r0, r1, spans in self._bands(sprite, columns, sub):
                dst = planes[i][y0 + r0 : y0 + r1, x0 : x0 + w]
                for a, b, lit in spans:
                    dst[:, a:b] = (high if lit else plain)[i][r0:r1, a:b]

    def _cut_blend(self, planes, fmt, sprite, columns, ps: _PlaneSprite, x, y) -> None:
        scratch = self._scratch[fmt.name]
        for i, sub in enumerate(fmt.subsample):
            x0, y0 = x // sub, y // sub
            w = sprite.width // sub
            for r0, r1, spans in self._bands(sprite, columns, sub):
                dst = planes[i][y0 + r0 : y0 + r1, x0 : x0 + w]
                for a, b, lit in spans:
                    if b > a:
                        pm = ps.pm_high if lit else ps.pm_plain
                        _blend(dst[:, a:b], ps.inv[i][r0:r1, a:b], pm[i][r0:r1, a:b], scratch)


def _premultiplied(value: np.ndarray, a8: np.ndarray) -> np.ndarray:
    """Premultiplied colour (0-255 scale) as the uint16 term of ``_blend``, rounding bias included.

    Capped at 255 * alpha so that ``bg * inv + pm`` can never pass 65535."""
    return (np.minimum(np.rint(value * 256.0), a8 * 255.0) + 127).astype(np.uint16)


def _blend(dst: np.ndarray, inv: np.ndarray, pm: np.ndarray, scratch: np.ndarray) -> None:
    """dst = (dst * inv + pm) >> 8 in place, through a uint16 scratch (no allocation per frame)."""
    tmp = scratch[tuple(slice(0, n) for n in dst.shape)]
    np.multiply(dst, inv, out=tmp)
    tmp += pm
    tmp >>= 8
    np.copyto(dst, tmp, casting="unsafe")


def _remember(cache: OrderedDict, key, value, limit: int):
    cache[key] = value
    if len(cache) > limit:
        cache.popitem(last=False)
    return value


def _even(x: float) -> int:
    return 2 * int(round(x / 2))
