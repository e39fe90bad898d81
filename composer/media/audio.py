"""Audio in and out: read any soundfile format, resample, loudness-normalise with a true-peak limiter, write WAV.

Everything runs in blocks of about a second so that a 10-minute stereo song costs its own samples plus a few
megabytes: the input is random-access in memory, every derived signal (resampled, gained, limited) is made one
block at a time and goes straight to its destination (an output array or the WAV file ffmpeg will encode).

Loudness follows ITU-R BS.1770-4 (K-weighting from pyloudnorm's filter definitions, 400 ms blocks with 75 %
overlap, absolute and relative gates) but is computed in one streaming pass rather than with
``pyloudnorm.Meter.integrated_loudness``, which copies the whole signal and loops over blocks in Python.

True peak is estimated by 4x oversampling with the same Kaiser-windowed sinc that ``scipy.signal.resample_poly``
uses (20 taps per phase). The shorter 12-tap filter of BS.1770 Annex 2 under-reads clipped 44.1 kHz material
by up to 0.7 dB near Nyquist, which would let overs through the limiter.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.fft
import soundfile as sf
from pyloudnorm.iirfilter import IIRfilter
from scipy import signal
from scipy.ndimage import maximum_filter1d

from composer.errors import ComposerError
from composer.types import Audio
from composer.util.files import atomic_path

log = logging.getLogger("composer")

_BLOCK = 1 << 16  # frames per processing block (~1.4 s at 48 kHz)
_READ_BLOCK = 1 << 18
_SMALL_READ = 4096
_SEEK_FAILED = 39  # libsndfile's "Internal psf_fseek() failed": what reading past the real end gives
_TRUSTED_S = 600  # seconds of a header's length allocated before reading; beyond that the buffer grows
# audio composer reads: the analysis needs a few kHz of bandwidth, and the resampling filter grows with the rate
MIN_RATE, MAX_RATE = 8000, 768_000
MAX_AUDIO_SECONDS = 3 * 3600

# limiter behaviour
_LOOKAHEAD_S = 0.002  # attack ramp; the gain reaches its target exactly at the peak
_RELEASE_DB_PER_S = 40.0  # gain recovers linearly in dB: 3 dB of reduction is gone in 75 ms
_TP_MARGIN_DB = 0.1  # aim this far under the ceiling: gain modulation and 4x sampling both miss a little
_MAX_PASSES = 3
_LOUDNESS_TOLERANCE_LU = 0.5
_MAX_MAKEUP_DB = 6.0  # extra gain allowed to win back loudness lost to limiting

# BS.1770 loudness blocks and gates
_GATE_BLOCK_S = 0.4
_GATE_STEP = 0.25
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs


# ----------------------------------------------------------------------------------------------- reading


def read_audio(path: Path) -> Audio:
    """Decode a wav/flac/ogg/mp3 (anything libsndfile reads) to float32 (frames, 1 or 2 channels).

    More than two channels are downmixed to stereo. Raises ComposerError naming the file for a missing file,
    a directory, an empty or unreadable file, corrupt audio data, no samples, or NaN/infinite samples.
    """
    path = Path(path)
    _check_readable_file(path)
    try:
        handle = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as exc:
        raise ComposerError(f"{path}: not a readable audio file (wav, flac, ogg or mp3)") from exc
    with handle:
        if handle.frames == 0:
            raise ComposerError(f"{path}: contains no audio samples")
        if not MIN_RATE <= handle.samplerate <= MAX_RATE:
            raise ComposerError(
                f"{path}: sample rate {handle.samplerate} Hz; composer reads {MIN_RATE} Hz to {MAX_RATE} Hz"
            )
        samples = _read_all(handle, path)
        rate = handle.samplerate
    if samples.shape[0] == 0:
        raise ComposerError(f"{path}: contains no audio samples")
    return Audio(samples, rate)


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise ComposerError(f"{path}: file not found")
    if path.is_dir():
        raise ComposerError(f"{path}: is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise ComposerError(f"{path}: cannot be read (permission denied)")
    if path.stat().st_size == 0:
        raise ComposerError(f"{path}: empty file (0 bytes), not audio")


def _read_all(handle: sf.SoundFile, path: Path) -> np.ndarray:
    """Read block by block, downmixing as we go so >2 channels never sit whole.

    The header's frame count is only a hint: it can be missing or claim hours for a file of seconds, so at
    most ``_TRUSTED_S`` of it is allocated up front and the buffer grows (doubling) with what is really read.
    """
    mix = _downmix_matrix(handle.channels, vorbis_order=handle.format == "OGG")
    out_channels = handle.channels if mix is None else 2
    expected = handle.frames
    limit = MAX_AUDIO_SECONDS * handle.samplerate
    out = np.empty((max(0, min(expected, _TRUSTED_S * handle.samplerate, limit)), out_channels), dtype=np.float32)
    filled = 0
    try:
        for block in _blocks(handle, path):
            if not np.isfinite(block).all():
                raise ComposerError(f"{path}: contains invalid (NaN or infinite) samples")
            if filled + block.shape[0] > limit:
                raise ComposerError(
                    f"{path}: longer than {MAX_AUDIO_SECONDS // 3600} hours; composer reads audio up to that length"
                )
            if mix is not None:
                block = block @ mix
            if filled + block.shape[0] > out.shape[0]:
                out = _grown(out, filled, filled + block.shape[0], limit)
            out[filled : filled + block.shape[0]] = block
            filled += block.shape[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ComposerError(f"{path}: audio data is corrupt ({_short_reason(exc)})") from exc
    if filled < expected:
        log.warning("%s: %d of %d frames could be decoded; the file looks truncated", path, filled, expected)
    # copy only when the waste is worth returning to the allocator
    return out[:filled].copy() if filled < 0.9 * out.shape[0] else out[:filled]


def _blocks(handle: sf.SoundFile, path: Path) -> Iterator[np.ndarray]:
    """The file's frames, block by block, as float32 (frames, channels).

    A header promising more frames than the file holds makes libsndfile fail at the real end of the data
    (a seek error) and drop the block it was decoding; that stretch is read again in small steps from a
    fresh handle, so the file is read as far as it goes, less at most one small step.
    """
    done, size = 0, _READ_BLOCK
    with contextlib.ExitStack() as reopened:
        while True:
            try:
                block = handle.read(size, dtype="float32", always_2d=True)
            except sf.LibsndfileError as exc:
                if exc.code != _SEEK_FAILED or done == 0:
                    raise
                if size == _SMALL_READ:
                    return
                handle, size = reopened.enter_context(sf.SoundFile(path)), _SMALL_READ
                handle.seek(done)
                continue
            if block.shape[0] == 0:
                return
            done += block.shape[0]
            yield block


def _grown(buffer: np.ndarray, filled: int, needed: int, limit: int) -> np.ndarray:
    """A larger buffer holding ``buffer[:filled]``: doubled, so reading stays linear in the frames read."""
    bigger = np.empty((min(max(needed, 2 * buffer.shape[0]), limit), buffer.shape[1]), dtype=buffer.dtype)
    bigger[:filled] = buffer[:filled]
    return bigger


def _short_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix("Error : ").strip()


# Channel roles in the default layouts. WAV/FLAC/AIFF use the WAVE_FORMAT_EXTENSIBLE order; Ogg Vorbis and
# Opus use the Vorbis order, which puts the centre second.
_WAVE_LAYOUTS = {
    3: "L R C",
    4: "L R BL BR",
    5: "L R C BL BR",
    6: "L R C LFE BL BR",
    7: "L R C LFE BC SL SR",
    8: "L R C LFE BL BR SL SR",
}
_VORBIS_LAYOUTS = {
    3: "L C R",
    4: "L R BL BR",
    5: "L C R BL BR",
    6: "L C R BL BR LFE",
    7: "L C R SL SR BC LFE",
    8: "L C R SL SR BL BR LFE",
}
_ROLE_TO_STEREO = {
    "L": (1.0, 0.0),
    "R": (0.0, 1.0),
    "C": (0.7071, 0.7071),
    "LFE": (0.0, 0.0),  # the usual downmix drops LFE: it is redundant with the mains and would add rumble
    "BL": (0.7071, 0.0),
    "SL": (0.7071, 0.0),
    "BR": (0.0, 0.7071),
    "SR": (0.0, 0.7071),
    "BC": (0.5, 0.5),
}


def _downmix_matrix(channels: int, *, vorbis_order: bool) -> np.ndarray | None:
    """(channels, 2) float32 matrix to stereo, or None when the audio is already mono or stereo."""
    if channels <= 2:
        return None
    layout = (_VORBIS_LAYOUTS if vorbis_order else _WAVE_LAYOUTS).get(channels)
    if layout is None:
        # unknown layout: alternate channels left and right so nothing is lost
        rows = [(1.0, 0.0) if k % 2 == 0 else (0.0, 1.0) for k in range(channels)]
    else:
        rows = [_ROLE_TO_STEREO[role] for role in layout.split()]
    return np.asarray(rows, dtype=np.float32)


def _as_stereo(samples: np.ndarray) -> np.ndarray:
    """A (frames, 2) view or array: mono is broadcast without copying, >2 channels are downmixed."""
    channels = samples.shape[1]
    if channels == 2:
        return samples
    if channels == 1:
        return np.broadcast_to(samples, (samples.shape[0], 2))
    mix = _downmix_matrix(channels, vorbis_order=False)
    out = np.empty((samples.shape[0], 2), dtype=np.float32)
    for a in range(0, samples.shape[0], _READ_BLOCK):
        out[a : a + _READ_BLOCK] = samples[a : a + _READ_BLOCK] @ mix
    return out


# ----------------------------------------------------------------------------------------------- simple tools


def is_silent(audio: Audio, threshold_dbfs: float = -60.0) -> bool:
    """True when no sample's magnitude reaches ``threshold_dbfs`` (sample peak, not loudness)."""
    limit = 10.0 ** (threshold_dbfs / 20.0)
    samples = audio.samples
    for a in range(0, samples.shape[0], _READ_BLOCK):
        if np.abs(samples[a : a + _READ_BLOCK]).max(initial=0.0) >= limit:
            return False
    return True


