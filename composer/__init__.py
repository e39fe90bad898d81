"""composer: AI death-metal karaoke videos, end to end.

The public API; every stage is a plain function from plain data to plain data (see DESIGN.md).
"""

from composer.errors import ComposerError
from composer.types import Audio, LyricLine, Lyrics, Syllable, Timeline, Word

__version__ = "0.1.0"


def __getattr__(name: str):
    # heavy modules load on first use so `composer --help` stays instant
    lazy = {
        "karaoke": ("composer.pipeline", "karaoke"),
        "align_file": ("composer.pipeline", "align_file"),
        "align": ("composer.align", "align"),
        "load_template": ("composer.template", "load_template"),
        "read_audio": ("composer.audio.io", "read_audio"),
        "read_lyrics": ("composer.lyricsfile", "read_lyrics"),
        "FrameRenderer": ("composer.render.frames", "FrameRenderer"),
    }
    if name in lazy:
        import importlib

        module, attr = lazy[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(name)


__all__ = ["Audio", "ComposerError", "LyricLine", "Lyrics", "Syllable", "Timeline", "Word", "karaoke", "align",
           "align_file", "load_template", "read_audio", "read_lyrics", "FrameRenderer"]
