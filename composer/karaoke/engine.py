"""Orchestration of the karaoke engine: read -> time -> render -> encode -> sidecars.

Every function here takes a ``progress(stage, done, total)`` callback instead of printing: only cli.py
talks to the terminal.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from composer.errors import ComposerError
from composer.types import Audio, Lyrics, Progress, Timeline, no_progress
from composer.util.files import (
    Input,
    OutputSet,
    atomic_path,
    check_writable_dir,
    write_errors,
)

if TYPE_CHECKING:
    from composer.media.audio import LoudnessStats

MAX_LINE_CHARS = 300  # a karaoke line is shown whole on screen: a few dozen characters


@dataclass(frozen=True)
class KaraokeResult:
    video: Path
    sidecars: tuple[Path, ...]
    thumbnail: Path
    timeline: Timeline
    audio_stats: LoudnessStats
    frames: int


def load_audio(path: Path) -> Audio:
    from composer.media.audio import is_silent, read_audio

    audio = read_audio(Path(path))
    if is_silent(audio):
        raise ComposerError(f"{path}: audio is silent")
    return audio


def time_lyrics(
    audio: Audio,
    audio_path: Path,
    lyrics_path: Path,
    title: str | None = None,
    *,
    font: str | None = None,
    title_font: str | None = None,
    offset: float = 0.0,
) -> Timeline:
    """A Timeline for the song: a timed lyric file keeps its timing; plain lyrics go through the aligner; then
    every time moves ``offset`` seconds (``Timeline.shifted``).

    With ``font`` (``title_font``), lyrics (title) that no font of its fallback chain can draw are refused
    before any timing work."""
    from composer.karaoke.align import align
    from composer.karaoke.render.fontchain import require_glyphs
    from composer.media.lyricsfile import read_lyrics, strip_invisible

    if title and len(title) > MAX_LINE_CHARS:
        raise ComposerError(f"--title is {len(title):,} characters; a title is at most {MAX_LINE_CHARS}")
    lyrics = read_lyrics(Path(lyrics_path), audio.duration)
    shown = [ln.text for ln in lyrics.lines] if isinstance(lyrics, Timeline) else [text for text, _ in lyrics.lines]
    _check_line_lengths(lyrics_path, [lyrics.title, *shown])
    title = strip_invisible(title) if title else title
    if font:
        require_drawable(lyrics, lyrics_path, font)
    if title_font:
        # the title comes from --title, else the lyric file, else the audio file's name: blame the right one
        stated = title or lyrics.title
        source = "--title" if title else lyrics_path if stated else audio_path
        require_glyphs(source, [stated or _title_from(audio_path)], title_font)
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
    timeline = timeline.shifted(offset)
    timeline.validate()
    return timeline


def require_drawable(lyrics: Lyrics | Timeline, source: Path, font: str) -> None:
    """ComposerError naming ``source`` if a lyric line has a character that no font of ``font``'s chain has."""
    from composer.karaoke.render.fontchain import require_glyphs

    texts = [ln.text for ln in lyrics.lines] if isinstance(lyrics, Timeline) else [t for t, _ in lyrics.lines]
    require_glyphs(source, texts, font)


def _check_line_lengths(path: Path, lines: list[str]) -> None:
    """Refuse a line no screen can show (``lines[0]`` is the title): laying out a megabyte of text every
    frame would take hours."""
    for n, text in enumerate(lines):
        if len(text) > MAX_LINE_CHARS:
            what = f"lyric line {n}" if n else "the title"
            raise ComposerError(
                f"{path}: {what} ({text[:20]!r}...) is {len(text):,} characters; a sung line or "
                f"title is at most {MAX_LINE_CHARS}"
            )


def _title_from(path: Path) -> str:
    return Path(path).stem.replace("_", " ").strip()


