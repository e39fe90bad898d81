"""Batch job files: TOML with a ``[defaults]`` table and a ``[[job]]`` array, validated into ``Job`` records,
and the inputs hash that decides whether a finished job must run again.

A job file is data: every key is checked, and an error names the file, the job (its name or number) and the
key, and says what is allowed. Problems that only one job can have at run time (a band that is not there, a
missing or unreadable input file) are not job-file errors: that job fails and the others run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

from composer.errors import ComposerError
from composer.media.ffmpeg import check_video_name
from composer.types import MAX_SEED
from composer.util.files import read_toml, resolve_path
from composer.util.sizes import parse_size

RENDER, KARAOKE = "render", "karaoke"
KINDS = (RENDER, KARAOKE)
COMMON_KEYS = ("name", "kind", "template", "templates", "seed", "output")
KIND_KEYS = {
    RENDER: ("band", "bands_dir", "length", "max_length", "songs", "size"),
    KARAOKE: ("audio", "lyrics", "images", "background", "title", "offset"),
}
REQUIRED = {RENDER: ("band", "length", "output"), KARAOKE: ("audio", "lyrics", "output")}  # and images or background
# out_dir: where relative outputs and the manifest go (default: the job file's folder); allow_outside: let a job's
# output lie outside out_dir (as --allow-outside does)
DEFAULT_ONLY = ("out_dir", "allow_outside")
ALL_KEYS = COMMON_KEYS + KIND_KEYS[RENDER] + KIND_KEYS[KARAOKE]
_TYPES = {
    "name": str,
    "kind": str,
    "template": str,
    "templates": list,
    "seed": int,
    "output": str,
    "band": str,
    "bands_dir": str,
    "length": (str, int, float),
    "max_length": str,
    "songs": int,
    "size": str,
    "audio": str,
    "lyrics": str,
    "images": str,
    "background": str,
    "title": str,
    "offset": (int, float),
    "out_dir": str,
    "allow_outside": bool,
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class _Settings:
    def as_json(self) -> dict:
        """The settings as JSON data (paths as strings): what the inputs hash reads, so a manifest written by
        an earlier composer still matches a job that has not changed."""
        data = {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}
        if data.get("offset") == 0:
            del data["offset"]  # added later: a job without one hashes as before
        if "background" in data and data["background"] is None:
            del data["background"]  # likewise
        return data


def _json_value(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True)
class RenderSettings(_Settings):
    """A render job: new songs by a band, as ``composer render --band`` makes them."""

    kind: ClassVar[str] = RENDER
    band: str
    bands_dir: Path | None  # None: the usual band folders
    length: float  # seconds
    songs: int | None  # None: one per ~3 minutes
    size: tuple[int, int] | None  # (width, height); None: the templates' own
    seed: int


@dataclass(frozen=True)
class KaraokeSettings(_Settings):
    """A karaoke job: a given song, lyrics and images, as ``composer karaoke`` makes them."""

    kind: ClassVar[str] = KARAOKE
    audio: Path
    lyrics: Path
    images: Path | None  # the slideshow's folder, or None with a background video
    title: str | None
    seed: int
    offset: float = 0.0  # seconds every lyric time moves (--offset)
    background: Path | None = None  # a video looped behind the lyrics (--background)


@dataclass(frozen=True)
class Job:
    """One validated job: what to make (``settings``) and where (``outputs``, one per template). Jobs are what
    worker processes and Ray tasks are handed (picklable)."""

    name: str
    settings: RenderSettings | KaraokeSettings  # absolute paths, length in seconds
    templates: tuple[str | None, ...]  # None: the band's own template
    outputs: tuple[Path, ...]  # the .mp4 of each template, in the same order

    @property
    def kind(self) -> str:
        return self.settings.kind


@dataclass(frozen=True)
class JobFile:
    path: Path
    out_dir: Path
    jobs: tuple[Job, ...]

    @property
    def manifest(self) -> Path:
        return self.out_dir / f"{self.path.stem}.manifest.json"


def load_jobfile(path: str | os.PathLike, *, allow_outside: bool = False) -> JobFile:
    """Read and validate a job file; ComposerError (one line: file, job, key, what is allowed) if it is bad.

    Outputs must lie inside out_dir unless ``allow_outside`` (or ``[defaults] allow_outside = true``).
    """
    path = Path(path).resolve()
    data = read_toml(path, "job file")
    for key in data:
        if key not in ("defaults", "job"):
            raise ComposerError(f"{path}: unknown key {key!r}: allowed are [defaults] and [[job]]")
    defaults = data.get("defaults", {})
    entries = data.get("job", [])
    if not isinstance(defaults, dict):
        raise ComposerError(f"{path}: [defaults] must be a table")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries) or not entries:
        raise ComposerError(f"{path}: no jobs: add one or more [[job]] tables")
    _check_keys(path, "[defaults]", defaults, ALL_KEYS + DEFAULT_ONLY)
    if "name" in defaults or "output" in defaults:
        raise ComposerError(f"{path}: [defaults]: name and output belong to each job, not to the defaults")
    base = path.parent
    out_dir = (
        resolve_path(base, _typed(path, "[defaults]", "out_dir", defaults["out_dir"]))
        if "out_dir" in defaults
        else base
    )
    jobs = [_job(path, i, entry, defaults, base, out_dir) for i, entry in enumerate(entries, 1)]
    if not (allow_outside or _typed(path, "[defaults]", "allow_outside", defaults.get("allow_outside", False))):
        for job in jobs:
            _check_inside(path, job, out_dir)
    _check_unique(path, jobs)
    return JobFile(path, out_dir, tuple(jobs))


def _job(path: Path, index: int, entry: dict, defaults: dict, base: Path, out_dir: Path) -> Job:
    where = f"job {entry['name']!r}" if isinstance(entry.get("name"), str) else f"job #{index}"
    _check_keys(path, where, entry, ALL_KEYS)
    kind = _kind(path, where, entry, defaults)
    allowed = COMMON_KEYS + KIND_KEYS[kind]
    for key in entry:
        if key not in allowed:
            raise ComposerError(
                f"{path}: {where}: key {key!r} is not for a {kind} job: allowed keys are {', '.join(allowed)}"
            )
    # a default applies to the jobs it makes sense for: a default band does not turn a karaoke job into a render
    merged = {k: v for k, v in defaults.items() if k in allowed} | entry
    for own, other in (("background", "images"), ("images", "background")):
        if own in entry and other not in entry:
            merged.pop(other, None)  # a job's own background replaces the default images, and the other way round
    for key in REQUIRED[kind]:
        if key not in merged:
            raise ComposerError(f"{path}: {where}: {key} is required for a {kind} job")
    values = {k: _typed(path, where, k, v) for k, v in merged.items()}
    name = values.get("name", f"job-{index}")
    if not _NAME.match(name):
        raise ComposerError(f"{path}: {where}: name = {name!r}: use letters, digits, '.', '-' and '_' (up to 100)")
    if "template" in entry and "templates" in entry:
        raise ComposerError(f"{path}: {where}: give template or templates, not both")
    templates = _templates(path, where, base, values, entry)
    seed = values.get("seed", 0)
    if not 0 <= seed <= MAX_SEED:
        raise ComposerError(f"{path}: {where}: seed = {seed}: allowed seeds are 0 to {MAX_SEED}")
    if kind == RENDER:
        settings = _render_settings(path, where, base, values, seed)
    else:
        if ("images" in values) == ("background" in values):
            raise ComposerError(f"{path}: {where}: give images (a folder) or background (a video), one of the two")
        inputs = {k: resolve_path(base, values[k]) if k in values else None for k in ("audio", "lyrics", "images")}
        inputs["background"] = resolve_path(base, values["background"]) if "background" in values else None
        offset = values.get("offset", 0.0)
        if not math.isfinite(offset):
            raise ComposerError(f"{path}: {where}: offset = {offset!r}: give seconds as a finite number, e.g. -0.3")
        settings = KaraokeSettings(**inputs, title=values.get("title"), seed=seed, offset=float(offset))
    output = resolve_path(out_dir, values["output"])
    check_video_name(output, f"{path}: {where}: output = {values['output']!r}")
    if len(templates) == 1:
        outputs = (output,)
    else:
        outputs = tuple(output.with_name(f"{output.stem}-{_template_label(t)}.mp4") for t in templates)
    return Job(name, settings, templates, outputs)


def _check_inside(path: Path, job: Job, out_dir: Path) -> None:
    """A job file is data from anyone: ``output = "../x.mp4"`` must not write (and overwrite) outside out_dir."""
    root = out_dir.resolve()
    for out in job.outputs:
        if not out.resolve().is_relative_to(root):
            raise ComposerError(
                f"{path}: job {job.name!r}: output {out} is outside out_dir {out_dir}: give a path "
                f"inside it, or pass --allow-outside (or [defaults] allow_outside = true)"
            )


def _check_keys(path: Path, where: str, table: dict, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise ComposerError(f"{path}: {where}: unknown key {key!r}: allowed keys are {', '.join(allowed)}")


def _typed(path: Path, where: str, key: str, value):
    kind = _TYPES[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
        raise ComposerError(f"{path}: {where}: {key} = {value!r}: must be a {names}")
    return value


def _kind(path: Path, where: str, entry: dict, defaults: dict) -> str:
    kind = entry.get("kind", None)
    if kind is None and "band" in entry and "audio" in entry:
        raise ComposerError(
            f"{path}: {where}: band (a render key) and audio (a karaoke key) together: "
            f'give kind = "render" or "karaoke"'
        )
    if kind is None:
        # inferred from what the job names first, then from the defaults
        for table in (entry, defaults):
            if "band" in table and "audio" not in table:
                return RENDER
            if "audio" in table and "band" not in table:
                return KARAOKE
        kind = defaults.get("kind")
    if kind is None:
        raise ComposerError(
            f'{path}: {where}: kind is unknown: give kind = "render" (with band) or "karaoke" (with audio)'
        )
    if kind not in KINDS:
        raise ComposerError(f"{path}: {where}: kind = {kind!r}: allowed values are {', '.join(map(repr, KINDS))}")
    return kind


def _templates(path: Path, where: str, base: Path, values: dict, entry: dict) -> tuple[str | None, ...]:
    from composer.karaoke.template import builtin_templates

    if "templates" in entry or ("templates" in values and "template" not in entry):
        given = values["templates"]
        key = "templates"
        if not given or not all(isinstance(t, str) for t in given):
            raise ComposerError(f"{path}: {where}: templates = {given!r}: must be a non-empty list of names or paths")
    else:
        given = [values["template"]] if "template" in values else [None]
        key = "template"
    out: list[str | None] = []
    for t in given:
        if t is None or t in builtin_templates():
            out.append(t)
        elif t.lower().endswith(".toml"):
            out.append(str(resolve_path(base, t)))  # a missing file fails that job, not the job file
        else:
            allowed = ", ".join(f'"{n}"' for n in builtin_templates())
            raise ComposerError(f"{path}: {where}: {key} = {t!r}: allowed are {allowed} or a path to a .toml")
    if len(set(out)) != len(out):
        raise ComposerError(f"{path}: {where}: {key} lists the same template twice")
    return tuple(out)


def _template_label(template: str | None) -> str:
    return "band" if template is None else Path(template).stem


def _render_settings(path: Path, where: str, base: Path, values: dict, seed: int) -> RenderSettings:
    from composer.band.render import plan_songs
    from composer.util.durations import MAX_LENGTH, parse_duration

    try:
        seconds = parse_duration(str(values["length"]))
        cap = parse_duration(values.get("max_length", MAX_LENGTH))
    except ValueError as e:
        raise ComposerError(f"{path}: {where}: length: {e}") from None
    if seconds > cap:
        raise ComposerError(
            f"{path}: {where}: length = {values['length']!r} is past the "
            f"{values.get('max_length', MAX_LENGTH)} limit; set max_length = "
            f'"{values["length"]}" to allow it'
        )
    songs = values.get("songs")
    try:
        plan_songs(seconds, songs)
    except ComposerError as e:
        raise ComposerError(f"{path}: {where}: length/songs: {str(e).replace('--', '')}") from None
    size = None
    if "size" in values:
        try:
            size = parse_size(values["size"])
        except ValueError as e:
            raise ComposerError(f"{path}: {where}: size = {values['size']!r}: {e}") from None
    from composer.band.profile import check_band_name

    try:
        check_band_name(values["band"])
    except ComposerError as e:
        raise ComposerError(f"{path}: {where}: band: {e}") from None
    bands_dir = resolve_path(base, values["bands_dir"]) if "bands_dir" in values else None
    return RenderSettings(values["band"], bands_dir, seconds, songs, size, seed)


def _check_unique(path: Path, jobs: list[Job]) -> None:
    names: set[str] = set()
    writers: dict[Path, str] = {}
    for job in jobs:
        if job.name in names:
            raise ComposerError(f"{path}: job {job.name!r}: two jobs have this name; names must be unique")
        names.add(job.name)
        for out in job.outputs:
            # sidecars share the stem, so two outputs differing only in suffix case would still collide
            key = out.with_suffix(".mp4")
            if key in writers:
                other = writers[key]
                raise ComposerError(
                    f"{path}: job {job.name!r}: output {out} is also written by "
                    f"{'this job' if other == job.name else f'job {other!r}'}"
                )
            writers[key] = job.name


# ----------------------------------------------------------------------------------------------- inputs hash


class Hasher:
    """Content hashes of input files, each file read once per batch however many jobs use it."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int], str] = {}

    def file(self, path: Path) -> str:
        st = path.stat()  # FileNotFoundError names the path: the job fails with it
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in self._cache:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            self._cache[key] = h.hexdigest()
        return self._cache[key]

    def folder(self, folder: Path, suffixes: tuple[str, ...] | None = None) -> dict[str, str]:
        if not folder.is_dir():
            raise ComposerError(f"{folder}: folder not found")
        return {
            p.name: self.file(p)
            for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and (suffixes is None or p.suffix.lower() in suffixes)
        }

    def job(self, job: Job) -> str:
        """sha256 over the job's settings, its input files' contents, the band's models and composer's version.

        Raises ComposerError (or OSError) when an input is missing: the caller fails that job alone.
        """
        from composer import __version__

        s = job.settings
        inputs: dict[str, object] = {}
        for t in job.templates:
            if t is not None and t.endswith(".toml"):
                inputs[f"template:{t}"] = self._existing(Path(t), "template")
        if isinstance(s, KaraokeSettings):
            inputs["audio"] = self._existing(s.audio, "audio file")
            inputs["lyrics"] = self._existing(s.lyrics, "lyrics file")
            if s.images is not None:
                inputs["images"] = self.folder(s.images)
            if s.background is not None:
                inputs["background"] = self._existing(s.background, "background video")
        else:
            inputs["band"] = self._band(s.band, s.bands_dir)
        doc = {
            "version": __version__,
            "kind": job.kind,
            "settings": s.as_json(),
            "templates": job.templates,
            "outputs": [str(p) for p in job.outputs],
            "inputs": inputs,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def _existing(self, path: Path, what: str) -> str:
        if not path.is_file():
            raise ComposerError(f"{path}: {what} not found")
        return self.file(path)

    def _band(self, name: str, bands_dir: Path | None) -> dict:
        from composer.band.profile import BAND_FILE, find_band

        band = find_band(name, bands_dir)
        out: dict[str, object] = {"band.toml": self.file(band.folder / BAND_FILE)}
        for what in ("audio", "lyrics"):
            out[what] = self.folder(band.weights(what), (".safetensors", ".json"))
        if band.template.endswith(".toml"):
            out["template"] = self._existing(Path(band.template), "band template")
        if not band.generated:  # a generated band's images are made the same way every time
            out["images"] = self.folder(band.images_dir)
        return out
