"""Inputs a user would bring, made once per test session: a short song, its lyrics, a folder of images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from composer.testing import SMALL_TEMPLATE  # noqa: F401  (the tests import it from here)


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
    from composer.karaoke.render.imagegen import make_images
    from composer.media.audio import write_wav
    from composer.synthetic.song import make_song

    root = tmp_path_factory.mktemp("song")
    song = make_song(seed=3, kind="clear", duration=14.0)
    write_wav(root / "song.wav", song.audio)
    (root / "lyrics.txt").write_text(song.lyrics.to_text(), encoding="utf-8")
    (root / "images").mkdir()
    make_images(root / "images", n=2, seed=1, size=(800, 500))
    (root / "small.toml").write_text(SMALL_TEMPLATE, encoding="utf-8")
    return SongInputs(
        root / "song.wav",
        root / "lyrics.txt",
        root / "images",
        root / "small.toml",
        song.line_times,
        song.audio.duration,
    )


@pytest.fixture(scope="session")
def debug_band(tmp_path_factory):
    """A band with debug-size models trained briefly (composer.testing.make_debug_band)."""
    from composer.band.profile import load_band
    from composer.testing import make_debug_band

    return load_band(make_debug_band(tmp_path_factory.mktemp("bands")))
