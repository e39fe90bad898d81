"""`composer stream`: a debug band streamed live to HLS, read back the way a player would read it.

The runs are short (tens of seconds of stream) and paced faster than real time with the hidden test-only
``--speed``; nothing here asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from composer.karaoke.render.background import load_images, yuv420p_to_rgb
from composer.karaoke.template import load_template
from composer.stream.live import HOLDING_TEXT, TEST_HOLD_ENV, holding_card
from tests.procs import alive, children, composer, run, started

# seconds a song: every stream below crosses song boundaries. A stream starts once the band's first two songs
# are generated, and two 16 s songs are cut into four 8.5 s stretches generated side by side: ready sooner than
# two 12 s songs, one stretch each (composer.models.samplernn.stretches, MIN_STRETCH_S)
SONG = 16.0
FPS = 24  # the debug band's small template
TIMEOUT = 900  # a guard against a hang on a loaded machine, not a timing assertion


def _stream(band, out: Path, *args: str, env: dict | None = None, timeout: float = TIMEOUT):
    cmd = composer(
        "stream",
        "--band",
        band.name,
        "--bands-dir",
        band.folder.parent,
        "--hls",
        out / "hls",
        "--song-length",
        f"{SONG:g}s",
        "--now-playing",
        out / "now.jsonl",
        "--speed",
        "3",
        "-q",
        *args,
    )
    return run(cmd, timeout=timeout, env={**os.environ, **(env or {})})


def _playlist(folder: Path) -> dict:
    """The playlist's tags and segments, checked as an HLS client reads them."""
    lines = (folder / "stream.m3u8").read_text().splitlines()
    assert lines[0] == "#EXTM3U"
    segments, durations, sequence, ended = [], [], None, False
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":")[1])
        elif line.startswith("#EXTINF:"):
            durations.append(float(line.split(":")[1].rstrip(",")))
            uri = next(x for x in lines[i + 1 :] if x and not x.startswith("#"))
            segments.append(folder / uri)
        elif line == "#EXT-X-ENDLIST":
            ended = True
    assert sequence is not None and segments and len(segments) == len(durations)
    return {"segments": segments, "durations": durations, "sequence": sequence, "ended": ended}


def _decode(segments: list[Path], keep: set[int] = frozenset()) -> dict:
    """Every frame and audio frame of the segments, in order: their times, the samples, and the video frames
    numbered in ``keep`` (RGB)."""
    video_t, audio_t, audio_n, frames, samples = [], [], [], {}, []
    for seg in segments:
        with av.open(str(seg)) as f:
            for frame in f.decode(f.streams.video[0], f.streams.audio[0]):
                if isinstance(frame, av.VideoFrame):
                    if len(video_t) in keep:
                        frames[len(video_t)] = frame.to_ndarray(format="rgb24")
                    video_t.append(float(frame.time))
                else:
                    audio_t.append(float(frame.time))
                    audio_n.append(frame.samples)
                    samples.append(frame.to_ndarray().reshape(-1, frame.samples))
    return {
        "video_t": np.array(video_t),
        "audio_t": np.array(audio_t),
        "audio_n": np.array(audio_n),
        "frames": frames,
        "audio": np.concatenate(samples, axis=1) if samples else np.zeros((2, 0)),
    }


def _continuous(d: dict) -> None:
    """No gap and no overlap anywhere: frame after frame at 1/fps, audio frame after audio frame."""
    vt = np.sort(d["video_t"])
    assert np.allclose(np.diff(vt), 1 / FPS, atol=2e-3), "video timestamps jump"
    order = np.argsort(d["audio_t"])
    at, an = d["audio_t"][order], d["audio_n"][order]
    assert np.allclose(at[1:], at[:-1] + an[:-1] / 48000, atol=2e-3), "audio timestamps jump"
    assert abs(at[0] - vt[0]) < 0.1  # audio and video start together


