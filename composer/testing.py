"""Small bands and templates for tests and benchmarks: real models and real renders, only smaller.

Kept apart from the library so that nothing in ``composer`` depends on test fixtures (the band profile and the
demo material used to import each other through them).
"""

from __future__ import annotations

from pathlib import Path

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

    from composer.band.profile import SHIPPED_DIR, load_band
    from composer.karaoke.render.imagegen import make_images
    from composer.models.lyricgpt.train import train_lyrics
    from composer.models.samplernn.train import train_audio
    from composer.synthetic.song import make_song

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
