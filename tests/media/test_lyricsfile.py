"""composer.media.lyricsfile: plain text (every encoding a user's editor writes), LRC, enhanced LRC, ASS/SSA."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from composer.errors import ComposerError
from composer.media.lyricsfile import read_lyrics
from composer.types import Lyrics, Timeline

SONG = "Rotting in the abyss\nDevoured by the dark\n\nEternal torment\n"


def _write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _error(path, fragment: str, duration: float = 60.0) -> str:
    with pytest.raises(ComposerError) as info:
        read_lyrics(path, duration)
    message = str(info.value)
    assert str(path) in message and fragment in message and "\n" not in message
    return message


def _starts(timeline: Timeline) -> list[float]:
    return [round(line.start, 3) for line in timeline.lines]


# ----------------------------------------------------------------------------------------------- plain text


def test_plain_text_stanzas(tmp_path):
    text = "\n\nRotting in the abyss   \r\nDevoured by the dark\t\r\n\r\n\r\n  \r\nEternal torment\r\n\n\n"
    lyrics = read_lyrics(_write(tmp_path, "lyrics.txt", text), 60.0)
    assert isinstance(lyrics, Lyrics)
    assert lyrics.stanzas == (("Rotting in the abyss", "Devoured by the dark"), ("Eternal torment",))
    assert lyrics.lines[2] == ("Eternal torment", 1)


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "cp1252"]
)
def test_plain_text_encodings(tmp_path, encoding):
    text = "Über die Brücke – “Tod” …\nFrère Jacques’ Zorn\n"
    if encoding.endswith("-bom"):
        codec = encoding.removesuffix("-bom")
        data = ("\ufeff" + text).encode(codec)
    else:
        data = text.encode(encoding)
    lyrics = read_lyrics(_write(tmp_path, "lyrics.txt", data), 60.0)
    assert lyrics.stanzas == (("Über die Brücke – “Tod” …", "Frère Jacques’ Zorn"),)


def test_other_extension_is_plain_text(tmp_path):
    lyrics = read_lyrics(_write(tmp_path, "lyrics.md", SONG), 60.0)
    assert len(lyrics.stanzas) == 2


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"ID3\x03\x00\x00\x00\x00\x0fvTIT2\x00\x00\x00" + bytes(range(256)) * 4, id="mp3-bytes"),
        pytest.param(b"lyrics\x00with a NUL\n", id="nul"),
        pytest.param(b"abc\x01\x02\x03\x04\x05\x06\x07\x08def\x0e\x0f\x10\x11\x12\n", id="controls"),
    ],
)
def test_binary_is_refused(tmp_path, data):
    _error(_write(tmp_path, "lyrics.txt", data), "binary file, not lyrics text")


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n\n", "\ufeff\n".encode()])
def test_empty_is_refused(tmp_path, data):
    _error(_write(tmp_path, "lyrics.txt", data), "no lyric lines")


def test_unknown_8bit_encoding_is_refused_not_garbled(tmp_path):
    cyrillic = "Вечная тьма поглотит мир\nКровь на снегу\n".encode("cp1251")
    _error(_write(tmp_path, "lyrics.txt", cyrillic), "save it as UTF-8")


def test_invalid_utf8_after_bom(tmp_path):
    _error(_write(tmp_path, "lyrics.txt", b"\xef\xbb\xbfok\n\xff\xfe bad\n"), "UTF-8")


def test_missing_and_directory(tmp_path):
    _error(tmp_path / "nope.txt", "not found")
    _error(tmp_path, "directory")


# ----------------------------------------------------------------------------------------------- LRC

LRC = """[ti:Abyssal Rot]
[ar:Necrotic Bile]
[00:01.00]Rotting in the abyss
[00:04.50]Devoured by the dark
[00:07.00]

