"""Voices: which singer a lyric line belongs to, as each lyric format writes it.

A voice is a short lowercase name ("growl", "scream"); the main voice is "". Plain lyrics name it with a
prefix (``[scream] Tear the sky``), .ass files with the Dialogue's style name, enhanced LRC with ``v1:`` /
``v2:`` before the line (the duet convention) and composer's own ``[voices:v1=growl,v2=scream]`` header,
which players ignore, to say which name each number stands for.
"""

from __future__ import annotations

import re

VOICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# "[scream] text" at the start of a line; the name is read case-insensitively ("[Growl]")
_PREFIX = re.compile(r"^\[\s*([A-Za-z0-9][A-Za-z0-9_-]{0,31})\s*\]\s*(?=\S)")
_LRC_VOICE = re.compile(r"^(v\d{1,2}):\s*", re.I)
# ASS style names that mean "no particular voice": what editors and composer name the main style
_MAIN_STYLES = {"default", "karaoke", ""}
# words a bracket at a line's start often holds that are not voices: lyric sheets mark song parts this way
_SECTION_WORDS = {"chorus", "verse", "bridge", "intro", "outro", "pre-chorus", "prechorus", "hook", "refrain", "solo"}


def split_prefix(text: str) -> tuple[str, str]:
    """``(voice, text)`` of a plain lyric line: ``"[Scream] Tear"`` -> ``("scream", "Tear")``; a line without
    a voice prefix (or with a song-part mark such as ``[chorus]``) is the main voice."""
    m = _PREFIX.match(text)
    if not m or m.group(1).lower() in _SECTION_WORDS:
        return "", text
    return m.group(1).lower(), text[m.end() :]


def with_prefix(voice: str, text: str) -> str:
    """The plain-lyrics form of a line: ``[voice] text``, or the text alone for the main voice."""
    return f"[{voice}] {text}" if voice else text


def from_style(style: str) -> str:
    """The voice an .ass Dialogue's style names: its name made a voice name, "" for the main styles."""
    name = re.sub(r"[^a-z0-9_-]+", "-", style.strip().lower()).strip("-_")[:32]
    return "" if name in _MAIN_STYLES or not VOICE_NAME.match(name) else name


def split_lrc(text: str, numbers: dict[str, str]) -> tuple[str, str]:
    """``(voice, text)`` of an LRC line's text: ``"v2: Tear"`` -> the name ``numbers`` gives v2 (else "v2")."""
    m = _LRC_VOICE.match(text)
    if m:
        number = m.group(1).lower()
        return numbers.get(number, number), text[m.end() :]
    return split_prefix(text)


def parse_lrc_header(value: str) -> dict[str, str]:
    """``v1=growl,v2=scream`` (the value of a ``[voices:...]`` tag) -> ``{"v1": "growl", "v2": "scream"}``;
    malformed pairs are skipped (a header is a hint, the lines stand without it)."""
    out = {}
    for pair in value.split(","):
        number, _, name = pair.partition("=")
        number, name = number.strip().lower(), name.strip().lower()
        if _LRC_VOICE.match(number + ":") and VOICE_NAME.match(name):
            out[number] = name
    return out


def lrc_numbers(voices: list[str]) -> dict[str, str]:
    """voice name -> ``v1``, ``v2``... in order of first appearance (the main voice takes none)."""
    out: dict[str, str] = {}
    for v in voices:
        if v and v not in out:
            out[v] = f"v{len(out) + 1}"
    return out


def alternate(lines: list[tuple[str, int]], voices: tuple[str, ...], seed: int) -> tuple[list[str], list[str]]:
    """(texts, voices) of written lines (text, stanza) for a band of several ``voices``: a line that names one
    of them (``[scream] ...``, as a model trained on voiced lyrics writes) keeps it; the others take the voices
    in turn stanza by stanza, starting from one the seed picks (the same seed, the same parts)."""
    if not voices:
        return [text for text, _ in lines], [""] * len(lines)
    first = seed % len(voices)
    texts, out, order = [], [], {}
    for text, stanza in lines:
        voice, rest = split_prefix(text)
        order.setdefault(stanza, len(order))
        if voice not in voices:
            voice, rest = voices[(first + order[stanza]) % len(voices)], text
        texts.append(rest)
        out.append(voice)
    return texts, out
