"""`composer stream`: a band's songs without end, paced at real time into a live sink (HLS and/or RTMP).

    audio process:   generate songs 2 at a time, a few ahead of what was taken ─────────────── …
    producer thread: lyrics · align · loudness → buffer (up to --buffer seconds ahead of the playhead)
    this thread:     1 s chunk: frames + audio from the playing song (or the holding card) → sink, on the clock

The output loop never waits for generation: when the buffer runs dry it plays a holding card over the last
image with quiet room tone, and goes back to songs as soon as one is ready. Chunk n is handed to the sink at
``start + n`` seconds of wall time (scheduled from the start, so pacing never drifts); the sink takes its
timestamps from frame and sample counts, so they stay continuous whatever plays.
"""

from __future__ import annotations

import collections
import datetime as dt
import errno
import itertools
import json
import logging
import math
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.band.profile import Band
from composer.band.render import (
    SONG_SECONDS,
    SONGS_AT_ONCE,
    STREAMS,
    AudioProcess,
    FinishedSong,
    finished_songs,
    song_seed,
)
from composer.errors import ComposerError
from composer.karaoke.render.cards import SongCard
from composer.types import Timeline
from composer.util.memory import release_free_memory

log = logging.getLogger("composer")

RATE = 48000  # the stream's audio rate (AAC at 48 kHz, as YouTube expects)
CHUNK_S = 1  # seconds of stream rendered and handed to the sink at a time
HOLDING_TEXT = "the band is writing..."
ROOM_TONE_DBFS = -48.0  # quiet, but audibly a room: a player or a listener never takes it for a dropout
MAX_BUFFER_S = 30 * 60.0  # songs ahead are held in memory (~23 MB a minute at 48 kHz stereo float32)
NOW_PLAYING_TAIL = 1 << 20  # bytes of an existing --now-playing file read to find its last line (a song's entry)
BEHIND_LOG_S = 30.0  # "generation is behind" is said at most this often
# test-only: a file the producer waits for before it hands over any song after the first round, so a test can
# make the buffer run dry on purpose (a debug band otherwise generates faster than real time) and end the
# drought as soon as it has seen the holding card, rather than guess how long a pause outlasts the songs before
TEST_HOLD_ENV = "COMPOSER_TEST_HOLD_FILE"


@dataclass
class StreamStatus:
    """What the status line shows; one object, updated in place (nothing in it grows with uptime)."""

    uptime_s: float = 0.0  # seconds of stream sent
    ahead_s: float = 0.0  # seconds of finished songs ahead of the playhead
    generation_speed: float = 0.0  # seconds of song generated per second of the audio process's time (last song)
    songs: int = 0  # songs started
    reconnects: int = 0
    holding: bool = False  # the holding card is on
    late_s: float = 0.0  # how far the output loop is behind its real-time schedule
    title: str = ""  # the song playing


@dataclass(frozen=True)
class StreamResult:
    seconds: float  # of stream sent
    songs: int  # songs started
    holds: int  # times the buffer ran dry
    reconnects: int
    wall_s: float


@dataclass
class _Ready:
    """A song ready to play: its frames' renderer and its audio, loudness-normalised, at the stream's rate."""

    number: int  # from 1
    song: FinishedSong
    samples: np.ndarray  # float32 (n, 2) at RATE
    card: SongCard  # band, title and number in the stream


# ----------------------------------------------------------------------------------------------- producer