def timing_writer(out: Path) -> Callable[[Timeline, Path], None]:
    """The sidecar writer for ``out``'s suffix; checked before any work so a typo fails at once."""
    from composer.media import sidecars

    writers = {
        ".lrc": sidecars.write_lrc,
        ".ass": sidecars.write_ass,
        ".srt": sidecars.write_srt,
        ".json": sidecars.write_json,
    }
    suffix = Path(out).suffix.lower()
    if suffix not in writers:
        raise ComposerError(f"{out}: unknown timing format {suffix or '(none)'}: use .lrc, .ass, .srt or .json")
    check_writable_dir(Path(out))
    return writers[suffix]


def output_paths(video: Path, *, upload: bool = False) -> list[Path]:
    """Every file a video run writes: the video first, then its sidecars, thumbnail and (band renders) upload kit."""
    from composer.media.sidecars import sidecar_paths
    from composer.media.upload import kit_paths

    video = Path(video)
    return [video, *sidecar_paths(video), thumbnail_path(video), *(kit_paths(video) if upload else ())]


def thumbnail_path(video: Path) -> Path:
    return Path(video).with_suffix(".png")


def karaoke_inputs(
    audio_path: Path, lyrics_path: Path, images_dir: Path | None, template: str | Path, background: Path | None = None
) -> list[Input]:
    """What `composer karaoke` reads: no output of the run may replace one (``fsutil.OutputSet``)."""
    from composer.karaoke.render.background import IMAGE_SUFFIXES
    from composer.karaoke.template import is_template_file

    inputs = [Input(Path(audio_path), "the audio"), Input(Path(lyrics_path), "the lyrics")]
    if images_dir is not None:
        inputs.append(Input(Path(images_dir), "the image folder", IMAGE_SUFFIXES))
    if background is not None:
        inputs.append(Input(Path(background), "the background video"))
    if template and is_template_file(template):
        inputs.append(Input(Path(template), "the template"))
    return inputs


def align_file(
    audio_path: Path, lyrics_path: Path, out: Path, *, title: str | None = None, offset: float = 0.0
) -> Timeline:
    """`composer align`: the timing alone."""
    write = timing_writer(out)
    # an output set of one: never an input, never a file of the user's (a hand-timed .lrc of the same name)
    outputs = OutputSet(
        [out],
        [Input(Path(audio_path), "the audio"), Input(Path(lyrics_path), "the lyrics")],
        "write the timing (-o) to another name or folder",
    )
    with outputs:
        audio = load_audio(audio_path)
        timeline = time_lyrics(audio, audio_path, lyrics_path, title, offset=offset)
        write(timeline, outputs.staged(out))
    return timeline


