"""Times inside one lyric line: words and syllables spread by sung syllables and, when given, by energy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from composer.lyrics.syllables import count_syllables, syllabify
from composer.types import LyricLine, Syllable, Word


def make_line(
    text: str,
    start: float,
    end: float,
    stanza: int = 0,
    *,
    activity: tuple[np.ndarray, np.ndarray] | None = None,
    word_starts: Sequence[float | None] | None = None,
) -> LyricLine:
    """A LyricLine whose words and syllables fill [start, end].

    activity: (times, values) of a non-negative vocal-activity curve; syllables then take equal shares of
    the activity rather than of the clock, so they sit where the voice is.
    word_starts: known start times per word (from an enhanced .lrc); None entries are filled in.
    """
    tokens = text.split()
    if not tokens or end <= start:
        return LyricLine(text=text, start=start, end=max(start, end), words=(), stanza=stanza)
    # every token gets at least a little time, even punctuation-only ones
    weights = np.array([max(count_syllables(t), 0.25) for t in tokens], dtype=np.float64)
    if word_starts is not None and any(s is not None for s in word_starts):
        bounds = _bounds_from_known(weights, start, end, word_starts)
    else:
        bounds = _bounds(weights, start, end, activity)
    words = []
    for k, token in enumerate(tokens):
        w0, w1 = float(bounds[k]), float(bounds[k + 1])
        pieces = syllabify(token)
        cuts = np.linspace(w0, w1, len(pieces) + 1)
        syls = tuple(Syllable(p, float(cuts[i]), float(cuts[i + 1])) for i, p in enumerate(pieces))
        words.append(Word(text=token, start=w0, end=w1, syllables=syls))
    return LyricLine(text=text, start=start, end=end, words=tuple(words), stanza=stanza)


def _bounds(weights: np.ndarray, start: float, end: float, activity) -> np.ndarray:
    """Word boundary times: cumulative share of weight mapped through clock or activity."""
    share = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
    if activity is None:
        return start + share * (end - start)
    times, values = activity
    inside = (times >= start) & (times <= end)
    if inside.sum() < 3:
        return start + share * (end - start)
    t = np.concatenate([[start], times[inside], [end]])
    v = np.concatenate([[0.0], np.maximum(values[inside], 0.0), [0.0]])
    # a floor keeps time moving through quiet stretches so no word collapses to zero length
    v = v + 0.15 * (v.mean() + 1e-9)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(t))])
    cum /= cum[-1]
    b = np.interp(share, cum, t)
    b[0], b[-1] = start, end
    return np.maximum.accumulate(b)


def _bounds_from_known(weights, start, end, word_starts) -> np.ndarray:
    n = len(weights)
    b = np.empty(n + 1)
    b[0], b[n] = start, end
    for k in range(1, n):
        s = word_starts[k]
        b[k] = np.nan if s is None else min(max(s, start), end)
    # fill unknown boundaries by weight between the known neighbours
    k = 0
    while k < n:
        j = k + 1
        while np.isnan(b[j]):
            j += 1
        if j > k + 1:
            seg = np.concatenate([[0.0], np.cumsum(weights[k:j])]) / weights[k:j].sum()
            b[k : j + 1] = b[k] + seg * (b[j] - b[k])
        k = j
    return np.maximum.accumulate(b)
