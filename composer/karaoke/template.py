"""Visual templates: a TOML file (data only, nothing executed) -> a validated frozen ``Template``.

Every key has a default, so a template file only lists what it changes. Any unknown key or bad value raises
``ComposerError`` naming the file, the key and what is allowed, e.g.
``templates/x.toml: [text] highlight = "glow": allowed values are "word", "syllable", "smooth"``.

Lengths in [text] and [title] (size, stroke, margin, effect size) are pixels for a frame whose shorter side is
1080 px; the renderer scales them to the actual frame, so one template serves 720p, 1080p and portrait.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import astuple, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from composer.errors import ComposerError
from composer.media.fonts import FONT_NAMES
from composer.util.files import read_small_text
from composer.util.sizes import MAX_SIDE, MIN_SIDE

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
END_PLACEHOLDERS = ("band", "title", "number", "songs")  # what an [end] text may name in braces
# a band of singers, not a crowd: a 4 MB file could list 60,000 voices, and each line looks its voice up
MAX_VOICES = 64
END_TEXT_CHARS = 300  # an [end] text is drawn whole on one card, like a title (at most 300 characters too)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """A template's colour ("#rrggbb", checked when the template was read) as 0-255 red, green and blue."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _opt(
    default: Any,
    *,
    choices: tuple[str, ...] | None = None,
    lo: float | None = None,
    hi: float | None = None,
    colour: bool = False,
    even: bool = False,
) -> Any:
    """A dataclass field whose metadata says which values the loader accepts."""
    return field(default=default, metadata={"choices": choices, "lo": lo, "hi": hi, "colour": colour, "even": even})


@dataclass(frozen=True)
class VideoSettings:
    width: int = _opt(1920, lo=MIN_SIDE, hi=MAX_SIDE, even=True)
    height: int = _opt(1080, lo=MIN_SIDE, hi=MAX_SIDE, even=True)
    fps: int = _opt(30, lo=1, hi=120)


@dataclass(frozen=True)
class TextSettings:
    font: str = _opt("anton", choices=FONT_NAMES)
    size: int = _opt(84, lo=8, hi=400)
    color: str = _opt("#ffffff", colour=True)
    highlight_color: str = _opt("#ff2020", colour=True)
    stroke_width: int = _opt(4, lo=0, hi=40)
    stroke_color: str = _opt("#000000", colour=True)
    effect: str = _opt("shadow", choices=("none", "shadow", "glow"))
    effect_color: str = _opt("#000000", colour=True)
    effect_size: int = _opt(6, lo=0, hi=60)
    position: str = _opt("bottom", choices=("bottom", "center", "top"))
    margin: int = _opt(90, lo=0, hi=1000)
    lines: int = _opt(2, lo=1, hi=4)
    line_spacing: float = _opt(1.1, lo=0.8, hi=3.0)
    max_rows: int = _opt(2, lo=1, hi=4)
    uppercase: bool = _opt(False)
    highlight: str = _opt("smooth", choices=("word", "syllable", "smooth"))
    preview_opacity: float = _opt(1.0, lo=0.1, hi=1.0)
    lead_in: float = _opt(1.0, lo=0.0, hi=10.0)
    gap_hide: float = _opt(4.0, lo=0.5, hi=600.0)
    # readable pacing (karaoke/pacing.py): no sweep faster than this; growled lines read at ~3-4 a second
    max_syllables_per_s: float = _opt(4.5, lo=1.0, hi=50.0)
    # a line after a gap shows at least its words / this many seconds before its sweep (and never less than lead_in)
    read_words_per_s: float = _opt(3.0, lo=0.5, hi=20.0)
    # what a gap longer than gap_hide shows: the next line dimmed, the song's title, or nothing
    gap_show: str = _opt("next", choices=("next", "title", "none"))
    gap_opacity: float = _opt(0.45, lo=0.1, hi=1.0)


