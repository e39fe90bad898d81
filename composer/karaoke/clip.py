"""`KaraokeClip`: composer's lyric layer as a MoviePy clip with its alpha mask, to compose over any clip.

The layer is the fast path's own output, not a second drawing of the text: the renderer draws each frame over
black and over white, and since it blends ``out = bg * (1 - a) + premultiplied colour``, the two frames give the
alpha (``1 - (white - black) / 255``) and the colour (``black / alpha``) exactly where the text is opaque.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from composer.karaoke.render.flat import FlatBackground
from composer.karaoke.template import Template, load_template
from composer.types import Timeline


class LyricLayer:
    """RGB and alpha of the lyrics (and title card) at any time, with nothing behind them."""

    def __init__(
        self,
        timeline: Timeline,
        template: str | Path | Template = "gore",
        *,
        title: str | None = None,
        size: tuple[int, int] | None = None,
    ):
        from composer.karaoke.render.frames import FrameRenderer

        tmpl = template if isinstance(template, Template) else load_template(template)
        if size is not None:  # drawn at the size it is shown: text stays sharp, and no resize per frame
            tmpl = tmpl.replace(video={"width": size[0], "height": size[1]})
        size = (tmpl.width, tmpl.height)
        self.template = tmpl
        self.size = size
        self._over = [
            FrameRenderer(tmpl, timeline, [], title=title, background=FlatBackground(rgb, size))
            for rgb in ((0, 0, 0), (255, 255, 255))
        ]
        self._last: tuple[float, np.ndarray, np.ndarray] | None = None

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 colour and (H, W) float alpha in 0-1 at ``t`` (the last answer is kept: MoviePy asks
        for a frame and then for its mask at the same time)."""
        if self._last is None or self._last[0] != t:
            black, white = (r.rgb(t).astype(np.int16) for r in self._over)
            alpha = 1.0 - (white - black).mean(axis=2) / 255.0
            alpha = np.clip(alpha, 0.0, 1.0)
            colour = np.where(alpha[..., None] > 0, black / np.maximum(alpha, 1e-6)[..., None], 0)
            self._last = (t, np.clip(np.rint(colour), 0, 255).astype(np.uint8), alpha)
        return self._last[1], self._last[2]


def KaraokeClip(  # noqa: N802 - named like the MoviePy clip classes it stands beside
    timeline: Timeline,
    template: str | Path | Template = "gore",
    *,
    duration: float | None = None,
    title: str | None = None,
    size: tuple[int, int] | None = None,
):
    """A MoviePy ``VideoClip`` of the lyric layer with its mask attached, at ``size`` (even sides; default the
    template's) and the template's fps; the text scales with the size as in a render.

    ``CompositeVideoClip([your_clip, KaraokeClip(timeline, "gore", size=your_clip.size)])`` sings over your
    clip; ``timeline`` is what ``composer.align_file`` (or ``read_lyrics`` of a timed file) gives."""
    from moviepy import VideoClip

    layer = LyricLayer(timeline, template, title=title, size=size)
    length = timeline.duration if duration is None else duration
    mask = VideoClip(frame_function=lambda t: layer.at(t)[1], is_mask=True, duration=length)
    clip = VideoClip(frame_function=lambda t: layer.at(t)[0], duration=length)
    return clip.with_mask(mask).with_fps(layer.template.fps)


__all__: Sequence[str] = ("KaraokeClip", "LyricLayer")
