"""How well the aligner finds line and word starts on songs whose vocal times are known.

Two sources of songs:

- composer's own synthesizer (``composer/synthetic/song.py``), whose growls the aligner was first shaped on:
  "clear" (vocals over the band), "dense" (vocals buried in it) and "album" (the demo band's training album,
  16 kHz, as `composer train --band demo` hears it);
- espeak-ng voices composer did not make (``composer/synthetic/tts_song.py``): many voices, speeds, sung
  melodies and spoken lines, growled / screamed / buried treatments, over composer's instrumentals and the
  demo album's, at a range of levels, with intros, outros, splits and gaps from 0.15 s to several seconds.
  "tts-clear" and "tts-buried", each in a **tuning** set (seeds 100..) that the aligner may be tuned on and
  a **report** set (seeds 700..) that it must never be tuned on; the README quotes the report set.

For every kind it prints the line-start and word-start error (mean, median, share within 0.1 s and 0.3 s)
of the aligner and of the even-spread baseline (lines spaced evenly over the song, words by syllables), and
whether the target is met (mean and share within 0.3 s of line starts). "unsure" counts the lines the aligner
flags (shown without a sweep; their words are scored as spread by syllables over the line) and "swept <=0.3"
is the share of the other lines, the ones a viewer sees swept, that start within 0.3 s.

    python benchmarks/align_eval.py [--sets synth tuning report] [--songs N] [--kinds ...]

espeak-ng songs are cached as FLAC + JSON under benchmarks/.cache/ (gitignored); a rerun only aligns.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from composer.karaoke.align import align
from composer.media.timing import make_line
from composer.types import Audio, Lyrics

TOLERANCE = 0.3
TARGETS = {
    "clear": (0.10, 0.97),
    "dense": (0.25, 0.85),
    "album": (0.25, 0.85),
    "tts-clear": (0.10, 0.97),
    "tts-buried": (0.25, 0.85),
}  # (max mean line-start error in seconds, min share within TOLERANCE)
SYNTH_SEED = 1000  # composer's synthesizer: seeds 1000, 1001, ...; its tests use seeds below 10
TTS_SEEDS = {"tuning": 100, "report": 700}  # espeak-ng sets; tests use seeds below 20
CACHE = Path(__file__).resolve().parent / ".cache" / "align_eval"
_TTS_VERSION = 3  # bump when tts_song.py changes what it makes


@dataclass
class Case:
    """One song: its audio, lyrics, true line starts and word starts."""

    audio: Audio
    lyrics: Lyrics
    line_starts: list[float]
    word_starts: list[list[float]]
    line_ends: list[float] = field(default_factory=list)


@dataclass
class Scores:
    line: list[float] = field(default_factory=list)
    word: list[float] = field(default_factory=list)
    base_line: list[float] = field(default_factory=list)
    base_word: list[float] = field(default_factory=list)
    swept: list[float] = field(default_factory=list)  # line-start errors of the lines the aligner is sure of
    dropped: int = 0
    align_seconds: float = 0.0
    audio_seconds: float = 0.0


def stats(errors: list[float]) -> tuple[float, float, float, float]:
    """(mean, median, share <= 0.1 s, share <= 0.3 s) of absolute errors."""
    e = np.abs(np.asarray(errors, float))
    if e.size == 0:
        return (float("nan"),) * 4
    return float(e.mean()), float(np.median(e)), float((e <= 0.1).mean()), float((e <= TOLERANCE).mean())


# ------------------------------------------------------------------------------------------------ songs


def synth_cases(kind: str, n_songs: int, seconds: float = 40.0, first_seed: int = SYNTH_SEED) -> list[Case]:
    from composer.synthetic.demo import DEMO_SONGS, demo_song
    from composer.synthetic.song import make_song

    cases = []
    for k in range(min(n_songs, DEMO_SONGS) if kind == "album" else n_songs):
        song = demo_song(k) if kind == "album" else make_song(seed=first_seed + k, kind=kind, duration=seconds)
        words = [
            _word_starts_from_syllables(text, syls) for (text, _), syls in zip(song.lyrics.lines, song.syllable_times)
        ]
        starts, ends = zip(*song.line_times)
        cases.append(Case(song.audio, song.lyrics, list(starts), words, list(ends)))
    return cases


def _word_starts_from_syllables(text: str, syllables) -> list[float]:
    """The synthesizer's truth is per sung syllable: a word starts at its first one."""
    from composer.media.syllables import count_syllables

    starts, k = [], 0
    for word in text.split():
        n = count_syllables(word)
        if n and k < len(syllables):
            starts.append(syllables[k][0])
        k += n
    return starts if len(starts) == len([w for w in text.split() if count_syllables(w)]) else []


