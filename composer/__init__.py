"""composer: AI death-metal karaoke videos, end to end.

The public API; every stage is a plain function from plain data to plain data (see ARCHITECTURE.md).
``composer.karaoke`` is the karaoke engine's package; its one-call entry point is ``composer.render_karaoke``.
"""

from composer.errors import ComposerError
from composer.types import Audio, LyricLine, Lyrics, Syllable, Timeline, Word

__version__ = "0.1.0"


def __getattr__(name: str):
    # heavy modules load on first use so `composer --help` stays instant
    lazy = {
        "render_karaoke": ("composer.karaoke.engine", "karaoke"),
        "align_file": ("composer.karaoke.engine", "align_file"),
        "align": ("composer.karaoke.align", "align"),
        "load_template": ("composer.karaoke.template", "load_template"),
        "read_audio": ("composer.media.audio", "read_audio"),
        "read_lyrics": ("composer.media.lyricsfile", "read_lyrics"),
        "FrameRenderer": ("composer.karaoke.render.frames", "FrameRenderer"),
        "KaraokeClip": ("composer.karaoke.clip", "KaraokeClip"),
        "SongCard": ("composer.karaoke.render.cards", "SongCard"),
    }
    if name in lazy:
        import importlib

        module, attr = lazy[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(name)


__all__ = [
    "Audio",
    "ComposerError",
    "LyricLine",
    "Lyrics",
    "Syllable",
    "Timeline",
    "Word",
    "render_karaoke",
    "align",
    "align_file",
    "load_template",
    "read_audio",
    "read_lyrics",
    "FrameRenderer",
    "KaraokeClip",
    "SongCard",
]
