"""Two or more voices: each voice's lines look as its [voices.NAME] table says, and the voice survives every
lyric format composer reads and writes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from PIL import Image

from composer.karaoke.engine import load_audio, time_lyrics
from composer.karaoke.render.frames import FrameRenderer
from composer.karaoke.template import hex_rgb, load_template
from composer.media.lyricsfile import read_lyrics
from composer.media.sidecars import write_sidecars
from composer.media.timing import make_line
from composer.types import Timeline

W, H = 640, 360
STILL = {"crossfade": 0.0, "ken_burns": 0.0, "grain": 0.0, "tint_strength": 0.0, "brightness": 1.0, "saturation": 1.0}
GROWL = {"color": "#40ff40", "highlight_color": "#ffe000", "position": "top"}


def renderer(lines, voices=None):
    tpl = load_template("classic").replace(
        video={"width": W, "height": H}, background=STILL, title={"enabled": False}, voices=voices or {}
    )
    return FrameRenderer(tpl, Timeline(tuple(lines), 30.0, ""), [Image.new("RGB", (64, 36), (90, 90, 90))])


def near(pixels: np.ndarray, colour, tol: float = 40.0) -> np.ndarray:
    return np.linalg.norm(pixels.astype(float) - np.array(colour, float), axis=-1) < tol


def test_each_voice_has_its_colours_and_place():
    growl = replace(make_line("Eyes of sludge", 1.0, 3.0), voice="growl")
    main = make_line("Teeth of throne", 3.0, 5.0)
    r = renderer([growl, main], voices={"growl": GROWL})
    plain, high = hex_rgb(r.template.text.color), hex_rgb(r.template.text.highlight_color)
    mid = r.rgb(2.0)  # halfway through the growled line, the main voice's line previewed
    top, bottom = mid[: H // 2], mid[H // 2 :]
    assert near(top, hex_rgb(GROWL["highlight_color"])).sum() > 150, "sung part of the growl: its highlight"
    assert near(top, hex_rgb(GROWL["color"])).sum() > 150, "unsung part of the growl: its colour"
    assert near(top, high).sum() == 0 and near(top, plain, 20).sum() < 20, "none of the main voice's colours"
    assert near(bottom, plain, 20).sum() > 150, "the main voice's line at the template's place"
    assert near(bottom, hex_rgb(GROWL["color"])).sum() == 0
    later = r.rgb(4.0)  # the main voice sings in its own highlight
    assert near(later[H // 2 :], high).sum() > 150


def test_a_voice_the_template_does_not_list_looks_like_the_main_voice():
    line = make_line("Eyes of sludge", 1.0, 3.0)
    assert np.array_equal(renderer([replace(line, voice="scream")]).rgb(2.0), renderer([line]).rgb(2.0))


def test_plain_lyrics_with_voice_prefixes_round_trip_through_every_sidecar(song_inputs, tmp_path):
    lines = song_inputs.lyrics.read_text(encoding="utf-8").splitlines()
    voiced, k = [], 0
    for text in lines:
        if text.strip():
            text = ("[scream] " if k % 2 else "[Growl] ") + text if k % 3 else text
            k += 1
        voiced.append(text)
    lyrics_path = tmp_path / "voiced.txt"
    lyrics_path.write_text("\n".join(voiced) + "\n", encoding="utf-8")
    audio = load_audio(song_inputs.audio)
    timeline = time_lyrics(audio, song_inputs.audio, lyrics_path)
    voices = [line.voice for line in timeline.lines]
    assert {"scream", "growl", ""} <= set(voices), voices
    assert not any(line.text.startswith("[") for line in timeline.lines), "the prefix is not sung"
    tpl = load_template("gore").replace(voices={"scream": {"color": "#ff00ff", "position": "top"}})
    ass, lrc, _, js = write_sidecars(timeline, tmp_path / "v.mp4", **tpl.ass_style())
    for path in (ass, lrc):
        back = read_lyrics(path, timeline.duration)
        assert [(ln.text, ln.voice) for ln in back.lines] == [(ln.text, ln.voice) for ln in timeline.lines], path
    back = Timeline.from_dict(json.loads(js.read_text(encoding="utf-8")))
    assert [ln.voice for ln in back.lines] == voices
    assert "Style: scream," in ass.read_text(encoding="utf-8") and "&H00FF00FF" in ass.read_text(encoding="utf-8")
