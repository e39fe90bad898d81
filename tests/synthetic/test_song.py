"""The procedural death-metal synthesizer: a real-sounding song whose vocal times are known."""

import numpy as np
import pytest

from composer.media.syllables import count_syllables
from composer.synthetic.song import KINDS, SynthSong, example_lyrics, make_song
from composer.types import Lyrics


@pytest.fixture(scope="module")
def songs() -> dict[str, SynthSong]:
    return {kind: make_song(seed=7, kind=kind) for kind in KINDS}


def _gaps(song: SynthSong) -> np.ndarray:
    t = np.array(song.line_times)
    return t[1:, 0] - t[:-1, 1]


def _pauses_inside_lines(song: SynthSong) -> list[float]:
    """Silences between consecutive syllables of a line longer than a breath between words."""
    return [b[0] - a[1] for line in song.syllable_times for a, b in zip(line, line[1:]) if b[0] - a[1] > 0.08]


def test_audio_format(songs):
    for song in songs.values():
        assert song.audio.rate == 44100
        assert song.audio.samples.dtype == np.float32
        assert song.audio.samples.shape == (40 * 44100, 2)
        peak = np.abs(song.audio.samples).max()
        assert 20 * np.log10(peak) == pytest.approx(-1.0, abs=0.1)
        assert not np.allclose(song.audio.samples[:, 0], song.audio.samples[:, 1])  # a stereo mix


def test_same_seed_same_song_other_seed_other_song():
    a, b, c = (make_song(seed, "dense", duration=15) for seed in (3, 3, 4))
    assert np.array_equal(a.audio.samples, b.audio.samples)
    assert a.line_times == b.line_times and a.lyrics == b.lyrics
    assert not np.array_equal(a.audio.samples, c.audio.samples)
    assert a.line_times != c.line_times


def test_each_line_sings_as_many_syllables_as_its_words_have(songs):
    for song in songs.values():
        texts = [text for text, _ in song.lyrics.lines]
        assert len(texts) == len(song.line_times) == len(song.syllable_times) >= 5
        for text, syllables, (start, end) in zip(texts, song.syllable_times, song.line_times):
            assert len(syllables) == sum(count_syllables(w) for w in text.split())
            assert syllables[0][0] == pytest.approx(start, abs=1e-3)
            assert max(e for _, e in syllables) == pytest.approx(end, abs=1e-3)
            rate = len(syllables) / (end - start)
            assert 2.0 <= rate <= 7.0  # a natural sung rate, held last note and pauses included


def test_clear_song_leaves_room_between_lines_and_has_instrumental_stretches(songs):
    song = songs["clear"]
    assert _gaps(song).min() >= 0.5
    starts_ends = np.array(song.line_times)
    assert starts_ends[0, 0] >= 2.0  # an intro
    assert _gaps(song).max() >= 6.0  # a solo or breakdown with no voice
    assert song.audio.duration - starts_ends[-1, 1] >= 2.0  # an outro


def test_dense_song_has_short_gaps_and_pauses_inside_lines():
    gaps, pauses = [], []
    for seed in range(3):
        song = make_song(seed, "dense", duration=30)
        gaps += list(_gaps(song))
        pauses += _pauses_inside_lines(song)
    assert min(gaps) >= 0.15
    assert min(gaps) < 0.4  # lines follow each other closely
    assert pauses and 0.08 < min(pauses) and max(pauses) <= 0.45


def test_given_lyrics_are_sung_in_order_and_cut_where_the_song_ends():
    lyrics = Lyrics(stanzas=(("Rotting flesh", "Bleeding stone"),) + example_lyrics(1, 40).stanzas, title="T")
    song = make_song(2, "clear", duration=25, lyrics=lyrics)
    sung = [text for text, _ in song.lyrics.lines]
    assert sung[:2] == ["Rotting flesh", "Bleeding stone"]
    assert sung == [text for text, _ in lyrics.lines][: len(sung)]
    assert 3 <= len(sung) < 42
    assert song.lyrics.stanzas[0] == ("Rotting flesh", "Bleeding stone")
    assert song.line_times[-1][1] < 25


def test_example_lyrics_are_stanzas_of_four_dark_lines():
    lyrics = example_lyrics(5, 10)
    assert [len(s) for s in lyrics.stanzas] == [4, 4, 2]
    assert lyrics == example_lyrics(5, 10) and lyrics != example_lyrics(6, 10)
    assert lyrics.title
    for text, _ in lyrics.lines:
        assert 4 <= sum(count_syllables(w) for w in text.split()) <= 13


def test_other_sample_rates_and_a_bad_kind():
    song = make_song(1, "dense", duration=12, rate=22050)
    assert song.audio.rate == 22050 and song.audio.samples.shape == (12 * 22050, 2)
    with pytest.raises(ValueError):
        make_song(1, "screamo")