[00:20.00]Eternal torment
"""


def test_lrc_lines_title_stanzas_and_end_markers(tmp_path):
    tl = read_lyrics(_write(tmp_path, "song.lrc", LRC), 60.0)
    assert isinstance(tl, Timeline)
    tl.validate()
    assert tl.title == "Abyssal Rot" and tl.meta["artist"] == "Necrotic Bile"
    assert [ln.text for ln in tl.lines] == ["Rotting in the abyss", "Devoured by the dark", "Eternal torment"]
    assert _starts(tl) == [1.0, 4.5, 20.0]
    assert tl.lines[0].end == pytest.approx(4.5)  # next line's start
    assert tl.lines[1].end == pytest.approx(7.0)  # the empty timed line
    assert [ln.stanza for ln in tl.lines] == [0, 0, 1]
    assert all(ln.words and ln.words[0].syllables for ln in tl.lines)


def test_lrc_line_without_end_is_capped_by_syllables(tmp_path):
    # 5 syllables: at most 0.6 s each plus 0.5 s, not the 40 s of guitar solo that follow
    tl = read_lyrics(_write(tmp_path, "song.lrc", "[00:10.00]Eternal torment\n[00:50.00]Again\n"), 60.0)
    assert tl.lines[0].end == pytest.approx(10.0 + 0.6 * 5 + 0.5)
    # the last line, too, is capped and also clipped to the audio
    assert tl.lines[1].end == pytest.approx(min(50.0 + 0.6 * 2 + 0.5, 60.0))
    tl = read_lyrics(_write(tmp_path, "song.lrc", "[00:59.00]Eternal torment\n"), 60.0)
    assert tl.lines[0].end == pytest.approx(60.0)


def test_lrc_repeated_line_tags_and_formats(tmp_path):
    text = "[00:30.00][00:05.5][01:10:25]Hail the goat\n[100:02.123]Late\n"
    tl = read_lyrics(_write(tmp_path, "song.lrc", text), 7000.0)
    assert _starts(tl) == [5.5, 30.0, 70.25, 6002.123]
    assert {ln.text for ln in tl.lines} == {"Hail the goat", "Late"}


def test_lrc_offset(tmp_path):
    text = "[offset:+500]\n[00:10.00]<00:10.00>Burn <00:11.00>them\n"
    tl = read_lyrics(_write(tmp_path, "song.lrc", text), 60.0)
    assert tl.lines[0].start == pytest.approx(9.5)  # positive offset: lyrics come sooner
    assert [w.start for w in tl.lines[0].words] == pytest.approx([9.5, 10.5])
    tl = read_lyrics(_write(tmp_path, "song.lrc", text.replace("+500", "-250")), 60.0)
    assert tl.lines[0].start == pytest.approx(10.25)


def test_enhanced_lrc_word_tags(tmp_path):
    text = (
        "[00:10.00]<00:10.00>Rotting <00:10.80>in <00:11.00>the <00:11.20>abyss<00:12.40>\n"
        "[00:13.00]Slow <00:14.00>death\n"  # partial: the first word has no tag of its own
        "[00:16.00]<00:16.50>Late <00:17.00>start\n"  # singing begins after the line tag
    )
    tl = read_lyrics(_write(tmp_path, "song.lrc", text), 60.0)
    tl.validate()
    first, second, third = tl.lines
    assert [w.start for w in first.words] == pytest.approx([10.0, 10.8, 11.0, 11.2])
    assert first.words[-1].end == pytest.approx(12.4)  # trailing tag: where the last word ends
    assert first.end == pytest.approx(12.4)
    assert first.words[0].end == pytest.approx(10.8)
    assert [s.text for s in first.words[0].syllables] == ["Rot", "ting"]
    assert [w.start for w in second.words] == pytest.approx([13.0, 14.0])
    assert [w.start for w in third.words] == pytest.approx([16.5, 17.0])


def test_lrc_tags_inside_words_are_syllables(tmp_path):
    text = "[00:01.00]<00:01.00>Dark<00:01.30>ness <00:02.00>falls<00:02.50>\n"
    tl = read_lyrics(_write(tmp_path, "song.lrc", text), 9.0)
    word = tl.lines[0].words[0]
    assert word.text == "Darkness"
    assert [(s.text, s.start, s.end) for s in word.syllables] == [("Dark", 1.0, 1.3), ("ness", 1.3, 2.0)]


def test_lrc_lines_past_the_audio_are_dropped_with_a_warning(tmp_path, caplog):
    text = "[00:01.00]First\n[00:05.00]Second line here\n[01:30.00]After the end\n"
    with caplog.at_level(logging.WARNING, logger="composer"):
        tl = read_lyrics(_write(tmp_path, "song.lrc", text), 6.0)
    assert [ln.text for ln in tl.lines] == ["First", "Second line here"]
    assert tl.lines[-1].end == pytest.approx(6.0)
    assert "After the end" in caplog.text


def test_lrc_same_start_overlap_is_settled(tmp_path, caplog):
    text = "[00:01.00]One\n[00:01.00]Two\n[00:02.00]Three\n"
    with caplog.at_level(logging.WARNING, logger="composer"):
        tl = read_lyrics(_write(tmp_path, "song.lrc", text), 10.0)
    tl.validate()
    assert [ln.text for ln in tl.lines] == ["Two", "Three"]
    assert "One" in caplog.text


def test_lrc_errors_name_file_and_line(tmp_path):
    message = _error(_write(tmp_path, "song.lrc", "[00:01.00]ok\n[01:7x.00]bad\n"), "unparsable timestamp")
    assert "line 2" in message
    _error(_write(tmp_path, "song.lrc", "[00:01.00]<00:0x.5>bad word\n"), "unparsable word timestamp")
    _error(_write(tmp_path, "song.lrc", "[ti:Nothing]\njust text\n"), "no timed lyric lines")
    _error(_write(tmp_path, "song.lrc", "[offset:soon]\n[00:01.00]x\n"), "offset")
    _error(_write(tmp_path, "song.lrc", "[02:00.00]Too late\n"), "no timed lyric lines within the audio", 60.0)


def test_lrc_content_in_a_txt_file_is_read_as_lrc(tmp_path):
    tl = read_lyrics(_write(tmp_path, "lyrics.txt", LRC), 60.0)
    assert isinstance(tl, Timeline) and tl.title == "Abyssal Rot"


def test_bracketed_words_are_lyrics(tmp_path):
    tl = read_lyrics(_write(tmp_path, "song.lrc", "[00:01.00][chorus] Hail\n"), 10.0)
    assert tl.lines[0].text == "[chorus] Hail"


# ----------------------------------------------------------------------------------------------- ASS / SSA

ASS_HEAD = """[Script Info]
Title: Abyssal Rot
ScriptType: v4.00+
PlayResX: 1920
PlayResY: 1080

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,60,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""  # noqa: E501 (the Format line of real ASS files is long)


