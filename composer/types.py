"""Plain frozen data that flows between the stages (see DESIGN.md): audio, lyrics, and the timed Timeline."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# seeds users give: numpy and torch each accept a different range, and every seed in this one works for both
MAX_SEED = 2**32 - 1

# how long work reports: progress(stage, done, total); the CLI draws a bar per stage, the library never prints
Progress = Callable[[str, float, float], None]


def no_progress(stage: str, done: float, total: float) -> None:
    """The ``Progress`` of a caller that shows none."""


@dataclass(frozen=True, eq=False)
class Audio:
    """Float32 samples in [-1, 1], shape (frames, channels), at ``rate`` Hz."""

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise ValueError("Audio.samples must be 2-D (frames, channels)")

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.rate

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def mono(self) -> np.ndarray:
        """1-D float32 mix-down."""
        return self.samples.mean(axis=1, dtype=np.float32)


@dataclass(frozen=True)
class Lyrics:
    """Untimed lyrics: stanzas of lines, as written in a plain text file."""

    stanzas: tuple[tuple[str, ...], ...]
    title: str = ""
    # the voice of each line, in ``lines`` order ("" is the main voice); empty when every line is the main voice
    voices: tuple[str, ...] = ()

    def voice_of(self, i: int) -> str:
        """The voice of line ``i`` (in ``lines`` order)."""
        return self.voices[i] if i < len(self.voices) else ""

    @classmethod
    def from_lines(cls, lines: Iterable[tuple[str, Hashable]], title: str = "", voices: Iterable[str] = ()) -> Lyrics:
        """Lines with a stanza mark each, in order: a run of lines with the same mark is one stanza (the
        inverse of ``lines``); ``voices`` names each line's voice."""
        stanzas: list[list[str]] = []
        last: Hashable = object()
        for text, mark in lines:
            if not stanzas or mark != last:
                stanzas.append([])
                last = mark
            stanzas[-1].append(text)
        voices = tuple(voices)
        return cls(tuple(tuple(s) for s in stanzas), title=title, voices=voices if any(voices) else ())

    @property
    def lines(self) -> list[tuple[str, int]]:
        """Every line with the index of its stanza, in order."""
        return [(line, i) for i, stanza in enumerate(self.stanzas) for line in stanza]

    def to_text(self) -> str:
        """The plain lyric file format: a line a line (``[voice]`` before a line of another voice than the
        main one), a blank line between stanzas."""
        out, i = [], 0
        for stanza in self.stanzas:
            rows = []
            for text in stanza:
                voice = self.voice_of(i)
                rows.append(f"[{voice}] {text}" if voice else text)
                i += 1
            out.append("\n".join(rows))
        return "\n\n".join(out) + "\n"


@dataclass(frozen=True)
class Syllable:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    syllables: tuple[Syllable, ...]


@dataclass(frozen=True)
class LyricLine:
    text: str
    start: float
    end: float
    words: tuple[Word, ...]
    stanza: int = 0
    voice: str = ""  # who sings it: a template's [voices.NAME]; "" is the main voice
    # the aligner could not place it (timed by the lines around it): shown, never swept as sung
    unsure: bool = False
    # the aligner's confidence in its start (None when the times came from a timed lyric file); carried by the
    # line, not kept in a list beside the timeline, so an offset that drops lines cannot pair it with another
    confidence: float | None = None


def shift_line(line: LyricLine, dt: float, stanzas: int = 0, *, within: tuple[float, float] | None = None) -> LyricLine:
    """``line`` moved ``dt`` seconds later (words and syllables too) and ``stanzas`` stanzas on; with ``within``,
    every time is kept inside that span (a line moved partly past a song's edge is cut there)."""
    lo, hi = within if within is not None else (-np.inf, np.inf)

    def at(t: float) -> float:
        return float(min(max(t + dt, lo), hi))

    return LyricLine(
        line.text,
        at(line.start),
        at(line.end),
        tuple(
            Word(w.text, at(w.start), at(w.end), tuple(Syllable(s.text, at(s.start), at(s.end)) for s in w.syllables))
            for w in line.words
        ),
        line.stanza + stanzas,
        line.voice,
        line.unsure,
        line.confidence,
    )


