import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from composer.errors import ComposerError
from composer.media.ffmpeg import VideoWriter
from tests.mp4probe import probe
from tests.procs import alive, children, started


def _gray_frame(w, h, level):
    y = np.full(w * h, level, np.uint8)
    uv = np.full(w * h // 2, 128, np.uint8)
    return np.concatenate([y, uv])


def _tone(path, seconds, rate=44100):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1), rate)


def test_mp4_is_what_uploaders_want(tmp_path):
    wav = tmp_path / "a.wav"
    _tone(wav, 2.0)
    out = tmp_path / "v.mp4"
    with VideoWriter(out, 320, 240, 30, wav) as w:
        for i in range(60):
            w.write(_gray_frame(320, 240, 16 + i * 3))
    p = probe(out)
    assert (p.video_codec, p.profile, p.pix_fmt) == ("h264", "High", "yuv420p")
    assert (p.width, p.height, p.fps, p.frames) == (320, 240, 30.0, 60)
    assert p.keyframe_interval == 15  # closed GOP of half the frame rate
    assert (p.audio_codec, p.audio_profile, p.audio_rate) == ("aac", "LC", 48000)
    assert abs(p.duration - 2.0) < 0.1
    assert p.moov_first  # +faststart
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []


def test_failure_inside_leaves_nothing_and_keeps_earlier_output(tmp_path):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"earlier render")
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 64, 48, 30) as w:
            w.write(_gray_frame(64, 48, 100))
            raise RuntimeError("boom")
    assert out.read_bytes() == b"earlier render"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["v.mp4"]


def test_unwritable_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ComposerError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "v.mp4", 64, 48, 30).__enter__()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_interrupt_leaves_no_partial_file_and_no_ffmpeg(tmp_path, sig):
    script = textwrap.dedent(f"""
        import numpy as np, signal, sys
        from composer.errors import Terminated
        from composer.media.ffmpeg import VideoWriter

        def terminate(signum, frame):
            raise Terminated  # what the composer command installs for SIGTERM

        signal.signal(signal.SIGTERM, terminate)
        frame = np.zeros(640 * 480 * 3 // 2, np.uint8)
        with VideoWriter({str(tmp_path / "v.mp4")!r}, 640, 480, 30) as w:
            print("started", flush=True)
            while True:
                w.write(frame)
    """)
    with started([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout.readline().strip() == b"started"
        time.sleep(0.5)
        ffmpeg = children(proc)
        assert ffmpeg
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode != 0, err
        assert list(tmp_path.iterdir()) == []
        # the writer's ffmpeg ran in its own session; it must be gone too
        time.sleep(0.5)
        assert alive(ffmpeg) == []
