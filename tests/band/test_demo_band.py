"""The shipped demo band: its weights load, match their configs and generate; `composer render --band demo`
makes a finished video from them. These fail when the weights are missing: they ship in models/demo/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from composer.band.profile import find_band
from composer.cli import app
from tests.mp4probe import decode_audio, probe


def test_demo_weights_load_match_their_config_and_generate():
    from transformers import GPT2LMHeadModel

    from composer.models.lyricgpt.generate import generate_song
    from composer.models.samplernn.generate import iter_segments
    from composer.models.samplernn.model import load

    band = find_band("demo")
    audio_dir, lyrics_dir = band.weights("audio"), band.weights("lyrics")  # or: run `composer train --band demo`
    model = load(audio_dir)  # refuses weights whose shapes differ from config.json
    assert model.config.sample_rate == 16000
    audio = np.concatenate(list(iter_segments(model, 1.0, seed=3, streams=2)))
    assert len(audio) == 16000 and float(np.sqrt(np.mean(audio**2))) > 0.01

    lm = GPT2LMHeadModel.from_pretrained(lyrics_dir)  # the ecosystem's own loader opens it
    assert lm.config.n_layer >= 2
    song = generate_song(lyrics_dir, 8, seed=1)
    assert len(song.lines) == 8 and song.title
    assert all(12 <= len(text) <= 80 for text, _ in song.lines)


def test_render_demo_band(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "v.mp4"
    r = CliRunner().invoke(app, ["render", "--band", "demo", "--length", "10s", "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    p = probe(out)
    assert p.video_codec == "h264" and p.audio_codec == "aac" and abs(p.duration - 10.0) < 0.15
    samples, rate = decode_audio(out)
    assert float(np.sqrt(np.mean(samples**2))) > 0.01
    timeline = json.loads(out.with_suffix(".json").read_text())
    assert timeline["lines"] and all(0 <= ln["start"] < ln["end"] <= 10.0 for ln in timeline["lines"])
    kit = json.loads(out.with_suffix(".upload.json").read_text())
    assert kit["title"].startswith("DEMO - ") and kit["chapters"][0]["clock"] == "0:00"
    assert Path(out.with_suffix(".png")).stat().st_size > 10_000
