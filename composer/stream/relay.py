"""The RTMP leg of a live stream: the encoder's MPEG-TS copy pushed to an ingest by a relay ffmpeg that composer
restarts, with back-off, whenever the ingest drops the connection.

Why not ffmpeg's own ``fifo`` muxer with ``attempt_recovery``: in the ffmpeg composer ships (9.0) a recovered
flv output fails at once ("A non-NULL packet sent after an EOF" from its extract_extradata filter) and the ingest
gets a header and nothing more. A fresh relay process per connection has no such state; it also gives a real
back-off and an exact count of reconnections.

Nothing here ever blocks the encoder: a reader thread drains the encoder's pipe into a bounded queue and drops
the oldest data when the relay cannot keep up (a stalled or absent ingest); the relay starts copying at the
next keyframe, after the stream's PAT and PMT, so a reconnected ingest gets a clean start within a second.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import re
import threading
import time

import numpy as np

from composer.media.ffmpeg import start_live

TS_PACKET = 188
READ_BYTES = TS_PACKET * 348  # ~64 kB: whole TS packets, so a relay started between two reads sees whole ones
QUEUE_READS = 96  # ~6 MB, ~10 s at 4.5 Mbit/s: what waits for a slow ingest before the oldest is dropped
BACKOFF_S = (1, 2, 4, 8, 15, 30)  # waits between attempts after a drop; the last one repeats
STEADY_S = 30  # a connection that lasted this long resets the back-off
STOP_TIMEOUT_S = 10
PROBE_S = 0.5  # stream a relay reads before it connects (an MPEG-TS input is read this far whatever it finds)
# ffmpeg's mpegts muxer: the PAT, the PMT at 0x1000, the first mapped stream (the video) at 0x100
PAT_PID, PMT_PID, VIDEO_PID = 0x0000, 0x1000, 0x0100


def write_all(pipe, data: bytes) -> None:
    """All of ``data`` into an unbuffered pipe: a signal arriving mid-write can make one write() partial."""
    view = memoryview(data)
    while view:
        view = view[pipe.write(view) :]


def _keyframe_at(data: bytes, tables: dict[int, bytes]) -> int:
    """The index of the first TS packet in ``data`` that starts a video keyframe (-1: none); the last PAT and
    PMT packets are kept in ``tables``. ffmpeg marks a keyframe's first packet with the random access flag."""
    ts = np.frombuffer(data, np.uint8).reshape(-1, TS_PACKET)
    pid = (ts[:, 1].astype(np.int32) & 0x1F) << 8 | ts[:, 2]
    for table in (PAT_PID, PMT_PID):
        found = np.flatnonzero(pid == table)
        if found.size:
            tables[table] = bytes(ts[found[-1]])
    unit_start = ts[:, 1] & 0x40 != 0
    adaptation = (ts[:, 3] & 0x20 != 0) & (ts[:, 4] > 0)
    random_access = ts[:, 5] & 0x40 != 0
    keys = np.flatnonzero((pid == VIDEO_PID) & unit_start & adaptation & random_access)
    return int(keys[0]) if keys.size else -1


