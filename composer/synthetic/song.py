"""Procedural death-metal songs with growled vocals at known times.

One generator serves three purposes: the README's example song, the demo band's training audio and the
aligner's test fixtures (``line_times`` and ``syllable_times`` are ground truth). Everything is numpy/scipy
and deterministic from a seed; instruments render section by section into one stereo bed and the voice
line by line, so memory is the output plus a few seconds of working buffers.

The music: a tempo and a downtuned key per song; sections (intro, sung verses, bridges, a long solo or
breakdown, outro) each with its own groove (blast beat, double bass, d-beat, half-time breakdown) and a riff
that repeats; quad- or double-tracked distorted guitars (polyBLEP saws through asymmetric clipping and a
scooped cabinet), bass, drums synthesised per hit, a lead guitar over the solo.

The voice: a glottal pulse train at a low jittered pitch with period doubling and pulse-synchronous noise,
shaped by four moving formant resonators per vowel, with consonant onsets and codas taken from the spelling
of each syllable. Syllables fall on the song's sixteenth-note grid, so rhythm and rate sound sung.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from composer.media.syllables import count_syllables, syllabify
from composer.types import Audio, Lyrics

KINDS = ("clear", "dense")


@dataclass(frozen=True)
class SynthSong:
    audio: Audio  # float32 stereo, peak at -1 dBFS
    lyrics: Lyrics  # the lines actually sung, in stanzas
    line_times: tuple[tuple[float, float], ...]  # true (start, end) of each sung line
    kind: str
    # true (start, end) of every sung syllable, per line: ground truth for word and syllable timing
    syllable_times: tuple[tuple[tuple[float, float], ...], ...] = ()


# ----------------------------------------------------------------------------------------------- lyrics

_NOUNS = (
    "grave",
    "flesh",
    "bone",
    "void",
    "abyss",
    "crypt",
    "corpse",
    "plague",
    "serpent",
    "altar",
    "shadow",
    "blood",
    "ash",
    "tomb",
    "worm",
    "throne",
    "darkness",
    "cadaver",
    "carrion",
    "chasm",
    "oblivion",
    "pestilence",
    "inferno",
    "sepulchre",
    "catacomb",
    "maggot",
    "entrails",
    "ossuary",
    "necropolis",
    "vermin",
    "horde",
    "skull",
    "furnace",
    "gallows",
    "casket",
    "requiem",
    "torment",
    "ruin",
    "famine",
    "marrow",
    "sinew",
    "leper",
    "idol",
    "covenant",
    "monolith",
    "labyrinth",
    "vortex",
    "carcass",
    "hunger",
    "pyre",
    "gutter",
    "relic",
    "swamp",
    "mire",
    "tide",
    "winter",
    "eclipse",
    "wound",
    "dirge",
    "omen",
)
_ADJECTIVES = (
    "rotting",
    "eternal",
    "putrid",
    "unholy",
    "blackened",
    "festering",
    "desolate",
    "ancient",
    "molten",
    "hollow",
    "wretched",
    "forsaken",
    "frozen",
    "bloodstained",
    "shattered",
    "endless",
    "nameless",
    "cursed",
    "funeral",
    "skeletal",
    "sunken",
    "crawling",
    "burning",
    "silent",
    "vile",
    "bleeding",
    "infernal",
    "grim",
    "severed",
    "withered",
    "ravenous",
    "abyssal",
    "charred",
    "carnal",
    "buried",
    "bottomless",
)
_VERBS = (
    "devour",
    "consume",
    "rot",
    "bleed",
    "descend",
    "summon",
    "defile",
    "crawl",
    "burn",
    "decay",
    "drown",
    "suffer",
    "wither",
    "awaken",
    "dissolve",
    "ascend",
    "fester",
    "scream",
    "swallow",
    "perish",
    "unearth",
    "entomb",
    "gnaw",
    "bury",
    "worship",
    "sever",
    "mutilate",
    "corrode",
    "dismember",
    "haunt",
)
_PARTICIPLES = (
    "buried",
    "devoured",
    "forgotten",
    "consumed",
    "crucified",
    "entombed",
    "desecrated",
    "dismembered",
    "swallowed",
    "impaled",
    "condemned",
    "enslaved",
    "shattered",
    "defiled",
    "exhumed",
    "bound",
)
_TEMPLATES = (
    "{Verb} the {adj} {noun}",
    "{Noun} of {adj} {noun}",
    "From the {noun} of {noun} we {verb}",
    "{Adj} {noun}, {adj} {noun}",
    "We {verb} in {adj} {noun}",
    "Through {noun} and {noun} I {verb}",
    "Beneath the {adj} {noun}",
    "The {noun} is {participle}",
    "{Participle} in the {noun} of {noun}",
    "Into the {adj} {noun} we {verb}",
    "Let the {noun} {verb}",
    "I am the {noun} of {adj} {noun}",
    "No {noun} shall {verb}",
    "{Adj} {noun} {participle} below",
    "Hear the {noun} {verb}",
    "Where the {adj} {noun}s {verb}",
    "{Verb}, {verb}, the {noun} awaits",
    "Chained to the {noun} of {noun}",
)


def example_lyrics(seed: int, n_lines: int) -> Lyrics:
    """Dark death-metal lines from our own word lists, in stanzas of four, with a title."""
    rng = np.random.default_rng([seed, 7919])
    lines: list[str] = []
    while len(lines) < n_lines:
        line = _fill_template(rng, _TEMPLATES[int(rng.integers(len(_TEMPLATES)))])
        n = sum(count_syllables(w) for w in line.split())
        if 4 <= n <= 13 and line not in lines[-8:]:
            lines.append(line)
    stanzas = tuple(tuple(lines[i : i + 4]) for i in range(0, n_lines, 4))
    title = f"{_pick(rng, _ADJECTIVES)} {_pick(rng, _NOUNS)}".title()
    return Lyrics(stanzas=stanzas, title=title)


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[int(rng.integers(len(words)))]


def _fill_template(rng: np.random.Generator, template: str) -> str:
    pools = {"noun": _NOUNS, "adj": _ADJECTIVES, "verb": _VERBS, "participle": _PARTICIPLES}
    out = template
    for key, pool in pools.items():
        for name in (key, key.capitalize()):
            token = "{" + name + "}"
            while token in out:
                word = _pick(rng, pool)
                out = out.replace(token, word.capitalize() if name[0].isupper() else word, 1)
    return out


# ------------------------------------------------------------------------------------------------ plan


@dataclass(frozen=True)
class _Style:
    kind: str
    root: int  # MIDI note of the lowest guitar string
    bpm: float
    syl_rate: float  # typical sung syllables per second (before held notes)
    f0: float  # growl pitch centre, Hz
    noise: float  # noise share of the voice source
    vocal_db: float  # vocal RMS relative to the bed, over the sung spans
    pause_prob: float  # chance that a line has a pause of its own
    guitar_tracks: int


def _draw_style(rng: np.random.Generator, kind: str) -> _Style:
    dense = kind == "dense"
    return _Style(
        kind=kind,
        root=int(rng.integers(35, 41)),
        bpm=float(rng.uniform(150, 200)),
        syl_rate=float(rng.uniform(3.8, 5.8)),
        f0=float(rng.uniform(75, 115)),
        noise=float(rng.uniform(0.55, 0.8) if dense else rng.uniform(0.35, 0.55)),
        vocal_db=float(rng.uniform(-4.0, 0.0) if dense else rng.uniform(4.0, 8.0)),
        pause_prob=0.55 if dense else 0.3,
        guitar_tracks=4 if dense else 2,
    )


@dataclass(frozen=True)
class _Syl:
    onset: float  # first audible sound (consonant or vowel)
    vowel: float  # vowel onset
    off: float  # vowel release starts
    end: float  # last audible sound (release or coda)
    consonant: str  # onset class: "", "p", "t", "k", "s", "sh", "f", "m", "l", "r", "w", "y"
    coda: str  # word-final consonant class, "" when the syllable ends open or mid-word
    vowel_kind: str
    f0: float
    accent: float
    legato: bool  # the next syllable belongs to the same word


@dataclass(frozen=True)
class _Line:
    text: str
    syllables: tuple[_Syl, ...]

    @property
    def start(self) -> float:
        return self.syllables[0].onset

    @property
    def end(self) -> float:
        return max(s.end for s in self.syllables)


@dataclass
class _Section:
    start: float
    end: float
    bpm: float
    groove: str  # "blast", "double", "dbeat", "breakdown", "ring"
    riff_seed: int
    lead: bool = False
    lines: list[_Line] = field(default_factory=list)

    @property
    def step(self) -> float:
        return 60.0 / self.bpm / 4.0

    @property
    def bar(self) -> float:
        return 16 * self.step


_VERSE_GROOVES = ("blast", "double", "dbeat")


def _plan_song(rng: np.random.Generator, style: _Style, duration: float, stanzas) -> list[_Section]:
    """Sections covering [0, duration); sung stanzas go into verse sections until lyrics or time run out."""
    bar = 240.0 / style.bpm
    outro_len = max(2.5, 2 * bar)
    sections: list[_Section] = []
    t = 0.0

    def add(n_bars: float, groove: str, *, bpm: float | None = None, lead: bool = False) -> _Section:
        nonlocal t
        b = bpm or style.bpm
        sec = _Section(t, t + n_bars * 240.0 / b, b, groove, int(rng.integers(1 << 30)), lead)
        sections.append(sec)
        t = sec.end
        return sec

    add(1, "ring")  # a held chord over a drum build, then the first riff
    add(int(rng.integers(1, 3)), _pick(rng, _VERSE_GROOVES))
    # the first long break comes after the first verse or two; a long song gets one every minute or two
    break_at = min(duration * rng.uniform(0.15, 0.3), rng.uniform(50.0, 90.0))
    breaks = 0
    grooves = list(_VERSE_GROOVES)
    rng.shuffle(grooves)
    for k, stanza in enumerate(stanzas):
        if k > 0 and t >= break_at and t + 14.0 < duration - outro_len:
            _add_break(rng, style, add, bar)
            breaks += 1
            break_at = t + rng.uniform(60.0, 120.0)
        elif k > 0 and rng.random() < (0.5 if style.kind == "clear" else 0.3):
            add(int(rng.integers(1, 3)), _pick(rng, _VERSE_GROOVES))
        sec = _Section(t, t, style.bpm, grooves[k % len(grooves)], int(rng.integers(1 << 30)))
        cursor = t + sec.step * int(rng.integers(0, 5))
        out_of_time = False
        for text in stanza:
            line = _plan_line(rng, style, text, cursor, sec.step)
            if line is None:
                continue  # nothing singable in it ("--")
            if line.end + 0.4 > duration - outro_len:
                out_of_time = True
                break
            sec.lines.append(line)
            cursor = line.end + _line_gap(rng, style)
        if not sec.lines:
            if out_of_time:
                break
            continue
        tail = rng.uniform(0.3, 0.8) if style.kind == "dense" else rng.uniform(0.5, 1.0)
        n_bars = math.ceil((sec.lines[-1].end + tail - t) / sec.bar)
        sec.end = t + n_bars * sec.bar
        sections.append(sec)
        t = sec.end
        if out_of_time:
            break
    if not breaks and t + 8.0 < duration - outro_len:
        _add_break(rng, style, add, bar)
    while t + bar < duration - outro_len:
        add(1, _pick(rng, _VERSE_GROOVES))  # lyrics ran out: the band plays on
    sections.append(_Section(t, duration, style.bpm, "ring" if duration - t < 4 * bar else "dbeat", 0))
    return _fit_to(sections, duration)


def _add_break(rng, style: _Style, add, bar: float) -> None:
    """The long instrumental stretch: a lead solo over a fast groove, or a half-time breakdown."""
    seconds = rng.uniform(6.5, 9.0)
    if rng.random() < 0.5:
        add(max(4, math.ceil(seconds / bar)), _pick(rng, ("blast", "double")), lead=True)
    else:
        bpm = style.bpm * rng.uniform(0.75, 0.9)
        add(max(3, math.ceil(seconds * bpm / 240.0)), "breakdown", bpm=bpm)


def _fit_to(sections: list[_Section], duration: float) -> list[_Section]:
    """Drop sections past the end and end the last one exactly at ``duration``."""
    kept = [s for s in sections if s.start < duration - 1e-6]
    kept[-1].end = duration
    return kept


def _line_gap(rng: np.random.Generator, style: _Style) -> float:
    if style.kind == "clear":
        return float(rng.uniform(0.5, 1.5))
    return float(rng.uniform(0.15, 0.45) if rng.random() < 0.6 else rng.uniform(0.45, 1.1))


# syllable sounds taken from spelling: onset consonant class and its length in seconds
_CONSONANT_LEN = {
    "": 0.0,
    "p": 0.03,
    "t": 0.035,
    "k": 0.04,
    "s": 0.085,
    "sh": 0.08,
    "f": 0.06,
    "m": 0.05,
    "l": 0.045,
    "r": 0.045,
    "w": 0.045,
    "y": 0.04,
}
_CODA_LEN = {"": 0.0, "p": 0.04, "t": 0.05, "k": 0.05, "s": 0.09, "sh": 0.09, "f": 0.06}


def _consonant_class(cluster: str) -> str:
    c = cluster.lower()
    if not c:
        return ""
    if c.startswith(("sh", "ch")) or c[0] == "j":
        return "sh"
    if c.startswith("th") or c[0] in "fvh":
        return "f"
    if c[0] in "szx":
        return "s"
    if c[0] in "pb":
        return "p"
    if c[0] in "td":
        return "t"
    if c[0] in "kgcq":
        return "k"
    if c[0] in "mn":
        return "m"
    return c[0] if c[0] in "lrwy" else "t"


def _vowel_kind(piece: str) -> str:
    p = piece.lower()
    for digraph, kind in (
        ("ee", "iy"),
        ("ea", "iy"),
        ("oo", "uw"),
        ("ou", "aw"),
        ("ai", "ey"),
        ("ay", "ey"),
        ("oa", "ow"),
        ("ie", "ay"),
        ("igh", "ay"),
    ):
        if digraph in p:
            return kind
    for ch in p:
        if ch in "aeiouy":
            return {"a": "ae", "e": "eh", "i": "ih", "o": "ow", "u": "uh", "y": "ih"}[ch]
    return "uh"


def _syllable_sounds(word: str) -> list[tuple[str, str, str]]:
    """(onset class, vowel kind, coda class) for each sung syllable of a word."""
    n = count_syllables(word)
    if n == 0:
        return []
    pieces = list(syllabify(word))
    letters = "".join(ch for ch in word if ch.isalpha()) or "a"
    while len(pieces) < n:
        pieces.append(pieces[-1])
    pieces = pieces[:n]
    out = []
    for k, piece in enumerate(pieces):
        low = "".join(ch for ch in piece.lower() if ch.isalpha()) or letters.lower()
        m = next((i for i, ch in enumerate(low) if ch in "aeiouy"), len(low))
        onset = _consonant_class(low[:m])
        coda = ""
        if k == n - 1:
            tail = low.rstrip("aeiouy")
            j = len(tail)
            while j > 0 and tail[j - 1] not in "aeiouy":
                j -= 1
            cluster = tail[j:].rstrip("e")
            coda = _consonant_class(cluster[-1:] if not cluster.endswith(("sh", "ch", "th")) else cluster[-2:])
            coda = coda if coda in _CODA_LEN else ""
        out.append((onset, _vowel_kind(low), coda))
    return out


def _plan_line(rng: np.random.Generator, style: _Style, text: str, t0: float, step: float) -> _Line | None:
    """Syllables of one sung line on the sixteenth grid from t0, with an optional pause of its own."""
    words = [(w, _syllable_sounds(w)) for w in text.split()]
    words = [(w, s) for w, s in words if s]
    n = sum(len(s) for _, s in words)
    if n == 0:
        return None
    pause_after = -1  # index of the word after which the line breaks
    if n >= 5 and len(words) >= 3 and rng.random() < style.pause_prob:
        cum = np.cumsum([len(s) for _, s in words])
        options = [i for i in range(len(words) - 1) if cum[i] >= 2 and n - cum[i] >= 2]
        if options:
            pause_after = min(options, key=lambda i: abs(cum[i] - n / 2) + rng.random())
    min_steps = max(1, math.ceil(0.12 / step))
    base = 1.0 / style.syl_rate
    syls: list[_Syl] = []
    slot = t0 + _CONSONANT_LEN[words[0][1][0][0]]  # the vowel lands on the grid; the consonant leads it
    slot = t0 + math.ceil((slot - t0) / step) * step
    pitch = style.f0 * rng.uniform(0.9, 1.1)
    for wi, (_, sounds) in enumerate(words):
        for si, (onset_c, vowel, coda) in enumerate(sounds):
            last_in_line = wi == len(words) - 1 and si == len(sounds) - 1
            dur = base * rng.lognormal(0.0, 0.22)
            if last_in_line:
                dur *= rng.uniform(1.6, 2.6)  # held final syllable
            elif wi == pause_after and si == len(sounds) - 1:
                dur *= 1.3
            steps = max(min_steps, round(dur / step))
            slot_end = slot + steps * step
            jitter = rng.normal(0.0, 0.008)
            c_len = _CONSONANT_LEN[onset_c] * rng.uniform(0.8, 1.2)
            vowel_t = slot + jitter + 0.3 * c_len
            legato = si < len(sounds) - 1
            off = slot_end - (0.015 if legato else rng.uniform(0.03, 0.07))
            release = 0.05
            coda_len = _CODA_LEN[coda] * rng.uniform(0.8, 1.2)
            syls.append(
                _Syl(
                    onset=vowel_t - c_len,
                    vowel=vowel_t,
                    off=off,
                    end=off + release + coda_len,
                    consonant=onset_c,
                    coda=coda,
                    vowel_kind=vowel,
                    f0=pitch * float(np.exp(rng.normal(0.0, 0.07))),
                    accent=float(rng.uniform(0.75, 1.0)),
                    legato=legato,
                )
            )
            slot = slot_end
        if wi == pause_after:
            slot += rng.uniform(0.1, 0.35) + 0.05  # +release: the silence itself is 0.1-0.35 s
    return _Line(text=text, syllables=tuple(syls))


# ---------------------------------------------------------------------------------------------- render


def make_song(
    seed: int = 0, kind: str = "clear", duration: float = 40.0, rate: int = 44100, lyrics: Lyrics | None = None
) -> SynthSong:
    """A death-metal song whose sung lines are known: ``line_times`` are the true (start, end) of each line.

    kind "clear": vocals well above the band, gaps of at least 0.5 s between lines. kind "dense": vocals
    buried in the guitar wall, lines broken by pauses, gaps down to 0.15 s. Both have an intro, a long solo
    or breakdown and an outro without vocals. Given ``lyrics`` are sung in order until the song is full (the
    returned lyrics are the lines actually sung); without, lines come from ``example_lyrics(seed, ...)``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if duration < 8.0:
        raise ValueError("duration must be at least 8 seconds")
    rng = np.random.default_rng([seed, 1])
    style = _draw_style(rng, kind)
    if lyrics is None:
        lyrics = example_lyrics(seed, max(4, int(duration / 2.2)))
    sections = _plan_song(rng, style, duration, lyrics.stanzas)
    n = int(round(duration * rate))
    bed = _render_bed(seed, style, sections, n, rate)
    lines = [line for sec in sections for line in sec.lines]
    vocal = _render_vocals(np.random.default_rng([seed, 5]), lines, style, n, rate)
    audio = _master(bed, vocal, lines, style, rate)
    sung = _regroup(lyrics, [line.text for line in lines], lyrics.title)
    times = tuple((round(line.start, 4), round(line.end, 4)) for line in lines)
    syllables = tuple(tuple((round(x.onset, 4), round(x.end, 4)) for x in line.syllables) for line in lines)
    return SynthSong(audio=Audio(audio, rate), lyrics=sung, line_times=times, kind=kind, syllable_times=syllables)


