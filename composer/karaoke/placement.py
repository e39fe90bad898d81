"""Where each lyric line goes: a dynamic program over the voiced units of a song, and how sure it is.

A line's sung time (its units, pauses left out) should fit its syllables and words at one song-wide rate
(searched over a plausible range); a line pays for long pauses inside it, for starting or ending at a gap
shorter than any between lines, and earns a little for ending on a held note; no line spans a long
instrumental stretch, and one inside a stanza pays for a long one before it (breaks fall between stanzas,
when the lyric sheet has them); voice left unsung before the first line costs most (what sounds like voice there is
more often the first line than an intro), less between lines, least after the last (the lyrics ran out);
lines that fit nowhere are dropped from the end.

Each line's confidence comes from the same costs: the same program run forwards and backwards with a soft
minimum weighs every placement of every line, and a line whose start could as well be elsewhere is unsure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

FRAME_RATE = 100  # activity frames per second
# syllables per second over a line's span (its held last syllable counted as one more): the song-wide rate
# is searched in this range, which bounds how far lines stretch or squeeze
RATE_RANGE = (3.0, 12.0)


@dataclass(frozen=True)
class Units:
    start: np.ndarray  # first frame of each unit
    end: np.ndarray  # one past its last frame

    @property
    def size(self) -> int:
        return len(self.start)


# The weights below were searched together (issue 16), on 96 espeak-ng tuning songs of each kind (seeds
# 100-195, never the report set): the share of line starts within 0.3 s on clear and buried songs, their
# mean error, and the same songs given only the first half of their lyrics (lyrics that stop early should
# leave the rest of the song unsung, not stretch over it). Against the hand-set weights before them: clear
# 96.9% -> 98.3%, buried 84.4% -> 88.1% (0.42 -> 0.23 s mean); half lyrics 70.5% -> 73.9% (clear), 19.7% ->
# 18.9% (buried: they still spread over the whole song)
_W_DUR = 11.3  # per squared log ratio of a line's sung time to its length at the song's rate
_DUR_KNEE = 0.87  # log ratio: beyond about 2.4 times too long or short the cost grows linearly
_THETA = 0.54  # activity above this is more likely voice than not
# per second of voice left unsung, times its excess over _THETA, before the first line, between lines and
# after the last (the lyrics may have run out: a compromise, lower lets short lyrics end early more often
# but squeezes buried vocals)
_W_SKIP, _W_LEAD, _W_TRAIL = 12.1, 28.3, 4.76
# a line starts and ends at a real gap: a boundary at a gap shorter than the song's edge gap costs up to _W_EDGE.
# The edge gap is _EDGE_SHARE of the song's (lines - 1)th longest gap, at least _EDGE_GAP and at most _EDGE_MAX:
# a song that leaves long gaps between its lines seldom starts one after a short breath; before, a held last
# note cut off by a dip was taken for the next line's start, and whole songs went one line early. Line starts
# within 0.3 s, clear / buried, on 336 espeak-ng songs a kind (tuning seeds 100-195 and seeds 8000.. to
# 12000.., 48 each): a fixed 0.27 s at weight 2.33 96.8% / 88.3%, at 3.5 98.2% / 88.2%; song-relative at 3.5
# 98.7% / 88.5%. On two sets looked at only once these were chosen (seeds 13000.., 14000..): 97.9% / 84.4% ->
# 99.0% / 87.0%
_W_EDGE, _EDGE_GAP, _EDGE_SHARE, _EDGE_MAX = 3.5, 0.27, 0.6, 0.5
_W_PAUSE, _FREE_PAUSE = 0.89, 0.1  # per second of a pause inside a line beyond _FREE_PAUSE
_W_HELD_END = 2.75  # a sung line most often ends on a held note: ending on a long unit earns this much
_SHED_OVER, _SHED_KEEP = 1.3, 0.75  # a line sung this much longer than expected sheds trailing units
_MAX_PAUSE = 1.07  # seconds: a longer quiet stretch is never inside a line
_W_DROP = 5.0  # per line dropped from the end
# instrumental breaks fall between stanzas: a line inside a stanza pays per second of quiet before it
# beyond _BREAK_GAP, up to _BREAK_MAX seconds (a break mid-stanza is unlikely, not impossible: at 3 per second
# uncapped, a ten-minute song whose lyric sheet cut stanzas every 4 lines regardless went from 100% to 23% of
# lines right). Line starts within 0.3 s, clear / buried, 48 espeak-ng songs a kind: tuning set 98.4% / 87.3%
# -> 98.4% / 88.1%, songs of seeds 3000.. 94.9% / 82.3% -> 97.8% / 83.2%
_W_BREAK, _BREAK_GAP, _BREAK_MAX = 1.5, 2.0, 3.0
_MAX_UNITS = 40  # most units one line may span
_N_RATES = 32
# confidence: placements weighed by exp(-cost / _CONF_TEMPERATURE); starts within _CONF_WINDOW seconds count
# as the same; a sung time _CONF_FIT (in log ratio) off the words' length costs a factor exp(-1/2). On the
# espeak-ng tuning set (96 songs a kind) the lines it leaves sure start within 0.3 s 98.5% (clear) and 92.6%
# (buried) of the time, against 98.3% and 88.1% of all lines (AUC 0.82 and 0.75); temperatures 0.3-0.7
# flagged fewer lines and 1.5-3 many more for no better sure lines
_CONF_TEMPERATURE, _CONF_WINDOW, _CONF_FIT = 1.0, 0.3, 0.5
UNSURE = 0.6  # a line placed with less confidence than this is flagged, shown without a sweep


@dataclass(frozen=True)
class Placement:
    spans: list[tuple[float, float]]  # (start, end) seconds of each placed line, in order
    confidence: list[float]  # of each placed line, in [0, 1]


def place_lines(
    units: Units, act: np.ndarray, syllables: np.ndarray, stanza_starts: np.ndarray | None = None
) -> Placement:
    """Lines (``syllables`` each: sung syllables + words) on runs of units, in order; lines that fit nowhere
    are left off the end. ``stanza_starts`` (bool per line) marks the lines that open a stanza: the others pay
    for a long instrumental stretch before them. None: the lyrics say nothing of stanzas, and no line pays."""
    opens = np.ones(len(syllables), bool) if stanza_starts is None else np.asarray(stanza_starts, bool)
    tables = _span_tables(units, act, len(syllables))
    lines = _Lines(np.asarray(syllables, float), opens)
    rate = _best_rate(tables, lines)
    _, path = _dp(tables, lines, rate, backtrack=True)
    expected = [float(syllables[i] / rate) for i in range(len(path))]
    path = [_shed_tail(units, j, k, expected[i]) for i, (j, k) in enumerate(path)]
    # no unit is shed from a line's start: a short first word a pause before the rest ("No ... plague") is
    # sung, and shedding it started such lines late
    spans = [(units.start[j] / FRAME_RATE, units.end[k - 1] / FRAME_RATE) for j, k in path]
    starts = _start_posteriors(tables, lines.first(len(path)), rate)
    confidence = [_confidence(units, starts[i], j, k, expected[i]) for i, (j, k) in enumerate(path)]
    return Placement(spans, confidence)


def _confidence(units: Units, start_posterior: np.ndarray, j: int, k: int, expected: float) -> float:
    """The chance that the line starts within _CONF_WINDOW of unit j (over every placement of every line,
    weighed by its cost), times how well its sung time fits its words: a line that could as well start
    elsewhere, or whose words are squeezed or stretched far on the units it got, is unsure."""
    near = np.abs(units.start - units.start[j]) <= _CONF_WINDOW * FRAME_RATE
    sung = (units.end[j:k] - units.start[j:k]).sum() / FRAME_RATE
    fit = np.exp(-0.5 * (np.log(sung / expected) / _CONF_FIT) ** 2)
    return round(float(min(start_posterior[near].sum(), 1.0) * fit), 2)


def _start_posteriors(tables: _Tables, lines: _Lines, rate: float) -> list[np.ndarray]:
    """Per line, the probability of each unit being its first, with every placement of all the lines
    weighed by exp(-cost / _CONF_TEMPERATURE): _dp's recurrences with min replaced by a soft minimum,
    forwards and backwards."""
    m, K = tables.base.shape
    T = _CONF_TEMPERATURE
    S = _W_SKIP * tables.voice
    trail = _W_TRAIL * (tables.voice[m] - tables.voice)

    # a line's costs are computed again on the way back rather than kept: lines x units x lengths is not
    # small for a long song
    def line_cost(i: int) -> np.ndarray:  # (m, K): line i on units j..j+L-1
        return _line_cost(tables, lines, i, rate)

    def by_end(x: np.ndarray) -> np.ndarray:  # (m, K) indexed by start -> (m + 1, K) indexed by end
        y = np.full((m + 1, K), np.inf)
        for length in range(1, K + 1):
            y[length:, length - 1] = x[: m - length + 1, length - 1]
        return y

    def by_start(g: np.ndarray) -> np.ndarray:  # (m + 1,) by end -> (m, K): g at the end of each run
        y = np.full((m, K), np.inf)
        for length in range(1, K + 1):
            y[: m - length + 1, length - 1] = g[length:]
        return y

    def softmin(x: np.ndarray, axis=None) -> np.ndarray:
        return -T * special.logsumexp(-x / T, axis=axis)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        F = _W_LEAD * tables.voice
        before = []  # F of each line: the cost of everything before it, by its first unit
        for i in range(len(lines)):
            before.append(F[:m].astype(np.float32))
            E = softmin(by_end(F[:m, None] + line_cost(i)), axis=1)
            F = S - T * np.logaddexp.accumulate(-(E - S) / T)
        total = softmin(E + trail) if len(lines) else 0.0
        G = trail  # the cost of everything after the line, by the end of its last unit
        out: list[np.ndarray] = [np.zeros(0)] * len(lines)
        for i in reversed(range(len(lines))):
            from_start = softmin(line_cost(i) + by_start(G), axis=1)  # this line and all after, by its first unit
            out[i] = np.exp(-(before[i] + from_start - total) / T)
            H = np.append(from_start, np.inf) + S
            G = -S - T * np.logaddexp.accumulate((-H / T)[::-1])[::-1]
    return out


def _shed_tail(units: Units, j: int, k: int, expected: float) -> tuple[int, int]:
    """Units j..k-1 less trailing units while the line sings far longer than its words take at the
    song's rate: the last line before voice the lyrics do not cover should not sweep on over it."""
    sung = lambda a, b: (units.end[a:b] - units.start[a:b]).sum() / FRAME_RATE  # noqa: E731
    while k - j > 1 and sung(j, k) > _SHED_OVER * expected and sung(j, k - 1) >= _SHED_KEEP * expected:
        k -= 1
    return j, k