class RtmpRelay:
    """Push the MPEG-TS arriving on ``read_fd`` to ``url`` (flv over RTMP), reconnecting when ``reconnect``."""

    def __init__(
        self, url: str, read_fd: int, name: str, log: logging.Logger, *, bitrate_k: int, reconnect: bool = True
    ) -> None:
        self.url, self.name, self.log, self.reconnect = url, name, log, reconnect
        # what a relay may read before it connects: PROBE_S of stream, and at least a large keyframe
        self._probe_bytes = max(2 << 20, int((bitrate_k + 256) * 1000 / 8 * PROBE_S))
        self._tables: dict[int, bytes] = {}  # the last PAT and PMT packets seen, for the next relay to start with
        self.reconnects = 0  # connections made again after a drop
        self.dropped_bytes = 0  # encoded stream lost while the ingest was away or slow
        self.failed: str | None = None  # why the RTMP leg ended for good (reconnect=False and a drop)
        self._fd = read_fd
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_READS)
        self._proc = None
        self._log_thread: threading.Thread | None = None
        self._stopping = False
        self._tail: collections.deque[str] = collections.deque(maxlen=8)
        self._reader = threading.Thread(target=self._read, name="rtmp-read", daemon=True)
        self._pusher = threading.Thread(target=self._push, name="rtmp-push", daemon=True)
        self._reader.start()
        self._pusher.start()

    def _read(self) -> None:
        """The encoder's output into the queue, whole TS packets at a time; when full, the oldest goes."""
        rest = b""
        try:
            while data := os.read(self._fd, READ_BYTES):
                data = rest + data
                cut = len(data) - len(data) % TS_PACKET
                rest = data[cut:]
                self._put_dropping_oldest((data[:cut], _keyframe_at(data[:cut], self._tables)))
        except OSError:
            pass
        finally:
            os.close(self._fd)
            self._put_end()

    def _put_end(self) -> None:
        self._put_dropping_oldest(None)

    def _put_dropping_oldest(self, item) -> None:
        """Queue item; when the queue is full the oldest chunk goes (its bytes counted as dropped)."""
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    old = self._queue.get_nowait()
                    self.dropped_bytes += len(old[0]) if old else 0

    def _push(self) -> None:
        """Start relays, feed them, and when one ends before the stream does, wait and start the next one.

        A new relay's input starts at a keyframe, after the stream's PAT and PMT: it finds every stream's
        parameters (the SPS comes with the keyframe) in its first packets and connects within ``PROBE_S``."""
        attempt, next_try, started = 0, 0.0, 0.0
        while (item := self._queue.get()) is not None:
            data, key = item
            if self._proc is None:
                if self.failed is not None or self._stopping or time.monotonic() < next_try or key < 0:
                    self.dropped_bytes += len(data)
                    continue
                pat, pmt = self._tables.get(PAT_PID), self._tables.get(PMT_PID)
                if pat is None or pmt is None:
                    self.dropped_bytes += len(data)
                    continue
                self._start(again=attempt > 0)
                started = time.monotonic()
                data = pat + pmt + data[key * TS_PACKET :]
            try:
                write_all(self._proc.stdin, data)
            except OSError:
                lasted = time.monotonic() - started
                why = self._end_relay()
                if lasted >= STEADY_S:
                    attempt = 0
                if not self.reconnect:
                    self.failed = f"the RTMP ingest dropped the stream ({why})"
                    self.log.warning("%s: %s; not reconnecting", self.name, self.failed)
                    continue
                wait = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                next_try = time.monotonic() + wait
                self.log.warning("%s: ingest lost (%s); reconnecting in %d s", self.name, why, wait)
        self._finish()

    def _start(self, again: bool) -> None:
        cmd = [
            *("-analyzeduration", str(int(PROBE_S * 1e6)), "-probesize", str(self._probe_bytes)),
            *("-f", "mpegts", "-i", "pipe:0"),
            *("-map", "0:v:0", "-map", "0:a:0", "-c", "copy"),
            *("-f", "flv", "-flvflags", "no_duration_filesize", self.url),
        ]
        self._proc = start_live(cmd)
        self._log_thread = threading.Thread(target=self._read_log, args=(self._proc, again), daemon=True)
        self._log_thread.start()

    def _read_log(self, proc, again: bool) -> None:
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line.startswith("[info] Output #0"):  # printed once the ingest accepted the connection
                if again:
                    self.reconnects += 1
                    self.log.warning("%s: ingest reconnected (%d so far)", self.name, self.reconnects)
            elif "[error]" in line or "[fatal]" in line:
                self._tail.append(re.sub(r"^(\[[^]]*\] )+", "", line).replace(self.url, self.name))

    def _end_relay(self) -> str:
        """Reap the relay that stopped taking data; what it said went wrong."""
        proc, self._proc = self._proc, None
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except BaseException:
            proc.kill()
            proc.wait()
        self._log_thread.join(timeout=STOP_TIMEOUT_S)  # its last lines say why
        return self._tail[-1] if self._tail else f"relay exit status {proc.returncode}"

    def _finish(self) -> None:
        """The stream ended: the relay gets the end of its input, sends what it holds, and exits."""
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            except BaseException:
                self._proc.kill()
                self._proc.wait()

    def close(self, timeout: float) -> None:
        """Wait for the encoder's end to reach the ingest; a relay still running after ``timeout`` is killed."""
        self._reader.join(timeout=timeout)
        self._pusher.join(timeout=timeout)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Stop the relay now (the encoder was killed: the reader sees the end of its pipe by itself)."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