def _ass(tmp_path, *events: str, name: str = "song.ass"):
    return _write(tmp_path, name, ASS_HEAD + "\n".join(events) + "\n")


def test_ass_karaoke_tags_give_syllable_times(tmp_path):
    path = _ass(
        tmp_path,
        r"Dialogue: 0,0:00:01.00,0:00:03.00,Default,,0,0,0,,"
        r"{\fad(100,100)\kf30}Rot{\K20}ting {\ko50}in{\k10} {\kf60}dark{\k30}",
        r"Comment: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,{\k100}ignored",
    )
    tl = read_lyrics(path, 10.0)
    tl.validate()
    assert tl.title == "Abyssal Rot"
    (line,) = tl.lines
    assert (line.text, line.start, line.end) == ("Rotting in dark", 1.0, 3.0)
    syl = [(s.text, round(s.start, 3), round(s.end, 3)) for w in line.words for s in w.syllables]
    assert syl == [("Rot", 1.0, 1.3), ("ting", 1.3, 1.5), ("in", 1.5, 2.0), ("dark", 2.1, 2.7)]
    assert [(w.text, round(w.start, 3), round(w.end, 3)) for w in line.words] == [
        ("Rotting", 1.0, 1.5),
        ("in", 1.5, 2.0),
        ("dark", 2.1, 2.7),
    ]


