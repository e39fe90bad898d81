"""The one place that starts ffmpeg: raw frames in on stdin, an uploadable MP4 out, atomically.

Frames arrive as planar yuv420p (what the frame renderer keeps its caches in), so ffmpeg skips its own
RGB->YUV conversion; MoviePy's writer only takes rgb24/rgba and appends its own pixel-format flags, which
is why this module drives imageio-ffmpeg's binary directly (see the note in DESIGN.md).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from composer.errors import ComposerError
from composer.util.files import atomic_path, shown_path


@dataclass(frozen=True)
class EncodeSettings:
    preset: str = "veryfast"
    crf: int = 20
    audio_bitrate: str = "192k"
    audio_rate: int = 48000
    threads: int = 0  # 0: let x264 choose


VIDEO_SUFFIX = ".mp4"  # the one container composer writes: H.264 and AAC, as YouTube wants


def check_video_name(path: str | os.PathLike, named: str | None = None) -> None:
    """ComposerError unless ``path`` names an .mp4 file; ``named`` is how the error names it (default: the path)."""
    if Path(path).suffix.lower() != VIDEO_SUFFIX:
        raise ComposerError(f"{named or path}: the video must be an .mp4 file")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_input(path: str | os.PathLike) -> str:
    """An input path ffmpeg cannot read as an option ("-x") or a protocol ("file:x", "http:x"): absolute."""
    return os.path.abspath(path)


def ffmpeg_output(path: str | os.PathLike) -> str:
    """An output path for ffmpeg: absolute and with the file protocol named, so no folder name is misread."""
    return "file:" + os.path.abspath(path)


def video_args(fps: int, settings: EncodeSettings) -> list[str]:
    """H.264 High, yuv420p, closed GOP of half the frame rate, 2 B-frames: YouTube's recommended settings."""
    gop = max(1, round(fps / 2))
    return [
        "-c:v",
        "libx264",
        "-preset",
        settings.preset,
        "-crf",
        str(settings.crf),
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-flags",
        "+cgop",
        "-bf",
        "2",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-color_range",
        "tv",
        "-threads",
        str(settings.threads),
    ]


def audio_args(settings: EncodeSettings) -> list[str]:
    # the fast coder: the default one costs ~20x the CPU on dense distorted audio (FACTS.md)
    return [
        "-c:a",
        "aac",
        "-profile:a",
        "aac_low",
        "-aac_coder",
        "fast",
        "-b:a",
        settings.audio_bitrate,
        "-ar",
        str(settings.audio_rate),
    ]


class VideoWriter:
    """Context manager: ``with VideoWriter(...) as w: w.write(frame)``; the MP4 appears only on success.

    ffmpeg runs in its own process session so a terminal Ctrl-C reaches only us; we then kill it, so an
    interrupted render never leaves a stray ffmpeg or a file under the final name.
    """

    def __init__(
        self,
        target: str | os.PathLike,
        width: int,
        height: int,
        fps: int,
        audio: Path | None = None,
        settings: EncodeSettings = EncodeSettings(),
    ):
        if width % 2 or height % 2:
            raise ComposerError(f"{target}: frame size {width}x{height} must be even for yuv420p")
        self.target = Path(target)
        self.width, self.height, self.fps = width, height, fps
        self.audio = audio
        self.settings = settings
        self.frame_bytes = width * height * 3 // 2
        self.frames_written = 0
        self._atomic = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    def command(self, out: Path) -> list[str]:
        cmd = [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-s",
            f"{self.width}x{self.height}",
            "-r",
            str(self.fps),
            "-i",
            "pipe:0",
        ]
        if self.audio is not None:
            cmd += ["-i", ffmpeg_input(self.audio), "-map", "0:v:0", "-map", "1:a:0"]
        cmd += video_args(self.fps, self.settings)
        if self.audio is not None:
            cmd += audio_args(self.settings)
        return _mp4_command(cmd, out)

    def __enter__(self) -> VideoWriter:
        self._atomic = atomic_path(self.target)
        tmp = self._atomic.__enter__()
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                self.command(tmp),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                start_new_session=True,
                bufsize=0,
            )
        except BaseException as e:
            self._abort(e)
            raise
        return self

    def write(self, frame: np.ndarray) -> None:
        """One yuv420p frame (flat uint8 of width*height*3/2)."""
        if frame.nbytes != self.frame_bytes:
            raise ValueError(f"frame has {frame.nbytes} bytes, expected {self.frame_bytes}")
        try:
            self._proc.stdin.write(memoryview(frame).cast("B"))
        except (BrokenPipeError, OSError):
            raise ComposerError(f"{shown_path(self.target)}: ffmpeg stopped: {self._ffmpeg_error()}") from None
        self.frames_written += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort(exc)
            return
        try:
            self._proc.stdin.close()
            rc = self._proc.wait()
            if rc != 0:
                raise ComposerError(f"{shown_path(self.target)}: ffmpeg failed: {self._ffmpeg_error()}")
        except BaseException as e:
            self._abort(e)
            raise
        self._log.close()
        self._atomic.__exit__(None, None, None)

    def _ffmpeg_error(self) -> str:
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=10)
        return _error_line(self._log, self._proc.returncode)

    def _abort(self, exc: BaseException) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._proc is not None:
            self._proc.wait()
            with contextlib.suppress(Exception):
                self._proc.stdin.close()
        if self._log is not None:
            self._log.close()
        # remove the temporary file and leave the target untouched
        self._atomic.__exit__(type(exc), exc, exc.__traceback__)


