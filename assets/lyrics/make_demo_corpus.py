"""Writes the demo band's lyric corpus (assets/lyrics/demo/*.txt) from our own word lists and line patterns.

Every word list and pattern here was written for composer; nothing is taken from real songs. The output is
deterministic (fixed seed) so the benchmark's corpus size is reproducible:

    python assets/lyrics/make_demo_corpus.py            # rewrites assets/lyrics/demo/
    python assets/lyrics/make_demo_corpus.py --ceiling  # what a perfect model of this grammar would score

The ceiling is the novelty (share of lines with no 30-character run copied from the corpus) of fresh lines
drawn from the grammar itself, and an upper bound on the grammar's entropy in bits per character: no model
trained on this corpus can be expected to beat either.
"""

from __future__ import annotations

import math
import random
import re
import sys
from pathlib import Path

NOUNS = """altar abyss ash bone blade carcass catacomb chasm cinder coffin corpse crypt crown darkness dirge
dust ember entrails flesh furnace gallows gore grave hunger husk iron marrow maw mire moon night obelisk
ossuary pit plague pyre rot ruin rust sepulchre serpent shadow shroud sigil skull smoke spine storm swarm
temple throne tomb torment vermin void vulture wound wyrm abattoir bile cairn cauldron chalice charnel
cistern fen gut hearse hive idol kiln larva lung mausoleum mould oracle pall pestilence quarry reliquary
sarcophagus scythe sinew slab sludge spire stench sulphur talon thorn tongue vault vein womb""".split()
PLURALS = """altars bones blades carcasses corpses crypts cinders embers graves husks maggots martyrs moons
ruins serpents shadows skulls spines stars swarms temples thrones tombs vultures wolves worms wounds
witches kings saints heretics hounds beasts brides choirs crows flies idols jackals leeches lepers locusts
monks oracles priests rats ravens relics scythes sinners spiders teeth thorns tongues veins wraiths""".split()
ADJS = """ancient black bleeding blind broken burning cold cursed dead decayed defiled desolate dying endless
eternal faceless festering forgotten frozen godless hollow infernal iron last molten nameless obscene pale
putrid rotting sacred severed silent starless sunken swollen unholy vile wretched ashen barren bloated
charred crimson drowned feral flayed gaunt grim headless hungry leprous lightless maggot-ridden mangled
poisoned rancid rusted scorched shattered sightless skinless tattered venomous weeping withered""".split()
VERBS = """bleed burn crawl crush devour drown feast fester howl kneel rise rot scream smother swallow tear wither
descend awaken consume dissolve hunger ascend gnaw grind writhe shiver hang weep slither choke decay
breed curse flay pray sink sleep wail wander""".split()
VERBS_S = """bleeds burns crawls crushes devours drowns feasts festers howls kneels rises rots screams smothers
swallows tears withers descends awakens consumes dissolves hungers gnaws grinds writhes shivers hangs
weeps slithers chokes decays breeds curses flays prays sinks sleeps wails wanders""".split()
VERBS_ED = """bled burned crawled crushed devoured drowned feasted festered howled knelt rose rotted screamed
smothered swallowed torn withered descended awoke consumed dissolved gnawed ground writhed hanged wept
choked decayed cursed flayed prayed sank slept wailed wandered""".split()
# places and times are built from short parts, so no long stock phrase ends line after line: a model true to
# this corpus then writes lines that are its own, not 30-character copies of it
PREPS = """beneath below inside under in within beyond through upon across among behind around above into
before""".split()
PLACES = [
    "{prep} the {noun}",
    "{prep} the {adj} {noun}",
    "{prep} the {noun} of {plurals}",
    "{prep} a {adj} {noun}",
    "{prep} the {plurals} of {noun}",
    "{prep} {adj} {plurals}",
]
SPANS = "years nights winters ages moons centuries aeons".split()
TIMES = [
    "forever",
    "until the {plurals} {verb}",
    "when the {plurals} are {adj}",
    "for a thousand {span}",
    "at the end of {span}",
    "before the {adj} dawn",
    "as the last {noun} dies",
    "in the hour of the {noun}",
    "till the {noun} is {adj}",
    "while the {plurals} {verb}",
    "since the {noun} {verbed}",
]
CRIES = """rise|burn|kneel|devour|decay|descend|obey|bleed|awaken|behold|suffer|repent|worship|perish""".split("|")

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
        if "{" in w:  # a place or time is itself a pattern
            w = _fill(w, rng)
        return w[:1].upper() + w[1:] if cap else w

    table = {
        "noun": NOUNS,
        "plurals": PLURALS,
        "adj": ADJS,
        "verb": VERBS,
        "verbs": VERBS_S,
        "verbed": VERBS_ED,
        "place": PLACES,
        "time": TIMES,
        "cry": CRIES,
        "prep": PREPS,
        "span": SPANS,
    }
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
    return re.sub(r"\b([Aa]) (?=[aeiou])", r"\1n ", "".join(out))  # "an ash", not "a ash"


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


def main(out: Path, songs: int = 200, seed: int = 666) -> None:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("song_*.txt"):
        old.unlink()
    for k in range(songs):
        (out / f"song_{k:03d}.txt").write_text(make_song(rng), encoding="utf-8")


def ceiling(corpus_dir: Path, lines: int = 2000, seed: int = 12345) -> tuple[float, float]:
    """(novelty of fresh grammar lines against the corpus, bits/char bound of a verse line)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from composer.models.lyricgpt.corpus import NoveltyIndex, load_corpus

    index = NoveltyIndex.from_lines(load_corpus(sorted(corpus_dir.glob("*.txt"))).lines)

    class Counting(random.Random):  # adds up log2 of every choice made: the information in a line
        bits = 0.0

        def choice(self, seq):
            Counting.bits += math.log2(len(seq))
            return super().choice(seq)

    rng = Counting(seed)
    fresh = [_fill(rng.choice(PATTERNS), rng) for _ in range(lines)]
    novel = sum(not index.copies(line) for line in fresh) / lines
    return novel, Counting.bits / sum(len(line) + 1 for line in fresh)  # +1: each line's line break


if __name__ == "__main__":
    demo = Path(__file__).parent / "demo"
    if sys.argv[1:] == ["--ceiling"]:
        novel, bits = ceiling(demo)
        print(f"fresh grammar lines novel {novel:.3f}; a verse line carries at most {bits:.3f} bits/char")
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else demo)