def make_instrumental(seed: int = 0, kind: str = "clear", duration: float = 40.0, rate: int = 44100) -> Audio:
    """The band of ``make_song(seed, kind, duration, rate)`` without its voice, mastered the same way: a bed
    for vocals from elsewhere (the aligner's evaluation sings text-to-speech over it)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    rng = np.random.default_rng([seed, 1])
    style = _draw_style(rng, kind)
    sections = _plan_song(rng, style, duration, example_lyrics(seed, max(4, int(duration / 2.2))).stanzas)
    n = int(round(duration * rate))
    bed = _render_bed(seed, style, sections, n, rate)
    return Audio(_master(bed, np.zeros(n, np.float32), [], style, rate), rate)


def _render_bed(seed: int, style: _Style, sections: list[_Section], n: int, rate: int) -> np.ndarray:
    """Drums, guitars, bass and the lead, section by section, into one stereo bed."""
    bed = np.zeros((n, 2), dtype=np.float32)
    kit = _DrumKit(np.random.default_rng([seed, 2]), rate)
    guitars = _Guitars(np.random.default_rng([seed, 3]), style, rate)
    for sec in sections:
        sec_rng = np.random.default_rng([seed, 4, sec.riff_seed])
        events = _riff_events(sec_rng, sec, style)
        _render_drums(sec_rng, sec, events, kit, bed, rate)
        guitars.render(sec, events, bed)
        if sec.lead:
            _render_lead(sec_rng, sec, style, bed, rate)
    return bed


def _regroup(lyrics: Lyrics, sung: list[str], title: str) -> Lyrics:
    """The sung prefix of the lyrics, keeping their stanza breaks."""
    stanzas, left = [], len(sung)
    for stanza in lyrics.stanzas:
        if left <= 0:
            break
        stanzas.append(tuple(stanza[:left]))
        left -= len(stanza)
    if [line for st in stanzas for line in st] != sung:
        # a line with nothing singable in it was skipped: fall back to stanzas of four
        stanzas = [tuple(sung[i : i + 4]) for i in range(0, len(sung), 4)]
    return Lyrics(stanzas=tuple(stanzas), title=title)


# ----------------------------------------------------------------------------------------------- riffs


@dataclass(frozen=True)
class _Note:
    start: float
    end: float
    offset: int  # semitones above the song's root
    mute: bool
    velocity: float


_PALETTE = np.array([0, 1, 3, 5, 6, 7, 8, 10, 12])
_PALETTE_P = np.array([0.3, 0.12, 0.1, 0.08, 0.1, 0.1, 0.08, 0.06, 0.06])


def _riff_events(rng: np.random.Generator, sec: _Section, style: _Style) -> list[_Note]:
    """Guitar pick events: a one- or two-bar riff repeated over the section, varied on every fourth bar."""
    bar_steps = 16
    if sec.groove == "ring":
        return [_Note(sec.start, sec.end, int(rng.choice([0, 5, 7])), False, 1.0)]
    riff_bars = int(rng.integers(1, 3))
    riff = _make_riff(rng, sec.groove, riff_bars * bar_steps)
    variation = _make_riff(rng, sec.groove, bar_steps)
    total_steps = int(round((sec.end - sec.start) / sec.step))
    notes = []
    for s0 in range(0, total_steps, bar_steps):
        bar_index = s0 // bar_steps
        use_var = bar_index % 4 == 3
        for a, b, off, mute in variation if use_var else riff:
            if use_var:
                a, b = a % bar_steps, min(b, bar_steps)
            else:
                shift = (bar_index % riff_bars) * bar_steps
                if not shift <= a < shift + bar_steps:
                    continue
                a, b = a - shift, b - shift
            start, end = s0 + a, min(s0 + b, total_steps)
            if start >= total_steps:
                continue
            notes.append(
                _Note(
                    sec.start + start * sec.step, sec.start + end * sec.step, off, mute, float(rng.uniform(0.85, 1.0))
                )
            )
    return notes


def _make_riff(rng: np.random.Generator, groove: str, steps: int) -> list[tuple[int, int, int, bool]]:
    """(start step, end step, offset, muted) picks: tremolo runs, gallops or syncopated chugs."""
    out: list[tuple[int, int, int, bool]] = []
    if groove == "blast":
        s = 0
        while s < steps:  # tremolo picking: every sixteenth re-picked, chord changes every 2-8 steps
            length = int(rng.choice([2, 4, 4, 8]))
            off = int(rng.choice(_PALETTE, p=_PALETTE_P))
            for k in range(s, min(s + length, steps)):
                out.append((k, k + 1, off, False))
            s += length
    elif groove in ("double", "dbeat"):
        gallop = [(0, 1), (2, 3), (3, 4)] if groove == "double" else [(0, 1), (1, 2), (2, 3), (3, 4)]
        for beat in range(0, steps, 4):
            if rng.random() < 0.3:  # an open power chord stab rings through the beat
                out.append((beat, beat + int(rng.choice([2, 4])), int(rng.choice(_PALETTE[1:])), False))
                continue
            for a, b in gallop:
                out.append((beat + a, beat + b, 0, True))
    else:  # breakdown: syncopated muted chugs on the lowest note, open chords at the ends of phrases
        hits = rng.random(steps) < 0.42
        hits[0] = True
        for s in np.flatnonzero(hits):
            if rng.random() < 0.15:
                out.append((int(s), int(min(s + 4, steps)), int(rng.choice([1, 6, 7])), False))
            else:
                out.append((int(s), int(s + 1), 0, True))
    return out


# ----------------------------------------------------------------------------------------------- drums


def _env(n: int, rate: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau * rate))


class _DrumKit:
    """Synthesised one-shots, two variants each so repeated hits do not sound machine-gunned."""

    def __init__(self, rng: np.random.Generator, rate: int):
        self.rate = rate
        self.kick = [self._kick(rng) for _ in range(2)]
        self.snare = [self._snare(rng) for _ in range(2)]
        self.hat = [self._hat(rng) for _ in range(2)]
        self.ride = [self._metal(rng, 0.9, 0.45, (3000, 12000))]
        self.crash = [self._metal(rng, 2.4, 1.1, (1800, 14000))]
        self.tom = [self._tom(rng, f) for f in (150, 115, 85)]

    def _noise(self, rng, n):
        return rng.standard_normal(n)

    def _kick(self, rng):
        r = self.rate
        n = int(0.35 * r)
        t = np.arange(n) / r
        f = 48 + 120 * np.exp(-t / 0.022)
        body = np.sin(2 * np.pi * np.cumsum(f) / r) * np.exp(-t / 0.16)
        click = signal.sosfilt(_butter(2, 2500, r, "highpass"), self._noise(rng, n)) * _env(n, r, 0.003)
        return (np.tanh(1.8 * (body + 0.6 * click)) * 0.9).astype(np.float32)

    def _snare(self, rng):
        r = self.rate
        n = int(0.3 * r)
        t = np.arange(n) / r
        body = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.045)
        body += 0.5 * np.sin(2 * np.pi * 330 * t) * np.exp(-t / 0.03)
        wires = signal.sosfilt(_butter(2, (900, 9000), r, "bandpass"), self._noise(rng, n)) * np.exp(-t / 0.085)
        return (np.tanh(2.2 * (0.5 * body + 1.2 * wires)) * 0.8).astype(np.float32)

    def _hat(self, rng):
        r = self.rate
        n = int(0.09 * r)
        x = signal.sosfilt(_butter(4, 7000, r, "highpass"), self._noise(rng, n)) * _env(n, r, 0.02)
        return (0.5 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)

    def _metal(self, rng, seconds, tau, band):
        r = self.rate
        n = int(seconds * r)
        t = np.arange(n) / r
        # inharmonic square partials (as in analogue cymbals) plus noise
        freqs = rng.uniform(300, 900, 6) * np.array([1.0, 1.48, 1.79, 2.53, 2.66, 3.9])
        x = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in freqs) / 6 + 0.8 * self._noise(rng, n)
        x = signal.sosfilt(_butter(2, band, r, "bandpass"), x) * np.exp(-t / tau) * (1 - np.exp(-t / 0.002))
        return (0.45 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)

    def _tom(self, rng, f0):
        r = self.rate
        n = int(0.4 * r)
        t = np.arange(n) / r
        f = f0 * (1 + 0.5 * np.exp(-t / 0.04))
        x = np.sin(2 * np.pi * np.cumsum(f) / r) * np.exp(-t / 0.22)
        x += 0.2 * self._noise(rng, n) * np.exp(-t / 0.01)
        return (np.tanh(1.5 * x) * 0.7).astype(np.float32)


def _hit(out: np.ndarray, sample: np.ndarray, t: float, rate: int, gain: float, pan: float) -> None:
    """Add a one-shot at time t with constant-power pan (-1 left .. 1 right)."""
    i = int(round(t * rate))
    if i >= out.shape[0] or i < 0:
        return
    m = min(sample.shape[0], out.shape[0] - i)
    angle = (pan + 1) * np.pi / 4
    out[i : i + m, 0] += sample[:m] * (gain * np.cos(angle))
    out[i : i + m, 1] += sample[:m] * (gain * np.sin(angle))


_GROOVES = {
    # 16-step patterns: kick, snare, cymbal (ride/hat) steps, and which cymbal
    "blast": (range(0, 16, 2), range(1, 16, 2), range(0, 16, 2), "ride"),
    "double": (range(16), (4, 12), range(0, 16, 2), "hat"),
    "dbeat": ((0, 3, 6, 8, 11, 14), (4, 12), range(0, 16, 2), "hat"),
    "breakdown": ((), (8,), (0, 4, 8, 12), "crash"),
    "ring": ((), (), (), "hat"),
}


def _render_drums(rng, sec: _Section, notes: list[_Note], kit: _DrumKit, out: np.ndarray, rate: int) -> None:
    kicks, snares, cymbals, cymbal = _GROOVES[sec.groove]
    steps = int(round((sec.end - sec.start) / sec.step))
    step_t = lambda s: sec.start + s * sec.step + rng.normal(0, 0.003)  # noqa: E731 - a human drummer
    if sec.groove == "breakdown":  # the kick doubles the guitar's chugs
        for note in notes:
            _hit(out, kit.kick[0], note.start, rate, 0.9 * note.velocity, 0.0)
    fill_from = steps - 4 if rng.random() < 0.6 and steps >= 16 else steps
    for s in range(steps):
        pos = s % 16
        if s >= fill_from:
            tom = kit.tom[min(2, (s - fill_from) * 3 // 4)]
            _hit(out, tom, step_t(s), rate, 0.8, -0.4 + 0.3 * (s - fill_from))
            continue
        v = rng.uniform(0.85, 1.0)
        if pos in kicks:
            _hit(out, kit.kick[s % 2], step_t(s), rate, 0.85 * v, 0.0)
        if pos in snares:
            _hit(out, kit.snare[s % 2], step_t(s), rate, (0.75 if sec.groove == "blast" else 0.9) * v, 0.05)
        if pos in cymbals:
            sample = {"ride": kit.ride[0], "hat": kit.hat[s % 2], "crash": kit.crash[0]}[cymbal]
            _hit(out, sample, step_t(s), rate, 0.5 * v, 0.35 if cymbal == "ride" else -0.3)
    if sec.groove == "ring":  # a tom and snare build into the first riff
        for s in range(8, steps):
            _hit(out, kit.snare[s % 2] if s % 2 else kit.tom[s % 3], step_t(s), rate, 0.3 + 0.6 * s / steps, 0.0)
    _hit(out, kit.crash[0], sec.start, rate, 0.7, -0.5)
    _hit(out, kit.crash[0], sec.start + 0.001, rate, 0.5, 0.6)


# --------------------------------------------------------------------------------------------- guitars


def _butter(order: int, cutoff, rate: int, btype: str) -> np.ndarray:
    """Butterworth sos; cutoffs above what the rate can carry are pulled under Nyquist (22.05 kHz audio
    loses the top of a cymbal, not the cymbal)."""
    top = 0.45 * rate
    if np.ndim(cutoff):
        hi = min(cutoff[1], top)
        cutoff = (min(cutoff[0], 0.7 * hi), hi)
    else:
        cutoff = min(cutoff, top)
    return signal.butter(order, cutoff, btype=btype, fs=rate, output="sos")


def _peaking(f0: float, gain_db: float, q: float, rate: int) -> np.ndarray:
    """RBJ peaking-EQ biquad as one sos row."""
    a_lin = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / rate
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a_lin, -2 * np.cos(w0), 1 - alpha * a_lin])
    a = np.array([1 + alpha / a_lin, -2 * np.cos(w0), 1 - alpha / a_lin])
    return np.concatenate([b / a[0], a / a[0]])[None, :]


def _saw(phase: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Band-limited (polyBLEP) sawtooth from a running phase in cycles and the per-sample increment."""
    t = (phase - np.floor(phase)).astype(np.float32)  # the running phase needs float64, the wave does not
    dt = dt.astype(np.float32)
    y = 2.0 * t - 1.0
    m = np.flatnonzero(t < dt)
    x = t[m] / dt[m]
    y[m] -= x + x - x * x - 1.0
    m = np.flatnonzero(t > 1.0 - dt)
    x = (t[m] - 1.0) / dt[m]
    y[m] -= x * x + x + x + 1.0
    return y