def _best_rate(tables: _Tables, lines: _Lines) -> float:
    """The song-wide syllable rate with the cheapest placement: every third rate, then around the best."""
    rates = np.geomspace(*RATE_RANGE, _N_RATES)
    costs = np.full(len(rates), np.inf)
    for k in [*range(0, len(rates), 3), len(rates) - 1]:
        costs[k] = _dp(tables, lines, rates[k], backtrack=False)[0]
    best = int(np.argmin(costs))
    for k in range(max(best - 2, 0), min(best + 3, len(rates))):
        if not np.isfinite(costs[k]):
            costs[k] = _dp(tables, lines, rates[k], backtrack=False)[0]
    return float(rates[int(np.argmin(costs))])


@dataclass(frozen=True)
class _Tables:
    log_span: np.ndarray  # (m, K): log seconds from the start of unit j to the end of unit j + len - 1
    base: np.ndarray  # (m, K): the syllable-independent cost of a line on that run (inf: not allowed)
    voice: np.ndarray  # (m + 1,): cumulative voice (excess over _THETA, seconds) of the units
    break_before: np.ndarray  # (m,): the cost of unit j opening a line inside a stanza, for the quiet before it


@dataclass(frozen=True)
class _Lines:
    syllables: np.ndarray  # sung syllables + words of each line
    opens_stanza: np.ndarray  # bool per line

    def __len__(self) -> int:
        return len(self.syllables)

    def first(self, n: int) -> _Lines:
        return _Lines(self.syllables[:n], self.opens_stanza[:n])


