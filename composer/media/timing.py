"""Times inside one lyric line: words and syllables spread by sung syllables and, when given, by energy, with
words starting where the voice starts again after a dip."""

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
# matching word starts to voice onsets: a start _ONSET_SIGMA seconds from an onset costs 1, a word start with
# no onset _NO_ONSET, an onset inside a word (a dip within it) _ONSET_INSIDE; none further than _ONSET_MAX.
# On the espeak-ng tuning set (benchmarks/align_eval.py) this took word starts within 0.1 s from 51% to 77%
# (clear) and 47% to 65% (buried), at the cost of 1 and 0.5 points within 0.3 s; sigmas 0.1-0.5 and costs
# 0.5-4 were tried
_ONSET_SIGMA, _NO_ONSET, _ONSET_INSIDE, _ONSET_MAX = 0.3, 2.0, 4.0, 0.6
_ONSET_MARGIN = 0.05  # seconds: onsets this close to a line's ends are the line's own edges


def make_line(
    text: str,
    start: float,
    end: float,
    stanza: int = 0,
    *,
    activity: tuple[np.ndarray, np.ndarray] | None = None,
    onsets: np.ndarray | None = None,
) -> LyricLine:
    """A LyricLine whose words and syllables fill [start, end].

    activity: (times, values) of a non-negative vocal-activity curve; syllables then take equal shares of
    the activity rather than of the clock, so they sit where the voice is.
    onsets: times where the voice starts again after a dip; words whose spread start lies near one start
    there (matched in order), and the words between such anchors are spread again between them.
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
    line = LyricLine(text=text, start=start, end=end, words=tuple(words), stanza=stanza)
    if onsets is None or len(words) < 2:
        return line
    inside = np.sort(onsets[(onsets > start + _ONSET_MARGIN) & (onsets < end - _ONSET_MARGIN)])
    anchors = _match_onsets([w.start for w in words[1:]], inside)
    cuts = [(0, start)] + [(k + 1, t) for k, t in enumerate(anchors) if t is not None] + [(len(tokens), end)]
    if len(cuts) == 2:
        return line
    parts = [
        make_line(" ".join(tokens[a:b]), ta, tb, stanza, activity=activity) for (a, ta), (b, tb) in zip(cuts, cuts[1:])
    ]
    return LyricLine(text=text, start=start, end=end, words=tuple(w for p in parts for w in p.words), stanza=stanza)


def _match_onsets(starts: list[float], onsets: np.ndarray) -> list[float | None]:
    """For each word start (in order), the onset it moves to or None: an edit-distance alignment of the two
    sequences where a match costs its squared distance in _ONSET_SIGMAs."""
    n, m = len(starts), len(onsets)
    cost = np.full((n + 1, m + 1), np.inf)
    cost[0, :] = np.arange(m + 1) * _ONSET_INSIDE
    cost[:, 0] = np.arange(n + 1) * _NO_ONSET
    step = np.zeros((n + 1, m + 1), np.int8)  # 0: word without onset, 1: onset inside a word, 2: match
    for k in range(1, n + 1):
        for j in range(1, m + 1):
            d = abs(starts[k - 1] - onsets[j - 1])
            match = cost[k - 1, j - 1] + (d / _ONSET_SIGMA) ** 2 if d <= _ONSET_MAX else np.inf
            options = (cost[k - 1, j] + _NO_ONSET, cost[k, j - 1] + _ONSET_INSIDE, match)
            step[k, j] = int(np.argmin(options))
            cost[k, j] = options[step[k, j]]
    out: list[float | None] = [None] * n
    k, j = n, m
    while k and j:
        move = step[k, j]
        if move == 2:
            out[k - 1] = float(onsets[j - 1])
        k -= move != 1
        j -= move != 0
    return out


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
