"""Reading the user's lyrics: plain text (untimed) or timed .lrc / enhanced .lrc / .ass / .ssa / composer's .json.

Plain text gives ``Lyrics`` (stanzas of lines) for the aligner to time. A timed file gives a ``Timeline``
whose times are kept as the file states them; only what the Timeline's invariants demand is changed
(lines clipped to the audio, a line ended where the next begins), and every such change is logged.

Text is decoded strictly: UTF-8 (BOM or not), UTF-16/32 with a BOM (or UTF-16 whose NUL pattern gives it
away), else Windows-1252 when the bytes decode and read like Western text. Anything else is an error naming
the file rather than a silently garbled lyric.
"""

from __future__ import annotations

import bisect
import codecs
import dataclasses
import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from composer.errors import ComposerError
from composer.media.syllables import count_syllables, syllabify
from composer.media.timing import make_line
from composer.media.voices import VOICE_NAME, from_style, parse_lrc_header, split_lrc, split_prefix
from composer.types import LyricLine, Lyrics, Syllable, Timeline, Word

log = logging.getLogger("composer")

# an LRC line with no explicit end lasts at most this long, so it doesn't sit through an instrumental
LRC_SECONDS_PER_SYLLABLE = 0.6
LRC_LINE_PAD_S = 0.5
# an .ass file has no stanzas; a silence this long between lines starts a new one
ASS_STANZA_GAP_S = 3.0

# zero-width spaces and joiners, direction marks and embeddings, word joiner, BOM: invisible in a lyric, yet
# they would split words, break syllable counts and travel into every sidecar
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_MAX_BYTES = 8 * 2**20  # the largest karaoke .ass files are a few hundred KB
# a song has a few hundred timed lines, a concert a few thousand; settling lines costs ~100 us each
MAX_TIMED_LINES = 10_000
_SHOWN_WARNINGS = 5  # per file: one fault repeated on every line of a long file would flood the terminal
_TIMED_SUFFIXES = {".lrc": "lrc", ".ass": "ass", ".ssa": "ass"}


def read_lyrics(path: Path, duration: float) -> Lyrics | Timeline:
    """Lyrics from a text file, or a Timeline (validated, within ``duration``) from a timed one.

    The kind is chosen by extension (.lrc, .ass, .ssa and composer's own .json sidecar are timed); a text file
    whose content is plainly LRC, ASS or composer's sidecar (users rename them) is read as such.
    """
    path = Path(path)
    text = strip_invisible(_decode_text(path, _read_bytes(path)))
    kind = "json" if path.suffix.lower() == ".json" else _TIMED_SUFFIXES.get(path.suffix.lower()) or _sniff_kind(text)
    if kind == "json":
        return _read_json(path, text, duration)
    if kind == "lrc":
        return _read_lrc(path, text, duration)
    if kind == "ass":
        return _read_ass(path, text, duration)
    return _read_plain(path, text)


def strip_invisible(text: str) -> str:
    """``text`` without zero-width and bidi control characters (lyrics, titles)."""
    return _INVISIBLE.sub("", text)


def lrc_line_cap(start: float, words: list[str], word_starts: list[float] | None = None) -> float:
    """Latest end of an LRC line that states no end: syllable-paced from its start (or its last word tag).

    The .lrc writer relies on this to know when it must write an explicit end.
    """
    total = sum(max(count_syllables(w), 1) for w in words) if words else 1
    cap = start + LRC_SECONDS_PER_SYLLABLE * total + LRC_LINE_PAD_S
    if word_starts and words:
        last = max(word_starts)
        cap = max(cap, last + LRC_SECONDS_PER_SYLLABLE * max(count_syllables(words[-1]), 1) + LRC_LINE_PAD_S)
    return cap


# ----------------------------------------------------------------------------------------------- decoding


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ComposerError(f"{path}: file not found")
    if path.is_dir():
        raise ComposerError(f"{path}: is a directory, not a lyrics file")
    if not path.is_file():  # a pipe would block the read, a device such as /dev/zero never end it
        raise ComposerError(f"{path}: not a regular file (a device or pipe?); give a lyrics file")
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_BYTES + 1)  # the file may have grown since it was looked at
        if len(data) > _MAX_BYTES:
            raise ComposerError(f"{path}: over {_MAX_BYTES // 2**20} MB, far too large for a lyrics file")
        return data
    except OSError as exc:
        raise ComposerError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_ALLOWED_CONTROLS = set("\t\n\r\f\v")
