"""Syllable counts and spelling pieces: what the karaoke sweep highlights one by one."""

import pytest

from composer.media.syllables import count_syllables, syllabify

EXPECTED_COUNTS = {
    # from the CMU dictionary
    "blood": 1,
    "the": 1,
    "I": 1,
    "decay": 2,
    "serpent": 2,
    "darkness": 2,
    "cadaver": 3,
    "eternal": 3,
    "devour": 3,
    "carrion": 3,
    "pestilence": 3,
    "oblivion": 4,
    "necropolis": 4,
    "mutilated": 4,
    # case, punctuation and possessives do not change a count
    "Blood,": 1,
    "DECAY!": 2,
    "serpent's": 2,
    # not in the dictionary: the vowel-group rule
    "gorefest": 2,
    "sepulchre": 3,
    "necrogrind": 3,
    "cryptvomit": 3,
    "blastbeats": 2,
    # nothing to sing
    "—": 0,
    "...": 0,
}


@pytest.mark.parametrize("word,expected", EXPECTED_COUNTS.items())
def test_syllable_counts_match_expected(word, expected):
    assert count_syllables(word) == expected


WORDS = [
    "Necropolis,",
    "oblivion",
    "carrion",
    "hour",
    "chasm",
    "rhythm",
    "ruin",
    "idea",
    "ossuary",
    "serpent's",
    "don't",
    "Über",
    "—",
    "decapitation",
    "x",
    "brr",
    "everything",
    "cryptvomit",
    "sepulchre",
    "A",
]


@pytest.mark.parametrize("word", WORDS)
def test_syllabify_pieces_join_back_to_the_word(word):
    assert "".join(syllabify(word)) == word


@pytest.mark.parametrize("word", [w for w in WORDS if count_syllables(w) > 0])
def test_every_sung_syllable_gets_its_own_visible_piece(word):
    pieces = syllabify(word)
    letters = sum(ch.isalnum() for ch in word)
    assert len(pieces) == min(count_syllables(word), letters)
    assert all(any(ch.isalnum() for ch in p) for p in pieces)


def test_syllabify_cuts_at_sensible_places():
    assert syllabify("decay") == ("de", "cay")
    assert syllabify("cadaver") == ("ca", "dav", "er")
    assert syllabify("blood") == ("blood",)
