"""Text in any script: the template's font first, then the Noto fonts of ``fonts.FALLBACKS`` for what it lacks.

A string is set as runs, each in the first font of the chain that has its characters. Spaces, punctuation
and digits stay in the run they follow when its font has them, so an Arabic phrase is one run that libraqm
(HarfBuzz + FriBiDi, inside Pillow) shapes and orders as a whole. Runs are placed by the Unicode bidi rules for
two levels (a Latin word inside an Arabic line, or an Arabic word inside a Latin one). A character no font in
the chain has is refused with an error naming it: composer never draws a box for a missing glyph.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

from PIL import ImageDraw, ImageFont, features

from composer.errors import ComposerError
from composer.media.fonts import FALLBACKS, codepoints, fallback_font, installed, load_font

_SHOWN_MISSING = 8  # characters named in an error, the rest counted


@lru_cache(maxsize=1)
def has_raqm() -> bool:
    """Pillow can shape complex scripts and order bidi text (libraqm with FriBiDi found at run time)."""
    return bool(features.check("raqm") and features.check("fribidi"))


def invisible(ch: str) -> bool:
    """Format characters (zero-width spaces and joiners, bidi controls, BOM) and variation selectors: never
    drawn, so never a reason to refuse a line."""
    return unicodedata.category(ch) == "Cf" or 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF


def _strong(text: str) -> str | None:
    """Direction of the first strongly directional character: "R" (Arabic, Hebrew), "L", or None."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return "L"
        if kind in ("R", "AL"):
            return "R"
    return None


def is_rtl(text: str) -> bool:
    """Whether a line reads right to left (Unicode rule P2: its first strong character decides)."""
    return _strong(text) == "R"