def test_ass_line_breaks_overrides_and_untimed_lines(tmp_path):
    path = _ass(
        tmp_path,
        r"Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\i1}Blood{\i0}\Non the\hsnow",
        r"Dialogue: 0,0:00:05.00,0:00:07.00,Default,,0,0,0,,{\k50}two words{\k50}more",
        name="song.ssa",
    )
    tl = read_lyrics(path, 10.0)
    first, second = tl.lines
    assert first.text == "Blood on the snow"
    assert (first.words[0].start, first.words[-1].end) == (1.0, 2.0)  # spread over the line by syllables
    assert second.text == "two wordsmore"
    # "two words" share the first \k by syllables; "more" continues the word it touches, as a syllable
    assert [(w.text, w.start, w.end) for w in second.words] == [("two", 5.0, 5.25), ("wordsmore", 5.25, 6.0)]
    assert [(s.text, s.start, s.end) for s in second.words[1].syllables] == [("words", 5.25, 5.5), ("more", 5.5, 6.0)]


def test_ass_overlapping_events_end_at_the_next_line(tmp_path):
    path = _ass(
        tmp_path,
        r"Dialogue: 0,0:00:01.00,0:00:05.00,Default,,0,0,0,,{\k100}First{\k100}line",
        # shown early, as karaoke scripts do: singing starts at 4.0 after a 2 s lead-in
        r"Dialogue: 0,0:00:02.00,0:00:06.00,Default,,0,0,0,,{\k200}{\k100}Second",
    )
    tl = read_lyrics(path, 10.0)
    tl.validate()
    first, second = tl.lines
    assert first.end == pytest.approx(3.0)  # where its own singing ends
    assert second.start == pytest.approx(3.0) and second.words[0].start == pytest.approx(4.0)


def test_ass_errors(tmp_path):
    _error(_ass(tmp_path, r"Comment: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,only a comment"), "no dialogue lines")
    _error(_write(tmp_path, "bad.ass", b"\x00\x01binary"), "binary")


def test_voices_as_other_tools_write_them(tmp_path):
    """Duet LRC (v1:/v2:, no composer header), an .ass whose styles name the singers, and plain-text
    prefixes, where song-part marks such as [chorus] stay lyric text."""
    lrc = tmp_path / "duet.lrc"
    lrc.write_text(
        "[00:01.00]v1: <00:01.00>Tear <00:01.50>the <00:02.00>sky\n[00:03.00]v2: Rot below\n[00:05.00]All of us\n"
    )
    lines = read_lyrics(lrc, 10.0).lines
    assert [(ln.text, ln.voice) for ln in lines] == [("Tear the sky", "v1"), ("Rot below", "v2"), ("All of us", "")]
    ass = tmp_path / "duet.ass"
    ass.write_text(
        "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding\n"
        "Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1\n"
        "Style: Growl Vox,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1\n"
        "\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: 0,0:00:01.00,0:00:02.00,Growl Vox,,0,0,0,,{\\k50}Tear {\\k50}sky\n"
        "Dialogue: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,Rot below\n"
    )
    assert [ln.voice for ln in read_lyrics(ass, 10.0).lines] == ["growl-vox", ""]
    plain = tmp_path / "l.txt"
    plain.write_text("[Scream] Tear the sky\n[chorus] Rot below\nAll of us\n")
    lyrics = read_lyrics(plain, 10.0)
    assert lyrics.stanzas == (("Tear the sky", "[chorus] Rot below", "All of us"),)
    assert [lyrics.voice_of(i) for i in range(3)] == ["scream", "", ""]
    assert lyrics.to_text() == "[scream] Tear the sky\n[chorus] Rot below\nAll of us\n"


# ----------------------------------------------------------------------------------------------- composer's .json


def _sidecar(tmp_path, name: str = "song.json") -> tuple[Timeline, object]:
    """A timeline as composer's aligner leaves it (two stanzas, a second voice, an unsure line), written as
    composer writes its .json sidecar."""
    from composer.media.sidecars import write_json
    from composer.media.timing import make_line
    from composer.types import LyricLine

    lines = (
        make_line("Rotting in the abyss", 1.0, 3.0, 0),
        dataclasses.replace(make_line("Devoured by the dark", 3.5, 5.5, 0), voice="scream"),
        LyricLine("Eternal torment", 8.0, 9.5, words=(), stanza=1, unsure=True, confidence=0.2),
    )
    timeline = Timeline(lines, 12.0, "Abyssal Rot", {"dropped_lines": 0, "offset": 0.5})
    path = tmp_path / name
    write_json(timeline, path)
    return timeline, path


