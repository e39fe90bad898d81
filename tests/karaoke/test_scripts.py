"""Lyrics in any script: glyphs from the fallback chain or one clear refusal, never boxes for missing glyphs.

Hostile and careless inputs tried here: Cyrillic, Greek, Arabic, Hebrew, Devanagari and emoji in a template
whose font has none of them; Arabic read right to left by the sweep; Chinese (no bundled font); a --title in
Chinese; zero-width spaces, joiners, direction marks and a BOM inside words and titles.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from composer.errors import ComposerError
from composer.karaoke.render import fontchain
from composer.karaoke.render.fontchain import load_chain
from composer.karaoke.render.frames import FrameRenderer
from composer.karaoke.render.text import TextStyle, hex_rgb, render_line
from composer.karaoke.template import load_template
from composer.media.fonts import FALLBACKS, codepoints, fallback_font, installed, load_font
from composer.media.lyricsfile import read_lyrics
from composer.media.sidecars import write_sidecars
from composer.media.timing import make_line
from composer.types import Timeline
from tests.clirun import karaoke_cli

SIZE = 64
SCRIPTS = {
    "cyrillic": "Кровь и пепел",
    "greek": "Φωτιά και στάχτη",
    "arabic": "طقوس الموت",
    "hebrew": "דם ואפר",
    "devanagari": "नरक की आग",
    "emoji": "🔥💀🤘",
    "cjk": "地獄の炎 불",
}
CJK_FONTS = all(installed(f) for f in FALLBACKS if f.extra == "cjk")  # pip install 'composer[cjk]'

NO_FONT_HAS_IT = "\U0010fffd"  # private use, last plane: every font in the chain draws its .notdef box for it


def ink(image: Image.Image) -> np.ndarray:
    """The inked pixels of a glyph image, cropped to their bounding box."""
    a = np.asarray(image) > 96
    if not a.any():
        return a
    ys, xs = np.nonzero(a)
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def draw_alone(draw_text) -> np.ndarray:
    image = Image.new("L", (4 * SIZE, 3 * SIZE))
    draw_text(ImageDraw.Draw(image))
    return ink(image)


def tofu_boxes() -> list[np.ndarray]:
    """What a missing glyph looks like in each font of the chain (the template's font and every fallback)."""
    faces = [load_font("black-ops-one", SIZE)] + [fallback_font(f, SIZE) for f in FALLBACKS if installed(f)]
    return [
        draw_alone(lambda d, f=f: d.text((SIZE, 2 * SIZE), NO_FONT_HAS_IT, font=f, fill=255, anchor="ls"))
        for f in faces
    ]


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(s, marks=pytest.mark.skipif(s == "cjk" and not CJK_FONTS, reason="optional CJK fonts absent"))
        for s in SCRIPTS
    ],
)
def test_lyrics_in_a_script_the_template_font_lacks_are_drawn_with_glyphs_not_boxes(script):
    text = SCRIPTS[script]
    letters = [ch for ch in text if not ch.isspace()]
    # gore's font (Black Ops One) has none of these: without the fallback chain each would be a box
    assert not any(ord(ch) in codepoints("black-ops-one") for ch in letters)
    chain = load_chain("black-ops-one", SIZE)
    boxes = tofu_boxes()
    for ch in letters:
        glyph = draw_alone(lambda d, ch=ch: chain.draw(d, (SIZE, SIZE), ch, False, SIZE, fill=255))
        assert glyph.sum() > 20, f"{ch!r} drew no ink"
        assert all(glyph.shape != box.shape or not np.array_equal(glyph, box) for box in boxes), f"{ch!r} is tofu"
    # and a whole line becomes a sprite with ink, as the renderer draws it
    style = TextStyle.from_settings(load_template("gore").text, (1280, 720))
    sprite = render_line(make_line(text, 1.0, 4.0), style, 1200, 300)
    assert int((sprite.fill > 128).sum()) > 200


def test_a_character_no_font_has_is_refused_when_drawn():
    style = TextStyle.from_settings(load_template("gore").text, (1280, 720))
    with pytest.raises(ComposerError, match=r"U\+E000 '\\ue000'.*'black-ops-one'"):
        render_line(make_line("Burn \ue000", 1.0, 4.0), style, 1200, 300)  # private use: no font has it


def test_without_libraqm_right_to_left_lyrics_are_refused_rather_than_drawn_unjoined(monkeypatch):
    monkeypatch.setattr(fontchain, "has_raqm", lambda: False)
    chain = fontchain.FontChain("anton", SIZE)
    assert chain.lacks("ط") and not chain.lacks("Ж")
    with pytest.raises(ComposerError, match="libraqm"):
        chain.runs("طقوس الموت")


def test_mixed_directions_keep_each_phrase_in_reading_order():
    chain = load_chain("anton", SIZE)
    latin_line = [r.text for r in chain.runs("BLOOD طقوس الموت AND FIRE")]
    assert latin_line == ["BLOOD ", "طقوس الموت", " AND FIRE"]  # the Arabic phrase sits where it is sung
    arabic_line = [r.text.strip() for r in chain.runs("طقوس BLOOD AND FIRE الموت", rtl=True)]
    # read right to left: طقوس, then the English phrase (left to right inside), then الموت at the far left
    assert [t for t in arabic_line if t] == ["الموت", "BLOOD AND FIRE", "طقوس"]


