"""The upload kit beside a rendered video: a title, a description to paste (chapters, then the lyrics of each
song) and the same as JSON for scripts. YouTube turns "0:00 Title" lines into chapters when the first is at
0:00 and there are at least three of 10 s or more; the lines are written either way. Each chapter starts on
its song's title card.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from composer.types import Lyrics
from composer.util.files import write_text_atomic


def clock(seconds: float) -> str:
    s = int(seconds)
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def kit_paths(video: Path) -> tuple[Path, Path]:
    return video.with_suffix(".description.txt"), video.with_suffix(".upload.json")


def write_upload_kit(video: Path, title: str, band, songs, timelines) -> tuple[Path, ...]:
    """``<video>.description.txt`` and ``<video>.upload.json``; returns their paths."""
    # each song opens with its title card: a chapter's whole second is rounded up, onto the card, never down
    # into the last second of the song before
    chapters = [
        {"start": round(song.start, 3), "clock": clock(math.ceil(song.start - 1e-6)), "title": song.title}
        for song in songs
    ]
    blocks = [f"New songs by {band.name}, written and performed by composer's AI models.", ""]
    blocks += [f"{c['clock']} {c['title']}" for c in chapters]
    for song, tl in zip(songs, timelines):
        blocks += ["", f"{song.title.upper()}", ""]
        for k, stanza in enumerate(Lyrics.from_lines((line.text, line.stanza) for line in tl.lines).stanzas):
            blocks += ["", *stanza] if k else stanza
    description = "\n".join(blocks).rstrip() + "\n"
    desc_path, json_path = kit_paths(video)
    write_text_atomic(desc_path, description)
    kit = {
        "title": title[:100],  # YouTube's limit
        "description": description,
        "chapters": chapters,
        "tags": ["death metal", "AI music", "SampleRNN", "karaoke", band.name],
        "video": video.name,
        "thumbnail": video.with_suffix(".png").name,
    }
    write_text_atomic(json_path, json.dumps(kit, indent=2, ensure_ascii=False) + "\n")
    return desc_path, json_path
