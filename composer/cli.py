"""The `composer` command: parses, calls the library, reports. No logic lives here."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from composer.errors import ComposerError

app = typer.Typer(
    help="composer: AI death-metal karaoke videos, end to end.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Seed = Annotated[int, typer.Option("--seed", help="Same seed, same output.")]
TemplateOpt = Annotated[str, typer.Option("--template", "-t", help="Built-in template name or path to a .toml.")]


class _RichWarnings(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning:[/] {record.getMessage()}", markup=True)


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
        TextColumn("{task.description:<10}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err, disable=quiet,
        transient=False,
    )  # fmt: skip
    tasks: dict[str, int] = {}

    def progress(stage: str, done: float, total: float) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        with bar:
            yield progress
    except ComposerError as e:
        err.print(f"[red]error:[/] {e}", markup=True, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]: no output was written", markup=True)
        raise typer.Exit(130) from None


def _seconds(text: str, what: str) -> float:
    from composer.timeparse import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as e:
        raise ComposerError(f"{what}: {e}") from None
    return value


@app.command()
def karaoke(
    audio: Annotated[Path, typer.Argument(help="Song: wav, flac, ogg or mp3.")],
    lyrics: Annotated[Path, typer.Argument(help="Plain lyrics (.txt) or timed (.lrc, enhanced .lrc, .ass).")],
    images: Annotated[Path, typer.Option("--images", "-i", help="Folder of jpg/png/webp images.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .mp4; sidecars are written beside it.")],
    template: TemplateOpt = "gore",
    seed: Seed = 0,
    title: Annotated[Optional[str], typer.Option(help="Title card and sidecar title.")] = None,
    quiet: Quiet = False,
) -> None:
    """Any song + lyrics + images -> a finished karaoke video."""
    from composer.pipeline import karaoke as run

    with _reporting(quiet) as progress:
        result = run(audio, lyrics, images, out, template=template, seed=seed, title=title, progress=progress)
    _report_video(result, quiet)


def _report_video(result, quiet: bool) -> None:
    if quiet:
        return
    err.print(f"wrote [bold]{result.video}[/] ({result.frames} frames, {len(result.timeline.lines)} lines)")
    for p in (*result.sidecars, result.thumbnail):
        err.print(f"  {p}")
    dropped = result.timeline.meta.get("dropped_lines", 0)
    if dropped:
        err.print(f"  {dropped} lyric lines did not fit the song")


@app.command()
def align(
    audio: Annotated[Path, typer.Argument(help="Song: wav, flac, ogg or mp3.")],
    lyrics: Annotated[Path, typer.Argument(help="Plain lyrics: one line a line, blank line between stanzas.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .lrc (enhanced), .ass, .srt or .json.")],
    title: Annotated[Optional[str], typer.Option(help="Title written into the file.")] = None,
    quiet: Quiet = False,
) -> None:
    """Time lyrics to a song and write the timing alone, for your own karaoke player."""
    from composer.pipeline import align_file

    with _reporting(quiet):
        timeline = align_file(audio, lyrics, out, title=title)
    if not quiet:
        err.print(f"wrote [bold]{out}[/] ({len(timeline.lines)} lines)")


@app.command()
def preview(
    template: TemplateOpt = "gore",
    at: Annotated[str, typer.Option("--at", help="Time of the frame, e.g. 12s or 0:12.")] = "12s",
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write.")] = Path("preview.png"),
    images: Annotated[Optional[Path], typer.Option("--images", "-i", help="Image folder (default: a sample).")] = None,
    lyrics: Annotated[Optional[Path], typer.Option("--lyrics", help="Lyrics to show (default: samples).")] = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """One frame of a template over sample lyrics, to tweak a template by eye."""
    from composer.preview import preview_frame

    with _reporting(True):
        path = preview_frame(template, _seconds(at, "--at"), out, images_dir=images, lyrics_path=lyrics, seed=seed)
    if not quiet:
        err.print(f"wrote [bold]{path}[/]")


@app.command()
def example(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .mp4; inputs are written beside it.")] = Path(
        "example/example.mp4"
    ),
    length: Annotated[str, typer.Option("--length", help="Song length, e.g. 40s or 2m.")] = "40s",
    template: TemplateOpt = "gore",
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Make an example song, lyrics and images, then render them as a karaoke video."""
    from composer.example import make_example

    with _reporting(quiet) as progress:
        seconds = _seconds(length, "--length")
        result = make_example(out, seconds=seconds, template=template, seed=seed, progress=progress)
    _report_video(result, quiet)


@app.command()
def templates() -> None:
    """List the built-in templates."""
    from composer.template import builtin_templates

    for name in builtin_templates():
        typer.echo(name)


# ----------------------------------------------------------------------------------------------- lyric model

