"""Inputs a user would bring, made once per test session: a short song, its lyrics, a folder of images."""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]

# A small template: same looks and code paths, a frame size that keeps the suite fast on 2 cores.
SMALL_TEMPLATE = """
name = "test-small"
[video]
width = 640
height = 360
fps = 24
[text]
font = "anton"
size = 110
color = "#ffffff"
highlight_color = "#ff0000"
stroke_width = 0
effect = "none"
lines = 1
uppercase = true
highlight = "smooth"
[background]
crossfade = 0.0
ken_burns = 0.0
tint = "#000000"
tint_strength = 0.0
grain = 0.0
brightness = 0.25
saturation = 0.0
[title]
enabled = false
"""


@dataclass(frozen=True)
class SongInputs:
    audio: Path
    lyrics: Path
    images: Path
    template: Path
    line_times: tuple[tuple[float, float], ...]
    duration: float


@pytest.fixture(scope="session")
def song_inputs(tmp_path_factory) -> SongInputs:
    from composer.audio.io import write_wav
    from composer.audio.synth import make_song
    from composer.render.imagegen import make_images

    root = tmp_path_factory.mktemp("song")
    song = make_song(seed=3, kind="clear", duration=14.0)
    write_wav(root / "song.wav", song.audio)
    (root / "lyrics.txt").write_text(song.lyrics.to_text(), encoding="utf-8")
    (root / "images").mkdir()
    make_images(root / "images", n=2, seed=1, size=(800, 500))
    (root / "small.toml").write_text(SMALL_TEMPLATE, encoding="utf-8")
    return SongInputs(root / "song.wav", root / "lyrics.txt", root / "images", root / "small.toml",
                      song.line_times, song.audio.duration)  # fmt: skip


@pytest.fixture(scope="session")
def debug_band(tmp_path_factory):
    """A band with two short synthesized recordings, 40 lyric files and debug-size models trained briefly."""
    import soundfile as sf

    from composer.audio.synth import make_song
    from composer.audio.train import train_audio
    from composer.lyrics.train import train_lyrics
    from composer.render.imagegen import make_images

    root = tmp_path_factory.mktemp("bands")
    folder = root / "debugband"
    (folder / "rec").mkdir(parents=True)
    for i in range(3):
        song = make_song(seed=40 + i, duration=12.0, rate=16000)
        sf.write(folder / "rec" / f"{i}.flac", song.audio.samples, 16000)
    make_images(folder / "img", n=2, seed=1, size=(640, 360))
    (folder / "small.toml").write_text(SMALL_TEMPLATE, encoding="utf-8")
    lyric_files = sorted((_REPO / "assets" / "lyrics" / "demo").glob("*.txt"))[:40]
    (folder / "band.toml").write_text(
        'name = "debugband"\naudio = "rec"\nimages = "img"\ntemplate = "small.toml"\n'
        f"lyrics = [{', '.join(json.dumps(str(p)) for p in lyric_files)}]\n"
        '[models]\naudio_preset = "debug"\nlyrics_preset = "debug"\n',
        encoding="utf-8",
    )
    from composer.bands import load_band

    band = load_band(folder)
    train_audio(band.audio_dir, band.audio_model_dir, preset="debug", steps=60)
    train_lyrics(band.lyric_files(), band.lyrics_model_dir, preset="debug", steps=40)
    return band
