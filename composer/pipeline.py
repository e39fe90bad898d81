"""Orchestration of the karaoke engine: read -> time -> render -> encode -> sidecars.

Every function here takes a ``progress(stage, done, total)`` callback instead of printing: only cli.py
talks to the terminal.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from composer.errors import ComposerError
from composer.fsutil import atomic_path, check_writable_dir, write_errors
from composer.types import Audio, Timeline

Progress = Callable[[str, float, float], None]

VIDEO_SUFFIXES = (".mp4",)
MAX_LINE_CHARS = 300  # a karaoke line is shown whole on screen: a few dozen characters


def _no_progress(stage: str, done: float, total: float) -> None:
    pass


@dataclass(frozen=True)
class KaraokeResult:
    video: Path
    sidecars: tuple[Path, ...]
    thumbnail: Path
    timeline: Timeline
    audio_stats: dict
    frames: int


def load_audio(path: Path) -> Audio:
    from composer.audio.io import is_silent, read_audio

    audio = read_audio(Path(path))
    if is_silent(audio):
        raise ComposerError(f"{path}: audio is silent")
    return audio


def time_lyrics(audio: Audio, audio_path: Path, lyrics_path: Path, title: str | None = None) -> Timeline:
    """A Timeline for the song: a timed lyric file keeps its timing; plain lyrics go through the aligner."""
    from composer.align import align
    from composer.lyricsfile import read_lyrics

    if title and len(title) > MAX_LINE_CHARS:
        raise ComposerError(f"--title is {len(title):,} characters; a title is at most {MAX_LINE_CHARS}")
    lyrics = read_lyrics(Path(lyrics_path), audio.duration)
    shown = [ln.text for ln in lyrics.lines] if isinstance(lyrics, Timeline) else [text for text, _ in lyrics.lines]
    _check_line_lengths(lyrics_path, [lyrics.title, *shown])
    if isinstance(lyrics, Timeline):
        timeline = lyrics
        if title:
            timeline = Timeline(timeline.lines, timeline.duration, title, timeline.meta)
    else:
        try:
            timeline = align(audio, lyrics, title=title or lyrics.title or None)
        except ComposerError as e:
            raise ComposerError(f"{audio_path}: {e}") from None
    if not timeline.title:
        timeline = Timeline(timeline.lines, timeline.duration, _title_from(audio_path), timeline.meta)
    timeline.validate()
    return timeline


def _check_line_lengths(path: Path, lines: list[str]) -> None:
    """Refuse a line no screen can show (``lines[0]`` is the title): laying out a megabyte of text every
    frame would take hours."""
    for n, text in enumerate(lines):
        if len(text) > MAX_LINE_CHARS:
            what = f"lyric line {n}" if n else "the title"
            raise ComposerError(f"{path}: {what} ({text[:20]!r}...) is {len(text):,} characters; a sung line or "
                                f"title is at most {MAX_LINE_CHARS}")  # fmt: skip


def _title_from(path: Path) -> str:
    return Path(path).stem.replace("_", " ").strip()


def timing_writer(out: Path) -> Callable[[Timeline, Path], None]:
    """The sidecar writer for ``out``'s suffix; checked before any work so a typo fails at once."""
    from composer.render import sidecars

    writers = {".lrc": sidecars.write_lrc, ".ass": sidecars.write_ass, ".srt": sidecars.write_srt,
               ".json": sidecars.write_json}  # fmt: skip
    suffix = Path(out).suffix.lower()
    if suffix not in writers:
        raise ComposerError(f"{out}: unknown timing format {suffix or '(none)'}: use .lrc, .ass, .srt or .json")
    check_writable_dir(Path(out))
    return writers[suffix]


def align_file(audio_path: Path, lyrics_path: Path, out: Path, *, title: str | None = None) -> Timeline:
    """`composer align`: the timing alone."""
    write = timing_writer(out)
    audio = load_audio(audio_path)
    timeline = time_lyrics(audio, audio_path, lyrics_path, title)
    write(timeline, Path(out))
    return timeline


def karaoke(
    audio_path: Path,
    lyrics_path: Path,
    images_dir: Path,
    out: Path,
    *,
    template: str | Path = "gore",
    seed: int = 0,
    title: str | None = None,
    progress: Progress = _no_progress,
    encode=None,
) -> KaraokeResult:
    """`composer karaoke`: a finished MP4 with sidecars and a thumbnail beside it."""
    from composer.audio.io import prepare_output_audio
    from composer.render.background import load_images
    from composer.render.frames import FrameRenderer
    from composer.render.sidecars import write_sidecars
    from composer.template import load_template

    out = Path(out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ComposerError(f"{out}: the video must be an .mp4 file")
    check_writable_dir(out)
    # cheap checks first, so bad input fails before minutes of work
    tmpl = load_template(template)
    images = load_images(Path(images_dir))
    progress("timing", 0, 1)
    audio = load_audio(audio_path)
    timeline = time_lyrics(audio, audio_path, lyrics_path, title)
    progress("timing", 1, 1)
    renderer = FrameRenderer(tmpl, timeline, images, seed=seed, title=timeline.title)
    with write_errors(out), tempfile.TemporaryDirectory(prefix="composer-") as tmp:
        wav = Path(tmp) / "audio.wav"
        stats = prepare_output_audio(audio, wav)
        duration = audio.duration
        del audio  # the encoder reads the WAV: keep only what rendering needs in memory
        n = render_video(renderer, duration, wav, out, progress=progress, encode=encode)
        sidecar_paths = write_sidecars(timeline, out, **_ass_style(tmpl, renderer))
        thumb = write_thumbnail(renderer, timeline, out.with_suffix(".png"))
    return KaraokeResult(out, tuple(sidecar_paths), thumb, timeline, stats, n)


def render_video(renderer, duration: float, wav: Path | None, out: Path, *, progress: Progress = _no_progress,
                 encode=None) -> int:
    """Frames of ``renderer`` piped into the encoder with the prepared audio; returns the frame count."""
    from composer.render.writer import EncodeSettings, VideoWriter

    n = renderer.n_frames(duration)
    step = max(1, renderer.fps // 2)
    with VideoWriter(out, renderer.width, renderer.height, renderer.fps, wav, encode or EncodeSettings()) as w:
        for i in range(n):
            w.write(renderer.yuv420p(i / renderer.fps))
            if i % step == 0:
                progress("rendering", i, n)
        progress("rendering", n, n)
    return n


def _ass_style(tmpl, renderer) -> dict:
    return {"width": renderer.width, "height": renderer.height, **tmpl.ass_style()}



def thumbnail_time(timeline: Timeline) -> float:
    """Mid-sweep through the first long line: a frame that shows what the video is."""
    if not timeline.lines:
        return min(timeline.duration / 2, 5.0)
    first_third = [ln for ln in timeline.lines if ln.start < timeline.duration / 3] or list(timeline.lines)
    line = max(first_third, key=lambda ln: ln.end - ln.start)
    return line.start + 0.55 * (line.end - line.start)


THUMBNAIL_WIDTH = 1280  # YouTube's recommended size; keeps the file well under its 2 MB limit


def write_thumbnail(renderer, timeline: Timeline, path: Path, at: float | None = None) -> Path:
    frame = renderer.rgb(thumbnail_time(timeline) if at is None else at)
    save_png(frame, path, max_width=THUMBNAIL_WIDTH)
    return path


def save_png(frame: np.ndarray, path: Path, max_width: int | None = None, optimize: bool = True) -> None:
    image = Image.fromarray(frame)
    if max_width and image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)), Image.LANCZOS)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=optimize)
