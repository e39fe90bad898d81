"""`--offset`: every lyric time moves by the offset, in every file composer writes, and stays inside the song."""

import json

import pytest
from typer.testing import CliRunner

from composer.cli import app
from composer.media.lyricsfile import read_lyrics
from composer.media.timing import make_line
from composer.types import Timeline

LRC = "[00:01.00]Feed the sigil\n[00:04.00]Crowned in marrow\n[00:09.50]Eyes of sludge\n"


def _starts(timeline_json):
    data = json.loads(timeline_json.read_text())
    return [line["start"] for line in data["lines"]], [w["start"] for line in data["lines"] for w in line["words"]]


def test_align_offset_moves_every_line_and_word_time(song_inputs, tmp_path):
    lyrics = tmp_path / "timed.lrc"
    lyrics.write_text(LRC)
    runs = {}
    for offset in ("0", "0.75", "-0.5"):
        out = tmp_path / f"t{offset}.json"
        res = CliRunner().invoke(
            app, ["align", str(song_inputs.audio), str(lyrics), "-o", str(out), "--offset", offset]
        )
        assert res.exit_code == 0, res.output
        runs[float(offset)] = _starts(out)
    lines0, words0 = runs[0.0]
    assert lines0 == pytest.approx([1.0, 4.0, 9.5], abs=0.01)
    for offset in (0.75, -0.5):
        lines, words = runs[offset]
        assert lines == pytest.approx([t + offset for t in lines0], abs=1e-3)
        assert words == pytest.approx([t + offset for t in words0], abs=1e-3)


def test_lrc_written_with_an_offset_reads_back_moved(song_inputs, tmp_path):
    lyrics, out = tmp_path / "timed.lrc", tmp_path / "out.lrc"
    lyrics.write_text(LRC)
    res = CliRunner().invoke(app, ["align", str(song_inputs.audio), str(lyrics), "-o", str(out), "--offset", "1.25"])
    assert res.exit_code == 0, res.output
    moved = read_lyrics(out, song_inputs.duration)
    assert [ln.start for ln in moved.lines] == pytest.approx([2.25, 5.25, 10.75], abs=0.011)


def test_align_reads_its_own_json_sidecar_back_as_timed_lyrics(song_inputs, tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    res = CliRunner().invoke(app, ["align", str(song_inputs.audio), str(song_inputs.lyrics), "-o", str(first)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["align", str(song_inputs.audio), str(first), "-o", str(second), "--offset", "0.5"])
    assert res.exit_code == 0, res.output
    before, after = (json.loads(p.read_text())["lines"] for p in (first, second))
    # the same lines, not the sidecar's JSON text as lyrics; their times kept (then moved by the offset)
    sung = [line for line in song_inputs.lyrics.read_text().splitlines() if line.strip()]
    assert [ln["text"] for ln in after] == [ln["text"] for ln in before] == sung
    lines0, words0 = _starts(first)
    lines, words = _starts(second)
    assert lines == pytest.approx([t + 0.5 for t in lines0], abs=1e-3)
    assert words == pytest.approx([t + 0.5 for t in words0], abs=1e-3)


def test_lines_moved_past_the_song_are_cut_or_dropped():
    lines = (make_line("first line here", 0.5, 2.0), make_line("last line here", 8.0, 9.8))
    timeline = Timeline(lines, 10.0, "t")
    later = timeline.shifted(1.0)  # the last line now runs past the end: cut there
    later.validate()
    assert [(ln.start, ln.end) for ln in later.lines] == [(1.5, 3.0), (9.0, 10.0)]
    earlier = timeline.shifted(-2.5)  # the first line now ends before the start: dropped
    earlier.validate()
    assert [ln.text for ln in earlier.lines] == ["last line here"]
    assert earlier.meta["offset_dropped_lines"] == 1


@pytest.mark.parametrize("value", ["nan", "inf", "abc"])
def test_bad_offset_is_one_error(song_inputs, tmp_path, value):
    res = CliRunner().invoke(
        app,
        ["align", str(song_inputs.audio), str(song_inputs.lyrics), "-o", str(tmp_path / "x.lrc"), "--offset", value],
    )
    assert res.exit_code == 2 and "--offset" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.lrc").exists()
