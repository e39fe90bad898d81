"""Band profiles: a band is a folder with ``band.toml`` (where its material is, how to train it) and its
trained models beside it (``audio/`` SampleRNN, ``lyrics/`` GPT-2).

Bands are looked up, in order, in ``--bands-dir`` (or ``$COMPOSER_BANDS_DIR``), the user data folder
(platformdirs: ``~/.local/share/composer/bands`` on Linux) and the bands shipped in the repo's ``models/``
(the demo band). ``band.toml`` is data: validated key by key, nothing in it is executed.

A band marked ``generated = true`` (the demo band) has no recordings or images of its own: composer's
synthesizer writes them, deterministically, into the user cache folder the first time they are needed.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from composer.errors import ComposerError
from composer.util.files import read_toml, resolve_path, write_text_atomic

BAND_FILE = "band.toml"
AUDIO_MODEL = "audio"
LYRICS_MODEL = "lyrics"
BEST = "best"  # the audio trainer keeps its best-validating weights here, beside the latest
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "models"
LYRIC_SUFFIXES = (".txt", ".lrc")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

AUDIO_PRESETS = ("debug", "demo", "dadabots")
LYRICS_PRESETS = ("debug", "demo")
SAMPLE_RATES = (16000,)  # the SampleRNN presets are built for 16 kHz

# key -> (type, default); None default = required (except where ``generated`` makes it optional)
_TOP = {
    "name": (str, None),
    "description": (str, ""),
    "audio": (str, None),
    "lyrics": (list, None),
    "images": (str, None),
    "template": (str, "gore"),
    "sample_rate": (int, 16000),
    "generated": (bool, False),
    "voices": (list, []),
}
_MODELS = {
    "audio_preset": (str, "demo"),
    "lyrics_preset": (str, "demo"),
    "audio_steps": (int, 8000),
    "lyrics_steps": (int, 1200),
}


@dataclass(frozen=True)
class Band:
    name: str
    folder: Path
    description: str
    audio_dir: Path
    lyric_paths: tuple[Path, ...]  # files or folders of lyric files
    images_dir: Path
    template: str
    sample_rate: int
    audio_preset: str
    lyrics_preset: str
    audio_steps: int
    lyrics_steps: int
    generated: bool
    # the voices its songs alternate between ("growl", "scream"), as the template's [voices.NAME]; () is one
    voices: tuple[str, ...] = ()

    @property
    def audio_model_dir(self) -> Path:
        return self.folder / AUDIO_MODEL

    @property
    def lyrics_model_dir(self) -> Path:
        return self.folder / LYRICS_MODEL

    def weights(self, which: str) -> Path:
        """The ``"audio"`` or ``"lyrics"`` model folder to generate with (for audio, the best-validating weights
        when training kept them, else the latest); ComposerError naming the command that trains it when the band
        has none."""
        found = self._weights(which)
        if found is None:
            raise ComposerError(
                f"band {self.name!r} has no trained {which} model yet: run `composer train --band {self.name}`"
            )
        return found

    def trained(self, which: str) -> bool:
        """Whether the band has a trained ``"audio"`` or ``"lyrics"`` model."""
        return self._weights(which) is not None

    def _weights(self, which: str) -> Path | None:
        if which == AUDIO_MODEL:
            candidates = (self.audio_model_dir / BEST, self.audio_model_dir)
        elif which == LYRICS_MODEL:
            candidates = (self.lyrics_model_dir,)
        else:
            raise ValueError(f"which model: {which!r} is not {AUDIO_MODEL!r} or {LYRICS_MODEL!r}")
        for folder in candidates:
            if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
                return folder
        return None

    def lyric_files(self) -> list[Path]:
        files: list[Path] = []
        for path in self.lyric_paths:
            if path.is_dir():
                found = sorted(p for p in path.rglob("*") if p.suffix.lower() in LYRIC_SUFFIXES and p.is_file())
                if not found:
                    raise ComposerError(f"{path}: no lyric files (.txt, .lrc) in this folder (band {self.name})")
                files += found
            elif path.is_file():
                files.append(path)
            else:
                raise ComposerError(f"{path}: lyric file not found (band {self.name}, {self.folder / BAND_FILE})")
        return files

    def prime_pool(self, rate: int):
        """Excerpts of the band's recordings for generated stretches to hear before they start (see
        ``composer.models.samplernn.generate.load_pool``), or None when the band has none at hand."""
        from composer.models.samplernn.generate import load_pool, pool_picks

        if self.generated:  # only the songs the pool hears are synthesized: a first render need not wait for all
            from composer.synthetic.demo import DEMO_SONGS, write_demo_audio

            paths = write_demo_audio(self.audio_dir, self.sample_rate, songs=pool_picks(range(DEMO_SONGS)))
            return load_pool(self.audio_dir, rate, paths=paths)
        return load_pool(self.audio_dir, rate)

    def ensure_material(self, progress=None) -> None:
        """Write a generated band's recordings and images if they are not there yet."""
        if not self.generated:
            return
        from composer.synthetic.demo import write_demo_audio, write_demo_images

        write_demo_audio(self.audio_dir, self.sample_rate, progress=progress)
        write_demo_images(self.images_dir)


