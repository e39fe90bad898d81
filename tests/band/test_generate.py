"""`composer generate audio --band`: the band's model, its stretches hearing the band's own recordings."""

import soundfile as sf
from typer.testing import CliRunner

from composer.band.generate import generate_band_audio
from composer.cli import app


def test_band_track_from_the_cli_is_the_library_call(debug_band, tmp_path):
    out = tmp_path / "track.wav"
    res = CliRunner().invoke(
        app,
        [
            "generate",
            "audio",
            "--band",
            "debugband",
            "--bands-dir",
            str(debug_band.folder.parent),
            "--length",
            "1s",
            "--seed",
            "5",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    samples, rate = sf.read(out)
    assert rate == debug_band.sample_rate and len(samples) == rate and samples.std() > 0.001

    again = tmp_path / "again.wav"
    generate_band_audio(debug_band, 1.0, again, seed=5, streams=64)
    assert again.read_bytes() == out.read_bytes()  # same seed, same track, whichever way it is asked for
