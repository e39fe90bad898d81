"""Readable pacing: no line is swept faster than a viewer can read and sing it.

A timed line whose syllables come faster than the template's ``max_syllables_per_s`` gets a longer sweep: its
end moves into the quiet after it (never closer than ``MIN_GAP_S`` to the next line), and when that is not
enough its start moves into the quiet before it. Words and syllables keep their share of the line. The
timeline's ``meta`` says which lines moved (``repaced``) and which still could not be slowed enough
(``too_fast``), so the ``.json`` sidecar tells the viewer's story.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from composer.media.syllables import line_syllables
from composer.types import LyricLine, Syllable, Timeline, Word

MIN_GAP_S = 0.1  # a re-paced line stops this far short of the next one, so the two never read as one
_EPS = 1e-6


@dataclass(frozen=True)
class Repaced:
    """One line whose sweep was slowed: its index, text and times before and after."""

    index: int
    text: str
    before: tuple[float, float]
    after: tuple[float, float]

    def to_dict(self) -> dict:
        return {
            "line": self.index,
            "text": self.text,
            "from": [round(self.before[0], 4), round(self.before[1], 4)],
            "to": [round(self.after[0], 4), round(self.after[1], 4)],
        }


def syllable_rate(line: LyricLine) -> float:
    """Sung syllables per second of the line's sweep."""
    return line_syllables(line.text) / max(line.end - line.start, 1e-3)


def needed_seconds(text: str, max_rate: float) -> float:
    """The shortest sweep of ``text`` at ``max_rate`` syllables a second."""
    return line_syllables(text) / max_rate


def too_fast(line: LyricLine, max_rate: float) -> bool:
    return line.end - line.start < needed_seconds(line.text, max_rate) - _EPS


def pace(timeline: Timeline, max_rate: float) -> Timeline:
    """``timeline`` with every too-fast line's sweep stretched into the quiet around it, as far as it goes.

    The result's meta holds ``max_syllables_per_s``, ``repaced`` (what moved) and ``too_fast`` (indices still
    over the cap: no room on either side). Lines that were slow enough are kept as they were."""
    lines = list(timeline.lines)
    moved: list[Repaced] = []
    for i, line in enumerate(lines):
        if not too_fast(line, max_rate):
            continue
        need = needed_seconds(line.text, max_rate)
        start, end = line.start, line.end
        # the quiet after the line first: its sweep starts when the singer starts, as the timing says
        limit = lines[i + 1].start - MIN_GAP_S if i + 1 < len(lines) else timeline.duration
        end = max(end, min(start + need, limit))
        if end - start < need:
            floor = lines[i - 1].end + MIN_GAP_S if i > 0 else 0.0
            start = min(start, max(end - need, floor))
        if (start, end) != (line.start, line.end):
            lines[i] = retime(line, start, end)
            moved.append(Repaced(i, line.text, (line.start, line.end), (start, end)))
    still = [i for i, ln in enumerate(lines) if too_fast(ln, max_rate)]
    meta = {
        **timeline.meta,
        "max_syllables_per_s": max_rate,
        "repaced": [m.to_dict() for m in moved],
        "too_fast": still,
    }
    paced = Timeline(tuple(lines), timeline.duration, timeline.title, meta)
    paced.validate()
    return paced


def retime(line: LyricLine, start: float, end: float) -> LyricLine:
    """``line`` stretched onto [start, end]: every word and syllable keeps its share of the line."""
    span = line.end - line.start

    def at(t: float) -> float:
        if span <= 0:
            return start
        return min(end, max(start, start + (t - line.start) * (end - start) / span))

    words = tuple(
        Word(w.text, at(w.start), at(w.end), tuple(Syllable(s.text, at(s.start), at(s.end)) for s in w.syllables))
        for w in line.words
    )
    return replace(line, start=start, end=end, words=words)
