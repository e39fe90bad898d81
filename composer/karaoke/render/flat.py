"""A background of one flat colour, shaped like ``Slideshow``: what the lyric layer is drawn over to lift it off."""

from __future__ import annotations

import numpy as np

from composer.karaoke.render.background import PlaneFormat


class FlatBackground:
    """Every frame one colour; a still (cacheable) background, so the renderer's fast still-image path runs."""

    def __init__(self, rgb: tuple[int, int, int], size: tuple[int, int]):
        self.rgb = rgb
        self.width, self.height = size
        self._planes: dict[str, list[np.ndarray]] = {}

    def static_key(self, t: float) -> int:
        return 0

    def still_planes(self, image: int, fmt: PlaneFormat) -> list[np.ndarray]:
        if fmt.name not in self._planes:
            _, planes = fmt.alloc(self.width, self.height)
            for plane, value in zip(planes, fmt.colour(self.rgb)):
                plane[...] = np.clip(np.rint(value), 0, 255).astype(np.uint8)
            self._planes[fmt.name] = planes
        return self._planes[fmt.name]

    def draw(self, t: float, fmt: PlaneFormat, out: list[np.ndarray]) -> None:
        for dst, src in zip(out, self.still_planes(0, fmt)):
            np.copyto(dst, src)