@dataclass(frozen=True)
class BackgroundSettings:
    seconds_per_image: float = _opt(8.0, lo=0.5, hi=3600.0)
    shuffle: bool = _opt(True)
    seed: int = _opt(0, lo=0, hi=2**32 - 1)
    crossfade: float = _opt(0.0, lo=0.0, hi=10.0)
    ken_burns: float = _opt(0.0, lo=0.0, hi=0.5)
    tint: str = _opt("#000000", colour=True)
    tint_strength: float = _opt(0.0, lo=0.0, hi=1.0)
    grain: float = _opt(0.0, lo=0.0, hi=1.0)
    brightness: float = _opt(1.0, lo=0.0, hi=2.0)
    saturation: float = _opt(1.0, lo=0.0, hi=2.0)


@dataclass(frozen=True)
class TitleSettings:
    enabled: bool = _opt(True)
    seconds: float = _opt(3.0, lo=0.0, hi=60.0)
    size: int = _opt(130, lo=8, hi=600)
    color: str = _opt("#ffffff", colour=True)
    # the band's name above the title and "song 2 of 5" below it (band renders, `karaoke --artist`)
    band_size: int = _opt(60, lo=8, hi=600)
    band_color: str = _opt("#c8c8c8", colour=True)
    # when the first line comes while the card is held: "share" (the card moves clear of the lyrics for its
    # whole time), "corner" (it shrinks into a corner while lines show) or "yield" (it gives way to the line)
    layout: str = _opt("share", choices=("share", "corner", "yield"))


@dataclass(frozen=True)
class EndSettings:
    """The end card, held over the song's last seconds."""

    enabled: bool = _opt(False)
    seconds: float = _opt(4.0, lo=0.5, hi=60.0)
    text: str = field(default="{band} — {title}", metadata={**_opt(None).metadata, "placeholders": END_PLACEHOLDERS})
    size: int = _opt(90, lo=8, hi=600)
    color: str = _opt("#ffffff", colour=True)


@dataclass(frozen=True)
class VoiceSettings:
    """How one voice's lines look (``[voices.growl]``); an empty value takes [text]'s."""

    color: str = _opt("", colour=True)
    highlight_color: str = _opt("", colour=True)
    position: str = _opt("", choices=("bottom", "center", "top"))


@dataclass(frozen=True)
class CountInSettings:
    """The count-in before a line that follows a pause (karaoke/render/countin.py)."""

    style: str = _opt("dots", choices=("dots", "bar", "none"))
    after_gap: float = _opt(3.0, lo=0.5, hi=600.0)  # a pause longer than this gets a count-in
    beats: int = _opt(4, lo=1, hi=8)  # dots (or the bar's steps), one going out a beat
    seconds: float = _opt(2.0, lo=0.5, hi=10.0)  # the count-in's length; a beat is seconds / beats
    color: str = _opt("#ffffff", colour=True)
    size: int = _opt(26, lo=4, hi=200)  # a dot's diameter (the bar's height is half of it)


_SECTIONS: dict[str, type] = {
    "video": VideoSettings,
    "text": TextSettings,
    "background": BackgroundSettings,
    "title": TitleSettings,
    "end": EndSettings,
    "countin": CountInSettings,
}


