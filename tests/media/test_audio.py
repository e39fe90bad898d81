"""composer.media.audio: reading every format, errors that name the file, resampling, loudness and true peak."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy import signal

from composer.errors import ComposerError
from composer.media import audio as io
from composer.types import Audio

RATE = 44100


def _noise(seconds: float, channels: int = 2, rate: int = RATE, level: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal((int(seconds * rate), channels))).astype(np.float32)


def _true_peak_db(samples: np.ndarray) -> float:
    """Independent estimate: scipy's own 4x polyphase oversampling over the whole signal."""
    over = signal.resample_poly(samples.astype(np.float64), 4, 1, axis=0)
    return 20 * np.log10(np.abs(over).max())


def _lufs(samples: np.ndarray, rate: int) -> float:
    return pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64))


# ----------------------------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("suffix", "subtype", "tolerance"),
    [(".wav", "PCM_16", 1e-4), (".flac", "PCM_24", 1e-6), (".ogg", "VORBIS", None), (".mp3", "MPEG_LAYER_III", None)],
)
@pytest.mark.parametrize("channels", [1, 2])
def test_each_format_reads_back(tmp_path, suffix, subtype, tolerance, channels):
    rate = 22050 if suffix == ".mp3" else 32000  # odd rates: nothing may assume 44.1 or 48 kHz
    t = np.arange(int(1.5 * rate)) / rate
    data = np.stack([0.4 * np.sin(2 * np.pi * 440 * t * (c + 1)) for c in range(channels)], axis=1)
    path = tmp_path / f"song{suffix}"
    sf.write(path, data.astype(np.float32), rate, subtype=subtype)  # mp3 writing works in libsndfile 1.2

    audio = io.read_audio(path)

    assert audio.rate == rate
    assert audio.channels == channels
    assert audio.samples.dtype == np.float32
    assert audio.duration == pytest.approx(1.5, abs=0.03)
    if tolerance is not None:
        np.testing.assert_allclose(audio.samples, data, atol=tolerance)
    else:  # lossy: the tone is still there at about the same level
        rms = np.sqrt(np.mean(audio.samples[2000:-2000] ** 2, axis=0))
        np.testing.assert_allclose(rms, 0.4 / np.sqrt(2), rtol=0.1)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_sample_formats(tmp_path, subtype):
    data = np.linspace(-0.9, 0.9, 4000, dtype=np.float32).reshape(-1, 2)
    path = tmp_path / "x.wav"
    sf.write(path, data, 8000, subtype=subtype)
    audio = io.read_audio(path)
    np.testing.assert_allclose(audio.samples, data, atol=1 / 120 if subtype == "PCM_U8" else 1e-4)
    assert audio.samples.dtype == np.float32


def test_surround_is_downmixed_to_stereo(tmp_path):
    # 5.1 in WAV order: L R C LFE Ls Rs, each channel a distinct constant
    data = np.tile(np.array([0.1, 0.2, 0.3, 0.4, 0.05, 0.06], dtype=np.float32), (1000, 1))
    path = tmp_path / "surround.wav"
    sf.write(path, data, 48000, subtype="FLOAT")
    audio = io.read_audio(path)
    assert audio.channels == 2
    left = 0.1 + 0.7071 * 0.3 + 0.7071 * 0.05  # LFE dropped
    right = 0.2 + 0.7071 * 0.3 + 0.7071 * 0.06
    np.testing.assert_allclose(audio.samples[0], [left, right], rtol=1e-4)


def _assert_error_names(path: Path, fragment: str) -> None:
    with pytest.raises(ComposerError) as info:
        io.read_audio(path)
    message = str(info.value)
    assert str(path) in message and fragment in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    _assert_error_names(tmp_path / "nope.flac", "not found")


def test_directory(tmp_path):
    _assert_error_names(tmp_path, "directory")


def test_zero_length_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _assert_error_names(path, "empty")


def test_text_named_wav(tmp_path):
    path = tmp_path / "song.wav"
    path.write_text("these are lyrics, not audio\n" * 20)
    _assert_error_names(path, "not a readable audio file (wav, flac, ogg or mp3)")


