"""A looping video as the background (`composer karaoke --background loop.mp4`), decoded ahead by ffmpeg.

ffmpeg does the whole job in its own process: decode, loop (``-stream_loop -1``), resample to the video's frame
rate, cover-fit and crop to the frame, and convert to yuv420p in BT.709 limited range, the renderer's own
planes; a reader thread keeps a few frames queued. The render loop only copies planes while decoding runs
beside it, and memory holds a few frames whatever the length.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.karaoke.render.background import RGB24, YUV420P, PlaneFormat, yuv420p_to_rgb
from composer.media.ffmpeg import FrameReader

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi", ".gif")
AHEAD = 8  # frames decoded ahead of the one drawn
SEEK_AHEAD_S = 2.0  # a jump further forward than this restarts ffmpeg at the new time rather than reading through


def check_video(path: Path) -> float:
    """The duration of ``path``'s first video stream; ComposerError naming the file when it has none."""
    import av

    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ComposerError(f"{path}: not a video background (use one of {', '.join(VIDEO_SUFFIXES)})")
    if path.exists() and not path.is_file():  # a FIFO: opening it waits for a writer that never comes
        raise ComposerError(f"{path}: not a regular file (a device or pipe?); give a video file")
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
        self._reader: FrameReader | None = None
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
        self._stop.set()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    # ---- reading

    def _frame(self, index: int) -> np.ndarray:
        if self._current is not None and self._current[0] == index:
            return self._current[1]
        if self._reader is None or index < self._next or index - self._next > SEEK_AHEAD_S * self.fps:
            self._start(index)
        while True:
            item = self._queue.get()
            if isinstance(item, str):
                raise ComposerError(f"{self.path}: ffmpeg stopped decoding: {item}")
            self._next += 1
            if self._next - 1 == index:
                self._current = (index, item)
                return item

    def _start(self, index: int) -> None:
        self.close()
        self._reader = FrameReader(self.path, (self.width, self.height), self.fps, (index / self.fps) % self.seconds)
        self._queue = queue.Queue(maxsize=AHEAD)
        self._stop = threading.Event()
        self._next = index
        args = (self._reader, self._queue, self._stop)
        threading.Thread(target=_decode_ahead, args=args, daemon=True, name="video-background").start()


def _decode_ahead(reader: FrameReader, q: queue.Queue, stop: threading.Event) -> None:
    """Frames into ``q`` until ``stop``; a str in the queue is ffmpeg's error."""

    def put(item) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                q.put(item, timeout=0.2)
                return True
        return False

    try:
        while True:
            data = reader.read()
            if data is None:
                put(reader.error() if not stop.is_set() else "closed")
                return
            if not put(np.frombuffer(data, np.uint8)):
                return
    except (OSError, ValueError):  # closed under us: this reader is done
        return
