"""A band's audio model generating a track on its own (`composer generate audio --band`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from composer.band.profile import AUDIO_MODEL, Band


def generate_band_audio(
    band: Band,
    seconds: float,
    out_wav: str | os.PathLike,
    *,
    model: str | os.PathLike | None = None,
    prime: str | os.PathLike | None = None,
    **kwargs: Any,
):
    """The band's trained audio model (or ``model``) writes ``seconds`` of track to ``out_wav``; its stretches
    first hear excerpts of the band's own recordings, as in a band render, unless a ``prime`` file is given.
    Other keywords are ``generate_audio``'s; returns its ``GenerateStats``."""
    from composer.models.samplernn.generate import generate_audio
    from composer.models.samplernn.model import load_config

    model = Path(model) if model is not None else band.weights(AUDIO_MODEL)
    pool = None if prime is not None else band.prime_pool(load_config(model).sample_rate)
    return generate_audio(model, seconds, out_wav, prime=prime, pool=pool, **kwargs)