def tts_cases(kind: str, set_name: str, n_songs: int) -> list[Case]:
    """espeak-ng songs of one kind and set, backings alternating, generated once and cached."""
    import soundfile as sf

    cases = []
    for k in range(n_songs):
        seed = TTS_SEEDS[set_name] + k
        backing = ("synth", "album")[k % 2]
        stem = CACHE / f"v{_TTS_VERSION}-{kind}-{backing}-{seed}"
        if not stem.with_suffix(".json").exists():
            from composer.synthetic.tts_song import make_tts_song

            song = make_tts_song(seed, kind.removeprefix("tts-"), backing)
            CACHE.mkdir(parents=True, exist_ok=True)
            tmp = stem.with_suffix(".tmp.flac")
            sf.write(tmp, song.audio.samples, song.audio.rate, subtype="PCM_16", format="FLAC")
            os.replace(tmp, stem.with_suffix(".flac"))
            meta = {
                "stanzas": [list(s) for s in song.lyrics.stanzas],
                "title": song.lyrics.title,
                "line_times": song.line_times,
                "word_starts": song.word_starts,
                "voice": song.voice,
                "treatment": song.treatment,
            }
            stem.with_suffix(".json").write_text(json.dumps(meta))
        meta = json.loads(stem.with_suffix(".json").read_text())
        samples, rate = sf.read(stem.with_suffix(".flac"), dtype="float32", always_2d=True)
        lyrics = Lyrics(stanzas=tuple(tuple(s) for s in meta["stanzas"]), title=meta["title"])
        cases.append(
            Case(
                Audio(samples, rate),
                lyrics,
                [s for s, _ in meta["line_times"]],
                [list(w) for w in meta["word_starts"]],
                [e for _, e in meta["line_times"]],
            )
        )
    return cases


# --------------------------------------------------------------------------------------------- scoring


def even_spread(n_lines: int, duration: float) -> np.ndarray:
    return np.arange(n_lines) * duration / max(n_lines, 1)


def score(cases: list[Case], aligner=align) -> Scores:
    sc = Scores()
    for case in cases:
        t0 = time.perf_counter()
        timeline = aligner(case.audio, case.lyrics)
        sc.align_seconds += time.perf_counter() - t0
        sc.audio_seconds += case.audio.duration
        duration = case.audio.duration
        truth = np.array(case.line_starts)
        lines = list(timeline.lines)
        sc.dropped += len(truth) - len(lines)
        # a dropped line (and its words) counts as missed by the rest of the song
        got = [line.start for line in lines] + [duration] * (len(truth) - len(lines))
        sc.line += list(np.array(got) - truth)
        sc.swept += [line.start - t for line, t in zip(lines, truth) if not line.unsure]
        starts = even_spread(len(truth), duration)
        ends = np.append(starts[1:], duration)
        for i, ((text, _), true_words) in enumerate(zip(case.lyrics.lines, case.word_starts)):
            if i >= len(lines):
                got_words = [duration] * len(true_words)
            elif lines[i].unsure:  # no word times: score the syllable spread over the line a reader would assume
                got_words = _sung_word_starts(make_line(text, lines[i].start, lines[i].end))
            else:
                got_words = _sung_word_starts(lines[i])
            base = _sung_word_starts(make_line(text, starts[i], ends[i]))
            if len(got_words) == len(true_words) == len(base):
                sc.word += list(np.array(got_words) - true_words)
                sc.base_word += list(np.array(base) - true_words)
        sc.base_line += list(starts - truth)
    return sc


def _sung_word_starts(line) -> list[float]:
    from composer.media.syllables import count_syllables

    return [w.start for w in line.words if count_syllables(w.text)]


def cases_for(kind: str, set_name: str, n_songs: int) -> list[Case]:
    if kind.startswith("tts-"):
        return tts_cases(kind, set_name, n_songs)
    return synth_cases(kind, n_songs)


ROWS = {
    "synth": ("clear", "dense", "album"),
    "tuning": ("tts-clear", "tts-buried"),
    "report": ("tts-clear", "tts-buried"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["synth", "tuning", "report"], choices=list(ROWS))
    parser.add_argument("--songs", type=int, default=None, help="songs per kind (default: 20 synth, 48 espeak-ng)")
    parser.add_argument("--kinds", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    args = parser.parse_args()
    logging.getLogger("composer").setLevel(logging.ERROR)  # drops are counted in the table instead
    header = (
        f"{'set':<7} {'kind':<10} {'lines':>5} | {'line: mean':>10} {'median':>6} {'<=0.1':>6} {'<=0.3':>6} "
        f"| {'words: mean':>11} {'median':>6} {'<=0.1':>6} {'<=0.3':>6} | {'even spread':>13} {'words':>6} "
        f"| {'unsure':>6} {'swept <=0.3':>11} | {'dropped':>7} {'x rt':>5}  target (line starts)"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for set_name in args.sets:
        for kind in ROWS[set_name]:
            if kind not in args.kinds:
                continue
            n = args.songs or (20 if set_name == "synth" else 48)
            sc = score(cases_for(kind, set_name, n))
            lm, lmed, l1, l3 = stats(sc.line)
            wm, wmed, w1, w3 = stats(sc.word)
            bm, _, _, b3 = stats(sc.base_line)
            bwm, *_ = stats(sc.base_word)
            *_, s3 = stats(sc.swept)
            t_mae, t_within = TARGETS[kind]
            passed = lm <= t_mae and l3 >= t_within
            ok &= passed
            speed = sc.audio_seconds / max(sc.align_seconds, 1e-9)
            print(
                f"{set_name:<7} {kind:<10} {len(sc.line):>5} | {lm:>10.3f} {lmed:>6.3f} {l1:>6.1%} {l3:>6.1%} "
                f"| {wm:>11.3f} {wmed:>6.3f} {w1:>6.1%} {w3:>6.1%} | {bm:>6.2f} {b3:>6.1%} {bwm:>6.2f} "
                f"| {len(sc.line) - len(sc.swept) - sc.dropped:>6} {s3:>11.1%} | {sc.dropped:>7} {speed:>5.0f}  "
                f"mean<={t_mae} & >={t_within:.0%}: {'met' if passed else 'MISSED'}",
                flush=True,
            )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
