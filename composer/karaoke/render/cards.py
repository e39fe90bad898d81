"""Title and end cards: what a song's opening card says (band, title, its place in the set), when the cards
are on screen, and where.

A title card is held for the template's ``[title] seconds`` whatever the lyrics do; when the first line comes
while it is held, the template's ``layout`` decides: ``share`` puts the card clear of the lyric block for its
whole time (so it never jumps), ``corner`` shows it large until the lines come and then small in a corner,
``yield`` lets the line have the screen. The optional end card (``[end]``) is held over the song's last
seconds by the same rules.

A card is a stack of static sprites drawn by the lyric machinery (``render_title``); the frame renderer
blends them like lines.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from composer.karaoke.render.fontchain import require_glyphs
from composer.karaoke.render.text import LineSprite, TextStyle, render_title
from composer.karaoke.template import Template

NUMBER_SHARE = 0.75  # the "song 2 of 5" line, against the band line's size
CORNER_SCALE = 0.45  # a card in the corner, against its full size
_EDGE = 0.04  # share of the frame's shorter side kept clear around a card in the corner
_DASHES = " \t—–-|·:,"  # what an [end] text's empty placeholder leaves dangling


@dataclass(frozen=True)
class SongCard:
    """What a song's title card says. ``number`` counts from 1 in a set of ``songs``; a lone song has 0 of 0, a
    song of an endless set (a stream) its number and 0."""

    title: str
    band: str = ""
    number: int = 0
    songs: int = 0

    @property
    def place(self) -> str:
        """``song 2 of 5``, ``song 7`` in a stream, or "" for a song on its own."""
        if self.number <= 0 or self.songs == 1:
            return ""
        return f"song {self.number} of {self.songs}" if self.songs else f"song {self.number}"

    def end_text(self, pattern: str) -> str:
        """The [end] card's text: ``pattern``'s placeholders filled, separators left by empty ones dropped."""
        filled = pattern.format(band=self.band, title=self.title, number=self.number or "", songs=self.songs or "")
        return " ".join(filled.split()).strip(_DASHES)


@dataclass(frozen=True, eq=False)
class PlacedCard:
    """One row of a card on screen: its text, sprite and top-left corner (``key`` names it in caches)."""

    key: int
    text: str
    sprite: LineSprite
    x: int
    y: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the sprite in the frame."""
        return self.x, self.y, self.x + self.sprite.width, self.y + self.sprite.height


def require_card_glyphs(template: Template) -> None:
    """ComposerError naming the template's [end] text when a font lacks one of its characters: found before any
    work, not as the end card is first drawn, minutes into a render."""
    if template.end.enabled:
        require_glyphs(f"{template.source}: [end] text", [template.end.text], template.text.font)


_CENTRE, _CLEAR, _CORNER = 0, 1, 2  # placements: alone on screen, clear of the lyrics, small in a corner


