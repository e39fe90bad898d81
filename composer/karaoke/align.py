"""Lyrics to audio without a network: vocal activity -> voiced units -> lines placed -> words inside.

1. ``vocal_activity``: log mel band energies on 10 ms frames of the mix (and, for stereo, of the centre's
   share over the sides), each less its running floor over many seconds, read by a small learned detector
   (``vad.py``, trained on composer's own mixtures) into the chance that a voice sings in each frame.
2. Units: stretches where the activity is up (hysteresis), also cut at its valleys, with tightened edges.
   A gap between lines, a pause inside a line, or two lines bled together by reverb all become unit edges.
3. ``placement.py`` places the lines in order on runs of units and says how sure it is of each; the lyric
   sheet's stanzas (when it has more than one) tell it where long instrumental breaks may fall.
4. A line placed with confidence below ``UNSURE`` is marked ``unsure``: shown where the placement put it
   (between its neighbours), but nothing in it is swept as sung. Re-timing such lines from the sure lines
   around them instead put fewer of them right on the tuning set (43% vs 50% within 0.3 s on buried vocals).
   ``Timeline.meta`` lists every line's confidence and the unsure ones.
5. Words and syllables inside each sure line: ``make_line`` spreads them by syllables and by the activity,
   and moves word starts onto the units' starts (the voice starting again after a dip) where they match.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from scipy import fft as sfft
from scipy import ndimage, signal

from composer.errors import ComposerError
from composer.karaoke.placement import FRAME_RATE, UNSURE, Units, place_lines
from composer.media.syllables import line_syllables
from composer.media.timing import make_line
from composer.types import Audio, LyricLine, Lyrics, Timeline

log = logging.getLogger("composer")


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
    # a lyric sheet of one stanza (no blank lines) says nothing about where its stanzas are
    opens = np.diff([-1, *(stanza for _, stanza in texts)]) != 0 if len(lyrics.stanzas) > 1 else None
    placement = place_lines(units, act, syllables, opens) if len(texts) and units.size else None
    spans, confidence = (placement.spans, placement.confidence) if placement else ([], [])
    dropped = len(texts) - len(spans)
    if dropped and warn_dropped:
        log.warning("%d lyric lines did not fit the song and were dropped from the end", dropped)
    onsets = units.start / FRAME_RATE
    lines = []
    for i, ((text, stanza), (start, end)) in enumerate(zip(texts, spans)):
        end = min(end, audio.duration)
        if confidence[i] < UNSURE:
            line = LyricLine(text, start, end, words=(), stanza=stanza, unsure=True)
        else:
            line = make_line(text, start, end, stanza, activity=(times, act), onsets=onsets)
        lines.append(replace(line, voice=lyrics.voice_of(i), confidence=float(confidence[i])))
    timeline = Timeline(
        lines=tuple(lines),
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

# searched with the placement weights (placement.py says how)
_HI, _LO = 0.32, 0.11  # hysteresis thresholds on the activity
_MIN_DIP = 0.036  # a valley this deep inside a voiced stretch also separates units
_MIN_UNIT = 6  # frames
_TRIM = 0.6  # a unit starts and ends where activity crosses this share of its typical level


def _units(act: np.ndarray) -> Units:
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
    return Units(se[:, 0], se[:, 1])


def _trim(act: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """Tighten a unit to where its activity is up: a faint voice and a loud one get equally sharp edges."""
    level = _TRIM * np.percentile(act[a:b], 75)
    up = np.flatnonzero(act[a:b] >= level)
    return (a + int(up[0]), a + int(up[-1]) + 1) if len(up) else (a, a)