def _midi_hz(m) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


class _FilterChain:
    """An sos filter whose state carries across sections, so section joins do not click."""

    def __init__(self, sos: np.ndarray):
        self.sos = sos
        self.zi = np.zeros((sos.shape[0], 2))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y, self.zi = signal.sosfilt(self.sos, x, zi=self.zi)
        return y


@dataclass
class _Track:
    pan: float
    detune: float  # cents
    delay: float  # seconds of sloppiness against the grid
    gain: float
    phases: np.ndarray
    pre: _FilterChain
    mute_lp: _FilterChain
    cab: _FilterChain


class _Guitars:
    """Rhythm guitars (double- or quad-tracked, panned wide) and the bass under them."""

    def __init__(self, rng: np.random.Generator, style: _Style, rate: int):
        self.rng, self.style, self.rate = rng, style, rate
        cab = np.vstack(
            [
                _butter(2, 75, rate, "highpass"),
                _peaking(120, 4.0, 0.9, rate),
                _peaking(720, -4.0, 0.8, rate),
                _peaking(2600, 3.5, 1.2, rate),
                _butter(4, 5200, rate, "lowpass"),
            ]
        )
        pans = [-0.9, 0.9, -0.6, 0.6][: style.guitar_tracks]
        self.tracks = [
            _Track(
                pan,
                float(rng.normal(0, 4)),
                float(rng.uniform(0, 0.008)),
                1.0 if k < 2 else 0.7,
                rng.random(4),
                _FilterChain(_butter(1, 110, rate, "highpass")),
                _FilterChain(_butter(2, 650, rate, "lowpass")),
                _FilterChain(cab),
            )
            for k, pan in enumerate(pans)
        ]
        self.bass_phase = 0.0
        bass_sos = np.vstack([_butter(2, 900, rate, "lowpass"), _butter(2, 35, rate, "highpass")])
        self.bass_lp = _FilterChain(bass_sos)
        self.bass_post = _FilterChain(_butter(2, 2500, rate, "lowpass"))

    def render(self, sec: _Section, notes: list[_Note], out: np.ndarray) -> None:
        rate = self.rate
        i0, i1 = int(round(sec.start * rate)), min(int(round(sec.end * rate)), out.shape[0])
        if i1 <= i0:
            return
        for tr in self.tracks:
            freq, env, mute = self._control(notes, i0, i1, tr.delay, 0.0)
            x = self._chord(tr, freq, env, mute)
            x = self._distort(tr, x, mute)
            _add_panned(out, i0, tr.cab(x) * (0.23 * tr.gain), tr.pan)
        freq, env, _ = self._control(notes, i0, i1, 0.004, -12.0)
        dt = freq / rate
        phase = self.bass_phase + np.cumsum(dt)
        self.bass_phase = float(phase[-1] % 1.0)
        b = _saw(phase, dt) * env
        b = self.bass_post(np.tanh(2.5 * self.bass_lp(b)))
        _add_panned(out, i0, 0.35 * b, 0.0)

    def _control(self, notes, i0, i1, delay, transpose):
        """Per-sample frequency, pick envelope and palm-mute flag for one performance of the notes."""
        rate = self.rate
        n = i1 - i0
        freq = np.full(n, _midi_hz(self.style.root + transpose), dtype=np.float64)
        env = np.zeros(n)
        mute = np.zeros(n)
        for note in notes:
            a = int(round((note.start + delay) * rate)) - i0
            b = min(int(round((note.end + delay) * rate)) - i0, n)
            if b <= max(a, 0):
                continue
            a = max(a, 0)
            freq[a:b] = _midi_hz(self.style.root + note.offset + transpose)
            t = np.arange(b - a) / rate
            attack = np.minimum(t / 0.0015, 1.0)
            if note.mute:
                shape = np.exp(-t / 0.075)
                mute[a:b] = 1.0
            else:
                shape = 0.8 + 0.2 * np.exp(-t / 0.12)
            release = np.clip((b - a - np.arange(b - a)) / (0.006 * rate), 0.0, 1.0)
            env[a:b] = note.velocity * attack * shape * release
        # the note holds its pitch through the rests so the phase never jumps
        rest = env == 0
        if rest.any() and not rest.all():
            idx = np.where(~rest, np.arange(n), 0)
            np.maximum.accumulate(idx, out=idx)
            freq = freq[idx]
        return freq, env, mute

    def _chord(self, tr: _Track, freq, env, mute) -> np.ndarray:
        """Power chord: root (two detuned strings), fifth, and octave that only open chords ring."""
        ratios = (2 ** (tr.detune / 1200), 2 ** (-tr.detune / 1200), 1.4983, 2.0)
        gains = (0.5, 0.5, 0.55, 0.35)
        x = np.zeros_like(freq)
        for k, (ratio, g) in enumerate(zip(ratios, gains)):
            dt = freq * ratio / self.rate
            phase = tr.phases[k] + np.cumsum(dt)
            tr.phases[k] = phase[-1] % 1.0
            part = _saw(phase, dt) * g
            x += part * (1.0 - 0.8 * mute) if k == 3 else part
        pick = self.rng.standard_normal(len(x)) * np.maximum(np.diff(env, prepend=0.0), 0) * 40
        return x * env + np.clip(pick, -0.3, 0.3)

    def _distort(self, tr: _Track, x, mute) -> np.ndarray:
        x = tr.pre(x)
        # palm muting damps the strings before the amp: a low-passed, punchier path
        muted = tr.mute_lp(x) * 1.6
        m = np.convolve(mute, np.ones(64) / 64, mode="same")
        x = (1.0 - m) * x + m * muted
        bias = 0.25
        y = np.tanh(9.0 * x + bias) - np.tanh(bias)  # asymmetric: even harmonics of a tube stage
        return np.tanh(2.2 * y)