class _Buffer:
    """Songs generated and timed ahead of the playhead; the producer waits while ``buffer_s`` are there (the
    song on air counted from the playhead)."""

    def __init__(self, buffer_s: float):
        self.buffer_s = buffer_s
        self.songs: collections.deque[_Ready] = collections.deque()
        self.playing_left_s = 0.0  # of the song on air: set by the output loop
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.stopped = False

    def ahead_s(self) -> float:
        with self.cond:
            return self._ahead()

    def put(self, ready: _Ready) -> None:
        with self.cond:
            self.songs.append(ready)
            self.cond.notify_all()

    def wait_for_room(self) -> bool:
        """Block while the buffer is full; False once the stream is stopping."""
        with self.cond:
            # a song is always made when none is waiting, whatever --buffer says (0: just in time)
            while not self.stopped and self.songs and self._ahead() >= self.buffer_s:
                self.cond.wait(0.5)
            return not self.stopped

    def _ahead(self) -> float:
        return self.playing_left_s + sum(len(r.samples) for r in self.songs) / RATE

    def take(self) -> _Ready | None:
        with self.cond:
            ready = self.songs.popleft() if self.songs else None
            self.cond.notify_all()
            return ready

    def wait_first(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.songs or self.error or self.stopped, timeout) and bool(self.songs)

    def set_left(self, seconds: float) -> None:
        with self.cond:
            self.playing_left_s = seconds
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


def _produce(songs, buffer: _Buffer, band: Band, status: StreamStatus, hold_until: str | None = None) -> None:
    """Thread: finished songs -> loudness-normalised 48 kHz stereo -> the buffer, never more than it holds.
    ``hold_until``: see TEST_HOLD_ENV."""
    from composer.media.audio import normalised_stereo

    recent = collections.deque(maxlen=SONGS_AT_ONCE)  # songs generated together finish together: speed over a round
    try:
        while buffer.wait_for_room():
            song = next(songs)
            samples, _ = normalised_stereo(song.audio, RATE)
            song.audio = None  # the generated samples are not needed once normalised
            recent.append((song.seconds, song.generation_s))
            spent = sum(g for _, g in recent)
            status.generation_speed = sum(s for s, _ in recent) / spent if spent > 0 else 0.0
            n = song.index + 1
            while hold_until and n > SONGS_AT_ONCE and not buffer.stopped and not os.path.exists(hold_until):
                time.sleep(0.05)
            buffer.put(_Ready(n, song, samples, SongCard(song.lyrics.title, band.name, n)))
    except BaseException as e:  # noqa: BLE001 - handed to the output loop, which raises it
        if not buffer.stopped:
            buffer.error = e
        buffer.stop()


# ----------------------------------------------------------------------------------------------- what plays


class _RoomTone:
    """Low-level pink-ish noise, continuous from one chunk to the next (its filter keeps its state)."""

    def __init__(self, seed: int):
        from scipy.signal import butter

        self.rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x70E])
        lo, hi = 60.0, 900.0  # a low rumble: a room, an amp humming, nothing that sounds like a fault
        self.sos = butter(2, [lo, hi], btype="bandpass", fs=RATE, output="sos")
        self.zi = np.zeros((len(self.sos), 2, 2))  # (sections, filter state, channels): silence before
        # white noise of unit power keeps (hi - lo) / (RATE / 2) of it through the band
        self.gain = 10 ** (ROOM_TONE_DBFS / 20) / math.sqrt((hi - lo) / (RATE / 2))

    def take(self, n: int) -> np.ndarray:
        from scipy.signal import sosfilt

        noise = self.rng.standard_normal((n, 2)).astype(np.float64)
        out, self.zi = sosfilt(self.sos, noise, axis=0, zi=self.zi)
        return (out * self.gain).astype(np.float32)


@dataclass
class _OnAir:
    """One item on air: a song, or the holding card (``ready`` None, open-ended until a song is ready)."""

    start: int  # first sample (stream time, RATE)
    end: int | None  # sample after the last; None: the holding card, until a song is ready
    frame: Callable[[float], np.ndarray]  # yuv420p frame at the item's own time
    ready: _Ready | None
    renderer: object = None  # a song's FrameRenderer (where its last image is found)