class CardLayer:
    """When and where the cards of one song are drawn.

    ``free`` is the band of rows (top, bottom) the lyric blocks leave clear; ``first_shown`` when the first
    line appears (None: the song has none); ``last_end`` when the last line ends; ``yield_until`` how long
    the lyric schedule keeps the first line back for the title card.
    """

    def __init__(
        self,
        template: Template,
        card: SongCard,
        frame: tuple[int, int],
        free: tuple[int, int],
        *,
        max_width: int,
        duration: float,
        first_shown: float | None,
        last_end: float,
        yield_until: float,
    ):
        require_card_glyphs(template)
        self.template, self.card, self.frame, self.free = template, card, frame, free
        self.max_width = max_width
        self.layout = template.title.layout
        title = template.title
        self._rows = {0: self._title_rows(), 1: self._end_rows()}
        self.spans: dict[int, tuple[float, float]] = {}
        if title.enabled and title.seconds > 0 and self._rows[0]:
            end = yield_until if self.layout == "yield" else title.seconds
            if end > 0:
                self.spans[0] = (0.0, min(end, duration))
        end_card = template.end
        if end_card.enabled and self._rows[1]:
            # in a song shorter than both cards, the end card waits for the title card: never two at once
            start = max(0.0, duration - end_card.seconds, self.spans.get(0, (0.0, 0.0))[1])
            if self.layout == "yield":
                start = max(start, last_end)
            if start < duration:
                self.spans[1] = (start, duration)
        # whether lyrics show during a card's time decides, once, where a shared card sits
        self._shared = {
            0: first_shown is not None and first_shown < self.spans.get(0, (0.0, 0.0))[1],
            1: first_shown is not None and last_end > self.spans.get(1, (duration, duration))[0],
        }
        self._placed: dict[tuple[int, int], list[PlacedCard]] = {}

    def at(self, t: float, lines_on: bool) -> list[PlacedCard]:
        """The card rows on screen at ``t``; ``lines_on``: whether lyric lines are on screen then."""
        out: list[PlacedCard] = []
        for which, (a, b) in self.spans.items():
            if not a <= t < b:
                continue
            if self.layout == "share":
                placement = _CLEAR if self._shared[which] else _CENTRE
            elif self.layout == "corner":
                placement = _CORNER if lines_on else _CENTRE
            else:
                placement = _CENTRE
            out += self._place(which, placement)
        return out

    def title(self) -> list[PlacedCard]:
        """The title card alone on screen, centred (for a schedule that shows the title at other times)."""
        return self._place(0, _CENTRE) if self._rows[0] and self.template.title.enabled else []

    # ------------------------------------------------------------------------------------ rows and sprites

    def _title_rows(self) -> list[tuple[str, int, str]]:
        """(text, size at 1080 px, colour) of each row of the title card, top to bottom."""
        t = self.template.title
        rows = [
            (self.card.band, t.band_size, t.band_color),
            (self.card.title, t.size, t.color),
            (self.card.place, max(8, round(t.band_size * NUMBER_SHARE)), t.band_color),
        ]
        return [r for r in rows if r[0].strip()]

    def _end_rows(self) -> list[tuple[str, int, str]]:
        end = self.template.end
        text = self.card.end_text(end.text)
        return [(text, end.size, end.color)] if text else []

    def _place(self, which: int, placement: int) -> list[PlacedCard]:
        hit = self._placed.get((which, placement))
        if hit is not None:
            return hit
        width, height = self.frame
        rows = self._rows[which]
        if placement == _CENTRE:
            top, bottom, scale = 0, height, 1.0
        else:
            top, bottom = self.free
            scale = CORNER_SCALE if placement == _CORNER else 1.0
        room = max(16, bottom - top)
        sprites = self._draw(rows, scale, room)
        total = sum(s.height for s in sprites)
        if total > room:  # a low band between lyric blocks: the card shrinks to fit it
            sprites = self._draw(rows, scale * room / total * 0.98, room // len(rows))
            total = sum(s.height for s in sprites)
        edge = round(min(width, height) * _EDGE)
        y = top + edge if placement == _CORNER else top + (room - total) / 2
        placed = []
        for row, ((text, _, _), sprite) in enumerate(zip(rows, sprites)):
            x = edge if placement == _CORNER else (width - sprite.width) / 2
            px = min(max(0, _even(x)), width - sprite.width)
            py = min(max(0, _even(y)), height - sprite.height)
            key = -100 - (which * 30 + placement * 10 + row)  # lines are 0.., the frame renderer's own keys -1..
            placed.append(PlacedCard(key, text, sprite, px, py))
            y += sprite.height
        self._placed[(which, placement)] = placed
        return placed

    def _draw(self, rows: list[tuple[str, int, str]], scale: float, room: int) -> list[LineSprite]:
        out = []
        for text, size, colour in rows:
            settings = dataclasses.replace(self.template.title, size=max(8, round(size * scale)), color=colour)
            style = TextStyle.for_title(settings, self.template.text, self.frame)
            # the shadow or glow shrinks with the letters, or a small card would be mostly padding
            style = dataclasses.replace(style, effect_size=round(style.effect_size * min(1.0, scale)))
            # each row may take the whole room: the stack as a whole is scaled to fit, rows keeping their sizes
            out.append(render_title(text, style, self.max_width, room))
        return out


def _even(x: float) -> int:
    return 2 * int(round(x / 2))
