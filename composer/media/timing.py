"""Times inside one lyric line: words and syllables spread by sung syllables and, when given, by energy."""

from __future__ import annotations

import numpy as np

from composer.media.syllables import count_syllables, syllabify
from composer.types import LyricLine, Syllable, Word

# a token with no sung syllable (a dash, a lone comma) still gets a sliver of time
_SILENT_TOKEN_WEIGHT = 0.25
# sung lines end on a held note, which carries more activity than a short syllable: with an activity curve
# the last syllable takes this many syllables' share of it (without one, the clock is split evenly)
_HELD_LAST = 1.5
# share of the mean activity added everywhere so time keeps moving through quiet stretches
_ACTIVITY_FLOOR = 0.15


def make_line(
    text: str,
    start: float,
    end: float,
    stanza: int = 0,
    *,
    activity: tuple[np.ndarray, np.ndarray] | None = None,
) -> LyricLine:
    """A LyricLine whose words and syllables fill [start, end].

    activity: (times, values) of a non-negative vocal-activity curve; syllables then take equal shares of
    the activity rather than of the clock, so they sit where the voice is.
    """
    tokens = text.split()
    if not tokens or end <= start:
        return LyricLine(text=text, start=start, end=max(start, end), words=(), stanza=stanza)
    pieces = [syllabify(t) for t in tokens]
    weights = _syllable_weights(tokens, pieces, held_last=activity is not None)
    flat = _bounds(np.concatenate(weights), start, end, activity)
    offsets = np.cumsum([0] + [len(w) for w in weights])
    syl_bounds = [flat[offsets[k] : offsets[k + 1] + 1] for k in range(len(tokens))]
    words = []
    for token, parts, cuts in zip(tokens, pieces, syl_bounds):
        syls = tuple(Syllable(p, float(cuts[i]), float(cuts[i + 1])) for i, p in enumerate(parts))
        words.append(Word(text=token, start=float(cuts[0]), end=float(cuts[-1]), syllables=syls))
    return LyricLine(text=text, start=start, end=end, words=tuple(words), stanza=stanza)


def _syllable_weights(tokens: list[str], pieces: list[tuple[str, ...]], *, held_last: bool) -> list[np.ndarray]:
    """Per word, the share of time each of its spelling pieces gets: a word's sung syllables in total."""
    weights = []
    for token, parts in zip(tokens, pieces):
        sung = count_syllables(token)
        total = sung if sung else _SILENT_TOKEN_WEIGHT
        weights.append(np.full(len(parts), total / len(parts)))
    last_sung = max((k for k, t in enumerate(tokens) if count_syllables(t)), default=None)
    if held_last and last_sung is not None:
        weights[last_sung][-1] *= _HELD_LAST
    return weights


def _bounds(weights: np.ndarray, start: float, end: float, activity) -> np.ndarray:
    """Boundary times: cumulative share of weight mapped through the clock or through the activity."""
    share = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
    if activity is None:
        return start + share * (end - start)
    times, values = activity
    inside = (times >= start) & (times <= end)
    if inside.sum() < 3:
        return start + share * (end - start)
    t = np.concatenate([[start], times[inside], [end]])
    v = np.concatenate([[0.0], np.maximum(values[inside], 0.0), [0.0]])
    v = v + _ACTIVITY_FLOOR * (v.mean() + 1e-9)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(t))])
    cum /= cum[-1]
    b = np.interp(share, cum, t)
    b[0], b[-1] = start, end
    return np.maximum.accumulate(b)