def _add_panned(out: np.ndarray, i0: int, x: np.ndarray, pan: float) -> None:
    angle = (pan + 1) * np.pi / 4
    m = min(len(x), out.shape[0] - i0)
    out[i0 : i0 + m, 0] += (x[:m] * np.cos(angle)).astype(np.float32)
    out[i0 : i0 + m, 1] += (x[:m] * np.sin(angle)).astype(np.float32)


_LEAD_SCALE = np.array([0, 1, 3, 5, 7, 8, 10, 12, 13, 15, 17, 19])  # phrygian, two octaves


def _render_lead(rng, sec: _Section, style: _Style, out: np.ndarray, rate: int) -> None:
    """A monophonic lead: scale runs with bends and vibrato, a ping-pong echo."""
    i0, i1 = int(round(sec.start * rate)), min(int(round(sec.end * rate)), out.shape[0])
    n = i1 - i0
    steps = int(round((sec.end - sec.start) / sec.step))
    target = np.zeros(n)
    env = np.zeros(n)
    s, deg = 0, int(rng.integers(4, 8))
    while s < steps:
        length = int(rng.choice([1, 1, 2, 2, 3, 4, 6]))
        deg = int(np.clip(deg + rng.choice([-2, -1, -1, 1, 1, 2, 3]), 0, len(_LEAD_SCALE) - 1))
        a, b = int(s * sec.step * rate), min(int((s + length) * sec.step * rate), n)
        target[a:b] = style.root + 24 + _LEAD_SCALE[deg]
        t = np.arange(b - a) / rate
        env[a:b] = np.minimum(t / 0.004, 1) * (0.7 + 0.3 * np.exp(-t / 0.2))
        s += length
    target[target == 0] = style.root + 24
    t = np.arange(n) / rate
    vib = 0.3 * np.sin(2 * np.pi * 5.6 * t) * np.minimum(t / 1.0, 1)
    pitch = signal.lfilter([0.004], [1, -0.996], target - target[0]) + target[0] + vib  # glides between notes
    dt = _midi_hz(pitch) / rate
    x = _saw(np.cumsum(dt), dt) * env
    x = signal.sosfilt(_butter(1, 200, rate, "highpass"), x)
    x = np.tanh(7.0 * x)
    x = signal.sosfilt(np.vstack([_butter(4, 4800, rate, "lowpass"), _peaking(1500, 4, 1.0, rate)]), x)
    echo = int(3 * sec.step * rate)
    _add_panned(out, i0, 0.2 * x, 0.15)
    _add_panned(out, min(i0 + echo, out.shape[0]), 0.08 * x, -0.7)
    _add_panned(out, min(i0 + 2 * echo, out.shape[0]), 0.05 * x, 0.7)


