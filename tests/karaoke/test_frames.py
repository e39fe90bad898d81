"""What a viewer sees in rendered frames: the sweep, which lines show when, layout, and the YUV output."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from composer.karaoke.render.background import yuv420p_to_rgb
from composer.karaoke.render.frames import FrameRenderer
from composer.karaoke.render.imagegen import make_images
from composer.karaoke.template import hex_rgb, load_template
from composer.media.timing import make_line
from composer.types import Timeline

W, H = 640, 360
GREY = (90, 90, 90)
STILL = {"crossfade": 0.0, "ken_burns": 0.0, "grain": 0.0, "tint_strength": 0.0, "brightness": 1.0, "saturation": 1.0}


def grey():
    return [Image.new("RGB", (64, 36), GREY)]


def template(name="classic", size=(W, H), background=None, **text):
    return load_template(name).replace(
        video={"width": size[0], "height": size[1]}, text=text, background={**STILL, **(background or {})}
    )


def renderer(lines, name="classic", *, images=None, size=(W, H), title="", seed=0, background=None, **text):
    timeline = Timeline(tuple(lines), 60.0, title)
    return FrameRenderer(template(name, size, background, **text), timeline, images or grey(), seed=seed)


def changed(a: np.ndarray, b: np.ndarray, threshold: int = 60) -> np.ndarray:
    """Pixels whose colour differs clearly between two frames."""
    return np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > threshold


def near(pixels: np.ndarray, colour, tol: float = 45.0) -> np.ndarray:
    return np.linalg.norm(pixels.astype(float) - np.array(colour, float), axis=-1) < tol


def columns(mask: np.ndarray) -> tuple[int, int]:
    xs = np.nonzero(mask.any(axis=0))[0]
    return int(xs.min()), int(xs.max())


LINE = make_line("Burning decapitation ritual", 1.0, 4.0)
PLAIN, HIGH = hex_rgb("#ffffff"), hex_rgb("#1e6cff")  # classic's colours


def lights_up(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Pixels inside glyph fills that go from the plain to the highlight colour between two frames."""
    return near(before, PLAIN, 30) & near(after, HIGH, 30)


def word_mask(r: FrameRenderer, word) -> np.ndarray:
    """The word's fill pixels: what lights up while the smooth sweep crosses it."""
    return lights_up(r.rgb(word.start + 1e-4), r.rgb(word.end - 1e-4))


def test_smooth_sweep_halfway_through_a_word():
    r = renderer([LINE], highlight="smooth")
    word = LINE.words[1]  # "decapitation"
    mask = word_mask(r, word)
    assert mask.sum() > 100
    x0, x1 = columns(mask)
    mid = 0.5 * (word.start + word.end)
    frame = r.rgb(mid)
    ys, xs = np.nonzero(mask)
    head = frame[ys[xs < x0 + 0.3 * (x1 - x0)], xs[xs < x0 + 0.3 * (x1 - x0)]]
    tail = frame[ys[xs > x0 + 0.7 * (x1 - x0)], xs[xs > x0 + 0.7 * (x1 - x0)]]
    assert near(head, HIGH).mean() > 0.9, "the word's first part is sung: highlight colour"
    assert near(tail, PLAIN).mean() > 0.9, "the word's end is not sung yet: plain colour"
    # the yuv420p frame ffmpeg receives decodes to the same picture (chroma is shared by 2x2 pixels)
    decoded = yuv420p_to_rgb(r.yuv420p(mid), W, H)
    assert np.abs(decoded.astype(int) - frame.astype(int)).mean() < 2.0
    head_yuv = decoded[ys[xs < x0 + 0.3 * (x1 - x0)], xs[xs < x0 + 0.3 * (x1 - x0)]]
    tail_yuv = decoded[ys[xs > x0 + 0.7 * (x1 - x0)], xs[xs > x0 + 0.7 * (x1 - x0)]]
    assert np.linalg.norm(np.median(head_yuv, axis=0) - HIGH) < 30
    assert np.linalg.norm(np.median(tail_yuv, axis=0) - PLAIN) < 30