# characters other than letters that Western Windows-1252 text really contains
_CP1252_PUNCTUATION = set("‘’‚“”„–—…•«»°©®™€£¥§¶·¡¿×÷´¨¸ªº¹²³¼½¾")


def _decode_text(path: Path, data: bytes) -> str:
    """Bytes of a lyrics file to str (without BOM), or ComposerError naming the file."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise ComposerError(f"{path}: starts with a {name} byte-order mark but is not valid {name}") from exc
            _reject_binary(path, text)
            return text
    utf16 = _bomless_utf16(data)
    if utf16 is not None:
        _reject_binary(path, utf16)
        return utf16
    if b"\x00" in data:
        raise ComposerError(f"{path}: binary file, not lyrics text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_cp1252(path, data)
    _reject_binary(path, text)
    return text


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without BOM: mostly-ASCII text has a NUL in every other byte, on one side only."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    half = len(data) // 2
    for zeros, others, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.6 * half and others.count(0) <= 0.05 * half:
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    return None


def _decode_cp1252(path: Path, data: bytes) -> str:
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ComposerError(f"{path}: not UTF-8 text and not Windows-1252 either; save it as UTF-8") from exc
    _reject_binary(path, text)
    if not _reads_like_western_text(text):
        raise ComposerError(f"{path}: not UTF-8 text and its encoding is unclear; save it as UTF-8")
    log.info("%s: not UTF-8; read as Windows-1252", path)
    return text


def _reads_like_western_text(text: str) -> bool:
    """Other 8-bit encodings (Cyrillic, Greek, ...) decode as cp1252 into symbol soup and accent-heavy words."""
    foreign = [ch for ch in text if ord(ch) > 127]
    if not foreign:
        return True
    letters = sum(ch.isalpha() for ch in text)
    symbols = sum(1 for ch in foreign if not ch.isalpha() and ch not in _CP1252_PUNCTUATION)
    accented = sum(1 for ch in foreign if ch.isalpha())
    return symbols <= 0.2 * len(foreign) and accented <= 0.25 * max(letters, 1)


def _reject_binary(path: Path, text: str) -> None:
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS)
    if "\x00" in text or controls > max(2, 0.01 * len(text)):
        raise ComposerError(f"{path}: binary file, not lyrics text")


def _sniff_kind(text: str) -> str:
    head = text.lstrip("\ufeff \t\r\n")[:200].lower()
    if head.startswith("[script info]"):
        return "ass"
    if head.startswith("{") and _looks_like_sidecar(text):
        return "json"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and sum(bool(_LINE_TIME_AT_START.match(ln)) for ln in lines) >= 0.5 * len(lines):
        return "lrc"
    return "plain"


def _looks_like_sidecar(text: str) -> bool:
    """A renamed composer ``.json`` (a JSON object with a "lines" list): read for its times, not sung as text. A
    lyric sheet that merely opens with a brace stays plain text."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and isinstance(data.get("lines"), list)


# ----------------------------------------------------------------------------------------------- plain text


def _read_plain(path: Path, text: str) -> Lyrics:
    stanzas: list[tuple[str, ...]] = []
    current: list[str] = []
    voices: list[str] = []
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if line:
            voice, line = split_prefix(line)  # "[scream] Tear the sky": a line of another voice
            current.append(line)
            voices.append(voice)
        elif current:
            stanzas.append(tuple(current))
            current = []
    if current:
        stanzas.append(tuple(current))
    if not stanzas:
        raise ComposerError(f"{path}: no lyric lines")
    return Lyrics(stanzas=tuple(stanzas), voices=tuple(voices) if any(voices) else ())


# ----------------------------------------------------------------------------------------------- timed lines


@dataclass
class _Chunk:
    """A run of text with the time it is sung; text may hold spaces (several words) or be empty (a pause)."""

    text: str
    start: float
    end: float