train_app = typer.Typer(help="Train the band's models.", no_args_is_help=True)
generate_app = typer.Typer(help="Generate with trained models.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(generate_app, name="generate")


@train_app.command("lyrics")
def train_lyrics_cmd(
    lyrics: Annotated[list[Path], typer.Option("--lyrics", help="Lyric file or folder (repeatable): a line a line, blank line between stanzas.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write (transformers' layout).")],
    preset: Annotated[str, typer.Option("--preset", help="Model size: demo (~1.3M params) or debug (tiny).")] = "demo",
    steps: Annotated[int, typer.Option("--steps", help="Total training steps to reach.")] = 2000,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the model in --out from its last checkpoint.")] = False,
    source: Annotated[
        Optional[list[str]], typer.Option("--source", help="Add public-domain text: kjv (needs composer[corpus]).")
    ] = None,
    threads: Annotated[int, typer.Option("--threads", help="CPU threads (1 is fastest on a busy machine).")] = 1,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Train a lyric model (a small GPT-2) from scratch on lyric files."""
    from composer.lyrics.train import train_lyrics

    def report(r) -> None:
        if not quiet:
            err.print(f"step {r.step}/{r.steps}: train {r.train_loss / math.log(2):.3f} bits/char, "
                      f"held-out {r.val_bits_per_char:.3f} bits/char, {r.tokens_per_s:,.0f} tokens/s")  # fmt: skip

    with _reporting(quiet) as progress:
        result = train_lyrics(
            lyrics, out, preset=preset, steps=steps, resume=resume, seed=seed, sources=source or (), threads=threads,
            progress=progress, report=report,
        )  # fmt: skip
    if not quiet:
        err.print(
            f"wrote [bold]{result.out_dir}[/] ({result.params:,} params, step {result.step}, "
            f"{result.train_chars:,} training / {result.val_chars:,} held-out chars, "
            f"held-out {result.val_bits_per_char:.3f} bits/char)"
        )


@generate_app.command("lyrics")
def generate_lyrics_cmd(
    model: Annotated[Path, typer.Option("--model", "-m", help="Lyric model folder from `composer train lyrics`.")],
    lines: Annotated[int, typer.Option("--lines", help="How many lines.")] = 40,
    temperature: Annotated[float, typer.Option("--temperature", help="Above 1 wilder, below 1 safer.")] = 0.9,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass, in (0, 1].")] = 0.95,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Lyrics .txt to write (default: stdout).")] = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Write a song's lyrics (verses and a returning chorus) as plain text the karaoke engine reads."""
    from composer.lyrics.generate import generate_song, write_lyrics

    with _reporting(quiet or out is None) as progress:
        song = generate_song(model, lines, seed=seed, temperature=temperature, top_p=top_p, progress=progress)
        if out is not None:
            write_lyrics(song, out)
    if out is None:
        typer.echo(song.to_text(), nl=False)
    if not quiet:
        err.print(f"title: [bold]{song.title}[/]" + (f"; wrote [bold]{out}[/]" if out else ""))


# ----------------------------------------------------------------------------------------------- audio model


@train_app.command("audio")
def train_audio_cmd(
    audio: Annotated[Path, typer.Option("--audio", help="Folder of the band's audio (wav, flac, ogg, mp3).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write (safetensors + config.json).")],
    preset: Annotated[str, typer.Option("--preset", help="Model size: demo (~4M params), debug (tiny) or dadabots.")] = "demo",
    steps: Annotated[int, typer.Option("--steps", help="Total training steps to reach.")] = 2000,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the model in --out from its last checkpoint.")] = False,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Train a SampleRNN audio model on a folder of audio."""
    from composer.audio.train import train_audio

    def report(r) -> None:
        if not quiet:
            err.print(f"step {r.step}/{r.steps}: train {r.train_bits_per_sample:.3f} bits/sample, "
                      f"held-out {r.val_bits_per_sample:.3f} bits/sample, {r.samples_per_s:,.0f} samples/s")  # fmt: skip

    with _reporting(quiet) as progress:
        result = train_audio(audio, out, preset=preset, steps=steps, resume=resume, seed=seed, progress=progress,
                             report=report)  # fmt: skip
    if not quiet:
        err.print(
            f"wrote [bold]{result.out_dir}[/] ({result.params:,} params, step {result.step}, "
            f"{result.train_chunks} training / {result.val_chunks} held-out chunks, "
            f"held-out {result.val_bits_per_sample:.3f} bits/sample)"
        )


@generate_app.command("audio")
def generate_audio_cmd(
    model: Annotated[Path, typer.Option("--model", "-m", help="Audio model folder from `composer train audio`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="WAV to write (mono, the model's rate).")],
    length: Annotated[str, typer.Option("--length", help="Track length, e.g. 90s, 10m or 1:30.")] = "1m",
    temperature: Annotated[float, typer.Option("--temperature", help="Above 1 wilder, below 1 safer.")] = 0.95,
    streams: Annotated[int, typer.Option("--streams", help="Segments generated at once (a batch).")] = 64,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Generate a track with a trained SampleRNN: many segments at once, crossfaded into one WAV."""
    from composer.audio.generate import generate_audio

    with _reporting(quiet) as progress:
        seconds = _seconds(length, "--length")
        if seconds <= 0:
            raise ComposerError(f"--length must be positive (got {length!r})")
        stats = generate_audio(model, seconds, out, seed=seed, streams=streams, temperature=temperature,
                               progress=progress)  # fmt: skip
    if not quiet:
        fixed = f", {stats.regenerated} segment(s) regenerated" if stats.regenerated else ""
        unfixed = f", {stats.unfixed} still silent/clipped/looping" if stats.unfixed else ""
        err.print(
            f"wrote [bold]{out}[/] ({stats.seconds:.1f} s in {stats.segments} segments, "
            f"{stats.realtime_factor:.2f}x real time{fixed}{unfixed})"
        )


def main() -> None:  # pragma: no cover - console entry for `python -m composer`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