def test_word_mode_lights_the_whole_current_word():
    r = renderer([LINE], highlight="word")
    current, following = LINE.words[1], LINE.words[2]
    lit_at_start = lights_up(r.rgb(current.start - 1e-3), r.rgb(current.start + 1e-3))
    next_word = lights_up(r.rgb(following.start - 1e-3), r.rgb(following.start + 1e-3))
    assert lit_at_start.sum() > 100 and next_word.sum() > 50
    frame = r.rgb(0.5 * (current.start + current.end))
    assert near(frame[lit_at_start], HIGH).mean() > 0.95
    assert near(frame[next_word], PLAIN).mean() > 0.95
    x0, x1 = columns(lit_at_start)
    assert x1 - x0 > 100  # the whole word lit at once, not a sliver


def test_syllable_mode_lights_syllable_by_syllable():
    r = renderer([LINE], highlight="syllable")
    word = LINE.words[1]
    first, second = word.syllables[0], word.syllables[1]
    second_pixels = lights_up(r.rgb(second.start - 1e-3), r.rgb(second.start + 1e-3))
    first_pixels = lights_up(r.rgb(first.start - 1e-3), r.rgb(first.start + 1e-3))
    frame = r.rgb(0.5 * (first.start + first.end))
    assert near(frame[first_pixels], HIGH).mean() > 0.95
    assert near(frame[second_pixels], PLAIN).mean() > 0.95
    assert columns(first_pixels)[1] <= columns(second_pixels)[0] + 2


@pytest.mark.parametrize("mode", ["smooth", "word", "syllable"])
def test_a_line_the_aligner_is_unsure_of_is_shown_but_never_lit(mode):
    unsure = dataclasses.replace(LINE, words=(), unsure=True)
    r = renderer([unsure], highlight=mode)
    sure = renderer([LINE], highlight=mode)
    text = near(sure.rgb(LINE.start + 0.01), PLAIN, 30)  # the line's letters, before any is sung
    assert text.sum() > 500
    for t in (LINE.start + 0.01, 0.5 * (LINE.start + LINE.end), LINE.end - 0.01):
        frame = r.rgb(t)
        assert near(frame[text], PLAIN, 30).mean() > 0.95 and not near(frame, HIGH, 30).any()


def test_no_lyrics_over_a_long_instrumental_gap_when_the_template_asks_for_none():
    a, b = make_line("Into the pit", 1.0, 3.0), make_line("Rise again", 20.0, 23.0)
    quiet = template(gap_show="none").replace(countin={"style": "none"})

    def renderer(lines):
        return FrameRenderer(quiet, Timeline(tuple(lines), 60.0, ""), grey())

    r = renderer([a, b])
    empty = renderer([])
    only_a = renderer([a])
    assert np.array_equal(r.rgb(2.0), only_a.rgb(2.0)), "no preview across the break"
    for t in (3.5, 10.0, 18.0):
        assert np.array_equal(r.rgb(t), empty.rgb(t)), f"text shown at {t}s during the instrumental"
    lead_in = load_template("classic").text.lead_in
    assert changed(r.rgb(20.0 - lead_in + 0.1), empty.rgb(10.0)).sum() > 100
    assert np.array_equal(r.rgb(25.0), empty.rgb(25.0))  # nothing after the song's last line