@dataclass(frozen=True)
class Timeline:
    """Timed lyrics for one piece of audio.

    Invariants (checked by ``validate``): lines are in order and never overlap; inside a line, words and
    syllables are in order, never overlap and stay inside their parent; nothing runs past ``duration``.
    """

    lines: tuple[LyricLine, ...]
    duration: float
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # titles come from file names, --title and lyric-file headers; a newline in one would start a new
        # header line in the .ass and .lrc sidecars
        object.__setattr__(self, "title", one_line(self.title))

    def validate(self, eps: float = 1e-6) -> None:
        prev_end = 0.0
        for line in self.lines:
            _check_span(line.text, line.start, line.end, prev_end, self.duration, eps)
            prev_end = line.end
            w_prev = line.start
            for word in line.words:
                _check_span(word.text, word.start, word.end, w_prev, line.end, eps)
                w_prev = word.end
                s_prev = word.start
                for syl in word.syllables:
                    _check_span(syl.text, syl.start, syl.end, s_prev, word.end, eps)
                    s_prev = syl.end

    def shifted(self, dt: float) -> Timeline:
        """Every time ``dt`` seconds later (earlier when negative), kept inside the song: a line moved wholly
        outside it is dropped, one moved partly outside is cut at the song's edge (``--offset``)."""
        if dt == 0:
            return self
        inside = [ln for ln in self.lines if ln.end + dt > 0 and ln.start + dt < self.duration]
        lines = tuple(shift_line(ln, dt, within=(0.0, self.duration)) for ln in inside)
        meta = {**self.meta, "offset": dt, "offset_dropped_lines": len(self.lines) - len(inside)}
        return Timeline(lines, self.duration, self.title, meta)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "duration": round(self.duration, 4),
            "meta": self.meta,
            "lines": [
                {
                    "text": line.text,
                    "start": round(line.start, 4),
                    "end": round(line.end, 4),
                    "stanza": line.stanza,
                    **({"voice": line.voice} if line.voice else {}),
                    **({"unsure": True} if line.unsure else {}),
                    **({"confidence": round(line.confidence, 3)} if line.confidence is not None else {}),
                    "words": [
                        {
                            "text": w.text,
                            "start": round(w.start, 4),
                            "end": round(w.end, 4),
                            "syllables": [
                                {"text": s.text, "start": round(s.start, 4), "end": round(s.end, 4)}
                                for s in w.syllables
                            ],
                        }
                        for w in line.words
                    ],
                }
                for line in self.lines
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Timeline:
        lines = tuple(
            LyricLine(
                text=ln["text"],
                start=float(ln["start"]),
                end=float(ln["end"]),
                stanza=int(ln.get("stanza", 0)),
                voice=str(ln.get("voice", "")),
                unsure=ln.get("unsure") is True,
                confidence=float(ln["confidence"]) if ln.get("confidence") is not None else None,
                words=tuple(
                    Word(
                        text=w["text"],
                        start=float(w["start"]),
                        end=float(w["end"]),
                        syllables=tuple(
                            Syllable(s["text"], float(s["start"]), float(s["end"])) for s in w["syllables"]
                        ),
                    )
                    for w in ln["words"]
                ),
            )
            for ln in d["lines"]
        )
        return cls(lines=lines, duration=float(d["duration"]), title=d.get("title", ""), meta=d.get("meta", {}))


def _check_span(text: str, start: float, end: float, lower: float, upper: float, eps: float) -> None:
    if not (lower - eps <= start <= end <= upper + eps):
        raise ValueError(f"timing of {text!r} ({start:.3f}-{end:.3f}) is outside {lower:.3f}-{upper:.3f}")


def one_line(text: str) -> str:
    """``text`` as one line: control characters dropped, each run of whitespace (newlines too) one space."""
    return " ".join("".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc").split())
