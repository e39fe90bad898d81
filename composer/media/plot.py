"""A training curve as a PNG, drawn with Pillow (no plotting library needed): one line per series."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

from composer.util.files import atomic_path

_COLOURS = ["#d00000", "#2060d0", "#20a040", "#c08000"]


def write_curve(
    path: Path,
    series: dict[str, list[tuple[float, float]]],
    *,
    title: str,
    ylabel: str,
    xlabel: str = "step",
    ylim: tuple[float, float] | None = None,
    size: tuple[int, int] = (900, 520),
) -> None:
    """``series`` maps a name to (x, value) points (training steps unless ``xlabel`` says otherwise); axes span
    all of them, or the y axis spans ``ylim`` (e.g. from 0, to show how flat a curve is). Written atomically."""
    from composer.media.fonts import load_font

    w, h = size
    left, right, top, bottom = 80, 24, 48, 60
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font, small = load_font("oswald", 20), load_font("oswald-light", 15)
    points = [p for pts in series.values() for p in pts if math.isfinite(p[1])]
    draw.text((left, 12), title, fill="black", font=font)
    if points:
        x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
        y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
        x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
        pad = 0.05 * (y1 - y0)
        y0, y1 = ylim if ylim is not None else (y0 - pad, y1 + pad)

        def at(x: float, y: float) -> tuple[float, float]:
            return (
                left + (x - x0) / (x1 - x0) * (w - left - right),
                h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom),
            )

        for k in range(6):
            y = y0 + (y1 - y0) * k / 5
            _, py = at(x0, y)
            draw.line([(left, py), (w - right, py)], fill="#e4e4e4")
            draw.text((8, py - 9), f"{y:.2f}", fill="#444444", font=small)
        for k in range(6):
            x = x0 + (x1 - x0) * k / 5
            px, _ = at(x, y0)
            draw.text((px - 12, h - bottom + 8), f"{x:.0f}" if x1 - x0 >= 5 else f"{x:.1f}", fill="#444444", font=small)
        for i, (name, pts) in enumerate(series.items()):
            colour = _COLOURS[i % len(_COLOURS)]
            xy = [at(x, y) for x, y in pts if math.isfinite(y)]
            if len(xy) > 1:
                draw.line(xy, fill=colour, width=3)
            for px, py in xy:
                draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
            draw.text((w - right - 260, top + 6 + 24 * i), f"— {name}", fill=colour, font=small)
    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    draw.text((left, h - 26), xlabel, fill="black", font=small)
    draw.text((8, top - 24), ylabel, fill="black", font=small)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def write_spectrograms(
    path: Path, panels: dict[str, object], rate: int, *, seconds: float = 20.0, size: tuple[int, int] = (1200, 260)
) -> None:
    """One log-frequency spectrogram per named signal (its first ``seconds``), stacked, on one dB scale: drum
    hits show as vertical lines, riffs and voices as horizontal bands, a wash as an even smear. Atomic."""
    import numpy as np
    import scipy.signal

    from composer.media.fonts import load_font

    w, h = size
    label = 26
    image = Image.new("RGB", (w, (h + label) * len(panels)), "white")
    draw = ImageDraw.Draw(image)
    font = load_font("oswald", 18)
    rows = 200
    for i, (name, x) in enumerate(panels.items()):
        x = np.asarray(x[: round(seconds * rate)], np.float64)
        freqs, _, z = scipy.signal.stft(x, fs=rate, nperseg=1024, noverlap=1024 - 128)
        # log-spaced rows from 40 Hz to Nyquist, each octave the same height as the ear hears it; a row takes
        # the mean of its bins, or where it is narrower than a bin (the low octaves) the bins interpolated
        edges = np.geomspace(40.0, rate / 2, rows + 1)
        power = np.abs(z) ** 2
        idx = np.clip(np.searchsorted(freqs, edges), 1, len(freqs) - 1)
        centre = np.sqrt(edges[:-1] * edges[1:])
        interp = np.stack([np.interp(centre, freqs, col) for col in power.T], axis=1)
        band = np.stack(
            [power[a:b].mean(0) if b > a + 1 else interp[r] for r, (a, b) in enumerate(zip(idx[:-1], idx[1:]))]
        )
        db = 10 * np.log10(band + 1e-10)
        db = np.clip((db - (db.max() - 70.0)) / 70.0, 0.0, 1.0)[::-1]  # 70 dB of range, high frequencies up
        rgb = np.stack([db**0.8, db**2.0, (1 - db) * db * 2.5], axis=-1).clip(0, 1)  # black, red, yellow
        panel = Image.fromarray((rgb * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)
        top = i * (h + label)
        draw.text((8, top + 3), name, fill="black", font=font)
        image.paste(panel, (0, top + label))
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def spectrogram_files(
    paths: list[Path], out: Path, *, start: float = 0.0, seconds: float = 20.0, rate: int = 16000
) -> Path:
    """``write_spectrograms`` of audio files (any format composer reads), each from ``start`` for ``seconds``,
    at one rate so their panels share a frequency scale."""
    from composer.errors import ComposerError
    from composer.media.audio import read_audio, resample
    from composer.util.files import Input, OutputSet

    if not paths:
        raise ComposerError("give one or more audio files to draw")
    out = Path(out)
    outputs = OutputSet([out], [Input(Path(p), "an audio file to draw") for p in paths], "choose another -o")
    panels = {}
    for path in map(Path, paths):
        audio = resample(read_audio(path), rate).mono()
        piece = audio[round(start * rate) : round((start + seconds) * rate)]
        if not len(piece):
            raise ComposerError(f"{path}: shorter than --start {start:g} s")
        panels[path.name] = piece
    with outputs:
        write_spectrograms(outputs.staged(out), panels, rate, seconds=seconds)
    return out