# ---------------------------------------------------------------------------------------------- vocals

# (F1, F2, F3, F4) in Hz for each vowel; a growl lowers and centralises them (see _formant_targets)
_VOWELS = {
    "ae": (700, 1600, 2450, 3400),
    "eh": (550, 1750, 2500, 3500),
    "ih": (400, 1900, 2550, 3500),
    "iy": (300, 2200, 2950, 3600),
    "ow": (550, 850, 2400, 3300),
    "uw": (330, 870, 2250, 3300),
    "uh": (620, 1200, 2400, 3400),
    "aw": (680, 1050, 2450, 3400),
    "ey": (480, 1950, 2600, 3500),
    "ay": (700, 1300, 2500, 3450),
}
_SONORANTS = {
    "m": (280, 1100, 2300, 3300),
    "l": (360, 1250, 2800, 3500),
    "r": (420, 1250, 1700, 3300),
    "w": (320, 750, 2300, 3300),
    "y": (300, 2100, 2900, 3500),
}
_BANDWIDTHS = np.array([130.0, 190.0, 260.0, 320.0])  # wide: a growl's tract is constricted and lossy
_FORMANT_GAINS = (1.0, 0.7, 0.35, 0.25)
_FRICATIVE_BANDS = {
    "s": (3800, 9500),
    "sh": (1900, 5500),
    "f": (1200, 8000),
    "p": (400, 2500),
    "t": (2800, 8000),
    "k": (1300, 4200),
}


