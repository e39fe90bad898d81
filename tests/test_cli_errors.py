"""Every bad input gets one clear line naming the file, a non-zero exit, and no file at the output path."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from typer.testing import CliRunner

from composer.cli import app


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def error_lines(result) -> list[str]:
    return [ln for ln in result.output.splitlines() if ln.startswith("error:")]


def karaoke(song_inputs, out, *, audio=None, lyrics=None, images=None, template=None):
    return run(
        "karaoke",
        audio or song_inputs.audio,
        lyrics or song_inputs.lyrics,
        "--images",
        images or song_inputs.images,
        "-o",
        out,
        "--template",
        template or song_inputs.template,
        "--quiet",
    )


def assert_failed_cleanly(result, out, *needles):
    assert result.exit_code == 2, result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if ".part" in p.name] == []


def test_missing_audio(song_inputs, tmp_path):
    out = tmp_path / "v.mp4"
    res = karaoke(song_inputs, out, audio=tmp_path / "nope.flac")
    assert_failed_cleanly(res, out, "nope.flac")


def test_text_file_posing_as_audio(song_inputs, tmp_path):
    fake = tmp_path / "song.wav"
    fake.write_text("this is not audio\n" * 100)
    out = tmp_path / "v.mp4"
    assert_failed_cleanly(karaoke(song_inputs, out, audio=fake), out, "song.wav")


def test_silent_audio(song_inputs, tmp_path):
    silent = tmp_path / "silent.flac"
    sf.write(silent, np.zeros((44100 * 5, 2), np.float32), 44100)
    out = tmp_path / "v.mp4"
    assert_failed_cleanly(karaoke(song_inputs, out, audio=silent), out, "silent.flac", "silent")


@pytest.mark.parametrize(
    "content, needle", [(b"", "no lyric"), (b"\n  \n\n", "no lyric"), (bytes(range(256)) * 20, "binary")]
)
def test_bad_lyrics(song_inputs, tmp_path, content, needle):
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_bytes(content)
    out = tmp_path / "v.mp4"
    assert_failed_cleanly(karaoke(song_inputs, out, lyrics=lyrics), out, "lyrics.txt", needle)


def test_folder_with_no_usable_image(song_inputs, tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    (images / "notes.txt").write_text("hello")
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "v.mp4"
    assert_failed_cleanly(karaoke(song_inputs, out, images=images), out, "imgs", "no usable image")


def test_bad_images_are_skipped_when_others_remain(song_inputs, tmp_path):
    images = tmp_path / "imgs"
    shutil.copytree(song_inputs.images, images)
    (images / "zz-bro\nken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "v.mp4"
    res = karaoke(song_inputs, out, images=images)
    assert res.exit_code == 0, res.output
    # one warning line names the file, its newline shown escaped as in errors
    assert any(ln.startswith("warning:") and "zz-bro\\nken.png: skipped" in ln for ln in res.output.splitlines())
    assert out.exists()


def test_decompression_bomb_is_refused(song_inputs, tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    # a tiny file that claims 20000x20000 pixels (400 MP)
    Image.new("1", (20000, 20000)).save(images / "bomb.png", optimize=True)
    out = tmp_path / "v.mp4"
    res = karaoke(song_inputs, out, images=images)
    assert_failed_cleanly(res, out, "no usable image")
    assert "bomb.png" in res.output


def test_bad_template_names_key_and_allowed_values(song_inputs, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[text]\nhighlight = "glow"\n')
    out = tmp_path / "v.mp4"
    res = karaoke(song_inputs, out, template=bad)
    assert_failed_cleanly(res, out, "bad.toml", "highlight", "smooth")
    res = karaoke(song_inputs, out, template="no-such-template")
    assert_failed_cleanly(res, out, "no-such-template", "gore")


def test_unwritable_output(song_inputs, tmp_path):
    out = tmp_path / "missing-folder" / "v.mp4"
    res = karaoke(song_inputs, out)
    assert res.exit_code == 2 and len(error_lines(res)) == 1 and "missing-folder" in error_lines(res)[0]
    assert not out.parent.exists()


def test_wrong_output_suffix(song_inputs, tmp_path):
    out = tmp_path / "v.avi"
    assert_failed_cleanly(karaoke(song_inputs, out), out, "v.avi", ".mp4")


@pytest.mark.parametrize("where", ["missing-folder", "users-file"])
def test_an_error_naming_an_output_with_a_newline_is_one_line(song_inputs, tmp_path, where):
    # -o $'mis\nsing/n\nl.mp4': the error names the path with its control characters escaped, on one line
    if where == "missing-folder":
        out, shown = tmp_path / "mis\nsing" / "n\nl.mp4", "mis\\nsing/n\\nl.mp4: output folder"
    else:
        out, shown = tmp_path / "n\nl\x1b[2J.mp4", "n\\nl\\x1b[2J.mp4"
        out.write_bytes(b"a video of the user's")
    res = karaoke(song_inputs, out)
    assert res.exit_code == 2
    assert res.output.splitlines() == error_lines(res) and len(error_lines(res)) == 1, res.output
    assert shown in error_lines(res)[0]


def test_failed_render_keeps_the_earlier_video(song_inputs, tmp_path):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"last week's render")
    res = karaoke(song_inputs, out, audio=tmp_path / "nope.wav")
    assert res.exit_code == 2
    assert out.read_bytes() == b"last week's render"


def test_align_writes_each_timing_format(song_inputs, tmp_path):
    for suffix in (".lrc", ".ass", ".srt", ".json"):
        out = tmp_path / f"t{suffix}"
        res = run("align", song_inputs.audio, song_inputs.lyrics, "-o", out, "--quiet")
        assert res.exit_code == 0, res.output
        assert out.stat().st_size > 50
    lrc = (tmp_path / "t.lrc").read_text()
    assert "[00:" in lrc and "<00:" in lrc  # enhanced LRC: line and word tags
    out = tmp_path / "t.txt"
    assert_failed_cleanly(run("align", song_inputs.audio, song_inputs.lyrics, "-o", out), out, "t.txt", ".lrc")


def test_preview_writes_a_frame_of_the_template(tmp_path):
    for name in ("gore", "void", "classic"):
        out = tmp_path / f"{name}.png"
        res = run("preview", "--template", name, "--at", "12s", "-o", out)
        assert res.exit_code == 0, res.output
        assert Image.open(out).size == (1920, 1080)
    gore = np.asarray(Image.open(tmp_path / "gore.png").convert("HSV"))[..., 1].mean()
    void = np.asarray(Image.open(tmp_path / "void.png").convert("HSV"))[..., 1].mean()
    assert void < 5 < gore


def test_preview_bad_time(tmp_path):
    out = tmp_path / "p.png"
    assert_failed_cleanly(run("preview", "--at", "soon", "-o", out), out, "--at", "soon")


def test_timed_lyrics_keep_their_timing(song_inputs, tmp_path):
    """An .lrc made by hand (here by `align`, then shifted) is used as given, not re-aligned."""
    import json
    import re

    lrc = tmp_path / "t.lrc"
    assert run("align", song_inputs.audio, song_inputs.lyrics, "-o", lrc, "-q").exit_code == 0

    def shift(m):
        t = int(m.group(2)) * 60 + float(m.group(3)) + 0.5
        return f"{m.group(1)}{int(t // 60):02d}:{t % 60:05.2f}"

    (tmp_path / "shifted.lrc").write_text(re.sub(r"([\[<])(\d\d):(\d\d\.\d\d)", shift, lrc.read_text()))
    out = tmp_path / "t.json"
    assert run("align", song_inputs.audio, tmp_path / "shifted.lrc", "-o", out, "-q").exit_code == 0
    original = json.loads(run_json(song_inputs, tmp_path))
    shifted = json.loads(out.read_text())
    for a, b in zip(original["lines"], shifted["lines"]):
        assert abs(b["start"] - a["start"] - 0.5) < 0.011
        assert [w["text"] for w in a["words"]] == [w["text"] for w in b["words"]]
        assert abs(b["words"][-1]["start"] - a["words"][-1]["start"] - 0.5) < 0.011


def run_json(song_inputs, tmp_path) -> str:
    out = tmp_path / "orig.json"
    assert run("align", song_inputs.audio, song_inputs.lyrics, "-o", out, "-q").exit_code == 0
    return out.read_text()


@pytest.mark.parametrize("size", ["huge", "13x7", "100x100", "8000x4000"])
def test_bad_size_names_the_option_and_the_allowed_sizes(size, tmp_path):
    out = tmp_path / "v.mp4"
    res = run("render", "--band", "demo", "--length", "20s", "--size", size, "-o", out, "--quiet")
    assert_failed_cleanly(res, out, f"--size {size!r}", "128 to 4096 a side", "720p")
