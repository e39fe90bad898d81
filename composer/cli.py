"""The `composer` command: parses, calls the library, reports. No logic lives here."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text
from typer.core import TyperGroup

from composer.errors import ComposerError, Interrupted, Terminated, escape_controls
from composer.types import MAX_SEED
from composer.util.durations import MAX_LENGTH


class _Commands(TyperGroup):
    """composer's commands. Ctrl-C or SIGTERM before a command reached its reporting block (while torch loads,
    say) still ends with the one message and the shell's status, 143 for SIGTERM, not typer's silent 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:
            err.print("[red]interrupted[/]: no output was written", markup=True)
            raise typer.Exit(_interrupted_status(e)) from None


app = typer.Typer(
    cls=_Commands,
    help="composer: AI death-metal karaoke videos, end to end.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)


def _terminate(signum, frame) -> None:
    # a second SIGTERM must not cut the clean-up short; SIGKILL still ends a stuck run
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def _interrupt(signum, frame) -> None:
    raise Interrupted


@app.callback()
def _every_command() -> None:
    if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
        signal.signal(signal.SIGTERM, _terminate)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # an ignored Ctrl-C stays ignored
            signal.signal(signal.SIGINT, _interrupt)


def _option_error(message: str) -> NoReturn:
    """One error line for a bad option value, caught while the command line is parsed."""
    err.print(f"error: {escape_controls(message)}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


def _seed_in_range(value: int) -> int:
    if not 0 <= value <= MAX_SEED:
        shown = f" {value}" if len(str(value)) <= 30 else ""
        _option_error(f"--seed{shown}: allowed seeds are 0 to {MAX_SEED}")
    return value


def _between(lo: int, hi: int):
    """An option callback: whole numbers from ``lo`` to ``hi``; past ``hi`` a run would take unbounded time or
    memory (a billion lyric lines, a batch of a million streams)."""

    def check(param: typer.CallbackParam, value: int | None) -> int | None:
        if value is not None and not lo <= value <= hi:
            _option_error(f"{param.opts[0]} {value}: allowed values are {lo} to {hi}")
        return value

    return check


def _finite(param: typer.CallbackParam, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):  # float("nan") and float("inf") parse as numbers
        _option_error(f"{param.opts[0]} {value}: expected a finite number")
    return value


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Seed = Annotated[
    int, typer.Option("--seed", callback=_seed_in_range, help=f"Same seed, same output (0 to {MAX_SEED}).")
]
Temperature = Annotated[float, typer.Option("--temperature", callback=_finite, help="Above 1 wilder, below 1 safer.")]
Offset = Annotated[
    float,
    typer.Option(
        "--offset",
        callback=_finite,
        metavar="SECONDS",
        help="Move every lyric time this much later (negative: earlier); lines moved past the song's ends are cut.",
    ),
]
MaxLength = Annotated[
    str,
    typer.Option(
        "--max-length",
        help="Longest --length accepted: a guard against typos such as 10h for 10m, and against filling the disk.",
    ),
]
TemplateOpt = Annotated[str, typer.Option("--template", "-t", help="Built-in template name or path to a .toml.")]


class _RichWarnings(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        # a path holding a newline stays on the one line that names it, as in errors
        err.print(f"[yellow]warning:[/] {escape(escape_controls(record.getMessage()))}", markup=True, soft_wrap=True)


def _setup_logging() -> None:
    log = logging.getLogger("composer")
    if not any(isinstance(h, _RichWarnings) for h in log.handlers):
        log.addHandler(_RichWarnings(level=logging.WARNING))
    log.propagate = False
    log.setLevel(logging.WARNING)


@contextlib.contextmanager
def _reporting(quiet: bool):
    """Progress callback for the library, and one clean line for any failure."""
    _setup_logging()
    bar = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def progress(stage: str, done: float, total: float) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        with bar:
            yield progress
    except ComposerError as e:
        err.print(f"[red]error:[/] {escape(str(e))}", markup=True, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt as e:
        err.print("[red]interrupted[/]: no output was written", markup=True)
        raise typer.Exit(_interrupted_status(e)) from None


def _interrupted_status(e: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal's number."""
    return 128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)


def _seconds(text: str, what: str) -> float:
    from composer.util.durations import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as e:
        raise ComposerError(f"{what}: {e}") from None
    return value


def _given(**options):
    """The options the user gave: the library's defaults (in the trainers, band.toml) apply to the rest."""
    return {k: v for k, v in options.items() if v is not None}


def _size(text: str | None) -> tuple[int, int] | None:
    from composer.util.sizes import parse_size

    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as e:
        raise ComposerError(f"--size {text!r}: {e}") from None


def _length(text: str, max_length: str) -> float:
    """--length in seconds: positive, and no longer than --max-length unless the user raised it."""
    seconds, cap = _seconds(text, "--length"), _seconds(max_length, "--max-length")
    if seconds <= 0:
        raise ComposerError(f"--length must be positive (got {text!r})")
    if seconds > cap:
        raise ComposerError(
            f"--length {text}: longer than the {max_length} limit; give --max-length {text} to allow it"
        )
    return seconds


@app.command()
def karaoke(
    audio: Annotated[Path, typer.Argument(help="Song: wav, flac, ogg or mp3.")],
    lyrics: Annotated[Path, typer.Argument(help="Plain lyrics (.txt) or timed (.lrc, enhanced .lrc, .ass).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .mp4; sidecars are written beside it.")],
    images: Annotated[Path | None, typer.Option("--images", "-i", help="Folder of jpg/png/webp images.")] = None,
    background: Annotated[
        Path | None, typer.Option("--background", help="A video (mp4, mov, webm...) looped behind the lyrics instead.")
    ] = None,
    template: TemplateOpt = "gore",
    seed: Seed = 0,
    title: Annotated[str | None, typer.Option(help="Title card and sidecar title.")] = None,
    artist: Annotated[
        str | None, typer.Option(help="Band or singer named on the title card (default: an .lrc's artist tag).")
    ] = None,
    offset: Offset = 0.0,
    quiet: Quiet = False,
) -> None:
    """Any song + lyrics + images (or a looping video) -> a finished karaoke video."""
    from composer.karaoke.engine import karaoke as run

    if (images is None) == (background is None):
        _option_error("give either --images FOLDER or --background VIDEO")
    with _reporting(quiet) as progress:
        result = run(
            audio,
            lyrics,
            images,
            out,
            template=template,
            seed=seed,
            title=title,
            artist=artist,
            offset=offset,
            background=background,
            progress=progress,
        )
    _report_video(result, quiet)


def _report_video(result, quiet: bool) -> None:
    if quiet:
        return
    err.print(
        f"wrote [bold]{escape(str(result.video))}[/] ({result.frames} frames, {len(result.timeline.lines)} lines)"
    )
    for p in (*result.sidecars, result.thumbnail):
        err.print(f"  {p}", markup=False)
    dropped = result.timeline.meta.get("dropped_lines", 0) + result.timeline.meta.get("offset_dropped_lines", 0)
    if dropped:
        err.print(f"  {dropped} lyric lines did not fit the song")


@app.command()
def align(
    audio: Annotated[Path, typer.Argument(help="Song: wav, flac, ogg or mp3.")],
    lyrics: Annotated[Path, typer.Argument(help="Plain lyrics: one line a line, blank line between stanzas.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .lrc (enhanced), .ass, .srt or .json.")],
    title: Annotated[str | None, typer.Option(help="Title written into the file.")] = None,
    offset: Offset = 0.0,
    report: Annotated[
        bool, typer.Option("--report", help="Print each line's time and the aligner's confidence in it.")
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Time lyrics to a song and write the timing alone, for your own karaoke player."""
    from composer.karaoke.engine import align_file

    with _reporting(quiet):
        timeline = align_file(audio, lyrics, out, title=title, offset=offset)
    if report:
        _print_alignment_report(timeline)
    if not quiet:
        err.print(f"wrote [bold]{escape(str(out))}[/] ({len(timeline.lines)} lines)")


def _print_alignment_report(timeline) -> None:
    """One row a line: start, end, confidence, a flag for lines the aligner is unsure of, the text."""
    from rich.table import Table

    unsure = sum(line.unsure for line in timeline.lines)
    table = Table(box=None, header_style="bold")
    for name in ("line", "start", "end", "confidence", "", "text"):
        table.add_column(name, justify="right" if name in ("line", "start", "end", "confidence") else "left")
    for i, line in enumerate(timeline.lines):
        conf = f"{line.confidence:.2f}" if line.confidence is not None else "-"
        table.add_row(
            str(i + 1), f"{line.start:.2f}", f"{line.end:.2f}", conf, "unsure" if line.unsure else "", escape(line.text)
        )
    console = Console(highlight=False)
    console.print(table)
    dropped = timeline.meta.get("dropped_lines", 0) + timeline.meta.get("offset_dropped_lines", 0)
    console.print(f"{unsure} of {len(timeline.lines)} lines unsure; {dropped} dropped", markup=False)


@app.command()
def preview(
    template: TemplateOpt = "gore",
    at: Annotated[
        str | None, typer.Option("--at", help="Time of the frame (default 12s), or where a --clip starts (0s).")
    ] = None,
    clip: Annotated[
        str | None, typer.Option("--clip", help="Write this much as a small MP4 instead of one frame, e.g. 10s.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="PNG to write (an .mp4 with --clip; default preview.png/.mp4).")
    ] = None,
    images: Annotated[Path | None, typer.Option("--images", "-i", help="Image folder (default: a sample).")] = None,
    lyrics: Annotated[Path | None, typer.Option("--lyrics", help="Lyrics to show (default: samples).")] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Draw again whenever the template file (or --lyrics) changes; Ctrl-C ends.")
    ] = False,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """A frame (or a short low-resolution clip) of a template over sample lyrics, to tweak a template by eye."""
    from composer.karaoke.preview import PreviewInputs, preview_clip, preview_frame
    from composer.karaoke.template import is_template_file

    what = PreviewInputs(template, images, lyrics, seed)
    with _reporting(True):
        start = _seconds(at, "--at") if at is not None else (0.0 if clip else 12.0)
        seconds = _seconds(clip, "--clip") if clip is not None else None
    if seconds is not None and not 0 < seconds <= 600:
        _option_error(f"--clip {clip}: give a length from 0.1s to 10m")
    target = out or Path("preview.mp4" if clip else "preview.png")
    if watch and not is_template_file(template):
        _option_error(f"--watch {template}: give a template file (.toml) to watch; copy a built-in one to edit it")

    def draw() -> None:
        t0 = time.perf_counter()
        if seconds is None:
            path = preview_frame(what, start, target)
        else:
            path = preview_clip(what, start, seconds, target)
        if not quiet:
            err.print(f"wrote [bold]{escape(str(path))}[/] ({time.perf_counter() - t0:.1f} s)")

    if not watch:
        with _reporting(True):
            draw()
        return
    from composer.util.watch import watch as watch_files

    def failed(e: ComposerError) -> None:
        err.print(f"[red]error:[/] {escape(str(e))} (watching for the next save)", markup=True, soft_wrap=True)

    _setup_logging()
    if not quiet:
        err.print(f"watching [bold]{escape(str(template))}[/]: save it to redraw, Ctrl-C to stop")
    try:
        watch_files([Path(p) for p in (template, lyrics) if p is not None], draw, failed)
    except Terminated as e:  # docker stop, systemd, timeout: they read 143 as "stopped as asked"
        raise typer.Exit(_interrupted_status(e)) from None
    except KeyboardInterrupt:  # Ctrl-C is how a watch ends
        pass


@app.command()
def spectrogram(
    files: Annotated[list[Path], typer.Argument(help="Audio files (wav, flac, ogg, mp3), one panel each.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write.")] = Path("spectrogram.png"),
    start: Annotated[str, typer.Option("--start", help="Where to begin in each file, e.g. 30s.")] = "0s",
    length: Annotated[str, typer.Option("--length", help="How much to draw, e.g. 20s.")] = "20s",
    quiet: Quiet = False,
) -> None:
    """Spectrograms of audio files stacked on one scale: a band's album beside generated audio, by eye."""
    from composer.media.plot import spectrogram_files

    with _reporting(True):
        seconds = _seconds(length, "--length")
        if not 0 < seconds <= 600:
            raise ComposerError(f"--length {length!r}: draw 0 to 10 minutes")
        path = spectrogram_files(files, out, start=_seconds(start, "--start"), seconds=seconds)
    if not quiet:
        err.print(f"wrote [bold]{escape(str(path))}[/]")


@app.command()
def example(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .mp4; inputs are written beside it.")] = Path(
        "example/example.mp4"
    ),
    length: Annotated[str, typer.Option("--length", help="Song length, e.g. 40s or 2m.")] = "40s",
    template: TemplateOpt = "gore",
    seed: Seed = 0,
    max_length: MaxLength = MAX_LENGTH,
    quiet: Quiet = False,
) -> None:
    """Make an example song, lyrics and images, then render them as a karaoke video."""
    from composer.synthetic.example import make_example

    with _reporting(quiet) as progress:
        seconds = _length(length, max_length)
        result = make_example(out, seconds=seconds, template=template, seed=seed, progress=progress)
    _report_video(result, quiet)


@app.command()
def templates(
    sheet: Annotated[
        Path | None, typer.Option("--sheet", help="Also draw one frame of each template side by side into this PNG.")
    ] = None,
    seed: Seed = 0,
) -> None:
    """List the built-in templates (and draw them: --sheet templates.png)."""
    from composer.karaoke.template import builtin_templates

    for name in builtin_templates():
        typer.echo(name)
    if sheet is not None:
        from composer.karaoke.preview import template_sheet

        with _reporting(True):
            template_sheet(sheet, seed=seed)
        err.print(f"wrote [bold]{escape(str(sheet))}[/]")


# ----------------------------------------------------------------------------------------------- lyric model

train_app = typer.Typer(help="Train the band's models: `composer train --band NAME` trains both.")
generate_app = typer.Typer(help="Generate with trained models.", no_args_is_help=True)
band_app = typer.Typer(help="Band profiles: a band's audio, lyrics, images and models.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(generate_app, name="generate")
app.add_typer(band_app, name="band")

Threads = Annotated[
    int | None,
    typer.Option(
        "--threads", callback=_between(1, 256), help="CPU threads for the audio model (1 is fastest on a busy machine)."
    ),
]
Device = Annotated[
    str | None, typer.Option("--device", help="auto (a CUDA GPU when torch sees one), cpu, cuda or cuda:N.")
]
BandOpt = Annotated[str | None, typer.Option("--band", "-b", help="Band name (see `composer band list`).")]
BandsDir = Annotated[
    Path | None, typer.Option("--bands-dir", envvar="COMPOSER_BANDS_DIR", help="Folder of band profiles.")
]


def _band(name: str, bands_dir: Path | None):
    from composer.band.profile import find_band

    return find_band(name, bands_dir)


@train_app.callback(invoke_without_command=True)
def train_band_cmd(
    ctx: typer.Context,
    band: BandOpt = None,
    only: Annotated[str | None, typer.Option("--only", help="Train just one model: audio or lyrics.")] = None,
    audio_steps: Annotated[int | None, typer.Option("--audio-steps", help="Audio steps (default: band.toml).")] = None,
    lyrics_steps: Annotated[
        int | None, typer.Option("--lyrics-steps", help="Lyric steps (default: band.toml).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue both models from their last checkpoints.")] = False,
    threads: Threads = None,
    device: Device = None,
    bands_dir: BandsDir = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Train a band's audio and lyric models (each resumable), or use `train audio` / `train lyrics`."""
    from composer.band.train import train_band

    if ctx.invoked_subcommand is not None:
        return
    if band is None:
        err.print(ctx.get_help(), markup=False)
        raise typer.Exit(2)
    with _reporting(quiet) as progress:
        train_band(
            _band(band, bands_dir),
            only=only,
            audio_steps=audio_steps,
            lyrics_steps=lyrics_steps,
            resume=resume,
            threads=threads,
            device=device,
            seed=seed,
            progress=progress,
            report=None if quiet else _print_checkpoint,
            finished=None if quiet else _print_trained,
        )


def _print_checkpoint(which: str, r) -> None:
    if which == "audio":
        err.print(
            f"audio step {r.step}/{r.steps}: train {r.train_bits_per_sample:.3f} bits/sample, "
            f"held-out {r.val_bits_per_sample:.3f} bits/sample, {r.samples_per_s:,.0f} samples/s"
        )
    else:
        err.print(
            f"lyrics step {r.step}/{r.steps}: train {r.train_bits_per_char:.3f} bits/char, "
            f"held-out {r.val_bits_per_char:.3f} bits/char, {r.tokens_per_s:,.0f} tokens/s"
        )


def _print_trained(which: str, result) -> None:
    if which == "audio":
        err.print(
            f"wrote [bold]{escape(str(result.out_dir))}[/] ({result.params:,} params, step {result.step}, "
            f"{result.train_chunks} training / {result.val_chunks} held-out chunks, "
            f"held-out {result.val_bits_per_sample:.3f} bits/sample)"
        )
    else:
        err.print(
            f"wrote [bold]{escape(str(result.out_dir))}[/] ({result.params:,} params, step {result.step}, "
            f"{result.train_chars:,} training / {result.val_chars:,} held-out chars, "
            f"held-out {result.val_bits_per_char:.3f} bits/char)"
        )


@band_app.command("create")
def band_create_cmd(
    name: Annotated[str, typer.Argument(help="Band name: lowercase letters, digits, - and _.")],
    audio: Annotated[Path, typer.Option("--audio", help="Folder of the band's recordings.")],
    lyrics: Annotated[list[Path], typer.Option("--lyrics", help="Lyric file or folder (repeatable).")],
    images: Annotated[Path, typer.Option("--images", "-i", help="Folder of images for the videos.")],
    template: TemplateOpt = "gore",
    description: Annotated[str, typer.Option("--description", help="One line about the band.")] = "",
    bands_dir: BandsDir = None,
    quiet: Quiet = False,
) -> None:
    """Check a band's material and write its band.toml."""
    from composer.band.profile import create_band

    with _reporting(True):
        band = create_band(name, audio, lyrics, images, template=template, description=description, bands_dir=bands_dir)
    if not quiet:
        err.print(
            f"wrote [bold]{escape(str(band.folder / 'band.toml'))}[/]; train it with "
            f"`composer train --band {band.name}`"
        )


@band_app.command("list")
def band_list_cmd(bands_dir: BandsDir = None) -> None:
    """The bands composer can find, and which of their models are trained."""
    from rich.table import Table

    from composer.band.profile import list_bands

    broken: list[str] = []
    with _reporting(True):
        bands = list_bands(bands_dir, broken)
    table = Table("band", "audio model", "lyric model", "template", "folder")
    for b in bands:
        table.add_row(
            b.name,
            "trained" if b.trained("audio") else "[red]untrained[/]",
            "trained" if b.trained("lyrics") else "[red]untrained[/]",
            Text(b.template),
            Text(str(b.folder)),
        )
    Console(highlight=False).print(table)
    for problem in broken:  # one broken band.toml does not hide the others
        err.print(f"warning: {problem} (left out)", markup=False)


@train_app.command("lyrics")
def train_lyrics_cmd(
    lyrics: Annotated[
        list[Path] | None,
        typer.Option("--lyrics", help="Lyric file or folder (repeatable): a line a line, blank line between stanzas."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Model folder to write (transformers' layout).")
    ] = None,
    band: BandOpt = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Model size: demo (~1.3M params) or debug (tiny).")
    ] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Total training steps to reach.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the model from its last checkpoint.")] = False,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Add public-domain text: kjv (needs composer[corpus]).")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", callback=_between(1, 256), help="CPU threads (1, the default, is fastest on a busy machine)."
        ),
    ] = None,
    bands_dir: BandsDir = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Train a lyric model (a small GPT-2) from scratch: a band's lyrics (--band) or any files (--lyrics, --out)."""
    from composer.band.train import train_band_lyrics

    with _reporting(quiet) as progress:
        options = _given(preset=preset, steps=steps, threads=threads) | {
            "resume": resume,
            "seed": seed,
            "sources": source or (),
            "progress": progress,
            "report": None if quiet else functools.partial(_print_checkpoint, "lyrics"),
        }
        if band:
            result = train_band_lyrics(_band(band, bands_dir), files=lyrics, out=out, **options)
        elif not lyrics or out is None:
            raise ComposerError("give --band NAME, or --lyrics FILE... and --out DIR")
        else:
            from composer.models.lyricgpt.train import train_lyrics

            result = train_lyrics(lyrics, out, **options)
    if not quiet:
        _print_trained("lyrics", result)


@generate_app.command("lyrics")
def generate_lyrics_cmd(
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Lyric model folder from `composer train lyrics`.")
    ] = None,
    band: BandOpt = None,
    lines: Annotated[int, typer.Option("--lines", callback=_between(1, 10_000), help="How many lines.")] = 40,
    temperature: Temperature = 0.9,
    top_p: Annotated[float, typer.Option("--top-p", callback=_finite, help="Nucleus sampling mass, in (0, 1].")] = 0.95,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Lyrics .txt to write (default: stdout).")] = None,
    bands_dir: BandsDir = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Write a song's lyrics (verses and a returning chorus) as plain text the karaoke engine reads."""
    from composer.models.lyricgpt.generate import generate_song, lyrics_output, write_lyrics

    with _reporting(quiet or out is None) as progress:
        if out is not None:
            lyrics_output(out)
        model = _model_dir(model, band, bands_dir, "lyrics")
        song = generate_song(model, lines, seed=seed, temperature=temperature, top_p=top_p, progress=progress)
        if out is not None:
            write_lyrics(song, out)
    if out is None:
        typer.echo(song.to_text(), nl=False)
    if not quiet:
        err.print(f"title: [bold]{escape(song.title)}[/]" + (f"; wrote [bold]{escape(str(out))}[/]" if out else ""))


def _model_dir(model: Path | None, band: str | None, bands_dir: Path | None, which: str) -> Path:
    """--model/--checkpoint as given, else the band's trained model; one clear error when there is none."""
    if model is not None:
        return model
    if band is None:
        raise ComposerError(f"give --band NAME or --model DIR (a {which} model folder)")
    return _band(band, bands_dir).weights(which)


# ----------------------------------------------------------------------------------------------- audio model


@train_app.command("audio")
def train_audio_cmd(
    audio: Annotated[
        Path | None, typer.Option("--audio", help="Folder of the band's audio (wav, flac, ogg, mp3).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Model folder to write (safetensors + config.json).")
    ] = None,
    band: BandOpt = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Model size: demo (~4M params), debug (tiny) or dadabots.")
    ] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Total training steps to reach.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the model from its last checkpoint.")] = False,
    init: Annotated[
        Path | None,
        typer.Option("--init", help="Start from this model folder's weights (same preset), e.g. to fine-tune."),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option("--keep", help="Keep the weights of the last N checkpoints in checkpoints/ (default 3)."),
    ] = None,
    device: Device = None,
    threads: Threads = None,
    lr: Annotated[
        float | None,
        typer.Option("--lr", callback=_finite, help="Learning rate (default: the preset's; 1e-3 for demo)."),
    ] = None,
    lr_half_life: Annotated[
        int | None,
        typer.Option(
            "--lr-half-life",
            callback=_between(1, 10**9),
            help="Steps over which the learning rate halves (down to 1/16 of it); default: constant.",
        ),
    ] = None,
    seq_len: Annotated[
        int | None,
        typer.Option(
            "--seq-len",
            callback=_between(1, 10**7),
            help="Samples per truncated-BPTT sub-sequence (default: the preset's; 512 for demo).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            callback=_between(1, 4096),
            help="Chunks per training step (default: the preset's; 32 for demo).",
        ),
    ] = None,
    add_tier: Annotated[
        int | None,
        typer.Option(
            "--add-tier",
            callback=_between(2, 10**6),
            help="With --init: grow the model by a slower top tier of this many samples a step, which starts "
            "out predicting exactly what the model did.",
        ),
    ] = None,
    bands_dir: BandsDir = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Train a SampleRNN audio model: a band's recordings (--band) or any folder (--audio, --out)."""
    from composer.band.train import train_band_audio

    with _reporting(quiet) as progress:
        options = _given(
            preset=preset,
            steps=steps,
            threads=threads,
            init=init,
            keep=keep,
            device=device,
            lr=lr,
            lr_half_life=lr_half_life,
            seq_len=seq_len,
            batch_size=batch_size,
            add_tier=add_tier,
        ) | {
            "resume": resume,
            "seed": seed,
            "progress": progress,
            "report": None if quiet else functools.partial(_print_checkpoint, "audio"),
        }
        if band:
            result = train_band_audio(_band(band, bands_dir), audio_dir=audio, out=out, **options)
        elif audio is None or out is None:
            raise ComposerError("give --band NAME, or --audio DIR and --out DIR")
        else:
            from composer.models.samplernn.train import train_audio

            result = train_audio(audio, out, **options)
    if not quiet:
        _print_trained("audio", result)


@generate_app.command("audio")
def generate_audio_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="WAV to write (mono, the model's rate).")],
    band: BandOpt = None,
    model: Annotated[
        Path | None, typer.Option("--model", "--checkpoint", "-m", help="Audio model folder (default: the band's).")
    ] = None,
    length: Annotated[str, typer.Option("--length", help="Track length, e.g. 90s, 10m or 1:30.")] = "1m",
    temperature: Temperature = 1.0,
    streams: Annotated[
        int,
        typer.Option(
            "--streams",
            callback=_between(1, 1024),
            help="Streams generated at once (a batch), each a long stretch of the track.",
        ),
    ] = 64,
    prime: Annotated[
        Path | None,
        typer.Option(
            "--prime",
            help="Audio file to continue from; stretches first hear pieces of it (default: of the band's recordings).",
        ),
    ] = None,
    device: Device = None,
    bands_dir: BandsDir = None,
    seed: Seed = 0,
    max_length: MaxLength = MAX_LENGTH,
    quiet: Quiet = False,
) -> None:
    """Generate a track with a trained SampleRNN: a few long stretches at once, joined into one WAV."""
    with _reporting(quiet) as progress:
        seconds = _length(length, max_length)
        settings = dict(
            seed=seed, streams=streams, temperature=temperature, prime=prime, device=device, progress=progress
        )
        if band is not None:
            from composer.band.generate import generate_band_audio

            stats = generate_band_audio(_band(band, bands_dir), seconds, out, model=model, **settings)
        else:
            from composer.models.samplernn.generate import generate_audio

            stats = generate_audio(_model_dir(model, band, bands_dir, "audio"), seconds, out, **settings)
    if not quiet:
        fixed = f", {stats.regenerated} stretch(es) regenerated" if stats.regenerated else ""
        unfixed = f", {stats.unfixed} still silent/clipped/looping" if stats.unfixed else ""
        err.print(
            f"wrote [bold]{escape(str(out))}[/] ({stats.seconds:.1f} s in {stats.segments} stretches, "
            f"{len(stats.joins)} joins, "
            f"{stats.realtime_factor:.2f}x real time{fixed}{unfixed})"
        )


# ----------------------------------------------------------------------------------------------- the AI band


@app.command()
def render(
    band: Annotated[str, typer.Option("--band", "-b", help="Band name (see `composer band list`).")],
    length: Annotated[str, typer.Option("--length", help="Video length: 90s, 10m, 1h, 1:30:00.")] = "3m",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output .mp4 or folder (default: out/BAND-SEED/).")
    ] = None,
    songs: Annotated[int | None, typer.Option("--songs", help="Songs in the video (default: one per ~3 min).")] = None,
    template: Annotated[str | None, typer.Option("--template", "-t", help="Template (default: the band's).")] = None,
    size: Annotated[str | None, typer.Option("--size", help="Frame size: 720p, 1080p, portrait or WxH.")] = None,
    temperature: Annotated[
        float, typer.Option("--temperature", callback=_finite, help="Audio sampling temperature.")
    ] = 1.0,
    bands_dir: BandsDir = None,
    seed: Seed = 0,
    max_length: MaxLength = MAX_LENGTH,
    quiet: Quiet = False,
) -> None:
    """New songs by a band's AI: audio and lyrics generated in tandem, timed, rendered as karaoke."""
    from composer.band.render import render_band

    with _reporting(quiet) as progress:
        seconds = _length(length, max_length)
        result = render_band(
            _band(band, bands_dir),
            seconds,
            out,
            template=template,
            size=_size(size),
            seed=seed,
            songs=songs,
            temperature=temperature,
            progress=progress,
        )
    if quiet:
        return
    songs_text = "1 song" if len(result.songs) == 1 else f"{len(result.songs)} songs"
    err.print(
        f"wrote [bold]{escape(str(result.video))}[/] ({songs_text}, {result.frames} frames, "
        f"{len(result.timeline.lines)} lines, {result.wall_s:.0f} s)"
    )
    for song in result.songs:
        err.print(f"  {song.start:7.1f} s  {song.title}  ({song.lines} lines)", markup=False)
    for p in (*result.sidecars, result.thumbnail, *result.upload):
        err.print(f"  {p}", markup=False)


def _bitrate_k(text: str) -> int:
    """--bitrate 4500k, 4.5M or 4500 (kbit/s)."""
    t = text.strip().lower()
    scale = 1000 if t.endswith("m") else 1
    try:
        value = float(t.rstrip("km")) * scale
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 300 <= value <= 51000:
        raise ComposerError(f"--bitrate {text!r}: expected kbit/s from 300k to 51000k, e.g. 4500k")
    return round(value)


def _status_fields(state) -> dict:
    """The status line's figures for a machine (``--status-json``); ``time`` is the wall clock, UTC."""
    return {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "uptime_s": state.uptime_s,
        "ahead_s": round(state.ahead_s, 3),
        "generation_speed": round(state.generation_speed, 4),
        "songs": state.songs,
        "reconnects": state.reconnects,
        "holding": state.holding,
        "late_s": round(state.late_s, 3),
        "title": state.title,
    }


def _status_line(state) -> Text:
    def clock(s: float) -> str:
        return f"{int(s // 3600)}:{int(s // 60 % 60):02d}:{int(s % 60):02d}"

    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("LIVE ", style="bold red")
    line.append(f"{clock(state.uptime_s)}  buffer {state.ahead_s:5.0f} s  ")
    line.append(f"generation {state.generation_speed:4.2f}x real time  songs {state.songs}  ")
    line.append(f"reconnects {state.reconnects}  ")
    if state.holding:
        line.append("holding card", style="yellow")
    else:
        line.append(state.title[:60])
    if state.late_s > 2:
        line.append(f"  {state.late_s:.0f} s behind", style="yellow")
    return line


@app.command()
def stream(
    band: Annotated[str, typer.Option("--band", "-b", help="Band name (see `composer band list`).")],
    hls: Annotated[Path | None, typer.Option("--hls", help="Folder for a live HLS playlist and its segments.")] = None,
    rtmp: Annotated[str | None, typer.Option("--rtmp", help="RTMP ingest URL (rtmp://host/app/key).")] = None,
    template: Annotated[str | None, typer.Option("--template", "-t", help="Template (default: the band's).")] = None,
    size: Annotated[str | None, typer.Option("--size", help="Frame size: 720p, 1080p, portrait or WxH.")] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Stop after this much stream (2h, 90m); default: until stopped.")
    ] = None,
    buffer: Annotated[str, typer.Option("--buffer", help="Finished songs kept ahead of the playhead.")] = "3m",
    song_length: Annotated[str, typer.Option("--song-length", help="Length of each song.")] = "200s",
    segment: Annotated[str, typer.Option("--segment", help="HLS segment length.")] = "4s",
    bitrate: Annotated[str, typer.Option("--bitrate", help="Video bitrate (constant, RTMP): 4500k, 6M.")] = "4500k",
    now_playing: Annotated[
        Path | None, typer.Option("--now-playing", help="File that gets a JSON line per song as it goes on air.")
    ] = None,
    temperature: Annotated[
        float, typer.Option("--temperature", callback=_finite, help="Audio sampling temperature.")
    ] = 1.0,
    speed: Annotated[float, typer.Option("--speed", callback=_finite, hidden=True)] = 1.0,  # tests only: pace x
    status_json: Annotated[
        bool, typer.Option("--status-json", help="The status as one JSON line on stdout per second of stream.")
    ] = False,
    bands_dir: BandsDir = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """A live stream of a band's new songs without end: HLS and/or RTMP, paced at real time."""
    from rich.live import Live

    from composer.stream.live import stream_band
    from composer.stream.sink import HlsTarget, RtmpTarget

    _setup_logging()
    try:
        targets, bitrate_k = [], _bitrate_k(bitrate)
        if hls is not None:
            targets.append(HlsTarget(hls, segment_s=_seconds(segment, "--segment")))
        if rtmp is not None:
            targets.append(RtmpTarget(rtmp, bitrate_k=bitrate_k))
        if not targets:
            raise ComposerError("give --hls DIR, --rtmp URL or both")
        options = {
            "template": template,
            "size": _size(size),
            "seed": seed,
            "duration": _seconds(duration, "--duration") if duration is not None else None,
            "buffer_s": _seconds(buffer, "--buffer"),
            "song_seconds": _seconds(song_length, "--song-length"),
            "now_playing": now_playing,
            "temperature": temperature,
            "speed": speed,
        }
        with (
            Live(Text("starting: generating the first song"), console=err, transient=False)
            if not quiet
            else (contextlib.nullcontext()) as live
        ):
            sent = [-1.0]  # the uptime last written as JSON: a line as it starts, then one per second of stream

            def status(state) -> None:
                if live is not None:
                    live.update(_status_line(state) if state.songs else Text("starting: generating the first song"))
                if status_json and state.uptime_s != sent[0]:
                    sent[0] = state.uptime_s
                    print(json.dumps(_status_fields(state)), flush=True)

            result = stream_band(_band(band, bands_dir), targets, status=status, **options)
    except ComposerError as e:
        err.print(f"[red]error:[/] {escape(str(e))}", markup=True, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt as e:
        why = "SIGTERM" if isinstance(e, Terminated) else "Ctrl-C"
        err.print(f"stream stopped ({why}): the playlist is ended, ffmpeg stopped", markup=False)
        raise typer.Exit(_interrupted_status(e)) from None
    if not quiet:
        err.print(
            f"stream ended: {result.seconds:.0f} s sent, {result.songs} songs, the buffer ran dry {result.holds} "
            f"time(s), {result.reconnects} reconnect(s)",
            markup=False,
        )


@app.command()
def batch(
    jobfile: Annotated[Path, typer.Argument(help="Job file (TOML): defaults and a list of jobs.")],
    workers: Annotated[
        int, typer.Option("--workers", "-w", callback=_between(1, 64), help="Jobs at once in the local pool.")
    ] = 1,
    ray: Annotated[
        bool, typer.Option("--ray", help="Run the jobs as Ray tasks (a local Ray unless --ray-address).")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", metavar="ADDRESS", help="The Ray cluster to use (implies --ray).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run or be skipped, and why.")] = False,
    allow_outside: Annotated[
        bool, typer.Option("--allow-outside", help="Let job outputs lie outside out_dir.")
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Many videos from one job file: resumable (a manifest beside the outputs), local pool or Ray."""
    from rich.live import Live
    from rich.table import Table

    from composer.batch.jobfile import load_jobfile
    from composer.batch.run import plan_batch, run_batch

    rows: dict[str, dict] = {}

    def table(final: bool = False) -> Table:
        t = Table("job", "kind", "status", "stage", "progress", "time", title="batch" if not final else "summary")
        for name, r in rows.items():
            colour = {"done": "green", "failed": "red", "skipped": "dim", "running": "yellow"}.get(r["state"], "")
            secs = (
                r.get("seconds")
                if r["state"] in ("done", "failed")
                else (time.monotonic() - r["since"] if r["state"] == "running" else None)
            )
            pct = (
                "100%"
                if r["state"] == "done"
                else (f"{100 * r.get('fraction', 0):.0f}%" if r["state"] == "running" else "")
            )
            t.add_row(
                Text(name),
                r.get("kind", ""),
                f"[{colour}]{r['state']}[/]" if colour else r["state"],
                Text(r.get("error") or (r.get("reason", "") if final else r.get("stage", r.get("reason", "")))),
                pct,
                f"{secs:.0f} s" if secs is not None else "",
            )
        return t

    def event(name: str, state: str, info: dict) -> None:
        row = rows.setdefault(name, {"state": state, "since": time.monotonic()})
        if state == "running" and row["state"] != "running":
            row["since"] = time.monotonic()
        row["state"] = state
        row.update({k: v for k, v in info.items() if v is not None})

    with _reporting(True):
        jf = load_jobfile(jobfile, allow_outside=allow_outside)
        if dry_run:
            plan = plan_batch(jf)
            out = Console(highlight=False)
            for r in plan.results:
                what = {"queued": "run", "skipped": "skip", "failed": "fail"}[r.status]
                out.print(
                    f"{what:<5} {r.name} ({r.kind}): {r.reason}" + (f": {r.error}" if r.error else ""), markup=False
                )
            return
        try:
            with (
                Live(table(), console=err, refresh_per_second=4, transient=True, get_renderable=table)
                if not quiet
                else contextlib.nullcontext()
            ):
                result = run_batch(jf, workers=workers, ray=ray_address or ("local" if ray else None), event=event)
        except KeyboardInterrupt as e:
            err.print("[red]interrupted[/]: finished jobs and the manifest are kept; rerun to do the rest", markup=True)
            raise typer.Exit(_interrupted_status(e)) from None
    failed = [r for r in result.results if r.status == "failed"]
    if not quiet:
        err.print(table(final=True))
        counts = {s: sum(r.status == s for r in result.results) for s in ("done", "skipped", "failed")}
        err.print(
            f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed in "
            f"{result.wall_s:.0f} s; manifest {result.manifest}",
            markup=False,
        )
    for r in failed:
        err.print(f"[red]failed:[/] {escape(r.name)}: {escape(str(r.error))}", markup=True, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry for `python -m composer`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
