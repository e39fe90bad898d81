"""Lyrics to audio without a network: vocal activity -> voiced units -> lines by dynamic programming.

1. ``vocal_activity``: log mel band energies on 10 ms frames of the mix (and, for stereo, of the centre's
   share over the sides), each less its running floor over many seconds, read by a small learned detector
   (``vad.py``, trained on composer's own mixtures) into the chance that a voice sings in each frame.
2. Units: stretches where the activity is up (hysteresis), also cut at its valleys, with tightened edges.
   A gap between lines, a pause inside a line, or two lines bled together by reverb all become unit edges.
3. A dynamic program places the lines in order, each on a run of consecutive units. A line's sung time
   (its units, pauses left out) should fit its syllables and words at one song-wide rate (searched over a
   plausible range); a line pays for long pauses inside it, for starting or ending at a gap shorter than
   any between lines, and earns a little for ending on a held note; no line spans a long instrumental
   stretch; voice left unsung costs most between lines, less before the first line (an intro), least after
   the last (the lyrics ran out); lines that fit nowhere are dropped from the end.
4. Each line gets a confidence (how well its sung time fits its words, times how sure the detector is of
   the voice under it); lines below ``UNSURE`` are listed in ``Timeline.meta["unsure_lines"]``.
5. Words and syllables inside each line: ``make_line`` spreads them by syllables and by the activity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from scipy import fft as sfft
from scipy import ndimage, signal

from composer.errors import ComposerError
from composer.media.syllables import line_syllables
from composer.media.timing import make_line
from composer.types import Audio, Lyrics, Timeline

log = logging.getLogger("composer")

FRAME_RATE = 100  # activity frames per second
# syllables per second over a line's span (its held last syllable counted as one more): the song-wide rate
# is searched in this range, which bounds how far lines stretch or squeeze
RATE_RANGE = (3.0, 12.0)

_N_BANDS = 40
_SMOOTH = 5  # frames of median filter on the detector's output
_F_MIN, _F_MAX = 60.0, 8000.0
_SILENT_PEAK = 1e-4


def align(audio: Audio, lyrics: Lyrics, *, title: str | None = None, warn_dropped: bool = True) -> Timeline:
    """Time every line, word and syllable of the lyrics to the song.

    Lines that do not fit are dropped from the end (with a warning unless ``warn_dropped`` is False: a
    caller that writes more lines than any song holds expects it); with fewer lines than the song sings,
    the rest of the song goes without lyrics. Raises ComposerError when the audio is silent.
    """
    _check_not_silent(audio)
    times, act = vocal_activity(audio)
    texts = lyrics.lines
    syllables = np.array([line_syllables(text) + len(text.split()) for text, _ in texts], float)
    units = _units(act)
    spans, confidence = _place_lines(units, act, syllables, audio.duration) if len(texts) and units.size else ([], [])
    dropped = len(texts) - len(spans)
    if dropped and warn_dropped:
        log.warning("%d lyric lines did not fit the song and were dropped from the end", dropped)
    lines = tuple(
        replace(
            make_line(text, start, min(end, audio.duration), stanza, activity=(times, act)), voice=lyrics.voice_of(i)
        )
        for i, ((text, stanza), (start, end)) in enumerate(zip(texts, spans))
    )
    timeline = Timeline(
        lines=lines,
        duration=audio.duration,
        title=title if title is not None else lyrics.title,
        meta={
            "dropped_lines": dropped,
            "line_confidence": confidence,
            "unsure_lines": [i for i, c in enumerate(confidence) if c < UNSURE],
        },
    )
    timeline.validate()
    return timeline


def _check_not_silent(audio: Audio) -> None:
    x = audio.samples
    if x.size == 0 or max(float(x.max()), -float(x.min())) < _SILENT_PEAK:  # no |x| copy of a long song
        raise ComposerError("audio is silent (peak below -80 dBFS): nothing to align the lyrics to")


# -------------------------------------------------------------------------------------------- activity


def vocal_activity(audio: Audio) -> tuple[np.ndarray, np.ndarray]:
    """(times, values): the chance that a voice sings at each 10 ms frame, from the learned detector.

    It reads the mix's band energies and (for stereo) the centre's share over the sides: metal is mixed
    with the voice, kick and snare in the middle and the rhythm guitars panned hard left and right.
    """
    from composer.karaoke.vad import detect, features

    mid, side, _ = _band_energies(audio)
    act = detect(features(mid, mid - side if side is not None else None))
    act = ndimage.median_filter(act, size=_SMOOTH, mode="nearest")
    times = (np.arange(len(act)) + 0.5) / FRAME_RATE
    return times, act


def _band_energies(audio: Audio, chunk_frames: int = 2048):
    """Log power in mel-spaced bands, (frames, bands) float32, of the mid (L+R) and side (L-R) signals.

    Computed chunk by chunk straight from the samples, so a long song costs no full-length copies. side
    is None for mono audio or when the channels are (nearly) identical.
    """
    rate = audio.rate
    hop = rate / FRAME_RATE
    n_fft = 1 << int(np.ceil(np.log2(0.03 * rate)))
    n = audio.samples.shape[0]
    n_frames = max(1, int(np.ceil(n / hop)))
    stereo = audio.channels == 2
    fb, centres = _mel_filterbank(n_fft, rate)
    win = np.hanning(n_fft).astype(np.float32)
    mid = np.empty((n_frames, fb.shape[1]), np.float32)
    side = np.empty_like(mid) if stereo else None
    starts_all = np.round(np.arange(n_frames) * hop).astype(np.int64) - n_fft // 2
    side_power = mid_power = 0.0
    for c0 in range(0, n_frames, chunk_frames):
        starts = starts_all[c0 : c0 + chunk_frames]
        rows = slice(c0, c0 + len(starts))
        if stereo:
            left = _frames(audio.samples[:, 0], starts, n_fft)
            right = _frames(audio.samples[:, 1], starts, n_fft)
            m_power = _power_bands((left + right) * (0.5 * win), fb)
            s_power = _power_bands((left - right) * (0.5 * win), fb)
            side[rows] = np.log(s_power + 1e-10)
            side_power += float(s_power.sum())
        else:
            channels = [_frames(audio.samples[:, c], starts, n_fft) for c in range(audio.channels)]
            m_power = _power_bands(sum(channels) * (win / audio.channels), fb)
        mid[rows] = np.log(m_power + 1e-10)
        mid_power += float(m_power.sum())
    if side is not None and side_power < 1e-4 * mid_power:
        side = None  # mono content in a stereo file: the centre share says nothing
    return mid, side, centres


def _frames(x: np.ndarray, starts: np.ndarray, n_fft: int) -> np.ndarray:
    """(len(starts), n_fft) windows of x starting at the given (possibly out-of-range) sample indices."""
    lo, hi = int(starts[0]), int(starts[-1]) + n_fft
    seg = np.zeros(hi - lo, np.float32)
    a, b = max(lo, 0), min(hi, len(x))
    if b > a:
        seg[a - lo : b - lo] = x[a:b]
    steps = np.diff(starts)
    if len(starts) > 1 and (steps == steps[0]).all():  # a whole-sample hop: a strided view, no gather
        return np.lib.stride_tricks.sliding_window_view(seg, n_fft)[:: int(steps[0])]
    return seg[(starts - lo)[:, None] + np.arange(n_fft)]


def _power_bands(frames: np.ndarray, fb: np.ndarray) -> np.ndarray:
    spec = sfft.rfft(frames, axis=1, workers=-1)
    return (spec.real**2 + spec.imag**2) @ fb


def _mel_filterbank(n_fft: int, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(bins, bands) triangular filters, area-normalised, and the band centre frequencies."""
    f_max = min(_F_MAX, rate / 2 * 0.95)
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    imel = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = imel(np.linspace(mel(_F_MIN), mel(f_max), _N_BANDS + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    fb = np.zeros((bins.size, _N_BANDS), np.float32)
    for b in range(_N_BANDS):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (bins - lo) / (mid - lo)
        down = (hi - bins) / (hi - mid)
        w = np.clip(np.minimum(up, down), 0.0, None)
        if w.sum() == 0:  # narrower than a bin at low frequencies: take the nearest bin
            w[np.argmin(np.abs(bins - mid))] = 1.0
        fb[:, b] = w / w.sum()
    return fb, edges[1:-1]


# ----------------------------------------------------------------------------------------------- units

_HI, _LO = 0.25, 0.1  # hysteresis thresholds on the activity
_MIN_DIP = 0.05  # a valley this deep inside a voiced stretch also separates units
_MIN_UNIT = 6  # frames
_TRIM = 0.4  # a unit starts and ends where activity crosses this share of its typical level


@dataclass(frozen=True)
class _Units:
    start: np.ndarray  # first frame of each unit
    end: np.ndarray  # one past its last frame

    @property
    def size(self) -> int:
        return len(self.start)


def _units(act: np.ndarray) -> _Units:
    """Voiced stretches (activity above _HI, extended while above _LO), cut at valleys, edges tightened."""
    labels, _ = ndimage.label(act > _LO)
    bounds: list[tuple[int, int]] = []
    for sl in ndimage.find_objects(labels):
        a, b = sl[0].start, sl[0].stop
        if act[a:b].max() < _HI:
            continue
        cuts = [a, *(a + int(c) for c in signal.find_peaks(-act[a:b], prominence=_MIN_DIP)[0]), b]
        for c0, c1 in zip(cuts[:-1], cuts[1:]):
            c0, c1 = _trim(act, c0, c1)
            if c1 - c0 >= _MIN_UNIT:
                bounds.append((c0, c1))
    se = np.array(bounds, dtype=np.int64).reshape(-1, 2)
    return _Units(se[:, 0], se[:, 1])


def _trim(act: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """Tighten a unit to where its activity is up: a faint voice and a loud one get equally sharp edges."""
    level = _TRIM * np.percentile(act[a:b], 75)
    up = np.flatnonzero(act[a:b] >= level)
    return (a + int(up[0]), a + int(up[-1]) + 1) if len(up) else (a, a)


# -------------------------------------------------------------------------------------- line placement

_W_DUR = 15.0  # per squared log ratio of a line's sung time to its length at the song's rate
_DUR_KNEE = 0.5  # log ratio: beyond about 1.6 times too long or short the cost grows linearly
_THETA = 0.3  # activity above this is more likely voice than not
# per second of voice left unsung, times its excess over _THETA: between lines it is most likely a
# misplacement; before the first line it may be an intro, after the last the lyrics may have run out.
# _W_TRAIL is a compromise (issue 16): 1 lets lyrics shorter than the song end early more often (59% vs
# 42% of such lines right on the espeak-ng tuning set) but squeezes buried vocals (0.31 s mean vs 0.21 s).
_W_SKIP, _W_LEAD, _W_TRAIL = 20.0, 10.0, 3.0
# a line starts and ends at a real gap: a boundary at a gap shorter than _EDGE_GAP costs up to _W_EDGE
_W_EDGE, _EDGE_GAP = 2.0, 0.2
_W_PAUSE, _FREE_PAUSE = 2.0, 0.3  # per second of a pause inside a line beyond _FREE_PAUSE
_W_HELD_END = 3.0  # a sung line most often ends on a held note: ending on a long unit earns this much
_SHED_OVER, _SHED_KEEP = 1.3, 0.75  # a line sung this much longer than expected sheds trailing units
_MAX_PAUSE = 1.2  # seconds: a longer quiet stretch is never inside a line
_W_DROP = 5.0  # per line dropped from the end
_W_LATE = 0.3  # per line, times its start as a share of the song: with too few lines, sing the first verses
_MAX_UNITS = 40  # most units one line may span
_N_RATES = 32


def _place_lines(
    units: _Units, act: np.ndarray, syllables: np.ndarray, duration: float
) -> tuple[list[tuple[float, float]], list[float]]:
    """(start, end) in seconds of each placed line, in order (lines that fit nowhere are left off the end),
    and each placed line's confidence in [0, 1]."""
    tables = _span_tables(units, act, duration)
    rate = _best_rate(tables, syllables)
    _, path = _dp(tables, syllables, rate, backtrack=True)
    path = [_shed_tail(units, j, k, syllables[i] / rate) for i, (j, k) in enumerate(path)]
    # no unit is shed from a line's start: a short first word a pause before the rest ("No ... plague") is
    # sung, and shedding it started such lines late
    spans = [(units.start[j] / FRAME_RATE, units.end[k - 1] / FRAME_RATE) for j, k in path]
    return spans, [_confidence(units, act, j, k, syllables[i] / rate) for i, (j, k) in enumerate(path)]


UNSURE = 0.35  # a line placed with less confidence than this is flagged


def _confidence(units: _Units, act: np.ndarray, j: int, k: int, expected: float) -> float:
    """How well units j..k-1 fit a line expected to sing `expected` seconds, times the detector's mean
    certainty over them: a line squeezed or stretched far from its words, or on faint voice, is unsure."""
    frames = np.concatenate([act[a:b] for a, b in zip(units.start[j:k], units.end[j:k])])
    fit = np.exp(-0.5 * (np.log(len(frames) / FRAME_RATE / expected) / 0.35) ** 2)
    return round(float(fit * frames.mean()), 2)


def _shed_tail(units: _Units, j: int, k: int, expected: float) -> tuple[int, int]:
    """Units j..k-1 less trailing units while the line sings far longer than its words take at the
    song's rate: the last line before voice the lyrics do not cover should not sweep on over it."""
    sung = lambda a, b: (units.end[a:b] - units.start[a:b]).sum() / FRAME_RATE  # noqa: E731
    while k - j > 1 and sung(j, k) > _SHED_OVER * expected and sung(j, k - 1) >= _SHED_KEEP * expected:
        k -= 1
    return j, k


def _best_rate(tables: _Tables, syllables: np.ndarray) -> float:
    """The song-wide syllable rate with the cheapest placement: every third rate, then around the best."""
    rates = np.geomspace(*RATE_RANGE, _N_RATES)
    costs = np.full(len(rates), np.inf)
    for k in [*range(0, len(rates), 3), len(rates) - 1]:
        costs[k] = _dp(tables, syllables, rates[k], backtrack=False)[0]
    best = int(np.argmin(costs))
    for k in range(max(best - 2, 0), min(best + 3, len(rates))):
        if not np.isfinite(costs[k]):
            costs[k] = _dp(tables, syllables, rates[k], backtrack=False)[0]
    return float(rates[int(np.argmin(costs))])


@dataclass(frozen=True)
class _Tables:
    log_span: np.ndarray  # (m, K): log seconds from the start of unit j to the end of unit j + len - 1
    base: np.ndarray  # (m, K): the syllable-independent cost of a line on that run (inf: not allowed)
    voice: np.ndarray  # (m + 1,): cumulative voice (excess over _THETA, seconds) of the units


def _span_tables(units: _Units, act: np.ndarray, duration: float) -> _Tables:
    """Everything about a line on units j..j+len-1 that does not depend on which line it is."""
    m = units.size
    K = min(_MAX_UNITS, m)
    a = act.astype(np.float64)
    voice = np.concatenate([[0.0], np.cumsum(np.maximum(a - _THETA, 0.0))]) / FRAME_RATE
    gaps = (units.start[1:] - units.end[:-1]) / FRAME_RATE
    cum_long = np.concatenate([[0], np.cumsum(gaps > _MAX_PAUSE)])
    # a line starts and ends at a real gap: a boundary at a gap shorter than a pause between words costs
    edge = _W_EDGE * np.clip(1.0 - np.concatenate([[np.inf], gaps, [np.inf]]) / _EDGE_GAP, 0.0, 1.0) ** 2
    pause = np.concatenate([[0.0], np.cumsum(_W_PAUSE * np.maximum(gaps - _FREE_PAUSE, 0.0))])
    late = _W_LATE * units.start / FRAME_RATE / max(duration, 1e-9)
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
        cost = pause[last] - pause[j] + edge[j] + edge[last + 1] + late[j] + held[last]
        base[j, length - 1] = np.where(cum_long[last] > cum_long[j], np.inf, cost)
    unit_voice = np.concatenate([[0.0], np.cumsum(voice[units.end] - voice[units.start])])
    return _Tables(log_span, base, unit_voice)


def _dp(tables: _Tables, syllables: np.ndarray, rate: float, *, backtrack: bool):
    """Min cost of placing the lines in order on runs of units at one syllable rate; optionally the runs.

    F[t]: best cost with the lines so far placed and units < t sung or left unsung. A line on units j..t-1
    gives E[t] = F[j] + its cost; leaving units unsung carries E forward into the next F. The total for i
    placed lines is the best E[t] plus the voice left after t plus the dropped lines.
    """
    m, K = tables.base.shape
    n = len(syllables)
    V = tables.voice
    S = _W_SKIP * V
    trail = _W_TRAIL * (V[m] - V)
    F = _W_LEAD * V
    history = []
    finals = [_W_LEAD * V[m] + _W_DROP * n]
    for i in range(n):
        ratio = tables.log_span + np.log(rate / syllables[i])
        cost = F[:m, None] + tables.base + _duration_cost(ratio)
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
