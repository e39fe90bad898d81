"""Times inside a line: words move onto the voice's onsets where those match the words' spread starts."""

from __future__ import annotations

import numpy as np
import pytest

from composer.media.timing import make_line
from composer.types import Timeline


def test_words_move_onto_nearby_onsets_and_the_rest_spread_between_them():
    spread = make_line("Into the ravenous vortex we perish", 10.0, 14.0)
    starts = [w.start for w in spread.words]
    onsets = np.array([starts[2] + 0.15, starts[4] - 0.1])
    line = make_line(spread.text, 10.0, 14.0, onsets=onsets)
    got = [w.start for w in line.words]
    assert got[2] == pytest.approx(onsets[0]) and got[4] == pytest.approx(onsets[1])
    assert got[0] == 10.0 and line.words[-1].end == 14.0
    assert got[2] < got[3] < got[4]  # the word between two anchors spread between them
    Timeline((line,), 20.0).validate()  # words and syllables in order, inside the line
    # an onset more than 0.6 s from every word's start moves nothing; onsets at the line's edges neither
    far = make_line(spread.text, 10.0, 14.0, onsets=np.array([10.0, 14.0]))
    assert [w.start for w in far.words] == pytest.approx(starts)


def test_a_dip_inside_a_word_does_not_split_it_from_its_neighbours():
    spread = make_line("Decapitation", 1.0, 3.0)
    line = make_line("Decapitation", 1.0, 3.0, onsets=np.array([1.8]))
    assert line == spread  # one word: nothing to move
