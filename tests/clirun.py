"""composer's CLI run in-process (typer's runner), for tests about what it prints and exits with."""

from typer.testing import CliRunner

from composer.cli import app


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def karaoke_cli(song_inputs, lyrics, out, *extra, quiet: bool = True):
    """`composer karaoke [-q]` of the test song (``song_inputs``) with these lyrics into ``out``."""
    return cli(
        "karaoke",
        song_inputs.audio,
        lyrics,
        "--images",
        song_inputs.images,
        "-o",
        out,
        "--template",
        song_inputs.template,
        *(["-q"] if quiet else []),
        *extra,
    )
