"""A looping video as the background (`composer karaoke --background loop.mp4`), decoded ahead by ffmpeg.

ffmpeg does the whole job in its own process: decode, loop (``-stream_loop -1``), resample to the video's frame
rate, cover-fit and crop to the frame, and convert to yuv420p in BT.709 limited range, the renderer's own
planes; a reader thread keeps a few frames queued. The render loop only copies planes, so a video background
costs little more than a still image, and memory holds a few frames whatever the length.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.karaoke.render.background import RGB24, YUV420P, PlaneFormat, yuv420p_to_rgb
from composer.media.ffmpeg import ffmpeg_exe, ffmpeg_input

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi", ".gif")
AHEAD = 8  # frames decoded ahead of the one drawn
SEEK_AHEAD_S = 2.0  # a jump further forward than this restarts ffmpeg at the new time rather than reading through


def check_video(path: Path) -> float:
    """The duration of ``path``'s first video stream; ComposerError naming the file when it has none."""
    import av

    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ComposerError(f"{path}: not a video background (use one of {', '.join(VIDEO_SUFFIXES)})")
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise ComposerError(f"{path}: has no video stream")
            v = c.streams.video[0]
            seconds = float(v.duration * v.time_base) if v.duration else (c.duration or 0) / 1e6
            if not v.width or not v.height:
                raise ComposerError(f"{path}: the video stream has no frame size")
    except av.error.FFmpegError as e:
        raise ComposerError(f"{path}: not a readable video ({e})") from None
    except OSError as e:
        raise ComposerError(f"{path}: cannot read: {e.strerror or e}") from None
    if not seconds > 0:
        raise ComposerError(f"{path}: the video has no length")
    return seconds


class VideoBackground:
    """Frames of a looping video at the render's size and rate; draws like ``Slideshow``. Close it (or use it as
    a context manager) to stop its ffmpeg."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int):
        self.path = Path(path)
        self.seconds = check_video(self.path)
        self.width, self.height = size
        self.fps = fps
        self._frame_bytes = self.width * self.height * 3 // 2
        self._proc: subprocess.Popen | None = None
        self._queue: queue.Queue | None = None
        self._next = 0  # index of the frame the queue gives next
        self._current: tuple[int, np.ndarray] | None = None
        self._stop = threading.Event()

    def __enter__(self) -> VideoBackground:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def static_key(self, t: float) -> None:
        return None  # every frame moves: nothing to cache

    def draw(self, t: float, fmt: PlaneFormat, out: list[np.ndarray]) -> None:
        buf = self._frame(max(0, round(t * self.fps)))
        if fmt is YUV420P:
            n = self.width * self.height
            planes = (buf[:n], buf[n : n + n // 4], buf[n + n // 4 :])
            for dst, src in zip(out, planes):
                np.copyto(dst.reshape(-1), src)
        elif fmt is RGB24:
            np.copyto(out[0], yuv420p_to_rgb(buf, self.width, self.height))
        else:  # pragma: no cover - the two formats the renderer has
            raise ValueError(fmt.name)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        self._stop.set()
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            proc.stdout.close()

    # ---- reading

    def _frame(self, index: int) -> np.ndarray:
        if self._current is not None and self._current[0] == index:
            return self._current[1]
        if self._proc is None or index < self._next or index - self._next > SEEK_AHEAD_S * self.fps:
            self._start(index)
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise ComposerError(f"{self.path}: {item}")
            self._next += 1
            if self._next - 1 == index:
                self._current = (index, item)
                return item

    def _start(self, index: int) -> None:
        self.close()
        start = (index / self.fps) % self.seconds
        w, h = self.width, self.height
        vf = (
            f"fps={self.fps},scale={w}:{h}:force_original_aspect_ratio=increase:flags=bicubic"
            f":out_color_matrix=bt709:out_range=tv,crop={w}:{h},format=yuv420p"
        )
        cmd = [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-stream_loop", "-1", "-ss", f"{start:.3f}"]
        cmd += ["-i", ffmpeg_input(self.path), "-an", "-sn", "-vf", vf, "-f", "rawvideo", "pipe:1"]
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, bufsize=0
        )
        self._queue = queue.Queue(maxsize=AHEAD)
        self._stop = threading.Event()
        self._next = index
        args = (self._proc, self._queue, self._stop)
        threading.Thread(target=self._read, args=args, daemon=True, name="video-background").start()

    def _read(self, proc: subprocess.Popen, q: queue.Queue, stop: threading.Event) -> None:
        def put(item) -> bool:
            while not stop.is_set():
                with contextlib.suppress(queue.Full):
                    q.put(item, timeout=0.2)
                    return True
            return False

        try:
            while True:
                data = _read_exactly(proc.stdout, self._frame_bytes)
                if data is None:
                    err = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
                    put(RuntimeError(f"ffmpeg stopped decoding: {err[-1] if err else 'no frames'}"))
                    return
                if not put(np.frombuffer(data, np.uint8)):
                    return
        except (OSError, ValueError):  # closed under us: this reader is done
            return


def _read_exactly(stream, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