def _now_playing(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "now.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def bounded(debug_band, tmp_path_factory):
    out = tmp_path_factory.mktemp("bounded")
    result = _stream(
        debug_band, out, "--duration", "30s", "--segment", "4s", "--seed", "3", "--buffer", "40s", "--status-json"
    )
    assert result.returncode == 0, result.stderr
    (out / "status.jsonl").write_text(result.stdout)
    return out


def test_bounded_stream_is_a_finished_continuous_hls_playlist(bounded):
    pl = _playlist(bounded / "hls")
    assert pl["ended"] and pl["sequence"] == 0
    assert abs(sum(pl["durations"]) - 30.0) <= 4.0  # within one segment
    songs = [e for e in _now_playing(bounded) if not e.get("holding")]
    k = round(songs[1]["start"] * FPS)
    d = _decode(pl["segments"], {k - 1, k})  # every segment decodes
    assert len(d["video_t"]) == 30 * FPS
    assert abs(d["audio"].shape[1] / 48000 - 30.0) < 0.1
    _continuous(d)
    # songs follow each other: each goes on air where the one before (or the holding card) ended
    assert [e["song"] for e in songs] == list(range(1, len(songs) + 1)) and len(songs) >= 2
    assert songs[0]["start"] == 0.0 and songs[0]["seconds"] == SONG and songs[0]["title"] and songs[0]["lyrics"]
    assert songs[1]["title"] != songs[0]["title"]  # a new song, not the first one again
    # the song boundary is in the video: the title card of song 2 is not the last frame of song 1
    assert np.abs(d["frames"][k].astype(int) - d["frames"][k - 1].astype(int)).mean() > 5
    assert float(np.sqrt(np.mean(d["audio"] ** 2))) > 0.01  # music, not silence


def test_status_json_gives_a_line_per_second_of_stream(bounded):
    lines = [json.loads(line) for line in (bounded / "status.jsonl").read_text().splitlines()]
    # (a line as it starts, before any stream is sent,) then one per second of stream, in order, to the end
    uptimes = [e["uptime_s"] for e in lines]
    assert uptimes[uptimes.count(0) :] == list(range(1, 31)) and uptimes.count(0) <= 1
    last = lines[-1]
    played = [e for e in _now_playing(bounded) if not e.get("holding")]
    assert last["songs"] == len(played)
    assert last["title"] == (HOLDING_TEXT if last["holding"] else played[-1]["title"])
    assert last["generation_speed"] > 0 and last["reconnects"] == 0
    assert all(e["ahead_s"] >= 0 and e["late_s"] >= 0 and isinstance(e["holding"], bool) for e in lines)


def _keep_segments(folder: Path, kept: dict[int, Path], into: Path) -> None:
    """Copy the playlist's segments not yet copied: a live playlist deletes old ones as it goes."""
    if not (folder / "stream.m3u8").is_file():
        return
    for seg in _playlist(folder)["segments"]:
        n = int(seg.stem.lstrip("seg"))
        if n not in kept:
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(seg, into / seg.name)
                kept[n] = into / seg.name


@pytest.fixture(scope="module")
def dry(debug_band, tmp_path_factory):
    """A stream that runs dry and recovers, then is stopped by SIGTERM: made once, two tests read it.

    Every song after the first two is held back until the holding card is on air (songs 1-2 play, then nothing
    is ready), and let go then; the stream runs until 8 s of the song after the card are on disk, the
    test keeping every segment as it appears (a live playlist deletes old ones), and is sent SIGTERM."""
    out = tmp_path_factory.mktemp("dry")
    hls, keep, release = out / "hls", out / "kept", out / "release"
    keep.mkdir()
    cmd = composer(
        "stream", "--band", debug_band.name, "--bands-dir", debug_band.folder.parent, "--hls", hls,
        "--song-length", f"{SONG:g}s", "--segment", "4s", "--buffer", "10s", "--now-playing", out / "now.jsonl",
        "--speed", "3", "--duration", "30m", "-q",
    )  # fmt: skip
    env = {**os.environ, TEST_HOLD_ENV: str(release)}
    kept: dict[int, Path] = {}
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the stream never went back to songs"
            children(proc)  # remembered: what must be gone after SIGTERM
            _keep_segments(hls, kept, keep)
            events = _now_playing(out) if (out / "now.jsonl").is_file() else []
            holds = [i for i, e in enumerate(events) if e.get("holding")]
            if holds:
                release.touch()  # the card is on air: the band may go on
            if holds and holds[0] + 1 < len(events) and len(kept) * 4.0 >= events[holds[0] + 1]["start"] + 8:
                break
            time.sleep(0.2)
        kids = children(proc) | proc.seen_children
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
        for _ in range(100):  # multiprocessing's resource tracker ends once it reads the end of its pipe
            if not alive(kids):
                break
            time.sleep(0.1)
        outlived = alive(kids)
    _keep_segments(hls, kept, keep)
    return SimpleNamespace(
        hls=hls, kept=kept, events=events, holds=holds, returncode=proc.returncode, stderr=stderr, outlived=outlived
    )


def test_sigterm_ends_the_playlist_and_a_restart_continues_its_numbers(dry, debug_band, tmp_path):
    assert dry.returncode == 128 + signal.SIGTERM, dry.stderr
    assert "stream stopped (SIGTERM)" in dry.stderr
    assert not dry.outlived, "ffmpeg or the audio process outlived the stream"
    first = _playlist(dry.hls)
    assert first["ended"]
    _decode(first["segments"])
    last = max(int(p.stem.lstrip("seg") or 0) for p in first["segments"])

    # a restart into the same folder (a copy: the other test reads the original)
    shutil.copytree(dry.hls, tmp_path / "hls")
    again = _stream(debug_band, tmp_path, "--segment", "4s", "--duration", "6s")
    assert again.returncode == 0, again.stderr
    second = _playlist(tmp_path / "hls")
    assert second["ended"]
    numbers = [int(p.stem.lstrip("seg")) for p in second["segments"]]
    assert max(numbers) > last and second["sequence"] >= first["sequence"]
    _decode([p for p in second["segments"] if int(p.stem.lstrip("seg")) > last])


def test_a_dry_buffer_plays_the_holding_card_and_the_stream_recovers(dry, debug_band):
    assert "the buffer ran dry" in dry.stderr
    assert _playlist(dry.hls)["ended"]
    kept, events, holds = dry.kept, dry.events, dry.holds
    assert sorted(kept) == list(range(len(kept))), "a segment was missed"
    hold, after = events[holds[0]], events[holds[0] + 1]
    assert hold["title"] == HOLDING_TEXT and not after.get("holding") and after["start"] > hold["start"]

    a, b = round(hold["start"] * FPS) + 2, round(after["start"] * FPS) - 2
    k = round(after["start"] * FPS) + FPS * 4
    assert b > a
    d = _decode([kept[n] for n in sorted(kept)], {a, (a + b) // 2, b, k})
    _continuous(d)  # the card and the way back to songs leave no gap in the timestamps
    # the card's frames are the holding card over one of the band's images (pixels, as encoded), compared
    # where its text is: the debug template's dark background alone would look like it everywhere else
    tmpl = load_template(debug_band.template).replace(title={"enabled": True})
    cards = [yuv420p_to_rgb(holding_card(tmpl, im), 640, 360) for im in load_images(debug_band.images_dir)]
    text = cards[0].mean(axis=2) > 160
    assert text.sum() > 1000

    def off_card(k: int) -> float:
        return min(float(np.abs(d["frames"][k].astype(float) - c)[text].mean()) for c in cards)

    for i in (a, (a + b) // 2, b):
        assert off_card(i) < 25, f"frame {i} is not the holding card"
    # room tone under the card: quiet, but not silence
    tone = d["audio"][:, round(hold["start"] * 48000) + 4800 : round(after["start"] * 48000) - 4800]
    rms_db = 20 * np.log10(float(np.sqrt(np.mean(tone**2))) + 1e-12)
    assert -65 < rms_db < -35, rms_db
    # and songs again after it: the song's own frames, not the card
    assert off_card(k) > 60