def test_random_bytes_named_flac(tmp_path):
    path = tmp_path / "song.flac"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _assert_error_names(path, "not a readable audio file")


def test_corrupt_flac_data(tmp_path):
    path = tmp_path / "song.flac"
    sf.write(path, _noise(2.0), RATE)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4000] = np.random.default_rng(2).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    _assert_error_names(path, "corrupt")


def test_wav_without_samples(tmp_path):
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), RATE)
    _assert_error_names(path, "no audio samples")


def test_nan_samples(tmp_path):
    data = _noise(0.1)
    data[100, 0] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, data, RATE, subtype="FLOAT")
    _assert_error_names(path, "NaN")


# ----------------------------------------------------------------------------------------------- tools


def test_is_silent():
    assert io.is_silent(Audio(np.zeros((1000, 2), np.float32), RATE))
    assert io.is_silent(Audio(np.full((1000, 1), 1e-4, np.float32), RATE))  # -80 dBFS hiss
    assert not io.is_silent(Audio(_noise(0.1, level=0.01), RATE))
    assert not io.is_silent(Audio(np.full((10, 1), 1e-4, np.float32), RATE), threshold_dbfs=-90)


@pytest.mark.parametrize("target", [48000, 16000, 22050, 96000])
def test_resample_matches_whole_signal_resample_poly(target):
    x = _noise(3.3, seed=3)  # longer than one processing block, so block seams are exercised
    out = io.resample(Audio(x, RATE), target)
    ratio = Fraction(target, RATE)
    expected = signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=0)
    assert out.rate == target and out.samples.dtype == np.float32
    assert out.samples.shape == expected.shape
    np.testing.assert_allclose(out.samples, expected, atol=2e-6)


def test_resample_same_rate_is_identity():
    audio = Audio(_noise(0.1), RATE)
    assert io.resample(audio, RATE) is audio


def test_integrated_loudness_matches_pyloudnorm():
    x = _noise(6.0, seed=4)
    x[: RATE * 2] *= 0.01  # a quiet intro the gates must drop
    assert io.integrated_loudness(Audio(x, RATE)) == pytest.approx(_lufs(x, RATE), abs=1e-6)


# ----------------------------------------------------------------------------------------------- loudness


def _dense_metal(seconds: float, rate: int = RATE) -> np.ndarray:
    """Distorted power chords, kick and snare: dense, with drum transients over the wall of guitars."""
    rng = np.random.default_rng(5)
    t = np.arange(int(seconds * rate)) / rate
    guitar = np.tanh(8 * signal.sawtooth(2 * np.pi * 82.4 * t)) + np.tanh(8 * signal.sawtooth(2 * np.pi * 123.5 * t))
    hits = np.zeros_like(t)
    hits[:: rate // 8] = 1.0
    kick = signal.lfilter([1], [1, -0.995], hits) * np.sin(2 * np.pi * 60 * t)
    snare = np.zeros_like(t)
    snare[rate // 4 :: rate // 2] = 1.0
    snare = signal.lfilter([1], [1, -0.99], snare) * rng.standard_normal(len(t))
    mono = 0.3 * guitar + 0.9 * kick + 0.6 * snare
    return np.stack([mono, 0.9 * mono], axis=1).astype(np.float32)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _noise(8.0, level=0.003), id="quiet"),
        pytest.param(lambda: np.clip(_noise(8.0, level=3.0), -1, 1), id="loud-clipped"),
        pytest.param(lambda: 0.6 * _dense_metal(8.0), id="dense-metal"),
        pytest.param(lambda: np.clip(4 * _dense_metal(8.0), -1, 1), id="clipped-metal"),
    ],
)
def test_loudness_normalise_hits_target_under_ceiling(make):
    x = make()
    out, stats = io.loudness_normalise(Audio(x, RATE))
    assert out.samples.shape == x.shape and out.samples.dtype == np.float32 and out.rate == RATE
    assert _lufs(out.samples, RATE) == pytest.approx(-14.0, abs=1.0)
    assert _true_peak_db(out.samples) <= -1.0
    assert stats.input_lufs == pytest.approx(_lufs(x, RATE), abs=0.01)
    assert stats.output_lufs == pytest.approx(_lufs(out.samples, RATE), abs=0.01)
    assert stats.true_peak_dbtp <= -1.0


