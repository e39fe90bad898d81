"""Files written beside the video: .ass (\\kf karaoke), enhanced .lrc, .srt and the timeline .json.

Each is written atomically and reads back through ``composer.media.lyricsfile.read_lyrics`` with the same times
(to the centisecond the formats store).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pysubs2

from composer.errors import ComposerError
from composer.media.lyricsfile import lrc_line_cap
from composer.media.voices import lrc_numbers
from composer.types import LyricLine, Timeline, one_line
from composer.util.files import atomic_path, write_text_atomic

_COLOUR = re.compile(r"#?([0-9a-fA-F]{6})([0-9a-fA-F]{2})?")


def sidecar_paths(video_path: Path) -> list[Path]:
    """The .ass, .lrc, .srt and .json beside ``video_path``, in that order."""
    return [Path(video_path).with_suffix(ext) for ext in (".ass", ".lrc", ".srt", ".json")]


def write_sidecars(timeline: Timeline, video_path: Path, **ass_style) -> list[Path]:
    """.ass, .lrc, .srt and .json beside ``video_path`` with its stem; returns their paths in that order."""
    paths = sidecar_paths(video_path)
    write_ass(timeline, paths[0], **ass_style)
    write_lrc(timeline, paths[1])
    write_srt(timeline, paths[2])
    write_json(timeline, paths[3])
    return paths


# ----------------------------------------------------------------------------------------------- ASS


def write_ass(
    timeline: Timeline,
    path: Path,
    *,
    width: int = 1920,
    height: int = 1080,
    font: str = "Anton",
    primary: str = "#ffffff",
    highlight: str = "#ff2020",
    voices: dict[str, tuple[str, str, str]] | None = None,
) -> None:
    """Karaoke .ass: one Dialogue per line, a \\kf per syllable, an empty \\k for each pause.

    A line of another voice than the main one uses a style named after the voice, coloured and placed as
    ``voices`` gives it (voice -> (colour, highlight colour, "bottom" | "center" | "top")), else as the main
    style: the style name is how .ass files say who sings a line, and how ``read_lyrics`` reads it back.

    Durations are centiseconds between rounded absolute times, so each line's sum equals its duration
    exactly. The sweep fills from ``primary`` (ASS SecondaryColour, not yet sung) to ``highlight``
    (PrimaryColour, sung), as libass, mpv and VLC draw \\kf.
    """
    path = Path(path)
    subs = pysubs2.SSAFile()
    subs.info.update(
        {
            "Title": timeline.title or one_line(path.stem),
            "PlayResX": str(int(width)),
            "PlayResY": str(int(height)),
            "ScaledBorderAndShadow": "yes",
            "WrapStyle": "0",
        }
    )
    main = _karaoke_style(path, width, height, font, primary, highlight)
    subs.styles = {"Karaoke": main}
    for voice in dict.fromkeys(line.voice for line in timeline.lines if line.voice):
        colour, high, position = (voices or {}).get(voice, (primary, highlight, "bottom"))
        style = _karaoke_style(path, width, height, font, colour, high)
        style.alignment = _ALIGNMENT[position]
        subs.styles[voice] = style
    for line in timeline.lines:
        start_cs, end_cs = _cs(line.start), _cs(line.end)
        if end_cs <= start_cs:
            continue  # shorter than the format can hold
        subs.events.append(
            pysubs2.SSAEvent(
                start=start_cs * 10, end=end_cs * 10, style=line.voice or "Karaoke", text=karaoke_text(line)
            )
        )
    with atomic_path(path) as tmp:
        subs.save(str(tmp), format_="ass", encoding="utf-8")


def karaoke_text(line: LyricLine) -> str:
    """The ASS text of one line: {\\kf N}syllable pieces, {\\k N} pauses, spaces between words."""
    pieces: list[str] = []
    cursor = _cs(line.start)

    def advance(to: float, tag: str, text: str) -> None:
        nonlocal cursor
        target = max(_cs(to), cursor)
        if target > cursor or tag == "kf":
            pieces.append(f"{{\\{tag}{target - cursor}}}{text}")
        elif text:
            pieces.append(text)
        cursor = target

    if line.unsure:  # the aligner could not place it: no karaoke timing, plain text
        return _escape(line.text)
    if not line.words:
        return f"{{\\kf{_cs(line.end) - cursor}}}{_escape(line.text)}"
    for k, word in enumerate(line.words):
        for syl in word.syllables:
            advance(syl.start, "k", "")  # a pause before the syllable
            advance(syl.end, "kf", _escape(syl.text))
        if k + 1 < len(line.words):
            advance(line.words[k + 1].start, "k", " ")  # the space between words carries any pause
    advance(line.end, "k", "")
    return "".join(pieces)


def _cs(t: float) -> int:
    return int(round(t * 100))


def _escape(text: str) -> str:
    """Lyric text can't contain override blocks or escapes: braces and backslashes would be read as tags."""
    return text.replace("\\", "/").replace("{", "(").replace("}", ")")


_ALIGNMENT = {
    "bottom": pysubs2.Alignment.BOTTOM_CENTER,
    "center": pysubs2.Alignment.MIDDLE_CENTER,
    "top": pysubs2.Alignment.TOP_CENTER,
}


