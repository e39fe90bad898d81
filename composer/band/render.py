"""`composer render --band`: new songs from a band's two models, timed and rendered as one karaoke video.

The stages run in tandem, song by song:

    audio process:  generate songs 1+2 ────────────── generate songs 3+4 ──────────── …
    this process:   lyrics 1 ┄ wait ┄ align 1 · render 1 · align 2 · render 2 ─ lyrics 3 …

The SampleRNN runs in its own process (its per-sample loop would otherwise hold the GIL the renderer
needs) and generates two songs at once, each cut into a few long continuous stretches, one wave ahead of the
renderer: a permit per song taken keeps at most four songs of audio in memory whatever the length. Lyrics are
written while the first song's audio is still being generated. Frames stream into one
ffmpeg (video only); each song's audio is loudness-normalised on its own and appended to one WAV; the two
are muxed at the end. ``tandem=False`` runs the same stages strictly one after another (the benchmark's
baseline).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import math
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from composer.band.profile import Band
from composer.errors import ComposerError
from composer.types import Audio, LyricLine, Lyrics, Progress, Timeline, no_progress, shift_line
from composer.util.files import Input, OutputSet, check_writable_dir, write_errors
from composer.util.lifetime import die_with_parent
from composer.util.memory import release_free_memory

if TYPE_CHECKING:  # the template module loads fonts: imported where a render needs it
    from composer.karaoke.template import Template

log = logging.getLogger("composer")

SONG_SECONDS = 200.0  # default song length when --songs is not given
MIN_SONG_SECONDS = 10.0
MAX_SONG_SECONDS = 20 * 60.0  # a song is aligned and loudness-normalised whole: this bounds the memory it takes
LINE_SECONDS = 2.5  # lyric lines written per second of song (more than fit; the aligner keeps what does)
SPARSE_LINE_S = 12.0  # fewer aligned lines than one per this many seconds ...
# ... or most lines faster than this: the song is paced instead. The demo album's songs, aligned, sing a median
# 3.1-3.6 syllables/s; on a noise wash, where the aligner finds no phrases, it spreads the lines at ~6/s, which
# nobody could read along to.
MAX_SUNG_SYLLABLES_PER_S = 5.0
PACED_START_S = 2.0
PACED_SYLLABLES_PER_S = 3.0  # growled: slower than speech, so a viewer can read and sing along
PACED_MIN_LINE_S = 2.0
PACED_LINE_GAP_S = 1.0
PACED_STANZA_GAP_S = 4.0
STREAMS = 32  # SampleRNN streams generated at once, each a long stretch of a song ...
SONGS_AT_ONCE = 2  # ... of this many songs: twice as long stretches as one song alone, so half the joins


@dataclass
class StageTimes:
    audio: float = 0.0  # seconds the audio process spent generating
    lyrics: float = 0.0
    align: float = 0.0
    render: float = 0.0  # composing frames and handing them to ffmpeg
    audio_out: float = 0.0  # loudness normalisation and the output WAV
    mux: float = 0.0
    waiting: float = 0.0  # this process idle, waiting for audio (not a stage: left out of busy())

    def busy(self) -> float:
        return self.audio + self.lyrics + self.align + self.render + self.audio_out + self.mux

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """``with stages.timed("align"): ...`` adds the block's wall time to that stage."""
        t0 = time.perf_counter()
        yield
        setattr(self, stage, getattr(self, stage) + time.perf_counter() - t0)


@dataclass(frozen=True)
class SongAudioStats:
    """The audio process's account of one song, sent after its last piece."""

    seconds: float  # spent generating it
    regenerated: int  # its stretches regenerated (silent, clipped, looping)
    unfixed: int  # stretches still bad after the last attempt, in all songs so far


@dataclass
class Song:
    index: int
    title: str
    start: float  # seconds into the video
    duration: float
    lines: int  # lyric lines sung (timed)
    regenerated: int = 0  # audio segments regenerated (silent, clipped, looping)


@dataclass
class BandRenderResult:
    video: Path
    sidecars: tuple[Path, ...]
    thumbnail: Path
    upload: tuple[Path, ...]
    timeline: Timeline
    songs: list[Song]
    frames: int
    wall_s: float
    stages: StageTimes = field(default_factory=StageTimes)

    @property
    def overlap(self) -> float:
        """Sum of stage times over wall time: above 1 when stages ran at the same time."""
        return self.stages.busy() / self.wall_s if self.wall_s else 0.0


