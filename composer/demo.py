"""The demo band's material, made by composer itself: deterministic synthesized songs and meat images.

Nothing here is downloaded or shipped as media: the band's training audio and images are regenerated
byte-identically from fixed seeds when absent, so a fresh clone can retrain the shipped weights
(`composer train --band demo`) or render with them without any data of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO_SONGS = 16
DEMO_SONG_SECONDS = 48.0
DEMO_IMAGES = 8
_SEED = 6660  # the first song's seed; song i uses _SEED + i


def demo_song(i: int, rate: int = 16000):
    """Song ``i`` of the demo band's album (alternately clear and dense vocals), with its vocal times."""
    from composer.audio.synth import make_song

    return make_song(seed=_SEED + i, kind="clear" if i % 2 == 0 else "dense", duration=DEMO_SONG_SECONDS, rate=rate)


def write_demo_audio(folder: Path, rate: int = 16000, progress=None) -> list[Path]:
    """Write the album as 16-bit FLAC files into ``folder`` (skipping files already there); return their paths."""
    import soundfile as sf

    from composer.fsutil import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(DEMO_SONGS):
        path = folder / f"track_{i + 1:02d}.flac"
        if not path.exists():
            song = demo_song(i, rate)
            with atomic_path(path) as tmp:
                sf.write(tmp, np.asarray(song.audio.samples), rate, subtype="PCM_16", format="FLAC")
        paths.append(path)
        if progress:
            progress("synth", i + 1, DEMO_SONGS)
    return paths


def write_demo_images(folder: Path) -> list[Path]:
    from composer.render.imagegen import make_images

    folder = Path(folder)
    existing = sorted(folder.glob("meat_*.jpg")) if folder.is_dir() else []
    if len(existing) >= DEMO_IMAGES:
        return existing[:DEMO_IMAGES]
    return make_images(folder, n=DEMO_IMAGES, seed=_SEED)


# A small template: the same looks and code paths, a frame size that keeps tests and benchmarks fast on 2 cores.
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


def make_debug_band(root: Path, name: str = "debugband") -> Path:
    """A band in ``root/name`` with three short synthesized recordings, 40 demo lyric files, two images, the
    small template and debug-size models trained for a few seconds; returns its folder. For tests and
    benchmarks: it renders like a real band, only smaller."""
    import json

    import soundfile as sf

    from composer.audio.synth import make_song
    from composer.audio.train import train_audio
    from composer.bands import SHIPPED_DIR, load_band
    from composer.lyrics.train import train_lyrics
    from composer.render.imagegen import make_images

    folder = Path(root) / name
    (folder / "rec").mkdir(parents=True)
    for i in range(3):
        song = make_song(seed=40 + i, duration=12.0, rate=16000)
        sf.write(folder / "rec" / f"{i}.flac", song.audio.samples, 16000)
    make_images(folder / "img", n=2, seed=1, size=(640, 360))
    (folder / "small.toml").write_text(SMALL_TEMPLATE, encoding="utf-8")
    lyric_files = sorted((SHIPPED_DIR.parent / "assets" / "lyrics" / "demo").glob("*.txt"))[:40]
    (folder / "band.toml").write_text(
        f'name = "{name}"\naudio = "rec"\nimages = "img"\ntemplate = "small.toml"\n'
        f"lyrics = [{', '.join(json.dumps(str(p)) for p in lyric_files)}]\n"
        '[models]\naudio_preset = "debug"\nlyrics_preset = "debug"\n',
        encoding="utf-8",
    )
    band = load_band(folder)
    train_audio(band.audio_dir, band.audio_model_dir, preset="debug", steps=60)
    train_lyrics(band.lyric_files(), band.lyrics_model_dir, preset="debug", steps=40)
    return folder
