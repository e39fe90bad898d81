"""The live encoder: yuv420p frames and float audio in, one ffmpeg encoding once and writing every target.

Targets are an HLS folder (a live playlist a player or a restreaming ffmpeg follows) and an RTMP ingest
(YouTube's settings). The producer calls ``write`` with ~1 s chunks at real-time pace; the sink never sleeps
and takes its timestamps from frame and sample counts (raw video at a fixed rate, raw PCM), never from the
wall clock, so audio and video stay in lock-step for hours.

Two raw streams go into one ffmpeg: video on its stdin, audio on a second pipe (``pipe:N``), each fed by its own
writer thread from a queue of at most ``QUEUE_CHUNKS`` chunks. One thread writing both pipes would deadlock:
ffmpeg reads its inputs in its own order, and while it waits for audio it stops reading video, so a large
video write never returns and the audio never comes. Muxing both into one pipe (NUT through PyAV) would avoid
the threads but make PyAV, a test extra, a run-time dependency. The queues keep memory bounded (two chunks
of frames, ~80 MB at 720p30) and give back-pressure if the encoder ever falls behind real time.

Both targets share one encode through ffmpeg's ``tee`` muxer: HLS written by the encoder itself, and an MPEG-TS
copy on a pipe that ``relay.RtmpRelay`` pushes to the RTMP ingest, reconnecting with back-off when it drops
(why not ffmpeg's ``fifo`` muxer: see relay.py). Neither a slow nor a lost ingest ever blocks the encoder.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import logging
import os
import queue
import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.media.ffmpeg import EncodeSettings, start_live
from composer.stream.relay import RtmpRelay, write_all
from composer.util.files import LOCK_FILE, MADE_MARKER, check_unlocked, claim_dir, folder_lock, make_dir

log = logging.getLogger("composer")

PLAYLIST = "stream.m3u8"
SEGMENT_PATTERN = "seg%09d.ts"
_SEGMENT_NAME = re.compile(r"seg\d{9}\.ts")
# what composer writes in an HLS folder; anything else there means the folder is someone else's
_HLS_NAMES = {PLAYLIST, PLAYLIST + ".tmp", MADE_MARKER, LOCK_FILE}

RTMP_KEYFRAME_S = 2  # YouTube's ingest wants a keyframe at least every 2 s (4 s at most)
RTMP_AUDIO = "128k"  # YouTube: AAC-LC, 48 kHz stereo, 128 kbit/s
HLS_MAXRATE_K = 8000  # an HLS-only stream is CRF-coded with this cap, so one busy scene cannot stall a player
MIN_SEGMENT_S, MAX_SEGMENT_S = 1.0, 60.0  # HLS segment lengths (Apple suggests 6 s; YouTube's HLS ingest 1-4 s)
QUEUE_CHUNKS = 2  # chunks waiting per pipe before write() waits for ffmpeg
CLOSE_TIMEOUT_S = 15  # how long close() lets ffmpeg finish (flush, trailers) before it stops it
LIVE_ENCODE = EncodeSettings(preset="veryfast", audio_bitrate=RTMP_AUDIO)


@dataclass(frozen=True)
class HlsTarget:
    """A live HLS playlist in ``dir``: segments of ``segment_s``, the last ``window`` of them listed and kept."""

    dir: Path
    segment_s: float = 4.0
    window: int = 10

    @property
    def playlist(self) -> Path:
        return Path(self.dir) / PLAYLIST


@dataclass(frozen=True)
class RtmpTarget:
    """An RTMP ingest (``rtmp://host/app/key``) at a constant ``bitrate_k`` kbit/s, reconnected when it drops."""

    url: str
    bitrate_k: int = 4500
    reconnect: bool = True


class LiveSink:
    """Context manager: one ffmpeg encoding H.264 + AAC once and writing to every target.

    ``write(frames, audio)``: frames are flat yuv420p arrays as ``FrameRenderer.yuv420p`` makes them (that one
    reuses two buffers: copy each frame of a chunk), audio float32 of shape (n, 2) at ``sample_rate``, exactly
    ``len(frames) / fps`` seconds. ``write`` copies both before it returns.
    ``close()`` ends cleanly (HLS gets ``#EXT-X-ENDLIST``), also after Ctrl-C/SIGTERM; ``reconnects`` counts
    RTMP reconnections.
    """

    def __init__(
        self,
        width: int,
        height: int,
        fps: int,
        targets: Sequence[HlsTarget | RtmpTarget],
        *,
        sample_rate: int = 48000,
        log: logging.Logger | None = None,
        encode: EncodeSettings | None = None,
    ) -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ComposerError(f"live stream: frame size {width}x{height} must be positive and even for yuv420p")
        self.width, self.height, self.fps, self.sample_rate = width, height, int(fps), int(sample_rate)
        self.hls, self.rtmp = check_targets(targets, self.fps)
        self.log = log or logging.getLogger("composer")
        self.encode = encode or LIVE_ENCODE
        self.frame_bytes = width * height * 3 // 2
        self.frames_written = 0
        self.samples_written = 0
        self.media_sequence = 0  # the first segment number of this run (a restart continues the last one)
        self._keyframe_every = _keyframe_frames(self.fps, self.hls, self.rtmp)
        self._name = str(self.hls.dir) if self.hls else _redact(self.rtmp.url)
        self._stack = contextlib.ExitStack()
        self._proc = None
        self._relay: RtmpRelay | None = None
        self._closed = False
        self._reported = False  # an error about the encoder was raised already
        self._error: str | None = None  # set by a writer thread when ffmpeg stopped reading
        self._tail: collections.deque[str] = collections.deque(maxlen=20)
        self._first_error: str | None = None  # what went wrong first names the cause; later lines are echoes
        self._threads: list[threading.Thread] = []
        self._queues: list[queue.Queue] = []
        try:
            self._start()
        except BaseException:
            self._stop(kill=True)
            raise

    # ------------------------------------------------------------------------------------------------ set-up

    def _start(self) -> None:
        fresh = True
        if self.hls is not None:
            folder = make_dir(self.hls.dir)
            self._stack.enter_context(
                folder_lock(folder, who="stream", hint="stop it first or give another HLS folder")
            )
            fresh = _prepare_hls_folder(folder)
            self.media_sequence = _next_sequence(folder / PLAYLIST)
        audio_read, audio_write = os.pipe()
        rtmp_read, rtmp_write = os.pipe() if self.rtmp is not None else (None, None)
        if rtmp_write is not None:  # slack for the moments the relay's reader waits for the GIL
            with contextlib.suppress(OSError):
                fcntl.fcntl(rtmp_write, fcntl.F_SETPIPE_SZ, 1 << 20)
        theirs = tuple(fd for fd in (audio_read, rtmp_write) if fd is not None)
        try:
            self._proc = start_live(self._command(audio_read, rtmp_write, fresh), pass_fds=theirs)
        except BaseException:
            for fd in (audio_write, rtmp_read):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in theirs:  # ffmpeg's ends now: the pipes end when ffmpeg does
                os.close(fd)
        if self.rtmp is not None:
            self._relay = RtmpRelay(
                self.rtmp.url,
                rtmp_read,
                _redact(self.rtmp.url),
                self.log,
                bitrate_k=self.rtmp.bitrate_k,
                reconnect=self.rtmp.reconnect,
            )
        audio_pipe = os.fdopen(audio_write, "wb", buffering=0)
        for pipe, what in ((self._proc.stdin, "video"), (audio_pipe, "audio")):
            q: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
            t = threading.Thread(target=self._feed, args=(pipe, q, what), name=f"live-{what}", daemon=True)
            t.start()
            self._queues.append(q)
            self._threads.append(t)
        t = threading.Thread(target=self._read_log, name="live-log", daemon=True)
        t.start()
        self._log_thread = t

    def _command(self, audio_fd: int, rtmp_fd: int | None, fresh: bool) -> list[str]:
        enc, fps = self.encode, self.fps
        args = [
            *("-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{self.width}x{self.height}", "-r", str(fps)),
            *("-i", "pipe:0"),
            *("-f", "f32le", "-ar", str(self.sample_rate), "-ac", "2"),
            *("-i", f"pipe:{audio_fd}"),
            *("-map", "0:v:0", "-map", "1:a:0"),
            *("-c:v", "libx264", "-preset", enc.preset, "-profile:v", "high", "-pix_fmt", "yuv420p"),
            # closed GOPs of exactly the keyframe interval, a keyframe where every segment (and every 2 s) starts
            *("-g", str(self._keyframe_every), "-keyint_min", str(self._keyframe_every), "-sc_threshold", "0"),
            *("-force_key_frames", f"expr:not(mod(n,{self._keyframe_every}))", "-flags", "+cgop", "-bf", "2"),
            *("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"),
            *("-threads", str(enc.threads)),
        ]
        if self.rtmp is not None:  # YouTube: constant bitrate with a set maximum
            k = self.rtmp.bitrate_k
            args += ["-b:v", f"{k}k", "-maxrate", f"{k}k", "-bufsize", f"{2 * k}k"]
        else:
            args += ["-crf", str(enc.crf), "-maxrate", f"{HLS_MAXRATE_K}k", "-bufsize", f"{2 * HLS_MAXRATE_K}k"]
        audio_bitrate = RTMP_AUDIO if self.rtmp is not None else enc.audio_bitrate  # YouTube's, whatever the preset
        args += ["-c:a", "aac", "-profile:a", "aac_low", "-aac_coder", "fast", "-b:a", audio_bitrate]
        args += ["-ar", str(enc.audio_rate), "-ac", "2"]
        slaves = []
        if self.hls is not None:  # first: at the end its trailer (ENDLIST) is written before the RTMP one's
            folder = Path(self.hls.dir).resolve()
            flags = "delete_segments+program_date_time+independent_segments"
            if not fresh:  # a restart: the old segments stay listed (and age out), numbers go on after them,
                flags += "+append_list"  # and a DISCONTINUITY tag tells players the timestamps start again
            opts = {
                "f": "hls",
                "hls_time": f"{round(self.hls.segment_s * fps) / fps:.6f}",
                "hls_list_size": str(self.hls.window),
                "hls_flags": flags,
                "hls_segment_type": "mpegts",
                "hls_segment_filename": str(folder / SEGMENT_PATTERN),
            }
            slaves.append(_tee_slave(opts, str(folder / PLAYLIST)))
        if rtmp_fd is not None:  # an MPEG-TS copy for the relay (relay.py); its failure never stops HLS
            slaves.append(_tee_slave({"f": "mpegts", "onfail": "ignore"}, f"pipe:{rtmp_fd}"))
        return [*args, "-f", "tee", "|".join(slaves)]

    # ------------------------------------------------------------------------------------------------ feeding

    def write(self, frames: Sequence[np.ndarray], audio: np.ndarray) -> None:
        """Queue one chunk: ``frames`` (flat yuv420p each) and the ``audio`` (float32 (n, 2)) that goes with them.

        Returns at once unless two chunks already wait for ffmpeg; raises ComposerError if ffmpeg stopped."""
        if self._closed:
            raise ComposerError(f"{self._name}: the live stream is closed")
        self._raise_if_dead()
        audio = np.asarray(audio)
        if audio.ndim != 2 or audio.shape[1] != 2:
            raise ValueError(f"audio has shape {audio.shape}, expected (n, 2)")
        frames_after = self.frames_written + len(frames)
        samples_after = self.samples_written + len(audio)
        # the running totals, not each chunk, must match: chunks of a fractional length in samples stay in step
        if abs(samples_after - frames_after * self.sample_rate / self.fps) > 1:
            raise ValueError(
                f"{len(audio)} audio samples for {len(frames)} frames would put the audio "
                f"{samples_after / self.sample_rate - frames_after / self.fps:+.4f} s off the video"
            )
        views = [memoryview(np.ascontiguousarray(frame)).cast("B") for frame in frames]
        for view in views:
            if view.nbytes != self.frame_bytes:
                raise ValueError(f"frame has {view.nbytes} bytes, expected {self.frame_bytes}")
        video = b"".join(views)  # a copy: the renderer reuses its frame buffers
        pcm = np.ascontiguousarray(audio, dtype="<f4").tobytes()
        self._put(self._queues[0], video)
        self._put(self._queues[1], pcm)
        self.frames_written, self.samples_written = frames_after, samples_after

    def _put(self, q: queue.Queue, item) -> None:
        while True:
            try:
                q.put(item, timeout=0.5)
                return
            except queue.Full:
                self._raise_if_dead()

    def _feed(self, pipe, q: queue.Queue, what: str) -> None:
        """A writer thread: chunks from ``q`` into one of ffmpeg's pipes until None (end) or ffmpeg stops."""
        try:
            while (chunk := q.get()) is not None:
                if self._error is None:
                    write_all(pipe, chunk)
        except (BrokenPipeError, OSError) as e:
            self._error = self._error or f"ffmpeg stopped reading the {what} ({e.strerror or e})"
            # go on taking chunks so write() never waits on a full queue nobody empties
            while q.get() is not None:
                pass
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _raise_if_dead(self) -> None:
        if self._relay is not None and self._relay.failed is not None:
            raise ComposerError(f"{_redact(self.rtmp.url)}: {self._relay.failed}, and reconnecting is off")
        if self._proc.poll() is not None or self._error is not None:
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=5)
                self._log_thread.join(timeout=5)
            self._reported = True
            raise ComposerError(f"{self._name}: the live encoder (ffmpeg) stopped: {self._why()}")

    def _why(self) -> str:
        line = self._first_error or (self._tail[-1] if self._tail else None)
        line = _strip_level(line) if line else self._error or f"exit status {self._proc.returncode}"
        return "no space left on the device" if "No space left" in line else line

    # ------------------------------------------------------------------------------------------------ its log

    def _read_log(self) -> None:
        """ffmpeg's log, line by line: the last few kept for an error message, errors passed on as warnings."""
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            self._tail.append(line)
            if "[error]" in line or "[fatal]" in line:
                self._first_error = self._first_error or line
                self.log.warning("%s: ffmpeg: %s", self._name, _strip_level(line))

    @property
    def reconnects(self) -> int:
        """How often the RTMP ingest was connected again after a drop (0 without RTMP)."""
        return self._relay.reconnects if self._relay is not None else 0

    # ------------------------------------------------------------------------------------------------ the end

    def __enter__(self) -> LiveSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._reported = True  # that exception says what happened; a failed ffmpeg would only echo it
        self.close()

    def close(self) -> None:
        """End the stream: ffmpeg gets the end of both inputs, writes the trailers (HLS: ``#EXT-X-ENDLIST``) and
        exits; one that does not within ``CLOSE_TIMEOUT_S`` is killed, its ENDLIST written here. Idempotent.
        ComposerError if ffmpeg failed and no ``write`` said so yet."""
        if self._closed:
            return
        self._closed = True
        self._stop(kill=False)
        if self._proc.returncode not in (0, None) and not self._reported:
            self._reported = True
            raise ComposerError(f"{self._name}: the live encoder (ffmpeg) failed: {self._why()}")

    def _stop(self, kill: bool) -> None:
        proc, done = self._proc, False
        try:
            if kill and proc is not None:
                proc.kill()
            for q in self._queues:  # the feeders send what they hold, then close ffmpeg's inputs
                with contextlib.suppress(queue.Full):
                    q.put(None, timeout=CLOSE_TIMEOUT_S)
            for t in self._threads:
                t.join(timeout=CLOSE_TIMEOUT_S)
            if proc is not None:
                try:
                    proc.wait(timeout=CLOSE_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.log.warning("%s: ffmpeg did not finish within %d s; stopped it", self._name, CLOSE_TIMEOUT_S)
                    self._reported = True
                    proc.kill()
                    proc.wait()
            if self._relay is not None:
                self._relay.close(timeout=CLOSE_TIMEOUT_S)
            done = True
        finally:
            # whatever happened (a timeout, a second Ctrl-C): no ffmpeg outlives the sink
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            if self._relay is not None and not done:
                self._relay.kill()
            if proc is not None:
                with contextlib.suppress(Exception):
                    self._log_thread.join(timeout=5)
                with contextlib.suppress(OSError):
                    proc.stderr.close()
            if self.hls is not None and proc is not None:
                _end_playlist(Path(self.hls.dir) / PLAYLIST)
            self._stack.close()


# ---------------------------------------------------------------------------------------------------- helpers


def check_targets(targets: Sequence[HlsTarget | RtmpTarget], fps: int) -> tuple[HlsTarget | None, RtmpTarget | None]:
    """(HLS target, RTMP target), each None when not given; ComposerError for a target the sink would refuse
    (a bad URL, a segment length, a folder of someone else's), so a stream can say so before any song is made.
    Reads only: nothing is created."""
    if not targets:
        raise ComposerError("live stream: no target; give an HLS folder, an RTMP URL or both")
    hls = [t for t in targets if isinstance(t, HlsTarget)]
    rtmp = [t for t in targets if isinstance(t, RtmpTarget)]
    if len(hls) > 1 or len(rtmp) > 1 or len(hls) + len(rtmp) != len(targets):
        raise ComposerError("live stream: give at most one HLS folder and one RTMP URL")
    h, r = (hls[0] if hls else None), (rtmp[0] if rtmp else None)
    if h is not None:
        _check_hls(h)
    if r is not None:
        _check_rtmp(r)
    _keyframe_frames(int(fps), h, r)
    return h, r


def _keyframe_frames(fps: int, hls: HlsTarget | None, rtmp: RtmpTarget | None) -> int:
    """Frames from one keyframe to the next: a segment's length, and a divisor of 2 s when RTMP is on too."""
    if fps <= 0:
        raise ComposerError(f"live stream: frame rate {fps} must be a positive whole number")
    rtmp_gop = RTMP_KEYFRAME_S * fps
    if hls is None:
        return rtmp_gop
    seg = hls.segment_s * fps
    if not (seg >= 1 and abs(seg - round(seg)) < 1e-6):
        raise ComposerError(f"{hls.dir}: segment length {hls.segment_s} s is not a whole number of frames at {fps} fps")
    seg = round(seg)
    if rtmp is not None and seg % rtmp_gop:
        raise ComposerError(
            f"{hls.dir}: with RTMP too, the segment length must be a multiple of {RTMP_KEYFRAME_S} s "
            f"(YouTube's keyframe interval), not {hls.segment_s} s"
        )
    return rtmp_gop if rtmp is not None else seg


def _check_hls(hls: HlsTarget) -> None:
    if not isinstance(hls.window, int) or hls.window < 1:
        raise ComposerError(f"{hls.dir}: the playlist window must be at least 1 segment, not {hls.window}")
    if not MIN_SEGMENT_S <= hls.segment_s <= MAX_SEGMENT_S:  # NaN fails too
        raise ComposerError(
            f"{hls.dir}: segment length {hls.segment_s:,.10g} s: give {MIN_SEGMENT_S:g} s to {MAX_SEGMENT_S:g} s "
            "(players wait a segment or three before they start)"
        )
    # ffmpeg's tee muxer reads these as separators: refused rather than escaped through its three levels
    odd = sorted(set(_TEE_SPECIAL) & set(str(Path(hls.dir).resolve())))
    if odd:
        raise ComposerError(f"{hls.dir}: the HLS folder's path may not contain {' '.join(odd)}; choose another")
    folder = Path(hls.dir)
    claim_dir(folder, "choose another output folder")
    if folder.is_dir():
        _refuse_foreign_files(folder)
        check_unlocked(folder, "stop it first or give another HLS folder")


def _check_rtmp(rtmp: RtmpTarget) -> None:
    if not re.fullmatch(r"rtmps?://[^\s/|\[\]\\'\"]+/[^\s|\\'\"]+", rtmp.url):
        raise ComposerError(f"{_redact(rtmp.url)}: not an RTMP URL (rtmp://host/app/key)")
    if not 300 <= rtmp.bitrate_k <= 60000:
        raise ComposerError(f"{_redact(rtmp.url)}: bitrate {rtmp.bitrate_k} kbit/s is outside 300-60000")


def _strip_level(line: str) -> str:
    """An ffmpeg log line without its ``[component @ 0x..] [level]`` prefixes."""
    return re.sub(r"^(\[[^]]*\] )+", "", line)


def _redact(url: str) -> str:
    """An RTMP URL for the log, its last part (YouTube's stream key) hidden."""
    head, sep, key = url.rpartition("/")
    return f"{head}/{'*' * min(len(key), 4)}" if sep and "://" in head else url


_TEE_SPECIAL = "\\:|[]='\""


def _tee_slave(options: dict[str, str], target: str) -> str:
    """One ``[k=v:...]target`` of the tee muxer (values free of its separators: checked before)."""
    return "[" + ":".join(f"{k}={v}" for k, v in options.items()) + "]" + target


def _prepare_hls_folder(folder: Path) -> bool:
    """Refuse a folder holding files composer does not write in it; remove segments no playlist lists (a
    killed run's). True when the folder holds no earlier stream."""
    playlist = folder / PLAYLIST
    listed = set(_playlist_segments(playlist))
    _refuse_foreign_files(folder)
    for p in folder.iterdir():
        if _SEGMENT_NAME.fullmatch(p.name) and p.name not in listed:
            with contextlib.suppress(OSError):
                p.unlink()
    with contextlib.suppress(OSError):
        (folder / (PLAYLIST + ".tmp")).unlink()
    return not listed


def _refuse_foreign_files(folder: Path) -> None:
    for p in folder.iterdir():
        if p.name in _HLS_NAMES:
            continue
        if not _SEGMENT_NAME.fullmatch(p.name) or p.is_symlink() or not p.is_file():
            raise ComposerError(
                f"{folder}: holds {p.name}, which a composer stream does not write; composer streams only into "
                f"a folder of its own: give an empty or new folder"
            )


def _playlist_segments(playlist: Path) -> list[str]:
    try:
        text = playlist.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ComposerError(f"{playlist}: cannot read the earlier stream's playlist ({e.strerror})") from None
    if not text.startswith("#EXTM3U"):
        raise ComposerError(f"{playlist}: not an HLS playlist (no #EXTM3U); composer will not continue it")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _next_sequence(playlist: Path) -> int:
    """The number the next segment gets: after the earlier run's last one (ffmpeg's ``append_list`` goes on
    from there), 0 for a new stream."""
    segments = _playlist_segments(playlist)
    if not segments:
        return 0
    match = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist.read_text(encoding="utf-8", errors="replace"))
    return (int(match.group(1)) if match else 0) + len(segments)


def _end_playlist(playlist: Path) -> None:
    """Write ``#EXT-X-ENDLIST`` if ffmpeg could not (killed): a player then stops instead of waiting forever."""
    with contextlib.suppress(OSError):
        text = playlist.read_text(encoding="utf-8")
        if text.startswith("#EXTM3U") and "#EXT-X-ENDLIST" not in text:
            log.info("%s: ENDLIST added after ffmpeg was stopped", playlist)
            with playlist.open("a", encoding="utf-8") as f:
                f.write("#EXT-X-ENDLIST\n")