# ----------------------------------------------------------------------------------------------- where bands live


def user_bands_dir() -> Path:
    env = os.environ.get("COMPOSER_BANDS_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("composer")) / "bands"


def cache_dir() -> Path:
    env = os.environ.get("COMPOSER_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("composer"))


def search_dirs(bands_dir: str | os.PathLike | None = None) -> list[Path]:
    dirs = [Path(bands_dir)] if bands_dir else []
    dirs += [user_bands_dir(), SHIPPED_DIR]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def list_bands(bands_dir: str | os.PathLike | None = None, broken: list[str] | None = None) -> list[Band]:
    """Every band found, the first of each name winning (as ``find_band`` resolves it). A band whose band.toml
    cannot be read is left out and its error appended to ``broken``; without ``broken`` the error is raised."""
    seen: dict[str, Band | None] = {}
    for d in search_dirs(bands_dir):
        if not d.is_dir():
            continue
        for toml in sorted(d.glob(f"*/{BAND_FILE}")):
            if toml.parent.name in seen:
                continue
            try:
                seen[toml.parent.name] = load_band(toml.parent)
            except ComposerError as e:
                if broken is None:
                    raise
                broken.append(str(e))
                seen[toml.parent.name] = None  # it still shadows a band of that name further down the path
    return [b for b in seen.values() if b is not None]


def check_band_name(name: str) -> None:
    """Band names are names, never paths: ``--band ../x`` would read (and train into) a folder anywhere."""
    if not _NAME.match(name):
        raise ComposerError(
            f"band name {name!r}: use lowercase letters, digits, '-' and '_' (up to 64); to use "
            f"bands in another folder, give --bands-dir"
        )


def find_band(name: str, bands_dir: str | os.PathLike | None = None) -> Band:
    check_band_name(name)
    for d in search_dirs(bands_dir):
        if (d / name / BAND_FILE).is_file():
            return load_band(d / name)
    known = []
    for d in search_dirs(bands_dir):
        if d.is_dir():
            known += [p.parent.name for p in sorted(d.glob(f"*/{BAND_FILE}"))]
    listing = ", ".join(dict.fromkeys(known)) or "none"
    raise ComposerError(f"unknown band {name!r}: known bands are {listing} (create one with `composer band create`)")


# ----------------------------------------------------------------------------------------------- band.toml


def load_band(folder: str | os.PathLike) -> Band:
    folder = Path(folder)
    source = folder / BAND_FILE
    data = read_toml(source, "band file")
    models = data.pop("models", {})
    if not isinstance(models, dict):
        raise ComposerError(f"{source}: [models] must be a table")
    top = _check(source, "", data, _TOP, generated=bool(data.get("generated", False)))
    mod = _check(source, "[models] ", models, _MODELS, generated=False)
    name = top["name"]
    if not _NAME.match(name):
        raise ComposerError(f"{source}: name = {name!r}: use lowercase letters, digits, '-' and '_' (up to 64)")
    _one_of(source, "sample_rate", top["sample_rate"], SAMPLE_RATES)
    _one_of(source, "[models] audio_preset", mod["audio_preset"], AUDIO_PRESETS)
    _one_of(source, "[models] lyrics_preset", mod["lyrics_preset"], LYRICS_PRESETS)
    for key in ("audio_steps", "lyrics_steps"):
        if mod[key] < 1:
            raise ComposerError(f"{source}: [models] {key} = {mod[key]}: must be at least 1")
    from composer.karaoke.template import builtin_templates

    template = top["template"]
    if template not in builtin_templates() and not resolve_path(folder, template).is_file():
        allowed = ", ".join(f'"{t}"' for t in builtin_templates())
        raise ComposerError(f"{source}: template = {template!r}: allowed are {allowed} or a path to a .toml")
    from composer.karaoke.template import MAX_VOICES
    from composer.media.voices import VOICE_NAME

    # each message names the one voice at fault: the list itself may be megabytes long
    if len(top["voices"]) > MAX_VOICES:
        raise ComposerError(f"{source}: voices lists {len(top['voices']):,} voices; a band has at most {MAX_VOICES}")
    for voice in top["voices"]:
        if not isinstance(voice, str) or not VOICE_NAME.match(voice):
            shown = repr(voice) if len(repr(voice)) <= 60 else repr(voice)[:40] + "..."
            raise ComposerError(
                f"{source}: voices: {shown}: each voice is a name of lowercase letters, digits, '-' and "
                f"'_' (up to 32), as the template's [voices.NAME]"
            )
    if len(set(top["voices"])) != len(top["voices"]):
        twice = next(v for i, v in enumerate(top["voices"]) if v in top["voices"][:i])
        raise ComposerError(f"{source}: voices: {twice!r} is listed twice")
    if not all(isinstance(p, str) for p in top["lyrics"] or []):
        raise ComposerError(f"{source}: lyrics must be a list of file or folder paths (strings)")
    material = cache_dir() / "bands" / name
    return Band(
        name=name,
        folder=folder,
        description=top["description"],
        audio_dir=resolve_path(folder, top["audio"]) if top["audio"] else material / "audio",
        lyric_paths=tuple(resolve_path(folder, p) for p in top["lyrics"] or []),
        images_dir=resolve_path(folder, top["images"]) if top["images"] else material / "images",
        template=template if template in builtin_templates() else str(resolve_path(folder, template)),
        sample_rate=top["sample_rate"],
        generated=top["generated"],
        voices=tuple(top["voices"]),
        **mod,
    )


def _check(source: Path, where: str, data: dict, spec: dict, *, generated: bool) -> dict:
    out = {}
    for key in data:
        if key not in spec:
            allowed = ", ".join(spec) + (", [models]" if spec is _TOP else "")
            raise ComposerError(f"{source}: {where}unknown key {key!r}: allowed keys are {allowed}")
    for key, (kind, default) in spec.items():
        if key not in data:
            # a generated band's audio and images are made for it; lyrics it must still name
            if default is None and not (generated and key in ("audio", "images")):
                raise ComposerError(f"{source}: {where}{key} is required")
            out[key] = default
            continue
        value = data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ComposerError(f"{source}: {where}{key} = {value!r}: must be a {kind.__name__}")
        out[key] = value
    return out


def _one_of(source: Path, key: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ComposerError(f"{source}: {key} = {value!r}: allowed values are {', '.join(map(repr, allowed))}")


# ----------------------------------------------------------------------------------------------- create


def create_band(
    name: str,
    audio: Path,
    lyrics: list[Path],
    images: Path,
    *,
    template: str = "gore",
    description: str = "",
    bands_dir: str | os.PathLike | None = None,
) -> Band:
    """Check a band's material and write its ``band.toml``; the band's models are trained separately."""
    from composer.karaoke.render.background import load_images
    from composer.karaoke.template import load_template
    from composer.models.samplernn.train import find_audio_files

    check_band_name(name)
    if any(unicodedata.category(ch) == "Cc" for ch in description):  # newlines, tabs, escapes
        raise ComposerError(f"--description {description!r}: one line, without control characters")
    root = Path(bands_dir) if bands_dir else user_bands_dir()
    folder = root / name
    if (folder / BAND_FILE).exists():
        raise ComposerError(f"{folder / BAND_FILE}: band {name!r} already exists")
    for d in search_dirs(bands_dir):  # a band of that name elsewhere, readable or not
        if (d / name / BAND_FILE).is_file():
            raise ComposerError(f"band {name!r} already exists elsewhere ({d / name})")
    audio, images = Path(audio).resolve(), Path(images).resolve()
    if not find_audio_files(audio):
        raise ComposerError(f"{audio}: no audio files (wav, flac, ogg, mp3) in this folder")
    if not lyrics:
        raise ComposerError("--lyrics: give at least one lyric file or folder")
    lyric_paths = [Path(p).resolve() for p in lyrics]
    load_images(images)  # raises naming the folder when it holds no usable image
    load_template(template)
    defaults = {key: default for key, (_, default) in _MODELS.items()}
    probe = Band(
        name,
        folder,
        description,
        audio,
        tuple(lyric_paths),
        images,
        template,
        _TOP["sample_rate"][1],
        **defaults,
        generated=False,
    )
    probe.lyric_files()  # every lyric path exists and folders hold lyric files
    text = _band_toml(name, description, audio, lyric_paths, images, template)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / BAND_FILE, text)
    return load_band(folder)


def _band_toml(name, description, audio, lyrics, images, template) -> str:
    q = _toml_str
    lyric_list = ", ".join(q(str(p)) for p in lyrics)
    d = {key: default for key, (_, default) in (_TOP | _MODELS).items()}  # the defaults load_band applies
    audio_preset, lyrics_preset = q(d["audio_preset"]), q(d["lyrics_preset"])
    return f"""# band profile written by `composer band create`; edit freely (paths may be relative to this file)
name = {q(name)}
description = {q(description)}
audio = {q(str(audio))}          # folder of the band's recordings (wav, flac, ogg, mp3)
lyrics = [{lyric_list}]          # lyric files or folders of them
images = {q(str(images))}        # folder of images for the videos
template = {q(template)}         # built-in template name or path to a .toml
sample_rate = {d["sample_rate"]}              # the audio model's rate

[models]
audio_preset = {audio_preset}            # "debug", "demo" (~4M params, fast on a CPU) or "dadabots" (64M, for a GPU)
lyrics_preset = {lyrics_preset}           # "debug" or "demo"
audio_steps = {d["audio_steps"]}               # `composer train --band {name}` trains to these step counts
lyrics_steps = {d["lyrics_steps"]}
"""


def _toml_str(s: str) -> str:
    """A TOML basic string; control characters (a newline in a folder name) as \\u escapes, which TOML allows."""
    if any("\ud800" <= ch <= "\udfff" for ch in s):  # a path whose bytes are not UTF-8
        raise ComposerError(f"{s!r}: not valid UTF-8; band.toml can only name UTF-8 paths")
    escaped = "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) == "Cc" else "\\" + ch if ch in '"\\' else ch for ch in s
    )
    return f'"{escaped}"'


__all__ = [
    "Band",
    "check_band_name",
    "create_band",
    "find_band",
    "list_bands",
    "load_band",
    "search_dirs",
    "user_bands_dir",
]
