"""The lyric model end to end at debug size: corpus, training, reload, resume, generation, novelty, CLI."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

from composer.errors import ComposerError
from composer.media.lyricsfile import read_lyrics
from composer.models.lyricgpt.corpus import NoveltyIndex, Song, build_corpus, load_corpus
from composer.models.lyricgpt.generate import KVDecoder, LyricStream, generate_song, make_title
from composer.models.lyricgpt.model import (
    STANZA,
    alphabet_for,
    build_model,
    build_tokenizer,
    load_model,
    write_model,
)
from composer.models.lyricgpt.train import STATE_DIR, train_lyrics
from composer.util.files import write_dir_atomic

ADJ = "black cold dead hollow burning rotten silent frozen cursed ancient".split()
NOUN = "grave crypt skull throne altar moon serpent tomb void pyre".split()
VERB = "bleeds rots burns howls sleeps waits falls screams".split()
PLACE = "below the earth|in the dark|under ice|beyond the gate|in the pit".split("|")


def _song(rng: random.Random) -> str:
    stanzas = []
    for _ in range(3):
        lines = [f"the {rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)} {rng.choice(PLACE)}" for _ in range(4)]
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


def write_corpus(folder: Path, songs: int = 25, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(songs):
        p = folder / f"song{k}.txt"
        p.write_text(_song(rng), encoding="utf-8")
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("lyrics")
    files = write_corpus(root / "corpus")
    result = train_lyrics(files, root / "model", preset="debug", steps=300, eval_every=150, seed=0)
    return files, root / "model", result


# ------------------------------------------------------------------------------------------ training


def test_training_lowers_validation_loss_clearly(trained):
    _, _, result = trained
    assert result.step == 300
    # random init is ~log2(vocab) = 6.7 bits; the tiny grammar is learnable to well under half of that
    assert result.initial_val_bits_per_char > 6.0
    assert result.val_bits_per_char < 0.5 * result.initial_val_bits_per_char
    assert result.val_chars > 0 and result.train_chars > result.val_chars
    assert result.tokens_per_s > 0


def test_model_samples_the_corpus_structure(trained):
    """Unconstrained samples (transformers' own generate) break lines and stanzas like the corpus does."""
    _, folder, _ = trained
    model, tok, meta = load_model(folder)
    torch.manual_seed(0)
    out = model.generate(torch.tensor([[tok.bos_token_id]]), do_sample=True, max_new_tokens=120, top_p=0.9)
    text = tok.decode(out[0][1:])
    assert STANZA in text
    lines = [ln for chunk in text.split(STANZA) for ln in chunk.split("\n")[:-1] if ln]
    assert len(lines) >= 3
    lo, hi = meta["line_chars"]
    assert lo - 4 <= statistics.median(len(ln) for ln in lines) <= hi + 4


def test_song_has_verses_and_a_returning_chorus(trained):
    _, folder, _ = trained
    song = generate_song(folder, lines=16, seed=3)
    assert [len(s) for s in song.stanzas] == [4, 4, 4, 4]
    verse1, chorus1, verse2, chorus2 = song.stanzas
    assert chorus1 == chorus2
    assert len(set(verse1 + verse2)) == 8  # verses never repeat
    assert song.title and song.title.lower() in " ".join(chorus1).lower()
    lo, hi = json.loads((folder / "lyrics.json").read_text())["line_chars"]
    assert sum(lo <= len(line) <= hi for line in verse1 + verse2) >= 7


@pytest.mark.parametrize(
    ("chorus", "title"),
    [
        (["Eyes of torment, teeth of vault", "I shiver below the barren charnel"], "Eyes of Torment"),
        (["Into the maw of the frozen altars"], "Into the Maw"),  # five words would end on "of the"
        (["Chained to the ash of the", "Let the cold rust dissolve and burn"], "Chained to the Ash"),
        (["Hear the flies grind", "Burn"], "Hear the Flies Grind"),
    ],
)
def test_title_is_the_chorus_s_first_phrase_and_ends_on_a_word_that_counts(chorus, title):
    assert make_title(chorus) == title


def test_same_seed_same_lyrics(trained):
    _, folder, _ = trained
    a = generate_song(folder, lines=10, seed=7)
    b = generate_song(folder, lines=10, seed=7)
    c = generate_song(folder, lines=10, seed=8)
    assert a == b
    assert a != c


def test_stream_gives_lines_on_demand_across_songs(trained):
    _, folder, _ = trained
    stream = LyricStream(folder, seed=1, verses_per_song=1)
    first = stream.next_line()
    rest = stream.take(20)
    lines = [first, *rest]
    assert all(line.text for line in lines)
    assert {line.song for line in lines} == {0, 1, 2}  # 8 lines a song: one verse, one chorus
    assert next(iter(stream)).song == 2


def test_a_line_of_at_most_so_many_syllables_on_demand(trained):
    # render --band asks for a shorter line when the music's phrase is too short for the one written for it
    from composer.media.syllables import line_syllables

    _, folder, _ = trained
    stream = LyricStream(folder, seed=2)
    usual = sorted(line_syllables(line.text) for line in stream.take(12))
    short = usual[0]
    line = stream.line_within(short)
    assert line is not None and line_syllables(line) <= short
    assert line not in [x.text for x in LyricStream(folder, seed=2).take(12)], "a new line, not a repeat"
    assert stream.line_within(0) is None
    assert stream.line_within(1, tries=4) is None  # no line of this corpus is one syllable
    assert stream.next_line().text  # the stream goes on
    again = LyricStream(folder, seed=2)
    again.take(12)
    assert again.line_within(short) == line  # same seed, same line


def test_endless_stream_remembers_a_bounded_number_of_verses(trained, monkeypatch):
    from composer.models.lyricgpt import generate as lyrics_generate
    from composer.models.lyricgpt.corpus import normalise_for_novelty

    _, folder, _ = trained
    monkeypatch.setattr(lyrics_generate, "REMEMBERED_VERSES", 12)
    stream = LyricStream(folder, seed=3, verses_per_song=1)
    verses = [normalise_for_novelty(line.text) for line in stream.take(120) if line.section == "verse"]
    assert len(stream._used_verses) == 12  # memory stays flat however long the stream runs
    for i in range(len(verses) - 12):
        assert len(set(verses[i : i + 12])) == 12  # within what it remembers, no verse line comes back


def test_generated_lyrics_read_back_as_plain_lyrics(trained, tmp_path):
    _, folder, _ = trained
    song = generate_song(folder, lines=8, seed=2)
    path = tmp_path / "song.txt"
    path.write_text(song.to_text(), encoding="utf-8")
    assert read_lyrics(path, duration=60.0).stanzas == song.stanzas


# ------------------------------------------------------------------------------------------ novelty


def test_novelty_filter_rejects_a_copied_line(trained):
    files, folder, _ = trained
    index = NoveltyIndex.load(folder / "novelty.npy")
    copied = read_lyrics(files[0], duration=60.0).stanzas[0][0]
    assert len(copied) >= 30
    assert index.copies(copied)
    assert index.copies(copied.upper().replace(" ", ",  "))  # case and punctuation do not hide a copy
    assert not index.copies("a wholly new line that no grammar above can produce")
    assert not index.copies("the cold grave")  # shorter than 30 characters: cannot copy 30


def test_generated_lines_never_copy_30_characters(trained):
    files, folder, _ = trained
    index = NoveltyIndex.from_lines(line for f in files for st in read_lyrics(f, 60.0).stanzas for line in st)
    for line in LyricStream(folder, seed=5).take(24):
        assert not index.copies(line.text), line.text


# ------------------------------------------------------------------------------------------ save / load / resume


def test_saved_model_reloads_with_from_pretrained_and_same_logits(tmp_path):
    tok = build_tokenizer(alphabet_for("grave and bone"))
    model = build_model("debug", tok, seed=1).eval()
    folder = tmp_path / "m"
    write_dir_atomic(folder, lambda f: write_model(f, model, tok, {"line_chars": [1, 9]}))
    again = GPT2LMHeadModel.from_pretrained(folder).eval()
    tok2 = AutoTokenizer.from_pretrained(folder)
    ids = tok2("the grave\n" + STANZA + "bone\n", return_tensors="pt")["input_ids"]
    assert ids.tolist() == tok(["the grave\n" + STANZA + "bone\n"])["input_ids"]
    with torch.no_grad():
        assert torch.equal(model(ids).logits, again(ids).logits)
    assert again.config.bos_token_id == tok2.bos_token_id < again.config.vocab_size
    assert tok2.decode(ids[0]) == "the grave\n" + STANZA + "bone\n"


def test_resume_continues_the_step_count(tmp_path):
    files = write_corpus(tmp_path / "corpus", songs=8)
    out = tmp_path / "model"
    first = train_lyrics(files, out, preset="debug", steps=20, eval_every=10)
    assert json.loads((out / STATE_DIR / "state.json").read_text())["step"] == 20
    second = train_lyrics(files, out, preset="debug", steps=40, eval_every=10, resume=True)
    assert second.step == 40
    assert [r.step for r in second.reports] == [30, 40]
    assert second.initial_val_bits_per_char == pytest.approx(first.val_bits_per_char, rel=1e-4)
    assert json.loads((out / STATE_DIR / "state.json").read_text())["step"] == 40
    with pytest.raises(ComposerError, match="already trained 40 steps"):
        train_lyrics(files, out, preset="debug", steps=40, resume=True)
    with pytest.raises(ComposerError, match="--resume"):
        train_lyrics(files, out, preset="debug", steps=60)
    with pytest.raises(ComposerError, match="nothing to resume"):
        train_lyrics(files, tmp_path / "fresh", preset="debug", steps=10, resume=True)


def test_interrupted_run_resumes_bit_identically(tmp_path):
    files = write_corpus(tmp_path / "corpus", songs=8)
    whole = train_lyrics(files, tmp_path / "whole", preset="debug", steps=40, eval_every=10, seed=4)

    def stop_at_20(report) -> None:
        if report.step == 20:
            raise KeyboardInterrupt  # Ctrl-C just after a checkpoint

    with pytest.raises(KeyboardInterrupt):
        train_lyrics(files, tmp_path / "cut", preset="debug", steps=40, eval_every=10, seed=4, report=stop_at_20)
    rest = train_lyrics(files, tmp_path / "cut", preset="debug", steps=40, eval_every=10, resume=True)
    # same learning-rate schedule, data windows, dropout masks and optimizer moments: the same numbers
    assert [(r.step, r.train_loss, r.val_bits_per_char) for r in rest.reports] == [
        (r.step, r.train_loss, r.val_bits_per_char) for r in whole.reports[2:]
    ]
    a, b = GPT2LMHeadModel.from_pretrained(tmp_path / "whole"), GPT2LMHeadModel.from_pretrained(tmp_path / "cut")
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------------------------------ bad input


def test_no_files_is_an_error():
    with pytest.raises(ComposerError, match="no lyric files"):
        load_corpus([])


def test_empty_file_names_the_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("\n\n  \n")
    with pytest.raises(ComposerError, match="empty.txt"):
        load_corpus([p])


def test_binary_file_names_the_file(tmp_path):
    p = tmp_path / "cover.txt"
    p.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ComposerError, match=r"cover.txt.*binary"):
        load_corpus([p])


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ComposerError, match="nope.txt"):
        load_corpus([tmp_path / "nope.txt"])