def _line_from_chunks(chunks: list[_Chunk], start: float, end: float, stanza: int, voice: str = "") -> LyricLine:
    """Words and syllables from timed chunks, keeping every stated time.

    A chunk inside a word is a syllable as the author cut it. A whole word in one chunk is cut into
    syllables evenly; several words in one chunk share its time by syllable count.
    """
    words: list[list[tuple[str, float, float]]] = []
    open_word = False
    for chunk in chunks:
        runs = list(re.finditer(r"\S+", chunk.text))
        if not runs:
            open_word = open_word and chunk.text == ""  # a pause keeps a word open, a space closes it
            continue
        spans = _share_span(chunk.start, chunk.end, [r.group() for r in runs])
        for k, (run, (s, e)) in enumerate(zip(runs, spans)):
            continues = k == 0 and open_word and run.start() == 0
            if continues:
                words[-1].append((run.group(), s, e))
            else:
                words.append([(run.group(), s, e)])
        open_word = runs[-1].end() == len(chunk.text)
    built = tuple(_word_from_pieces(pieces) for pieces in words)
    text = " ".join(w.text for w in built)
    return LyricLine(text=text, start=start, end=end, words=built, stanza=stanza, voice=voice)


def _share_span(start: float, end: float, runs: list[str]) -> list[tuple[float, float]]:
    if len(runs) == 1:
        return [(start, end)]
    weights = [max(count_syllables(r), 0.25) for r in runs]
    total = sum(weights)
    spans, t = [], start
    for w in weights:
        nxt = t + (end - start) * w / total
        spans.append((t, nxt))
        t = nxt
    spans[-1] = (spans[-1][0], end)
    return spans


def _word_from_pieces(pieces: list[tuple[str, float, float]]) -> Word:
    text = "".join(p[0] for p in pieces)
    w0, w1 = pieces[0][1], pieces[-1][2]
    if len(pieces) > 1:
        syllables = tuple(Syllable(t, s, e) for t, s, e in pieces)
    else:
        parts = syllabify(text)
        step = (w1 - w0) / len(parts)
        syllables = tuple(
            Syllable(p, w0 + i * step, w1 if i == len(parts) - 1 else w0 + (i + 1) * step) for i, p in enumerate(parts)
        )
    return Word(text=text, start=w0, end=w1, syllables=syllables)


def _check_line_count(path: Path, n: int) -> None:
    if n > MAX_TIMED_LINES:
        raise ComposerError(
            f"{path}: {n:,} timed lines; composer reads at most {MAX_TIMED_LINES:,} (a song has a few hundred)"
        )


class _LineWarnings:
    """The first few warnings about a file's lines in full, then how many more there were."""

    def __init__(self, path: Path):
        self.path, self.count = path, 0

    def __call__(self, message: str, *args) -> None:
        self.count += 1
        if self.count <= _SHOWN_WARNINGS:
            log.warning("%s: " + message, self.path, *args)

    def summary(self) -> None:
        if self.count > _SHOWN_WARNINGS:
            log.warning("%s: %d more line warnings like these", self.path, self.count - _SHOWN_WARNINGS)


def _settle(path: Path, drafts: list[LyricLine], duration: float, title: str, meta: dict) -> Timeline:
    """Enforce the Timeline invariants on drafted lines: in order, inside the audio, never overlapping."""
    warn = _LineWarnings(path)
    kept: list[LyricLine] = []
    for line in sorted(drafts, key=lambda d: d.start):
        if line.start >= duration:
            warn("line %r starts at %.2f s, after the audio ends (%.2f s); dropped", line.text, line.start, duration)
            continue
        kept.append(line)
    lines: list[LyricLine] = []
    for i, line in enumerate(kept):
        end = min(line.end, duration)
        if i + 1 < len(kept):
            nxt = kept[i + 1]
            if nxt.start < end:
                # overlap: end here no earlier than this line's singing and no later than the next's
                cut = max(nxt.start, _sung_end(line))
                cut = min(cut, _sung_start(nxt), end)
                if cut < _sung_end(line) - 1e-6:
                    warn("line %r overlaps the next one; cut at %.2f s", line.text, cut)
                end = cut
                kept[i + 1] = _clip_line(nxt, max(nxt.start, cut), nxt.end)
        line = _clip_line(line, line.start, end)
        if line.end <= line.start:
            warn("line %r has no time of its own (the next starts with it); dropped", line.text)
            continue
        lines.append(line)
    warn.summary()
    if not lines:
        raise ComposerError(f"{path}: no timed lyric lines within the audio ({duration:.1f} s)")
    timeline = Timeline(lines=tuple(lines), duration=duration, title=title, meta=meta)
    timeline.validate()
    return timeline