class _Program:
    """The stream's content, a chunk at a time: songs back to back, the holding card when none is ready."""

    def __init__(self, tmpl, images, seed: int, buffer: _Buffer, status: StreamStatus, on_start):
        self.tmpl = tmpl
        self.images = images
        self.seed = seed
        self.buffer = buffer
        self.status = status
        self.on_start = on_start  # called with (item, stream seconds) when a song or a hold goes on air
        self.room = _RoomTone(seed)
        self.fps = tmpl.video.fps
        self.item: _OnAir | None = None
        self.last_image = images[0]
        self.holds = 0
        if RATE % self.fps:
            raise ComposerError(f"stream: {self.fps} fps does not divide {RATE} Hz audio into whole frames")

    def chunk(self, n: int) -> tuple[list[np.ndarray], np.ndarray]:
        """Chunk ``n``: CHUNK_S * fps frames (copies) and CHUNK_S * RATE samples, whatever is on air."""
        a, b = n * CHUNK_S * RATE, (n + 1) * CHUNK_S * RATE
        spf = RATE // self.fps
        audio = np.empty((b - a, 2), dtype=np.float32)
        frames: list[np.ndarray] = []
        at = a
        while at < b:
            item = self._item_at(at, chunk_start=at == a)
            end = b if item.end is None else min(b, item.end)
            if item.ready is not None:
                audio[at - a : end - a] = item.ready.samples[at - item.start : end - item.start]
            else:
                audio[at - a : end - a] = self.room.take(end - at)
            first, stop = -(-at // spf), -(-end // spf)  # the frames whose instants fall in [at, end)
            frames += [item.frame((i * spf - item.start) / RATE).copy() for i in range(first, stop)]
            at = end
        if self.item is not None and self.item.ready is not None:
            self.buffer.set_left((self.item.end - b) / RATE)
        else:
            self.buffer.set_left(0.0)
        return frames, audio

    def _item_at(self, at: int, chunk_start: bool) -> _OnAir:
        item = self.item
        if item is not None and (item.end is None or at < item.end):
            if item.end is not None or not chunk_start:
                return item
            # the holding card gives way at a chunk's start once a song is ready
            ready = self.buffer.take()
            if ready is None:
                return item
            return self._song(ready, at)
        ready = self.buffer.take()
        if item is not None and item.ready is not None:
            self.last_image = self._image_at_end(item)
        return self._song(ready, at) if ready is not None else self._hold(at)

    def _song(self, ready: _Ready, at: int) -> _OnAir:
        from composer.karaoke.render.frames import FrameRenderer

        release_free_memory()  # the song before's renderer, frames and samples were freed: give the pages back
        renderer = FrameRenderer(
            self.tmpl,
            ready.song.timeline,
            self.images,
            seed=song_seed(self.seed, ready.song.index, 3),
            card=ready.card,
        )
        self.item = _OnAir(at, at + len(ready.samples), renderer.yuv420p, ready, renderer)
        self.status.songs += 1
        self.status.holding = False
        self.status.title = ready.song.lyrics.title
        self.on_start(self.item, at / RATE)
        return self.item

    def _hold(self, at: int) -> _OnAir:
        # one still frame, made once: the card costs nothing to play, which matters when generation is behind
        card = holding_card(self.tmpl, self.last_image)
        self.item = _OnAir(at, None, lambda t: card, None)
        self.holds += 1
        self.status.holding = True
        self.status.title = HOLDING_TEXT
        self.on_start(self.item, at / RATE)
        return self.item

    def _image_at_end(self, item: _OnAir):
        slideshow = item.renderer.slideshow
        t = (item.end - item.start) / RATE - 1e-3
        return slideshow.images[slideshow.image_for_slide(slideshow.shot(t).slide_a)]


def holding_card(tmpl, image) -> np.ndarray:
    """The frame shown while no song is ready: HOLDING_TEXT over ``image`` (a still, yuv420p)."""
    from composer.karaoke.render.frames import FrameRenderer

    tmpl = tmpl.replace(title={"enabled": True, "seconds": 60.0}, background={"ken_burns": 0.0})
    timeline = Timeline(lines=(), duration=60.0, title=HOLDING_TEXT)
    return FrameRenderer(tmpl, timeline, [image], title=HOLDING_TEXT).yuv420p(1.0).copy()


# ----------------------------------------------------------------------------------------------- the stream


def stream_band(
    band: Band,
    targets: Sequence,
    *,
    template: str | Path | None = None,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    duration: float | None = None,
    buffer_s: float = 180.0,
    song_seconds: float = SONG_SECONDS,
    now_playing: Path | None = None,
    status: Callable[[StreamStatus], None] | None = None,
    speed: float = 1.0,
    temperature: float = 1.0,
    streams: int = STREAMS,
    encode=None,
) -> StreamResult:
    """Stream new songs by ``band`` to ``targets`` (``HlsTarget``/``RtmpTarget``) until ``duration`` seconds
    have been sent (None: until interrupted). ``now_playing``: a file that gets one JSON line per song (and per
    holding card) as it goes on air. ``speed`` paces the output faster than real time: for tests only.
    """
    from composer.band.render import MAX_SONG_SECONDS, MIN_SONG_SECONDS
    from composer.karaoke.render.background import load_images
    from composer.karaoke.template import load_template
    from composer.stream.sink import LiveSink, check_targets

    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise ComposerError(f"--duration must be positive (got {duration:g} s)")
    if not (math.isfinite(buffer_s) and 0 <= buffer_s <= MAX_BUFFER_S):
        raise ComposerError(
            f"--buffer {buffer_s:,.10g} s: give 0 to {MAX_BUFFER_S / 60:g} minutes (songs ahead are held in memory)"
        )
    if not (math.isfinite(song_seconds) and MIN_SONG_SECONDS <= song_seconds <= MAX_SONG_SECONDS):
        raise ComposerError(
            f"--song-length must be {MIN_SONG_SECONDS:g} s to {MAX_SONG_SECONDS / 60:g} minutes "
            f"(got {song_seconds:g} s)"
        )
    if not (math.isfinite(speed) and speed > 0):
        raise ComposerError(f"--speed must be positive (got {speed:g})")
    if not targets:
        raise ComposerError("nothing to stream to: give --hls DIR and/or --rtmp URL")
    audio_model, lyrics_model = band.weights("audio"), band.weights("lyrics")
    tmpl = load_template(template or band.template)
    if size:
        tmpl = tmpl.replace(video={"width": size[0], "height": size[1]})
    # every song opens with its title card (band, title, song number), whatever the band's template says
    tmpl = tmpl.replace(title={"enabled": True, "seconds": max(tmpl.title.seconds, 3.0)})
    # a bad URL, segment length, frame rate or folder is said now, not after the minutes the first song takes
    if RATE % tmpl.video.fps:
        raise ComposerError(f"{tmpl.source}: {tmpl.video.fps} fps does not divide {RATE} Hz audio into whole frames")
    hls, _ = check_targets(targets, tmpl.video.fps)
    if now_playing is not None:
        now_playing = _check_now_playing(Path(now_playing), hls.dir if hls is not None else None)
    if band.generated:
        from composer.synthetic.demo import write_demo_images

        write_demo_images(band.images_dir)
    images = load_images(band.images_dir)
    if now_playing is not None:
        now_playing.parent.mkdir(parents=True, exist_ok=True)

    song_seconds = round(song_seconds * band.sample_rate) / band.sample_rate
    state = StreamStatus()
    buffer = _Buffer(buffer_s)
    t_start = time.monotonic()
    worker = AudioProcess(
        band,
        audio_model,
        [song_seconds] * 2,
        seed=seed,
        streams=streams,
        temperature=temperature,
        endless=True,
    )
    songs = finished_songs(
        worker,
        itertools.repeat(song_seconds),
        lyrics_model,
        seed,
        voices=band.voices,
        max_rate=tmpl.text.max_syllables_per_s,
    )
    hold_until = os.environ.get(TEST_HOLD_ENV)
    producer = threading.Thread(
        target=_produce, args=(songs, buffer, band, state, hold_until), daemon=True, name="producer"
    )
    try:
        producer.start()
        while not buffer.wait_first(0.5):
            if buffer.error is not None:
                raise buffer.error
            if status is not None:
                status(state)

        def on_air(item: _OnAir, at_s: float) -> None:
            if item.ready is None:
                log.warning("the buffer ran dry at %.1f s of stream: playing the holding card", at_s)
            _log_now_playing(now_playing, item, at_s)

        program = _Program(tmpl, images, seed, buffer, state, on_air)
        video = tmpl.video
        chunks = None if duration is None else max(1, math.ceil(duration / CHUNK_S - 1e-9))
        last_behind = -math.inf
        with LiveSink(video.width, video.height, video.fps, list(targets), sample_rate=RATE, encode=encode) as sink:
            clock = time.monotonic()
            for n in itertools.count() if chunks is None else range(chunks):
                if buffer.error is not None:
                    raise ComposerError(f"stream: generation failed: {buffer.error}") from None
                frames, audio = program.chunk(n)
                due = clock + n * CHUNK_S / speed
                now = time.monotonic()
                if now < due:
                    time.sleep(due - now)
                state.late_s = max(0.0, now - due)
                if state.late_s > 2 * CHUNK_S / speed and now - last_behind > BEHIND_LOG_S:
                    log.warning("the stream is %.1f s behind real time: rendering cannot keep up", state.late_s)
                    last_behind = now
                sink.write(frames, audio)
                del frames, audio
                state.uptime_s = (n + 1) * CHUNK_S
                state.ahead_s = buffer.ahead_s()
                state.reconnects = sink.reconnects
                if status is not None:
                    status(state)
            reconnects = sink.reconnects
        return StreamResult((n + 1) * CHUNK_S, state.songs, program.holds, reconnects, time.monotonic() - t_start)
    finally:
        buffer.stop()
        worker.close()  # the producer, waiting on it, gets an error and ends
        # ... and is waited for: a thread still inside torch when the interpreter exits aborts the process
        if producer.is_alive():
            producer.join(timeout=30)


def _check_now_playing(path: Path, hls_dir: Path | None) -> Path:
    """``path`` if composer may append now-playing lines to it: a new file, a device or pipe (written without
    waiting), or a JSON lines file whose last line is one; never a file of the user's (a band.toml, notes) and
    never inside the HLS folder, which holds the stream's files alone."""
    if path.is_dir():
        raise ComposerError(f"{path}: --now-playing is a folder, not a file")
    if hls_dir is not None and path.resolve().is_relative_to(Path(hls_dir).resolve()):
        raise ComposerError(
            f"{path}: --now-playing inside the HLS folder {hls_dir}: that folder holds the stream's "
            "files alone; give a path outside it"
        )
    try:
        st = path.stat()
    except FileNotFoundError:
        return path
    except OSError as e:
        raise ComposerError(f"{path}: --now-playing: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return path
    try:
        with path.open("rb") as f:
            f.seek(max(0, st.st_size - NOW_PLAYING_TAIL))
            last = f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        entry = json.loads(last)
    except (OSError, ValueError):
        entry = None
    if not (isinstance(entry, dict) and "start" in entry and "title" in entry):
        raise ComposerError(
            f"{path}: --now-playing appends a JSON line per song, and this file is not a now-playing log "
            "(its last line is not one): give a new file"
        )
    return path


def _log_now_playing(path: Path | None, item: _OnAir, at_s: float) -> None:
    """One JSON line as a song (or the holding card) goes on air, for a chat bot or a website."""
    if path is None:
        return
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if item.ready is None:
        entry = {"holding": True, "title": HOLDING_TEXT, "start": round(at_s, 3), "time": now}
    else:
        song = item.ready.song
        entry = {
            "song": item.ready.number,
            "title": song.lyrics.title,
            "start": round(at_s, 3),
            "seconds": round(len(item.ready.samples) / RATE, 3),
            "time": now,
            "lyrics": [line.text for line in song.timeline.lines],
        }
    data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        # never waits: a pipe nobody reads (or whose reader stalls) must not stall the stream
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as e:
        why = {errno.ENXIO: "a pipe nobody reads", errno.EAGAIN: "its reader is not keeping up"}.get(e.errno)
        log.warning("%s: now-playing line not written (%s)", path, why or e.strerror or e)


__all__ = ["HOLDING_TEXT", "StreamResult", "StreamStatus", "holding_card", "stream_band"]
