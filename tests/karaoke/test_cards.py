"""Title and end cards as a viewer sees them: what they say, that they are held, where they sit."""

from __future__ import annotations

import numpy as np
from PIL import Image

from composer.karaoke.render.cards import SongCard
from composer.karaoke.render.frames import FrameRenderer
from composer.karaoke.template import hex_rgb, load_template
from composer.media.timing import make_line
from composer.types import Timeline

W, H = 640, 360
GREY = (90, 90, 90)
STILL = {"crossfade": 0.0, "ken_burns": 0.0, "grain": 0.0, "tint_strength": 0.0, "brightness": 1.0, "saturation": 1.0}
CARD = SongCard("Altar of Rot", band="gravewyrm", number=2, songs=5)


def renderer(lines, *, card=CARD, title=None, end=None, duration=60.0, **title_keys):
    tpl = load_template("classic").replace(
        video={"width": W, "height": H}, background=STILL, title=title_keys, end=end or {}
    )
    timeline = Timeline(tuple(lines), duration, "")
    return FrameRenderer(tpl, timeline, [Image.new("RGB", (64, 36), GREY)], card=card, title=title)


def background(r: FrameRenderer, t: float) -> np.ndarray:
    """The frame at t with no card and no lyrics: what the card is drawn over."""
    bare = FrameRenderer(r.template, Timeline((), r.timeline.duration, ""), [Image.new("RGB", (64, 36), GREY)])
    return bare.rgb(t)


def assert_shows(r: FrameRenderer, t: float, texts: list[str]) -> list:
    """The card rows at t say ``texts``, and the frame shows each row's sprite in its box: pixels differ from
    the background where the sprite has ink, and its full-coverage letters have the sprite's colour."""
    rows = r.cards(t)
    assert [row.text for row in rows] == texts
    frame, bare = r.rgb(t), background(r, t)
    for row in rows:
        x0, y0, x1, y1 = row.box
        inside, under = frame[y0:y1, x0:x1].astype(int), bare[y0:y1, x0:x1].astype(int)
        ink = row.sprite.alpha > 200
        assert ink.sum() > 50, row.text
        # (not every inked pixel: anti-aliased light letters on a dark outline can average to the background grey)
        assert (np.abs(inside - under).sum(axis=2)[ink] > 40).mean() > 0.9, row.text
        letters = row.sprite.fill == 255
        colour = np.array(row.sprite.colours["plain"], int)
        assert np.abs(inside[letters] - colour).max() <= 3, row.text
    return rows


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def line_box(r: FrameRenderer, t: float) -> tuple[int, int, int, int]:
    """Bounding box of everything but the card that differs from the background (the lyric line)."""
    diff = np.abs(r.rgb(t).astype(int) - background(r, t).astype(int)).sum(axis=2) > 40
    for row in r.cards(t):
        x0, y0, x1, y1 = row.box
        diff[y0:y1, x0:x1] = False
    ys, xs = np.nonzero(diff)
    assert ys.size > 100, "the lyric line is on screen"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_title_card_names_band_title_and_place_in_the_set():
    r = renderer([make_line("Into the pit", 5.0, 7.0)])
    rows = assert_shows(r, 1.0, ["gravewyrm", "Altar of Rot", "song 2 of 5"])
    assert rows[0].box[3] <= rows[1].box[1] and rows[1].box[3] <= rows[2].box[1], "band, title, place: top down"
    assert rows[0].sprite.colours["plain"] == hex_rgb(r.template.title.band_color)
    assert rows[1].sprite.height > rows[0].sprite.height > rows[2].sprite.height
    assert r.cards(3.5) == [] and np.array_equal(
        r.rgb(3.5), renderer([make_line("Into the pit", 5.0, 7.0)], card=SongCard("")).rgb(3.5)
    )


def test_a_lone_song_says_no_place_and_title_alone_without_band():
    r = renderer([make_line("Into the pit", 5.0, 7.0)], card=None, title="Altar of Rot")
    assert_shows(r, 1.0, ["Altar of Rot"])