class FrameReader:
    """Raw yuv420p frames (BT.709 limited range) of a video file, looped without end, cover-fitted to ``size``
    and resampled to ``fps``, from ``start`` seconds: ``read()`` gives one frame's bytes, None when ffmpeg ended.

    ffmpeg runs in its own session (a terminal Ctrl-C reaches only composer, which then closes it) and is killed
    by ``close()``; its error log is kept for the message."""

    def __init__(self, path: str | os.PathLike, size: tuple[int, int], fps: int, start: float = 0.0):
        w, h = size
        self.frame_bytes = w * h * 3 // 2
        vf = (
            f"fps={fps},scale={w}:{h}:force_original_aspect_ratio=increase:flags=bicubic"
            f":out_color_matrix=bt709:out_range=tv,crop={w}:{h},format=yuv420p"
        )
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-stream_loop", "-1"]
        cmd += ["-ss", f"{start:.3f}", "-i", ffmpeg_input(path), "-an", "-sn", "-vf", vf, "-f", "rawvideo", "pipe:1"]
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True
        )

    def read(self) -> bytes | None:
        data = self._proc.stdout.read(self.frame_bytes)  # a buffered read: whole frames unless ffmpeg ended
        return data if len(data) == self.frame_bytes else None

    def error(self) -> str:
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=10)
        return _error_line(self._log, self._proc.returncode)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        self._proc.wait()
        self._proc.stdout.close()
        self._log.close()


def start_live(args: list[str], *, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """ffmpeg with ``args`` for a live stream: raw input on stdin (and on ``pass_fds``), its log on a pipe for the
    caller to read (recoveries, errors), in its own session so a terminal's Ctrl-C reaches only composer, which
    then ends it cleanly."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info", "-y", *args]
    return subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=pass_fds,
        start_new_session=True,
        bufsize=0,
    )


def mux(video: Path, audio: Path, target: str | os.PathLike, settings: EncodeSettings | None = None) -> None:
    """Put an already encoded video stream and a WAV together into ``target`` (video copied, audio to AAC).

    Same guarantees as VideoWriter: ffmpeg in its own session, killed on any exception (Ctrl-C included),
    and ``target`` appears only when complete.
    """
    settings = settings or EncodeSettings()
    target = Path(target)
    with atomic_path(target) as tmp, tempfile.TemporaryFile() as log:
        args = [
            "-i",
            ffmpeg_input(video),
            "-i",
            ffmpeg_input(audio),
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            "-c:v",
            "copy",
            *audio_args(settings),
            "-shortest",
        ]
        proc = subprocess.Popen(
            _mp4_command(args, tmp),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if rc != 0:
            raise ComposerError(f"{shown_path(target)}: ffmpeg failed: {_error_line(log, rc)}")


def _mp4_command(args: list[str], out: Path) -> list[str]:
    """ffmpeg with ``args`` writing the MP4 ``out``: errors only on its log, the index up front for streaming."""
    quiet = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    return [ffmpeg_exe(), *quiet, *args, "-movflags", "+faststart", "-f", "mp4", ffmpeg_output(out)]


def _error_line(log: BinaryIO, returncode: int | None) -> str:
    """What went wrong, from ffmpeg's log (``-loglevel error``): its last line, which names the cause."""
    log.seek(0)
    lines = [ln for ln in log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    text = lines[-1] if lines else f"exit status {returncode}"
    if "No space left" in text:
        text = "no space left on the device"
    return text
