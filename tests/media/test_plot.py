"""composer.media.plot: the curves a benchmark or a training run draws."""

from __future__ import annotations

import numpy as np
from PIL import Image

from composer.media.plot import write_curve


def test_a_curve_names_its_x_axis(tmp_path):
    series = {"buffer ahead": [(0.0, 120.0), (1.0, 300.0), (2.0, 180.0)]}
    pictures = {}
    for label in ("step", "minutes of stream"):
        path = tmp_path / f"{label}.png"
        write_curve(path, series, title="a stream", ylabel="seconds", xlabel=label, size=(600, 400))
        pictures[label] = np.asarray(Image.open(path).convert("L"), np.int16)
    steps, minutes = pictures["step"], pictures["minutes of stream"]
    assert steps.shape == (400, 600)
    # the same chart, but the label under it reads otherwise
    assert np.array_equal(steps[:-30], minutes[:-30])
    assert np.abs(steps[-30:] - minutes[-30:]).sum() > 0
    assert (minutes[-30:] < 128).sum() > (steps[-30:] < 128).sum()  # a longer label: more ink


def test_a_curve_can_be_drawn_on_a_given_y_range(tmp_path):
    def height(ylim) -> float:
        """How far up the plot area a flat curve at 50 is drawn (0 bottom, 1 top), where it crosses the middle."""
        path = tmp_path / "flat.png"
        write_curve(path, {"rss": [(0.0, 50.0), (10.0, 50.0)]}, title="memory", ylabel="MB", ylim=ylim)
        rgb = np.asarray(Image.open(path).convert("RGB"), np.int16)
        red = (rgb[..., 0] > 150) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
        rows = np.nonzero(red[:, 450])[0]
        top, bottom = 48, 520 - 60  # the plot area at the default size
        return (bottom - rows.mean()) / (bottom - top)

    assert abs(height((0.0, 100.0)) - 0.5) < 0.01
    assert abs(height((0.0, 200.0)) - 0.25) < 0.01
    assert height(None) < 0.1  # on its own span a flat line lies at the bottom: no way to see it is flat