def plan_songs(seconds: float, songs: int | None = None, rate: int | None = None) -> list[float]:
    """Song lengths adding up to ``seconds``, about SONG_SECONDS each by default; each a whole number of samples
    at ``rate`` when it is given (the audio model's)."""
    if not math.isfinite(seconds) or seconds <= 0:
        raise ComposerError(f"--length must be positive (got {seconds:g} s)")
    if songs is None:
        songs = max(1, round(seconds / SONG_SECONDS))
    if songs < 1:
        raise ComposerError(f"--songs must be at least 1 (got {songs})")
    if seconds / songs < MIN_SONG_SECONDS:
        raise ComposerError(
            f"--length {seconds:g}s in {songs} songs: each song must be at least {MIN_SONG_SECONDS:g} s"
        )
    if seconds / songs > MAX_SONG_SECONDS:
        raise ComposerError(
            f"--length {seconds:g}s in {songs} song(s): a song is at most {MAX_SONG_SECONDS / 60:g} "
            f"minutes; give --songs {math.ceil(seconds / MAX_SONG_SECONDS)} or more"
        )
    edges = [seconds * k / songs for k in range(songs + 1)]
    if rate:
        edges = [round(e * rate) / rate for e in edges]
    return [b - a for a, b in zip(edges, edges[1:])]


def song_seed(seed: int, song: int, what: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, song, what]).generate_state(1)[0])


# ----------------------------------------------------------------------------------------------- audio process


