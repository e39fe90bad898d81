"""Is the shipped demo band any good? Figures for its two models (models/demo/), against goals.

Audio model: held-out NLL in bits per sample on two synthesizer songs it never heard; then 60 s of generated
audio (made as `composer render` makes it: ~6 s segments, temperature 1.0) against 60 s of its training
album: mean spectral flatness, the correlation of the long-term average log spectra (goal >= 0.9) and the
onset rate per second (goal: within 30% of the training audio's).
Lyric model: held-out bits per character, novelty and distinct lines (benchmarks/lyrics_bench.py --model).

    python benchmarks/demo_quality.py [--seconds 60] [--seed 0] [--skip-lyrics]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def held_out_bits(model, songs: list[int]) -> tuple[float, float]:
    from composer.audio.train import TRAIN_SETTINGS, _cut, evaluate_bits_per_sample, prepare_file
    from composer.audio.io import write_wav
    from composer.demo import demo_song
    import tempfile

    settings = TRAIN_SETTINGS["demo"]
    chunk_len = settings.chunk_len(model.config)
    chunks = []
    seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in songs:
            path = Path(tmp) / f"{i}.wav"
            write_wav(path, demo_song(i).audio)
            x = prepare_file(path, model.config.sample_rate)  # the exact normalisation training uses
            seconds += len(x) / model.config.sample_rate
            chunks.append(_cut(x, model.config, chunk_len))
    data = torch.cat(chunks)
    return evaluate_bits_per_sample(model, data, settings.seq_len, settings.batch_size), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-lyrics", action="store_true")
    args = ap.parse_args()

    from composer.audio.generate import GenerateStats, iter_segments
    from composer.audio.model import load
    from composer.audio.quality import compare
    from composer.bandrender import MIN_SEGMENT_S
    from composer.bands import find_band
    from composer.demo import DEMO_SONGS, write_demo_audio
    import soundfile as sf

    band = find_band("demo")
    folder = band.audio_weights()
    model = load(folder)
    print(f"audio model: {folder} ({sum(p.numel() for p in model.parameters()):,} params)")
    bits, secs = held_out_bits(model, [DEMO_SONGS, DEMO_SONGS + 1])
    print(f"held-out NLL: {bits:.3f} bits/sample on {secs:.0f} s of unseen synthesizer songs (8 = chance)")

    rate = model.config.sample_rate
    n = int(args.seconds * rate)
    streams = max(1, int(args.seconds // MIN_SEGMENT_S))
    stats = GenerateStats()
    gen = np.concatenate(list(iter_segments(model, args.seconds, seed=args.seed, streams=streams, stats=stats)))
    paths = write_demo_audio(band.audio_dir, rate)
    ref = np.concatenate([sf.read(p, dtype="float32")[0].mean(axis=1) for p in paths[:2]])[:n]
    q = compare(gen, ref, rate)
    ratio = q["onsets_per_s_generated"] / max(q["onsets_per_s_reference"], 1e-9)
    print(f"{args.seconds:.0f} s generated vs {args.seconds:.0f} s of the training album "
          f"({stats.segments} segments, {stats.regenerated} regenerated{f' {stats.problems}' if stats.problems else ''}):")  # fmt: skip
    print(f"  spectral flatness   {q['flatness_generated']:.3f} vs {q['flatness_reference']:.3f}")
    print(f"  LTAS correlation    {q['ltas_correlation']:.3f} (goal >= 0.9: "
          f"{'met' if q['ltas_correlation'] >= 0.9 else 'MISSED'})")  # fmt: skip
    print(f"  onsets per second   {q['onsets_per_s_generated']:.2f} vs {q['onsets_per_s_reference']:.2f} "
          f"(ratio {ratio:.2f}; goal 0.7-1.3: {'met' if 0.7 <= ratio <= 1.3 else 'MISSED'})")  # fmt: skip
    noise = np.random.default_rng(0).standard_normal(n).astype(np.float32) * float(np.std(ref))
    qn = compare(noise, ref, rate)
    print(f"  (white noise, for scale: flatness {qn['flatness_generated']:.3f}, LTAS correlation "
          f"{qn['ltas_correlation']:.3f}, {qn['onsets_per_s_generated']:.2f} onsets/s)")  # fmt: skip

    if not args.skip_lyrics:
        print(f"lyric model: {band.lyrics_weights()}")
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lyrics_bench.py"), "--model",
                        str(band.lyrics_weights())], check=True)  # fmt: skip


if __name__ == "__main__":
    main()
