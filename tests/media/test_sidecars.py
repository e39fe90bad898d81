"""composer.media.sidecars: what is written reads back (through read_lyrics and pysubs2) with the same times."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pysubs2
import pytest

from composer.errors import ComposerError
from composer.media import sidecars
from composer.media.lyricsfile import read_lyrics
from composer.media.sidecars import format_lrc_time, write_ass, write_json, write_lrc, write_sidecars, write_srt
from composer.media.timing import make_line
from composer.media.upload import write_upload_kit
from composer.types import LyricLine, Syllable, Timeline, Word

TOL = 0.010


def _word(text_times: list[tuple[str, float, float]]) -> Word:
    syls = tuple(Syllable(t, s, e) for t, s, e in text_times)
    return Word("".join(t for t, _, _ in text_times), syls[0].start, syls[-1].end, syls)


def _timeline() -> Timeline:
    # a hand-timed line with a lead-in, a pause inside a word, a pause between words and a tail
    hand = LyricLine(
        text="Darkness falls",
        start=2.0,
        end=5.0,
        words=(_word([("Dark", 2.3, 2.713), ("ness", 2.9, 3.4)]), _word([("falls", 3.75, 4.6)])),
        stanza=0,
    )
    lines = (
        make_line("Rotting in the abyss", 0.5, 2.0, 0),
        hand,
        make_line("Über die Brücke – {hell}", 6.123, 8.0, 0),
        # a slow doom line (4 syllables over 6 s) followed directly by the next: no gap, longer than the cap
        make_line("Eternal void", 12.0, 18.0, 1),
        make_line("Devoured by the dark", 18.0, 21.456, 1),
    )
    tl = Timeline(lines=lines, duration=30.0, title="Abyssal Rot")
    tl.validate()
    return tl


def _syllables(line: LyricLine) -> list[tuple[str, float, float]]:
    return [(s.text, s.start, s.end) for w in line.words for s in w.syllables]


def test_lrc_round_trip(tmp_path):
    tl = _timeline()
    path = tmp_path / "song.lrc"
    write_lrc(tl, path)
    back = read_lyrics(path, tl.duration)
    assert isinstance(back, Timeline) and back.title == "Abyssal Rot"
    assert [ln.text for ln in back.lines] == [ln.text for ln in tl.lines]
    assert [ln.stanza for ln in back.lines] == [ln.stanza for ln in tl.lines]
    for a, b in zip(tl.lines, back.lines):
        assert b.start == pytest.approx(a.start, abs=TOL)
        assert b.end == pytest.approx(a.end, abs=TOL)  # explicit ends wherever a reader couldn't infer them
        assert [w.start for w in b.words] == pytest.approx([w.start for w in a.words], abs=TOL)


def test_lrc_text_format(tmp_path):
    path = tmp_path / "song.lrc"
    write_lrc(_timeline(), path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("[ti:Abyssal Rot]\n")
    assert "[00:02.00]<00:02.30>Darkness <00:03.75>falls\n[00:05.00]\n" in text  # gap after: end marker
    assert "[00:12.00]<00:12.00>Eternal <00:16.50>void\n[00:18.00]\n[00:18.00]" in text  # longer than the cap
    assert "\n\n[00:12.00]" in text  # stanza break
    assert "[00:00.50]<00:00.50>Rotting" in text and "[00:02.00]\n" not in text.split("Rotting")[1][:40]


def test_ass_round_trip_keeps_syllable_times(tmp_path):
    tl = _timeline()
    path = tmp_path / "song.ass"
    write_ass(tl, path)
    back = read_lyrics(path, tl.duration)
    assert [ln.text for ln in back.lines] == [ln.text.replace("{", "(").replace("}", ")") for ln in tl.lines]
    for a, b in zip(tl.lines, back.lines):
        assert (b.start, b.end) == pytest.approx((a.start, a.end), abs=TOL)
        got, want = _syllables(b), _syllables(a)
        assert [t for t, _, _ in got] == [t.replace("{", "(").replace("}", ")") for t, _, _ in want]
        assert [t for _, s, e in got for t in (s, e)] == pytest.approx([t for _, s, e in want for t in (s, e)], abs=TOL)


def test_ass_karaoke_durations_sum_to_each_line(tmp_path):
    tl = _timeline()
    path = tmp_path / "song.ass"
    write_ass(tl, path, width=1280, height=720, font="Oswald", primary="#e0e0e0", highlight="#aa0000")
    subs = pysubs2.load(str(path))
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == ("1280", "720")
    style = subs.styles["Karaoke"]
    assert style.fontname == "Oswald"
    assert (style.primarycolor.r, style.primarycolor.g, style.primarycolor.b) == (0xAA, 0, 0)  # sung
    assert (style.secondarycolor.r, style.secondarycolor.g, style.secondarycolor.b) == (0xE0, 0xE0, 0xE0)
    assert len(subs.events) == len(tl.lines)
    for event, line in zip(subs.events, tl.lines):
        durations = [int(d) for d in re.findall(r"\\(?:kf|k)(\d+)", event.text)]
        assert sum(durations) * 10 == event.end - event.start
        assert event.start == pytest.approx(line.start * 1000, abs=5)
        assert event.end == pytest.approx(line.end * 1000, abs=5)
        syllable_count = sum(len(w.syllables) for w in line.words)
        assert len(re.findall(r"\\kf\d+", event.text)) == syllable_count
    # pauses are plain \k with no text: inside "Darkness" and before "falls"
    assert r"{\k30}{\kf41}Dark{\k19}{\kf50}ness{\k35} {\kf85}falls{\k40}" == subs.events[1].text


def test_srt_times(tmp_path):
    tl = _timeline()
    path = tmp_path / "song.srt"
    write_srt(tl, path)
    subs = pysubs2.load(str(path))
    assert [e.text for e in subs.events] == [ln.text.replace("{", "(").replace("}", ")") for ln in tl.lines]
    for event, line in zip(subs.events, tl.lines):
        assert event.start == round(line.start * 1000) and event.end == round(line.end * 1000)


def test_json_round_trip(tmp_path):
    tl = _timeline()
    path = tmp_path / "song.json"
    write_json(tl, path)
    raw = path.read_bytes().decode("utf-8")
    assert "Über" in raw and raw.startswith('{\n "title"')
    back = Timeline.from_dict(json.loads(raw))
    back.validate()
    assert back.to_dict() == tl.to_dict()


def test_a_line_the_aligner_is_unsure_of_carries_no_karaoke_timing(tmp_path):
    tl = _timeline()
    lines = list(tl.lines)
    lines[1] = LyricLine("Darkness falls", 2.0, 5.0, words=(), unsure=True)
    tl = Timeline(tuple(lines), tl.duration, tl.title)
    write_ass(tl, tmp_path / "song.ass")
    write_lrc(tl, tmp_path / "song.lrc")
    write_json(tl, tmp_path / "song.json")
    events = pysubs2.load(str(tmp_path / "song.ass")).events
    assert events[1].text == "Darkness falls" and (events[1].start, events[1].end) == (2000, 5000)
    assert r"\k" in events[0].text  # the sure lines around it keep their sweep
    assert "[00:02.00]Darkness falls\n" in (tmp_path / "song.lrc").read_text(encoding="utf-8")  # no word times
    back = Timeline.from_dict(json.loads((tmp_path / "song.json").read_text(encoding="utf-8")))
    assert back.lines[1].unsure and not back.lines[0].unsure and back.to_dict() == tl.to_dict()


def test_write_sidecars_beside_the_video(tmp_path):
    video = tmp_path / "Abyssal Rot.mp4"
    paths = write_sidecars(_timeline(), video, font="Cinzel")
    assert [p.name for p in paths] == ["Abyssal Rot.ass", "Abyssal Rot.lrc", "Abyssal Rot.srt", "Abyssal Rot.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no temporaries left
    assert "Cinzel" in paths[0].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (0, "00:00.00"),
        (1.234, "00:01.23"),
        (59.996, "01:00.00"),
        (61.5, "01:01.50"),
        (6002.12, "100:02.12"),
        (-1, "00:00.00"),
    ],
)
def test_format_lrc_time(t, text):
    assert format_lrc_time(t) == text


def test_bad_colour_is_named(tmp_path):
    with pytest.raises(ComposerError, match="colour 'red'"):
        write_ass(_timeline(), tmp_path / "x.ass", highlight="red")


def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    existing = tmp_path / "song.ass"
    existing.write_text("old karaoke")

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pysubs2.SSAFile, "save", explode)
    with pytest.raises(RuntimeError):
        write_ass(_timeline(), existing)
    with pytest.raises(RuntimeError):
        write_srt(_timeline(), tmp_path / "song.srt")
    assert existing.read_text() == "old karaoke"
    assert [p.name for p in tmp_path.iterdir()] == ["song.ass"]

    monkeypatch.setattr(sidecars, "write_text_atomic", _exploding_text_writer)
    with pytest.raises(KeyboardInterrupt):
        write_lrc(_timeline(), tmp_path / "song.lrc")
    assert [p.name for p in tmp_path.iterdir()] == ["song.ass"]


def _exploding_text_writer(target, text):
    from composer.util.files import atomic_path

    with atomic_path(target) as tmp:
        tmp.write_text(text[: len(text) // 2], encoding="utf-8")
        raise KeyboardInterrupt


def test_upload_description_keeps_each_songs_stanzas(tmp_path):
    # two songs, the second's stanza numbers running on from the first's (as one video's timeline numbers them)
    first = Timeline((make_line("Rot", 1.0, 2.0, 0), make_line("Bleed", 2.0, 3.0, 0), make_line("Die", 4, 5, 1)), 10.0)
    second = Timeline((make_line("Grave", 1.0, 2.0, 2), make_line("Dust", 3.0, 4.0, 3)), 10.0)
    songs = [SimpleNamespace(start=0.0, title="Rot Song"), SimpleNamespace(start=10.0, title="Grave Song")]
    desc, _ = write_upload_kit(tmp_path / "v.mp4", "V", SimpleNamespace(name="Gorefest"), songs, [first, second])
    text = desc.read_text(encoding="utf-8")
    assert text.endswith(
        "0:00 Rot Song\n0:10 Grave Song\n\nROT SONG\n\nRot\nBleed\n\nDie\n\nGRAVE SONG\n\nGrave\n\nDust\n"
    )
