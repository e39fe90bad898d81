"""Writing lyrics with a trained lyric model: lines on demand, shaped into songs.

A song is verses and a chorus that returns (V C V C V C): the chorus is sampled once at the start of the
song (it also gives the title) and repeated verbatim; every verse line is new. Each sampled line must
  - fall in the corpus's usual line length (5th-95th percentile),
  - copy no run of 30 characters from the training text (the novelty index saved beside the model),
  - not repeat an earlier verse line of the stream,
else it is thrown away (the KV cache is cropped back) and drawn again.

Sampling is our own loop: GPT-2's forward pass on the transformers model's weights with a preallocated
KV cache (``KVDecoder``), temperature and nucleus (top-p) filtering, one seeded ``torch.Generator``:
same model, seed and settings give the same lyrics. The context is a sliding window: when it reaches
``n_positions`` it is cut to its last half and re-read.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from composer.errors import ComposerError
from composer.media.syllables import line_syllables
from composer.models.lyricgpt.corpus import NOVELTY_FILE, NoveltyIndex, normalise_for_novelty
from composer.models.lyricgpt.model import NEWLINE, STANZA, load_model
from composer.models.torchenv import torch_settings
from composer.types import Lyrics, Progress
from composer.util.files import OutputSet, write_text_atomic

VERSES_PER_SONG = 3
# verse lines an endless stream remembers so as not to sing them again (a day of songs is ~20k lines)
REMEMBERED_VERSES = 20_000
# after this many rejected draws for one line, the length rule is dropped (never the novelty rule)
_RELAX_AFTER = 24
_GIVE_UP_AFTER = 60
# draws ``line_within`` makes for a line short enough for its phrase before the phrase goes without words
SHORT_LINE_TRIES = 24


@dataclass(frozen=True)
class Line:
    text: str
    song: int  # which song of the stream (0, 1, ...)
    stanza: int  # stanza index inside the song
    section: str  # "verse" or "chorus"
    title: str  # the song's title


class RecentSet:
    """The last ``size`` distinct keys added: membership in O(1), memory bounded for endless streams."""

    def __init__(self, size: int):
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


class LyricStream:
    """An endless stream of lyric lines in songs; ask for as many as the audio has phrases.

    >>> stream = LyricStream("models/demo/lyrics", seed=1)
    >>> stream.next_line().text, stream.take(3)
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        seed: int = 0,
        *,
        temperature: float = 0.9,
        top_p: float = 0.95,
        verses_per_song: int = VERSES_PER_SONG,
        filter_lines: bool = True,
    ):
        if temperature <= 0:
            raise ComposerError(f"--temperature must be above 0 (got {temperature})")
        if not 0 < top_p <= 1:
            raise ComposerError(f"--top-p must be in (0, 1] (got {top_p})")
        model_dir = Path(model_dir)
        self.model, self.tokenizer, meta = load_model(model_dir)
        novelty_path = model_dir / NOVELTY_FILE
        if not novelty_path.is_file():
            raise ComposerError(f"{model_dir}: not a lyric model folder ({NOVELTY_FILE} is missing)")
        self.novelty = NoveltyIndex.load(novelty_path, meta.get("novelty_chars", 30))
        self.min_chars, self.max_chars = meta["line_chars"]
        self.stanza_lines = int(meta.get("stanza_lines", 4))
        self.verses_per_song = verses_per_song
        self.filter_lines = filter_lines  # False: the raw model, for measuring it (benchmarks)
        self.temperature, self.top_p = temperature, top_p
        self.n_positions = self.model.config.n_positions
        self._gen = torch.Generator().manual_seed(seed)

        tok = self.tokenizer
        self._newline = tok.convert_tokens_to_ids(NEWLINE)
        self._stanza = tok.convert_tokens_to_ids(STANZA)
        self._bos, self._eos = tok.bos_token_id, tok.eos_token_id
        vocab = self.model.config.vocab_size
        # inside a line only characters may come; a line ends with "\n", never with a structure mark
        self._in_line_mask = torch.zeros(vocab)
        self._in_line_mask[[i for i in tok.all_special_ids if i < vocab]] = float("-inf")
        self._line_start_mask = self._in_line_mask.clone()
        self._line_start_mask[[self._newline, tok.convert_tokens_to_ids(" ")]] = float("-inf")

        self._ctx: list[int] = []
        self._decoder = KVDecoder(self.model)
        self._logits: torch.Tensor | None = None
        self._used_verses = RecentSet(REMEMBERED_VERSES)
        self._plan: list[tuple[str, int]] = []  # (section, line index) still to emit in this song
        self._song = -1
        self._stanza_no = 0
        self._song_line_count = 0
        self._chorus: list[str] = []
        self.title = ""

    # -------------------------------------------------------------------------------- the public API

    def next_line(self) -> Line:
        # token-at-a-time math on 64-256 wide matrices gains nothing from a second thread (5x slower on a busy
        # 2-core machine here)
        with torch.inference_mode(), torch_settings(threads=1):
            if not self._plan:
                self._start_song()
            section, index = self._plan.pop(0)
            if index == 0:
                if self._ctx and self._ctx[-1] != self._bos:
                    self._feed([self._stanza])
                if self._song_line_count > 0:
                    self._stanza_no += 1
            if section == "chorus":
                text = self._chorus[index]
                self._feed(self.tokenizer.encode(text + NEWLINE, add_special_tokens=False))
            else:
                text = self._draw_line()
                self._used_verses.add(normalise_for_novelty(text))
            self._song_line_count += 1
            return Line(text, self._song, self._stanza_no, section, self.title)

    def __iter__(self) -> Iterator[Line]:
        return self

    def __next__(self) -> Line:
        return self.next_line()

    def take(self, n: int) -> list[Line]:
        return [self.next_line() for _ in range(n)]

    def line_within(self, syllables: int, tries: int = SHORT_LINE_TRIES) -> str | None:
        """A new verse line of at most ``syllables`` sung syllables, or None when ``tries`` draws give none (a
        phrase of the music too short for the line written for it). Rejected draws leave no trace in the
        context; the accepted one is sung next in it."""
        if syllables < 1:
            return None
        with torch.inference_mode(), torch_settings(threads=1):
            if self._logits is None:  # nothing written yet: a song (its chorus) gives the line its context
                self._start_song()
            for _ in range(tries):
                mark = self._mark()
                text = self._sample_line()
                key = normalise_for_novelty(text) if text else ""
                # short, yet a line: a lone letter from an undertrained model is no lyric
                if (
                    text
                    and len(text) >= min(self.min_chars, 2 * syllables + 1)
                    and line_syllables(text) <= syllables
                    and not self.novelty.copies(text)
                    and key not in self._used_verses
                    and text not in self._chorus
                ):
                    self._used_verses.add(key)
                    return text
                self._rewind(mark)
        return None

    # -------------------------------------------------------------------------------- songs

    def _start_song(self) -> None:
        if self._ctx:
            self._feed([self._eos])
        self._song += 1
        self._stanza_no = 0
        self._song_line_count = 0
        self._feed([self._bos])
        # the chorus is written first (in context, not yet sung) so the title exists before the first line
        self._chorus = []
        for _ in range(self.stanza_lines):
            self._chorus.append(self._draw_line())
        self.title = make_title(self._chorus)
        self._plan = []
        for _ in range(self.verses_per_song):
            self._plan += [("verse", i) for i in range(self.stanza_lines)]
            self._plan += [("chorus", i) for i in range(len(self._chorus))]

    def _draw_line(self) -> str:
        """One acceptable line, sampled into the context (rejected draws are cropped back out)."""
        fallback = None
        for attempt in range(_GIVE_UP_AFTER):
            mark = self._mark()
            text = self._sample_line()
            if text is not None and not self.filter_lines:
                return text
            if text is not None and not self.novelty.copies(text):
                key = normalise_for_novelty(text)
                fits = self.min_chars <= len(text) <= self.max_chars
                fresh = key not in self._used_verses and text not in self._chorus
                if fits and fresh:
                    return text
                if fresh and attempt >= _RELAX_AFTER:
                    return text
                fallback = fallback or text
            self._rewind(mark)
        if fallback is not None:
            # an undertrained model rarely hits the length range; a novel line beats no line
            self._feed(self.tokenizer.encode(fallback + NEWLINE, add_special_tokens=False))
            return fallback
        raise ComposerError(
            f"lyric model keeps copying its training text ({_GIVE_UP_AFTER} draws in a row); "
            "raise --temperature or train on more lyrics"
        )

    def _sample_line(self) -> str | None:
        """Characters until "\\n"; None if the line runs past twice the corpus's longest usual line."""
        chars: list[int] = []
        limit = 2 * self.max_chars + 8
        while True:
            mask = self._line_start_mask if not chars else self._in_line_mask
            tok = self._sample(self._logits + mask)
            self._feed([tok])
            if tok == self._newline:
                return self.tokenizer.decode(chars).strip()
            chars.append(tok)
            if len(chars) > limit:
                return None

    def _sample(self, logits: torch.Tensor) -> int:
        probs = torch.softmax(logits / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            # keep the smallest set whose mass reaches top_p (the first token always stays)
            drop = sorted_p.cumsum(0) - sorted_p > self.top_p
            sorted_p[drop] = 0.0
            return int(order[torch.multinomial(sorted_p, 1, generator=self._gen)])
        return int(torch.multinomial(probs, 1, generator=self._gen))

    # -------------------------------------------------------------------------------- context + KV cache

    def _feed(self, ids: list[int]) -> None:
        if len(self._ctx) + len(ids) > self.n_positions:
            # GPT-2's positions are absolute: the cache cannot slide, so keep the recent half and re-read it
            self._ctx = (self._ctx + ids)[-(self.n_positions // 2) :]
            self._decoder.length = 0
            ids = self._ctx
        else:
            self._ctx += ids
        self._logits = self._decoder.feed(ids)

    def _mark(self):
        return (len(self._ctx), self._logits, list(self._ctx), self._decoder.length)

    def _rewind(self, mark) -> None:
        length, logits, ctx, cached = mark
        if self._decoder.length >= cached and len(self._ctx) >= length and self._ctx[:length] == ctx:
            self._ctx = self._ctx[:length]
            self._decoder.length = cached  # cropping the KV cache is just forgetting its tail
            self._logits = logits
        else:
            # the window was cut during the draw: re-read the saved context
            self._ctx, self._decoder.length = [], 0
            self._feed(ctx)


class KVDecoder:
    """GPT-2's forward pass for one sequence with a preallocated KV cache, on the transformers model's weights.

    transformers' forward costs ~1 ms a token here in Python overhead alone (mask building, cache objects,
    output classes) for a model whose arithmetic takes a fraction of that; this loop does the same math in
    about a quarter of the time (tests check its logits against ``model(...)``).
    """

    def __init__(self, model):
        cfg = model.config
        if getattr(cfg, "scale_attn_by_inverse_layer_idx", False) or getattr(cfg, "reorder_and_upcast_attn", False):
            raise ComposerError("lyric model uses GPT-2 attention options the sampler does not support")
        if cfg.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ComposerError(f"lyric model uses activation {cfg.activation_function!r}; the sampler needs gelu_new")
        tr = model.transformer
        self.wte, self.wpe = tr.wte.weight, tr.wpe.weight
        self.ln_f = (tr.ln_f.weight, tr.ln_f.bias)
        self.eps = cfg.layer_norm_epsilon
        # plain tensors, read once: module attribute lookups were a tenth of the time per token
        self.blocks = [
            (
                b.ln_1.weight,
                b.ln_1.bias,
                b.attn.c_attn.weight,
                b.attn.c_attn.bias,
                b.attn.c_proj.weight,
                b.attn.c_proj.bias,
                b.ln_2.weight,
                b.ln_2.bias,
                b.mlp.c_fc.weight,
                b.mlp.c_fc.bias,
                b.mlp.c_proj.weight,
                b.mlp.c_proj.bias,
            )
            for b in tr.h
        ]
        self.head = model.lm_head.weight
        self.n_head, self.d = cfg.n_head, cfg.n_embd
        self.hd = self.d // self.n_head
        self.scale = self.hd**-0.5
        shape = (cfg.n_layer, self.n_head, cfg.n_positions, self.hd)
        self.k = torch.zeros(shape)
        self.v = torch.zeros(shape)
        self.length = 0

    def feed(self, ids: list[int]) -> torch.Tensor:
        """Append tokens to the cache; logits for the token after the last one."""
        t0, n = self.length, len(ids)
        end = t0 + n
        d, nh, hd = self.d, self.n_head, self.hd
        x = self.wte[ids] + self.wpe[t0:end]
        # one new token sees everything cached; a block of new tokens also needs the causal cut among them
        mask = None if n == 1 else torch.ones(n, end, dtype=torch.bool).tril(t0)
        for i, (g1, b1, wa, ba, wp, bp, g2, b2, wf, bf, wm, bm) in enumerate(self.blocks):
            qkv = torch.addmm(ba, F.layer_norm(x, (d,), g1, b1, self.eps), wa)
            q, k, v = (t.view(n, nh, hd).transpose(0, 1) for t in qkv.split(d, dim=-1))
            self.k[i, :, t0:end] = k
            self.v[i, :, t0:end] = v
            keys, values = self.k[i, :, :end], self.v[i, :, :end]
            if mask is None:
                # three small ops beat scaled_dot_product_attention's dispatch for a single query
                a = torch.softmax((q @ keys.transpose(1, 2)) * self.scale, dim=-1) @ values
            else:
                a = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            x = x + torch.addmm(bp, a.transpose(0, 1).reshape(n, d), wp)
            h = F.gelu(torch.addmm(bf, F.layer_norm(x, (d,), g2, b2, self.eps), wf), approximate="tanh")
            x = x + torch.addmm(bm, h, wm)
        self.length = end
        return F.layer_norm(x[-1], (d,), *self.ln_f, self.eps) @ self.head.T


# words a title neither ends on nor capitalises (after its first word), as titles are written
_TITLE_SMALL = frozenset("a an and as at but by for from in into of on or the to with".split())


def make_title(chorus: list[str]) -> str:
    """The chorus's most quotable phrase: its shortest line of two or more words, cut to its first phrase
    (up to a comma or other break) when longer than five words, and never ending on "of" or "the"."""
    candidates = [line for line in chorus if len(line.split()) >= 2] or chorus
    line = min(candidates, key=len)
    if len(line.split()) > 5:
        first = re.split(r"[,;:!?.]", line)[0]
        if len(first.split()) >= 2:
            line = first
    words = re.sub(r"[^\w' -]+", " ", line).split()[:5]
    while len(words) > 1 and words[-1].lower() in _TITLE_SMALL:
        words.pop()
    return (
        " ".join(w if k and w.lower() in _TITLE_SMALL else w[:1].upper() + w[1:] for k, w in enumerate(words))
        or "Untitled"
    )


def generate_song(
    model_dir: str | os.PathLike,
    lines: int = 40,
    *,
    seed: int = 0,
    temperature: float = 0.9,
    top_p: float = 0.95,
    progress: Progress | None = None,
) -> Lyrics:
    """One song of ``lines`` lines (verses and a returning chorus, as many rounds as it takes)."""
    if lines < 1:
        raise ComposerError(f"--lines must be at least 1 (got {lines})")
    stream = LyricStream(model_dir, seed, temperature=temperature, top_p=top_p)
    # enough verse/chorus rounds that one song holds every line asked for
    stream.verses_per_song = max(1, -(-lines // (2 * stream.stanza_lines)))
    got: list[Line] = []
    for i in range(lines):
        got.append(stream.next_line())
        if progress:
            progress("lyrics", i + 1, lines)
    stanzas: dict[int, list[str]] = {}
    for line in got:
        stanzas.setdefault(line.stanza, []).append(line.text)
    return Lyrics(stanzas=tuple(tuple(v) for _, v in sorted(stanzas.items())), title=got[0].title)


def lyrics_output(path: str | os.PathLike) -> OutputSet:
    """Where ``write_lyrics`` will write: a file there that composer did not write is refused now, before any
    lyrics are generated, and is never replaced."""
    return OutputSet([Path(path)], [], "write the lyrics (-o) to another name or folder")


def write_lyrics(lyrics: Lyrics, path: str | os.PathLike) -> Path:
    """The song as plain text at ``path`` (see ``lyrics_output``)."""
    path = Path(path)
    with lyrics_output(path) as outputs:
        write_text_atomic(outputs.staged(path), lyrics.to_text())
    return path