def _sung_start(line: LyricLine) -> float:
    return line.words[0].start if line.words else line.start


def _sung_end(line: LyricLine) -> float:
    return line.words[-1].end if line.words else line.start


def _clip_line(line: LyricLine, start: float, end: float) -> LyricLine:
    """The line squeezed into [start, end]: every word and syllable clamped, so nesting and order survive."""
    end = max(end, start)

    def clamp(t: float) -> float:
        return min(max(t, start), end)

    words = tuple(
        Word(
            w.text,
            clamp(w.start),
            clamp(w.end),
            tuple(Syllable(s.text, clamp(s.start), clamp(s.end)) for s in w.syllables),
        )
        for w in line.words
    )
    return dataclasses.replace(line, start=start, end=end, words=words)


# ----------------------------------------------------------------------------------------------- LRC

# [mm:ss], [mm:ss.x..], [mm:ss:cc]; minutes may run past 99
_TIME = r"(\d+):(\d{1,2})(?:([.:])(\d{1,3}))?"
_LINE_TIME_AT_START = re.compile(r"^\[" + _TIME + r"\]")
_TAG_AT_START = re.compile(r"^\[([^\[\]]*)\]")
_WORD_TAG = re.compile(r"<([^<>]*)>")
_LRC_META_KEYS = {"ar": "artist", "al": "album", "au": "author", "by": "lrc_by"}
_META = re.compile(r"^([A-Za-z#][A-Za-z0-9_ #-]*):(.*)$", re.S)


def _parse_time(value: str) -> float | None:
    m = re.fullmatch(_TIME, value.strip())
    if not m:
        return None
    minutes, seconds, sep, frac = m.groups()
    t = int(minutes) * 60 + int(seconds)
    if frac:
        # "mm:ss:cc" counts centiseconds; after a dot the digits are a decimal fraction
        t += int(frac) / 100 if sep == ":" else int(frac) / 10 ** len(frac)
    return float(t)


@dataclass
class _LrcEntry:
    start: float
    chunks: list[_Chunk] | None  # None: no word tags
    text: str
    stanza: int
    line_no: int
    explicit_end: float | None = None  # a trailing word tag
    voice: str = ""  # a name, or an LRC voice number ("v2") until the [voices:] header names it


def _read_lrc(path: Path, text: str, duration: float) -> Timeline:
    title, offset_ms = "", 0.0
    meta: dict[str, str] = {"source": "lrc"}
    entries: list[_LrcEntry] = []
    numbers: dict[str, str] = {}  # "v1" -> "growl", from composer's [voices:] header
    stanza, blank_run = 0, False
    for line_no, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            blank_run = True
            continue
        times, rest, tag = _split_line_tags(path, line_no, line)
        if tag:
            key, value = tag
            if key == "ti":
                title = value
            elif key in _LRC_META_KEYS and value:
                meta[_LRC_META_KEYS[key]] = value
            elif key == "offset":
                offset_ms = _parse_offset(path, line_no, value)
            elif key == "voices":
                numbers.update(parse_lrc_header(value))
            continue
        if not times:
            log.debug("%s line %d: no time tag; ignored", path, line_no)
            continue
        if blank_run and entries:
            stanza += 1
        blank_run = False
        for t in times:
            entries.append(_lrc_entry(path, line_no, t, rest, stanza, times[0]))
    # a positive offset makes the lyrics come sooner (LRC convention)
    shift = -offset_ms / 1000.0
    if shift:
        for e in entries:
            _shift_entry(e, shift)
    for e in entries:
        e.voice = numbers.get(e.voice, e.voice)
    if not any(e.text for e in entries):
        raise ComposerError(f"{path}: no timed lyric lines (expected [mm:ss.xx] tags)")
    _check_line_count(path, len(entries))
    return _settle(path, _lrc_drafts(entries, duration), duration, title, meta)


