"""`composer train --band` as a library call: a band's models trained from its band.toml, one or both."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from composer.band.profile import SHIPPED_DIR, load_band
from composer.band.train import train_band
from composer.errors import ComposerError


@pytest.fixture()
def band(tmp_path):
    folder = tmp_path / "grind"
    (folder / "rec").mkdir(parents=True)
    rng = np.random.default_rng(0)
    sf.write(folder / "rec" / "a.wav", (0.3 * rng.standard_normal(16000 * 3)).astype(np.float32), 16000)
    lyrics = sorted((SHIPPED_DIR.parent / "assets" / "lyrics" / "demo").glob("*.txt"))[:10]
    (folder / "band.toml").write_text(
        f'name = "grind"\naudio = "rec"\nimages = "img"\nlyrics = [{", ".join(json.dumps(str(p)) for p in lyrics)}]\n'
        '[models]\naudio_preset = "debug"\nlyrics_preset = "debug"\naudio_steps = 2\nlyrics_steps = 2\n',
        encoding="utf-8",
    )
    return load_band(folder)


def test_train_band_trains_both_models_to_band_toml_steps(band):
    with pytest.raises(ComposerError, match="no trained audio model yet: run `composer train --band grind`"):
        band.weights("audio")
    done = []
    result = train_band(band, finished=lambda which, r: done.append((which, r.step)))
    assert done == [("audio", 2), ("lyrics", 2)]
    assert result.audio.step == 2 and result.lyrics.step == 2
    assert band.weights("audio").parent in (band.audio_model_dir, band.folder)
    assert band.weights("lyrics") == band.lyrics_model_dir
    # resumed past band.toml's count with a step count of its own; the lyric model is left alone
    before = (band.lyrics_model_dir / "model.safetensors").read_bytes()
    again = train_band(band, only="audio", audio_steps=3, resume=True)
    assert again.audio.step == 3 and again.lyrics is None
    assert (band.lyrics_model_dir / "model.safetensors").read_bytes() == before


def test_train_band_only_lyrics_and_a_bad_only(band):
    reports = []
    result = train_band(band, only="lyrics", report=lambda which, r: reports.append((which, r.train_bits_per_char)))
    assert result.audio is None and result.lyrics.step == 2
    assert not band.trained("audio") and band.trained("lyrics")
    assert reports and all(which == "lyrics" and 0 < bits < 20 for which, bits in reports)
    with pytest.raises(ComposerError, match="--only 'opera': allowed values are audio, lyrics"):
        train_band(band, only="opera")
