"""Font names -> Pillow fonts, from the bundled fontpkg packages only (never a system path).

Templates name a font; this module is the one place that knows which package file and variation it means.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from PIL import ImageFont

from composer.errors import ComposerError


@dataclass(frozen=True)
class _FontFile:
    package: str
    filename: str
    variation: str | None = None  # named instance of a variable font


_FONTS: dict[str, _FontFile] = {
    "anton": _FontFile("fontpkg_anton", "Anton-Regular.ttf"),
    "black-ops-one": _FontFile("fontpkg_black_ops_one", "BlackOpsOne-Regular.ttf"),
    # variable fonts: without a named instance Pillow draws the default (lightest) master
    "oswald": _FontFile("fontpkg_oswald", "Oswald[wght].ttf", "Bold"),
    "oswald-light": _FontFile("fontpkg_oswald", "Oswald[wght].ttf", "Light"),
    "cinzel": _FontFile("fontpkg_cinzel", "Cinzel[wght].ttf", "Bold"),
}

DEFAULT_FONT = "default"
FONT_NAMES: tuple[str, ...] = (*_FONTS, DEFAULT_FONT)


@lru_cache(maxsize=64)
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """The named bundled font at ``size`` pixels; "default" is Pillow's scalable built-in font."""
    size = max(1, int(size))
    if name == DEFAULT_FONT:
        return ImageFont.load_default(size=size)
    spec = _FONTS.get(name)
    if spec is None:
        allowed = ", ".join(f'"{n}"' for n in FONT_NAMES)
        raise ComposerError(f"font {name!r}: allowed fonts are {allowed}")
    try:
        ref = resources.files(spec.package).joinpath("files", spec.filename)
        with resources.as_file(ref) as path:
            font = ImageFont.truetype(str(path), size)
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise ComposerError(f"font {name!r}: cannot load {spec.package}/{spec.filename}: {exc}") from exc
    if spec.variation:
        font.set_variation_by_name(spec.variation)
    return font


def family_name(name: str) -> str:
    """The font's family name as players know it (e.g. "Black Ops One"), for .ass subtitle styles."""
    return load_font(name, 16).getname()[0] or name


def font_path(name: str):
    """The TTF file behind a bundled font name (for tools such as libass that take a fonts folder)."""
    from pathlib import Path

    spec = _FONTS[name]
    return Path(str(resources.files(spec.package).joinpath("files", spec.filename)))