def _split_line_tags(path: Path, line_no: int, line: str):
    """Leading [..] tags of one line: (times, the text after them, (key, value) for a metadata line)."""
    times: list[float] = []
    rest = line
    while True:
        m = _TAG_AT_START.match(rest)
        if not m:
            break
        content = m.group(1)
        t = _parse_time(content)
        if t is not None:
            times.append(t)
        elif re.match(r"^\s*[\d.:+-]+\s*$", content) or re.match(r"^\s*\d+\s*:", content):
            raise ComposerError(f"{path} line {line_no}: unparsable timestamp [{content}]")
        elif not times and (meta := _META.match(content)):
            return [], "", (meta.group(1).strip().lower(), meta.group(2).strip())
        else:
            break  # bracketed lyric text such as "[chorus]"
        rest = rest[m.end() :]
    return times, rest.strip(), None


def _parse_offset(path: Path, line_no: int, value: str) -> float:
    try:
        return float(value.replace(" ", ""))
    except ValueError:
        raise ComposerError(f"{path} line {line_no}: unparsable [offset:{value}] (milliseconds)") from None


def _lrc_entry(path: Path, line_no: int, start: float, rest: str, stanza: int, first: float) -> _LrcEntry:
    """One timed occurrence of a line; word tags of a repeated line move with its line tag."""
    voice, rest = split_lrc(rest, {})  # "v2: ..." or "[scream] ..."
    if "<" not in rest or not _WORD_TAG.search(rest):
        text = " ".join(rest.split())
        return _LrcEntry(start, None, text, stanza, line_no, voice=voice)
    moved = start - first
    pieces = _WORD_TAG.split(rest)  # text, tag, text, tag, ..., text
    chunks: list[_Chunk] = []
    lead = pieces[0]
    if lead.strip():
        chunks.append(_Chunk(lead, start, start))  # untimed text before the first tag: sung at the line start
    explicit_end = None
    for k in range(1, len(pieces), 2):
        t = _parse_time(pieces[k])
        if t is None:
            raise ComposerError(f"{path} line {line_no}: unparsable word timestamp <{pieces[k]}>")
        t += moved
        body = pieces[k + 1]
        if k + 2 >= len(pieces) and not body.strip():
            explicit_end = t  # a trailing tag marks where the last word ends
        else:
            chunks.append(_Chunk(body, t, t))
    text = " ".join("".join(c.text for c in chunks).split())
    return _LrcEntry(start, chunks, text, stanza, line_no, explicit_end, voice)


def _shift_entry(entry: _LrcEntry, shift: float) -> None:
    entry.start = max(0.0, entry.start + shift)
    if entry.explicit_end is not None:
        entry.explicit_end = max(0.0, entry.explicit_end + shift)
    for c in entry.chunks or []:
        c.start = max(0.0, c.start + shift)


def _lrc_drafts(entries: list[_LrcEntry], duration: float) -> list[LyricLine]:
    """Each text entry ends at the next timed entry (a lyric or an empty end marker), its own trailing tag,
    or its syllable cap, whichever is first."""
    entries = sorted(entries, key=lambda e: e.start)
    times = [e.start for e in entries]
    marked = {e.start for e in entries if not e.text}  # times where an end marker stands
    drafts = []
    for e in entries:
        if not e.text:
            continue  # an end marker
        later = bisect.bisect_right(times, e.start)  # looked up, not scanned: a .lrc can have 10k lines
        nxt = times[later] if later < len(times) else None
        ends_marked = nxt in marked
        words = e.text.split()
        starts = [c.start for c in e.chunks or [] if c.text.strip()]
        if e.explicit_end is not None:
            end = e.explicit_end if nxt is None else min(e.explicit_end, nxt)
        elif ends_marked:
            end = nxt
        else:
            cap = lrc_line_cap(e.start, words, starts)
            end = cap if nxt is None else min(nxt, cap)
        end = max(min(end, duration), e.start)
        drafts.append(_lrc_line(e, end))
    return drafts


