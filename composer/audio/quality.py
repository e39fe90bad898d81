"""Numbers that tell generated audio from noise, measured against the audio a model was trained on.

- spectral flatness (0 = pure tones, 1 = white noise), averaged over frames;
- the correlation of two signals' long-term average log spectra (the overall timbre: same guitars, same mix);
- onset rate: note and drum attacks per second from positive spectral flux, peak-picked (rhythmic activity).
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.signal

_N_FFT = 1024
_HOP = 256
DELTA = 0.2  # an onset stands this far above the local mean of the normalised flux


def _power(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    freqs, _, z = scipy.signal.stft(np.asarray(x, np.float64), fs=rate, nperseg=_N_FFT, noverlap=_N_FFT - _HOP,
                                    boundary=None, padded=False)  # fmt: skip
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
    frame_rate = rate / _HOP
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
