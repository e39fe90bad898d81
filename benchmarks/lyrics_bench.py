"""Lyric model benchmark: quality and speed of the demo model on the demo corpus, against targets.

    python benchmarks/lyrics_bench.py                   # train demo model (~3 min on 2 cores), then measure
    python benchmarks/lyrics_bench.py --model DIR       # measure an already trained model folder
    python benchmarks/lyrics_bench.py --steps 1200 --keep models/demo/lyrics

Reports: corpus size; held-out bits/char; novelty share of 500 generated lines (raw model, and after the
novelty filter; target >= 0.95); distinct verse lines among 500 (target >= 0.9); time for 150 lines
(target < 3 s); training tokens/s of our loop against a plain transformers loop in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from composer.models.lyricgpt.corpus import NoveltyIndex, load_corpus, normalise_for_novelty  # noqa: E402
from composer.models.lyricgpt.generate import LyricStream  # noqa: E402
from composer.models.lyricgpt.model import PRESETS, alphabet_for, build_model, build_tokenizer, load_model  # noqa: E402
from composer.models.lyricgpt.train import _token_stream, evaluate_bits_per_char, train_lyrics  # noqa: E402

DEMO = ROOT / "assets" / "lyrics" / "demo"


def baseline_tokens_per_s(corpus, steps: int, threads: int) -> float:
    """A plain loop as a tutorial writes it: transformers computes the loss from labels, torch defaults
    (denormals on), fresh demo model, same batch shape."""
    torch.set_num_threads(threads)
    p = PRESETS["demo"]
    tok = build_tokenizer(alphabet_for("".join(corpus.lines)))
    model = build_model("demo", tok, seed=0).train()
    data = _token_stream(tok, corpus)
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        starts = torch.randint(0, len(data) - p.n_positions, (p.batch_size,), generator=gen)
        x = torch.stack([data[s : s + p.n_positions] for s in starts.tolist()])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * p.batch_size * p.n_positions / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=250, help="training steps for the demo model")
    ap.add_argument("--model", type=Path, help="measure this trained model folder instead of training")
    ap.add_argument("--keep", type=Path, help="write the trained model here (default: a temp folder)")
    ap.add_argument("--baseline-steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    files = sorted(DEMO.glob("*.txt"))
    corpus = load_corpus(files)
    train_c, val_c = corpus.split()
    print(
        f"corpus: {len(files)} songs, {len(corpus.lines):,} distinct lines, {corpus.chars:,} chars "
        f"({train_c.chars:,} train / {val_c.chars:,} held-out, split by song)"
    )

    tmp = tempfile.TemporaryDirectory()
    folder = args.model
    train_tps = None
    if folder is None:
        folder = args.keep or Path(tmp.name) / "lyrics"
        t0 = time.perf_counter()
        result = train_lyrics(
            files,
            folder,
            preset="demo",
            steps=args.steps,
            threads=args.threads,
            eval_every=max(100, args.steps // 4),
            report=lambda r: print(f"  step {r.step}: held-out {r.val_bits_per_char:.3f} bits/char"),
        )
        train_tps = result.tokens_per_s
        print(
            f"trained demo ({result.params:,} params) {result.step} steps in {time.perf_counter() - t0:.0f} s, "
            f"{train_tps:,.0f} tokens/s (threads={args.threads})"
        )

    model, tok, meta = load_model(folder)
    torch.set_num_threads(args.threads)
    with torch.inference_mode():
        bpc = evaluate_bits_per_char(model, _token_stream(tok, val_c), model.config.n_positions)
    print(f"held-out: {bpc:.3f} bits/char on {val_c.chars:,} chars (steps trained: {meta.get('step')})")

    novelty = NoveltyIndex.load(folder / "novelty.npy")
    for label, filtered in (("raw model", False), ("with filters", True)):
        # 500 sampled verse lines (the chorus lines in between are repeats by design)
        stream = LyricStream(folder, seed=0, filter_lines=filtered)
        verses: list[str] = []
        for line in stream:
            if line.section == "verse":
                verses.append(line.text)
                if len(verses) == 500:
                    break
        novel = sum(not novelty.copies(text) for text in verses) / len(verses)
        distinct = len({normalise_for_novelty(text) for text in verses}) / len(verses)
        print(
            f"{label:>12}: novelty {novel:.3f} (target >= 0.95), distinct {distinct:.3f} "
            f"of {len(verses)} verse lines (target >= 0.9)"
        )
    sample = LyricStream(folder, seed=1).take(8)
    print("sample:", *(f"  {line.text}" for line in sample), sep="\n")

    stream = LyricStream(folder, seed=2)
    t0 = time.perf_counter()
    stream.take(150)
    dt = time.perf_counter() - t0
    print(f"150 lines in {dt:.2f} s ({150 / dt:.0f} lines/s; target < 3 s)")

    if train_tps is not None:
        base = baseline_tokens_per_s(train_c, args.baseline_steps, args.threads)
        print(
            f"training: {train_tps:,.0f} tokens/s vs plain loop {base:,.0f} tokens/s "
            f"({train_tps / base:.2f}x, threads={args.threads})"
        )


if __name__ == "__main__":
    main()