def test_limiter_holds_peaks_without_losing_loudness():
    # a quiet bed with one loud spike: gain alone would put the spike far over the ceiling
    x = _noise(6.0, level=0.002, seed=6)
    x[RATE * 3, :] = 0.8
    out, stats = io.loudness_normalise(Audio(x, RATE))
    assert stats.max_limiting_db > 20
    assert _true_peak_db(out.samples) <= -1.0
    assert _lufs(out.samples, RATE) == pytest.approx(-14.0, abs=0.3)
    # the reduction is local: a second away from the spike the bed is untouched by the limiter
    ratio = out.samples[RATE : 2 * RATE] / x[RATE : 2 * RATE]
    np.testing.assert_allclose(ratio, np.median(ratio), rtol=1e-5)
    assert np.median(ratio) == pytest.approx(10 ** (stats.gain_db / 20), rel=1e-3)


def test_loudness_normalise_keeps_mono_mono():
    out, _ = io.loudness_normalise(Audio(_noise(3.0, channels=1, level=0.02), RATE))
    assert out.channels == 1


def test_silence_raises():
    with pytest.raises(ComposerError, match="audio is silent"):
        io.loudness_normalise(Audio(np.zeros((RATE, 2), np.float32), RATE))


def test_prepare_output_audio_writes_48k_stereo_24bit(tmp_path):
    mono = 0.5 * _dense_metal(5.0)[:, :1]
    path = tmp_path / "mix.wav"
    stats = io.prepare_output_audio(Audio(mono, RATE), path)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (48000, 2, "PCM_24", "WAV")
    assert info.frames == int(np.ceil(len(mono) * 48000 / RATE))
    written, _ = sf.read(path, dtype="float32")
    assert _lufs(written, 48000) == pytest.approx(-14.0, abs=1.0)
    assert _lufs(written, 48000) == pytest.approx(stats.output_lufs, abs=0.05)
    assert _true_peak_db(written) <= -1.0
    # a mono song plays on both speakers, so it is measured (and heard) 3 dB louder than one channel
    assert stats.input_lufs == pytest.approx(_lufs(mono, RATE) + 3.01, abs=0.02)
    assert not [p for p in tmp_path.iterdir() if p.name != "mix.wav"]


def test_write_wav_round_trip(tmp_path):
    x = _noise(0.5)
    io.write_wav(tmp_path / "a.wav", Audio(x, RATE), subtype="FLOAT")
    np.testing.assert_array_equal(sf.read(tmp_path / "a.wav", dtype="float32")[0], x)
    io.write_wav(tmp_path / "b.wav", Audio(np.full((10, 1), 1.5, np.float32), RATE))
    assert sf.read(tmp_path / "b.wav")[0].max() <= 1.0  # clipped, never wrapped round


def test_interrupted_write_leaves_existing_file_alone(tmp_path, monkeypatch):
    target = tmp_path / "mix.wav"
    target.write_bytes(b"previous render")

    def explode(self, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(sf.SoundFile, "write", explode)
    with pytest.raises(KeyboardInterrupt):
        io.write_wav(target, Audio(_noise(0.2), RATE))
    with pytest.raises(KeyboardInterrupt):
        io.prepare_output_audio(Audio(_noise(0.2), RATE), target)
    assert target.read_bytes() == b"previous render"
    assert [p.name for p in tmp_path.iterdir()] == ["mix.wav"]
    fresh = tmp_path / "new.wav"
    with pytest.raises(KeyboardInterrupt):
        io.write_wav(fresh, Audio(_noise(0.2), RATE))
    assert not fresh.exists()
