"""Lyrics to audio without a trained model: vocal energy -> voiced units -> lines by dynamic programming.

1. ``vocal_activity``: log band energies on 10 ms frames; each band's stationary bed (the guitar wall, a
   steady blast beat) is its running low percentile over a few seconds and is subtracted; what is left in
   the formant region (300-3500 Hz), median-filtered in time so drum hits drop out, is the voice.
2. Units: stretches where that activity stays up (hysteresis), cut at its dips, so a gap between two lines
   and a pause inside a line both become unit boundaries.
3. A dynamic program places the lines, in order, on runs of consecutive units: a line's voiced time should
   match its syllable count at a global syllable rate (searched over a plausible range), a pause inside a
   line costs more the longer it is and a long instrumental stretch cannot be inside a line, a line boundary
   prefers a wide gap, units left unsung cost their energy, lines that do not fit are dropped at the end.
4. Words and syllables inside each line: ``make_line`` spreads them by syllables and by the activity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import ndimage, signal

from composer.errors import ComposerError
from composer.lyrics.syllables import count_syllables
from composer.timing import make_line
from composer.types import Audio, Lyrics, Timeline

log = logging.getLogger("composer")

FRAME_RATE = 100  # activity frames per second
_N_BANDS = 40
_F_MIN, _F_MAX = 60.0, 8000.0
_VOICE_BAND = (300.0, 3500.0)
_SILENT_PEAK = 1e-4

# syllables per second of voiced time that a sung line may have: bounds how far lines stretch or squeeze
RATE_RANGE = (2.2, 8.0)


@dataclass(frozen=True)
class _Units:
    start: np.ndarray  # seconds
    end: np.ndarray
    strength: np.ndarray  # mean activity inside, 0..1
    gap: np.ndarray  # (size + 1,) seconds of quiet before each unit; the last entry is after the last unit
    dip: np.ndarray  # (size + 1,) how far activity falls there below the lower of its two neighbours
    act: np.ndarray  # the activity curve the units were cut from, one value per frame

    @property
    def size(self) -> int:
        return len(self.start)


def align(audio: Audio, lyrics: Lyrics, *, title: str | None = None) -> Timeline:
    """Time every line, word and syllable of the lyrics to the song."""
    _check_not_silent(audio)
    times, act = vocal_activity(audio)
    units = _units(times, act)
    texts = lyrics.lines
    syllables = np.array([max(1, sum(count_syllables(w) for w in text.split())) for text, _ in texts], float)
    spans = _place_lines(units, syllables, audio.duration) if len(texts) and units.size else []
    dropped = len(texts) - len(spans)
    if dropped:
        log.warning("%d lyric lines did not fit the song and were dropped from the end", dropped)
    lines = []
    for (text, stanza), (start, end) in zip(texts, spans):
        lines.append(make_line(text, start, end, stanza, activity=(times, act)))
    timeline = Timeline(
        lines=tuple(lines), duration=audio.duration, title=title if title is not None else lyrics.title,
        meta={"dropped_lines": dropped, "aligner": "energy-dp"},
    )
    timeline.validate()
    return timeline


def _check_not_silent(audio: Audio) -> None:
    if audio.samples.size == 0 or float(np.max(np.abs(audio.samples))) < _SILENT_PEAK:
        raise ComposerError("audio is silent (peak below -80 dBFS): nothing to align the lyrics to")


# -------------------------------------------------------------------------------------------- activity


def vocal_activity(audio: Audio) -> tuple[np.ndarray, np.ndarray]:
    """(times, values): how strongly a voice stands out of the band at each 10 ms frame, values in [0, 1]."""
    bands, freqs = _band_energies(audio)
    act = _voice_salience(bands, freqs)
    times = (np.arange(len(act)) + 0.5) / FRAME_RATE
    return times, act


def _band_energies(audio: Audio, chunk_frames: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Log power in mel-spaced bands, (frames, bands) float32, computed chunk by chunk on the mono mix."""
    rate = audio.rate
    hop = rate / FRAME_RATE
    n_fft = 1 << int(np.ceil(np.log2(0.03 * rate)))
    x = audio.mono()
    n_frames = max(1, int(np.ceil(len(x) / hop)))
    pad = n_fft // 2
    xp = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(n_fft + pad + int(hop) + 1, np.float32)])
    fb, centres = _mel_filterbank(n_fft, rate)
    win = np.hanning(n_fft).astype(np.float32)
    out = np.empty((n_frames, fb.shape[1]), np.float32)
    starts_all = np.round(np.arange(n_frames) * hop).astype(np.int64)
    for c0 in range(0, n_frames, chunk_frames):
        starts = starts_all[c0 : c0 + chunk_frames]
        frames = xp[starts[:, None] + np.arange(n_fft)] * win
        spec = sfft.rfft(frames, axis=1, workers=-1)
        power = spec.real**2 + spec.imag**2
        out[c0 : c0 + len(starts)] = np.log(power @ fb + 1e-10)
    return out, centres


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