def _lrc_line(entry: _LrcEntry, end: float) -> LyricLine:
    if entry.chunks is None:
        return dataclasses.replace(make_line(entry.text, entry.start, end, entry.stanza), voice=entry.voice)
    chunks = sorted(entry.chunks, key=lambda c: c.start)
    timed = []
    for k, c in enumerate(chunks):
        stop = chunks[k + 1].start if k + 1 < len(chunks) else end
        c0 = min(max(c.start, entry.start), end)
        timed.append(_Chunk(c.text, c0, min(max(stop, c0), end)))
    return _line_from_chunks(timed, entry.start, end, entry.stanza, entry.voice)


# ----------------------------------------------------------------------------------------------- ASS / SSA

_OVERRIDE = re.compile(r"\{([^}]*)\}")
_KARAOKE_TAG = re.compile(r"\\(kf|ko|K|k)\s*(\d+(?:\.\d+)?)")


def _read_ass(path: Path, text: str, duration: float) -> Timeline:
    try:
        subs = pysubs2.SSAFile.from_string(text)
    except Exception as exc:  # pysubs2 raises a variety of parse errors
        raise ComposerError(f"{path}: not a readable .ass/.ssa subtitle file ({exc})") from exc
    title = str(subs.info.get("Title", "")).strip()
    if title.lower() in {"<untitled>", "default aegisub file", "untitled"}:
        title = ""
    events = sorted((e for e in subs.events if not e.is_comment and e.type == "Dialogue"), key=lambda e: e.start)
    _check_line_count(path, len(events))
    drafts: list[LyricLine] = []
    stanza, prev_end = 0, None
    for event in events:
        start, end = sorted((event.start / 1000.0, event.end / 1000.0))
        if prev_end is not None and start - prev_end >= ASS_STANZA_GAP_S:
            stanza += 1
        line = dataclasses.replace(_ass_line(event.text, start, end, stanza), voice=from_style(event.style))
        if not line.text:
            continue
        prev_end = end
        drafts.append(line)
    if not drafts:
        raise ComposerError(f"{path}: no dialogue lines with text")
    return _settle(path, drafts, duration, title, {"source": "ass"})


def _ass_line(raw: str, start: float, end: float, stanza: int) -> LyricLine:
    """Text and karaoke timing of one Dialogue event. \\k durations are centiseconds from the event start."""
    chunks: list[_Chunk] = []
    t = start
    current: _Chunk | None = None
    karaoke = False
    pos = 0
    for m in _OVERRIDE.finditer(raw):
        _append_text(chunks, current, raw[pos : m.start()], start)
        for k in _KARAOKE_TAG.finditer(m.group(1)):
            karaoke = True
            d = float(k.group(2)) / 100.0
            current = _Chunk("", t, t + d)
            chunks.append(current)
            t += d
        pos = m.end()
    _append_text(chunks, current, raw[pos:], start)
    if not karaoke:
        return make_line(" ".join("".join(c.text for c in chunks).split()), start, end, stanza)
    clipped = [_Chunk(c.text, min(c.start, end), min(c.end, end)) for c in chunks]
    return _line_from_chunks(clipped, start, end, stanza)


def _append_text(chunks: list[_Chunk], current: _Chunk | None, text: str, start: float) -> None:
    # ASS escapes: \N and \n break the line, \h is a hard space; on one karaoke line they are all spaces
    text = text.replace("\\N", " ").replace("\\n", " ").replace("\\h", " ")
    if not text:
        return
    if current is None:
        # text before any \k is highlighted from the start, taking no time
        if chunks and chunks[-1].end == start and chunks[-1].start == start:
            chunks[-1].text += text
        else:
            chunks.append(_Chunk(text, start, start))
    else:
        current.text += text


# ----------------------------------------------------------------------------------------------- composer's .json


class _NotSidecar(Exception):
    """What makes a .json file not composer's timeline sidecar: the path inside it and what is wrong there."""