def test_too_small_corpus_says_how_much_is_needed(tmp_path):
    p = tmp_path / "short.txt"
    p.write_text("the grave opens\nthe worms rise\n\nthe night falls\n")
    with pytest.raises(ComposerError, match=r"short.txt.*too small.*need at least 40 lines and 2,000 characters"):
        load_corpus([p])


def test_corpus_cleans_and_deduplicates():
    raw = Song((("[Chorus]", "Blood  on the “altar”", "blood on the altar!", "Rise (x2)"), ("Rise",)), "s.txt")
    filler = Song(tuple((f"line number {i} of the filler stanza here",) for i in range(60)), "f.txt")
    corpus = build_corpus([raw, filler])
    assert corpus.songs[0].stanzas == (('Blood on the "altar"', "Rise"),)


def test_kv_decoder_matches_transformers_logits(trained):
    _, folder, _ = trained
    model, tok, _ = load_model(folder)
    ids = tok("<|bos|>the cold grave rots in the pit\n" + STANZA + "the", return_tensors="pt")["input_ids"][0]
    with torch.no_grad():
        ref = model(ids[None]).logits[0]
        dec = KVDecoder(model)
        assert torch.allclose(dec.feed(ids[:10].tolist()), ref[9], atol=1e-4)
        assert torch.allclose(dec.feed(ids[10:11].tolist()), ref[10], atol=1e-4)  # one token on a cache
        assert torch.allclose(dec.feed(ids[11:].tolist()), ref[-1], atol=1e-4)  # a block on a cache
        dec.length = 5  # cropped back, then fed again
        assert torch.allclose(dec.feed(ids[5:12].tolist()), ref[11], atol=1e-4)