@dataclass(frozen=True)
class Template:
    name: str = "custom"
    description: str = ""
    video: VideoSettings = field(default_factory=VideoSettings)
    text: TextSettings = field(default_factory=TextSettings)
    background: BackgroundSettings = field(default_factory=BackgroundSettings)
    title: TitleSettings = field(default_factory=TitleSettings)
    end: EndSettings = field(default_factory=EndSettings)
    # (name, settings) of each [voices.NAME] table, in file order; a voice not listed looks like [text]
    voices: tuple[tuple[str, VoiceSettings], ...] = ()
    countin: CountInSettings = field(default_factory=CountInSettings)
    # where it came from, so later errors (e.g. from replace) still name the file
    source: str = field(default="<template>", compare=False, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        return self.video.width, self.video.height

    @property
    def width(self) -> int:
        return self.video.width

    @property
    def height(self) -> int:
        return self.video.height

    @property
    def fps(self) -> int:
        return self.video.fps

    def voice(self, name: str) -> VoiceSettings:
        """The look of voice ``name``, with [text]'s colours and position where the template leaves them out
        (the main voice, "", is always [text]'s)."""
        own = dict(self.voices).get(name, VoiceSettings())
        return VoiceSettings(
            own.color or self.text.color,
            own.highlight_color or self.text.highlight_color,
            own.position or self.text.position,
        )

    def ass_style(self) -> dict[str, Any]:
        """Frame size, font and colours for the .ass sidecar (``write_ass``'s keywords), so players that draw it
        place and colour the lines as the burnt-in video does."""
        from composer.media.fonts import family_name

        return {
            "width": self.video.width,
            "height": self.video.height,
            "font": family_name(self.text.font),
            "primary": self.text.color,
            "highlight": self.text.highlight_color,
            # a style per voice in the .ass, so players colour each voice as the video does
            **({"voices": {n: astuple(self.voice(n)) for n, _ in self.voices}} if self.voices else {}),
        }

    def replace(self, **changes: Any) -> Template:
        """A copy with changes; a section may be given whole or as a dict of the keys it changes.

        ``tpl.replace(video={"width": 1280, "height": 720}, text={"highlight": "word"})``
        Dict changes are validated like the TOML file.
        """
        resolved: dict[str, Any] = {}
        for key, value in changes.items():
            if key in _SECTIONS and isinstance(value, dict):
                current = dataclasses.asdict(getattr(self, key))
                current.update(value)
                value = _parse_section(key, current, self.source)
            elif key == "voices" and isinstance(value, dict):
                value = _parse_voices(value, self.source)
            resolved[key] = value
        return dataclasses.replace(self, **resolved)


def builtin_templates() -> list[str]:
    """Names of the templates shipped in templates/*.toml."""
    root = resources.files("composer.templates")
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


def load_template(name_or_path: str | Path) -> Template:
    """A built-in template by name ("gore") or a .toml file by path."""
    text, source = _read_source(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ComposerError(f"{source}: invalid TOML: {exc}") from exc
    return parse_template(data, source)


def parse_template(data: dict[str, Any], source: str = "<template>") -> Template:
    """Validate a TOML-shaped dict into a Template; ``source`` names the file in errors."""
    top: dict[str, Any] = {"source": source}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ComposerError(f"{source}: {key} must be a table [{key}]")
            top[key] = _parse_section(key, value, source)
        elif key == "voices":
            top[key] = _parse_voices(value, source)
        elif key in ("name", "description"):
            if not isinstance(value, str):
                raise ComposerError(f"{source}: {key} = {_show(value)}: expected a string")
            top[key] = value
        else:
            allowed = ", ".join(["name", "description", *(f"[{s}]" for s in _SECTIONS), "[voices.NAME]"])
            raise ComposerError(f"{source}: unknown key {key!r}: allowed are {allowed}")
    if "name" not in top and source.endswith(".toml"):
        top["name"] = Path(source).stem
    return Template(**top)


def is_template_file(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a template file (read from disk, an input of the run), not a built-in one."""
    as_text = str(name_or_path)
    return isinstance(name_or_path, Path) or "/" in as_text or "\\" in as_text or as_text.endswith(".toml")


def _read_source(name_or_path: str | Path) -> tuple[str, str]:
    as_text = str(name_or_path)
    if is_template_file(name_or_path):
        path = Path(name_or_path)
        return read_small_text(path, "template file"), str(path)
    ref = resources.files("composer.templates").joinpath(f"{as_text}.toml")
    if not ref.is_file():
        names = ", ".join(builtin_templates())
        raise ComposerError(f"{as_text}: no such template; built-in templates are {names}, or give a .toml path")
    return ref.read_text(encoding="utf-8"), f"templates/{as_text}.toml"


def _parse_voices(table: Any, source: str) -> tuple[tuple[str, VoiceSettings], ...]:
    """``[voices.NAME]`` tables: a name as lyric files write it (``[growl]``), each with VoiceSettings keys."""
    from composer.media.voices import VOICE_NAME

    if not isinstance(table, dict):
        raise ComposerError(f"{source}: voices must be tables [voices.NAME]")
    if len(table) > MAX_VOICES:
        raise ComposerError(f"{source}: [voices] lists {len(table):,} voices; a template may list at most {MAX_VOICES}")
    out = []
    for name, settings in table.items():
        if not VOICE_NAME.match(name):
            raise ComposerError(
                f"{source}: [voices.{name}]: a voice name is lowercase letters, digits, '-' and '_' (up to 32)"
            )
        if not isinstance(settings, dict):
            raise ComposerError(f"{source}: voices.{name} must be a table [voices.{name}]")
        out.append((name, _parse_section(f"voices.{name}", settings, source, VoiceSettings)))
    return tuple(out)


def _parse_section(section: str, table: dict[str, Any], source: str, cls: type | None = None) -> Any:
    cls = cls or _SECTIONS[section]
    specs = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        spec = specs.get(key)
        if spec is None:
            allowed = ", ".join(specs)
            raise ComposerError(f"{source}: [{section}] unknown key {key!r}: allowed keys are {allowed}")
        values[key] = _check_value(f"{source}: [{section}] {key} = {_show(value)}", spec, value)
    return cls(**values)


def _check_value(where: str, spec: dataclasses.Field, value: Any) -> Any:
    meta = spec.metadata
    kind = type(spec.default)
    if kind is bool:
        if not isinstance(value, bool):
            raise ComposerError(f"{where}: expected true or false")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ComposerError(f"{where}: expected a string")
        if meta["choices"] and value not in meta["choices"]:
            allowed = ", ".join(f'"{c}"' for c in meta["choices"])
            raise ComposerError(f"{where}: allowed values are {allowed}")
        if meta["colour"] and not _HEX.match(value):
            raise ComposerError(f'{where}: expected a hex colour "#rrggbb"')
        if meta.get("placeholders"):
            if len(value) > END_TEXT_CHARS:
                raise ComposerError(f"{where}: a card's text is at most {END_TEXT_CHARS} characters")
            _check_placeholders(where, value, meta["placeholders"])
        return value.lower() if meta["colour"] else value
    # numbers: bool is an int subclass in Python, so reject it explicitly
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ComposerError(f"{where}: expected a number")
    if isinstance(value, float) and not math.isfinite(value):  # TOML has nan and inf, which no bound rejects
        raise ComposerError(f"{where}: expected a finite number")
    if kind is int and not (isinstance(value, int) or float(value).is_integer()):
        raise ComposerError(f"{where}: expected a whole number")
    lo, hi = meta["lo"], meta["hi"]
    if meta["even"] and (int(value) % 2 or not lo <= value <= hi):
        raise ComposerError(f"{where}: must be an even number from {lo} to {hi}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ComposerError(f"{where}: allowed range is {_num(lo)} to {_num(hi)}")
    return int(value) if kind is int else float(value)


def _check_placeholders(where: str, value: str, allowed: tuple[str, ...]) -> None:
    import string

    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(value)]
    except ValueError as exc:
        raise ComposerError(f"{where}: {exc} (write {{{{ and }}}} for literal braces)") from None
    for name, spec, conversion in fields:
        if name is None:
            continue
        # a format spec would fail on an empty {number} or pad a name to gigabytes ({band:>999999999})
        if spec or conversion:
            raise ComposerError(f"{where}: write a placeholder bare, as {{{name}}}, without ':' or '!' after it")
        if name not in allowed:
            shown = ", ".join(f"{{{a}}}" for a in allowed)
            raise ComposerError(f"{where}: unknown placeholder {{{name}}}: allowed are {shown}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 60 else f'"{value[:40]}..." ({len(value):,} characters)'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _num(x: float | None) -> str:
    return "?" if x is None else (str(int(x)) if float(x).is_integer() else str(x))