def _formant_targets(kind: str) -> np.ndarray:
    f = np.array(_VOWELS[kind], dtype=np.float64)
    centre = np.array(_VOWELS["uh"], dtype=np.float64)
    return 0.9 * (0.7 * f + 0.3 * centre)


def _render_vocals(rng, lines: list[_Line], style: _Style, n: int, rate: int) -> np.ndarray:
    vocal = np.zeros(n, dtype=np.float32)
    for line in lines:
        i0 = max(0, int((line.start - 0.02) * rate))
        x = _render_line(rng, line, style, rate, i0)
        m = min(len(x), n - i0)
        vocal[i0 : i0 + m] += x[:m].astype(np.float32)
    # a short dark room on the voice: the tail blurs line ends as a real mix does
    ir_n = int(0.5 * rate)
    t = np.arange(ir_n) / rate
    tail = rng.standard_normal(ir_n) * np.exp(-t / 0.12) * 0.005  # about -12 dB wet
    ir = signal.sosfilt(_butter(1, 3000, rate, "lowpass"), tail)
    ir[0] += 1.0  # the dry voice
    return signal.oaconvolve(vocal, ir.astype(np.float32))[:n].astype(np.float32)


def _render_line(rng, line: _Line, style: _Style, rate: int, i0: int) -> np.ndarray:
    n = int((line.end + 0.05) * rate) - i0
    t = (i0 + np.arange(n)) / rate
    source = _glottal_source(rng, line, style, t, rate)
    voiced = _formant_filter(source, _formant_tracks(line, t, rate), rate)
    voiced *= _voicing_envelope(line, t)
    voiced /= np.sqrt(np.mean(voiced**2)) + 1e-9
    cons = _consonants(rng, line, t, rate)
    x = voiced + cons
    return np.tanh(0.7 * x) * 0.5  # a growl is driven hard into the mic and the preamp


