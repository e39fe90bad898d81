"""Readable pacing and count-ins, as a viewer meets them: no sweep faster than the cap, lines on screen long
enough to read, what comes next over a long gap, and dots that count in to the first syllable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from composer.karaoke.pacing import MIN_GAP_S, pace, syllable_rate
from composer.karaoke.render.frames import FrameRenderer
from composer.karaoke.template import hex_rgb, load_template
from composer.media.syllables import line_syllables
from composer.media.timing import make_line
from composer.types import Timeline

W, H = 640, 360
GREY = (90, 90, 90)
STILL = {"crossfade": 0.0, "ken_burns": 0.0, "grain": 0.0, "tint_strength": 0.0, "brightness": 1.0, "saturation": 1.0}
CAP = 4.5


def timeline(*lines, duration=60.0):
    return Timeline(tuple(lines), duration, "")


def render(lines, countin=None, title="", **text):
    tmpl = load_template("classic").replace(
        video={"width": W, "height": H}, text=text, background=STILL, countin={"size": 60, **(countin or {})}
    )
    return FrameRenderer(tmpl, timeline(*lines), [Image.new("RGB", (64, 36), GREY)], title=title)


def test_a_too_fast_line_is_swept_into_the_quiet_after_it():
    fast = make_line("Eyes of sludge, teeth of throne", 10.0, 10.22)  # the 0.22 s
    after = make_line("Feed the sigil", 14.0, 16.0)
    paced = pace(timeline(fast, after), CAP)
    line = paced.lines[0]
    assert line.start == 10.0, "the sweep still starts when the singer does"
    assert syllable_rate(line) <= CAP + 1e-6
    assert line.end <= after.start - MIN_GAP_S
    # words and syllables stretch with it, in order, inside the line
    assert line.words[0].start == 10.0 and line.words[-1].end == pytest.approx(line.end)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(line.words, line.words[1:]))
    assert paced.lines[1] == after
    assert paced.meta["repaced"] == [
        {"line": 0, "text": fast.text, "from": [10.0, 10.22], "to": [10.0, round(line.end, 4)]}
    ]
    assert paced.meta["too_fast"] == [] and paced.meta["max_syllables_per_s"] == CAP


def test_a_repaced_line_keeps_its_voice_and_its_unsure_mark():
    fast = dataclasses.replace(make_line("Eyes of sludge, teeth of throne", 10.0, 10.22), voice="screamer")
    unsure = dataclasses.replace(fast, words=(), unsure=True, voice="")
    for line in (fast, unsure):
        paced = pace(timeline(line), CAP).lines[0]
        assert syllable_rate(paced) <= CAP + 1e-6
        assert (paced.voice, paced.unsure) == (line.voice, line.unsure)


def test_with_no_room_after_it_a_line_starts_earlier_and_never_overlaps():
    before = make_line("Into the pit", 5.0, 8.0)
    fast = make_line("Feed the sigil with scorched tongues", 9.0, 9.85)
    after = make_line("Rise again", 9.9, 12.0)
    paced = pace(timeline(before, fast, after), CAP)
    line = paced.lines[1]
    assert line.end == pytest.approx(fast.end) and line.start < fast.start
    assert syllable_rate(line) <= CAP + 1e-6
    assert line.start >= before.end + MIN_GAP_S - 1e-9
    paced.validate()


def test_a_line_boxed_in_on_both_sides_is_reported_too_fast():
    lines = [make_line("Into the pit", 5.0, 8.0), make_line("Eyes of sludge, teeth of throne", 8.0, 8.3)]
    lines.append(make_line("Rise again", 8.3, 10.0))
    paced = pace(timeline(*lines), CAP)
    assert paced.meta["too_fast"] == [1]
    assert all(syllable_rate(ln) <= CAP for k, ln in enumerate(paced.lines) if k != 1)


def test_readable_lines_are_left_alone():
    lines = (make_line("Into the pit", 1.0, 3.0), make_line("Rise again", 3.5, 5.0))
    paced = pace(timeline(*lines), CAP)
    assert paced.lines == lines and paced.meta["repaced"] == []


def changed(a: np.ndarray, b: np.ndarray, threshold: int = 60) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > threshold


def test_a_long_gap_shows_the_next_line_faded():
    a, b = make_line("Into the pit", 1.0, 3.0), make_line("Rise again", 20.0, 23.0)
    r, empty = render([a, b]), render([])
    bg = empty.rgb(10.0)
    faded = r.rgb(10.0)
    shown = changed(faded, bg)
    assert shown.sum() > 100, "an empty screen in the middle of the song"
    sung = changed(r.rgb(20.5), bg)
    assert (shown & sung).sum() > 0.5 * shown.sum(), "the next line, where it will be sung"
    # faded: where the line's letters are white at full strength, the faded ones are much darker
    full = r.rgb(19.0)  # on screen at full strength, not yet swept
    fill = np.linalg.norm(full.astype(float) - hex_rgb("#ffffff"), axis=2) < 30
    assert fill.sum() > 100
    assert faded[fill].mean() < full[fill].mean() - 60
    title = render([a, b], title="Altar of Rot", gap_show="title").rgb(10.0)
    assert changed(title, faded).sum() > 100, "the title instead"


def test_a_line_of_many_words_comes_in_earlier_than_a_short_one():
    short = make_line("Rise", 20.0, 21.0)
    long = make_line("Rise again from the burning grave of kings", 20.0, 23.0)
    quiet = {"gap_show": "none"}
    no_dots = {"style": "none"}
    bg = render([]).rgb(18.0)
    lead = load_template("classic").text.lead_in
    t = 20.0 - lead - 0.5  # before the template's lead-in
    assert not changed(render([short], countin=no_dots, **quiet).rgb(t), bg).any()
    assert changed(render([long], countin=no_dots, **quiet).rgb(t), bg).sum() > 100
    # eight words at 3 words a second: on screen 2.67 s before the sweep, not earlier
    assert not changed(render([long], countin=no_dots, **quiet).rgb(20.0 - 8 / 3.0 - 0.1), bg).any()


@pytest.mark.parametrize("fmt", ["rgb", "yuv420p"])
def test_dots_count_in_to_the_first_syllable_one_going_out_a_beat(fmt):
    from composer.karaoke.render.background import yuv420p_to_rgb

    a, b = make_line("Into the pit", 1.0, 3.0), make_line("Rise again", 20.0, 23.0)
    r = render([a, b], countin={"beats": 4, "seconds": 2.0})
    plain = render([a, b], countin={"style": "none"})

    def frame(renderer, t):
        return renderer.rgb(t) if fmt == "rgb" else yuv420p_to_rgb(renderer.yuv420p(t), W, H)

    boxes = r.countin.dot_boxes(1)
    assert len(boxes) == 4

    def lit(t):
        diff = changed(frame(r, t), frame(plain, t), 40)
        return [bool(diff[y : y + h, x : x + w].sum() > 0.3 * w * h) for x, y, w, h in boxes]

    assert lit(17.9) == [False] * 4, "no count-in before its time"
    assert lit(18.1) == [True] * 4
    assert lit(18.6) == [False, True, True, True]
    assert lit(19.1) == [False, False, True, True]
    assert lit(19.6) == [False, False, False, True]
    assert lit(20.05) == [False] * 4, "gone on the first syllable"
    # the dots sit above the line, clear of its letters
    x, y, h, w = r.line_box(1)
    assert all(by + bh <= y for _, by, _, bh in boxes)
    # the line is on screen through its whole count-in, even when the template shows nothing over gaps
    quiet = render([a, b], gap_show="none")
    bg = render([]).rgb(18.1)
    x, y, h, w = quiet.line_box(1)
    assert changed(quiet.rgb(18.1), bg)[y : y + h, x : x + w].sum() > 100
    # a pause shorter than after_gap gets none
    close = render([a, make_line("Rise again", 5.5, 8.0)])
    assert close.countin.cues == []


def test_bar_fills_towards_the_first_syllable():
    a, b = make_line("Into the pit", 1.0, 3.0), make_line("Rise again", 20.0, 23.0)
    r = render([a, b], countin={"style": "bar", "seconds": 2.0})
    plain = render([a, b], countin={"style": "none"})
    colour = np.array(hex_rgb(load_template("classic").countin.color), float)
    x, y, w, h = r.countin.box(1)

    def filled(t):
        patch = r.rgb(t)[y : y + h // 2, x : x + w].astype(float)
        near = np.linalg.norm(patch - colour, axis=2) < 60
        return near.any(axis=0).sum()

    assert changed(r.rgb(18.2), plain.rgb(18.2))[y : y + h, x : x + w].any()
    assert 0 < filled(18.5) < filled(19.0) < filled(19.9)
    assert filled(19.9) > 0.8 * w


def test_template_rejects_a_bad_count_in(tmp_path):
    from composer.errors import ComposerError
    from composer.karaoke.template import load_template as load

    path = tmp_path / "t.toml"
    path.write_text('[countin]\nstyle = "arrows"\n')
    with pytest.raises(ComposerError, match=r'\[countin\] style = "arrows": allowed values are "dots", "bar"'):
        load(path)
    path.write_text("[text]\nmax_syllables_per_s = 0\n")
    with pytest.raises(ComposerError, match=r"\[text\] max_syllables_per_s = 0: allowed range is 1 to 50"):
        load(path)


def test_every_builtin_template_caps_the_rate_and_counts_in():
    from composer.karaoke.template import builtin_templates

    for name in builtin_templates():
        tmpl = load_template(name)
        assert 3.0 <= tmpl.text.max_syllables_per_s <= 6.0, name
        assert tmpl.countin.style in ("dots", "bar"), name
        # the line, sung in 0.22 s, would now take more than a second
        assert line_syllables("Eyes of sludge, teeth of throne") / tmpl.text.max_syllables_per_s > 1.0, name
