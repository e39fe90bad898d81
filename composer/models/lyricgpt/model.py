"""The lyric model: a character-level tokenizer and a transformers GPT-2, both in transformers' folder format.

A model folder holds ``config.json`` + ``model.safetensors`` + the tokenizer files, so
``GPT2LMHeadModel.from_pretrained(folder)`` and ``AutoTokenizer.from_pretrained(folder)`` open it, plus
``lyrics.json`` (what generation needs to know about the corpus) and the novelty index.

Characters rather than BPE: band corpora are small (tens of KB), where a learned subword vocabulary is
mostly unseen pieces, and a char model writes new words in the band's spelling.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
from transformers.utils import logging as hf_logging

from composer.errors import ComposerError
from composer.util.files import read_small_text

PAD, BOS, EOS, UNK = "<|pad|>", "<|bos|>", "<|eos|>", "<|unk|>"
STANZA = "<|stanza|>"  # a stanza break; a line break is the "\n" character itself
SPECIALS = (PAD, BOS, EOS, UNK, STANZA)
NEWLINE = "\n"
META_FILE = "lyrics.json"

# printable ASCII is always in the vocabulary so a resumed run or a later corpus never meets an unknown letter
_BASE_ALPHABET = NEWLINE + "".join(chr(c) for c in range(32, 127))
# other characters (umlauts, accents) join the vocabulary when the corpus uses them this often
_MIN_CHAR_COUNT = 3


@dataclass(frozen=True)
class Preset:
    n_layer: int
    n_head: int
    n_embd: int
    n_positions: int
    batch_size: int
    lr: float
    dropout: float = 0.0


PRESETS: dict[str, Preset] = {
    # for tests: trains a few hundred steps in seconds
    "debug": Preset(n_layer=2, n_head=2, n_embd=64, n_positions=128, batch_size=16, lr=3e-3),
    # ~1.3M parameters: learns a small corpus in minutes on 2 cores and samples well past real time
    "demo": Preset(n_layer=4, n_head=4, n_embd=160, n_positions=256, batch_size=16, lr=2e-3, dropout=0.1),
}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ComposerError(f"unknown lyric model preset {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]


def alphabet_for(text: str) -> str:
    counts = Counter(text)
    extra = sorted(ch for ch, n in counts.items() if n >= _MIN_CHAR_COUNT and ch not in _BASE_ALPHABET)
    return _BASE_ALPHABET + "".join(extra)


def build_tokenizer(alphabet: str) -> PreTrainedTokenizerFast:
    """One token per character (BPE with no merges), structure marks as special tokens, fused decoding."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.add_special_tokens(list(SPECIALS))
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[STANZA],
        clean_up_tokenization_spaces=False,
    )


def build_model(preset_name: str, tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> GPT2LMHeadModel:
    p = preset(preset_name)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=p.n_positions,
        n_embd=p.n_embd,
        n_layer=p.n_layer,
        n_head=p.n_head,
        resid_pdrop=p.dropout,
        embd_pdrop=p.dropout,
        attn_pdrop=p.dropout,
        # the defaults (50256) lie outside a char vocabulary and make transformers warn at every generate
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)


def encode_song(tokenizer: PreTrainedTokenizerFast, stanzas) -> list[int]:
    """<bos> line \\n line \\n <stanza> line \\n ... <eos>: the layout the model learns and generation follows."""
    text = STANZA.join("".join(line + NEWLINE for line in stanza) for stanza in stanzas)
    return [tokenizer.bos_token_id, *tokenizer.encode(text, add_special_tokens=False), tokenizer.eos_token_id]


def param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------- save / load


def write_model(folder: Path, model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast, meta: dict) -> None:
    # transformers draws a tqdm bar per save; only the CLI may write to the terminal
    hf_logging.disable_progress_bar()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def load_model(folder: str | os.PathLike) -> tuple[GPT2LMHeadModel, PreTrainedTokenizerFast, dict]:
    """(model in eval mode, tokenizer, lyrics.json) from a folder written by training."""
    folder = Path(folder)
    hf_logging.disable_progress_bar()  # transformers draws a bar while loading weights
    if not folder.is_dir():
        raise ComposerError(f"{folder}: no such lyric model folder (train one with `composer train lyrics`)")
    for name in ("config.json", "model.safetensors", "tokenizer.json", META_FILE):
        if not (folder / name).is_file():
            raise ComposerError(f"{folder}: not a lyric model folder ({name} is missing)")
    _check_sizes(folder / "config.json", _read_json(folder / "config.json"), _CONFIG_LIMITS, optional=("n_inner",))
    meta = _read_json(folder / META_FILE)
    _check_sizes(folder / META_FILE, meta, _META_LIMITS, optional=("stanza_lines", "novelty_chars"))
    line_chars = meta.get("line_chars")
    if not (
        isinstance(line_chars, list)
        and len(line_chars) == 2
        and all(_whole(n) for n in line_chars)
        and 1 <= line_chars[0] <= line_chars[1] <= 10_000
    ):
        raise ComposerError(
            f"{folder / META_FILE}: line_chars must be [shortest, longest], whole numbers from 1 "
            f"to 10000 (got {line_chars!r})"
        )
    try:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
        model = GPT2LMHeadModel.from_pretrained(folder)
    except (OSError, ValueError, RuntimeError, TypeError) as exc:  # RuntimeError: weights of another shape
        raise ComposerError(f"{folder}: lyric model cannot be loaded ({_first_line(exc)})") from exc
    model.train(False)
    return model, tokenizer, meta


# what a config.json or lyrics.json may say: sizes past these would allocate gigabytes before weights load
_CONFIG_LIMITS = {
    "n_layer": 64,
    "n_head": 64,
    "n_embd": 8192,
    "n_positions": 8192,
    "vocab_size": 1_000_000,
    "n_inner": 32768,
}
_META_LIMITS = {"stanza_lines": 64, "novelty_chars": 1000}


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(read_small_text(path, "model file"))
    except ValueError as exc:
        raise ComposerError(f"{path}: not readable JSON ({_first_line(exc)})") from exc
    if not isinstance(data, dict):
        raise ComposerError(f"{path}: expected a JSON object")
    return data


def _check_sizes(path: Path, data: dict, limits: dict[str, int], optional: tuple[str, ...] = ()) -> None:
    for key, most in limits.items():
        value = data.get(key)
        if value is None and key in optional:
            continue
        if not (_whole(value) and 1 <= value <= most):
            raise ComposerError(f"{path}: {key} = {value!r}: expected a whole number from 1 to {most}")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