def _audio_worker(
    model_dir: str,
    lengths: list[float],
    seed: int,
    streams: int,
    temperature: float,
    tandem: bool,
    band: Band,
    permits,
    out,
    *,
    endless: bool,
    parent_pid: int,
) -> None:
    """Child process: generate the songs, several at once, each once permitted; send each song's pieces, then a
    summary, or the error. ``endless``: the songs of ``lengths`` again and again, each round with a seed of its
    own, until the process is stopped (a live stream)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    # a parent stopped before it could close us (killed outright, or stopped between our start and the code
    # that closes us) would leave us blocked on permits forever, holding its pipes
    die_with_parent(parent_pid)
    try:
        from composer.models.samplernn.generate import GenerateStats, iter_tracks
        from composer.models.samplernn.model import load

        model = load(model_dir)
        out.put(("rate", -1, model.config.sample_rate))  # the rate of every piece that follows
        # stretches that start inside a song first hear the band's own recordings, as the model learned them
        pool = band.prime_pool(model.config.sample_rate)
        stats = GenerateStats()
        t0, regenerated = time.perf_counter(), 0
        consumed, ahead = 0, SONGS_AT_ONCE * (2 if tandem else 1)

        def gate(k: int) -> None:
            """Song k starts once the renderer has taken all but ``ahead`` songs before it: memory stays bounded."""
            nonlocal consumed, t0
            while k >= consumed + ahead:
                waited = time.perf_counter()
                permits.get()
                t0 += time.perf_counter() - waited  # waiting for the consumer is not generating
                consumed += 1

        def finish(k: int) -> None:
            nonlocal t0, regenerated
            summary = SongAudioStats(time.perf_counter() - t0, stats.regenerated - regenerated, stats.unfixed)
            out.put(("done", k, summary))
            release_free_memory()  # the song's pieces are gone: a process that generates for days must not creep
            t0, regenerated = time.perf_counter(), stats.regenerated

        song = None
        rounds = itertools.count() if endless else [None]
        for r in rounds:
            # a render is one round with the plain seed (the same seed, the same songs as always)
            base = 0 if r is None else r * len(lengths)
            for k, piece in iter_tracks(
                model,
                lengths,
                seed=seed if r is None else song_seed(seed, r, 4),
                streams=streams,
                temperature=temperature,
                pool=pool,
                group=SONGS_AT_ONCE,
                gate=lambda k, base=base: gate(base + k),
                stats=stats,
            ):
                if base + k != song:
                    if song is not None:
                        finish(song)
                    song = base + k
                out.put(("piece", song, piece))
            finish(song)
            song = None
            stats, regenerated = GenerateStats(unfixed=stats.unfixed), 0  # its lists would grow with uptime
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent as one line
        out.put(("error", -1, f"{type(e).__name__}: {e}" if not isinstance(e, ComposerError) else str(e)))


class AudioProcess:
    """The band's SampleRNN in a process of its own, generating songs of ``lengths`` (again and again when
    ``endless``) at most a few songs ahead of what has been ``taken()``."""

    def __init__(
        self,
        band: Band,
        audio_model: Path,
        lengths: list[float],
        *,
        seed: int,
        streams: int = STREAMS,
        temperature: float = 1.0,
        tandem: bool = True,
        endless: bool = False,
    ):
        ctx = mp.get_context("spawn")  # a fresh interpreter: no torch thread pools inherited through fork
        self.permits, self.out = ctx.Queue(), ctx.Queue(maxsize=256)
        self.rate: int | None = None  # the model's sample rate, the worker's first message
        args = (str(audio_model), list(lengths), seed, streams, temperature, tandem, band, self.permits, self.out)
        kwargs = {"endless": endless, "parent_pid": os.getpid()}
        self.proc = ctx.Process(target=_audio_worker, daemon=True, args=args, kwargs=kwargs)
        self.proc.start()

    def taken(self) -> None:
        """Tell the worker a song has been taken off its hands."""
        self.permits.put(1)

    def get(self, timeout: float | None):
        while True:
            try:
                msg = self.out.get(timeout=0.5 if timeout is None else timeout)
                if msg[0] != "rate":
                    return msg
                self.rate = msg[2]
            except queue_mod.Empty:
                if not self.proc.is_alive():
                    raise ComposerError("the audio generator stopped unexpectedly") from None
                if timeout is not None:
                    return None

    def close(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        for q in (self.permits, self.out):
            q.cancel_join_thread()
            q.close()


# ----------------------------------------------------------------------------------------------- lyrics


class _SongLyrics:
    """One song's lyric lines, written a line at a time so the work fits in while audio is generated."""

    def __init__(self, model_dir: Path, seed: int, n_lines: int, voices: tuple[str, ...] = ()):
        from composer.models.lyricgpt.generate import LyricStream

        self.n_lines, self.seed, self.voices = n_lines, seed, voices
        verses = max(1, math.ceil(n_lines / 8))
        self.stream = LyricStream(model_dir, seed, verses_per_song=verses)
        self.lines = []

    @property
    def complete(self) -> bool:
        return len(self.lines) >= self.n_lines

    def step(self) -> None:
        self.lines.append(self.stream.next_line())

    def lyrics(self) -> Lyrics:
        from composer.media.voices import alternate

        while not self.complete:
            self.step()
        texts, voices = alternate([(line.text, line.stanza) for line in self.lines], self.voices, self.seed)
        stanzas = [line.stanza for line in self.lines]
        return Lyrics.from_lines(zip(texts, stanzas), title=self.stream.title, voices=voices)


# ----------------------------------------------------------------------------------------------- the render


def render_band(
    band: Band,
    seconds: float,
    out: str | os.PathLike | None = None,
    *,
    template: str | Path | None = None,
    seed: int = 0,
    **kwargs,
) -> BandRenderResult:
    """Render ``seconds`` of new songs by ``band`` into a video (.mp4), sidecars and an upload kit: ``out`` if
    it is an .mp4, else BAND-SEED.mp4 in the folder ``out`` (default: out/BAND-SEED/).

    Keyword arguments as ``render_band_versions``.
    """
    target = Path(out) if out is not None else Path("out") / f"{band.name}-{seed}"
    if target.suffix.lower() != ".mp4":
        target = target / f"{band.name}-{seed}.mp4"
    return render_band_versions(band, seconds, [(template, target)], seed=seed, **kwargs)[0]


