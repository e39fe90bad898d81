"""`composer preview`: a frame, a short clip or a sheet of templates over sample lyrics, fast enough to tweak by eye."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from composer.karaoke.engine import save_png
from composer.types import Lyrics, Progress, Timeline, no_progress

LINE_SECONDS = 3.2
GAP_SECONDS = 0.6
FIRST_LINE_AT = 3.0
CLIP_HEIGHT = 480  # a preview clip is for judging a look, not for upload: a quarter of 1080p's pixels is quick
SHEET_TILE = (640, 360)
SHEET_AT = 4.6  # the first sample line half swept, the second previewed: most of a template's look at once
SHEET_LABEL_H = 40


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


@dataclass(frozen=True)
class PreviewInputs:
    """What a preview draws: a template (name or file), and optionally the user's lyrics and images."""

    template: str | Path = "gore"
    images_dir: Path | None = None
    lyrics_path: Path | None = None
    seed: int = 0

    def inputs(self):
        from composer.karaoke.render.background import IMAGE_SUFFIXES
        from composer.karaoke.template import is_template_file
        from composer.util.files import Input

        found = [Input(Path(self.template), "the template")] if is_template_file(self.template) else []
        if self.lyrics_path is not None:
            found.append(Input(Path(self.lyrics_path), "the lyrics"))
        if self.images_dir is not None:
            found.append(Input(Path(self.images_dir), "the image folder", IMAGE_SUFFIXES))
        return found


def preview_frame(what: PreviewInputs, at: float, out: Path) -> Path:
    """One frame of the template at ``at`` seconds, as a PNG."""
    from composer.util.files import OutputSet

    out = Path(out)
    with OutputSet([out], what.inputs(), "write the preview (-o) to another name or folder") as outputs:
        tmpl = _load(what)
        with tempfile.TemporaryDirectory(prefix="composer-preview-") as tmp:
            renderer = _renderer(what, tmpl, Path(tmp))
            save_png(renderer.rgb(at), outputs.staged(out), optimize=False)
    return out


def preview_clip(
    what: PreviewInputs,
    start: float,
    seconds: float,
    out: Path,
    *,
    height: int = CLIP_HEIGHT,
    progress: Progress = no_progress,
) -> Path:
    """``seconds`` of the template from ``start``, at ``height`` lines (the template's shape kept), as a silent MP4."""
    from composer.karaoke.engine import write_frames
    from composer.media.ffmpeg import EncodeSettings, VideoWriter, check_video_name
    from composer.util.files import OutputSet

    out = Path(out)
    check_video_name(out)
    with OutputSet([out], what.inputs(), "write the preview (-o) to another name or folder") as outputs:
        tmpl = _scaled(_load(what), height)
        with tempfile.TemporaryDirectory(prefix="composer-preview-") as tmp:
            renderer = _renderer(what, tmpl, Path(tmp))
            n = max(1, math.ceil(seconds * tmpl.fps - 1e-6))
            fast = EncodeSettings(preset="ultrafast", crf=26)
            with VideoWriter(outputs.staged(out), tmpl.width, tmpl.height, tmpl.fps, None, fast) as writer:
                write_frames(writer, renderer, 0, n, start=-start, progress=progress, stage="preview")
    return out


def template_sheet(
    out: Path, names: Sequence[str] | None = None, *, at: float = SHEET_AT, columns: int = 3, seed: int = 0
) -> Path:
    """One frame of each template (default: every built-in one) at the same moment, labelled, in a grid PNG."""
    from PIL import Image, ImageDraw

    from composer.karaoke.template import builtin_templates
    from composer.media.fonts import load_font
    from composer.util.files import OutputSet

    names = list(names or builtin_templates())
    out = Path(out)
    w, h = SHEET_TILE
    columns = min(columns, len(names))
    rows = math.ceil(len(names) / columns)
    sheet = Image.new("RGB", (columns * w, rows * (h + SHEET_LABEL_H)), "#111111")
    draw = ImageDraw.Draw(sheet)
    label_font = load_font("oswald", 26)
    with OutputSet([out], [], "write the sheet (-o) to another name or folder") as outputs:
        with tempfile.TemporaryDirectory(prefix="composer-sheet-") as tmp:
            for i, name in enumerate(names):
                what = PreviewInputs(name, seed=seed)
                tmpl = _scaled(_load(what), h, width=w)
                frame = _renderer(what, tmpl, Path(tmp)).rgb(at)
                x, y = (i % columns) * w, (i // columns) * (h + SHEET_LABEL_H)
                sheet.paste(Image.fromarray(frame), (x, y + SHEET_LABEL_H))
                draw.text((x + 12, y + 6), name, fill="#dddddd", font=label_font)
        save_png(np.asarray(sheet), outputs.staged(out))
    return out


def _load(what: PreviewInputs):
    from composer.karaoke.template import load_template

    return load_template(what.template)


def _scaled(tmpl, height: int, width: int | None = None):
    """The template at ``height`` lines (even sides; its aspect kept unless ``width`` is given); text scales along."""
    if height >= tmpl.height and width is None:
        return tmpl
    if width is None:
        width = max(2, round(tmpl.width * height / tmpl.height / 2) * 2)
    return tmpl.replace(video={"width": width, "height": height})


def _timeline(what: PreviewInputs, tmpl) -> Timeline:
    if what.lyrics_path is None:
        return even_timeline(sample_lyrics(), title="Carrion Hymn")
    from composer.karaoke.engine import require_drawable
    from composer.media.lyricsfile import read_lyrics

    lyrics = read_lyrics(Path(what.lyrics_path), duration=float("inf"))
    require_drawable(lyrics, what.lyrics_path, tmpl.text.font)
    return lyrics if isinstance(lyrics, Timeline) else even_timeline(lyrics)


def _renderer(what: PreviewInputs, tmpl, tmp: Path):
    from composer.karaoke.render.background import load_images
    from composer.karaoke.render.frames import FrameRenderer
    from composer.karaoke.render.imagegen import make_images

    timeline = _timeline(what, tmpl)
    if what.images_dir is None:
        # half size: the texture is soft anyway, and a quarter of the pixels keeps the preview quick
        images = make_images(tmp, n=1, seed=what.seed, size=(tmpl.width // 2, tmpl.height // 2))
    else:
        images = load_images(Path(what.images_dir))
    return FrameRenderer(tmpl, timeline, images, seed=what.seed, title=timeline.title)
