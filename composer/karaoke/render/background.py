"""The background slideshow: images cover-fitted to the frame, graded once (tint, grain, brightness,
saturation), converted once to the output's planes and cached; Ken Burns and crossfades work on those planes.

Frames are built in *plane formats* rather than RGB so the fast path (yuv420p for ffmpeg) never converts
colour per frame: ``YUV420P`` is three planes (Y full size, U and V half size in both directions) in BT.601
limited range, ``RGB24`` one (H, W, 3) plane for previews. Everything else in the renderer is written once
against ``PlaneFormat`` and works for both.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from composer.errors import ComposerError
from composer.karaoke.template import BackgroundSettings, hex_rgb

log = logging.getLogger("composer")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# Pillow picks a decoder by content, not name: a PostScript file named .jpg would run Ghostscript
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
# Pillow's own default (~89 MP) only warns; we refuse anything above this so a hostile or mistaken file
# cannot take gigabytes of memory.
MAX_IMAGE_PIXELS = 80_000_000


# --------------------------------------------------------------------------------------------- image files


def load_images(folder: Path) -> list[Path]:
    """Usable images (jpg, jpeg, png, webp) in ``folder``, in sorted order.

    Each is opened and verified; corrupt, unreadable or oversized ones are skipped with a warning.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ComposerError(f"{folder}: no usable image (jpg, png or webp): not a folder")
    candidates = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    usable = []
    for path in candidates:
        problem = _image_problem(path)
        if problem:
            log.warning("%s: skipped: %s", path, problem)
        else:
            usable.append(path)
    if not usable:
        raise ComposerError(f"{folder}: no usable image (jpg, png or webp)")
    return usable


