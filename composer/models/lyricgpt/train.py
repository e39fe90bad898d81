"""Training the lyric model: random windows of the training songs, AdamW with warmup + cosine decay,
held-out validation in bits per character, and checkpoints that resume exactly where they stopped.

The output folder is the model folder (transformers' layout, see ``model.py``) plus ``training_state/``
(step, optimizer moments, RNG states) for ``resume``. Every checkpoint replaces the folder atomically.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from composer.errors import ComposerError
from composer.models.lyricgpt.corpus import NOVELTY_CHARS, NOVELTY_FILE, Corpus, NoveltyIndex, load_corpus
from composer.models.lyricgpt.model import (
    META_FILE,
    alphabet_for,
    build_model,
    build_tokenizer,
    encode_song,
    load_model,
    param_count,
    write_model,
)
from composer.models.lyricgpt.model import (
    preset as get_preset,
)
from composer.models.torchenv import torch_settings
from composer.types import Progress
from composer.util.files import check_apart, claim_dir, recover_dir, write_dir_atomic

STATE_DIR = "training_state"
# validation is a fixed slice of the held-out songs so its cost stays flat as corpora grow
_MAX_VAL_WINDOWS = 48
_LN2 = math.log(2)


@dataclass(frozen=True)
class TrainReport:
    """What a checkpoint measured; the CLI prints these."""

    step: int
    steps: int
    train_loss: float  # nats per token, mean since the previous report
    val_bits_per_char: float
    tokens_per_s: float

    @property
    def train_bits_per_char(self) -> float:
        """The training loss in bits: a token is a character (see ``evaluate_bits_per_char``)."""
        return self.train_loss / _LN2


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    step: int
    params: int
    train_chars: int
    val_chars: int
    val_bits_per_char: float
    initial_val_bits_per_char: float  # of this run's starting weights: the gain is the difference
    tokens_per_s: float
    reports: tuple[TrainReport, ...]


def train_lyrics(
    files: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    preset: str = "demo",
    steps: int = 2000,
    resume: bool = False,
    seed: int = 0,
    sources: Sequence[str] = (),
    eval_every: int | None = None,
    threads: int = 1,
    progress: Progress | None = None,
    report: Callable[[TrainReport], None] | None = None,
) -> TrainResult:
    """Train (or with ``resume``, keep training) a lyric model on lyric files; ``steps`` is the total to reach.

    ``threads`` defaults to 1: these models' matrices are small, so a second thread gains at most ~1.6x on an
    idle machine, while on a busy one its spin-waits cost 6x (1.1k vs 6.2k tokens/s for ``demo`` here).
    """
    with torch_settings(max(1, threads)):
        return _train(files, out_dir, preset, steps, resume, seed, sources, eval_every, progress, report)


def _train(files, out_dir, preset, steps, resume, seed, sources, eval_every, progress, report) -> TrainResult:
    out_dir = Path(out_dir)
    if steps < 1:
        raise ComposerError(f"--steps must be at least 1 (got {steps})")
    recover_dir(out_dir)  # a checkpoint cut short between its two renames
    check_apart(files, out_dir, "lyrics")
    claim_dir(out_dir, "choose another --out")
    corpus = load_corpus(files, sources=sources, progress=progress)
    train_c, val_c = corpus.split()

    if resume:
        model, tokenizer, state = _load_for_resume(out_dir)
        preset, seed = state["preset"], state["seed"]
        if state["step"] >= steps:
            raise ComposerError(
                f"{out_dir}: already trained {state['step']} steps; pass --steps above {state['step']} to go on"
            )
    else:
        if (out_dir / STATE_DIR).exists():
            raise ComposerError(f"{out_dir}: already holds a trained model; pass --resume or choose another --out")
        tokenizer = build_tokenizer(alphabet_for("".join(corpus.lines)))
        model = build_model(preset, tokenizer, seed)
        state = {"step": 0, "preset": preset, "seed": seed}
    p = get_preset(preset)

    train_ids = _token_stream(tokenizer, train_c)
    val_ids = _token_stream(tokenizer, val_c)
    block = min(p.n_positions, len(train_ids) - 1)
    optimizer = _optimizer(model, p.lr)
    data_gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if resume:
        _restore_state(out_dir, optimizer, data_gen)
    meta = _meta(corpus, train_c, val_c, preset, p)
    novelty = NoveltyIndex.from_lines(corpus.lines)

    step = start = state["step"]
    eval_every = eval_every or max(50, steps // 5)
    warmup = max(1, min(100, steps // 10))
    initial_bpc = evaluate_bits_per_char(model, val_ids, block)
    reports: list[TrainReport] = []
    losses: list[float] = []
    tokens, busy = 0, 0.0
    bpc = initial_bpc
    model.train()
    while step < steps:
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, steps, warmup, p.lr)
        x, y = _batch(train_ids, block, p.batch_size, data_gen)
        logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        busy += time.perf_counter() - t0
        tokens += x.numel()
        losses.append(loss.item())
        step += 1
        if progress:
            progress("train", step - start, steps - start)
        if step % eval_every == 0 or step == steps:
            bpc = evaluate_bits_per_char(model, val_ids, block)
            model.train()
            rep = TrainReport(step, steps, statistics.fmean(losses), bpc, tokens / busy)
            losses = []
            reports.append(rep)
            meta.update(step=step, val_bits_per_char=round(bpc, 4))
            _checkpoint(out_dir, model, tokenizer, meta, novelty, optimizer, data_gen, {**state, "step": step})
            if report:
                report(rep)
    return TrainResult(
        out_dir=out_dir,
        step=step,
        params=param_count(model),
        train_chars=train_c.chars,
        val_chars=val_c.chars,
        val_bits_per_char=bpc,
        initial_val_bits_per_char=initial_bpc,
        tokens_per_s=tokens / busy if busy else 0.0,
        reports=tuple(reports),
    )


# ----------------------------------------------------------------------------------------------- data


def _token_stream(tokenizer, corpus: Corpus) -> torch.Tensor:
    ids: list[int] = []
    for song in corpus.songs:
        ids.extend(encode_song(tokenizer, song.stanzas))
    return torch.tensor(ids, dtype=torch.long)


def _batch(data: torch.Tensor, block: int, batch_size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.randint(0, len(data) - block, (batch_size,), generator=gen)
    windows = data.unfold(0, block + 1, 1)[starts]
    return windows[:, :-1], windows[:, 1:]


@torch.no_grad()
def evaluate_bits_per_char(model, val_ids: torch.Tensor, block: int) -> float:
    """Mean bits per predicted token over consecutive windows of the held-out text.

    Tokens are single characters, line breaks and stanza marks, so bits per token is bits per character.
    """
    model.train(False)
    block = min(block, len(val_ids) - 1)
    total, count = 0.0, 0
    for i, start in enumerate(range(0, len(val_ids) - 1, block)):
        if i >= _MAX_VAL_WINDOWS:
            break
        window = val_ids[start : start + block + 1]
        if len(window) < 2:
            break
        logits = model(input_ids=window[None, :-1]).logits[0]
        total += F.cross_entropy(logits, window[1:], reduction="sum").item()
        count += len(window) - 1
    return total / count / _LN2


# ----------------------------------------------------------------------------------------------- optimisation


def _optimizer(model, lr: float) -> torch.optim.AdamW:
    # no weight decay on biases, LayerNorms and embeddings' 1-D parts (nanoGPT's split)
    decay = [q for q in model.parameters() if q.dim() >= 2]
    no_decay = [q for q in model.parameters() if q.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def _lr(step: int, steps: int, warmup: int, peak: float) -> float:
    """Linear warmup, then cosine decay to a tenth of the peak at ``steps``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