def test_classic_previews_the_next_line_below_without_jumping():
    a, b = make_line("Into the pit we go", 1.0, 3.0), make_line("Nothing remains of us", 3.3, 5.0)
    r, only_a, empty = renderer([a, b]), renderer([a]), renderer([])
    bg = empty.rgb(2.0)
    preview = changed(r.rgb(2.0), only_a.rgb(2.0))
    current = changed(only_a.rgb(2.0), bg)
    assert preview.sum() > 100, "next line previewed"
    assert np.nonzero(preview.any(axis=1))[0].min() > np.nonzero(current.any(axis=1))[0].max() - 2
    shown = r.rgb(2.0)[preview]
    assert near(shown, PLAIN, 30).sum() > 100 and near(shown, HIGH, 40).sum() == 0, "previewed, not lit"
    # once it is sung it stays where it was previewed
    sung = changed(r.rgb(4.0), bg)
    rows_then, rows_now = np.nonzero(preview.any(axis=1))[0], np.nonzero(sung.any(axis=1))[0]
    assert abs(rows_then.min() - rows_now.min()) <= 4 and abs(rows_then.max() - rows_now.max()) <= 4


def test_long_line_wraps_inside_the_frame_and_sweeps_row_by_row():
    words = "flesh " * 12 + "torn asunder by the ancient " + "bones " * 10
    line = make_line(words.strip(), 1.0, 13.0)
    for size in ((W, H), (360, 640)):
        r = renderer([line], "gore", size=size)
        bg = renderer([], "gore", size=size).rgb(5.0)
        frame = r.rgb(5.0)
        text = changed(frame, bg)
        assert text.sum() > 200
        x0, x1 = columns(text)
        ys = np.nonzero(text.any(axis=1))[0]
        assert x0 > 0.02 * size[0] and x1 < 0.98 * size[0]
        assert ys.min() > 0 and ys.max() < size[1] - 1
        red = near(frame, hex_rgb(load_template("gore").text.highlight_color), 60) & text
        bone = near(frame, hex_rgb(load_template("gore").text.color), 60) & text
        assert np.nonzero(red.any(axis=1))[0].min() < np.nonzero(bone.any(axis=1))[0].max()
        assert red.sum() > 50 and bone.sum() > 50