def render_band_versions(
    band: Band,
    seconds: float,
    versions: Sequence[tuple[str | Path | None, Path]],
    *,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    songs: int | None = None,
    streams: int = STREAMS,
    temperature: float = 1.0,  # composer.models.samplernn.generate.TEMPERATURE (not imported here: torch loads slowly)
    tandem: bool = True,
    progress: Progress = no_progress,
    encode=None,
) -> list[BandRenderResult]:
    """The same new songs rendered once per (template, output .mp4) version: generated and timed once.

    A template of None is the band's own. ``size`` (width, height) overrides the templates' frame size.
    """
    from composer.karaoke.render.background import load_images
    from composer.karaoke.template import load_template
    from composer.media.ffmpeg import check_video_name

    t_start = time.perf_counter()
    if not versions:
        raise ComposerError("nothing to render: no output given")
    outs = [Path(out) for _, out in versions]
    for out in outs:
        check_video_name(out)
    if len(set(outs)) != len(outs):
        raise ComposerError(f"{outs[0]}: two versions would write the same file")
    lengths = plan_songs(seconds, songs, band.sample_rate)
    audio_model, lyrics_model = band.weights("audio"), band.weights("lyrics")
    from composer.karaoke.engine import output_paths

    outputs = OutputSet(
        [p for out in outs for p in output_paths(out, upload=True)], band_inputs(band, [t for t, _ in versions])
    )
    tmpls = []
    for template, _ in versions:
        tmpl = load_template(template or band.template)
        tmpls.append(tmpl.replace(video={"width": size[0], "height": size[1]}) if size else tmpl)
    for out in outs:
        out.parent.mkdir(parents=True, exist_ok=True)
        check_writable_dir(out)
    if band.generated:
        from composer.synthetic.demo import write_demo_images

        write_demo_images(band.images_dir)
    images = load_images(band.images_dir)

    with write_errors(outs[0]):
        plan = _Plan(
            band, lengths, list(zip(tmpls, outs)), images, audio_model, lyrics_model, seed, streams, temperature, tandem
        )
        return _render(plan, progress, encode, t_start, outputs)


def band_inputs(band: Band, templates: Sequence[str | Path | None] = ()) -> list[Input]:
    """What a band render reads: no output of the run may replace one or land among them."""
    from composer.karaoke.render.background import IMAGE_SUFFIXES
    from composer.karaoke.template import is_template_file

    inputs = [
        Input(band.images_dir, "the band's image folder", IMAGE_SUFFIXES),
        Input(band.audio_model_dir, "the band's audio model", ("*",)),
        Input(band.lyrics_model_dir, "the band's lyric model", ("*",)),
    ]
    for template in (band.template, *templates):
        if template is not None and is_template_file(template):
            inputs.append(Input(Path(template), "the template"))
    return inputs


@dataclass(frozen=True)
class _Plan:
    """What a band render makes, settled and checked before any work starts."""

    band: Band
    lengths: list[float]  # seconds of each song
    versions: list[tuple[Template, Path]]  # (template, output .mp4) of each version
    images: list
    audio_model: Path
    lyrics_model: Path
    seed: int
    streams: int
    temperature: float
    tandem: bool


def _render(plan: _Plan, progress: Progress, encode, t_start: float, outputs: OutputSet) -> list[BandRenderResult]:
    from composer.karaoke.engine import output_paths, thumbnail_path, write_thumbnail
    from composer.karaoke.render.cards import SongCard
    from composer.karaoke.render.frames import FrameRenderer
    from composer.media.ffmpeg import mux
    from composer.media.sidecars import write_sidecars
    from composer.media.upload import write_upload_kit

    stages = StageTimes()
    # intermediate files sit beside the (first) output, on its disk, in the output set's work folder
    with outputs:
        tmp = outputs.scratch
        worker = AudioProcess(
            plan.band,
            plan.audio_model,
            plan.lengths,
            seed=plan.seed,
            streams=plan.streams,
            temperature=plan.temperature,
            tandem=plan.tandem,
        )
        try:
            timelines, song_info, frames = _render_songs(
                worker,
                plan.lengths,
                plan.lyrics_model,
                [t for t, _ in plan.versions],
                plan.images,
                tmp,
                plan.seed,
                plan.tandem,
                stages,
                progress,
                encode,
                band=plan.band,
            )
        finally:
            worker.close()
        with stages.timed("mux"):
            for i, (_, out) in enumerate(plan.versions):
                progress("mux", i, len(plan.versions))
                mux(tmp / f"video{i}.mp4", tmp / "audio.wav", outputs.staged(out), encode)
                (tmp / f"video{i}.mp4").unlink()
            progress("mux", len(plan.versions), len(plan.versions))

        timeline = _join(timelines, song_info, plan.band)
        video_title = _video_title(plan.band, song_info)
        for tmpl, out in plan.versions:
            write_sidecars(timeline, outputs.staged(out), **tmpl.ass_style())
            first = song_info[0]
            card = SongCard(first.title, plan.band.name, 1, len(song_info))
            thumb_renderer = FrameRenderer(tmpl, timelines[0], plan.images, seed=song_seed(plan.seed, 0, 3), card=card)
            write_thumbnail(thumb_renderer, timelines[0], outputs.staged(thumbnail_path(out)))
            write_upload_kit(outputs.staged(out), video_title, plan.band, song_info, timelines)
    results = []
    for (_, out), n_frames in zip(plan.versions, frames):
        paths = output_paths(out, upload=True)
        results.append(
            BandRenderResult(
                out,
                tuple(paths[1:5]),
                paths[5],
                tuple(paths[6:]),
                timeline,
                song_info,
                n_frames,
                time.perf_counter() - t_start,
                stages,
            )
        )
    return results


