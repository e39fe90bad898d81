"""Hostile and careless input: each case gets one `error:` line and exit 2, or works, never a traceback or a
run without bound; an interrupted run leaves no file, no work folder and no process.

Cases tried here:
- seeds out of range: --seed -1, --seed 2**64 (numpy and torch reject them deep inside)
- NaN and infinity: --temperature nan, --top-p inf, --length of 45 nines (reads as inf), --at nan,
  template values nan / inf (TOML has both)
- --length past the cap (100h) without --max-length; --lines 10**9, --streams 10**7 or 0, --workers 10**5,
  --threads -1
- Rich markup in an output path and a title ("[/b]"): the render succeeds and reports
- a newline and an escape character in --title: one Title line in the .ass header
- a newline in `band create --description`: refused; a newline in a lyric folder's name: band.toml reads back
- lyric "files" that are devices or pipes: /dev/zero, a FIFO; a 1 MB line in a .txt or .lrc given to karaoke;
  a 100 kB title in --title or an .lrc's [ti:]; a template or job file that is /dev/zero or a FIFO
- unbounded work: a 1 MB word in an .lrc, a 200k-line .lrc, a 1 MB digit run in a corpus file, the syllable
  counter on a 1 MB word (each under a generous timeout)
- a FLAC whose header claims 6 hours (holds 10 s): read as 10 s without allocating 6 hours
- an 800 Hz WAV into `karaoke` and `align`
- a PostScript file named .jpg in the image folder: never opened as PostScript (no Ghostscript)
- model folders: config.json sizes of 10**9, NaN, inf, strings, booleans (audio and lyric models);
  lyrics.json with bad line_chars, NaN stanza_lines, negative novelty_chars, or not an object; a novelty.npy
  whose header claims a terabyte
- SIGTERM to `composer karaoke` mid-render: no .part file, no work folder in TMPDIR, no ffmpeg left; SIGTERM
  before a command's reporting began (while torch loads): still 143 and the message, not a silent 130
- an output name of 245 bytes: legal, but too long for its temporary name (`.NAME.xxxxxxxx.part`)
- a full disk (a file-size limit) while `spectrogram` writes its PNG and `example` its WAV

The whole review, case by case, is in tests/HOSTILE_REVIEW.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from composer.cli import MAX_SEED
from composer.errors import ComposerError
from tests.clirun import cli, karaoke_cli
from tests.procs import alive, children, composer, run, started

GENEROUS_S = 120  # a hang guard, not a timing: linear work takes seconds even on a loaded machine; the
# quadratic loops these tests caught took minutes to hours


def assert_one_error(result, *needles) -> str:
    """Exit 2, exactly one `error:` line (containing each needle), no traceback; the line."""
    output = result.output if hasattr(result, "output") else result.stderr
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    lines = [ln for ln in output.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in output, output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@contextlib.contextmanager
def within(seconds: float):
    """Fail (rather than hang) when the body runs past ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: unbounded work")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ----------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("seed", [-1, 2**64, MAX_SEED + 1])
