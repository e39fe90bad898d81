"""Lyrics to audio without a trained model: vocal activity -> voiced units -> lines by dynamic programming.

1. ``vocal_activity``: log band energies on 10 ms frames of the mix (and, for stereo, of the centre's share
   over the sides: metal puts the voice in the middle and the rhythm guitars hard left and right). Each
   band's bed (the guitar wall, a steady beat) is its running low percentile over many seconds and is
   subtracted. What rises in the first-formant (300-1000 Hz) and upper-formant (1-3.5 kHz) regions together,
   and not below 250 Hz (a new riff) or above 5 kHz (snare, cymbals), median-filtered in time so drum hits
   drop out, is the voice.
2. Units: stretches where the activity is up (hysteresis), also cut at its valleys, with tightened edges.
   A gap between lines, a pause inside a line, or two lines bled together by reverb all become unit edges.
3. A dynamic program places the lines in order, each on a run of consecutive units. A line's span should
   fit its syllables at one song-wide rate (searched over a plausible range, which also keeps lines from
   stretching over a song that has more singing than lyrics); a line pays for the quiet it spans (short
   pauses between its words are not quiet) and wants quiet at its edges; no line spans a long instrumental
   stretch; voice left unsung costs most between lines, less before the first line (an intro), least after
   the last (the lyrics ran out); lines that fit nowhere are dropped from the end.
4. Words and syllables inside each line: ``make_line`` spreads them by syllables and by the activity.
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
RATE_RANGE = (2.7, 6.5)

_N_BANDS = 40
_F_MIN, _F_MAX = 60.0, 8000.0
_F1_BAND, _F2_BAND = (300.0, 1000.0), (1000.0, 3500.0)
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
    syllables = np.array([line_syllables(text) for text, _ in texts], float)
    units = _units(act)
    spans = _place_lines(units, act, syllables, audio.duration) if len(texts) and units.size else []
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
        meta={"dropped_lines": dropped},
    )
    timeline.validate()
    return timeline


def _check_not_silent(audio: Audio) -> None:
    x = audio.samples
    if x.size == 0 or max(float(x.max()), -float(x.min())) < _SILENT_PEAK:  # no |x| copy of a long song
        raise ComposerError("audio is silent (peak below -80 dBFS): nothing to align the lyrics to")


# -------------------------------------------------------------------------------------------- activity


def vocal_activity(audio: Audio) -> tuple[np.ndarray, np.ndarray]:
    """(times, values): how strongly a voice stands out of the band at each 10 ms frame, values in [0, 1].

    Two views are averaged: the mix itself, and (for stereo) how much more the centre than the sides
    carries. Metal is mixed with the voice, kick and snare in the middle and the rhythm guitars panned
    hard left and right, so a voice rises in the centre's share of the formant region.
    """
    mid, side, freqs = _band_energies(audio)
    act = _voice_salience(mid, freqs)
    if side is not None:
        act = 0.5 * (act + _voice_salience(mid - side, freqs))
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


_W_LOW, _W_HIGH = 0.5, 0.3  # how much a rise below 250 Hz / above 5 kHz discounts one in the formants
_MEDIAN_FRAMES = 15  # 150 ms: longer than a drum hit, shorter than a sung syllable
_FLOOR_SECONDS, _FLOOR_PCT = 20.0, 10  # long enough to find the bed between the lines of a busy verse


def _voice_salience(bands: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    floor = _running_floor(bands, seconds=_FLOOR_SECONDS, pct=_FLOOR_PCT)
    excess = np.clip(bands - floor, 0.0, 4.0)  # natural-log units: 4 ~ 17 dB

    def band(lo: float, hi: float) -> np.ndarray:
        sel = (freqs >= lo) & (freqs < hi)
        return excess[:, sel].mean(axis=1) if sel.any() else np.zeros(len(excess), np.float32)

    # a voice lifts its first formant and its upper formants together; a lead guitar note or a chord
    # change mostly lifts one region, a new riff lifts the low end too, a snare or cymbal the top
    voice = np.minimum(band(*_F1_BAND), band(*_F2_BAND))
    s = np.clip(voice - _W_LOW * band(0.0, 250.0) - _W_HIGH * band(5000.0, np.inf), 0.0, None)
    s = ndimage.median_filter(s, size=_MEDIAN_FRAMES, mode="nearest")
    s = ndimage.uniform_filter1d(s, 5, mode="nearest")
    top = np.percentile(s, 95)
    if top <= 1e-6:
        return np.zeros(len(s), np.float32)
    return np.clip(s / top, 0.0, 1.0).astype(np.float32)


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

_HELD = 1.0  # a line's last syllable is held: its span lasts about this many syllables more
_W_DUR = 25.0  # per squared log ratio of a line's span to its syllables at the song's rate
_DUR_KNEE = 0.5  # log ratio: beyond about 1.6 times too long or short
_THETA = 0.3  # activity above this is more likely voice than not
_W_QUIET = 10.0  # per second of line, times how far its activity falls below _THETA
# per second of voice left unsung, times its excess over _THETA: between lines it is most likely a
# misplacement; before the first line it may be an intro, after the last the lyrics may have run out.
# (Cheap trailing voice also lets the lines of a voice slower than composer's growls squeeze into the
# song's first half; _W_TRAIL 5 halves that on the espeak-ng tuning set but then half the lyrics stretch
# over a whole song: issue 16.)
_W_SKIP, _W_LEAD, _W_TRAIL = 20.0, 10.0, 2.0
_W_EDGE = 5.0  # a line should start and end in a quiet valley: times the activity left there
_MAX_PAUSE = 1.6  # seconds: a longer quiet stretch is never inside a line
_W_DROP = 3.0  # per line dropped from the end
_W_LATE = 0.3  # per line, times its start as a share of the song: with too few lines, sing the first verses
# a dip shorter than this (frames) between voiced stretches is a pause between words, not quiet in a line
_BRIDGE = 45
_MAX_UNITS = 40  # most units one line may span
_N_RATES = 24


def _place_lines(units: _Units, act: np.ndarray, syllables: np.ndarray, duration: float) -> list[tuple[float, float]]:
    """(start, end) in seconds of each placed line, in order; lines that fit nowhere are left off the end."""
    tables = _span_tables(units, act, duration)
    rate = _best_rate(tables, syllables)
    _, path = _dp(tables, syllables, rate, backtrack=True)
    # no unit is shed from a line's ends: a short first word a pause before the rest ("No ... plague") is
    # sung, and shedding it started such lines late
    return [(units.start[j] / FRAME_RATE, units.end[k - 1] / FRAME_RATE) for j, k in path]


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
    # a voice that pauses between words (espeak-ng sings word by word) is not quiet inside its line: dips
    # shorter than _BRIDGE between voiced frames cost nothing. Only voiced frames are bridged, so a faint
    # unit (reverb, a guitar) just before a line still costs its quiet if the line reaches back over it.
    voiced = a > _THETA
    bridged = ndimage.binary_closing(np.pad(voiced, _BRIDGE), structure=np.ones(_BRIDGE, bool))[_BRIDGE:-_BRIDGE]
    quiet_act = np.where(bridged & ~voiced, _THETA, a)
    quiet = np.concatenate([[0.0], np.cumsum(np.maximum(_THETA - quiet_act, 0.0))]) / FRAME_RATE
    voice = np.concatenate([[0.0], np.cumsum(np.maximum(a - _THETA, 0.0))]) / FRAME_RATE
    gaps = (units.start[1:] - units.end[:-1]) / FRAME_RATE
    cum_long = np.concatenate([[0], np.cumsum(gaps > _MAX_PAUSE)])
    edge = _W_EDGE * _valley_levels(units, a)  # (m + 1,): before each unit, and after the last
    late = _W_LATE * units.start / FRAME_RATE / max(duration, 1e-9)
    log_span = np.full((m, K), np.inf)
    base = np.full((m, K), np.inf)
    for length in range(1, K + 1):
        j = np.arange(m - length + 1)
        last = j + length - 1
        log_span[j, length - 1] = np.log((units.end[last] - units.start[j]) / FRAME_RATE)
        spanned_quiet = quiet[units.end[last]] - quiet[units.start[j]]
        cost = _W_QUIET * spanned_quiet + edge[j] + edge[last + 1] + late[j]
        base[j, length - 1] = np.where(cum_long[last] > cum_long[j], np.inf, cost)
    unit_voice = np.concatenate([[0.0], np.cumsum(voice[units.end] - voice[units.start])])
    return _Tables(log_span, base, unit_voice)


def _valley_levels(units: _Units, act: np.ndarray) -> np.ndarray:
    """Lowest activity between consecutive units (at the cut where they touch); song edges count as quiet."""
    inner = [
        act[e : max(s, e + 1)].min() if s > e else act[max(s - 1, 0) : s + 1].min()
        for e, s in zip(units.end[:-1], units.start[1:])
    ]
    return np.concatenate([[0.0], np.asarray(inner, dtype=np.float64), [0.0]])


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
        ratio = tables.log_span + np.log(rate / (syllables[i] + _HELD))
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