def _glottal_source(rng, line: _Line, style: _Style, t: np.ndarray, rate: int) -> np.ndarray:
    """Pulse train (Rosenberg pulses, differentiated for lip radiation) plus pulse-synchronous noise."""
    knots_t = [s.vowel for s in line.syllables] + [line.end]
    knots_f = [s.f0 for s in line.syllables] + [line.syllables[-1].f0 * 0.9]
    f0 = np.interp(t, knots_t, knots_f)
    jitter = signal.sosfilt(_butter(2, 30, rate, "lowpass"), rng.standard_normal(len(t))) * 6.0
    f0 = f0 * (1.0 + 0.05 * jitter)
    phase = np.cumsum(f0 / rate)
    cycle = phase.astype(np.int64)
    frac = phase - cycle
    tp, tn = 0.4, 0.16
    g = np.where(
        frac < tp,
        0.5 * (1 - np.cos(np.pi * frac / tp)),
        np.where(frac < tp + tn, np.cos(0.5 * np.pi * (frac - tp) / tn), 0.0),
    )
    # period doubling and shimmer: alternate cycles weaker, every cycle a little different
    n_cycles = int(cycle[-1]) + 1
    cyc_amp = rng.uniform(0.75, 1.0, n_cycles) * np.where(np.arange(n_cycles) % 2, rng.uniform(0.35, 0.7), 1.0)
    g = g * cyc_amp[cycle]
    pulse = np.diff(g, prepend=0.0) * rate / (f0 * 4)
    noise = rng.standard_normal(len(t)) * (0.35 + 0.65 * g)
    return (1 - style.noise) * pulse / (np.std(pulse) + 1e-9) + style.noise * noise / (np.std(noise) + 1e-9)