def _image_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a background, or None when it can."""
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between the limit and twice the limit; make that a refusal too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as im:
                im.verify()
            # verify() checks structure only; decoding a small draft catches truncated pixel data
            with Image.open(path, formats=IMAGE_FORMATS) as im:
                im.draft("RGB", (64, 64))
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return f"too large (over the limit of {MAX_IMAGE_PIXELS:,} pixels)"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"not a readable image ({exc})"
    return None


def open_rgb(source: Path | Image.Image, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """An RGB image, upright per its EXIF orientation."""
    if isinstance(source, Image.Image):
        im = source
    else:
        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
        try:
            im = Image.open(source, formats=IMAGE_FORMATS)
            if draft_size:
                im.draft("RGB", draft_size)  # JPEG: decode at a reduced scale when that is still big enough
            im.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ComposerError(f"{source}: cannot read image: {exc}") from exc
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # transparent pixels would otherwise turn into whatever colour they hide; put them over black
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


# ------------------------------------------------------------------------------------------ plane formats


# BT.709, the matrix of HD video, which the writer tags the stream with
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB


_LUMA = np.array([_KR, _KG, _KB], np.float32)


def _ycc_matrix() -> np.ndarray:
    """RGB (0-255) -> Y, Cb, Cr in limited range, before the +16 / +128 offsets."""
    cb = (np.array([0.0, 0.0, 1.0]) - _LUMA) / (2 * (1 - _KB))
    cr = (np.array([1.0, 0.0, 0.0]) - _LUMA) / (2 * (1 - _KR))
    return (np.stack([219.0 * _LUMA, 224.0 * cb, 224.0 * cr]) / 255.0).astype(np.float32)


_YCC = _ycc_matrix()


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in 0-255 -> (..., 3) float32 Y, Cb, Cr in BT.709 limited ("tv") range."""
    out = rgb.astype(np.float32) @ _YCC.T
    out += np.array([16.0, 128.0, 128.0], dtype=np.float32)
    return out


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of ``rgb_to_ycbcr``; float32 RGB, not clipped."""
    y = (ycc[..., 0] - 16.0) * (255.0 / 219.0)
    cb = (ycc[..., 1] - 128.0) * (255.0 / 224.0)
    cr = (ycc[..., 2] - 128.0) * (255.0 / 224.0)
    r = y + 2 * (1 - _KR) * cr
    b = y + 2 * (1 - _KB) * cb
    g = (y - _KR * r - _KB * b) / _KG
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def yuv420p_to_rgb(buf: np.ndarray, width: int, height: int) -> np.ndarray:
    """A flat yuv420p frame -> (H, W, 3) uint8 RGB, chroma repeated 2x2 (what a simple decoder shows)."""
    n = width * height
    y = buf[:n].reshape(height, width).astype(np.float32)
    u = buf[n : n + n // 4].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
    v = buf[n + n // 4 :].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
    rgb = ycbcr_to_rgb(np.stack([y, u, v], axis=-1))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _half(a: np.ndarray) -> np.ndarray:
    """2x2 mean (a has even height and width)."""
    return 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])


@dataclass(frozen=True)
class PlaneFormat:
    """How a frame is stored: ``subsample[i]`` is plane i's size divisor (1 = full size, 2 = half).

    Sprites are composited as coverage maps times flat colours; resampling coverage to a plane before
    mixing colours is what makes alpha compositing in 4:2:0 exact (a 2x2 block's chroma is the mean of
    its premultiplied values)."""

    name: str
    subsample: tuple[int, ...]

    def weights(self, alpha: np.ndarray) -> list[np.ndarray]:
        """``alpha`` (h, w) resampled to each plane, shaped to broadcast against it."""
        if self.name == "rgb24":
            return [alpha[..., None]]
        half = _half(alpha)
        return [alpha, half, half]

    def colour(self, rgb: tuple[int, int, int]) -> list[np.ndarray]:
        """A flat colour as each plane's value(s)."""
        value = np.array(rgb, np.float32)
        if self.name == "rgb24":
            return [value]
        y, u, v = rgb_to_ycbcr(value)
        return [y, u, v]

    def alloc(self, width: int, height: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """A frame buffer and views of its planes (in the buffer's memory)."""
        if self.name == "rgb24":
            buf = np.zeros((height, width, 3), np.uint8)
            return buf, [buf]
        n = width * height
        buf = np.empty(n * 3 // 2, np.uint8)
        buf[:n] = 16
        buf[n:] = 128
        y = buf[:n].reshape(height, width)
        u = buf[n : n + n // 4].reshape(height // 2, width // 2)
        v = buf[n + n // 4 :].reshape(height // 2, width // 2)
        return buf, [y, u, v]


YUV420P = PlaneFormat("yuv420p", (1, 2, 2))
RGB24 = PlaneFormat("rgb24", (1,))


def to_uint8(planes: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in planes]


def pil_to_array(im: Image.Image) -> np.ndarray:
    """Pixels of an "L" or "RGB" image; via tobytes, which is ~20x faster than np.asarray on Pillow 11."""
    shape = (im.height, im.width) if im.mode == "L" else (im.height, im.width, len(im.getbands()))
    return np.frombuffer(im.tobytes(), np.uint8).reshape(shape)


def array_to_pil(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(a))


# ---------------------------------------------------------------------------------------------- grading


def grade_matrix(settings: BackgroundSettings) -> np.ndarray:
    """Saturation, tint and brightness as one 3x3 matrix on RGB: all three are linear, so an image is
    graded (and, multiplied with the YCbCr matrix, converted) in a single pass."""
    eye = np.eye(3, dtype=np.float32)
    luma_rows = np.tile(_LUMA, (3, 1))  # every output channel = luma
    m = luma_rows + settings.saturation * (eye - luma_rows)
    if settings.tint_strength > 0:
        tint = np.array(hex_rgb(settings.tint), np.float32)
        # colourise: keep each pixel's brightness, take the tint's hue; a black tint just darkens
        colourise = np.outer(tint / tint.max(), _LUMA) if tint.max() > 0 else np.zeros((3, 3), np.float32)
        m = m + settings.tint_strength * (colourise @ m - m)
    return (settings.brightness * m).astype(np.float32)


def graded_planes(
    rgb: np.ndarray, settings: BackgroundSettings, fmt: PlaneFormat, grain: np.ndarray | None
) -> list[np.ndarray]:
    """uint8 planes of an (h, w, 3) uint8 image after grading; ``grain`` (h, w) is added to brightness."""
    m = grade_matrix(settings)
    if fmt.name == "rgb24":
        out = rgb.astype(np.float32) @ m.T
        if grain is not None:
            out += grain[..., None]
        return to_uint8([out])
    to_ycc = _YCC @ m
    rgb = rgb.astype(np.float32)
    y = rgb @ to_ycc[0]
    y += 16.0
    if grain is not None:
        y += grain * (219.0 / 255.0)
    # chroma is linear in RGB, so converting the 2x2-averaged image equals averaging converted chroma
    uv = _half(rgb) @ to_ycc[1:].T
    uv += 128.0
    # limited range: an over-saturated grade must not produce codes outside 16-235 / 16-240
    np.clip(y, 16.0, 235.0, out=y)
    np.clip(uv, 16.0, 240.0, out=uv)
    return to_uint8([y, uv[..., 0], uv[..., 1]])


def cover(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop ``im`` so it fills ``size`` exactly."""
    w, h = im.size
    scale = max(size[0] / w, size[1] / h)
    cw, ch = min(w, size[0] / scale), min(h, size[1] / scale)  # min(): float error must not leave the image
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    # reducing_gap: big photos are first shrunk by an integer factor (fast), then resampled properly
    return im.resize(size, Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)


# -------------------------------------------------------------------------------------------- slideshow


@dataclass(frozen=True)
class _Prepared:
    """One graded image in one plane format, at base size (the frame plus the Ken Burns margin)."""

    arrays: list[np.ndarray]
    pils: list[Image.Image] | None  # the same planes as Pillow images, only kept for Ken Burns resizing


@dataclass(frozen=True)
class _Shot:
    """What the background is at one instant: slide a (and slide b fading in with weight ``mix``)."""

    slide_a: int
    slide_b: int | None
    mix: float

    @property
    def static(self) -> bool:
        return self.slide_b is None


class Slideshow:
    """Which image is on screen when, and the background planes for any instant."""

    def __init__(
        self,
        images: Sequence[Path | Image.Image],
        settings: BackgroundSettings,
        size: tuple[int, int],
        *,
        seed: int = 0,
        cache_size: int = 6,
    ):
        if not images:
            raise ComposerError("background: no images given")
        self.images = list(images)
        self.settings = settings
        self.width, self.height = size
        self.seed = seed
        spi = settings.seconds_per_image
        self.seconds_per_image = spi
        # a fade longer than half a slide would leave no moment when a slide is shown on its own
        self.crossfade = min(settings.crossfade, spi / 2) if len(self.images) > 1 else 0.0
        self.ken_burns = settings.ken_burns
        margin = 1.0 + self.ken_burns
        self.base_size = (_even_up(self.width * margin), _even_up(self.height * margin))
        self._order = self._image_order()
        self._cache: OrderedDict[tuple[int, str], _Prepared] = OrderedDict()
        self._cache_size = cache_size
        self._grain_field: np.ndarray | None = None

    # ---- schedule

    def _image_order(self) -> list[int]:
        order = list(range(len(self.images)))
        if self.settings.shuffle:
            rng = np.random.default_rng([self.settings.seed, self.seed, 0x5EED])
            order = [int(i) for i in rng.permutation(len(order))]
        return order

    def image_for_slide(self, slide: int) -> int:
        return self._order[slide % len(self._order)]

    def shot(self, t: float) -> _Shot:
        slide = max(0, int(math.floor(t / self.seconds_per_image)))
        if self.crossfade > 0:
            fade_start = (slide + 1) * self.seconds_per_image - self.crossfade
            if t >= fade_start:
                return _Shot(slide, slide + 1, min(1.0, (t - fade_start) / self.crossfade))
        return _Shot(slide, None, 0.0)

    def static_key(self, t: float) -> int | None:
        """The image index when the background at ``t`` is a still image (cacheable), else None."""
        shot = self.shot(t)
        if shot.static and self.ken_burns == 0:
            return self.image_for_slide(shot.slide_a)
        return None

    # ---- prepared images

    def prepared(self, image: int, fmt: PlaneFormat) -> _Prepared:
        key = (image, fmt.name)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        prep = self._prepare(image, fmt)
        self._cache[key] = prep
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return prep

    def _prepare(self, image: int, fmt: PlaneFormat) -> _Prepared:
        im = cover(open_rgb(self.images[image], draft_size=self.base_size), self.base_size)
        arrays = graded_planes(np.asarray(im), self.settings, fmt, self._grain())
        pils = [array_to_pil(a) for a in arrays] if self.ken_burns > 0 else None
        return _Prepared(arrays, pils)

    def _grain(self) -> np.ndarray | None:
        """One static film-grain field (0-255 scale) shared by all images, made once."""
        if self.settings.grain <= 0:
            return None
        if self._grain_field is None:
            rng = np.random.default_rng([self.seed, self.settings.seed, 0x6A1])
            field = rng.standard_normal((self.base_size[1], self.base_size[0]), dtype=np.float32)
            field *= self.settings.grain * 48.0
            self._grain_field = field
        return self._grain_field

    def still_planes(self, image: int, fmt: PlaneFormat) -> list[np.ndarray]:
        """Frame-sized planes of an image shown still (only valid without Ken Burns)."""
        return self.prepared(image, fmt).arrays

    # ---- drawing

    def draw(self, t: float, fmt: PlaneFormat, out: list[np.ndarray]) -> None:
        """Write the background at ``t`` into the frame planes ``out``."""
        shot = self.shot(t)
        a = self._slide_planes(shot.slide_a, t, fmt)
        if shot.slide_b is None:
            for dst, src in zip(out, a):
                np.copyto(dst, src)
            return
        b = self._slide_planes(shot.slide_b, t, fmt)
        w = int(round(shot.mix * 256))
        for dst, pa, pb in zip(out, a, b):
            _blend_into(dst, pa, pb, w)

    def _slide_planes(self, slide: int, t: float, fmt: PlaneFormat) -> list[np.ndarray]:
        prep = self.prepared(self.image_for_slide(slide), fmt)
        if self.ken_burns == 0:
            return prep.arrays
        x0, y0, x1, y1 = self._ken_burns_box(slide, t)
        planes = []
        for pil, sub in zip(prep.pils, fmt.subsample):
            size = (self.width // sub, self.height // sub)
            box = (x0 / sub, y0 / sub, x1 / sub, y1 / sub)
            planes.append(pil_to_array(pil.resize(size, Image.Resampling.BILINEAR, box=box)))
        return planes

    def _ken_burns_box(self, slide: int, t: float) -> tuple[float, float, float, float]:
        """The crop of the base image (frame + margin) shown at ``t``: a slow zoom with a drift.

        Each slide zooms in or out and drifts between two points picked from the seed; the crop always
        stays inside the image, and its size never drops below the frame so pixels are never enlarged.
        """
        rng = np.random.default_rng([self.seed, self.settings.seed, slide, 0xB0B])
        zoom_in = bool(rng.integers(2))
        fx0, fy0, fx1, fy1 = rng.uniform(0.15, 0.85, size=4)
        span = self.seconds_per_image + self.crossfade
        p = (t - (slide * self.seconds_per_image - self.crossfade)) / span
        p = min(1.0, max(0.0, p))
        p = p * p * (3 - 2 * p)  # ease in and out so motion does not start or stop abruptly
        if not zoom_in:
            p = 1.0 - p
        bw, bh = self.base_size
        # p = 0: the whole base image (scaled down); p = 1: a frame-sized crop at 1:1 pixels
        cw = bw + p * (self.width - bw)
        ch = bh + p * (self.height - bh)
        fx = fx0 + p * (fx1 - fx0)
        fy = fy0 + p * (fy1 - fy0)
        x0 = fx * (bw - cw)
        y0 = fy * (bh - ch)
        return x0, y0, x0 + cw, y0 + ch


def _blend_into(dst: np.ndarray, a: np.ndarray, b: np.ndarray, w: int) -> None:
    """dst = a + (b - a) * w / 256, in 16-bit integers (no float temporaries)."""
    tmp = np.multiply(a, 256 - w, dtype=np.uint16)
    tmp += np.multiply(b, w, dtype=np.uint16)
    tmp += 128
    np.right_shift(tmp, 8, out=tmp)
    np.copyto(dst, tmp, casting="unsafe")


def _even_up(x: float) -> int:
    n = int(math.ceil(x - 1e-9))
    return n + (n % 2)
