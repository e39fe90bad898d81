"""What the live sink costs: 720p30 frames of a panned image and a tone, written as fast as the encoder takes them.

Prints, for HLS alone and for HLS + RTMP (to an ffmpeg ingest on 127.0.0.1): how many times real time the sink
encodes, the CPU the encoder and the relay use per second of stream (cores busy when the stream runs at real
time), and the peak memory of composer + ffmpeg. The live stream needs the first well above 1 on the machine
that also generates the songs.

    python benchmarks/sink_bench.py [--seconds 30] [--size 1280x720] [--preset veryfast]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from composer.media.ffmpeg import EncodeSettings, ffmpeg_exe
from composer.stream.sink import HlsTarget, LiveSink, RtmpTarget

FPS, RATE = 30, 48000


def picture(width: int, height: int) -> np.ndarray:
    """A textured luma plane twice the frame's width, to pan across (x264 sees motion and detail)."""
    from composer.karaoke.render.imagegen import make_images

    with tempfile.TemporaryDirectory() as d:
        path = make_images(Path(d), n=1, seed=7, size=(2 * width, height))[0]
        from PIL import Image

        return np.asarray(Image.open(path).convert("L").resize((2 * width, height)), np.uint8)


def run(seconds: int, width: int, height: int, preset: str, rtmp: bool, root: Path) -> dict:
    luma = picture(width, height)
    chroma = np.full(width * height // 2, 128, np.uint8)
    t = np.arange(RATE) / RATE
    targets = [HlsTarget(root / ("both" if rtmp else "hls"), segment_s=4.0, window=6)]
    ingest = None
    if rtmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"rtmp://127.0.0.1:{port}/live/bench"
        ingest = subprocess.Popen(
            [ffmpeg_exe(), "-loglevel", "error", "-listen", "1", "-i", url, "-c", "copy", "-f", "null", "-"],
            start_new_session=True,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        targets.append(RtmpTarget(url))
    peak, done = 0, threading.Event()
    me, ingest_pid = os.getpid(), ingest.pid if ingest else None

    def sample() -> None:  # composer and its encoder and relay; the ingest stands for YouTube, not counted
        nonlocal peak
        while not done.is_set():
            kids = {int(p) for p in os.listdir("/proc") if p.isdigit() and _child_of(int(p), me)} - {ingest_pid}
            peak = max(peak, _rss_kb(me) + sum(_rss_kb(p) for p in kids))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        t0, cpu0 = time.perf_counter(), _children_cpu()
        with LiveSink(width, height, FPS, targets, encode=EncodeSettings(preset=preset, audio_bitrate="128k")) as sink:
            for i in range(seconds):
                frames = []
                for k in range(FPS):
                    x = (i * FPS + k) * 2 % width
                    frames.append(np.concatenate([np.ascontiguousarray(luma[:, x : x + width]).ravel(), chroma]))
                tone = (0.3 * np.sin(2 * np.pi * 220 * (t + i))).astype(np.float32)
                sink.write(frames, np.stack([tone, tone], axis=1))
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0  # the encoder and relay, reaped by now
    finally:
        done.set()
        sampler.join()
        if ingest is not None:
            ingest.kill()
            ingest.wait()
    return {
        "targets": "hls+rtmp" if rtmp else "hls",
        "x_real_time": round(seconds / wall, 2),
        "ffmpeg_cores_at_real_time": round(cpu / seconds, 2),
        "peak_mb": round(peak / 1024),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError, StopIteration):
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1])
    return 0


def _child_of(pid: int, parent: int) -> bool:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == parent
    except (OSError, IndexError, ValueError):
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--preset", default="veryfast")
    args = ap.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as d:
        for rtmp in (False, True):
            print(json.dumps(run(args.seconds, width, height, args.preset, rtmp, Path(d))), flush=True)


if __name__ == "__main__":
    main()
