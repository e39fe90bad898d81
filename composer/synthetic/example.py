"""The README's first video: a song, lyrics and images that composer makes itself, rendered as karaoke.

The song comes from the same synthesizer that makes the aligner's test songs, so the example also shows
the aligner at work on audio whose vocal times are known.
"""

from __future__ import annotations

from pathlib import Path

from composer.errors import ComposerError
from composer.util.files import (
    OUTPUT_RECORD,
    check_writable_dir,
    record_written,
    refuse_unless_made_here,
    write_text_atomic,
)


def make_example(out: Path, *, seconds: float = 40.0, template: str = "gore", seed: int = 0, progress=None):
    from composer.karaoke.engine import karaoke
    from composer.karaoke.render.imagegen import make_images
    from composer.media.audio import write_wav
    from composer.synthetic.song import make_song

    out = Path(out)
    if not 10 <= seconds <= 3600:
        raise ComposerError(f"--length {seconds:g}s: the example song must be 10 s to 1 h long")
    out.parent.mkdir(parents=True, exist_ok=True)
    check_writable_dir(out)
    song = make_song(seed=seed, kind="clear", duration=seconds)
    audio_path = out.with_name(f"{out.stem}-song.wav")
    lyrics_path = out.with_name(f"{out.stem}-lyrics.txt")
    images_dir = out.with_name(f"{out.stem}-images")
    # the example's song, lyrics and images lie beside the video: never in place of files of the user's
    hint = "write the example (-o) to another name or folder"
    images = sorted(p for p in images_dir.iterdir() if p.name != OUTPUT_RECORD) if images_dir.is_dir() else []
    refuse_unless_made_here([audio_path, lyrics_path, *images], hint)
    write_wav(audio_path, song.audio)
    write_text_atomic(lyrics_path, song.lyrics.to_text())
    images_dir.mkdir(exist_ok=True)
    record_written([audio_path, lyrics_path, *make_images(images_dir, n=4, seed=seed)])
    kwargs = {"progress": progress} if progress else {}
    return karaoke(
        audio_path, lyrics_path, images_dir, out, template=template, seed=seed, title="composer example", **kwargs
    )