# ---------------------------------------------------------------------------------------- sweep direction

W, H = 640, 360
PLAIN, HIGH = hex_rgb("#ffffff"), hex_rgb("#1e6cff")  # classic's colours
STILL = {"crossfade": 0.0, "ken_burns": 0.0, "grain": 0.0, "tint_strength": 0.0, "brightness": 1.0, "saturation": 1.0}


# a still image takes the cached-composite path; Ken Burns zoom the per-frame blend
BACKGROUNDS = {"still": STILL, "ken-burns": {**STILL, "ken_burns": 0.1}}


def frame_at_midpoint(text: str, background: dict) -> np.ndarray:
    tmpl = load_template("classic").replace(
        video={"width": W, "height": H}, text={"highlight": "smooth"}, background=background
    )
    line = make_line(text, 1.0, 4.0)
    renderer = FrameRenderer(tmpl, Timeline((line,), 10.0, ""), [Image.new("RGB", (64, 36), (90, 90, 90))])
    return renderer.rgb(0.5 * (line.start + line.end))


def lit_and_unlit_columns(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def near(colour):
        return np.linalg.norm(frame.astype(float) - np.array(colour, float), axis=-1) < 30

    return np.nonzero(near(HIGH).any(axis=0))[0], np.nonzero(near(PLAIN).any(axis=0))[0]


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_an_arabic_line_is_swept_from_the_right(background):
    frame = frame_at_midpoint("طقوس الموت في الظلام الأبدي", BACKGROUNDS[background])
    lit, unlit = lit_and_unlit_columns(frame)
    assert lit.size > 20 and unlit.size > 20  # halfway: part sung, part not
    assert unlit.max() < lit.min()  # sung text on the right, the rest on the left


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_a_latin_line_is_still_swept_from_the_left(background):
    lit, unlit = lit_and_unlit_columns(frame_at_midpoint("Burning decapitation ritual", BACKGROUNDS[background]))
    assert lit.size > 20 and unlit.size > 20
    assert lit.max() < unlit.min()


# ---------------------------------------------------------------------------------------- the CLI


def assert_refused(result, out, *needles):
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert not out.exists() and not out.with_suffix(".lrc").exists()


@pytest.mark.skipif(CJK_FONTS, reason="the optional CJK fonts are installed")
def test_lyrics_no_bundled_font_can_draw_are_refused_naming_file_characters_and_font(song_inputs, tmp_path):
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text("Burn the 我们 tonight\nКровь и пепел\n", encoding="utf-8")
    out = tmp_path / "v.mp4"
    # the small test template sets lyrics in Anton
    assert_refused(
        karaoke_cli(song_inputs, lyrics, out),
        out,
        "lyrics.txt",
        "U+6211 '我'",
        "U+4EEC '们'",
        "'anton'",
        "pip install manimgx-fonts-cjk",
    )


def test_a_character_in_no_font_at_all_is_refused_via_the_cli(song_inputs, tmp_path):
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text("Burn the \ue000 tonight\n", encoding="utf-8")
    out = tmp_path / "v.mp4"
    assert_refused(karaoke_cli(song_inputs, lyrics, out), out, "lyrics.txt", "U+E000", "'anton'")


def test_a_title_no_bundled_font_can_draw_is_refused_naming_the_option(song_inputs, tmp_path):
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text(song_inputs.lyrics.read_text(encoding="utf-8"), encoding="utf-8")
    titled = tmp_path / "lyrics.txt.toml"  # the small template with its title card on
    small = song_inputs.template.read_text(encoding="utf-8")
    titled.write_text(small.replace("[title]\nenabled = false", "[title]\nenabled = true"), encoding="utf-8")
    assert titled.read_text(encoding="utf-8") != small
    out = tmp_path / "v.mp4"
    result = karaoke_cli(song_inputs, lyrics, out, "--title", "Hymn \ue000", "--template", titled)
    assert_refused(result, out, "--title", "U+E000")


# ---------------------------------------------------------------------------------------- invisible characters

INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"


def test_zero_width_and_bidi_controls_never_reach_a_sidecar(tmp_path):
    lrc = tmp_path / "song.lrc"
    lrc.write_text(
        "[ti:Grave\u200b\u202eyard]\n"
        "[00:01.00]<00:01.00>Ro\u200btten <00:02.00>fl\u200d\u2066esh\u2069\u200f\n"
        "[00:04.00]\ufeffSlow \u2060dec\u202aay\u202c\u200e\n[00:07.00]\n",
        encoding="utf-8",
    )
    timeline = read_lyrics(lrc, 10.0)
    assert [ln.text for ln in timeline.lines] == ["Rotten flesh", "Slow decay"]
    assert timeline.title == "Graveyard"
    (tmp_path / "out").mkdir()
    style = load_template("classic").replace(video={"width": 640, "height": 360}).ass_style()
    paths = write_sidecars(timeline, tmp_path / "out" / "v.mp4", **style)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            text = json.dumps(json.loads(text), ensure_ascii=False)  # \\u escapes count too
        assert not set(text) & set(INVISIBLE), path.name
        assert "flesh" in text and "Slow" in text
