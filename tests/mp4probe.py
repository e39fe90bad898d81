"""What a player sees in an MP4, read with PyAV (imageio-ffmpeg ships no ffprobe)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


@dataclass
class Probe:
    video_codec: str
    profile: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    frames: int
    keyframe_interval: int
    audio_codec: str | None
    audio_profile: str | None
    audio_rate: int | None
    duration: float
    moov_first: bool


def probe(path: Path) -> Probe:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        keys, n = [], 0
        for packet in c.demux(v):
            if packet.size == 0:
                continue
            if packet.is_keyframe:
                keys.append(n)
            n += 1
        interval = int(np.median(np.diff(keys))) if len(keys) > 1 else n
        return Probe(
            video_codec=v.codec_context.name,
            profile=v.codec_context.profile,
            pix_fmt=v.codec_context.pix_fmt,
            width=v.codec_context.width,
            height=v.codec_context.height,
            fps=float(v.average_rate),
            frames=n,
            keyframe_interval=interval,
            audio_codec=a.codec_context.name if a else None,
            audio_profile=a.codec_context.profile if a else None,
            audio_rate=a.codec_context.sample_rate if a else None,
            duration=c.duration / 1e6,
            moov_first=_moov_before_mdat(path),
        )


def _moov_before_mdat(path: Path) -> bool:
    data = Path(path).read_bytes()[: 1 << 22]
    moov, mdat = data.find(b"moov"), data.find(b"mdat")
    return moov != -1 and (mdat == -1 or moov < mdat)


def frame_at(path: Path, t: float) -> np.ndarray:
    """RGB frame shown at time t."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        best = None
        for frame in c.decode(v):
            if frame.time is not None and frame.time <= t + 1e-6:
                best = frame
            elif best is not None:
                break
        return best.to_ndarray(format="rgb24")


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        chunks = [f.to_ndarray() for f in c.decode(a)]
        data = np.concatenate(chunks, axis=1)
        return data.astype(np.float32), a.codec_context.sample_rate
