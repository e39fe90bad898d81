"""Video backgrounds (`karaoke --background loop.mp4`) and the MoviePy `KaraokeClip`: what a viewer sees."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from composer.karaoke.clip import KaraokeClip, LyricLayer
from composer.karaoke.render.frames import FrameRenderer
from composer.karaoke.render.videobg import VideoBackground
from composer.karaoke.template import load_template
from tests.clirun import cli
from tests.procs import alive, descendants

RED, BLUE = (220, 30, 30), (30, 30, 220)


def _loop_video(path: Path, seconds: float = 2.0, size=(320, 240), fps: int = 25) -> Path:
    """A clip red for its first second and blue after, in another size, shape and rate than the render's."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(round(seconds * fps)):
            rgb = np.empty((size[1], size[0], 3), np.uint8)
            rgb[...] = RED if i < fps else BLUE
            for packet in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def _frames_at(path: Path, times: list[float]) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = {round(float(f.pts * stream.time_base), 3): f.to_ndarray(format="rgb24") for f in c.decode(stream)}
    keys = np.array(sorted(frames))
    return [frames[keys[np.abs(keys - t).argmin()]] for t in times]


def test_karaoke_over_a_looping_video(song_inputs, tmp_path):
    loop = _loop_video(tmp_path / "loop.mp4")
    out = tmp_path / "out" / "song.mp4"
    out.parent.mkdir()
    before = descendants(os.getpid())
    res = cli(
        "karaoke", song_inputs.audio, song_inputs.lyrics, "--background", loop, "-o", out,
        "--template", song_inputs.template, "-q",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert not alive(descendants(os.getpid()) - before), "the background's ffmpeg was left running"
    # the top-left corner never has lyrics: it shows the clip, looped every 2 s, red then blue
    for frame, colour in zip(_frames_at(out, [0.5, 1.5, 2.5, 3.5, 12.5]), [RED, BLUE, RED, BLUE, RED]):
        corner = frame[:40, :80].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - colour).max() < 25, (corner, colour)
    assert (out.parent / "song.png").exists() and (out.parent / "song.ass").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (("--images", "IMAGES", "--background", "LOOP"), "either"),
        ((), "either"),
        (("--background", "NOTVIDEO"), "not a readable video"),
        (("--background", "LYRICS"), "not a video background"),
    ],
)
def test_bad_background_fails_cleanly(song_inputs, tmp_path, args, words):
    (tmp_path / "notvideo.mp4").write_text("this is not a video")
    paths = {
        "IMAGES": song_inputs.images,
        "LOOP": _loop_video(tmp_path / "loop.mp4", seconds=0.2),
        "NOTVIDEO": tmp_path / "notvideo.mp4",
        "LYRICS": song_inputs.lyrics,
    }
    out = tmp_path / "out.mp4"
    res = cli("karaoke", song_inputs.audio, song_inputs.lyrics, "-o", out, *[paths.get(a, a) for a in args], "-q")
    assert res.exit_code != 0 and words in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()


def test_video_background_seeks_back_and_stops_its_ffmpeg(tmp_path):
    loop = _loop_video(tmp_path / "loop.mp4")
    before = descendants(os.getpid())
    with VideoBackground(loop, (64, 48), 10) as bg:
        from composer.karaoke.render.background import RGB24

        frame = np.zeros((48, 64, 3), np.uint8)
        seen = []
        for t in (0.5, 1.5, 0.2, 3.6, 100.5):  # forward, back, forward, a long jump ahead
            bg.draw(t, RGB24, [frame])
            seen.append(frame.reshape(-1, 3).mean(axis=0))
        running = alive(descendants(os.getpid()) - before)
        assert running, "ffmpeg decodes ahead while the background is open"
    expected = [RED, BLUE, RED, BLUE, RED]
    for got, colour in zip(seen, expected):
        assert np.abs(got - colour).max() < 25, (got, colour)
    assert not alive(set(running))


def _timeline():
    from composer.karaoke.preview import even_timeline, sample_lyrics

    return even_timeline(sample_lyrics(), title="Carrion Hymn")


def test_karaoke_clip_matches_the_fast_path_where_the_lyrics_are_opaque(song_inputs):
    from moviepy import ColorClip, CompositeVideoClip

    from composer.karaoke.render.background import load_images

    tmpl = load_template("gore").replace(video={"width": 640, "height": 360})
    timeline = _timeline()
    fast = FrameRenderer(tmpl, timeline, load_images(song_inputs.images)).rgb(4.5).astype(int)
    colour, alpha = LyricLayer(timeline, tmpl).at(4.5)
    opaque = alpha >= 0.999
    assert opaque.sum() > 2000 and (alpha == 0).mean() > 0.7  # text, and mostly nothing
    assert np.abs(fast[opaque] - colour[opaque]).max() <= 1
    # composed over a user's clip: their clip where there are no lyrics, composer's pixels where there are
    green = ColorClip((640, 360), color=(0, 90, 0), duration=8)
    clip = KaraokeClip(timeline, tmpl, duration=8)
    assert clip.fps == tmpl.fps and clip.mask is not None
    frame = CompositeVideoClip([green, clip]).get_frame(4.5).astype(int)
    assert np.abs(frame[opaque] - fast[opaque]).max() <= 1
    assert (frame[alpha == 0] == (0, 90, 0)).all()
    small = KaraokeClip(timeline, "gore", size=(320, 180), duration=8)  # drawn at the user's clip size
    assert small.get_frame(4.5).shape == (180, 320, 3) and small.mask.get_frame(4.5).max() == 1.0
    # the sweep moves: the highlighted (gore's red) share of the text grows along the line
    layer = LyricLayer(timeline, tmpl)

    def sung(t: float) -> int:
        rgb, a = layer.at(t)
        return int(((rgb[..., 0] > 150) & (rgb[..., 1] < 40) & (rgb[..., 2] < 40) & (a > 0.99)).sum())

    assert sung(3.5) < sung(4.5) < sung(5.5)