def _karaoke_style(path: Path, width: int, height: int, font: str, primary: str, highlight: str) -> pysubs2.SSAStyle:
    size = round(int(height) / 15)
    return pysubs2.SSAStyle(
        fontname=font,
        fontsize=size,
        primarycolor=_colour(path, highlight),
        secondarycolor=_colour(path, primary),
        outlinecolor=pysubs2.Color(0, 0, 0, 0),
        backcolor=pysubs2.Color(0, 0, 0, 128),
        bold=False,
        outline=max(2, round(size / 16)),
        shadow=max(1, round(size / 24)),
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=round(int(width) * 0.05),
        marginr=round(int(width) * 0.05),
        marginv=round(int(height) * 0.08),
    )


def _colour(path: Path, value: str) -> pysubs2.Color:
    """'#rrggbb' or '#rrggbbaa' (aa = opacity, ff opaque) to pysubs2's Color (whose alpha is transparency)."""
    m = _COLOUR.fullmatch(value.strip())
    if not m:
        raise ComposerError(f"{path}: colour {value!r} is not #rrggbb or #rrggbbaa")
    rgb = m.group(1)
    opacity = int(m.group(2), 16) if m.group(2) else 255
    return pysubs2.Color(int(rgb[0:2], 16), int(rgb[2:4], 16), int(rgb[4:6], 16), 255 - opacity)


# ----------------------------------------------------------------------------------------------- LRC


def format_lrc_time(t: float) -> str:
    """'mm:ss.xx', rounded to the centisecond. Past 99 minutes (long streams) the minutes simply grow
    ('123:04.50'): most players and ``read_lyrics`` accept it, and wrapping or an hour field would be worse.
    Negative times are clamped to 0."""
    cs = max(0, _cs(t))
    minutes, rest = divmod(cs, 6000)
    return f"{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


def write_lrc(timeline: Timeline, path: Path) -> None:
    """Enhanced LRC: [ti:], a [mm:ss.xx] tag per line, a <mm:ss.xx> tag per word, a blank line between
    stanzas, and an empty timed line where a line ends, whenever the end would not otherwise be implied
    (a pause follows, or the line outlasts the cap that readers without an end apply).

    A line of another voice than the main one starts ``v1:``, ``v2:``... (the duet convention), and a
    ``[voices:v1=growl,v2=scream]`` header, which players skip, names them."""
    out = []
    if timeline.title:
        out.append(f"[ti:{one_line(timeline.title)}]")
    out.append(f"[length:{format_lrc_time(timeline.duration)}]")
    out.append("[re:composer]")
    numbers = lrc_numbers([line.voice for line in timeline.lines])
    if numbers:
        out.append("[voices:" + ",".join(f"{n}={v}" for v, n in numbers.items()) + "]")
    out.append("")
    lines = tuple(line for line in timeline.lines if line.text.strip())  # an empty timed line means "end"
    for i, line in enumerate(lines):
        if i > 0 and line.stanza != lines[i - 1].stanza:
            out.append("")
        voice = f"{numbers[line.voice]}: " if line.voice else ""
        out.append(f"[{format_lrc_time(line.start)}]{voice}{_lrc_words(line)}")
        next_start = lines[i + 1].start if i + 1 < len(lines) else None
        if _needs_end_marker(line, next_start):
            out.append(f"[{format_lrc_time(line.end)}]")
    write_text_atomic(path, "\n".join(out) + "\n")


def _lrc_words(line: LyricLine) -> str:
    if not line.words:
        return one_line(line.text)
    return " ".join(f"<{format_lrc_time(w.start)}>{one_line(w.text)}" for w in line.words)


def _needs_end_marker(line: LyricLine, next_start: float | None) -> bool:
    end_cs = _cs(line.end)
    if next_start is None or end_cs < _cs(next_start):
        return True
    # the reader computes its cap from the centisecond times it reads: so must we, to agree at the edge
    words = [w.text for w in line.words] or line.text.split()
    starts = [_cs(w.start) / 100 for w in line.words]
    return lrc_line_cap(_cs(line.start) / 100, words, starts) < end_cs / 100


# ----------------------------------------------------------------------------------------------- SRT, JSON


def write_srt(timeline: Timeline, path: Path) -> None:
    """One subtitle per lyric line (plain text, no karaoke)."""
    subs = pysubs2.SSAFile()
    for line in timeline.lines:
        start_ms, end_ms = int(round(line.start * 1000)), int(round(line.end * 1000))
        if end_ms > start_ms:
            # pysubs2 holds text in ASS form and drops {...} when writing SRT, so braces are escaped here too
            subs.events.append(pysubs2.SSAEvent(start=start_ms, end=end_ms, text=_escape(one_line(line.text))))
    with atomic_path(path) as tmp:
        subs.save(str(tmp), format_="srt", encoding="utf-8")


def write_json(timeline: Timeline, path: Path) -> None:
    """Timeline.to_dict() as UTF-8 JSON (indent 1), readable back with Timeline.from_dict."""
    write_text_atomic(path, json.dumps(timeline.to_dict(), ensure_ascii=False, indent=1) + "\n")