def _formant_tracks(line: _Line, t: np.ndarray, rate: int) -> np.ndarray:
    """(n, 4) formant frequencies: each syllable glides from its onset sound to its vowel target."""
    times, targets = [], []
    for s in line.syllables:
        vowel = _formant_targets(s.vowel_kind)
        if s.consonant in _SONORANTS:
            times.append(s.onset)
            targets.append(0.9 * np.array(_SONORANTS[s.consonant], dtype=np.float64))
        times += [s.vowel + 0.04, s.off]
        targets += [vowel, vowel * 0.97]
    times_a = np.asarray(times)
    order = np.argsort(times_a, kind="stable")
    tt = np.maximum.accumulate(times_a[order])
    tgt = np.asarray(targets)[order]
    return np.stack([np.interp(t, tt, tgt[:, k]) for k in range(4)], axis=1)


def _formant_filter(x: np.ndarray, tracks: np.ndarray, rate: int) -> np.ndarray:
    """Short-time filtering by a cascade of four resonators whose frequencies move frame by frame."""
    n_fft = 1024 if rate <= 48000 else 2048
    hop = n_fft // 4
    pad = (-len(x)) % hop + n_fft
    xp = np.concatenate([np.zeros(n_fft), x, np.zeros(pad)])
    win = np.hanning(n_fft + 1)[:-1]
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop]
    spec = np.fft.rfft(frames * win, axis=1)
    f = np.fft.rfftfreq(n_fft, 1 / rate)
    centres = np.arange(frames.shape[0]) * hop + n_fft // 2 - n_fft
    fk = tracks[np.clip(centres, 0, len(tracks) - 1)]  # (frames, 4)
    # parallel resonators (band-pass magnitudes, unity at their peaks) with falling amplitudes: unlike a
    # cascade this keeps the noisy top of a growl instead of rolling off at 48 dB/octave
    h = np.full((frames.shape[0], f.size), 0.015)
    fpos = np.maximum(f, 1.0)
    for k in range(4):
        fc = fk[:, k : k + 1]
        h += _FORMANT_GAINS[k] / np.sqrt(1.0 + ((fpos**2 - fc**2) / (fpos * _BANDWIDTHS[k])) ** 2)
    h *= 1.0 / (1.0 + (f / 6000.0) ** 2)  # mic and preamp roll-off
    y_frames = np.fft.irfft(spec * h, n=n_fft, axis=1) * win
    y = np.zeros(len(xp))
    for k in range(4):  # overlap-add in four strided groups: no Python loop over frames
        _ola(y, y_frames[k::4], k * hop, 4 * hop)
    y /= 1.5  # Hann squared at a quarter hop sums to 1.5
    return y[n_fft : n_fft + len(x)]


def _ola(y: np.ndarray, frames: np.ndarray, first: int, stride: int) -> None:
    """Overlap-add frames that do not overlap each other (stride >= frame length) in one reshape."""
    n_frames, n_fft = frames.shape
    span = y[first : first + n_frames * stride]
    if span.size < n_frames * stride:
        n_frames = span.size // stride
        frames = frames[:n_frames]
        span = y[first : first + n_frames * stride]
    span.reshape(n_frames, stride)[:, :n_fft] += frames


def _voicing_envelope(line: _Line, t: np.ndarray) -> np.ndarray:
    env = np.zeros_like(t)
    for s in line.syllables:
        attack = np.clip((t - s.vowel) / 0.02, 0.0, 1.0)
        release = np.clip(1.0 - (t - s.off) / 0.05, 0.0, 1.0)
        sustain = 1.0 - 0.15 * np.clip((t - s.vowel) / max(s.off - s.vowel, 0.05), 0.0, 1.0)
        e = s.accent * attack * release * sustain
        if s.consonant in _SONORANTS:  # a nasal or liquid is voiced but quieter
            e = np.maximum(e, 0.45 * s.accent * ((t >= s.onset) & (t < s.vowel)))
        np.maximum(env, e, out=env)
    return env


def _consonants(rng, line: _Line, t: np.ndarray, rate: int) -> np.ndarray:
    """Noise bursts and hiss for onset and coda consonants, filtered per place of articulation."""
    out = np.zeros_like(t)
    t0 = t[0]
    for s in line.syllables:
        for kind, start, length, gain in (
            (s.consonant, s.onset, s.vowel - s.onset, 0.9),
            (s.coda, s.off + 0.03, s.end - s.off - 0.05, 0.7),
        ):
            if kind not in _FRICATIVE_BANDS or length <= 0.005:
                continue
            a = int((start - t0) * rate)
            m = int(length * rate)
            if a < 0 or a + m > len(out) or m < 8:
                continue
            burst = signal.sosfilt(_butter(2, _FRICATIVE_BANDS[kind], rate, "bandpass"), rng.standard_normal(m))
            tt = np.arange(m) / rate
            if kind in ("p", "t", "k"):  # a plosive: sharp release then aspiration
                shape = np.exp(-tt / 0.012) + 0.3 * np.exp(-tt / 0.03)
            else:
                shape = np.sin(np.pi * tt / length) ** 0.7
            out[a : a + m] += gain * burst / (np.std(burst) + 1e-9) * shape
    return out


# ---------------------------------------------------------------------------------------------- master


def _master(bed: np.ndarray, vocal: np.ndarray, lines: list[_Line], style: _Style, rate: int) -> np.ndarray:
    """Vocal at its level against the bed (measured where it sings), glue saturation, peak at -1 dBFS."""
    sung = np.zeros(len(vocal), dtype=bool)
    for line in lines:
        sung[int(line.start * rate) : int(line.end * rate)] = True
    if sung.any():
        bed_rms = np.sqrt(np.mean(bed[sung].mean(axis=1, dtype=np.float64) ** 2)) + 1e-9
        voc_rms = np.sqrt(np.mean(vocal[sung].astype(np.float64) ** 2)) + 1e-9
        vocal *= np.float32(bed_rms / voc_rms * 10 ** (style.vocal_db / 20))
    mix = bed + vocal[:, None]
    level = np.percentile(np.abs(mix[:: max(1, len(mix) // 200000)]), 99.5) + 1e-9
    mix *= np.float32(1.0 / level)
    np.tanh(mix, out=mix)
    mix *= np.float32(10 ** (-1 / 20) / (np.abs(mix).max() + 1e-9))
    return mix.astype(np.float32, copy=False)