# ----------------------------------------------------------------------------------------------- checkpoints


def _meta(corpus: Corpus, train_c: Corpus, val_c: Corpus, preset: str, p) -> dict:
    lo, hi = corpus.line_length_range()
    stanza_sizes = [len(st) for song in corpus.songs for st in song.stanzas]
    return {
        "preset": preset,
        "line_chars": [lo, hi],
        "stanza_lines": int(min(8, max(2, statistics.median(stanza_sizes)))),
        "novelty_chars": NOVELTY_CHARS,
        "corpus_chars": corpus.chars,
        "corpus_lines": len(corpus.lines),
        "train_chars": train_c.chars,
        "val_chars": val_c.chars,
        "n_positions": p.n_positions,
    }


def _checkpoint(out_dir, model, tokenizer, meta, novelty, optimizer, data_gen, state) -> None:
    def write(folder: Path) -> None:
        write_model(folder, model, tokenizer, meta)
        novelty.save(folder / NOVELTY_FILE)
        sdir = folder / STATE_DIR
        sdir.mkdir()
        (sdir / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
        torch.save(optimizer.state_dict(), sdir / "optimizer.pt")
        save_file({"torch": torch.get_rng_state(), "data": data_gen.get_state()}, sdir / "rng.safetensors")

    write_dir_atomic(out_dir, write)


def _load_for_resume(out_dir: Path):
    sdir = out_dir / STATE_DIR
    if not (sdir / "state.json").is_file():
        raise ComposerError(f"{out_dir}: nothing to resume (no {STATE_DIR}/state.json); train without --resume first")
    model, tokenizer, _ = load_model(out_dir)
    state = json.loads((sdir / "state.json").read_text(encoding="utf-8"))
    return model, tokenizer, state


def _restore_state(out_dir: Path, optimizer: torch.optim.Optimizer, data_gen: torch.Generator) -> None:
    sdir = out_dir / STATE_DIR
    try:
        # weights_only: a checkpoint folder may come from anyone; never unpickle arbitrary objects
        optimizer.load_state_dict(torch.load(sdir / "optimizer.pt", weights_only=True))
        rng = load_file(sdir / "rng.safetensors")
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise ComposerError(f"{sdir}: training state cannot be loaded ({exc})") from exc
    torch.set_rng_state(rng["torch"])
    data_gen.set_state(rng["data"])


__all__ = ["TrainReport", "TrainResult", "train_lyrics", "evaluate_bits_per_char", "META_FILE"]
