"""`composer train --band`: a band's material made ready, then its audio and lyric models trained, each to the
step count in its ``band.toml`` and each resumable.

The trainers themselves live in ``composer.models``; this module only knows where a band keeps its recordings,
lyrics and models, and its presets and step counts (``band.toml`` is the one place they are set).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.band.profile import AUDIO_MODEL, LYRICS_MODEL, Band
from composer.errors import ComposerError
from composer.types import Progress

if TYPE_CHECKING:
    from composer.models.lyricgpt.train import TrainReport as LyricsTrainReport
    from composer.models.lyricgpt.train import TrainResult as LyricsTrainResult
    from composer.models.samplernn.train import TrainReport as AudioTrainReport
    from composer.models.samplernn.train import TrainResult as AudioTrainResult

MODELS = (AUDIO_MODEL, LYRICS_MODEL)


@dataclass(frozen=True)
class BandTrainResult:
    audio: AudioTrainResult | None  # None: not trained this time (``only="lyrics"``)
    lyrics: LyricsTrainResult | None


def train_band(
    band: Band,
    *,
    only: str | None = None,
    audio_steps: int | None = None,
    lyrics_steps: int | None = None,
    resume: bool = False,
    threads: int | None = None,
    device: str | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    report: Callable[[str, AudioTrainReport | LyricsTrainReport], None] | None = None,
    finished: Callable[[str, AudioTrainResult | LyricsTrainResult], None] | None = None,
) -> BandTrainResult:
    """Train ``band``'s audio model, then its lyric model (``only``: ``"audio"`` or ``"lyrics"``), to the
    step counts given or else ``band.toml``'s. ``threads`` and ``device`` are the audio model's (the lyric model
    trains on one CPU thread). ``report(model, measures)`` is called at each checkpoint and ``finished(model,
    result)`` as soon as a model is trained, ``model`` being ``"audio"`` or ``"lyrics"``."""
    if only not in (None, *MODELS):
        raise ComposerError(f"--only {only!r}: allowed values are {', '.join(MODELS)}")

    def reports(model: str):
        return (lambda measures: report(model, measures)) if report else None

    audio = lyrics = None
    if only in (None, AUDIO_MODEL):
        audio = train_band_audio(
            band,
            steps=audio_steps,
            resume=resume,
            seed=seed,
            threads=threads,
            device=device,
            progress=progress,
            report=reports(AUDIO_MODEL),
        )
        if finished:
            finished(AUDIO_MODEL, audio)
    if only in (None, LYRICS_MODEL):
        lyrics = train_band_lyrics(
            band, steps=lyrics_steps, resume=resume, seed=seed, progress=progress, report=reports(LYRICS_MODEL)
        )
        if finished:
            finished(LYRICS_MODEL, lyrics)
    return BandTrainResult(audio, lyrics)


def train_band_audio(
    band: Band,
    *,
    audio_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    preset: str | None = None,
    steps: int | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> AudioTrainResult:
    """The band's audio model: from its recordings (a generated band's are written first) unless ``audio_dir``,
    into its model folder unless ``out``, at ``band.toml``'s preset and step count unless given. Other options
    (resume, seed, threads, init, keep, device, report) as ``composer.models.samplernn.train.train_audio``."""
    from composer.models.samplernn.train import train_audio

    audio_dir = Path(audio_dir) if audio_dir is not None else band.audio_dir
    if audio_dir == band.audio_dir:
        band.ensure_material(progress)
    return train_audio(
        audio_dir,
        out if out is not None else band.audio_model_dir,
        preset=preset or band.audio_preset,
        steps=steps if steps is not None else band.audio_steps,
        progress=progress,
        **options,
    )


def train_band_lyrics(
    band: Band,
    *,
    files: Sequence[str | os.PathLike] | None = None,
    out: str | os.PathLike | None = None,
    preset: str | None = None,
    steps: int | None = None,
    **options: Any,
) -> LyricsTrainResult:
    """The band's lyric model: from its lyric files unless ``files``, into its model folder unless ``out``, at
    ``band.toml``'s preset and step count unless given. Other options (resume, seed, sources, threads,
    progress, report) as ``composer.models.lyricgpt.train.train_lyrics``."""
    from composer.models.lyricgpt.train import train_lyrics

    return train_lyrics(
        files or band.lyric_files(),
        out if out is not None else band.lyrics_model_dir,
        preset=preset or band.lyrics_preset,
        steps=steps if steps is not None else band.lyrics_steps,
        **options,
    )


__all__ = ["BandTrainResult", "train_band", "train_band_audio", "train_band_lyrics"]
