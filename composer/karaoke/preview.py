"""`composer preview`: one frame of a template over sample lyrics and an image, fast enough to tweak by eye."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from composer.karaoke.engine import save_png
from composer.types import Lyrics, Timeline

LINE_SECONDS = 3.2
GAP_SECONDS = 0.6
FIRST_LINE_AT = 3.0


def sample_lyrics() -> Lyrics:
    from composer.media.lyricsfile import read_lyrics

    with resources.as_file(resources.files("composer.data").joinpath("sample_lyrics.txt")) as path:
        return read_lyrics(path, duration=float("inf"))


def even_timeline(lyrics: Lyrics, title: str = "") -> Timeline:
    """Lines at a steady pace with a pause between stanzas: no audio needed to judge a look."""
    from composer.media.timing import make_line

    lines, t, prev_stanza = [], FIRST_LINE_AT, 0
    for text, stanza in lyrics.lines:
        if stanza != prev_stanza:
            t += 2 * GAP_SECONDS
        lines.append(make_line(text, t, t + LINE_SECONDS, stanza))
        t += LINE_SECONDS + GAP_SECONDS
        prev_stanza = stanza
    return Timeline(tuple(lines), duration=t + 2.0, title=title or lyrics.title)


def preview_frame(
    template: str | Path,
    at: float,
    out: Path,
    *,
    images_dir: Path | None = None,
    lyrics_path: Path | None = None,
    seed: int = 0,
) -> Path:
    from composer.karaoke.render.background import IMAGE_SUFFIXES, load_images
    from composer.karaoke.render.frames import FrameRenderer
    from composer.karaoke.render.imagegen import make_images
    from composer.karaoke.template import load_template
    from composer.util.files import Input, check_outputs_spare_inputs, check_writable_dir

    out = Path(out)
    check_writable_dir(out)
    inputs = [Input(Path(template), "the template")] if str(template).lower().endswith(".toml") else []
    if lyrics_path is not None:
        inputs.append(Input(Path(lyrics_path), "the lyrics"))
    if images_dir is not None:
        inputs.append(Input(Path(images_dir), "the image folder", IMAGE_SUFFIXES))
    check_outputs_spare_inputs([out], inputs, "write the preview (-o) to another name or folder")
    tmpl = load_template(template)
    if lyrics_path is not None:
        from composer.karaoke.engine import require_drawable
        from composer.media.lyricsfile import read_lyrics

        lyrics = read_lyrics(Path(lyrics_path), duration=float("inf"))
        require_drawable(lyrics, lyrics_path, tmpl.text.font)
        timeline = lyrics if isinstance(lyrics, Timeline) else even_timeline(lyrics)
    else:
        timeline = even_timeline(sample_lyrics(), title="Carrion Hymn")
    with tempfile.TemporaryDirectory(prefix="composer-preview-") as tmp:
        if images_dir is None:
            # half size: the texture is soft anyway, and a quarter of the pixels keeps the preview quick
            images = make_images(Path(tmp), n=1, seed=seed, size=(tmpl.width // 2, tmpl.height // 2))
        else:
            images = load_images(Path(images_dir))
        renderer = FrameRenderer(tmpl, timeline, images, seed=seed, title=timeline.title)
        save_png(renderer.rgb(at), out, optimize=False)
    return out
