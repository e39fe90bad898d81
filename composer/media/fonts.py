"""Font names -> Pillow fonts, from the bundled font packages only (never a system path).

Templates name a font; this module is the one place that knows which package file and variation it means,
and which Noto fonts stand in for the characters a template's font lacks (see ``composer.karaoke.render.fontchain``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from io import BytesIO
from pathlib import Path

from PIL import ImageFont

from composer.errors import ComposerError


@dataclass(frozen=True)
class _FontFile:
    package: str
    filename: str
    variation: str | None = None  # named instance of a variable font
    weight: int | None = None  # or its weight axis
    folder: str = "files"  # inside the package
    shaped: bool = False  # its script needs HarfBuzz shaping and bidi ordering (Pillow built with libraqm)
    index: int = 0  # face in a font collection
    extra: str | None = None  # an optional dependency (`pip install 'composer[extra]'`) that ships it

    @property
    def label(self) -> str:
        return f"{self.package}/{self.filename}"


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


def _noto(script: str, shaped: bool = False) -> _FontFile:
    # bold, like every template's lyrics; by axis value, since Pillow's instance names crash (SIGSEGV) on the
    # fonts that list each instance twice (Gujarati, Tamil, ...)
    return _FontFile("manimgx_fonts", f"Noto{script}[wght].ttf", weight=700, folder="", shaped=shaped)


_INDIC_AND_SOUTHEAST_ASIAN = (
    "Devanagari",
    "Bengali",
    "Gujarati",
    "Gurmukhi",
    "Kannada",
    "Malayalam",
    "Oriya",
    "Sinhala",
    "Tamil",
    "Telugu",
    "Thai",
    "Lao",
    "Khmer",
    "Myanmar",
)
# Tried in this order after the template's font, for the characters it lacks (Noto, SIL Open Font License).
# Chinese, Japanese and Korean come last and only with the optional "cjk" fonts: 20 MB more to download.
FALLBACKS: tuple[_FontFile, ...] = (
    _noto("Sans"),  # Latin, Greek, Cyrillic
    _noto("SansArabic", shaped=True),
    _noto("SansHebrew", shaped=True),
    _noto("SansArmenian"),
    _noto("SansGeorgian"),
    _noto("SansEthiopic"),
    *(_noto(f"Sans{script}", shaped=True) for script in _INDIC_AND_SOUTHEAST_ASIAN),
    _noto("SansSymbols"),
    _noto("Emoji"),  # monochrome outlines: the lyric colours and the sweep apply to them like to letters
    # the Japanese face of the collection; Chinese readers may see Japanese forms of a few shared characters
    _FontFile("manimgx_fonts_cjk", "NotoSansCJK-VF.otf.ttc", weight=700, folder="", index=0, extra="cjk"),
)


@cache
def installed(spec: _FontFile) -> bool:
    """Whether the package that ships ``spec`` is installed (optional fonts may not be)."""
    return importlib.util.find_spec(spec.package) is not None


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
    return _load(spec, size, name)


@lru_cache(maxsize=128)
def fallback_font(spec: _FontFile, size: int) -> ImageFont.FreeTypeFont:
    """One of ``FALLBACKS`` at ``size`` pixels."""
    return _load(spec, max(1, int(size)), spec.filename)


def _load(spec: _FontFile, size: int, name: str) -> ImageFont.FreeTypeFont:
    try:
        with resources.as_file(_resource(spec)) as path:
            font = ImageFont.truetype(str(path), size, index=spec.index)
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise ComposerError(f"font {name!r}: cannot load {spec.label}: {exc}") from exc
    if spec.variation:
        font.set_variation_by_name(spec.variation)
    elif spec.weight:
        font.set_variation_by_axes([spec.weight])
    return font


def _resource(spec: _FontFile):
    folder = resources.files(spec.package)
    return folder.joinpath(spec.folder, spec.filename) if spec.folder else folder.joinpath(spec.filename)


@cache
def codepoints(font: str | _FontFile) -> frozenset[int]:
    """The characters a bundled font (a template font name or one of ``FALLBACKS``) has glyphs for."""
    from fontTools.ttLib import TTFont

    face = load_font(font, 16) if isinstance(font, str) else fallback_font(font, 16)
    source = face.path if isinstance(face.path, str) else BytesIO(face.font_bytes)
    index = 0 if isinstance(font, str) else font.index
    try:
        return frozenset(TTFont(source, lazy=True, fontNumber=index).getBestCmap() or ())
    except Exception as exc:  # fontTools raises many kinds of error for a damaged file
        raise ComposerError(f"font {font!r}: unreadable character map: {exc}") from exc


def family_name(name: str) -> str:
    """The font's family name as players know it (e.g. "Black Ops One"), for .ass subtitle styles."""
    return load_font(name, 16).getname()[0] or name


def font_path(name: str) -> Path:
    """The TTF file behind a bundled font name (for tools such as libass that take a fonts folder)."""
    return Path(str(_resource(_FONTS[name])))
