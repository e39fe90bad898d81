"""`composer render --band`: a debug band trained in seconds, rendered in tandem and one stage after another."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from composer.band.render import plan_songs, render_band
from composer.errors import ComposerError
from composer.util.files import OUTPUT_RECORD
from tests.conftest import SMALL_TEMPLATE
from tests.mp4probe import decode_audio, probe
from tests.procs import alive, children, composer, run, started


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tandem_render_is_a_finished_video_and_matches_sequential(debug_band, tmp_path):
    a = render_band(debug_band, 24.0, tmp_path / "a" / "v.mp4", songs=2, seed=5)
    b = render_band(debug_band, 24.0, tmp_path / "b" / "v.mp4", songs=2, seed=5, tandem=False)
    # the same seed gives the same video whichever way the stages are scheduled
    assert _sha(a.video) == _sha(b.video)
    assert (tmp_path / "a" / "v.json").read_text() == (tmp_path / "b" / "v.json").read_text()

    p = probe(a.video)
    assert p.video_codec == "h264" and p.audio_codec == "aac" and (p.width, p.height) == (640, 360)
    assert abs(p.duration - 24.0) < 0.15 and p.frames == 24 * 24
    samples, rate = decode_audio(a.video)
    assert rate == 48000 and abs(samples.shape[1] / rate - 24.0) < 0.1
    assert float(np.sqrt(np.mean(samples**2))) > 0.01  # not silence
    timeline = json.loads((tmp_path / "a" / "v.json").read_text())
    assert timeline["lines"], "a render with no lyrics"
    assert all(0 <= ln["start"] < ln["end"] <= 24.0 for ln in timeline["lines"])
    # readable pacing over the whole render: no line swept faster than the template's cap
    from composer.karaoke.template import load_template
    from composer.media.syllables import line_syllables

    cap = load_template(debug_band.template).text.max_syllables_per_s
    assert timeline["meta"]["max_syllables_per_s"] == cap
    for ln in timeline["lines"]:
        assert line_syllables(ln["text"]) / (ln["end"] - ln["start"]) <= cap + 1e-3, ln["text"]
    assert [s["start"] for s in timeline["meta"]["songs"]] == [0.0, 12.0]
    # every sidecar and the upload kit are there; the description carries chapters and lyrics
    for ext in (".ass", ".lrc", ".srt", ".png", ".description.txt", ".upload.json"):
        assert a.video.with_suffix(ext).is_file(), ext
    desc = a.video.with_suffix(".description.txt").read_text()
    assert f"0:00 {a.songs[0].title}" in desc and f"0:12 {a.songs[1].title}" in desc
    assert timeline["lines"][0]["text"] in desc
    assert a.stages.audio > 0 and a.stages.render > 0
    # nothing but the outputs (and the record of them) is left beside them
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        [OUTPUT_RECORD]
        + [f"v{ext}" for ext in (".mp4", ".ass", ".lrc", ".srt", ".json", ".png", ".description.txt", ".upload.json")]
    )


@pytest.fixture(scope="module")
def two_versions(debug_band, tmp_path_factory):
    """Seed 3's 12 s song rendered with the band's own template (red) and a blue one: made once, two tests read it."""
    from composer.band.render import render_band_versions

    root = tmp_path_factory.mktemp("versions")
    blue = root / "blue.toml"
    blue.write_text(SMALL_TEMPLATE.replace('highlight_color = "#ff0000"', 'highlight_color = "#0000ff"'))
    return render_band_versions(debug_band, 12.0, [(None, root / "red.mp4"), (blue, root / "blue.mp4")], seed=3)


def test_other_seed_other_song(debug_band, two_versions, tmp_path):
    red, _ = two_versions  # seed 3, the band's own template
    other = render_band(debug_band, 12.0, tmp_path / "b.mp4", seed=4)
    assert _sha(red.video) != _sha(other.video)
    a, _ = decode_audio(red.video)
    b, _ = decode_audio(other.video)
    assert a.shape == b.shape and not np.array_equal(a, b)  # another song, not only another look


def test_failed_render_keeps_earlier_video(debug_band, tmp_path):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"earlier video")
    with pytest.raises(ComposerError):
        render_band(debug_band, 12.0, out, template="no-such-template")
    assert out.read_bytes() == b"earlier video"


@pytest.mark.parametrize(
    ("seconds", "songs", "needle"),
    [
        (0, None, "positive"),
        (-5, None, "positive"),
        (30, 4, "at least 10 s"),
        (30, 0, "at least 1"),
        (3 * 3600, 1, "--songs 9 or more"),
    ],
)
def test_bad_lengths(seconds, songs, needle):
    with pytest.raises(ComposerError, match=needle):
        plan_songs(seconds, songs)


def test_song_plan_adds_up():
    lengths = plan_songs(600.0)
    assert len(lengths) == 3 and abs(sum(lengths) - 600.0) < 1e-9
    assert plan_songs(20.0) == [20.0]
    # at the model's rate, every song is whole samples: the songs' starts in the video fall on samples
    for rate in (16000, 22050):
        lengths = plan_songs(100.00003, 3, rate)
        assert all(abs(x * rate - round(x * rate)) < 1e-6 for x in lengths)
        assert abs(sum(lengths) - 100.00003) <= 1 / rate


def _audio_and_ffmpeg_running(proc) -> set[int]:
    """The render's processes, once its audio process and ffmpeg are both running."""
    deadline = time.time() + 60
    kids: set[int] = set()
    while time.time() < deadline and len(kids) < 2:
        time.sleep(0.3)
        kids = children(proc)
    assert len(kids) >= 2
    return kids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_interrupt_leaves_no_file_and_no_process(debug_band, tmp_path, sig):
    out, work = tmp_path / "out", tmp_path / "tmp"
    work.mkdir()
    cmd = composer(
        "render", "--band", "debugband", "--bands-dir", debug_band.folder.parent, "--length", "60s", "-o", out / "v.mp4"
    )
    env = {**os.environ, "TMPDIR": str(work)}
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        kids = _audio_and_ffmpeg_running(proc)
        time.sleep(1.0)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)  # drains the pipes: a full one would block the render's exit
        assert proc.returncode == 128 + sig, err
        assert b"Traceback" not in err, err
        assert not out.exists() or list(out.iterdir()) == []
        assert list(work.iterdir()) == []
        time.sleep(0.5)
        assert alive(kids) == []