def _line_cost(tables: _Tables, lines: _Lines, i: int, rate: float) -> np.ndarray:
    """(m, K): line i on units j..j+L-1 at the song's rate."""
    cost = tables.base + _duration_cost(tables.log_span + np.log(rate / lines.syllables[i]))
    return cost if lines.opens_stanza[i] else cost + tables.break_before[:, None]


def _span_tables(units: Units, act: np.ndarray, n_lines: int) -> _Tables:
    """Everything about a line on units j..j+len-1 that does not depend on which line it is (of n_lines)."""
    m = units.size
    K = min(_MAX_UNITS, m)
    a = act.astype(np.float64)
    voice = np.concatenate([[0.0], np.cumsum(np.maximum(a - _THETA, 0.0))]) / FRAME_RATE
    gaps = (units.start[1:] - units.end[:-1]) / FRAME_RATE
    edge_gap = _edge_gap(gaps, n_lines)
    cum_long = np.concatenate([[0], np.cumsum(gaps > _MAX_PAUSE)])
    # a line starts and ends at a real gap: a boundary at a gap shorter than the song's edge gap costs
    edge = _W_EDGE * np.clip(1.0 - np.concatenate([[np.inf], gaps, [np.inf]]) / edge_gap, 0.0, 1.0) ** 2
    pause = np.concatenate([[0.0], np.cumsum(_W_PAUSE * np.maximum(gaps - _FREE_PAUSE, 0.0))])
    sung = np.concatenate([[0], np.cumsum(units.end - units.start)])
    length_share = (units.end - units.start) / max(float(np.median(units.end - units.start)), 1.0)
    # a sung line most often ends on a held note: a line ending on a long unit is cheaper
    held = -_W_HELD_END * np.clip(length_share - 1.0, 0.0, 1.0)
    log_span = np.full((m, K), np.inf)
    base = np.full((m, K), np.inf)
    for length in range(1, K + 1):
        j = np.arange(m - length + 1)
        last = j + length - 1
        log_span[j, length - 1] = np.log((sung[last + 1] - sung[j]) / FRAME_RATE)
        cost = pause[last] - pause[j] + edge[j] + edge[last + 1] + held[last]
        base[j, length - 1] = np.where(cum_long[last] > cum_long[j], np.inf, cost)
    unit_voice = np.concatenate([[0.0], np.cumsum(voice[units.end] - voice[units.start])])
    quiet_before = np.concatenate([[units.start[0] / FRAME_RATE], gaps]) if m else np.zeros(0)
    break_before = _W_BREAK * np.clip(quiet_before - _BREAK_GAP, 0.0, _BREAK_MAX)
    return _Tables(log_span, base, unit_voice, break_before)


