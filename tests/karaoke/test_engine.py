"""`composer karaoke` as a user runs it: the MP4 a player decodes, the sidecars beside it."""

from __future__ import annotations

import json

import numpy as np
import pysubs2
import pytest
from typer.testing import CliRunner

from composer.cli import app
from tests.mp4probe import decode_audio, frame_at, probe


@pytest.fixture(scope="module")
def rendered(song_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "song.mp4"
    result = CliRunner().invoke(
        app,
        [
            "karaoke",
            str(song_inputs.audio),
            str(song_inputs.lyrics),
            "--images",
            str(song_inputs.images),
            "-o",
            str(out),
            "--template",
            str(song_inputs.template),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_video_is_uploadable(rendered, song_inputs):
    p = probe(rendered)
    assert (p.video_codec, p.profile, p.pix_fmt) == ("h264", "High", "yuv420p")
    assert (p.width, p.height, p.fps) == (640, 360, 24.0)
    assert p.keyframe_interval == 12
    assert (p.audio_codec, p.audio_profile, p.audio_rate) == ("aac", "LC", 48000)
    assert abs(p.duration - song_inputs.duration) < 0.15
    assert p.moov_first


def test_audio_is_loud_and_not_silent(rendered):
    import pyloudnorm

    samples, rate = decode_audio(rendered)
    loudness = pyloudnorm.Meter(rate).integrated_loudness(samples.T.astype(np.float64))
    assert -15.5 < loudness < -12.5
    assert np.abs(samples).max() < 10 ** (-0.5 / 20)  # true-peak ceiling survives AAC


def test_sidecars_are_beside_the_video_and_inside_it(rendered, song_inputs):
    stem = rendered.with_suffix("")
    timeline = json.loads(stem.with_suffix(".json").read_text())
    assert len(timeline["lines"]) == len(song_inputs.line_times)
    for line in timeline["lines"]:
        assert 0 <= line["start"] < line["end"] <= song_inputs.duration
    ass = pysubs2.load(str(stem.with_suffix(".ass")))
    assert "\\kf" in ass.events[0].text
    assert max(e.end for e in ass.events) <= song_inputs.duration * 1000 + 10
    lrc = stem.with_suffix(".lrc").read_text()
    assert lrc.count("<") >= sum(len(line["words"]) for line in timeline["lines"])
    srt = pysubs2.load(str(stem.with_suffix(".srt")))
    assert len(srt.events) == len(timeline["lines"])
    from PIL import Image

    assert Image.open(stem.with_suffix(".png")).size == (640, 360)


def _sweep_column(frame: np.ndarray) -> float | None:
    """x where red (sung) text gives way to white (unsung) text, in the text row being swept."""
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    red = (r > 170) & (g < 90) & (b < 90)
    white = (r > 170) & (g > 170) & (b > 170)
    rows = red.any(axis=1) & white.any(axis=1)
    if rows.sum() < 5:
        return None
    red_cols = np.nonzero(red[rows].any(axis=0))[0]
    white_cols = np.nonzero(white[rows].any(axis=0))[0]
    # a column cut: all that is sung lies left of all that is still to sing
    assert np.percentile(red_cols, 98) <= np.percentile(white_cols, 2) + 3
    return float(np.percentile(red_cols, 98))


def test_sweep_covers_first_part_of_word_not_its_end(rendered):
    """Halfway through a word the highlight has passed the word's start and not reached its end."""
    timeline = json.loads(rendered.with_suffix(".json").read_text())
    words = [w for line in timeline["lines"] for w in line["words"] if len(w["text"]) >= 5]
    word = max(words, key=lambda w: w["end"] - w["start"])
    span = word["end"] - word["start"]
    cuts = [_sweep_column(frame_at(rendered, word["start"] + f * span)) for f in (0.1, 0.5, 0.9)]
    assert None not in cuts, cuts
    early, middle, late = cuts
    assert early + 5 < middle < late - 5, cuts
