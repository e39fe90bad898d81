"""The live sink with a real ffmpeg: an HLS folder a player can follow, a restart that continues it, an RTMP
ingest on 127.0.0.1 that drops and comes back, and a clean end on SIGTERM."""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from composer.errors import ComposerError
from composer.media.ffmpeg import ffmpeg_exe
from composer.stream.sink import HlsTarget, LiveSink, RtmpTarget
from tests.procs import alive, children, started

av = pytest.importorskip("av")

W, H, FPS, RATE = 160, 96, 30, 48000
TONE = 440.0
BAR = 8  # the bright bar moves BAR pixels a frame: where it is says which frame was shown


def chunk(index: int, seconds: float = 1.0) -> tuple[list[np.ndarray], np.ndarray]:
    """Chunk ``index`` of a synthetic stream: a bar sweeping across a dark frame, a continuous 440 Hz tone."""
    n_frames, n_samples = round(seconds * FPS), round(seconds * RATE)
    frames = []
    for k in range(n_frames):
        n = index * n_frames + k
        y = np.full((H, W), 16, np.uint8)
        x = (n * BAR) % W
        y[:, x : x + BAR] = 235
        frames.append(np.concatenate([y.ravel(), np.full(W * H // 2, 128, np.uint8)]))
    t = (np.arange(n_samples) + index * n_samples) / RATE
    tone = (0.3 * np.sin(2 * np.pi * TONE * t)).astype(np.float32)
    return frames, np.stack([tone, tone], axis=1)


def playlist(folder: Path) -> tuple[dict[str, str], list[tuple[float, str]], str]:
    """An m3u8's tags (first value of each), its (duration, segment) entries, and its text."""
    text = (folder / "stream.m3u8").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    tags, entries, duration = {}, [], None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line.startswith("#"):
            key, _, value = line.partition(":")
            tags.setdefault(key, value)
        elif line.strip():
            assert duration is not None, f"{line} has no #EXTINF"
            entries.append((duration, line))
            duration = None
    return tags, entries, text


def decode(path: Path) -> dict[str, list]:
    """Every frame of a media file, decoded: video (pts in seconds, keyframe, bar position) and audio (pts, samples)."""
    video, audio = [], []
    with av.open(str(path)) as container:
        codecs = {st.type: st.codec_context.name for st in container.streams}
        layout = {st.type: (st.codec_context.sample_rate, st.codec_context.channels) for st in container.streams.audio}
        for frame in container.decode(*container.streams):
            tb = Fraction(frame.time_base)
            if isinstance(frame, av.VideoFrame):
                luma = frame.to_ndarray(format="gray")
                video.append((float(frame.pts * tb), frame.key_frame, int(np.argmax(luma.mean(axis=0)))))
            else:
                audio.append((float(frame.pts * tb), frame.to_ndarray()))
    return {"video": video, "audio": audio, "codecs": codecs, "audio_format": layout.get("audio")}


def test_hls_stream_is_a_valid_continuous_playlist(tmp_path):
    seconds = 24
    target = HlsTarget(tmp_path / "live", segment_s=2.0, window=20)
    with LiveSink(W, H, FPS, [target]) as sink:
        for i in range(seconds):
            sink.write(*chunk(i))
    tags, entries, text = playlist(target.dir)

    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert "#EXT-X-PROGRAM-DATE-TIME:" in text
    assert "#EXT-X-DISCONTINUITY" not in text
    assert tags["#EXT-X-MEDIA-SEQUENCE"] == "0"
    assert abs(sum(d for d, _ in entries) - seconds) <= target.segment_s
    assert all(d <= float(tags["#EXT-X-TARGETDURATION"]) for d, _ in entries)

    last_video = last_audio = None
    shown = []
    for _, name in entries:
        media = decode(target.dir / name)
        assert media["video"] and media["audio"], name
        assert media["video"][0][1], f"{name} does not start on a keyframe"
        # across the segment boundary the clocks go on by exactly one frame / one AAC frame
        if last_video is not None:
            assert media["video"][0][0] == pytest.approx(last_video + 1 / FPS, abs=1e-3), name
            assert media["audio"][0][0] == pytest.approx(last_audio, abs=1e-3), name
        pts = [p for p, _, _ in media["video"]]
        assert np.allclose(np.diff(pts), 1 / FPS, atol=1e-3), f"{name}: a gap or a repeat in the video"
        last_video = pts[-1]
        last_audio = media["audio"][-1][0] + media["audio"][-1][1].shape[1] / RATE
        shown += [x for _, _, x in media["video"]]
        tone = np.concatenate([a[0] for _, a in media["audio"]])
        spectrum = np.abs(np.fft.rfft(tone))
        assert np.fft.rfftfreq(len(tone), 1 / RATE)[np.argmax(spectrum)] == pytest.approx(TONE, abs=5), name

    # every frame shown once, in order (the bar's position counts them), and sound as long as picture
    assert len(shown) == seconds * FPS
    assert shown == [(n * BAR) % W for n in range(seconds * FPS)]
    assert last_audio == pytest.approx(last_video + 1 / FPS, abs=0.05)


def test_restart_continues_the_sequence_and_old_segments_go(tmp_path):
    target = HlsTarget(tmp_path / "live", segment_s=2.0, window=3)
    with LiveSink(W, H, FPS, [target]) as sink:
        for i in range(10):
            sink.write(*chunk(i))
    _, first, _ = playlist(target.dir)
    assert len(first) == 3
    on_disk = sorted(p.name for p in target.dir.glob("seg*.ts"))
    assert len(on_disk) <= target.window + 1  # the window, and the one a player may still be reading

    with LiveSink(W, H, FPS, [target]) as sink:
        for i in range(6):
            sink.write(*chunk(i))
    tags, second, text = playlist(target.dir)
    numbers = [int(re.search(r"\d+", name).group()) for _, name in second]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert numbers[-1] == int(re.search(r"\d+", first[-1][1]).group()) + 3  # 6 s more: three new segments
    assert int(tags["#EXT-X-MEDIA-SEQUENCE"]) == numbers[0]
    assert text.rstrip().endswith("#EXT-X-ENDLIST") and text.count("#EXT-X-ENDLIST") == 1
    # the new run's clock starts again: players are told so right before its first segment
    first_new = f"seg{numbers[-1] - 2:09d}.ts"
    assert re.search(rf"#EXT-X-DISCONTINUITY\n(#EXT[^\n]*\n)*{first_new}", text), text
    for _, name in second:
        assert decode(target.dir / name)["video"]


def test_folder_of_someone_else_is_refused(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<html>")
    with pytest.raises(ComposerError, match="composer did not make"):
        LiveSink(W, H, FPS, [HlsTarget(folder)])
    # composer's own folder with a stranger in it
    target = HlsTarget(tmp_path / "live", segment_s=1.0)
    with LiveSink(W, H, FPS, [target]) as sink:
        sink.write(*chunk(0))
    (target.dir / "notes.txt").write_text("mine")
    with pytest.raises(ComposerError, match="notes.txt"):
        LiveSink(W, H, FPS, [target])
    assert (target.dir / "notes.txt").read_text() == "mine"


def test_second_stream_into_a_busy_folder_is_refused(tmp_path):
    target = HlsTarget(tmp_path / "live", segment_s=1.0)
    with LiveSink(W, H, FPS, [target]) as sink:
        sink.write(*chunk(0))
        with pytest.raises(ComposerError, match="another composer stream"):
            LiveSink(W, H, FPS, [target])
        sink.write(*chunk(1))
    assert playlist(target.dir)[2].rstrip().endswith("#EXT-X-ENDLIST")


def test_encoder_that_dies_is_one_clear_error(tmp_path):
    target = HlsTarget(tmp_path / "live", segment_s=1.0)
    with pytest.raises(ComposerError, match="live encoder .*stopped"):
        with LiveSink(W, H, FPS, [target]) as sink:
            sink.write(*chunk(0))
            shutil.rmtree(target.dir)  # the folder goes away under the stream: ffmpeg cannot write a segment
            for i in range(1, 60):
                sink.write(*chunk(i))
                time.sleep(0.05)


def test_mismatched_audio_is_refused(tmp_path):
    frames, audio = chunk(0)
    with LiveSink(W, H, FPS, [HlsTarget(tmp_path / "live", segment_s=1.0)]) as sink:
        with pytest.raises(ValueError, match="off the video"):
            sink.write(frames, audio[:-100])
        sink.write(frames, audio)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_ends_the_playlist_and_leaves_no_ffmpeg(tmp_path, sig):
    script = textwrap.dedent(f"""
        import signal, time
        from pathlib import Path
        from composer.errors import Terminated
        from composer.stream.sink import HlsTarget, LiveSink
        from tests.stream.test_sink import FPS, H, W, chunk

        def terminate(signum, frame):
            raise Terminated  # what the composer command installs for SIGTERM

        signal.signal(signal.SIGTERM, terminate)
        with LiveSink(W, H, FPS, [HlsTarget(Path({str(tmp_path / "live")!r}), segment_s=1.0)]) as sink:
            i = 0
            while True:
                sink.write(*chunk(i, 0.5))
                i += 1
                if i == 4:
                    print("streaming", flush=True)
                time.sleep(0.5)
    """)
    with started([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout.readline().strip() == b"streaming"
        ffmpeg = children(proc)
        assert ffmpeg
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0, err
        assert alive(ffmpeg) == []
    tags, entries, text = playlist(tmp_path / "live")
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert entries and all(decode(tmp_path / "live" / name)["video"] for _, name in entries)


def _ingest(url: str, out: Path):
    """An RTMP server: ffmpeg listening on ``url``, writing what it receives to ``out`` as it comes."""
    return started(
        [
            *(ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-listen", "1", "-analyzeduration", "500000"),
            *("-i", url, "-c", "copy", "-flush_packets", "1", "-y", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rtmp_ingest_drops_and_the_sink_reconnects(tmp_path):
    url = f"rtmp://127.0.0.1:{_free_port()}/live/secret-key"
    hls = HlsTarget(tmp_path / "live", segment_s=2.0, window=30)
    first, second = tmp_path / "first.flv", tmp_path / "second.flv"
    half_seconds, longest_write = 28, 0.0
    with contextlib.ExitStack() as ingests:  # every ingest killed on the way out, pass or fail
        ingest = ingests.enter_context(_ingest(url, first))
        time.sleep(0.5)  # let it listen
        with LiveSink(W, H, FPS, [hls, RtmpTarget(url, bitrate_k=500)]) as sink:
            start = time.monotonic()
            for i in range(half_seconds):
                before = time.monotonic()
                sink.write(*chunk(i, 0.5))
                longest_write = max(longest_write, time.monotonic() - before)
                if i == 8:
                    ingest.kill()  # the ingest goes away mid-stream...
                    ingest.wait()
                if i == 13:  # ...and comes back 2.5 s later (the relay's second try, 1 + 2 s after the drop)
                    ingest = ingests.enter_context(_ingest(url, second))
                time.sleep(max(0.0, start + (i + 1) * 0.5 - time.monotonic()))  # real time, as the producer
            reconnects = sink.reconnects
        ingest.wait(timeout=20)  # the sink's end is the stream's end: the ingest stops by itself

    assert reconnects == 1
    # neither the drop nor the reconnection held up the producer (a blocked encoder would wait out the outage)
    assert longest_write < 2.0
    for received in (first, second):
        media = decode(received)
        assert len(media["video"]) >= FPS and media["audio"], received
        assert media["video"][0][1], f"{received} does not start on a keyframe"
        # what YouTube's ingest asks for: H.264 with a keyframe every 2 s, AAC at 48 kHz stereo
        assert media["codecs"] == {"video": "h264", "audio": "aac"} and media["audio_format"] == (RATE, 2)
        keys = [t for t, key, _ in media["video"] if key]
        assert len(keys) >= 2 and np.allclose(np.diff(keys), 2.0, atol=0.01), keys
    # HLS went on, whole, through the outage
    _, entries, _ = playlist(hls.dir)
    assert abs(sum(d for d, _ in entries) - half_seconds / 2) <= hls.segment_s