# ------------------------------------------------------------------------------------------ CLI


def test_cli_trains_and_generates(tmp_path):
    from typer.testing import CliRunner

    from composer.cli import app

    files = write_corpus(tmp_path / "corpus", songs=6)
    runner = CliRunner()
    model = tmp_path / "model"
    args = ["train", "lyrics", "--out", str(model), "--preset", "debug", "--steps", "20", "--quiet"]
    for f in files:
        args += ["--lyrics", str(f)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (model / "model.safetensors").is_file()
    song = tmp_path / "song.txt"
    res = runner.invoke(
        app, ["generate", "lyrics", "--model", str(model), "--lines", "8", "--seed", "4", "-o", str(song), "-q"]
    )
    assert res.exit_code == 0, res.output
    assert sum(len(s) for s in read_lyrics(song, 60.0).stanzas) == 8
    res = runner.invoke(app, ["generate", "lyrics", "--model", str(model), "--lines", "8", "--seed", "4", "-q"])
    assert res.exit_code == 0 and res.stdout == song.read_text()


def test_cli_reports_bad_input_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from composer.cli import app

    bad = tmp_path / "cover.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    res = CliRunner().invoke(app, ["train", "lyrics", "--lyrics", str(bad), "--out", str(tmp_path / "m"), "-q"])
    assert res.exit_code == 2
    assert "cover.txt" in res.output and "binary" in res.output
    res = CliRunner().invoke(app, ["generate", "lyrics", "--model", str(tmp_path / "none"), "-q"])
    assert res.exit_code == 2 and "no such lyric model folder" in res.output


def test_a_folder_stands_for_its_lyric_files(tmp_path):
    files = write_corpus(tmp_path / "corpus", songs=6)
    assert len(load_corpus([tmp_path / "corpus"]).songs) == len(load_corpus(files).songs) == 6
    (tmp_path / "empty").mkdir()
    with pytest.raises(ComposerError, match="empty: folder holds no lyric files"):
        load_corpus([tmp_path / "empty"])


@pytest.mark.skipif(__import__("importlib.util").util.find_spec("bible") is None, reason="needs composer[corpus]")
def test_kjv_source_gives_dark_line_sized_songs():
    from composer.models.lyricgpt.corpus import load_source

    songs = load_source("kjv")
    lines = [line for song in songs for line in song.lines]
    assert len(songs) > 500 and len(lines) > 10_000
    assert all(12 <= len(line) <= 70 for line in lines)
    assert any("bottomless pit" in line for line in lines)
    with pytest.raises(ComposerError, match="unknown corpus source"):
        load_source("nope")