def test_a_render_killed_outright_leaves_no_process(debug_band, tmp_path):
    # SIGKILL (the OOM killer) runs no clean-up: the audio process must end with the render, not generate on
    # and then wait forever for a renderer that is gone, holding the terminal's pipes
    cmd = composer(
        "render", "--band", "debugband", "--bands-dir", debug_band.folder.parent, "--length", "60s", "-o",
        tmp_path / "v.mp4",
    )  # fmt: skip
    with started(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        kids = _audio_and_ffmpeg_running(proc)
        proc.kill()
        proc.wait()
        deadline = time.time() + 30
        while alive(kids) and time.time() < deadline:
            time.sleep(0.2)
        assert alive(kids) == []


def test_full_disk_is_one_clean_error(debug_band, tmp_path):
    """A file-size limit makes every write past 3 MB fail as on a full disk (ffmpeg's included)."""
    import resource

    out = tmp_path / "out"

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, 3_000_000))

    cmd = composer(
        "render",
        "--band",
        "debugband",
        "--bands-dir",
        debug_band.folder.parent,
        "--length",
        "30s",
        "-o",
        out / "v.mp4",
        "--quiet",
    )
    r = run(cmd, preexec=limit, timeout=300)
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_one_song_rendered_with_two_templates(two_versions):
    red, other = two_versions
    assert red.timeline == other.timeline  # generated and timed once
    a, _ = decode_audio(red.video)
    b, _ = decode_audio(other.video)
    assert np.array_equal(a, b)
    assert _sha(red.video) != _sha(other.video)


def test_a_phrase_too_short_for_its_line_gets_a_shorter_line_or_none(debug_band):
    # the aligner put a seven-syllable line on a 0.8 s phrase between two others: no room to sweep it slower,
    # so the lyric model writes a line that fits, or the phrase goes without words
    from composer.band.render import _readable
    from composer.karaoke.pacing import syllable_rate
    from composer.media.timing import make_line
    from composer.models.lyricgpt.generate import LyricStream
    from composer.types import Timeline

    lines = (
        make_line("Into the pit we go", 2.0, 5.0),
        make_line("Eyes of sludge, teeth of throne", 5.2, 6.0),
        make_line("Rise again", 6.2, 9.0),
        make_line("Feed the sigil with scorched tongues", 9.1, 12.0),
    )
    cap = 4.5
    out = _readable(Timeline(lines, 20.0, "Rot"), LyricStream(debug_band.weights("lyrics"), 3), cap)
    assert all(syllable_rate(ln) <= cap + 1e-6 for ln in out.lines)
    assert out.lines[0] == lines[0] and [ln.text for ln in out.lines[-2:]] == [lines[2].text, lines[3].text]
    assert lines[1].text not in [ln.text for ln in out.lines]
    shortened, dropped = out.meta["shortened"], out.meta["dropped_too_fast"]
    assert len(shortened) + len(dropped) == 1
    if shortened:
        assert shortened[0]["was"] == lines[1].text and out.lines[1].text == shortened[0]["now"]
        assert 5.0 < out.lines[1].start and out.lines[1].end < 6.2
    else:
        assert dropped == [lines[1].text] and len(out.lines) == 3
    out.validate()


def test_a_song_without_phrasing_gets_its_words_paced_through_it():
    # a wash (the demo model's audio is one) gives the aligner no phrases: rather than two lines at the start
    # and an empty screen after, the lines follow one another through the song at a singable rate
    from composer.band.render import PACED_SYLLABLES_PER_S, _align
    from composer.media.syllables import count_syllables
    from composer.types import Audio, Lyrics

    rng = np.random.default_rng(0)
    wash = Audio((0.3 * rng.standard_normal(60 * 16000)).astype(np.float32)[:, None], 16000)
    text = [
        "Feed the sigil with scorched tongues",
        "Crowned in marrow, robed in mist",
        "Eyes of sludge, teeth of throne",
        "Behold the charnel, decayed and grey",
    ] * 6
    lyrics = Lyrics(tuple(tuple(text[k * 4 : k * 4 + 4]) for k in range(6)), title="Rot")
    timeline = _align(wash, lyrics)
    assert timeline.meta.get("paced")
    starts = [line.start for line in timeline.lines]
    assert len(starts) >= 10 and starts[-1] > 40  # words through the song, not only its first seconds
    for line in timeline.lines:
        syllables = sum(count_syllables(w) for w in line.text.split())
        assert syllables / (line.end - line.start) <= PACED_SYLLABLES_PER_S + 1e-6
    assert all(b.start >= a.end for a, b in zip(timeline.lines, timeline.lines[1:]))