def _render_songs(
    worker: AudioProcess,
    lengths,
    lyrics_model,
    tmpls,
    images,
    tmp: Path,
    seed: int,
    tandem: bool,
    stages: StageTimes,
    progress: Progress,
    encode,
    *,
    band: Band,
):
    import soundfile as sf

    from composer.karaoke.engine import write_frames
    from composer.karaoke.render.cards import SongCard
    from composer.karaoke.render.frames import FrameRenderer
    from composer.media.ffmpeg import EncodeSettings, VideoWriter

    total_s = sum(lengths)
    max_rate = min(t.text.max_syllables_per_s for t in tmpls)  # one timeline serves every version
    totals = [max(1, math.ceil(total_s * t.video.fps - 1e-6)) for t in tmpls]
    timelines: list[Timeline] = []
    info: list[Song] = []
    frame_no = [0] * len(tmpls)
    progress("audio", 0, total_s)  # the bar and its clock show from the start, before the first piece is done
    with contextlib.ExitStack() as stack:
        writers = [
            stack.enter_context(
                VideoWriter(
                    tmp / f"video{i}.mp4", t.video.width, t.video.height, t.video.fps, None, encode or EncodeSettings()
                )
            )
            for i, t in enumerate(tmpls)
        ]
        wav = stack.enter_context(
            sf.SoundFile(tmp / "audio.wav", "w", samplerate=48000, channels=2, subtype="PCM_24", format="RF64")
        )
        start = 0.0

        def on_audio(generated: float) -> None:
            progress("audio", generated, total_s)

        for song in finished_songs(
            worker,
            lengths,
            lyrics_model,
            seed,
            tandem=tandem,
            stages=stages,
            on_audio=on_audio,
            voices=band.voices,
            max_rate=max_rate,
        ):
            k, seconds, timeline, lyrics = song.index, song.seconds, song.timeline, song.lyrics
            with stages.timed("audio_out"):
                _append_audio(song.audio, wav, tmp)
            song.audio = None  # rendering needs only the timeline: the song's samples go now
            last = k + 1 == len(lengths)
            with stages.timed("render"):
                for i, (tmpl, writer) in enumerate(zip(tmpls, writers)):
                    end_frame = totals[i] if last else math.ceil((start + seconds) * tmpl.video.fps - 1e-6)
                    card = SongCard(lyrics.title, band.name, k + 1, len(lengths))
                    renderer = FrameRenderer(tmpl, timeline, images, seed=song_seed(seed, k, 3), card=card)
                    frame_no[i] = write_frames(
                        writer,
                        renderer,
                        frame_no[i],
                        end_frame,
                        start=start,
                        total=totals[i],
                        progress=progress if i == 0 else no_progress,
                        stage="render",
                    )
            timelines.append(timeline)
            info.append(Song(k, lyrics.title, start, seconds, len(timeline.lines), song.regenerated))
            start += seconds
    return timelines, info, frame_no


@dataclass
class FinishedSong:
    """A generated song with its lyrics, timed: what a render or a stream plays next."""

    index: int  # its number, from 0
    seconds: float
    lyrics: Lyrics
    timeline: Timeline
    audio: Audio | None  # as generated (the model's rate, mono); a consumer drops it once it has taken it
    regenerated: int  # audio segments regenerated (silent, clipped, looping)
    generation_s: float  # the audio process's time for it


