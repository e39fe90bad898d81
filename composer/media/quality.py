"""Numbers that tell generated audio from noise, measured against the audio a model was trained on.

- spectral flatness (0 = pure tones, 1 = white noise), averaged over frames;
- the correlation of two signals' long-term average log spectra (the overall timbre: same guitars, same mix);
- onset rate: note and drum attacks per second from positive spectral flux, peak-picked (rhythmic activity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.signal

_N_FFT = 1024
HOP = 256  # samples between spectrogram frames (log_mel, onset_envelope)
DELTA = 0.2  # an onset stands this far above the local mean of the normalised flux


def _power(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    freqs, _, z = scipy.signal.stft(
        np.asarray(x, np.float64), fs=rate, nperseg=_N_FFT, noverlap=_N_FFT - HOP, boundary=None, padded=False
    )
    return freqs, np.abs(z) ** 2  # (bins, frames)


def spectral_flatness(x: np.ndarray, rate: int) -> float:
    _, p = _power(x, rate)
    p = p[1:] + 1e-12
    loud = p.sum(0) > 1e-6 * p.sum(0).max()  # silence has no timbre to measure
    p = p[:, loud]
    return float(np.mean(np.exp(np.mean(np.log(p), 0)) / np.mean(p, 0)))


def ltas_db(x: np.ndarray, rate: int, lo: float = 50.0, hi: float = 7500.0) -> np.ndarray:
    """Long-term average spectrum in dB (Welch, 1024-point) over the bins from ``lo`` to ``hi`` Hz."""
    freqs, p = scipy.signal.welch(np.asarray(x, np.float64), fs=rate, nperseg=_N_FFT)
    return 10 * np.log10(p[(freqs >= lo) & (freqs <= hi)] + 1e-20)


def ltas_correlation(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    return float(np.corrcoef(ltas_db(a, rate), ltas_db(b, rate))[0, 1])


def onset_rate(x: np.ndarray, rate: int) -> float:
    """Onsets per second: peaks of half-wave rectified log-spectral flux, normalised by its 99th percentile,
    that stand DELTA above their local mean (as librosa's onset picking) and lie 50 ms apart or more."""
    _, p = _power(x, rate)
    logp = np.log1p(1000.0 * p / (p.max() + 1e-20))
    flux = np.maximum(np.diff(logp, axis=1), 0).sum(0)
    if flux.size < 3:
        return 0.0
    # a floor of 0.05 per bin keeps a steady tone's near-zero flux from being blown up into onsets
    env = flux / max(float(np.percentile(flux, 99)), 0.05 * logp.shape[0])
    frame_rate = rate / HOP
    local = scipy.ndimage.uniform_filter1d(env, size=max(3, int(0.2 * frame_rate)), mode="nearest")
    peaks, _ = scipy.signal.find_peaks(env, height=local + DELTA, distance=max(1, int(0.05 * frame_rate)))
    peaks = peaks[env[peaks] >= local[peaks] + DELTA]
    return len(peaks) / (len(x) / rate)


def compare(generated: np.ndarray, reference: np.ndarray, rate: int) -> dict[str, float]:
    """Every figure for generated audio next to the reference (training) audio."""
    return {
        "flatness_generated": spectral_flatness(generated, rate),
        "flatness_reference": spectral_flatness(reference, rate),
        "ltas_correlation": ltas_correlation(generated, reference, rate),
        "onsets_per_s_generated": onset_rate(generated, rate),
        "onsets_per_s_reference": onset_rate(reference, rate),
    }


# ------------------------------------------------------------------------------------ measures that hear music
# LTAS and onset rate cannot hear rhythm, transients or seams: noise shaped like the album passes them. The
# measures below can, and each is printed next to the album and shaped noise (benchmarks/demo_quality.py).

RHYTHM_WINDOW_S = 16.0  # long enough that chance correlations of a wash stay low (noise ~0.09; 6 s windows: 0.16)
RHYTHM_LAGS_S = (0.2, 2.0)  # beat and bar periods of metal, 30-300 bpm
_BEAT_SHARE = 0.8  # of the best repeat: a shorter lag repeating this well is the beat, the best one its multiple
FEATURE_WINDOW_S = 1.0
FEATURE_HOP_S = 0.5
_MEL_BANDS = 24
_MOD_BANDS = ((1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 16.0))  # Hz of the onset envelope: bars, beats, 8ths, 16ths
SEAM_SIDE_S = 0.25  # level and spectrum compared over this much audio either side of a point


def _mel_matrix(freqs: np.ndarray, rate: int, bands: int = _MEL_BANDS) -> np.ndarray:
    """(bands, bins) triangular mel filters from 40 Hz to the Nyquist frequency."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges = 700.0 * (10 ** (np.linspace(mel(40.0), mel(rate / 2), bands + 2) / 2595.0) - 1.0)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up, down = (freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def log_mel(x: np.ndarray, rate: int) -> np.ndarray:
    """(bands, frames) log-mel energies in dB, hop 256 samples; absolute, so level differences count."""
    freqs, p = _power(x, rate)
    return 10.0 * np.log10(_mel_matrix(freqs, rate) @ p + 1e-10)


def onset_envelope(x: np.ndarray, rate: int) -> np.ndarray:
    """Half-wave rectified log-mel flux per frame (hop 256), the envelope drums and picked notes make."""
    m = log_mel(x, rate)
    return np.maximum(np.diff(m, axis=1), 0.0).mean(0) if m.shape[1] > 1 else np.zeros(0)


def _frame_rate(rate: int) -> float:
    return rate / HOP


def _onset_autocorrelations(x: np.ndarray, rate: int) -> np.ndarray:
    """(windows, lags + 1): per 16 s window (half overlapping), the onset envelope's normalised autocorrelation
    at lags 0 .. RHYTHM_LAGS_S[1] in frames; no rows for audio under a window or a window without onsets."""
    env = onset_envelope(x, rate)
    fr = _frame_rate(rate)
    size = int(RHYTHM_WINDOW_S * fr)
    hi = int(RHYTHM_LAGS_S[1] * fr)
    rows = []
    for a in range(0, len(env) - size + 1, size // 2):
        w = env[a : a + size] - env[a : a + size].mean()
        r = np.fft.irfft(np.abs(np.fft.rfft(w, 2 * size)) ** 2)[: hi + 1]
        if r[0] <= 1e-12:
            continue
        # each lag's sum over a shorter overlap is rescaled to an average, as a correlation is
        rows.append(r / r[0] * size / (size - np.arange(hi + 1)))
    return np.array(rows).reshape(-1, hi + 1)


def rhythm_strength(x: np.ndarray, rate: int) -> float:
    """How periodic the onset envelope is: per 16 s window, the highest normalised autocorrelation at lags of
    0.2-2 s (a beat or bar), averaged over windows. A groove repeats its attacks (album ~0.3); a wash or noise
    has no preferred period (~0.05)."""
    r = _onset_autocorrelations(x, rate)
    lo = int(RHYTHM_LAGS_S[0] * _frame_rate(rate))
    return float(r[:, lo:].max(axis=1).mean()) if len(r) else 0.0


def beat_period(x: np.ndarray, rate: int) -> float:
    """Seconds of the beat: the shortest lag (0.2-2 s) at which the onset envelope, over the whole audio, repeats
    nearly as well as at its best one, between frames by a parabola through the peak and its neighbours (a
    frame is 32 ms at 8 kHz: too coarse to tell a beat from one a tenth slower); nan without a 16 s window of
    onsets."""
    rows = _onset_autocorrelations(x, rate)
    if not len(rows):
        return float("nan")
    r = rows.mean(axis=0)
    fr = _frame_rate(rate)
    lo = int(RHYTHM_LAGS_S[0] * fr)
    # a steady beat repeats as well at two and three beats: the shortest lag that repeats nearly as well as
    # the best one is the beat
    peaks = lo + scipy.signal.find_peaks(r[lo:])[0]
    peaks = peaks[r[peaks] >= _BEAT_SHARE * r[lo:].max()]
    k = int(peaks[0]) if len(peaks) else lo + int(np.argmax(r[lo:]))
    shift = 0.0
    if lo < k < len(r) - 1:
        a, b, c = r[k - 1], r[k], r[k + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    return float((k + shift) / fr)


def transient_spikiness(x: np.ndarray, rate: int) -> float:
    """How spiky the spectral flux is: the mean of its top 2% over its median. Drum hits and picked attacks
    stand far above the flux between them (album ~10+); a steady wash or noise changes as much every frame (~2)."""
    env = onset_envelope(x, rate)
    if env.size < 50:
        return 0.0
    top = np.sort(env)[-max(1, env.size // 50) :].mean()
    return float(top / max(float(np.median(env)), 1e-9))


def window_features(x: np.ndarray, rate: int) -> np.ndarray:
    """(windows, features) of 1 s windows every 0.5 s: per mel band the mean and spread of its dB level (timbre,
    dynamics), and the onset envelope's mean and its modulation energy in four bands of 1-16 Hz (rhythm)."""
    m = log_mel(x, rate)
    env = np.maximum(np.diff(m, axis=1), 0.0).mean(0)
    fr = _frame_rate(rate)
    size, hop = int(FEATURE_WINDOW_S * fr), int(FEATURE_HOP_S * fr)
    freqs = np.fft.rfftfreq(size, 1.0 / fr)
    bands = [(freqs >= a) & (freqs < b) for a, b in _MOD_BANDS]
    rows = []
    for a in range(0, len(env) - size + 1, hop):
        seg, e = m[:, a : a + size], env[a : a + size]
        spec = np.abs(np.fft.rfft(e - e.mean())) ** 2
        mod = [np.log10(spec[b].mean() + 1e-8) for b in bands]
        rows.append(np.concatenate([seg.mean(1), seg.std(1), [np.log10(e.mean() + 1e-8)], mod]))
    return np.asarray(rows)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussian fits of two sets of feature rows (as FID does for images)."""
    import scipy.linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(ca @ cb)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(ca + cb - 2.0 * covmean))


@dataclass(frozen=True)
class Closeness:
    distance: float  # Frechet distance of the audio's 1 s windows to an album half (mean over both halves)
    album: float  # the same for an album excerpt of the same length against the other half (mean of both ways)
    ratio: float  # distance / album: 1.0 is as close to the album as the album is to itself


class AlbumReference:
    """An album split into two disjoint halves (whole songs), with its window features computed once."""

    def __init__(self, half_a: np.ndarray, half_b: np.ndarray, rate: int):
        self.halves, self.rate = (half_a, half_b), rate
        self.features = (window_features(half_a, rate), window_features(half_b, rate))

    @classmethod
    def from_songs(cls, songs: list[np.ndarray], rate: int) -> AlbumReference:
        """Alternate songs go to alternate halves, so each half spans the album's styles."""
        return cls(np.concatenate(songs[0::2]), np.concatenate(songs[1::2]), rate)

    def closeness(self, x: np.ndarray) -> Closeness:
        """Album-relative closeness of ``x``. A Frechet distance grows as fewer windows estimate it, so the
        album's own figure is taken at the length of ``x``: an excerpt of each half against the other half."""
        fx = window_features(x, self.rate)
        d = 0.5 * sum(frechet_distance(fx, f) for f in self.features)
        n = len(fx)
        fa, fb = self.features
        own = 0.5 * (
            frechet_distance(fa[len(fa) // 2 - n // 2 :][:n], fb)
            + frechet_distance(fb[len(fb) // 2 - n // 2 :][:n], fa)
        )
        return Closeness(d, own, d / max(own, 1e-12))


@dataclass(frozen=True)
class SeamReport:
    joins: int
    join_change: float  # median change across a join (level dB + spectral dB distance)
    random_change: float  # median of the same at points near the joins, inside the pieces
    auc: float  # chance that a join changes more than a point near it: 0.5 = joins cannot be told apart
    p_value: float  # one-sided Mann-Whitney U: are joins larger changes than random points?


def change_at(x: np.ndarray, rate: int, points: np.ndarray) -> np.ndarray:
    """Per point (sample index), how much the audio changes across it: the log-mel frames of the SEAM_SIDE_S
    before and after, as the RMS dB difference of their average spectra plus the difference of their levels."""
    m = log_mel(x, rate)
    fr = _frame_rate(rate)
    side = max(1, int(SEAM_SIDE_S * fr))
    out = []
    for p in np.asarray(points):
        f = int(round(p / HOP))
        if f - side < 0 or f + side > m.shape[1]:
            out.append(np.nan)
            continue
        before, after = m[:, f - side : f].mean(1), m[:, f : f + side].mean(1)
        level = abs(float(before.mean() - after.mean()))
        shape = float(np.sqrt(np.mean(((before - before.mean()) - (after - after.mean())) ** 2)))
        out.append(level + shape)
    return np.asarray(out, dtype=np.float64)


def seam_test(
    x: np.ndarray,
    rate: int,
    joins: list[int] | np.ndarray,
    *,
    seed: int = 0,
    per_join: int = 20,
    near_s: tuple[float, float] = (1.0, 4.0),
) -> SeamReport:
    """Can joins (sample positions where generated pieces meet) be told from points near them, 1-4 s away
    inside the same pieces? AUC near 0.5 and a large p-value mean no. The points are matched to the joins'
    neighbourhoods so that a song's loud and quiet parts weigh the same on both sides."""
    import scipy.stats

    joins = np.asarray(joins, dtype=np.int64)
    rng = np.random.default_rng(seed)
    lo, hi = round(near_s[0] * rate), round(near_s[1] * rate)
    offsets = rng.integers(lo, hi, (len(joins), per_join)) * rng.choice([-1, 1], (len(joins), per_join))
    cand = (joins[:, None] + offsets).ravel()
    cand = cand[(cand > 0) & (cand < len(x))]
    if len(joins):  # a point near two joins stays a second from both, out of every crossfade
        cand = cand[np.min(np.abs(cand[:, None] - joins[None, :]), axis=1) >= lo]
    cj, cr = change_at(x, rate, joins), change_at(x, rate, cand)
    cj, cr = cj[np.isfinite(cj)], cr[np.isfinite(cr)]
    if not len(cj) or not len(cr):
        return SeamReport(len(cj), float("nan"), float("nan"), float("nan"), float("nan"))
    u = scipy.stats.mannwhitneyu(cj, cr, alternative="greater")
    return SeamReport(
        len(cj), float(np.median(cj)), float(np.median(cr)), float(u.statistic / (len(cj) * len(cr))), float(u.pvalue)
    )


def shaped_noise(reference: np.ndarray, rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """White noise filtered to the reference's long-term average spectrum and level: the known-bad input that
    LTAS-based figures cannot tell from music."""
    freqs, p = scipy.signal.welch(np.asarray(reference, np.float64), fs=rate, nperseg=_N_FFT)
    taps = scipy.signal.firwin2(1025, freqs / (rate / 2), np.sqrt(p / p.max()))
    n = round(seconds * rate)
    noise = scipy.signal.fftconvolve(np.random.default_rng(seed).standard_normal(n + 1024), taps, mode="valid")[:n]
    return (noise * float(np.std(reference)) / max(float(np.std(noise)), 1e-12)).astype(np.float32)


def copy_score(x: np.ndarray, album: np.ndarray, rate: int, *, window_s: float = 0.5, every_s: float = 2.0) -> float:
    """The highest normalised cross-correlation of any half-second window of ``x`` (one every 2 s) against the
    album at any offset: ~1.0 for audio copied from the album, far lower for new music."""
    w = round(window_s * rate)
    album = np.asarray(album, np.float64)
    size = 1 << int(np.ceil(np.log2(len(album) + w)))
    spectrum = np.fft.rfft(album, size)
    # the album's energy under every window position, for the normalisation
    csum = np.concatenate([[0.0], np.cumsum(album**2)])
    energy = np.sqrt(np.maximum(csum[w:] - csum[:-w], 1e-12))
    best = 0.0
    for a in range(0, len(x) - w + 1, round(every_s * rate)):
        piece = np.asarray(x[a : a + w], np.float64)
        norm = float(np.sqrt(np.sum(piece**2)))
        if norm < 1e-6:
            continue
        corr = np.fft.irfft(spectrum * np.conj(np.fft.rfft(piece, size)), size)[: len(album) - w + 1]
        best = max(best, float(np.max(np.abs(corr) / (energy * norm))))
    return best


def restart_collage(
    songs: list[np.ndarray], seconds: float, rate: int, *, piece_s: float = 0.5, fade_in_s: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, list[int]]:
    """The known-bad input for seams: album pieces in a random order, each starting from silence and fading in
    (as the first generator's segments did), and where the pieces join."""
    rng = np.random.default_rng(seed)
    n, piece = round(seconds * rate), round(piece_s * rate)
    ramp = np.minimum(1.0, np.arange(piece) / max(1.0, fade_in_s * rate)).astype(np.float32)
    parts = []
    for _ in range(-(-n // piece)):
        song = songs[rng.integers(len(songs))]
        a = int(rng.integers(0, len(song) - piece))
        parts.append(song[a : a + piece] * ramp)
    return np.concatenate(parts)[:n].astype(np.float32), list(range(piece, n, piece))
