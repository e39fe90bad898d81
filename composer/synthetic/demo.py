"""The demo band's material, made by composer itself: deterministic synthesized songs and meat images.

Nothing here is downloaded or shipped as media: the band's training audio and images are regenerated
byte-identically from fixed seeds when absent, so a fresh clone can retrain the shipped weights
(`composer train --band demo`) or render with them without any data of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEMO_SONGS = 16
DEMO_SONG_SECONDS = 48.0
DEMO_IMAGES = 8
_SEED = 6660  # the first song's seed; song i uses _SEED + i


def demo_song(i: int, rate: int = 16000):
    """Song ``i`` of the demo band's album (alternately clear and dense vocals), with its vocal times."""
    from composer.synthetic.song import make_song

    return make_song(seed=_SEED + i, kind="clear" if i % 2 == 0 else "dense", duration=DEMO_SONG_SECONDS, rate=rate)


def demo_instrumental(i: int, rate: int = 16000):
    """Song ``i`` of the demo band's album without its voice (an Audio): the same drums, guitars and bass."""
    from composer.synthetic.song import make_instrumental

    return make_instrumental(
        seed=_SEED + i, kind="clear" if i % 2 == 0 else "dense", duration=DEMO_SONG_SECONDS, rate=rate
    )


def write_demo_audio(folder: Path, rate: int = 16000, progress=None, songs: Sequence[int] | None = None) -> list[Path]:
    """Write the album (or its ``songs``, by index) as 16-bit FLAC files into ``folder``, skipping files already
    there; return their paths."""
    import soundfile as sf

    from composer.util.files import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    songs = range(DEMO_SONGS) if songs is None else songs
    for done, i in enumerate(songs, 1):
        path = folder / f"track_{i + 1:02d}.flac"
        if not path.exists():
            song = demo_song(i, rate)
            with atomic_path(path) as tmp:
                sf.write(tmp, np.asarray(song.audio.samples), rate, subtype="PCM_16", format="FLAC")
        paths.append(path)
        if progress:
            progress("synth", done, len(songs))
    return paths


def write_demo_images(folder: Path) -> list[Path]:
    from composer.karaoke.render.imagegen import make_images

    folder = Path(folder)
    existing = sorted(folder.glob("meat_*.jpg")) if folder.is_dir() else []
    if len(existing) >= DEMO_IMAGES:
        return existing[:DEMO_IMAGES]
    return make_images(folder, n=DEMO_IMAGES, seed=_SEED)