@pytest.mark.parametrize(
    "command", [["generate", "audio", "-o", "x.wav"], ["render", "--band", "x"], ["generate", "lyrics", "--band", "x"]]
)
def test_seed_out_of_range_is_one_error(tmp_path, command, seed):
    res = cli(*command, "--seed", seed)
    assert_one_error(res, "--seed", f"0 to {MAX_SEED}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, needle",
    [
        (["generate", "audio", "-o", "x.wav", "--temperature", "nan"], "--temperature"),
        (["generate", "lyrics", "--band", "x", "--temperature", "inf"], "--temperature"),
        (["generate", "lyrics", "--band", "x", "--top-p", "nan"], "--top-p"),
        (["render", "--band", "x", "--temperature", "-inf"], "--temperature"),
        (["render", "--band", "x", "--length", "9" * 45], "--length"),
        (["generate", "audio", "-o", "x.wav", "--length", "nan"], "--length"),
        (["preview", "--at", "inf", "-o", "p.png"], "--at"),
        (["train", "audio", "--audio", "a", "--out", "m", "--lr", "nan"], "--lr"),
        (["preview", "--at", "1" * 100_000 + "x", "-o", "p.png"], "--at"),
    ],
)
def test_nan_and_infinity_in_options_are_one_error(tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    with within(GENEROUS_S):
        res = cli(*args)
    line = assert_one_error(res, needle)
    assert len(line) < 300  # a 100k-character value is not echoed back whole
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, needle",
    [
        (["generate", "lyrics", "--band", "x", "--lines", "1000000000"], "--lines 1000000000"),
        (["generate", "audio", "-o", "x.wav", "--streams", "10000000"], "--streams 10000000"),
        (["generate", "audio", "-o", "x.wav", "--streams", "0"], "--streams 0"),
        (["batch", "jobs.toml", "--workers", "100000"], "--workers 100000"),
        (["train", "audio", "--threads", "-1"], "--threads -1"),
        (["train", "audio", "--lr-half-life", "0"], "--lr-half-life 0"),
        (["train", "audio", "--seq-len", "0"], "--seq-len 0"),
        (["train", "audio", "--batch-size", "100000"], "--batch-size 100000"),
        (["train", "audio", "--add-tier", "1"], "--add-tier 1"),
    ],
)
def test_counts_past_their_bounds_are_one_error(tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    res = cli(*args)
    assert_one_error(res, needle, "allowed values are")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "body, key",
    [
        ("[text]\nline_spacing = nan\n", "line_spacing"),
        ("[text]\nlead_in = inf\n", "lead_in"),
        ("[video]\nfps = nan\n", "fps"),
    ],
)
def test_nan_and_infinity_in_a_template_are_one_error(tmp_path, body, key):
    bad = tmp_path / "bad.toml"
    bad.write_text(body)
    res = cli("preview", "--template", bad, "-o", tmp_path / "p.png")
    assert_one_error(res, "bad.toml", key)
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("command", [["render", "--band", "x"], ["generate", "audio", "-o", "x.wav"], ["example"]])
def test_length_past_the_cap_names_the_flag_that_allows_it(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    res = cli(*command, "--length", "100h")
    assert_one_error(res, "--length 100h", "--max-length")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------- names


def test_markup_in_paths_and_title_does_not_break_the_report(song_inputs, tmp_path):
    folder = tmp_path / "out[red]["
    folder.mkdir()
    out = folder / "b]v.mp4"  # the path reads ".../out[red][/b]v.mp4"
    res = karaoke_cli(song_inputs, song_inputs.lyrics, out, "--title", "[/]Gore [bold]", quiet=False)
    assert res.exit_code == 0, res.output
    assert out.is_file()
    assert str(out) in res.output.replace("\n", "")


def test_newlines_and_escapes_in_a_title_stay_on_one_header_line(song_inputs, tmp_path):
    out = tmp_path / "t.ass"
    res = cli("align", song_inputs.audio, song_inputs.lyrics, "-o", out, "--title", "Rot\n[Events]\x1b[2J\r\nX", "-q")
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "Title: Rot [Events][2J X\n" in text
    assert text.count("[Events]") == 2  # the real section, and the title's text on its own line


def _band_material(song_inputs, tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(song_inputs.audio, audio / "song.wav")
    return audio


def _create_band(audio, lyrics, song_inputs, tmp_path, *extra):
    """`composer band create rot` into ``tmp_path/bands``."""
    return cli(
        "band",
        "create",
        "rot",
        "--audio",
        audio,
        "--lyrics",
        lyrics,
        "--images",
        song_inputs.images,
        "--bands-dir",
        tmp_path / "bands",
        *extra,
    )


def test_band_description_with_a_newline_is_refused(song_inputs, tmp_path):
    audio = _band_material(song_inputs, tmp_path)
    res = _create_band(audio, song_inputs.lyrics, song_inputs, tmp_path, "--description", "gore\nsample_rate = 8000")
    assert_one_error(res, "--description")
    assert not (tmp_path / "bands" / "rot").exists()


def test_band_toml_reads_back_paths_with_newlines_and_quotes(song_inputs, tmp_path):
    from composer.band.profile import load_band

    audio = _band_material(song_inputs, tmp_path)
    lyrics = tmp_path / 'odd\nname "q" \\ [x]'
    lyrics.mkdir()
    shutil.copy(song_inputs.lyrics, lyrics / "song.txt")
    res = _create_band(audio, lyrics, song_inputs, tmp_path)
    assert res.exit_code == 0, res.output
    band = load_band(tmp_path / "bands" / "rot")
    assert band.lyric_files() == [lyrics / "song.txt"]


# ----------------------------------------------------------------------------------------------- lyric files


def _device_or_pipe(path, kind: str):
    """/dev/zero (endless), or a FIFO at ``path`` that nobody writes (a read would wait forever)."""
    if kind == "device":
        return "/dev/zero"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_lyric_file_that_is_a_device_or_a_pipe_is_one_error(song_inputs, tmp_path, kind):
    lyrics = _device_or_pipe(tmp_path / "lyrics.txt", kind)
    out = tmp_path / "v.mp4"
    # a subprocess, so a read that never ends fails this test instead of hanging the suite
    res = run(
        composer("karaoke", song_inputs.audio, lyrics, "--images", song_inputs.images, "-o", out, "-q"), timeout=120
    )
    assert_one_error(res, str(lyrics), "not a regular file")
    assert not out.exists()


@pytest.mark.parametrize("suffix, line", [(".txt", "a" * 1_000_000), (".lrc", "[00:01.00]" + "gore " * 200_000)])
def test_lyric_line_no_screen_can_show_is_one_error(song_inputs, tmp_path, suffix, line):
    lyrics = tmp_path / f"lyrics{suffix}"
    lyrics.write_text(line + "\n" + song_inputs.lyrics.read_text())
    out = tmp_path / "v.mp4"
    with within(GENEROUS_S):  # drawn, this line took over five minutes a frame's worth at a time
        res = karaoke_cli(song_inputs, lyrics, out)
    assert_one_error(res, lyrics.name, "lyric line 1", "at most")
    assert not out.exists()


@pytest.mark.parametrize("where", ["--title", "lrc"])
def test_title_no_screen_can_show_is_one_error(song_inputs, tmp_path, where):
    lyrics, title = tmp_path / "lyrics.lrc", "Gore " * 20_000
    lyrics.write_text((f"[ti:{title}]\n" if where == "lrc" else "") + "[00:01.00]rot\n[00:05.00]end\n")
    out = tmp_path / "v.mp4"
    extra = ["--title", title] if where == "--title" else []
    with within(GENEROUS_S):
        res = karaoke_cli(song_inputs, lyrics, out, *extra)
    assert_one_error(res, "--title" if where == "--title" else "the title", "at most")
    assert not out.exists()


def test_background_video_that_is_a_pipe_is_one_error(song_inputs, tmp_path):
    loop = _device_or_pipe(tmp_path / "loop.mp4", "fifo")
    out = tmp_path / "v.mp4"
    with within(GENEROUS_S):  # opening it waited for a writer, forever
        res = cli("karaoke", song_inputs.audio, song_inputs.lyrics, "--background", loop, "-o", out, "-q")
    assert_one_error(res, "loop.mp4", "not a regular file")
    assert [p.name for p in tmp_path.iterdir()] == ["loop.mp4"]


@pytest.mark.parametrize("kind", ["device", "fifo"])
@pytest.mark.parametrize("command", ["preview --template", "batch"])
def test_settings_file_that_is_a_device_or_a_pipe_is_one_error(tmp_path, kind, command):
    path = _device_or_pipe(tmp_path / "settings.toml", kind)
    args = [*command.split(), path, "-o", tmp_path / "p.png"] if command != "batch" else ["batch", path]
    # a subprocess, so a read that never ends fails this test instead of hanging the suite
    res = run(composer(*args), timeout=120)
    assert_one_error(res, str(path), "not a regular file")
    assert [p.name for p in tmp_path.iterdir()] == ([] if kind == "device" else ["settings.toml"])


def test_huge_word_in_an_lrc_is_read_in_bounded_time(tmp_path):
    from composer.media.lyricsfile import read_lyrics

    path = tmp_path / "w.lrc"
    path.write_text("[00:01.00]" + "a" * 1_000_000 + "\n[00:05.00]the end\n")
    with within(GENEROUS_S):
        timeline = read_lyrics(path, 60.0)
    assert len(timeline.lines) == 2


def test_200k_line_lrc_is_one_error_in_bounded_time(tmp_path):
    from composer.media.lyricsfile import MAX_TIMED_LINES, read_lyrics

    path = tmp_path / "long.lrc"
    path.write_text("".join(f"[{i // 6000:02d}:{i // 100 % 60:02d}.{i % 100:02d}]rot\n" for i in range(200_000)))
    with within(GENEROUS_S), pytest.raises(ComposerError, match=f"at most {MAX_TIMED_LINES:,}"):
        read_lyrics(path, 3600.0)


def test_timed_lines_up_to_the_cap_are_read_in_bounded_time(tmp_path):
    from composer.media.lyricsfile import MAX_TIMED_LINES, read_lyrics

    path = tmp_path / "long.lrc"
    path.write_text("".join(f"[{i // 60:02d}:{i % 60:02d}.00]rot\n" for i in range(MAX_TIMED_LINES)))
    with within(GENEROUS_S):
        timeline = read_lyrics(path, float(MAX_TIMED_LINES + 10))
    assert len(timeline.lines) == MAX_TIMED_LINES


def test_digit_run_in_a_corpus_file_is_read_in_bounded_time(tmp_path):
    from composer.models.lyricgpt.corpus import load_corpus

    path = tmp_path / "corpus.txt"
    lines = [f"the grave is cold and the worms are {i} deep" for i in range(60)]
    path.write_text("\n".join(lines[:30] + ["1" * 1_000_000, "x " + "2" * 1_000_000 + " y"] + lines[30:]) + "\n")
    with within(GENEROUS_S):
        corpus = load_corpus([path])
    assert len(corpus.lines) == 60


@pytest.mark.parametrize("word", ["a" * 1_000_000, "b" * 1_000_000, "ab" * 500_000, "9" * 1_000_000])
def test_syllables_of_a_huge_word_in_bounded_time(word):
    from composer.media.syllables import MAX_SYLLABLES, count_syllables, syllabify

    with within(GENEROUS_S):
        n = count_syllables(word)
        pieces = syllabify(word)
    assert 1 <= n <= MAX_SYLLABLES
    assert "".join(pieces) == word and len(pieces) == n


# ----------------------------------------------------------------------------------------------- SIGTERM


def test_sigterm_mid_render_leaves_no_file_no_work_folder_no_process(song_inputs, tmp_path):
    out, work = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    work.mkdir()
    cmd = composer(
        "karaoke",
        song_inputs.audio,
        song_inputs.lyrics,
        "--images",
        song_inputs.images,
        "-o",
        out / "v.mp4",
        "--template",
        song_inputs.template,
        "-q",
    )
    env = {**os.environ, "TMPDIR": str(work)}
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        deadline = time.time() + 120
        kids: set[int] = set()
        while time.time() < deadline and not kids and proc.poll() is None:  # ffmpeg is encoding frames
            time.sleep(0.1)
            kids = children(proc)
        assert kids, "the render ended before ffmpeg was seen"
        assert list(work.iterdir()), "the render keeps its work in TMPDIR"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert b"Traceback" not in err, err
        assert list(out.iterdir()) == []
        assert list(work.iterdir()) == []
        time.sleep(0.5)
        assert alive(kids) == []


def test_sigterm_before_a_command_reports_exits_143_with_the_message(song_inputs, tmp_path, monkeypatch):
    # typer turns an interrupt outside the command's reporting block into a bare exit 130
    import composer.cli
    from composer.errors import Terminated

    def terminated() -> None:
        raise Terminated

    monkeypatch.setattr(composer.cli, "_setup_logging", terminated)
    result = cli("spectrogram", song_inputs.audio, "-o", tmp_path / "s.png")
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "interrupted" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------- disk and names


@pytest.mark.parametrize("command", ["align", "spectrogram"])
def test_name_too_long_for_its_temporary_name_is_one_error(song_inputs, tmp_path, command):
    # a 245-byte name is legal, but '.NAME.xxxxxxxx.part.lrc' is not: it was an OSError traceback
    name = "n" * 241 + (".lrc" if command == "align" else ".png")
    args = [song_inputs.audio, song_inputs.lyrics] if command == "align" else [song_inputs.audio]
    assert_one_error(cli(command, *args, "-o", tmp_path / name), "file name too long", "245 bytes")
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def file_size_limit(nbytes: int):
    """A full disk, for this process: writes past ``nbytes`` fail with EFBIG (Python ignores SIGXFSZ)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


@pytest.mark.parametrize("command", ["spectrogram", "example"])
def test_full_disk_while_writing_is_one_error_naming_the_output(song_inputs, tmp_path, command):
    # the PNG (Pillow) and the WAV (libsndfile) writes ended in tracebacks when the disk filled up
    if command == "spectrogram":
        args, named = ["spectrogram", song_inputs.audio, "-o", tmp_path / "s.png"], "s.png"
    else:
        args, named = ["example", "-o", tmp_path / "ex" / "e.mp4", "--length", "10s", "-q"], "e-song.wav"
    with file_size_limit(64 * 1024):
        result = cli(*args)
    assert_one_error(result, named, "disk")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


# ----------------------------------------------------------------------------------------------- images


def test_postscript_named_jpg_never_reaches_ghostscript(song_inputs, tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    from composer.karaoke.render.background import load_images, open_rgb

    opened = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: opened.append(self) or 1 / 0)
    images = tmp_path / "imgs"
    shutil.copytree(song_inputs.images, images)
    evil = images / "aaa.jpg"
    evil.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n(pwned) print showpage\n")
    assert evil not in load_images(images)
    with pytest.raises(ComposerError, match="aaa.jpg"):
        open_rgb(evil)
    assert opened == []


# ----------------------------------------------------------------------------------------------- audio


def _tone(seconds: float, rate: int):
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.stack([x, x], axis=1)


def _flac_claiming(path, seconds_claimed: float, rate: int = 48000) -> None:
    """A 10 s FLAC whose STREAMINFO says it holds ``seconds_claimed``."""
    import soundfile as sf

    sf.write(path, _tone(10.0, rate), rate)
    data = bytearray(path.read_bytes())
    at = 8 + 10  # "fLaC", block header, then rate(20) channels(3) bits(5) total samples(36) in 8 bytes
    packed = int.from_bytes(data[at : at + 8], "big")
    packed = (packed & ~((1 << 36) - 1)) | int(seconds_claimed * rate)
    data[at : at + 8] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(data))


def test_audio_header_claiming_hours_is_read_without_allocating_them(tmp_path):
    import tracemalloc

    import soundfile as sf

    from composer.media.audio import read_audio

    path = tmp_path / "liar.flac"
    _flac_claiming(path, 6 * 3600)
    assert sf.info(str(path)).duration > 5 * 3600  # the lie is what the library reports
    tracemalloc.start()
    try:
        audio = read_audio(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 9.9 < audio.duration <= 10.0  # all of it but the last small read, which libsndfile drops
    assert peak < 400 * 2**20  # six hours of float32 stereo would be 8 GB


@pytest.mark.parametrize("command", ["karaoke", "align"])
def test_sample_rate_too_low_to_analyse_is_one_error(song_inputs, tmp_path, command):
    import soundfile as sf

    audio = tmp_path / "low.wav"
    sf.write(audio, _tone(14.0, 800), 800)
    out = tmp_path / ("v.mp4" if command == "karaoke" else "t.lrc")
    extra = ["--images", song_inputs.images] if command == "karaoke" else []
    res = cli(command, audio, song_inputs.lyrics, *extra, "-o", out, "-q")
    assert_one_error(res, "low.wav", "800 Hz")
    assert not out.exists()


# ----------------------------------------------------------------------------------------------- model folders

_DEMO = Path(__file__).resolve().parents[1] / "models" / "demo"


def _edited_copy(tmp_path, which: str, name: str, edit) -> Path:
    folder = tmp_path / which
    shutil.copytree(_DEMO / which, folder)
    data = json.loads((folder / name).read_text())
    edit(data)
    (folder / name).write_text(json.dumps(data))  # json writes NaN and Infinity, as a careless tool would
    return folder


@pytest.mark.parametrize(
    "key, value",
    [
        ("dims", [10**9, 256]),
        ("dims", [float("nan"), 256]),
        ("layers", 10**6),
        ("mlp_dim", float("inf")),
        ("frame_sizes", "16"),
        ("sample_rate", True),
    ],
)
def test_hostile_audio_model_config_is_one_error(tmp_path, key, value):
    import composer.models.samplernn.generate  # noqa: F401  (imported before the clock starts: torch is slow to import)

    model = _edited_copy(tmp_path, "audio", "config.json", lambda d: d.__setitem__(key, value))
    with within(GENEROUS_S):
        res = cli("generate", "audio", "--model", model, "--length", "2s", "-o", tmp_path / "x.wav", "-q")
    assert_one_error(res, "config.json", key)
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize(
    "name, key, value",
    [
        ("config.json", "n_embd", 10**9),
        ("config.json", "n_positions", 10**7),
        ("config.json", "n_layer", float("nan")),
        ("config.json", "vocab_size", "many"),
        ("lyrics.json", "line_chars", "abc"),
        ("lyrics.json", "line_chars", [90, 5]),
        ("lyrics.json", "stanza_lines", float("inf")),
        ("lyrics.json", "novelty_chars", -3),
    ],
)
def test_hostile_lyric_model_folder_is_one_error(tmp_path, name, key, value):
    import composer.models.lyricgpt.generate  # noqa: F401  (imported before the clock starts: transformers is slow)

    model = _edited_copy(tmp_path, "lyrics", name, lambda d: d.__setitem__(key, value))
    with within(GENEROUS_S):
        res = cli("generate", "lyrics", "--model", model, "--lines", "4", "-o", tmp_path / "x.txt", "-q")
    assert_one_error(res, name, key)
    assert not (tmp_path / "x.txt").exists()


def test_lyric_model_metadata_that_is_not_an_object_is_one_error(tmp_path):
    model = tmp_path / "lyrics"
    shutil.copytree(_DEMO / "lyrics", model)
    (model / "lyrics.json").write_text("[1, 2, 3]")
    res = cli("generate", "lyrics", "--model", model, "-o", tmp_path / "x.txt", "-q")
    assert_one_error(res, "lyrics.json", "JSON object")


def test_novelty_index_claiming_a_terabyte_is_one_error(tmp_path):
    import io

    import numpy as np

    model = tmp_path / "lyrics"
    shutil.copytree(_DEMO / "lyrics", model)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<u8", "fortran_order": False, "shape": (2**37,)})
    (model / "novelty.npy").write_bytes(header.getvalue() + bytes(64))
    res = cli("generate", "lyrics", "--model", model, "-o", tmp_path / "x.txt", "-q")
    assert_one_error(res, "novelty.npy")
    assert not (tmp_path / "x.txt").exists()


# ----------------------------------------------------------------------------------------------- newer surfaces


@pytest.mark.parametrize(
    "text, needle",
    [
        ("{number:d}", "placeholder bare"),  # str.format fails on the empty {number} of a lone song
        ("{title:>999999999}", "placeholder bare"),  # a gigabyte of padding
        ("{band!r}", "placeholder bare"),
        ("skull " * 200_000, "at most 300"),  # laid out on one card: minutes a frame
        ("{title} \U00013000", "[end] text"),  # no font has it: refused before any work, naming the key
    ],
)
def test_hostile_end_card_text_is_one_error(tmp_path, text, needle):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[end]\nenabled = true\ntext = "{text}"\n')
    with within(GENEROUS_S):
        res = cli("preview", "--template", bad, "--at", "1s", "-o", tmp_path / "p.png")
    line = assert_one_error(res, "bad.toml", needle)
    assert len(line) < 400  # a 1.2 MB value is not echoed back whole
    assert not (tmp_path / "p.png").exists()


def test_template_listing_thousands_of_voices_is_one_error(tmp_path):
    # each line's look was found by a scan of the voices: 60,000 voices (3 MB) took minutes per render
    body = "".join(f'[voices.v{i}]\ncolor = "#00ff00"\n' for i in range(5000))
    (tmp_path / "choir.toml").write_text(body)
    with within(GENEROUS_S):
        res = cli("preview", "--template", tmp_path / "choir.toml", "-o", tmp_path / "p.png")
    assert_one_error(res, "choir.toml", "5,000 voices", "at most 64")
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize(
    "voices, needle",
    [
        ([f"v{i}" for i in range(20_000)], "at most 64"),  # a choir of 20,000: its whole list was the error
        (["growl", "x" * 100_000], "'xxxx"),
        (["growl", "scream", "growl"], "'growl' is listed twice"),
    ],
)
def test_band_voices_error_names_one_voice_in_one_short_line(tmp_path, voices, needle):
    band = tmp_path / "choir"
    band.mkdir()
    listed = ", ".join(f'"{v}"' for v in voices)
    (band / "band.toml").write_text(f'name = "choir"\naudio = "a"\nlyrics = []\nimages = "i"\nvoices = [{listed}]\n')
    res = cli("generate", "lyrics", "--band", "choir", "--bands-dir", tmp_path, "--lines", "1")
    line = assert_one_error(res, "band.toml", needle)
    assert len(line) < 400


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--buffer", "1000h"], "--buffer"),  # songs ahead are held in memory: it would grow for hours
        (["--segment", "100000h"], "segment length"),  # ffmpeg refused it, after the first song was made
        (["--segment", "0.01s"], "segment length"),
        (["--rtmp", "http://example.com/live/key"], "not an RTMP URL"),
        (["--template", "fps7.toml"], "7 fps"),  # 48 kHz audio has no whole number of samples a frame
    ],
)
def test_stream_options_are_checked_before_any_song_is_made(debug_band, tmp_path, monkeypatch, args, needle):
    # each was refused only once the first song was made: minutes for a real band
    def no_songs_yet(*args, **kwargs):
        raise AssertionError("the band started generating before the options were checked")

    monkeypatch.setattr("composer.stream.live.AudioProcess", no_songs_yet)
    band = ["--band", debug_band.name, "--bands-dir", debug_band.folder.parent]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fps7.toml").write_text("[video]\nfps = 7\n")
    with within(GENEROUS_S):
        res = cli("stream", *band, "--hls", tmp_path / "hls", "--duration", "1s", "-q", *args)
    assert_one_error(res, needle)
    assert not (tmp_path / "hls").exists()


def test_now_playing_pipe_nobody_reads_never_stalls_the_stream(tmp_path, caplog):
    from composer.stream.live import _log_now_playing, _OnAir

    fifo = tmp_path / "now.fifo"
    os.mkfifo(fifo)
    holding = _OnAir(0, None, lambda t: None, None)
    with within(GENEROUS_S):  # opening a FIFO for writing waits for a reader: forever, and the stream with it
        _log_now_playing(fifo, holding, 12.0)
    assert "a pipe nobody reads" in caplog.text
    with open(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK), "rb") as reader:  # with a reader there, it is written
        _log_now_playing(fifo, holding, 13.0)
        assert json.loads(reader.readline())["start"] == 13.0


def test_sigterm_ends_preview_watch_with_143_and_no_leftovers(song_inputs, tmp_path):
    # Ctrl-C is how a watch ends (exit 0); SIGTERM ended it with 0 too, which systemd or `timeout` misread
    out, work = tmp_path / "p.png", tmp_path / "tmp"
    work.mkdir()
    cmd = composer("preview", "--watch", "--template", song_inputs.template, "-o", out, "-q")
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(work)}) as proc:
        deadline = time.time() + GENEROUS_S
        while not out.exists():
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert b"Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["p.png", "tmp"]
    assert list(work.iterdir()) == []