def _running_floor(x: np.ndarray, seconds: float, pct: float, block: int = 10) -> np.ndarray:
    """Per-column running low percentile of x over a window, on 0.1 s block means (cheap for long songs)."""
    n = x.shape[0]
    nb = int(np.ceil(n / block))
    padded = np.concatenate([x, np.repeat(x[-1:], nb * block - n, axis=0)])
    blocks = padded.reshape(nb, block, -1).mean(axis=1)
    size = max(3, int(seconds * FRAME_RATE / block) | 1)
    floor = ndimage.percentile_filter(blocks, pct, size=(size, 1), mode="reflect")
    centres = (np.arange(nb) + 0.5) * block
    idx = np.arange(n)
    return np.stack([np.interp(idx, centres, floor[:, k]) for k in range(x.shape[1])], axis=1).astype(np.float32)


_W_LOW, _W_HIGH = 0.5, 0.3  # how much a rise below 250 Hz / above 5 kHz discounts one in the formant region
_MEDIAN_FRAMES = 15
_MODE = "min"
_FLOOR_SECONDS, _FLOOR_PCT = 12.0, 10


def _voice_salience(bands: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    floor = _running_floor(bands, seconds=_FLOOR_SECONDS, pct=_FLOOR_PCT)
    excess = np.clip(bands - floor, 0.0, 4.0)  # natural-log units: 4 ~ 17 dB
    if _MODE == "mean":
        voice = excess[:, (freqs >= _VOICE_BAND[0]) & (freqs <= _VOICE_BAND[1])].mean(axis=1)
    elif _MODE == "p25":
        voice = np.percentile(excess[:, (freqs >= _VOICE_BAND[0]) & (freqs <= _VOICE_BAND[1])], 25, axis=1)
    elif _MODE == "min":
        f1 = excess[:, (freqs >= _VOICE_BAND[0]) & (freqs < 1000.0)].mean(axis=1)
        f2 = excess[:, (freqs >= 1000.0) & (freqs <= _VOICE_BAND[1])].mean(axis=1)
        voice = np.minimum(f1, f2)
    elif _MODE == "hi":
        voice = excess[:, (freqs >= 1000.0) & (freqs <= _VOICE_BAND[1])].mean(axis=1)
    # a new riff or groove lifts the low end too, a snare or cymbal the top: only what rises in the
    # formant region alone is voice
    low = excess[:, freqs < 250.0].mean(axis=1)
    high = excess[:, freqs > 5000.0].mean(axis=1) if (freqs > 5000.0).any() else 0.0
    s = np.clip(voice - _W_LOW * low - _W_HIGH * high, 0.0, None)
    s = ndimage.median_filter(s, size=_MEDIAN_FRAMES, mode="nearest")  # drum hits are shorter than syllables
    s = ndimage.uniform_filter1d(s, 5, mode="nearest")
    top = np.percentile(s, 95) + 1e-9
    return np.clip(s / top, 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------------------------- units

_HI, _LO = 0.25, 0.1  # fixed thresholds; None: from Otsu's split of the song's activity
_MIN_DIP = 0.05  # a valley this deep inside a voiced stretch also separates units
_MIN_UNIT = 0.06  # seconds


def _units(times: np.ndarray, act: np.ndarray) -> _Units:
    """Voiced stretches (activity above a high threshold, extended while above a low one), also cut at
    deep valleys: two lines sung almost back to back, or bled together by reverb, still get a boundary."""
    hi, lo = _thresholds(act)
    labels, n = ndimage.label(act > lo)
    bounds: list[tuple[int, int]] = []
    for sl in ndimage.find_objects(labels):
        a, b = sl[0].start, sl[0].stop
        if act[a:b].max() < hi:
            continue
        cuts = [a, *(a + c for c in _valleys(act[a:b])), b]
        for c0, c1 in zip(cuts[:-1], cuts[1:]):
            c0, c1 = _trim(act, c0, c1)
            if c1 - c0 >= _MIN_UNIT * FRAME_RATE:
                bounds.append((c0, c1))
    if not bounds:
        return _Units(*(np.zeros(0) for _ in range(3)), np.zeros(1), np.zeros(1), act)
    se = np.array(bounds)
    peaks = np.array([act[a:b].max() for a, b in bounds])
    strength = np.array([act[a:b].mean() for a, b in bounds])
    valley = np.array([act[b0 : max(a1, b0 + 1)].min() for (_, b0), (a1, _) in zip(bounds[:-1], bounds[1:])])
    dip = np.concatenate([[peaks[0]], np.minimum(peaks[:-1], peaks[1:]) - valley, [peaks[-1]]])
    edges = np.concatenate([[0], se.ravel(), [len(act)]]).reshape(-1, 2)  # (end of previous, start of next)
    gap = (edges[:, 1] - edges[:, 0]) / FRAME_RATE
    return _Units(se[:, 0] / FRAME_RATE, se[:, 1] / FRAME_RATE, strength, gap, np.clip(dip, 0.0, 1.0), act)


_TRIM = 0.5  # a unit starts and ends where activity crosses this share of its typical level


def _trim(act: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """Tighten a unit to where its activity is up: a faint voice and a loud one get equally sharp edges."""
    if _TRIM <= 0:
        return a, b
    level = _TRIM * np.percentile(act[a:b], 75)
    up = np.flatnonzero(act[a:b] >= level)
    return (a + int(up[0]), a + int(up[-1]) + 1) if len(up) else (a, a)


def _valleys(x: np.ndarray) -> list[int]:
    """Indices of local minima at least _MIN_DIP below the lower of the peaks on either side."""
    if len(x) < 3:
        return []
    idx, _ = signal.find_peaks(-x, prominence=_MIN_DIP)
    return [int(i) for i in idx]


def _thresholds(act: np.ndarray) -> tuple[float, float]:
    """Otsu's split of the activity values, with the low threshold below it for hysteresis."""
    if _HI is not None:
        return _HI, _LO
    hist, edges = np.histogram(act, bins=64, range=(0.0, 1.0))
    p = hist / max(1, hist.sum())
    centres = 0.5 * (edges[1:] + edges[:-1])
    w0 = np.cumsum(p)
    mu = np.cumsum(p * centres)
    between = (mu[-1] * w0 - mu) ** 2 / (w0 * (1 - w0) + 1e-12)
    t = float(centres[int(np.argmax(between))])
    return t, 0.6 * t


# -------------------------------------------------------------------------------------- line placement

_HELD = 1.0  # a line's last syllable is held: it lasts about this many syllables more
_W_DUR = 10.0  # line span vs its syllables at the song's rate, per squared log ratio
_W_PAUSE = 0.0  # per second of pause inside a line beyond _FREE_PAUSE
_FREE_PAUSE = 0.3
_MAX_PAUSE = 1.6  # longer silences cannot be inside a line
_W_GAP = 0.0  # reward per second of quiet at a line boundary, up to _GAP_CAP
_GAP_CAP = 0.8
_W_DIP = 0.0  # reward for the depth of the activity valley at a line boundary
_W_SKIP = 0.0  # per second of strong activity left unsung
_SKIP_FLOOR = 0.3  # units this weak (or weaker) are free to leave unsung
_SURE = 1.0  # units this strong are surely voice
_W_WEAK = 0.0  # per second of doubtful activity sung over
_W_ACT = 10.0  # per second of a line, times how far its activity is above (or below) _THETA
_THETA = 0.3
_W_DROP = 6.0  # per dropped line
_W_LATE = 0.3  # per line, times its start as a share of the song: with too few lines, sing early
_MAX_UNITS = 40
_N_RATES = 24


def _place_lines(units: _Units, syllables: np.ndarray, duration: float) -> list[tuple[float, float]]:
    """(start, end) of each placed line, in order; lines that fit nowhere are left off the end."""
    tables = _span_tables(units, duration)
    rates = np.geomspace(*RATE_RANGE, _N_RATES)
    costs = [_dp(tables, syllables, r, backtrack=False)[0] for r in rates]
    _, path = _dp(tables, syllables, rates[int(np.argmin(costs))], backtrack=True)
    return [(float(units.start[j]), float(units.end[k - 1])) for j, k in path]


@dataclass(frozen=True)
class _Tables:
    log_span: np.ndarray  # (m, K) log seconds from the start of unit j to the end of unit j+len-1
    base: np.ndarray  # (m, K) the syllable-independent part of the cost of a line on that run
    skip: np.ndarray  # (m + 1,) cumulative cost of leaving units unsung


def _span_tables(units: _Units, duration: float) -> _Tables:
    m, K = units.size, min(_MAX_UNITS, units.size)
    inner_gap = units.gap[1:-1]  # between unit j and j+1
    cum_pause = np.concatenate([[0.0], np.cumsum(_W_PAUSE * np.clip(inner_gap - _FREE_PAUSE, 0.0, None))])
    cum_long = np.concatenate([[0], np.cumsum(inner_gap > _MAX_PAUSE)])  # silences no line may span
    boundary = _W_GAP * np.minimum(units.gap, _GAP_CAP) + _W_DIP * units.dip  # (m + 1,)
    late = _W_LATE * units.start / max(duration, 1e-9)
    # how surely each unit is voice: leaving a sure one unsung costs, singing over a doubtful one costs
    sure = np.clip((units.strength - _SKIP_FLOOR) / (_SURE - _SKIP_FLOOR), 0.0, 1.0)
    cum_doubt = np.concatenate([[0.0], np.cumsum(_W_WEAK * (units.end - units.start) * (1.0 - sure))])
    # a line is rewarded for the voice it covers and charged for the quiet it spans
    cum_act = np.concatenate([[0.0], np.cumsum(units.act - _THETA)]) / FRAME_RATE
    frame_start = np.round(units.start * FRAME_RATE).astype(np.int64)
    frame_end = np.round(units.end * FRAME_RATE).astype(np.int64)
    log_span = np.full((m, K), np.inf)
    base = np.full((m, K), np.inf)
    for length in range(1, K + 1):
        j = np.arange(m - length + 1)
        k = j + length  # one past the last unit
        log_span[j, length - 1] = np.log(np.maximum(units.end[k - 1] - units.start[j], 1e-3))
        pauses = np.where(cum_long[k - 1] > cum_long[j], np.inf, cum_pause[k - 1] - cum_pause[j])
        cover = cum_act[frame_end[k - 1]] - cum_act[frame_start[j]]
        base[j, length - 1] = (pauses + cum_doubt[k] - cum_doubt[j] - _W_ACT * cover
                               - boundary[j] - boundary[k] + late[j])
    dur = units.end - units.start
    skip = np.concatenate([[0.0], np.cumsum(_W_SKIP * dur * sure)])
    return _Tables(log_span, base, skip)


def _dp(tables: _Tables, syllables: np.ndarray, rate: float, *, backtrack: bool):
    """Min cost of placing the lines in order on runs of units at one syllable rate; optionally the runs.

    F[t] is the best cost with the lines so far placed and units < t used or left unsung; a line on units
    j..t-1 gives E[t] = F[j] + its cost, and leaving units unsung carries E forward into the next F.
    """
    m, K = tables.base.shape
    n = len(syllables)
    S = tables.skip
    F = S.copy()
    history = []
    finals = [F[m] + _W_DROP * n]
    for i in range(n):
        ratio = tables.log_span + np.log(rate / (syllables[i] + _HELD))
        cost = F[:m, None] + tables.base + _W_DUR * ratio**2
        E = np.full(m + 1, np.inf)
        arg = np.zeros(m + 1, np.int64)
        for length in range(1, K + 1):
            c = cost[: m - length + 1, length - 1]
            tgt = E[length:]
            better = c < tgt
            tgt[better] = c[better]
            arg[length:][better] = length
        F = S + np.minimum.accumulate(E - S)
        if backtrack:
            history.append((E, arg))
        finals.append(F[m] + _W_DROP * (n - i - 1))
        if not np.isfinite(F[m]):
            break
    placed = int(np.argmin(finals))
    total = float(finals[placed])
    if not backtrack:
        return total, None
    return total, _backtrack(history[:placed], S, m)


def _backtrack(history, S: np.ndarray, m: int) -> list[tuple[int, int]]:
    path = []
    t = m
    for E, arg in reversed(history):
        t = int(np.argmin(E[: t + 1] - S[: t + 1]))  # the line ended at t; units t.. were left unsung
        length = int(arg[t])
        path.append((t - length, t))
        t -= length
    return path[::-1]