def _east_asian(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(
        ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC", "HALFWIDTH", "FULLWIDTH")
    )


def describe(chars) -> str:
    """Characters for an error message: ``U+4E2D '中', ...``, the first few named and the rest counted."""
    chars = sorted(set(chars))
    named = ", ".join(f"U+{ord(ch):04X} {ch!r}" for ch in chars[:_SHOWN_MISSING])
    more = len(chars) - _SHOWN_MISSING
    return named + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class Run:
    """Characters set in one font and one direction; ``level`` is the bidi embedding level (odd: right to left)."""

    text: str
    face: int  # index into the chain
    level: int


class FontChain:
    """The template's font and its fallbacks at one pixel size; measures and draws text run by run."""

    def __init__(self, name: str, size: int):
        self.name = name
        self.size = size
        self._shaping = has_raqm()
        # without libraqm, scripts that need shaping would come out as unjoined letters in the wrong order
        self._specs = (name, *(f for f in FALLBACKS if (self._shaping or not f.shaped) and installed(f)))

    def face(self, i: int) -> ImageFont.FreeTypeFont:
        return load_font(self.name, self.size) if i == 0 else fallback_font(self._specs[i], self.size)

    def font_for(self, ch: str) -> int | None:
        """Index of the first font in the chain with a glyph for ``ch``, or None."""
        code = ord(ch)
        return next((i for i, spec in enumerate(self._specs) if code in codepoints(spec)), None)

    def lacks(self, ch: str) -> bool:
        return not invisible(ch) and not ch.isspace() and self.font_for(ch) is None

    def missing_message(self, chars) -> str:
        """Why ``chars`` cannot be drawn, for an error line."""
        text = (
            f"no glyphs for {describe(chars)}: the template's font {self.name!r} lacks them and so do "
            "composer's fallback fonts (Noto)"
        )
        if not any(f.extra == "cjk" and installed(f) for f in FALLBACKS) and any(map(_east_asian, chars)):
            text += "; for Chinese, Japanese and Korean install the optional fonts: pip install manimgx-fonts-cjk"
        if not self._shaping and any(ord(ch) in codepoints(f) for ch in chars for f in FALLBACKS if f.shaped):
            text += "; right-to-left and Indic scripts need Pillow built with libraqm and FriBiDi"
        return text

    # ------------------------------------------------------------------------------------ runs

    def runs(self, text: str, rtl: bool = False) -> tuple[Run, ...]:
        """The runs of ``text`` in visual order (left to right) for a line that reads right to left or not."""
        return _visual_runs(self, text, rtl)

    def _word_faces(self, word: str) -> list[int]:
        """Font of each character of a word: the first font that has all of them, so that a word keeps one look
        (gore's font has a Greek sigma but no tau); failing that, character by character."""
        whole = next((i for i, spec in enumerate(self._specs) if all(ord(ch) in codepoints(spec) for ch in word)), None)
        if whole is not None:
            return [whole] * len(word)
        faces: list[int] = []
        for ch in word:
            # punctuation and digits stay in the font of the letter before them when it has them
            weak = unicodedata.bidirectional(ch) not in ("L", "R", "AL")
            if faces and weak and ord(ch) in codepoints(self._specs[faces[-1]]):
                faces.append(faces[-1])
                continue
            faces.append(self.font_for(ch))  # never None: _logical_runs refused those first
        return faces

    def _logical_runs(self, text: str) -> list[tuple[str, int]]:
        text = "".join(" " if ch.isspace() else ch for ch in text if not invisible(ch))
        missing = {ch for ch in set(text) if ch != " " and self.font_for(ch) is None}
        if missing:
            raise ComposerError(self.missing_message(missing))
        runs: list[tuple[str, int]] = []
        for word in re.split("( +)", text):
            if word.startswith(" "):
                # spaces between words of one font stay in its run (libraqm orders an Arabic phrase whole)
                faces = [runs[-1][1] if runs and ord(" ") in codepoints(self._specs[runs[-1][1]]) else 0] * len(word)
            else:
                faces = self._word_faces(word)
            for ch, face in zip(word, faces):
                if runs and runs[-1][1] == face:
                    runs[-1] = (runs[-1][0] + ch, face)
                else:
                    runs.append((ch, face))
        return _spaces_between_fonts(runs)

    # ------------------------------------------------------------------------------------ measuring

    def _direction(self, run: Run) -> str | None:
        # Pillow's basic layout (no libraqm, or the built-in "default" font) takes no direction, and sets
        # left to right; right-to-left scripts are only in the chain when libraqm is there
        if run.level % 2 and self.face(run.face).layout_engine == ImageFont.Layout.RAQM:
            return "rtl"
        return None

    def _advance(self, run: Run) -> float:
        return self.face(run.face).getlength(run.text, direction=self._direction(run))

    def getlength(self, text: str, rtl: bool = False) -> float:
        return sum(self._advance(run) for run in self.runs(text, rtl))

    def metrics(self, texts=()) -> tuple[int, int]:
        """(ascent, descent) that fit every font ``texts`` use; the template's font alone for no text."""
        faces = {0} | {run.face for t in texts for run in self.runs(t)}
        ascents, descents = zip(*(self.face(i).getmetrics() for i in faces))
        return max(ascents), max(descents)

    def getbbox(self, text: str, rtl: bool, ascent: int, stroke_width: int = 0) -> tuple[float, ...]:
        """Ink box of ``text`` drawn by ``draw`` at (0, 0) (left edge, top of a row whose ascent is ``ascent``)."""
        x, box = 0.0, None
        for run in self.runs(text, rtl):
            x0, y0, x1, y1 = self.face(run.face).getbbox(
                run.text, anchor="ls", stroke_width=stroke_width, direction=self._direction(run)
            )
            here = (x + x0, ascent + y0, x + x1, ascent + y1)
            box = (
                here
                if box is None
                else (min(box[0], here[0]), min(box[1], here[1]), max(box[2], here[2]), max(box[3], here[3]))
            )
            x += self._advance(run)
        return box or (0, 0, 0, 0)

    def draw(
        self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, rtl: bool, ascent: int, **kwargs
    ) -> None:
        """Draw ``text`` with its left edge at x and the top of its row (``ascent`` above the baseline) at y."""
        x, y = xy
        for run in self.runs(text, rtl):
            draw.text(
                (x, y + ascent),
                run.text,
                font=self.face(run.face),
                anchor="ls",
                direction=self._direction(run),
                **kwargs,
            )
            x += self._advance(run)


@lru_cache(maxsize=64)
def load_chain(name: str, size: int) -> FontChain:
    return FontChain(name, max(1, int(size)))


def require_glyphs(source, texts, font: str) -> None:
    """ComposerError naming ``source`` when some character of ``texts`` (or of their upper case, which a
    template may draw) is in no font of the chain."""
    chain = load_chain(font, 16)  # coverage does not depend on size
    missing = {ch for t in texts for ch in set(t) | set(t.upper()) if chain.lacks(ch)}
    if missing:
        raise ComposerError(f"{source}: {chain.missing_message(missing)}")


def _spaces_between_fonts(runs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Spaces where the font changes are set in the template's font (face 0): an emoji font's space is
    an emoji wide."""
    out: list[tuple[str, int]] = []
    for i, (text, face) in enumerate(runs):
        body = text.rstrip(" ")
        gap = text[len(body) :] if i + 1 < len(runs) and face != 0 else ""
        for piece, f in ((body if gap else text, face), (gap, 0)):
            if not piece:
                continue
            if out and out[-1][1] == f:
                out[-1] = (out[-1][0] + piece, f)
            else:
                out.append((piece, f))
    return out


# ---------------------------------------------------------------------------------------------- bidi


@lru_cache(maxsize=4096)
def _visual_runs(chain: FontChain, text: str, rtl: bool) -> tuple[Run, ...]:
    paragraph = 1 if rtl else 0
    runs = [Run(t, face, _level(t, paragraph)) for t, face in chain._logical_runs(text)]
    runs = _resolve_neutrals(runs, paragraph)
    levels = [paragraph, *(r.level for r in runs), paragraph]
    runs = [piece for i, run in enumerate(runs) for piece in _peel_spaces(run, paragraph, levels[i], levels[i + 2])]
    return tuple(_reorder(runs))


def _level(text: str, paragraph: int) -> int:
    """Embedding level of a run: -1 for a run with no strong character (resolved by its neighbours)."""
    kind = _strong(text)
    if kind is None:
        return -1
    if kind == "R":
        return 1
    return 2 if paragraph else 0


def _resolve_neutrals(runs: list[Run], paragraph: int) -> list[Run]:
    """Rule N1/N2: neutral runs between two runs of one direction take it; others the paragraph's."""
    out = []
    for i, run in enumerate(runs):
        if run.level >= 0:
            out.append(run)
            continue
        before = next((r.level for r in reversed(runs[:i]) if r.level >= 0), paragraph)
        after = next((r.level for r in runs[i + 1 :] if r.level >= 0), paragraph)
        out.append(replace(run, level=before if before % 2 == after % 2 else paragraph))
    return out


def _peel_spaces(run: Run, paragraph: int, before: int, after: int):
    """Spaces at the edges of a run against the paragraph's direction, next to a run of another level, belong
    to the paragraph (rule N2): otherwise a Hebrew word in a Latin line would carry its space to its left."""
    body = run.text.strip(" ")
    if run.level == paragraph or not body:
        yield run
        return
    lead = len(run.text) - len(run.text.lstrip(" ")) if before != run.level else 0
    trail = len(run.text) - len(run.text.rstrip(" ")) if after != run.level else 0
    body = run.text[lead : len(run.text) - trail]
    if lead:
        yield Run(" " * lead, run.face, paragraph)
    if body:
        yield replace(run, text=body)
    if trail:
        yield Run(" " * trail, run.face, paragraph)


def _reorder(runs: list[Run]) -> list[Run]:
    """Rule L2: from the highest level down to 1, reverse every maximal sequence of runs at that level or above."""
    runs = list(runs)
    for level in range(max((r.level for r in runs), default=0), 0, -1):
        i = 0
        while i < len(runs):
            if runs[i].level < level:
                i += 1
                continue
            j = i
            while j < len(runs) and runs[j].level >= level:
                j += 1
            runs[i:j] = runs[i:j][::-1]
            i = j
    return runs