def karaoke(
    audio_path: Path,
    lyrics_path: Path,
    images_dir: Path | None,
    out: Path,
    *,
    template: str | Path = "gore",
    seed: int = 0,
    title: str | None = None,
    artist: str | None = None,
    offset: float = 0.0,
    background: Path | None = None,
    progress: Progress = no_progress,
    encode=None,
) -> KaraokeResult:
    """`composer karaoke`: a finished MP4 with sidecars and a thumbnail beside it.

    The background is a slideshow of ``images_dir`` or, given ``background``, that video looped. The title
    card names ``artist`` (else the lyric file's [ar:]) above the title."""
    from composer.karaoke.pacing import pace
    from composer.karaoke.render.background import load_images
    from composer.karaoke.render.cards import SongCard, require_card_glyphs
    from composer.karaoke.render.fontchain import require_glyphs
    from composer.karaoke.render.frames import FrameRenderer
    from composer.karaoke.render.videobg import VideoBackground, check_video
    from composer.karaoke.template import load_template
    from composer.media.audio import prepare_output_audio
    from composer.media.ffmpeg import check_video_name
    from composer.media.lyricsfile import strip_invisible
    from composer.media.sidecars import write_sidecars
    from composer.types import one_line

    if (images_dir is None) == (background is None):
        raise ComposerError("give either an image folder (--images) or a background video (--background)")
    out = Path(out)
    check_video_name(out)
    check_writable_dir(out)
    if artist and len(artist) > MAX_LINE_CHARS:
        raise ComposerError(f"--artist is {len(artist):,} characters; a name is at most {MAX_LINE_CHARS}")
    outputs = OutputSet(output_paths(out), karaoke_inputs(audio_path, lyrics_path, images_dir, template, background))
    # cheap checks first, so bad input fails before minutes of work
    tmpl = load_template(template)
    require_card_glyphs(tmpl)
    if artist and tmpl.title.enabled:
        require_glyphs("--artist", [artist], tmpl.text.font)
    if background is None:
        images = load_images(Path(images_dir))
    else:
        images = []
        check_video(Path(background))
    progress("timing", 0, 1)
    audio = load_audio(audio_path)
    timeline = time_lyrics(
        audio,
        audio_path,
        lyrics_path,
        title,
        font=tmpl.text.font,
        title_font=tmpl.text.font if tmpl.title.enabled else None,
        offset=offset,
    )
    # no line swept faster than the template's readable rate; the .json sidecar lists what moved
    timeline = pace(timeline, tmpl.text.max_syllables_per_s)
    progress("timing", 1, 1)
    band = one_line(strip_invisible(artist if artist is not None else str(timeline.meta.get("artist", ""))))
    if band and artist is None and tmpl.title.enabled:
        require_glyphs(lyrics_path, [band], tmpl.text.font)
    card = SongCard(timeline.title, band)
    with contextlib.ExitStack() as stack:
        video_bg = None
        if background is not None:  # its ffmpeg stops with the render, however that ends
            video_bg = stack.enter_context(VideoBackground(Path(background), tmpl.size, tmpl.fps))
        renderer = FrameRenderer(tmpl, timeline, images, seed=seed, card=card, background=video_bg)
        stack.enter_context(write_errors(out))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="composer-"))
        stack.enter_context(outputs)
        wav = Path(tmp) / "audio.wav"
        stats = prepare_output_audio(audio, wav)
        duration = audio.duration
        del audio  # the encoder reads the WAV: keep only what rendering needs in memory
        n = render_video(renderer, duration, wav, outputs.staged(out), progress=progress, encode=encode)
        write_sidecars(timeline, outputs.staged(out), **tmpl.ass_style())
        write_thumbnail(renderer, timeline, outputs.staged(thumbnail_path(out)))
    paths = output_paths(out)
    return KaraokeResult(out, tuple(paths[1:-1]), paths[-1], timeline, stats, n)


def render_video(
    renderer, duration: float, wav: Path | None, out: Path, *, progress: Progress = no_progress, encode=None
) -> int:
    """Frames of ``renderer`` piped into the encoder with the prepared audio; returns the frame count."""
    from composer.media.ffmpeg import EncodeSettings, VideoWriter

    n = renderer.n_frames(duration)
    with VideoWriter(out, renderer.width, renderer.height, renderer.fps, wav, encode or EncodeSettings()) as w:
        write_frames(w, renderer, 0, n, progress=progress)
    return n


def write_frames(
    writer,
    renderer,
    first: int,
    end: int,
    *,
    start: float = 0.0,
    total: int | None = None,
    progress: Progress = no_progress,
    stage: str = "rendering",
) -> int:
    """Frames ``first`` up to ``end`` of a video into ``writer`` (a ``VideoWriter``); returns ``end``.

    Frame i shows ``renderer`` at ``i / fps - start``: a song that begins ``start`` seconds into a longer video
    is drawn from its own time 0. ``progress(stage, i, total)`` is reported twice a second of video; ``total``
    (default ``end``) is the whole video's frame count."""
    total = end if total is None else total
    fps = renderer.fps
    step = max(1, fps // 2)
    for i in range(first, end):
        writer.write(renderer.yuv420p(i / fps - start))
        if i % step == 0:
            progress(stage, i, total)
    progress(stage, end, total)
    return end


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
