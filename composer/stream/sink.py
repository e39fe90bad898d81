"""The live encoder: yuv420p frames and float audio in, one ffmpeg encoding once and writing every target.

Targets are an HLS folder (a live playlist a player or a restreaming ffmpeg follows) and an RTMP ingest
(YouTube's settings). The producer calls ``write`` with ~1 s chunks at real-time pace; the sink never sleeps
and takes its timestamps from frame and sample counts, so audio and video stay in lock-step for hours.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.media.ffmpeg import EncodeSettings

log = logging.getLogger("composer")


@dataclass(frozen=True)
class HlsTarget:
    """A live HLS playlist in ``dir``: segments of ``segment_s``, the last ``window`` of them listed and kept."""

    dir: Path
    segment_s: float = 4.0
    window: int = 10


@dataclass(frozen=True)
class RtmpTarget:
    """An RTMP ingest (``rtmp://host/app/key``) at a constant ``bitrate_k`` kbit/s, reconnected when it drops."""

    url: str
    bitrate_k: int = 4500
    reconnect: bool = True


class LiveSink:
    """Context manager: one ffmpeg encoding H.264 + AAC once and writing to every target.

    ``write(frames, audio)``: frames are flat yuv420p buffers (``FrameRenderer.yuv420p``), audio float32 of
    shape (n, 2) at ``sample_rate``, exactly ``len(frames) / fps`` seconds. ``close()`` ends cleanly (HLS gets
    ``#EXT-X-ENDLIST``), also after Ctrl-C/SIGTERM; ``reconnects`` counts RTMP reconnections.
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
        self.reconnects = 0
        raise NotImplementedError("the live sink is being built on branch stream-sink")

    def __enter__(self) -> LiveSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, frames: Sequence[np.ndarray], audio: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