def test_composers_own_json_sidecar_reads_back_as_timed_lyrics(tmp_path):
    written, path = _sidecar(tmp_path)
    back = read_lyrics(path, 12.0)
    assert isinstance(back, Timeline) and back.title == "Abyssal Rot"
    # every line, word and syllable with its times (as written: to 0.1 ms), stanza, voice and unsure flag
    expected = written.to_dict()["lines"]
    del expected[2]["confidence"]
    assert back.to_dict()["lines"] == expected
    # the run that wrote it is not this one: its offset is not claimed again, its confidence not kept
    assert "offset" not in back.meta and all(ln.confidence is None for ln in back.lines)
    # a shorter song: what lies past its end is dropped or cut, as for an .lrc
    assert [(ln.text, ln.end) for ln in read_lyrics(path, 5.0).lines] == [
        ("Rotting in the abyss", 3.0),
        ("Devoured by the dark", 5.0),
    ]


def test_a_renamed_sidecar_is_read_for_its_times_and_a_braced_lyric_sheet_stays_text(tmp_path):
    _, path = _sidecar(tmp_path)
    renamed = tmp_path / "song.txt"
    renamed.write_bytes(path.read_bytes())
    back = read_lyrics(renamed, 12.0)
    assert isinstance(back, Timeline) and back.lines[0].text == "Rotting in the abyss" and back.lines[0].start > 0
    sheet = tmp_path / "sheet.txt"
    sheet.write_text("{intro}\nRotting in the abyss\n", encoding="utf-8")
    assert isinstance(read_lyrics(sheet, 12.0), Lyrics)


_LINE = '{"text": "Rot", "start": 1.0, "end": 2.0, "words": []}'


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        pytest.param('{"title": "x", "description": "", "chapters": [], "tags": []}', '"lines"', id="upload-kit"),
        pytest.param("[1, 2, 3]", '"lines"', id="a-list"),
        pytest.param('{"lines": [1, 2', "not JSON", id="cut-short"),
        pytest.param("[" * 100_000 + "]" * 100_000, "nested too deep", id="deep"),
        pytest.param('{"lines": [' + "1" * 5000 + "]}", "thousands of digits", id="huge-number"),
        pytest.param('{"lines": [{"text": "Rot", "start": NaN, "end": 2.0}]}', "NaN", id="nan"),
        pytest.param('{"lines": [{"text": "Rot", "start": 1e400, "end": 2.0}]}', "lines[0].start", id="inf"),
        pytest.param('{"lines": [{"text": "Rot", "start": -1, "end": 2.0}]}', "lines[0].start is negative", id="neg"),
        pytest.param('{"lines": [{"text": "Rot", "start": "1", "end": 2.0}]}', "lines[0].start", id="text-time"),
        pytest.param('{"lines": [{"text": "Rot\\nbelow", "start": 1, "end": 2}]}', "control character", id="newline"),
        pytest.param('{"lines": [{"text": "\\u200b", "start": 1, "end": 2}]}', "lines[0].text is empty", id="blank"),
        pytest.param(
            '{"lines": [{"text": "Rot", "start": 3, "end": 2}]}', "lines[0] ends (2.0) before", id="backwards"
        ),
        pytest.param(
            '{"lines": [{"text": "Rot", "start": 1, "end": 2, "words": '
            '[{"text": "Rot", "start": 1, "end": 4, "syllables": []}]}]}',
            "lines[0]",
            id="word-outside-its-line",
        ),
        pytest.param('{"lines": [' + _LINE + ', {"text": "x", "voice": "[/b]"}]}', "lines[1].voice", id="voice"),
        pytest.param('{"lines": []}', "no timed lyric lines", id="empty"),
    ],
)
def test_json_that_is_not_composers_sidecar_is_one_error(tmp_path, data, fragment):
    _error(_write(tmp_path, "other.json", data), fragment)
