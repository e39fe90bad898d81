"""Songs sung by espeak-ng over composer's band: an aligner test whose voice composer did not make.

The aligner's constants were shaped on ``song.py``'s growls; this voice comes from elsewhere. Each song draws
an English espeak-ng voice and variant, a speed and a register; most lines are sung (every word a monotone
note of a melody, the last one held), some spoken with espeak's own intonation. Lines are laid out with an
instrumental intro and outro, gaps between lines, longer ones between stanzas, some lines split by a pause
and one long instrumental break, then mixed over an instrumental: one of ``song.py``'s or the demo album's.

kind "clear": a plain or lightly darkened voice 3-9 dB over the band, gaps 0.4-2 s. kind "buried": lines
0.15-0.6 s apart and often split, the voice either buried (-6 to -1 dB) or growled / screamed (pitch moved,
formants shifted by resampling, partly re-excited with noise through its own spectral envelope, driven into
distortion) at -3 to +3 dB. The true start of every line and word is where its sound begins (the first
5 ms frame within 40 dB of the word's loudest), measured after all processing that moves time.

espeak-ng's output drifts by a few samples from call to call: the same seed gives the same song to within
milliseconds, not bit for bit, so ``benchmarks/align_eval.py`` caches the songs it scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, signal

from composer.synthetic.espeak import Speaker
from composer.synthetic.song import example_lyrics, make_instrumental
from composer.types import Audio, Lyrics

KINDS = ("clear", "buried")
BACKINGS = ("synth", "album")
RATE = 22050  # espeak-ng's own rate

_LANGS = ("en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc")
_VARIANTS = (
    "",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "croak",
    "klatt",
    "klatt2",
    "klatt3",
    "Demonic",
    "Storm",
    "grandpa",
    "edward",
    "boris",
    "norbert",
    "max",
)
_SCALE = np.array([0, 2, 3, 5, 7, 8, 10, 12])  # natural minor: the melody's steps, in espeak pitch units / 2


@dataclass(frozen=True)
class TtsSong:
    audio: Audio  # float32 stereo at RATE, peak -1 dBFS
    lyrics: Lyrics  # the lines sung, in stanzas
    line_times: tuple[tuple[float, float], ...]  # true (start, end) of each line
    word_starts: tuple[tuple[float, ...], ...]  # true start of every word, per line
    kind: str
    backing: str
    voice: str
    treatment: str  # "plain", "dark", "buried", "growl" or "scream"
    voiced: np.ndarray  # bool per 10 ms frame: the voice sounds (within VOICED_DB of its loud level)


@dataclass(frozen=True)
class _Style:
    voice: str
    wpm: int
    register: int  # espeak pitch 0-99 of the melody's root
    sung: float  # share of lines sung rather than spoken
    treatment: str
    formant: float  # resampling factor: < 1 lowers formants (and pitch, and slows)
    noise: float  # share of the voice re-excited by noise
    drive: float  # distortion drive (1: clean)
    vocal_db: float  # voice RMS over the band's, where it sings
    line_gap: tuple[float, float]
    stanza_gap: tuple[float, float]
    split_prob: float


def _draw_style(rng: np.random.Generator, kind: str) -> _Style:
    voice = str(rng.choice(_LANGS))
    variant = str(rng.choice(_VARIANTS))
    voice = f"{voice}+{variant}" if variant else voice
    if kind == "clear":
        treatment = str(rng.choice(["plain", "dark"]))
        dark = treatment == "dark"
        return _Style(
            voice,
            int(rng.integers(140, 240)),
            int(rng.integers(10, 70)),
            float(rng.uniform(0.5, 1.0)),
            treatment,
            float(rng.uniform(0.85, 0.95)) if dark else 1.0,
            float(rng.uniform(0.0, 0.25)) if dark else 0.0,
            float(rng.uniform(1.5, 3.0)) if dark else 1.0,
            float(rng.uniform(3.0, 9.0)),
            (0.4, 2.0),
            (1.5, 4.0),
            0.2,
        )
    treatment = str(rng.choice(["buried", "growl", "scream"]))
    formant, noise, drive, pitch = {
        "buried": (1.0, 0.0, 1.0, int(rng.integers(10, 70))),
        "growl": (float(rng.uniform(0.7, 0.88)), float(rng.uniform(0.3, 0.8)), float(rng.uniform(4, 12)), 0),
        "scream": (float(rng.uniform(1.05, 1.2)), float(rng.uniform(0.4, 0.9)), float(rng.uniform(6, 15)), 0),
    }[treatment]
    if treatment == "growl":
        pitch = int(rng.integers(0, 25))
    elif treatment == "scream":
        pitch = int(rng.integers(55, 90))
    level = float(rng.uniform(-6.0, -1.0) if treatment == "buried" else rng.uniform(-3.0, 3.0))
    return _Style(
        voice,
        int(rng.integers(150, 260)),
        pitch,
        float(rng.uniform(0.5, 1.0)),
        treatment,
        formant,
        noise,
        drive,
        level,
        (0.15, 0.6),
        (0.6, 2.5),
        0.5,
    )


def make_tts_song(seed: int, kind: str = "clear", backing: str = "synth", duration: float | None = None) -> TtsSong:
    """An espeak-ng-voiced song over composer's band with known line and word starts (deterministic in seed).

    duration: of a song over composer's band (default 40-56 s, drawn); the album's songs last 48 s.
    """
    if kind not in KINDS or backing not in BACKINGS:
        raise ValueError(f"kind must be one of {KINDS} and backing one of {BACKINGS}")
    rng = np.random.default_rng([seed, 31337, KINDS.index(kind)])
    style = _draw_style(rng, kind)
    if backing == "album":
        from composer.synthetic.demo import DEMO_SONG_SECONDS, DEMO_SONGS, demo_instrumental

        duration = DEMO_SONG_SECONDS
        bed = demo_instrumental(int(rng.integers(DEMO_SONGS)), RATE).samples
    else:
        drawn = float(rng.uniform(40.0, 56.0))
        duration = drawn if duration is None else float(duration)
        bed = make_instrumental(seed + 50000, str(rng.choice(["clear", "dense"])), duration, RATE).samples
    speaker = Speaker()
    lyrics = example_lyrics(seed + 90000, 16)
    n = bed.shape[0]
    vocal = np.zeros(n, np.float32)
    outro = float(rng.uniform(1.5, 6.0))
    t = float(rng.uniform(1.0, 8.0))
    break_after = int(rng.integers(1, 3))  # the long instrumental break comes after this stanza
    lines, times, words_at = [], [], []
    stanzas: list[tuple[str, ...]] = []
    full = False
    for k, stanza in enumerate(lyrics.stanzas):
        sung_here = []
        for text in stanza:
            x, offsets = _line_audio(rng, speaker, style, text)
            onset = offsets[0]
            if t + len(x) / RATE - onset > duration - outro:
                full = True
                break
            i0 = int(round((t - onset) * RATE))
            vocal[max(i0, 0) : i0 + len(x)] += x[max(-i0, 0) : n - i0]
            end = t + _last_sound(x) - onset
            times.append((round(t, 4), round(end, 4)))
            words_at.append(tuple(round(t + o - onset, 4) for o in offsets))
            lines.append(text)
            sung_here.append(text)
            t = end + float(rng.uniform(*style.line_gap))
        if sung_here:
            stanzas.append(tuple(sung_here))
        if full:
            break
        t += float(rng.uniform(*style.stanza_gap))
        if k + 1 == break_after:
            t += float(rng.uniform(4.0, 9.0))
    speaker.close()
    vocal = _treat(rng, vocal, style)
    audio = _mix(bed, vocal, times, style)
    voiced = voiced_frames(vocal, RATE)
    return TtsSong(
        audio=Audio(audio, RATE),
        lyrics=Lyrics(stanzas=tuple(stanzas), title=lyrics.title),
        line_times=tuple(times),
        word_starts=tuple(words_at),
        kind=kind,
        backing=backing,
        voice=style.voice,
        treatment=style.treatment,
        voiced=voiced,
    )


# ------------------------------------------------------------------------------------------------- lines


def _line_audio(rng, speaker: Speaker, style: _Style, text: str) -> tuple[np.ndarray, list[float]]:
    """One line's voice (formants already shifted) and the offsets in it where each word's sound begins."""
    words = text.split()
    wpm = int(np.clip(style.wpm * rng.uniform(0.85, 1.15), 80, 450))
    split = int(rng.integers(1, len(words))) if len(words) > 1 and rng.random() < style.split_prob else 0
    pieces: list[np.ndarray] = []
    offsets: list[float] = []
    pos = 0
    spoken = rng.random() >= style.sung
    if spoken:  # espeak-ng may run an unstressed word into the next: such a line is sung instead
        spoken = all(
            len(speaker.say(" ".join(part), style.voice, wpm=wpm).word_starts) == len(part)
            for part in ([words[:split], words[split:]] if split else [words])
        )
    if not spoken:  # sung: each word one note of a melody, the last held
        degree = int(rng.integers(0, 4))
        for w, word in enumerate(words):
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(_SCALE) - 1))
            held = w == len(words) - 1
            u = speaker.say(
                word,
                style.voice,
                wpm=max(80, wpm // 2) if held else wpm,
                pitch=int(np.clip(style.register + 2 * _SCALE[degree], 0, 99)),
                pitch_range=0,
            )
            x = _trimmed(u.samples)
            gap = 0.0 if w == 0 else rng.uniform(0.0, 0.12) + (rng.uniform(0.3, 0.9) if w == split else 0.0)
            pieces.append(np.zeros(int(gap * RATE), np.float32))
            pos += len(pieces[-1])
            offsets.append(pos / RATE)
            pieces.append(x)
            pos += len(x)
        x = np.concatenate(pieces)
    else:  # spoken with espeak's own intonation; a split line is two utterances with a pause between
        parts = [words[:split], words[split:]] if split else [words]
        for p, part in enumerate(parts):
            u = speaker.say(" ".join(part), style.voice, wpm=wpm, pitch=style.register, pitch_range=60)
            first = _first_sound(u.samples)
            y = u.samples[first : first + _last_sound_index(u.samples[first:])]
            if p:
                pieces.append(np.zeros(int(rng.uniform(0.3, 0.9) * RATE), np.float32))
                pos += len(pieces[-1])
            starts = [max(s * RATE - first, 0.0) for s in u.word_starts[: len(part)]]
            starts += [starts[-1] if starts else 0.0] * (len(part) - len(starts))
            starts[0] = 0.0
            offsets += [(pos + s) / RATE for s in starts]
            pieces.append(y)
            pos += len(y)
        x = np.concatenate(pieces)
    if style.formant != 1.0:  # played back faster or slower: formants, pitch and time all move
        up = 1000
        down = int(round(1000 * style.formant))
        x = signal.resample_poly(x, up, down).astype(np.float32)
        offsets = [o * up / down for o in offsets]
    # where each word's sound really begins after processing (a word may open on a faint consonant)
    return x, [o + _first_sound(x[int(o * RATE) :]) / RATE for o in offsets]


VOICED_DB = 20.0


def voiced_frames(vocal: np.ndarray, rate: int, frame_rate: int = 100, below_db: float = VOICED_DB) -> np.ndarray:
    """Where a vocal stem sounds, per frame: within VOICED_DB of its loud (95th percentile) frames."""
    n = int(np.ceil(len(vocal) * frame_rate / rate))
    edges = np.minimum(np.round(np.arange(n) * rate / frame_rate).astype(np.int64), len(vocal) - 1)
    power = np.add.reduceat(vocal.astype(np.float64) ** 2, edges) / (rate / frame_rate)
    db = 10 * np.log10(power + 1e-20)
    loud = np.percentile(db, 95)
    return db > loud - below_db


def _frame_db(x: np.ndarray, hop: int = 110) -> np.ndarray:
    n = len(x) // hop
    if n == 0:
        return np.full(1, -120.0)
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1)) + 1e-9
    return 20 * np.log10(rms)


def _first_sound(x: np.ndarray, hop: int = 110) -> int:
    db = _frame_db(x, hop)
    above = np.flatnonzero(db > db.max() - 40.0)
    return int(above[0]) * hop if len(above) else 0


def _last_sound_index(x: np.ndarray, hop: int = 110) -> int:
    db = _frame_db(x, hop)
    above = np.flatnonzero(db > db.max() - 40.0)
    return (int(above[-1]) + 1) * hop if len(above) else len(x)


def _last_sound(x: np.ndarray) -> float:
    return _last_sound_index(x) / RATE


def _trimmed(x: np.ndarray) -> np.ndarray:
    a = _first_sound(x)
    return x[a : a + _last_sound_index(x[a:])]


# ---------------------------------------------------------------------------------------- processing


def _treat(rng, vocal: np.ndarray, style: _Style) -> np.ndarray:
    """Noise excitation and distortion for growls and screams; a short dark room on every voice."""
    if style.noise > 0:
        noisy = _noise_excited(rng, vocal)
        v_rms = np.sqrt(np.mean(vocal.astype(np.float64) ** 2)) + 1e-12
        n_rms = np.sqrt(np.mean(noisy.astype(np.float64) ** 2)) + 1e-12
        vocal = (1 - style.noise) * vocal + style.noise * noisy * (v_rms / n_rms)
    if style.drive > 1:
        peak = np.percentile(np.abs(vocal), 99.9) + 1e-9
        vocal = np.tanh(style.drive * vocal / peak) / np.tanh(style.drive)
        vocal = signal.sosfilt(signal.butter(2, 6000, "lowpass", fs=RATE, output="sos"), vocal)
    ir_n = int(0.4 * RATE)
    tail = rng.standard_normal(ir_n) * np.exp(-np.arange(ir_n) / RATE / 0.1) * 0.006
    tail[0] += 1.0
    return signal.oaconvolve(vocal, tail)[: len(vocal)].astype(np.float32)


def _noise_excited(rng, x: np.ndarray, order: int = 18, size: int = 1024, hop: int = 256) -> np.ndarray:
    """White noise through the voice's own spectral envelope (LPC per frame), at its level: a breath-driven
    growl or whisper that keeps the words' formants and timing."""
    win = np.hanning(size)
    out = np.zeros(len(x) + size)
    for i in range(0, len(x) - size, hop):
        frame = x[i : i + size] * win
        r = np.correlate(frame, frame, "full")[size - 1 : size + order]
        if r[0] < 1e-8:
            continue
        r[1:] *= np.exp(-0.5 * (0.002 * np.arange(1, order + 1)) ** 2)  # lag window: stable filters
        a = linalg.solve_toeplitz(r[:order], -r[1 : order + 1])
        err = max(r[0] + float(np.dot(a, r[1 : order + 1])), 1e-12)
        y = signal.lfilter([np.sqrt(err / size)], np.concatenate([[1.0], a]), rng.standard_normal(size))
        out[i : i + size] += y * win
    return out[: len(x)].astype(np.float32)


def _mix(bed: np.ndarray, vocal: np.ndarray, times, style: _Style) -> np.ndarray:
    sung = np.zeros(len(vocal), bool)
    for start, end in times:
        sung[int(start * RATE) : int(end * RATE)] = True
    if sung.any():
        bed_rms = np.sqrt(np.mean(bed[sung].mean(axis=1, dtype=np.float64) ** 2)) + 1e-9
        voc_rms = np.sqrt(np.mean(vocal[sung].astype(np.float64) ** 2)) + 1e-9
        vocal = vocal * np.float32(bed_rms / voc_rms * 10 ** (style.vocal_db / 20))
    mix = bed + vocal[:, None]
    mix *= np.float32(10 ** (-1 / 20) / (np.abs(mix).max() + 1e-9))
    return mix.astype(np.float32)