def _edge_gap(gaps: np.ndarray, n_lines: int) -> float:
    """The gap below which a line boundary costs: _EDGE_SHARE of the shortest gap between lines were every
    boundary at one of the song's longest gaps (its (lines - 1)th longest), within _EDGE_GAP.._EDGE_MAX."""
    if n_lines < 2 or len(gaps) < n_lines - 1:
        return _EDGE_GAP
    k = len(gaps) - (n_lines - 1)  # the (lines - 1)th longest, in ascending order
    return float(np.clip(_EDGE_SHARE * np.partition(gaps, k)[k], _EDGE_GAP, _EDGE_MAX))


def _dp(tables: _Tables, lines: _Lines, rate: float, *, backtrack: bool):
    """Min cost of placing the lines in order on runs of units at one syllable rate; optionally the runs.

    F[t]: best cost with the lines so far placed and units < t sung or left unsung. A line on units j..t-1
    gives E[t] = F[j] + its cost; leaving units unsung carries E forward into the next F. The total for i
    placed lines is the best E[t] plus the voice left after t plus the dropped lines.
    """
    m, K = tables.base.shape
    n = len(lines)
    V = tables.voice
    S = _W_SKIP * V
    trail = _W_TRAIL * (V[m] - V)
    F = _W_LEAD * V
    history = []
    finals = [_W_LEAD * V[m] + _W_DROP * n]
    for i in range(n):
        cost = F[:m, None] + _line_cost(tables, lines, i, rate)
        E = np.full(m + 1, np.inf)
        arg = np.zeros(m + 1, np.int64)
        for length in range(1, K + 1):
            c = cost[: m - length + 1, length - 1]
            tgt = E[length:]
            better = c < tgt
            tgt[better] = c[better]
            arg[length:][better] = length
        if not np.isfinite(E).any():
            break
        F = S + np.minimum.accumulate(E - S)
        history.append((E, arg))
        finals.append(float(np.min(E + trail)) + _W_DROP * (n - i - 1))
    placed = int(np.argmin(finals))
    if not backtrack:
        return finals[placed], None
    return finals[placed], _backtrack(history[:placed], S, trail)


def _duration_cost(log_ratio: np.ndarray) -> np.ndarray:
    """Squared log misfit of a line's span, growing only linearly past _DUR_KNEE: a line whose voice was
    half missed should cost a lot, not so much that every other line shifts to avoid it."""
    a = np.abs(log_ratio)
    return _W_DUR * np.where(a <= _DUR_KNEE, a * a, _DUR_KNEE * (2.0 * a - _DUR_KNEE))


def _backtrack(history, S: np.ndarray, trail: np.ndarray) -> list[tuple[int, int]]:
    path = []
    t = int(np.argmin(history[-1][0] + trail)) if history else 0
    for k, (E, arg) in enumerate(reversed(history)):
        if k:  # F[t] came from the best line end t' <= t, with units t'..t-1 left unsung
            t = int(np.argmin(E[: t + 1] - S[: t + 1]))
        length = int(arg[t])
        path.append((t - length, t))
        t -= length
    return path[::-1]
