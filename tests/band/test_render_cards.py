"""A band render's songs open with their title cards (where the upload kit's chapters point) and its lines
alternate between the band's voices, each in the template's colours."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from composer.band.render import render_band, song_seed
from composer.karaoke.render.background import load_images
from composer.karaoke.render.cards import SongCard
from composer.karaoke.render.frames import FrameRenderer
from composer.karaoke.template import load_template
from composer.types import Timeline, shift_line
from tests.conftest import SMALL_TEMPLATE
from tests.mp4probe import frame_at

CARDS = SMALL_TEMPLATE.replace("[title]\nenabled = false\n", "[title]\nenabled = true\nseconds = 2.5\n") + (
    '[voices.growl]\ncolor = "#40ff40"\n[voices.scream]\ncolor = "#ff40ff"\nposition = "top"\n'
)


def test_songs_open_with_cards_at_their_chapters_and_voices_alternate(debug_band, tmp_path):
    template = tmp_path / "cards.toml"
    template.write_text(CARDS, encoding="utf-8")
    band = dataclasses.replace(debug_band, voices=("growl", "scream"), template=str(template))
    result = render_band(band, 24.0, tmp_path / "v.mp4", songs=2, seed=5)
    kit = json.loads(result.video.with_suffix(".upload.json").read_text(encoding="utf-8"))
    timeline = Timeline.from_dict(json.loads(result.video.with_suffix(".json").read_text(encoding="utf-8")))
    tmpl, images = load_template(template), load_images(band.images_dir)
    for k, (song, chapter) in enumerate(zip(result.songs, kit["chapters"])):
        minutes, seconds = chapter["clock"].split(":")
        at = int(minutes) * 60 + int(seconds)  # where a viewer lands who clicks the chapter
        # the song as the render drew it: its lines from the video's timeline, moved back to the song's time
        own = [ln for ln in timeline.lines if song.start <= ln.start < song.start + song.duration]
        lines = tuple(shift_line(ln, -song.start) for ln in own)
        renderer = FrameRenderer(
            tmpl,
            Timeline(lines, song.duration, song.title),
            images,
            seed=song_seed(5, k, 3),
            card=SongCard(song.title, band.name, k + 1, 2),
        )
        rows = renderer.cards(at - song.start)
        assert [r.text for r in rows] == [band.name, song.title, f"song {k + 1} of 2"]
        video = frame_at(result.video, at).astype(int)
        drawn = renderer.rgb(at - song.start).astype(int)
        bare = (
            FrameRenderer(
                tmpl.replace(title={"enabled": False}), Timeline(lines, song.duration), images, seed=song_seed(5, k, 3)
            )
            .rgb(at - song.start)
            .astype(int)
        )
        for row in rows:
            x0, y0, x1, y1 = row.box
            ink = row.sprite.alpha > 200
            assert np.abs(video[y0:y1, x0:x1] - drawn[y0:y1, x0:x1]).mean() < 8, "the video shows the card"
            assert np.abs(video[y0:y1, x0:x1] - bare[y0:y1, x0:x1]).sum(axis=2)[ink].mean() > 60
    # every line is sung by one of the band's voices, a stanza by one voice, the next stanza by the other
    by_stanza: dict[int, set[str]] = {}
    for line in timeline.lines:
        by_stanza.setdefault(line.stanza, set()).add(line.voice)
    assert all(len(v) == 1 for v in by_stanza.values()), by_stanza
    voices = [next(iter(by_stanza[s])) for s in sorted(by_stanza)]
    assert set(voices) == {"growl", "scream"}
    assert result.video.with_suffix(".lrc").read_text(encoding="utf-8").count("[voices:") == 1
