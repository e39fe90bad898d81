"""Procedural raw-meat textures (muscle reds, fat marbling, gristle) for the demo video and tests.

Deterministic for a seed: the same call writes byte-identical files. Built from fractal value noise (random
grids upscaled bicubically by Pillow and summed over octaves), which is fast enough for 1600x1000 in well
under a second per image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

_MEAT_DARK = np.array([70, 6, 12], np.float32)
_MEAT_BRIGHT = np.array([196, 34, 38], np.float32)
_FAT = np.array([238, 218, 196], np.float32)
_GRISTLE = np.array([214, 222, 232], np.float32)
_CLOT = np.array([38, 2, 6], np.float32)


def make_images(
    folder: Path, n: int = 6, seed: int = 0, size: tuple[int, int] = (1600, 1000), ext: str = "jpg"
) -> list[Path]:
    """Write ``n`` meat textures of ``size`` (width, height) into ``folder``; return their paths in order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        rng = np.random.default_rng([seed, i, 0x3EA7])
        image = Image.fromarray(meat_texture(size, rng))
        path = folder / f"meat_{seed:03d}_{i:02d}.{ext}"
        if ext.lower() in ("jpg", "jpeg"):
            image.save(path, quality=90, optimize=True)
        else:
            image.save(path)
        paths.append(path)
    return paths


def meat_texture(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An (h, w, 3) uint8 image of raw marbled meat."""
    w, h = size
    angle = rng.uniform(0, np.pi)
    # muscle: broad dark/bright patches, plus fine fibres running along one direction
    body = _norm(fractal_noise(rng, size, octaves=6, base=3))
    fibres = _directional_noise(rng, size, angle)
    shade = np.clip(0.72 * body + 0.28 * _norm(fibres) ** 1.4, 0, 1)
    rgb = _MEAT_DARK + shade[..., None] * (_MEAT_BRIGHT - _MEAT_DARK)

    # marbling: a warped network of thin fat veins (ridges of noise) and a few larger fat deposits
    warp = fractal_noise(rng, size, octaves=4, base=2)
    ridge = 1.0 - np.abs(fractal_noise(rng, size, octaves=5, base=4) + 0.35 * warp)
    veins = _smoothstep(0.9, 0.985, ridge)
    blobs = _smoothstep(0.72, 0.88, _norm(fractal_noise(rng, size, octaves=5, base=2)))
    fat = np.clip(np.maximum(veins, blobs) * (0.75 + 0.25 * _norm(warp)), 0, 1)
    rgb = rgb + fat[..., None] * (_FAT - rgb)

    # gristle: sparse, fine silvery streaks, half translucent
    gristle = _smoothstep(0.93, 0.99, 1.0 - np.abs(fractal_noise(rng, size, octaves=4, base=7)))
    rgb = rgb + (0.55 * gristle)[..., None] * (_GRISTLE - rgb)

    # clotted dark spots and wet sheen
    clots = _smoothstep(0.7, 0.9, _norm(fractal_noise(rng, size, octaves=4, base=5)))
    rgb = rgb + (0.6 * clots)[..., None] * (_CLOT - rgb)
    sheen = _smoothstep(0.8, 1.0, _norm(fractal_noise(rng, size, octaves=3, base=3))) * 40.0
    rgb = rgb + sheen[..., None]

    rgb *= _vignette(w, h)[..., None]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def fractal_noise(
    rng: np.random.Generator, size: tuple[int, int], *, octaves: int = 5, base: int = 4, persistence: float = 0.55
) -> np.ndarray:
    """Value noise summed over octaves: (h, w) float32, roughly in [-1, 1]."""
    w, h = size
    aspect = w / h
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for octave in range(octaves):
        cells = base * 2**octave
        grid = rng.standard_normal((cells + 3, int(cells * aspect) + 3)).astype(np.float32)
        out += amp * _upsample(grid, size)
        total += amp
        amp *= persistence
    return out / (total * 1.2)


def _directional_noise(rng: np.random.Generator, size: tuple[int, int], angle: float) -> np.ndarray:
    """Streaks along ``angle``: noise stretched 12:1, rotated, cropped back to ``size``."""
    w, h = size
    side = int(np.hypot(w, h)) + 2
    grid = rng.standard_normal((side // 6, max(4, side // 72))).astype(np.float32)
    streaks = Image.fromarray(_upsample(grid, (side, side)))
    streaks = streaks.rotate(np.degrees(angle), resample=Image.Resampling.BILINEAR)
    left, top = (side - w) // 2, (side - h) // 2
    return np.asarray(streaks.crop((left, top, left + w, top + h)), np.float32)


def _upsample(grid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic upscale of a small grid, trimming the border cells so edges look like the middle."""
    gh, gw = grid.shape
    image = Image.fromarray(grid)
    box = (1.0, 1.0, gw - 2.0, gh - 2.0)
    return np.asarray(image.resize(size, Image.Resampling.BICUBIC, box=box), np.float32)


def _norm(a: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(a, [1, 99])
    return np.clip((a - lo) / (hi - lo + 1e-9), 0, 1)


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    s = np.clip((x - lo) / (hi - lo), 0, 1)
    return s * s * (3 - 2 * s)


def _vignette(w: int, h: int) -> np.ndarray:
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    return 1.0 - 0.35 * np.clip(x * x + y * y - 0.3, 0, None)