def _read_json(path: Path, text: str, duration: float) -> Timeline:
    """composer's own ``.json`` sidecar (``Timeline.to_dict``) read back with its times kept, as an .lrc's are.

    Its lines are checked one by one rather than trusted: a hand-edited or foreign file gets one error naming
    the file and the first thing wrong, not a traceback. Its meta (offset, dropped lines) described the run
    that wrote it, so it is not carried over; nor is the aligner's confidence (the times now come from a file).
    """
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ComposerError(f"{path}: not JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    except ValueError:  # Python refuses to convert an integer of thousands of digits
        raise ComposerError(f"{path}: not composer's lyric sidecar (a number thousands of digits long)") from None
    except RecursionError:
        raise ComposerError(f"{path}: not composer's lyric sidecar (JSON nested too deep)") from None
    except _NotSidecar as exc:
        raise ComposerError(f"{path}: not composer's lyric sidecar ({exc})") from None
    try:
        if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
            raise _NotSidecar('no "lines" list at the top')
        _check_line_count(path, len(data["lines"]))
        title = _json_text(data, "title", "", required=False)
        drafts = [_json_line(ln, f"lines[{i}]") for i, ln in enumerate(data["lines"])]
    except _NotSidecar as exc:
        raise ComposerError(f"{path}: not composer's lyric sidecar ({exc})") from None
    if not drafts:
        raise ComposerError(f"{path}: no timed lyric lines")
    return _settle(path, drafts, duration, title, {"source": "json"})


def _refuse_constant(name: str) -> float:
    raise _NotSidecar(f"{name} is not a time")


def _json_line(d: object, where: str) -> LyricLine:
    if not isinstance(d, dict):
        raise _NotSidecar(f"{where} is not an object")
    text = _json_text(d, "text", where)
    if not text:
        raise _NotSidecar(f"{where}.text is empty")
    voice = _json_text(d, "voice", where, required=False)
    if voice and not VOICE_NAME.match(voice):
        raise _NotSidecar(f"{where}.voice {voice[:40]!r} is not a voice name")
    stanza = d.get("stanza", 0)
    if not isinstance(stanza, int) or isinstance(stanza, bool) or not 0 <= stanza <= MAX_TIMED_LINES:
        raise _NotSidecar(f"{where}.stanza is not a stanza number")
    words = d.get("words", [])
    if not isinstance(words, list):
        raise _NotSidecar(f"{where}.words is not a list")
    line = LyricLine(
        text=text,
        start=_json_time(d, "start", where),
        end=_json_time(d, "end", where),
        words=tuple(_json_word(w, f"{where}.words[{k}]") for k, w in enumerate(words)),
        stanza=stanza,
        voice=voice,
        unsure=d.get("unsure") is True,
    )
    if line.end < line.start:
        raise _NotSidecar(f"{where} ends ({line.end}) before it starts ({line.start})")
    try:  # words inside their line, syllables inside their word, each in order: what every renderer assumes
        Timeline((line,), math.inf).validate()
    except ValueError as exc:
        raise _NotSidecar(f"{where}: {exc}") from None
    return line


def _json_word(d: object, where: str) -> Word:
    if not isinstance(d, dict) or not isinstance(d.get("syllables"), list):
        raise _NotSidecar(f'{where} is not a word (an object with "syllables")')
    syllables = []
    for k, s in enumerate(d["syllables"]):
        at = f"{where}.syllables[{k}]"
        if not isinstance(s, dict):
            raise _NotSidecar(f"{at} is not an object")
        syllables.append(Syllable(_json_text(s, "text", at), _json_time(s, "start", at), _json_time(s, "end", at)))
    return Word(
        _json_text(d, "text", where), _json_time(d, "start", where), _json_time(d, "end", where), tuple(syllables)
    )


def _json_text(d: dict, key: str, where: str, *, required: bool = True) -> str:
    value = d.get(key)
    at = f"{where}.{key}" if where else key
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _NotSidecar(f"{at} is not text")
    # JSON escapes (\u200b, \n) get past the checks on the file's raw text: a newline in a lyric would
    # break the .lrc and .ass written from it
    value = strip_invisible(value)
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise _NotSidecar(f"{at} has a control character (a line break, tab or escape)")
    return value.strip()


def _json_time(d: dict, key: str, where: str) -> float:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _NotSidecar(f"{where}.{key} is not a time in seconds")
    if value < 0:
        raise _NotSidecar(f"{where}.{key} is negative ({value})")
    return float(value)