def resample(audio: Audio, rate: int) -> Audio:
    """Polyphase resampling (``scipy.signal.resample_poly``) by the exact rational factor, float32.

    Done in blocks with enough context that the result equals a whole-signal ``resample_poly`` to float
    rounding, without its float64 copy of the song.
    """
    rate = int(rate)
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate}")
    if rate == audio.rate:
        return audio
    resampler = _Resampler(audio.samples, audio.rate, rate)
    out = np.empty((resampler.frames, audio.channels), dtype=np.float32)
    for a in range(0, resampler.frames, _BLOCK):
        b = min(a + _BLOCK, resampler.frames)
        out[a:b] = resampler.range(a, b).T
    return Audio(out, rate)


class _Resampler:
    """Random access to ``resample_poly(samples, up, down)`` one output range at a time, channel-major."""

    def __init__(self, samples: np.ndarray, rate_in: int, rate_out: int):
        ratio = Fraction(rate_out, rate_in)
        self.samples = samples
        self.up, self.down = ratio.numerator, ratio.denominator
        self.frames = -(-samples.shape[0] * self.up // self.down)  # ceil, as resample_poly
        # resample_poly's filter reaches 10 * max(up, down) taps either side at the upsampled rate, i.e. this
        # many input samples; padding by a multiple of `down` keeps block outputs on the global output grid
        reach = -(-10 * max(self.up, self.down) // self.up) + 1
        self.pad = -(-reach // self.down) * self.down
        self.taps = _resample_filter(self.up, self.down) if self.up != self.down else None

    def range(self, a: int, b: int) -> np.ndarray:
        """Output samples [a, b) as float32 (channels, b - a); zeros outside the signal."""
        channels = self.samples.shape[1]
        out = np.zeros((channels, b - a), dtype=np.float32)
        lo, hi = max(a, 0), min(b, self.frames)
        if lo >= hi:
            return out
        if self.up == self.down:
            out[:, lo - a : hi - a] = self.samples[lo:hi].T
            return out
        first_in = (lo // self.up) * self.down  # a multiple of `down`: its output index is exact
        start = max(0, first_in - self.pad)
        stop = min(self.samples.shape[0], -(-hi * self.down // self.up) + self.pad)
        chunk = np.ascontiguousarray(self.samples[start:stop].T)
        local = signal.resample_poly(chunk, self.up, self.down, axis=1, window=self.taps)
        offset = start // self.down * self.up
        out[:, lo - a : hi - a] = local[:, lo - offset : hi - offset]
        return out


@lru_cache(maxsize=8)
def _resample_filter(up: int, down: int) -> np.ndarray:
    """The filter resample_poly would design for (up, down), made once rather than once per block."""
    max_rate = max(up, down)
    return signal.firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))


def write_wav(path: Path, audio: Audio, subtype: str = "PCM_16") -> None:
    """Write a WAV (RF64 past 4 GiB) atomically. Integer subtypes clip at full scale (libsndfile clips)."""
    path = Path(path)
    fmt = _wav_format(audio.samples.shape[0], audio.channels, subtype)
    with (
        atomic_path(path) as tmp,
        sf.SoundFile(tmp, "w", samplerate=audio.rate, channels=audio.channels, subtype=subtype, format=fmt) as out,
    ):
        for a in range(0, audio.samples.shape[0], _READ_BLOCK):
            out.write(audio.samples[a : a + _READ_BLOCK])


def _wav_format(frames: int, channels: int, subtype: str) -> str:
    bytes_per_sample = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}
    size = frames * channels * bytes_per_sample.get(subtype, 4)
    return "RF64" if size > 0xFFFF_0000 else "WAV"


# ----------------------------------------------------------------------------------------------- loudness


def _k_weighting_sos(rate: int) -> np.ndarray:
    """BS.1770 K-weighting (pre-filter shelf + RLB high-pass) as second-order sections, from pyloudnorm."""
    stages = (
        IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, rate, "high_pass"),
    )
    sections = []
    for stage in stages:
        b = np.asarray(stage.b, dtype=np.float64) * stage.passband_gain
        a = np.asarray(stage.a, dtype=np.float64)
        sections.append(np.concatenate([b / a[0], a / a[0]]))
    return np.asarray(sections)


class _LoudnessMeter:
    """Integrated loudness (BS.1770-4) fed block by block, channel-major.

    Only the running sum of squared K-weighted samples at each gating-block boundary is kept, so memory is
    one float per channel per 100 ms.
    """

    def __init__(self, rate: int, channels: int, total_frames: int):
        self.rate = rate
        self.sos = _k_weighting_sos(rate)
        self.state = np.zeros((self.sos.shape[0], channels, 2))
        self.weights = np.asarray(
            _CHANNEL_WEIGHTS[:channels] if channels <= len(_CHANNEL_WEIGHTS) else [1.0] * channels
        )
        self.starts, self.stops, self.length = _gating_blocks(total_frames, rate)
        self.points = np.unique(np.concatenate([self.starts, self.stops]))
        self.energy_at = np.zeros((len(self.points), channels))
        self.next_point = int(np.searchsorted(self.points, 0, side="right"))  # points at 0 stay 0
        self.position = 0
        self.running = np.zeros(channels)

    def feed(self, block: np.ndarray) -> None:
        """block: (channels, frames), consecutive with the previous one."""
        n = block.shape[1]
        if n == 0:
            return
        weighted, self.state = signal.sosfilt(self.sos, block, axis=1, zi=self.state)
        squared = np.square(weighted, out=weighted)
        end = self.position + n
        stop = int(np.searchsorted(self.points, end, side="right"))
        cuts = self.points[self.next_point : stop] - self.position  # in (0, n]
        # sums between consecutive cuts, then running totals at each cut (the last segment runs to n)
        starts = np.concatenate([[0], cuts[cuts < n]])
        totals = np.cumsum(np.add.reduceat(squared, starts, axis=1), axis=1) + self.running[:, None]
        self.energy_at[self.next_point : stop] = totals[:, : len(cuts)].T
        self.next_point = stop
        self.running = totals[:, -1].copy()
        self.position = end

    def integrated(self) -> float:
        if self.position == 0 or len(self.starts) == 0:
            return -math.inf
        lo = np.searchsorted(self.points, self.starts)
        hi = np.searchsorted(self.points, self.stops)
        z = (self.energy_at[hi] - self.energy_at[lo]) / self.length  # (blocks, channels) mean squares
        power = z @ self.weights
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10.0 * np.log10(power)
        above_absolute = block_lufs >= _ABSOLUTE_GATE_LUFS
        if not above_absolute.any():
            return -math.inf
        relative_gate = -0.691 + 10.0 * np.log10(power[above_absolute].mean()) + _RELATIVE_GATE_LU
        gated = (block_lufs > relative_gate) & (block_lufs > _ABSOLUTE_GATE_LUFS)
        if not gated.any():
            return -math.inf
        return float(-0.691 + 10.0 * np.log10(power[gated].mean()))


def _gating_blocks(frames: int, rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Start and stop frames of the 400 ms, 75 %-overlapping gating blocks, and their nominal length.

    Same arithmetic as pyloudnorm so the two agree; audio shorter than one block is measured as one block.
    """
    duration = frames / rate
    if frames == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 1.0
    if duration < _GATE_BLOCK_S:
        return np.array([0]), np.array([frames]), float(frames)
    count = int(np.round((duration - _GATE_BLOCK_S) / (_GATE_BLOCK_S * _GATE_STEP))) + 1
    j = np.arange(count)
    starts = np.array([int(_GATE_BLOCK_S * (k * _GATE_STEP) * rate) for k in j])
    stops = np.array([int(_GATE_BLOCK_S * (k * _GATE_STEP + 1) * rate) for k in j])
    return np.minimum(starts, frames), np.minimum(stops, frames), _GATE_BLOCK_S * rate


def _measure_loudness(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness of a (frames, channels) array, read in blocks."""
    meter = _LoudnessMeter(rate, samples.shape[1], samples.shape[0])
    for a in range(0, samples.shape[0], _BLOCK):
        meter.feed(samples[a : a + _BLOCK].T)
    return meter.integrated()


def integrated_loudness(audio: Audio) -> float:
    """BS.1770-4 integrated loudness in LUFS (-inf for silence)."""
    return _measure_loudness(audio.samples, audio.rate)


# ----------------------------------------------------------------------------------------------- true peak

_OVERSAMPLE = 4
_TP_FILTER = (signal.firwin(81, 1 / _OVERSAMPLE, window=("kaiser", 5.0)) * _OVERSAMPLE).astype(np.float32)
# phase p interpolates the point p/4 of the way from sample i to i+1; phase 0 is the sample itself
_TP_PHASES = [_TP_FILTER[p::_OVERSAMPLE][None, :] for p in range(1, _OVERSAMPLE)]
_TP_TAPS = _TP_PHASES[0].shape[1]  # 20: the points in (i, i+1) use samples i-9 .. i+10
_TP_BEFORE = _TP_TAPS // 2 - 1
_TP_AFTER = _TP_TAPS // 2
# no interpolated point can exceed the largest nearby |sample| times this (the largest sum of |taps|)
_TP_MAX_OVERSHOOT = float(max(np.abs(phase).sum() for phase in _TP_PHASES)) + 1e-3


def _intersample_peaks(z: np.ndarray) -> np.ndarray:
    """Max |interpolated value| between consecutive samples, over channels.

    z: (channels, n). Element v covers the interval (i, i+1) with i = v + 9; there are n - 19 of them.
    One forward FFT serves all three phases (a third faster than three direct convolutions).
    """
    n = z.shape[1]
    if n < _TP_TAPS:
        return np.zeros(0, dtype=np.float32)
    size = scipy.fft.next_fast_len(n, real=True)
    spectrum = scipy.fft.rfft(z, size, axis=1)
    peak = None
    for kernel in _phase_spectra(size):
        values = scipy.fft.irfft(spectrum * kernel, size, axis=1)[:, _TP_TAPS - 1 : n]
        values = np.abs(values, out=values).max(axis=0)
        peak = values if peak is None else np.maximum(peak, values, out=peak)
    return peak


@lru_cache(maxsize=8)
def _phase_spectra(size: int) -> tuple[np.ndarray, ...]:
    return tuple(scipy.fft.rfft(phase[0], size) for phase in _TP_PHASES)


def _channel_peak(z: np.ndarray) -> np.ndarray:
    return np.abs(z).max(axis=0)


class _TruePeakMeter:
    """Max of |samples| and 4x-interpolated points, fed consecutive channel-major blocks."""

    def __init__(self, channels: int):
        self.tail = np.zeros((channels, _TP_TAPS - 1), dtype=np.float32)  # the signal is silent before it starts
        self.peak = 0.0

    def feed(self, block: np.ndarray) -> None:
        if block.shape[1] == 0:
            return
        self.peak = max(self.peak, float(np.abs(block).max()))
        z = np.concatenate([self.tail, block], axis=1)
        between = _intersample_peaks(z)
        if between.size:
            self.peak = max(self.peak, float(between.max()))
        self.tail = z[:, -(_TP_TAPS - 1) :].copy()

    def finish(self) -> float:
        """Account for the intervals after the last sample (the signal rings into silence); dBTP."""
        self.feed(np.zeros((self.tail.shape[0], _TP_TAPS), dtype=np.float32))
        return _to_db(self.peak)


def _to_db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


# ----------------------------------------------------------------------------------------------- limiter

# a source returns frames [a, b) of the signal to limit, (channels, b - a) float32, zeros outside it
_Source = Callable[[int, int], np.ndarray]


class _Limiter:
    """Look-ahead true-peak limiter over a random-access source, emitting consecutive output blocks.

    Required reduction (dB) at each sample comes from the 4x-interpolated peak around it. Its running
    maximum over the look-ahead window, followed by a linear-in-dB release and a moving average over the same
    window, gives a smooth gain that reaches the required reduction exactly at each peak: every average
    that covers a peak consists of values that are each at least that peak's requirement.
    """

    def __init__(self, source: _Source, frames: int, rate: int, gain_db: float, threshold_db: float):
        self.source, self.frames = source, frames
        self.gain = 10.0 ** (gain_db / 20.0)
        self.threshold = 10.0 ** (threshold_db / 20.0)
        self.window = max(1, int(round(_LOOKAHEAD_S * rate)))
        self.release = _RELEASE_DB_PER_S / rate
        self.carry = 0.0  # reduction (dB) at the last sample of the previous block, before averaging
        self.history = np.zeros(self.window - 1)  # the last window-1 undamped reductions
        self.max_reduction = 0.0

    def blocks(self):
        for a in range(0, self.frames, _BLOCK):
            yield self._block(a, min(a + _BLOCK, self.frames))

    def _block(self, a: int, b: int) -> np.ndarray:
        w = self.window
        ctx = _TP_BEFORE + 2
        ext = self.source(a - ctx, b + w - 1 + ctx + _TP_AFTER)
        ext *= self.gain
        needed = self._required_db(ext, ctx, b - a + w - 1)  # samples a .. b+w-2
        held = _running_max(needed, w)  # look-ahead: held[i] = max(needed[i .. i+w-1])
        released = self._release(held)
        smooth = self._average(released)
        block = ext[:, ctx : ctx + b - a]
        if smooth.any():
            self.max_reduction = max(self.max_reduction, float(smooth.max()))
            block *= np.power(10.0, -smooth / 20.0).astype(np.float32)
        return block

    def _required_db(self, ext: np.ndarray, ctx: int, count: int) -> np.ndarray:
        """Reduction needed at samples ctx .. ctx+count-1 of ext so nothing near them passes the threshold."""
        if float(np.abs(ext).max(initial=0.0)) * _TP_MAX_OVERSHOOT < self.threshold:
            return np.zeros(count)  # quiet stretch: no interpolated point can reach the threshold
        sample_peak = _channel_peak(ext[:, ctx : ctx + count])
        between = _intersample_peaks(ext)  # between[v] is the interval starting at ext index v + 9
        left = between[ctx - 1 - _TP_BEFORE : ctx - 1 - _TP_BEFORE + count]
        right = between[ctx - _TP_BEFORE : ctx - _TP_BEFORE + count]
        peak = np.maximum(np.maximum(left, right), sample_peak)
        ratio = peak / self.threshold
        needed = np.zeros(count)
        over = ratio > 1.0
        if over.any():
            needed[over] = 20.0 * np.log10(ratio[over])
        return needed

    def _release(self, held: np.ndarray) -> np.ndarray:
        """r[i] = max(held[i], r[i-1] - release): the linear ramp lets one cumulative max do the recursion."""
        n = len(held)
        if self.carry <= 0.0 and not held.any():
            return held
        slope = self.release * np.arange(n)
        r = np.maximum.accumulate(held + slope) - slope
        np.maximum(r, self.carry - self.release * (1.0 + np.arange(n)), out=r)
        np.maximum(r, 0.0, out=r)
        self.carry = float(r[-1])
        return r

    def _average(self, released: np.ndarray) -> np.ndarray:
        """Trailing mean over the window, using the previous block's last values."""
        w = self.window
        joined = np.concatenate([self.history, released])
        self.history = joined[len(joined) - (w - 1) :] if w > 1 else self.history
        if not joined.any():
            return np.zeros(len(released))
        cumulative = np.concatenate([[0.0], np.cumsum(joined)])
        count = len(released)
        return (cumulative[w : w + count] - cumulative[:count]) / w


def _running_max(values: np.ndarray, window: int) -> np.ndarray:
    """out[i] = max(values[i : i + window]) for the len(values) - window + 1 full windows."""
    count = len(values) - window + 1
    if window == 1 or not values.any():
        return values[:count]
    centred = maximum_filter1d(values, window, mode="constant", cval=0.0)
    # maximum_filter1d centres its window at index i, covering i - window//2 .. i + (window-1)//2
    return centred[window // 2 : window // 2 + count]


# ----------------------------------------------------------------------------------------------- normalising


@dataclass(frozen=True)
class LoudnessStats:
    """What normalising a song measured and did (dB and LUFS, rounded to 0.001)."""

    input_lufs: float  # integrated loudness of the song as it came
    output_lufs: float  # ... and as written
    true_peak_dbtp: float  # of what was written (4x oversampled)
    gain_db: float  # applied before the limiter
    max_limiting_db: float  # the limiter's deepest gain reduction


def loudness_normalise(
    audio: Audio, target_lufs: float = -14.0, ceiling_dbtp: float = -1.0
) -> tuple[Audio, LoudnessStats]:
    """Gain to ``target_lufs`` integrated, then a look-ahead true-peak limiter so true peak <= ``ceiling_dbtp``.

    Keeps the rate and channel layout. Returns the new Audio and what was measured. Raises
    ComposerError("audio is silent") when there is nothing to measure.
    """
    samples = audio.samples
    input_lufs = _measure_loudness(samples, audio.rate)
    out = np.empty(samples.shape, dtype=np.float32)
    stats = _normalise_passes(
        lambda a, b: _padded_slice(samples, a, b),
        samples.shape[0],
        audio.rate,
        samples.shape[1],
        input_lufs,
        target_lufs,
        ceiling_dbtp,
        _into_array(out),
    )
    return Audio(out, audio.rate), stats


def _into_array(out: np.ndarray):
    """A normalising pass's writer into ``out`` (frames, channels): each pass writes from the start again."""

    @contextlib.contextmanager
    def writer():
        at = 0

        def write(block: np.ndarray) -> None:
            nonlocal at
            out[at : at + block.shape[1]] = block.T
            at += block.shape[1]

        yield write

    return writer


def prepare_output_audio(
    audio: Audio, path: Path, rate: int = 48000, *, target_lufs: float = -14.0, ceiling_dbtp: float = -1.0
) -> LoudnessStats:
    """Normalise (-14 LUFS, -1 dBTP), resample to ``rate`` stereo and write a 24-bit WAV atomically.

    The file is what ffmpeg encodes to AAC. Returns the loudness_normalise stats. Nothing of the output is
    held in memory: each block is resampled, limited and written in turn. Loudness is measured on the
    stereo signal, so a mono song counts both speakers, as it will be heard.
    """
    path = Path(path)
    stereo = _as_stereo(audio.samples)
    input_lufs = _measure_loudness(stereo, audio.rate)
    resampler = _Resampler(stereo, audio.rate, int(rate))
    fmt = _wav_format(resampler.frames, 2, "PCM_24")
    with atomic_path(path) as tmp:

        @contextlib.contextmanager
        def into_file():
            # "w" truncates, so a pass that has to be redone simply rewrites the file
            with sf.SoundFile(tmp, "w", samplerate=int(rate), channels=2, subtype="PCM_24", format=fmt) as handle:
                yield lambda block: handle.write(block.T)

        return _normalise_passes(
            resampler.range, resampler.frames, int(rate), 2, input_lufs, target_lufs, ceiling_dbtp, into_file
        )


def normalised_stereo(
    audio: Audio, rate: int = 48000, *, target_lufs: float = -14.0, ceiling_dbtp: float = -1.0
) -> tuple[np.ndarray, LoudnessStats]:
    """``prepare_output_audio`` in memory: float32 (frames, 2) at ``rate``, normalised the same way (a live
    stream hands its audio to ffmpeg as it goes, no file between)."""
    stereo = _as_stereo(audio.samples)
    input_lufs = _measure_loudness(stereo, audio.rate)
    resampler = _Resampler(stereo, audio.rate, int(rate))
    out = np.zeros((resampler.frames, 2), dtype=np.float32)
    stats = _normalise_passes(
        resampler.range, resampler.frames, int(rate), 2, input_lufs, target_lufs, ceiling_dbtp, _into_array(out)
    )
    return out, stats


def _padded_slice(samples: np.ndarray, a: int, b: int) -> np.ndarray:
    """samples[a:b] as float32 (channels, b - a), zeros outside the signal."""
    out = np.zeros((samples.shape[1], b - a), dtype=np.float32)
    lo, hi = max(a, 0), min(b, samples.shape[0])
    if lo < hi:
        out[:, lo - a : hi - a] = samples[lo:hi].T
    return out


def _normalise_passes(
    source: _Source,
    frames: int,
    rate: int,
    channels: int,
    input_lufs: float,
    target_lufs: float,
    ceiling_dbtp: float,
    open_sink,
) -> LoudnessStats:
    """Run the gain + limiter pass, measuring what it wrote; repeat (rewriting) when it misses.

    A pass misses when its true peak is over the ceiling (aim lower next time) or when heavy limiting left the
    loudness more than 0.5 LU under target (add make-up gain, at most 6 dB in all).
    """
    if not math.isfinite(input_lufs):
        raise ComposerError("audio is silent")
    base_gain = target_lufs - input_lufs
    gain, margin = base_gain, _TP_MARGIN_DB
    stats = None
    for attempt in range(1, _MAX_PASSES + 1):
        limiter = _Limiter(source, frames, rate, gain, ceiling_dbtp - margin)
        loudness = _LoudnessMeter(rate, channels, frames)
        peak = _TruePeakMeter(channels)
        with open_sink() as write:
            for block in limiter.blocks():
                loudness.feed(block)
                peak.feed(block)
                write(block)
        stats = LoudnessStats(
            input_lufs=round(input_lufs, 3),
            output_lufs=round(loudness.integrated(), 3),
            true_peak_dbtp=round(peak.finish(), 3),
            gain_db=round(gain, 3),
            max_limiting_db=round(limiter.max_reduction, 3),
        )
        over = stats.true_peak_dbtp - ceiling_dbtp
        short = target_lufs - stats.output_lufs
        if attempt == _MAX_PASSES:
            break
        if over > 0:
            log.debug("limiter pass %d: true peak %.2f dB over the ceiling; aiming lower", attempt, over)
            margin += over + 0.05 * attempt
        elif short > _LOUDNESS_TOLERANCE_LU and gain < base_gain + _MAX_MAKEUP_DB:
            log.debug("limiter pass %d: %.2f LU under target after limiting; adding gain", attempt, short)
            gain = min(gain + short, base_gain + _MAX_MAKEUP_DB)
        else:
            break
    if stats.true_peak_dbtp > ceiling_dbtp:
        log.warning("true peak %.2f dBTP is above the %.1f dBTP ceiling", stats.true_peak_dbtp, ceiling_dbtp)
    if abs(stats.output_lufs - target_lufs) > 1.0:
        log.warning("loudness %.1f LUFS misses the %.1f LUFS target", stats.output_lufs, target_lufs)
    return stats
