"""espeak-ng songs: the aligner's independent evaluation rests on their true line and word starts."""

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from composer.errors import ComposerError  # noqa: E402
from composer.synthetic.espeak import Speaker  # noqa: E402
from composer.synthetic.tts_song import make_tts_song  # noqa: E402


@pytest.fixture(scope="module")
def song():
    return make_tts_song(1, "buried", "synth", duration=20.0)


def test_espeak_speaks_words_in_order():
    u = Speaker().say("Rotting in the abyss", "en-us+m3", wpm=160, pitch=20, pitch_range=0)
    # espeak-ng may run an unstressed word into the next ("in the"): at most one event per word
    assert 2 <= len(u.word_starts) <= 4 and np.all(np.diff(u.word_starts) > 0)
    assert len(u.samples) / u.rate > 0.8 and np.abs(u.samples).max() > 0.05


def test_an_unknown_voice_is_one_clear_error():
    with pytest.raises(ComposerError, match="no voice 'xx-nowhere'"):
        Speaker().say("grave", "xx-nowhere")


def test_true_starts_are_where_the_voice_begins(song):
    rate = song.audio.rate
    assert len(song.line_times) >= 3 and [len(w) for w in song.word_starts] == [
        len(t.split()) for t, _ in song.lyrics.lines
    ]
    for (start, end), words in zip(song.line_times, song.word_starts):
        assert words[0] == start and np.all(np.diff(words) > 0) and words[-1] < end <= song.audio.duration
    # the voice is centred, the band's guitars are not: the centre's share of the mix rises at each line
    left, right = song.audio.samples[:, 0], song.audio.samples[:, 1]
    centre = np.abs(left + right) - np.abs(left - right)

    def level(a, b):
        return float(np.mean(centre[int(a * rate) : int(b * rate)]))

    assert np.mean([level(s, s + 0.3) > level(s - 0.3, s) for s, _ in song.line_times]) >= 0.75


def test_same_seed_same_song(song):
    # espeak-ng's output drifts from call to call through state nothing resets; each song has a fresh copy of
    # the library, so the same seed is the same song bit for bit, whatever was made before it
    make_tts_song(3, "clear", "synth", duration=12.0)
    again = make_tts_song(1, "buried", "synth", duration=20.0)
    assert (again.lyrics, again.voice, again.treatment) == (song.lyrics, song.voice, song.treatment)
    assert again.line_times == song.line_times and np.array_equal(again.audio.samples, song.audio.samples)


def test_a_speaker_says_the_same_text_the_same_way_whatever_another_said():
    def say(speaker: Speaker) -> np.ndarray:
        return speaker.say("the crypt is dismembered", "en-us", wpm=180, pitch=30).samples

    with Speaker() as first, Speaker() as other:
        a = say(first)
        other.say("beneath the tomb", "en+croak", wpm=300, pitch=80)
        with Speaker() as third:
            assert np.array_equal(a, say(third))
        # one speaker's second utterance does drift from its first: the state is real, and private
        assert not np.array_equal(a, say(first))