def finished_songs(
    worker: AudioProcess,
    lengths: Iterable[float],
    lyrics_model: Path,
    seed: int,
    *,
    tandem: bool = True,
    stages: StageTimes | None = None,
    on_audio: Callable[[float], None] | None = None,
    voices: tuple[str, ...] = (),
    max_rate: float | None = None,
) -> Iterator[FinishedSong]:
    """The songs ``worker`` generates, one per length (an endless iterable for a stream), each with lyrics
    written while its audio is generated (stanzas given to ``voices`` in turn), then timed to it, no line faster
    than ``max_rate`` syllables a second (see ``_readable``).

    In tandem, a song is handed back to the worker's permits as soon as its audio is in; else once the consumer
    asks for the next song. ``on_audio(seconds)``: the seconds of audio generated so far, as pieces arrive.
    """
    stages = stages if stages is not None else StageTimes()
    generated = 0.0
    for k, seconds in enumerate(lengths):
        n_lines = math.ceil(seconds / LINE_SECONDS) + 4
        with stages.timed("lyrics"):
            lyr = _SongLyrics(lyrics_model, song_seed(seed, k, 2), n_lines, voices)
        pieces: list[np.ndarray] = []
        summary = None
        while summary is None:
            # in tandem, write lyric lines while the audio is not there yet
            blocking = not (tandem and not lyr.complete)
            with stages.timed("waiting") if blocking else contextlib.nullcontext():
                msg = worker.get(timeout=None if blocking else 0.0)
            if msg is None:
                with stages.timed("lyrics"):
                    lyr.step()
                continue
            kind, _, payload = msg
            if kind == "error":
                raise ComposerError(f"audio generation failed: {payload}")
            if kind == "piece":
                pieces.append(payload)
                generated += len(payload) / worker.rate
                if on_audio is not None:
                    on_audio(generated)
            else:
                summary = payload
        stages.audio += summary.seconds
        if tandem:
            worker.taken()  # the worker may start a song more
        with stages.timed("lyrics"):
            lyrics = lyr.lyrics()
        audio = Audio(np.concatenate(pieces)[:, None], worker.rate)
        del pieces
        with stages.timed("align"):
            timeline = _align(audio, lyrics)
            if max_rate is not None:
                timeline = _readable(timeline, lyr.stream, max_rate)
        del lyr
        song = FinishedSong(k, seconds, lyrics, timeline, audio, summary.regenerated, summary.seconds)
        del audio
        yield song
        del song
        if not tandem:
            worker.taken()


def _align(audio: Audio, lyrics: Lyrics) -> Timeline:
    from composer.karaoke.align import align
    from composer.media.audio import is_silent

    if is_silent(audio, -80.0):  # the aligner's own threshold: nothing to time lines to
        log.warning("a generated song came out silent: it has no lyrics")
        return Timeline(lines=(), duration=audio.duration, title=lyrics.title)
    # more lines are written than a song can hold: the ones that do not fit are expected, not worth a warning
    timeline = align(audio, lyrics, warn_dropped=False)
    if _singable(timeline):
        return timeline
    # the song has no phrasing the aligner can hear (a wash of a model): the words are paced through it instead
    # of leaving the screen empty for the rest of the song, or racing through lines no one could sing
    return _paced(audio, lyrics)


def _singable(timeline: Timeline) -> bool:
    """Enough lines for the song's length, at a rate a voice could sing them."""
    from composer.media.syllables import line_syllables

    if len(timeline.lines) < timeline.duration / SPARSE_LINE_S:
        return False
    rates = [line_syllables(ln.text) / max(ln.end - ln.start, 1e-3) for ln in timeline.lines]
    return float(np.median(rates)) <= MAX_SUNG_SYLLABLES_PER_S