def test_portrait_frame():
    r = renderer([LINE], size=(1080, 1920))
    assert (r.width, r.height) == (1080, 1920)
    frame = r.rgb(2.0)
    assert frame.shape == (1920, 1080, 3) and frame.dtype == np.uint8
    assert r.yuv420p(2.0).shape == (1080 * 1920 * 3 // 2,)
    text = changed(frame, renderer([], size=(1080, 1920)).rgb(2.0))
    x0, x1 = columns(text)
    assert text.sum() > 1000 and x0 > 20 and x1 < 1060
    assert np.nonzero(text.any(axis=1))[0].min() > 960  # bottom half, above the margin


def test_gore_and_void_look_clearly_different(tmp_path):
    meat = make_images(tmp_path, n=2, seed=3, size=(320, 200))
    timeline = Timeline((LINE,), 10.0, "")
    frames = {}
    for name in ("gore", "void"):
        tpl = load_template(name).replace(video={"width": 320, "height": 180})
        frames[name] = FrameRenderer(tpl, timeline, meat, seed=1).rgb(2.5).astype(int)
    saturation = {k: np.ptp(v, axis=2).mean() for k, v in frames.items()}
    assert saturation["void"] < 2.0 < 40.0 < saturation["gore"]
    r, g, _ = frames["gore"].reshape(-1, 3).mean(0)
    assert r > g + 30
    assert np.abs(frames["gore"] - frames["void"]).mean() > 30


def test_same_seed_same_frames_other_seed_other_shuffle():
    images = [Image.new("RGB", (32, 18), (30 * i, 200 - 30 * i, 100)) for i in range(6)]
    background = {"seconds_per_image": 1.0, "shuffle": True}
    times = [k + 0.5 for k in range(6)]

    def run(seed):
        r = renderer([LINE], "gore", images=images, seed=seed, background={**background, "grain": 0.2})
        return [r.rgb(t) for t in times]

    first, again, other = run(1), run(1), run(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    colours = [[tuple(f[5, 5]) for f in frames] for frames in (first, other)]
    assert colours[0] != colours[1]


def test_title_card_then_lyrics():
    line = make_line("Into the pit", 5.0, 7.0)
    r, plain = renderer([line], title="Altar of Rot"), renderer([line])
    assert changed(r.rgb(1.0), plain.rgb(1.0)).sum() > 500  # title shown
    assert np.array_equal(r.rgb(3.5), plain.rgb(3.5))  # gone before the first line's lead-in
    early = make_line("Straight in", 0.5, 2.0)
    # the card is held (test_cards.py); a template may let it give way to an early line instead
    assert not np.array_equal(renderer([early], title="X").rgb(1.0), renderer([early]).rgb(1.0))
    yielding = FrameRenderer(template().replace(title={"layout": "yield"}), Timeline((early,), 60.0, "X"), grey())
    assert np.array_equal(yielding.rgb(1.0), renderer([early]).rgb(1.0))


def test_blended_path_with_ken_burns_and_crossfade():
    images = [Image.new("RGB", (64, 36), (60, 60, 60)), Image.new("RGB", (64, 36), (120, 120, 120))]
    background = {"ken_burns": 0.1, "crossfade": 1.0, "seconds_per_image": 3.0, "shuffle": False}
    r = renderer([LINE], images=images, background=background)
    still = renderer([LINE], images=images[:1], background={"seconds_per_image": 3.0})
    word = LINE.words[1]
    mask = word_mask(still, word)
    mid = 0.5 * (word.start + word.end)
    frame = r.rgb(mid)  # 2.5 s: inside the crossfade, zooming
    x0, x1 = columns(mask)
    ys, xs = np.nonzero(mask)
    head = xs < x0 + 0.3 * (x1 - x0)
    tail = xs > x0 + 0.7 * (x1 - x0)
    assert near(frame[ys[head], xs[head]], HIGH).mean() > 0.9
    assert near(frame[ys[tail], xs[tail]], PLAIN).mean() > 0.9
    decoded = yuv420p_to_rgb(r.yuv420p(mid), W, H)
    assert np.abs(decoded.astype(int) - frame.astype(int)).mean() < 2.0


def test_output_buffers_and_clip():
    r = renderer([LINE], background={"seconds_per_image": 100.0})
    assert (r.width, r.height, r.fps) == (W, H, 30)
    assert r.n_frames(10.0) == 300 and r.n_frames(10.01) == 301
    first = r.yuv420p(2.0)
    kept = first.copy()
    second = r.yuv420p(3.0)
    assert first is not second and np.array_equal(first, kept)  # previous frame survives one more call
    assert first.dtype == np.uint8 and first.shape == (W * H * 3 // 2,)
    y = first[: W * H]
    assert 16 <= y.min() and y.max() <= 235  # limited ("tv") range
    assert np.array_equal(r.yuv420p(2.0), kept)  # random access gives the same frame
    clip = r.clip(2.0)
    assert clip.duration == pytest.approx(2.0) and clip.fps == 30
    assert clip.get_frame(1.5).shape == (H, W, 3)


@pytest.mark.parametrize("font", ["anton", "black-ops-one", "oswald", "oswald-light", "cinzel", "default"])
def test_sprites_never_clip_descenders_or_accents(font):
    from composer.karaoke.render.text import TextStyle, render_line
    from composer.karaoke.template import TextSettings

    for effect in ("none", "shadow", "glow"):
        style = TextStyle.from_settings(TextSettings(font=font, effect=effect, stroke_width=3), (W, H))
        sprite = render_line(make_line("ÅÉÎ gjpqy Ģ|} ƒ", 0.0, 2.0), style, W, H)
        a = sprite.alpha
        assert a.max() == 255
        assert max(a[0].max(), a[-1].max(), a[:, 0].max(), a[:, -1].max()) == 0, (font, effect)
        assert sprite.width % 2 == 0 and sprite.height % 2 == 0  # 4:2:0 chroma pairs
