"""A small learned voice-activity detector: where in a mix a voice sings, per 10 ms frame.

Its input is what the hand-made detector in ``align.py`` reads (log mel band energies of the mix and, for
stereo, of the centre over the sides, each less its running floor over many seconds, so the level of the
song and the bed of the band drop out); its output is the chance that a voice sounds in each frame. It is a
stack of dilated 1-D convolutions (about 0.65 s of context) trained by ``benchmarks/train_vad.py`` on
composer's own mixtures: espeak-ng voices (sung, spoken, growled, screamed, buried) and composer's
synthesized growls over composer's instrumentals and the demo album's, from seeds that no evaluation uses.
The weights ship in ``composer/data`` (safetensors + JSON); inference is numpy, so aligning needs no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "voice_detector.safetensors"
CONFIG = WEIGHTS.with_suffix(".json")
N_FEATURES = 80  # 40 bands of the mix, 40 of the centre's share
_FRAME_RATE = 100  # frames per second, as align.FRAME_RATE


@dataclass(frozen=True)
class DetectorConfig:
    """The network's shape: conv layers (kernel, dilation) of `channels` each, ReLU between, then 1x1."""

    channels: int
    layers: tuple[tuple[int, int], ...]

    @classmethod
    def from_json(cls, text: str) -> DetectorConfig:
        raw = json.loads(text)
        return cls(int(raw["channels"]), tuple((int(k), int(d)) for k, d in raw["layers"]))

    def to_json(self) -> str:
        return json.dumps({"channels": self.channels, "layers": [list(x) for x in self.layers]}, indent=1)

    @property
    def context(self) -> int:
        """Frames seen on each side of the frame judged."""
        return sum((k - 1) // 2 * d for k, d in self.layers)


def features(mid: np.ndarray, centre: np.ndarray | None) -> np.ndarray:
    """(frames, N_FEATURES) float32 from log band energies: each band less its running floor, clipped."""

    def excess(bands: np.ndarray) -> np.ndarray:
        return np.clip(bands - running_floor(bands, seconds=20.0, pct=10), 0.0, 8.0)

    m = excess(mid)
    return np.concatenate([m, excess(centre) if centre is not None else m], axis=1).astype(np.float32)


def running_floor(x: np.ndarray, seconds: float, pct: float, block: int = 10) -> np.ndarray:
    """Per-column running low percentile of x over a window, on 0.1 s block means (cheap for long songs)."""
    n = x.shape[0]
    nb = int(np.ceil(n / block))
    padded = np.concatenate([x, np.repeat(x[-1:], nb * block - n, axis=0)])
    blocks = padded.reshape(nb, block, -1).mean(axis=1)
    size = max(3, int(seconds * _FRAME_RATE / block) | 1)
    floor = ndimage.percentile_filter(blocks, pct, size=(size, 1), mode="reflect")
    centres = (np.arange(nb) + 0.5) * block
    idx = np.arange(n)
    return np.stack([np.interp(idx, centres, floor[:, k]) for k in range(x.shape[1])], axis=1).astype(np.float32)


@lru_cache(maxsize=1)
def _shipped() -> tuple[DetectorConfig, dict[str, np.ndarray]]:
    from safetensors.numpy import load_file

    return DetectorConfig.from_json(CONFIG.read_text()), load_file(str(WEIGHTS))


def detect(feats: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Chance of voice per frame, float32 in [0, 1], computed in overlapping chunks (bounded memory)."""
    config, weights = _shipped()
    ctx = config.context
    n = len(feats)
    out = np.empty(n, np.float32)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        # each chunk with its real neighbours as context; at the song's ends the layers pad as in training
        lo, hi = max(a - ctx, 0), min(b + ctx, n)
        out[a:b] = _forward(config, weights, feats[lo:hi])[a - lo : b - lo]
    return out


def _forward(config: DetectorConfig, w: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The network on (frames, features), 'same' padding with zeros, as torch's Conv1d computes it."""
    h = (x - w["norm.mean"]) / w["norm.std"]
    for i, (_, d) in enumerate(config.layers):
        h = np.maximum(_conv(h, w[f"conv{i}.weight"], w[f"conv{i}.bias"], d), 0.0)
    logit = h @ w["out.weight"][:, :, 0].T + w["out.bias"]
    return (1.0 / (1.0 + np.exp(-logit[:, 0]))).astype(np.float32)


def _conv(h: np.ndarray, weight: np.ndarray, bias: np.ndarray, dilation: int) -> np.ndarray:
    """(frames, c_in) -> (frames, c_out) dilated 1-D convolution; weight is torch's (c_out, c_in, k)."""
    k = weight.shape[2]
    pad = (k - 1) // 2 * dilation
    hp = np.pad(h, ((pad, pad), (0, 0)))
    out = np.broadcast_to(bias, (len(h), len(bias))).astype(np.float32)
    for t in range(k):
        out = out + hp[t * dilation : t * dilation + len(h)] @ weight[:, :, t].T
    return out
