"""Background images: loading and refusing files, colour conversion, slideshow schedule, generated textures."""

from __future__ import annotations

import logging
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from composer.errors import ComposerError
from composer.karaoke.render import background as bg
from composer.karaoke.render.background import (
    RGB24,
    YUV420P,
    Slideshow,
    graded_planes,
    load_images,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
    yuv420p_to_rgb,
)
from composer.karaoke.render.imagegen import make_images
from composer.karaoke.template import BackgroundSettings


def solid(colour, size=(64, 36)) -> Image.Image:
    return Image.new("RGB", size, colour)


def png_header_only(path, width: int, height: int) -> None:
    """A tiny PNG that claims a huge size: Pillow reads the header and must refuse it before decoding."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    path.write_bytes(data)


def test_load_images_sorted_and_filtered(tmp_path):
    solid("red").save(tmp_path / "b.png")
    solid("blue").save(tmp_path / "a.JPG")
    solid("green").save(tmp_path / "c.webp")
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in load_images(tmp_path)] == ["a.JPG", "b.png", "c.webp"]


def test_corrupt_file_is_skipped_with_a_warning(tmp_path, caplog):
    solid("red").save(tmp_path / "good.png")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    truncated = tmp_path / "cut.png"
    solid("blue", (200, 200)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:80])
    with caplog.at_level(logging.WARNING, logger="composer"):
        images = load_images(tmp_path)
    assert [p.name for p in images] == ["good.png"]
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "bad.jpg: skipped:" in warned and "cut.png: skipped:" in warned


def test_empty_or_missing_folder_raises(tmp_path):
    with pytest.raises(ComposerError, match=r"no usable image \(jpg, png or webp\)"):
        load_images(tmp_path)
    with pytest.raises(ComposerError, match="no usable image"):
        load_images(tmp_path / "missing")


def test_over_limit_image_is_refused(tmp_path, caplog):
    png_header_only(tmp_path / "huge.png", 12_000, 12_000)  # 144 MP, header only
    with caplog.at_level(logging.WARNING, logger="composer"), pytest.raises(ComposerError, match="no usable"):
        load_images(tmp_path)
    assert "huge.png: skipped: too large" in caplog.text
    # between Pillow's warning threshold and its hard limit: refused as well, not just warned about
    png_header_only(tmp_path / "huge.png", 9_500, 9_500)
    with pytest.raises(ComposerError):
        load_images(tmp_path)


def test_colour_conversion_round_trips():
    rgb = np.random.default_rng(0).integers(0, 256, (10, 10, 3)).astype(np.float32)
    ycc = rgb_to_ycbcr(rgb)
    assert ycc[..., 0].min() >= 16 - 1e-3 and ycc[..., 0].max() <= 235 + 1e-3
    assert np.abs(ycbcr_to_rgb(ycc) - rgb).max() < 0.5
    white, black = rgb_to_ycbcr(np.array([[255, 255, 255], [0, 0, 0]], np.float32))
    assert np.allclose(white, [235, 128, 128], atol=0.5) and np.allclose(black, [16, 128, 128], atol=0.5)


def test_yuv420p_layout_matches_ffmpeg():
    buf, (y, u, v) = YUV420P.alloc(8, 4)
    assert buf.shape == (8 * 4 * 3 // 2,) and y.shape == (4, 8) and u.shape == v.shape == (2, 4)
    planes = graded_planes(np.full((4, 8, 3), (200, 30, 30), np.uint8), BackgroundSettings(), YUV420P, None)
    for dst, src in zip((y, u, v), planes):
        dst[...] = src
    back = yuv420p_to_rgb(buf, 8, 4)
    assert np.abs(back.astype(int) - (200, 30, 30)).max() <= 2


def slideshow(images, **settings) -> Slideshow:
    return Slideshow(images, BackgroundSettings(**settings), (64, 36), seed=0)


def mean_colour(show: Slideshow, t: float) -> np.ndarray:
    _, planes = RGB24.alloc(64, 36)
    show.draw(t, RGB24, planes)
    return planes[0].reshape(-1, 3).mean(0)


def test_seconds_per_image_and_crossfade():
    show = slideshow([solid("red"), solid("blue")], seconds_per_image=2.0, shuffle=False, crossfade=1.0)
    assert mean_colour(show, 0.5)[0] > 250 and mean_colour(show, 2.5)[2] > 250
    halfway = mean_colour(show, 1.5)  # fade from red (slide 0) to blue (slide 1) runs 1.0-2.0
    assert 100 < halfway[0] < 155 and 100 < halfway[2] < 155
    assert show.static_key(0.5) is not None and show.static_key(1.5) is None
    assert mean_colour(show, 4.5)[0] > 250  # cycles back to the first image


def test_shuffle_follows_the_seed():
    images = [solid((i * 40, 0, 0)) for i in range(6)]
    settings = BackgroundSettings(shuffle=True, seconds_per_image=1.0)
    orders = [[Slideshow(images, settings, (64, 36), seed=s).image_for_slide(k) for k in range(6)] for s in (1, 1, 2)]
    assert orders[0] == orders[1] != orders[2]
    assert sorted(orders[0]) == list(range(6))


def test_tint_grain_and_saturation():
    grey = [solid((128, 128, 128))]
    red = mean_colour(slideshow(grey, tint="#ff0000", tint_strength=1.0), 0.0)
    assert red[0] > 100 and red[1] < 5 and red[2] < 5
    _, planes = RGB24.alloc(64, 36)
    slideshow(grey, grain=0.5).draw(0.0, RGB24, planes)
    assert planes[0].std() > 5
    _, planes = RGB24.alloc(64, 36)
    slideshow([solid((200, 40, 40))], saturation=0.0).draw(0.0, RGB24, planes)
    assert np.ptp(planes[0].astype(int), axis=2).max() <= 1


def test_ken_burns_moves_and_stays_inside():
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (90, 160, 3), np.uint8))
    show = slideshow([image], ken_burns=0.2, seconds_per_image=4.0)
    bw, bh = show.base_size
    for t in np.linspace(0, 8, 17):
        x0, y0, x1, y1 = show._ken_burns_box(int(t // 4), t)
        assert -1e-6 <= x0 and x1 <= bw + 1e-6 and -1e-6 <= y0 and y1 <= bh + 1e-6
        assert x1 - x0 >= 64 - 1e-6  # never enlarges pixels beyond the frame-sized crop
    a, b = mean_colour(show, 0.2), mean_colour(show, 3.0)
    _, p1 = YUV420P.alloc(64, 36)
    _, p2 = YUV420P.alloc(64, 36)
    show.draw(0.2, YUV420P, p1)
    show.draw(3.0, YUV420P, p2)
    assert not np.array_equal(p1[0], p2[0])
    assert a.shape == b.shape == (3,)


def test_transparent_png_goes_over_black(tmp_path):
    im = Image.new("RGBA", (20, 20), (255, 255, 255, 0))
    show = slideshow([im])
    assert mean_colour(show, 0.0).max() < 2


def test_make_images_is_deterministic_and_meaty(tmp_path):
    first = make_images(tmp_path / "a", n=2, seed=7, size=(160, 100))
    again = make_images(tmp_path / "b", n=2, seed=7, size=(160, 100))
    other = make_images(tmp_path / "c", n=1, seed=8, size=(160, 100), ext="png")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert first[0].read_bytes() != first[1].read_bytes()
    assert other[0].suffix == ".png"
    assert load_images(tmp_path / "a") == first
    pixels = np.asarray(Image.open(first[0]).convert("RGB"), np.float32)
    r, g, b = pixels.reshape(-1, 3).mean(0)
    assert r > g + 30 and r > b + 30  # red meat
    assert (pixels.min(axis=2) > 140).mean() > 0.02  # some pale fat marbling
    assert bg.MAX_IMAGE_PIXELS == 80_000_000
