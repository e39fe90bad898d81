"""Writes the demo band's lyric corpus (assets/lyrics/demo/*.txt) from our own word lists and line patterns.

Every word list and pattern here was written for composer; nothing is taken from real songs. The output is
deterministic (fixed seed) so the benchmark's corpus size is reproducible:

    python assets/lyrics/make_demo_corpus.py            # rewrites assets/lyrics/demo/
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

NOUNS = """altar abyss ash bone blade carcass catacomb chasm cinder coffin corpse crypt crown darkness dirge
dust ember entrails flesh furnace gallows gore grave hunger husk iron marrow maw mire moon night obelisk
ossuary pit plague pyre rot ruin rust sepulchre serpent shadow shroud sigil skull smoke spine storm swarm
temple throne tomb torment vermin void vulture wound wyrm""".split()
PLURALS = """altars bones blades carcasses corpses crypts cinders embers graves husks maggots martyrs moons
ruins serpents shadows skulls spines stars swarms temples thrones tombs vultures wolves worms wounds
witches kings saints heretics hounds""".split()
ADJS = """ancient black bleeding blind broken burning cold cursed dead decayed defiled desolate dying endless
eternal faceless festering forgotten frozen godless hollow infernal iron last molten nameless obscene pale
putrid rotting sacred severed silent starless sunken swollen unholy vile wretched""".split()
VERBS = """bleed burn crawl crush devour drown feast fester howl kneel rise rot scream smother swallow tear wither
descend awaken consume dissolve hunger ascend""".split()
VERBS_S = """bleeds burns crawls crushes devours drowns feasts festers howls kneels rises rots screams smothers
swallows tears withers descends awakens consumes dissolves hungers""".split()
VERBS_ED = """bled burned crawled crushed devoured drowned feasted festered howled knelt rose rotted screamed
smothered swallowed torn withered descended awoke consumed dissolved""".split()
PLACES = """beneath the altar|below the frozen earth|inside the hollow moon|under a starless sky|in the halls of
rot|within the black cathedral|at the edge of the abyss|in the marrow of the world|beyond the final gate|
through the ashen fields|in the throat of the void|upon the iron throne|beneath the weight of ages|in the
sunken temple|where the rivers burn""".replace("\n", " ").split("|")
PLACES = [p.strip() for p in PLACES]
TIMES = """forever|for a thousand years|until the stars go out|when the bells are silent|at the end of days|
before the dawn that never comes|as the last fire dies|in the hour of the wolf""".replace("\n", " ").split("|")
TIMES = [t.strip() for t in TIMES]
CRIES = """rise|burn|kneel|devour|decay|descend|obey|bleed|awaken|behold""".split("|")

PATTERNS = [
    "{Adj} {noun} {verbs} {place}",
    "I {verb} {place}",
    "We {verb} {time}",
    "The {adj} {noun} {verbs} {time}",
    "{Plurals} {verb} {place}",
    "Hear the {plurals} {verb}",
    "{Cry}! {cry}! the {adj} {plurals} call",
    "A {noun} of {plurals}, a {noun} of {noun}",
    "My {noun} is {adj}, my {noun} is {adj}",
    "From the {noun} they {verbed}",
    "{Adj} and {adj}, the {plurals} {verb}",
    "No {noun} {place}, only {noun}",
    "Into the {noun} of {adj} {plurals}",
    "Crowned in {noun}, robed in {noun}",
    "The {noun} {verbed} {place}",
    "Let the {adj} {noun} {verb}",
    "{Plurals} of the {adj} {noun}",
    "Where {plurals} {verb}, no {plurals} {verb}",
    "I am the {noun}, I am the {noun}",
    "Feed the {noun} with {adj} {plurals}",
    "{Time}, the {noun} {verbs}",
    "Through {adj} {noun} and {adj} {noun}",
    "Chained to the {noun}, {verbed} by {plurals}",
    "Eyes of {noun}, teeth of {noun}",
    "{Adj} {plurals} {verb} {time}",
    "Nothing remains but {adj} {noun}",
    "Behold the {noun}, {adj} and {adj}",
    "They {verbed} the {noun} {place}",
]


def _fill(pattern: str, rng: random.Random) -> str:
    def pick(words: list[str], cap: bool) -> str:
        w = rng.choice(words)
        return w[:1].upper() + w[1:] if cap else w

    table = {"noun": NOUNS, "plurals": PLURALS, "adj": ADJS, "verb": VERBS, "verbs": VERBS_S,
             "verbed": VERBS_ED, "place": PLACES, "time": TIMES, "cry": CRIES}  # fmt: skip
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "{":
            j = pattern.index("}", i)
            key = pattern[i + 1 : j]
            out.append(pick(table[key.lower()], key[0].isupper()))
            i = j + 1
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def make_song(rng: random.Random) -> str:
    """Four to five verses of four lines and a chorus that returns, as a band would write it down."""
    def stanza(n: int) -> list[str]:
        return [_fill(rng.choice(PATTERNS), rng) for _ in range(n)]

    chorus = stanza(rng.choice((2, 4)))
    parts: list[list[str]] = []
    for _ in range(rng.choice((3, 4))):
        parts.append(stanza(4))
        parts.append(chorus)
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def main(out: Path, songs: int = 120, seed: int = 666) -> None:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("song_*.txt"):
        old.unlink()
    for k in range(songs):
        (out / f"song_{k:03d}.txt").write_text(make_song(rng), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "demo")