def test_card_is_held_when_the_first_line_starts_at_half_a_second():
    r = renderer([make_line("Straight into the pit", 0.5, 4.0)])
    for t in (0.6, 1.5, 2.9):
        rows = assert_shows(r, t, ["gravewyrm", "Altar of Rot", "song 2 of 5"])
        line = line_box(r, t)
        assert not any(overlaps(row.box, line) for row in rows), "card and line share the screen"
    assert [row.box for row in r.cards(0.6)] == [row.box for row in r.cards(2.9)], "the shared card never jumps"
    assert r.cards(3.0) == []


def test_corner_layout_shrinks_the_card_while_lines_show():
    late = renderer([make_line("Into the pit", 5.0, 7.0)], layout="corner")
    early = renderer([make_line("Straight into the pit", 0.5, 4.0)], layout="corner")
    big = assert_shows(late, 1.0, ["gravewyrm", "Altar of Rot", "song 2 of 5"])
    small = assert_shows(early, 2.0, ["gravewyrm", "Altar of Rot", "song 2 of 5"])
    assert small[1].sprite.height < 0.6 * big[1].sprite.height
    assert max(row.box[2] for row in small) < W / 2 and max(row.box[3] for row in small) < H / 2, "top-left corner"
    assert not any(overlaps(row.box, line_box(early, 2.0)) for row in small)


def test_yield_layout_gives_the_screen_to_an_early_line():
    r = renderer([make_line("Straight in", 0.5, 2.0)], layout="yield")
    assert r.cards(1.0) == []
    assert np.array_equal(r.rgb(1.0), renderer([make_line("Straight in", 0.5, 2.0)], card=SongCard("")).rgb(1.0))


def test_end_card_is_held_over_the_last_seconds():
    lines = [make_line("Into the pit", 5.0, 7.0)]
    r = renderer(lines, end={"enabled": True, "seconds": 5.0})
    assert r.cards(50.0) == []
    assert_shows(r, 56.0, ["gravewyrm — Altar of Rot"])
    assert_shows(r, 59.9, ["gravewyrm — Altar of Rot"])
    no_band = renderer(lines, card=SongCard("Altar of Rot"), end={"enabled": True, "text": "{band} — {title}"})
    assert [row.text for row in no_band.cards(58.0)] == ["Altar of Rot"], "no dangling dash without a band"
    numbered = renderer(lines, end={"enabled": True, "text": "{number}/{songs}: {title}"})
    assert [row.text for row in numbered.cards(58.0)] == ["2/5: Altar of Rot"]
    assert renderer(lines).cards(58.0) == [], "the end card is optional (off by default)"
    short = renderer([], duration=5.0, end={"enabled": True, "seconds": 4.0})
    assert [row.text for row in short.cards(2.0)] == ["gravewyrm", "Altar of Rot", "song 2 of 5"]
    assert [row.text for row in short.cards(4.0)] == ["gravewyrm — Altar of Rot"], "after the title card, not over it"


def test_karaoke_opens_with_a_card_naming_the_artist(song_inputs, tmp_path):
    from composer.karaoke.engine import karaoke
    from composer.karaoke.render.background import load_images
    from tests.conftest import SMALL_TEMPLATE
    from tests.mp4probe import frame_at

    template = tmp_path / "card.toml"
    template.write_text(SMALL_TEMPLATE.replace("enabled = false", "enabled = true\nseconds = 2.0"), encoding="utf-8")
    out = tmp_path / "v.mp4"
    result = karaoke(
        song_inputs.audio,
        song_inputs.lyrics,
        song_inputs.images,
        out,
        template=template,
        title="Rot",
        artist="Gravewyrm",
    )
    r = FrameRenderer(
        load_template(template), result.timeline, load_images(song_inputs.images), card=SongCard("Rot", "Gravewyrm")
    )
    rows = r.cards(1.0)
    assert [row.text for row in rows] == ["Gravewyrm", "Rot"]
    video, drawn = frame_at(out, 1.0).astype(int), r.rgb(1.0).astype(int)
    for row in rows:
        x0, y0, x1, y1 = row.box
        assert np.abs(video[y0:y1, x0:x1] - drawn[y0:y1, x0:x1]).mean() < 8
        ink = row.sprite.alpha > 200
        assert (video[y0:y1, x0:x1][ink] > 150).all(axis=1).mean() > 0.5, "white letters over the dark images"