def _paced(audio: Audio, lyrics: Lyrics) -> Timeline:
    """Lines one after another at a singable rate, a breath between lines and a longer one between stanzas,
    from the song's start as long as they fit."""
    from composer.media.syllables import line_syllables
    from composer.media.timing import make_line

    lines, t, stanza = [], PACED_START_S, None
    for i, (text, k) in enumerate(lyrics.lines):
        if stanza is not None:
            t += PACED_STANZA_GAP_S if k != stanza else PACED_LINE_GAP_S
        end = t + max(PACED_MIN_LINE_S, line_syllables(text) / PACED_SYLLABLES_PER_S)
        if end > audio.duration - PACED_START_S:
            break
        lines.append(dataclasses.replace(make_line(text, t, end, k), voice=lyrics.voice_of(i)))
        t, stanza = end, k
    timeline = Timeline(
        lines=tuple(lines),
        duration=audio.duration,
        title=lyrics.title,
        meta={"dropped_lines": len(lyrics.lines) - len(lines), "paced": True},
    )
    timeline.validate()
    return timeline


def _readable(timeline: Timeline, stream, max_rate: float) -> Timeline:
    """Every line sung at most ``max_rate`` syllables a second: swept slower into the quiet around it
    (``karaoke.pacing.pace``), and where the music's phrase is too short even so, a shorter line from the lyric
    model (``stream.line_within``) or, when it writes none, no line there."""
    from composer.karaoke.pacing import MIN_GAP_S, pace
    from composer.media.timing import make_line

    lines = list(timeline.lines)
    shortened, dropped = [], []
    while True:
        paced = pace(Timeline(tuple(lines), timeline.duration, timeline.title, timeline.meta), max_rate)
        if not paced.meta["too_fast"]:
            break
        i = paced.meta["too_fast"][0]
        line = lines[i]
        lo = paced.lines[i - 1].end + MIN_GAP_S if i > 0 else 0.0
        hi = lines[i + 1].start - MIN_GAP_S if i + 1 < len(lines) else timeline.duration
        text = stream.line_within(math.floor((hi - lo) * max_rate + 1e-9))
        if text is None:
            dropped.append(line.text)
            del lines[i]
        else:
            shortened.append({"line": i, "was": line.text, "now": text})
            lines[i] = make_line(text, line.start, line.end, line.stanza)
    meta = {**paced.meta, "shortened": shortened, "dropped_too_fast": dropped}
    return Timeline(paced.lines, paced.duration, paced.title, meta)


def _append_audio(audio: Audio, wav, tmp: Path) -> None:
    import soundfile as sf

    from composer.media.audio import prepare_output_audio

    song_wav = tmp / "song.wav"
    prepare_output_audio(audio, song_wav)
    with sf.SoundFile(song_wav) as f:
        for block in f.blocks(blocksize=1 << 16, dtype="float32"):
            wav.write(block)
    song_wav.unlink()


# ----------------------------------------------------------------------------------------------- results


def _join(timelines: list[Timeline], songs: list[Song], band: Band) -> Timeline:
    """One timeline for the whole video: every song's lines at their place, stanzas numbered on."""
    lines: list[LyricLine] = []
    stanza_base = 0
    for tl, song in zip(timelines, songs):
        lines += [shift_line(line, song.start, stanza_base) for line in tl.lines]
        stanza_base += 1 + max((ln.stanza for ln in tl.lines), default=0)
    duration = sum(s.duration for s in songs)
    meta = {
        "band": band.name,
        "songs": [
            {"title": s.title, "start": round(s.start, 3), "lines": s.lines, **_pacing_meta(tl)}
            for tl, s in zip(timelines, songs)
        ],
    }
    rates = [tl.meta["max_syllables_per_s"] for tl in timelines if "max_syllables_per_s" in tl.meta]
    if rates:
        meta["max_syllables_per_s"] = min(rates)
    timeline = Timeline(tuple(lines), duration, _video_title(band, songs), meta)
    timeline.validate()
    return timeline


def _pacing_meta(timeline: Timeline) -> dict:
    """What readable pacing changed in a song (line numbers count within the song)."""
    keys = ("repaced", "shortened", "dropped_too_fast")
    return {k: timeline.meta[k] for k in keys if timeline.meta.get(k)}


def _video_title(band: Band, songs: list[Song]) -> str:
    if len(songs) == 1:
        return f"{band.name.upper()} - {songs[0].title}"
    return f"{band.name.upper()} - {songs[0].title} (+{len(songs) - 1} more)"


__all__ = [
    "AudioProcess",
    "BandRenderResult",
    "FinishedSong",
    "finished_songs",
    "Song",
    "StageTimes",
    "plan_songs",
    "render_band",
    "render_band_versions",
]
