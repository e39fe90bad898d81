"""Is the shipped demo band any good? Figures for its two models (models/demo/), against goals.

Audio model: held-out NLL in bits per sample on two synthesizer songs it never heard; then 60 s generated as
`composer generate audio --band demo` makes it (64 streams, temperature 1.0, stretches that hear the band's
recordings), seeds 0-2, measured next to the album itself, white noise shaped to the album's spectrum and a
collage of 5 s album pieces that each start from silence, as the first generator's did (the known-bad inputs),
all in one run:
  rhythm       the onset envelope's periodicity at 0.2-2 s lags (goal: >= 75% of the album's)
  transients   how spiky the spectral flux is (top 2% over median)
  closeness    Frechet distance of 1 s windows to the album over the album's own at the same length (goal <= 3)
  seams        can joins be told from random points? Mann-Whitney AUC and p (goal: p > 0.05)
  copy         highest normalised cross-correlation of a half-second window with the album (a copy is ~1.0)
and a PNG of their spectrograms (`--png`). Lyric model: held-out bits per character, novelty and distinct lines
(benchmarks/lyrics_bench.py --model).

    python benchmarks/demo_quality.py [--seconds 60] [--seeds 0,1,2] [--model DIR]
                                      [--png docs/demo_spectrograms.png] [--skip-lyrics]
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
    import tempfile

    from composer.media.audio import write_wav
    from composer.models.samplernn.train import TRAIN_SETTINGS, _cut, evaluate_bits_per_sample, prepare_file
    from composer.synthetic.demo import demo_song

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
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument("--model", type=Path, default=None, help="audio model folder (default: the demo band's)")
    ap.add_argument("--png", type=Path, default=ROOT / "docs" / "demo_spectrograms.png")
    ap.add_argument("--skip-lyrics", action="store_true")
    args = ap.parse_args()

    from composer.band.profile import find_band
    from composer.media import quality as Q
    from composer.media.plot import write_spectrograms
    from composer.models.samplernn.generate import GenerateStats, iter_segments
    from composer.models.samplernn.model import load
    from composer.models.samplernn.train import prepare_file
    from composer.synthetic.demo import DEMO_SONGS, write_demo_audio

    band = find_band("demo")
    folder = args.model or band.weights("audio")
    model = load(folder)
    print(f"audio model: {folder} ({sum(p.numel() for p in model.parameters()):,} params)")
    bits, secs = held_out_bits(model, [DEMO_SONGS, DEMO_SONGS + 1])
    print(f"held-out NLL: {bits:.3f} bits/sample on {secs:.0f} s of unseen synthesizer songs (8 = chance)")

    rate = model.config.sample_rate
    # the album as the model heard it (each song normalised as training does), so levels compare like for like
    songs = [prepare_file(p, rate) for p in write_demo_audio(band.audio_dir, rate)]
    album = np.concatenate(songs)
    ref = Q.AlbumReference.from_songs(songs, rate)
    album_rhythm = Q.rhythm_strength(album, rate)
    pool = band.prime_pool(rate)

    rows: list[tuple[str, np.ndarray, list[int]]] = []
    excerpt = album[: round(args.seconds * rate)]
    rows.append(("album (its first minute)", excerpt, list(range(8 * rate, len(excerpt), 8 * rate))))
    generated = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        stats = GenerateStats()
        x = np.concatenate(
            list(iter_segments(model, args.seconds, seed=seed, streams=args.streams, pool=pool, stats=stats))
        )
        print(
            f"generated seed {seed}: {stats.segments} stretches, {len(stats.joins)} joins, "
            f"{stats.realtime_factor:.2f}x real time, {stats.regenerated} regenerated"
        )
        rows.append((f"generated, seed {seed}", x, [j for _, j in stats.joins]))
        generated.append(x)
    noise = Q.shaped_noise(album, rate, args.seconds)
    rows.append(("shaped noise", noise, list(range(8 * rate, len(noise), 8 * rate))))
    rows.append(("album pieces restarting/5s", *Q.restart_collage(songs, args.seconds, rate, piece_s=5.0)))

    print(f"\n{args.seconds:.0f} s each; album rhythm {album_rhythm:.3f} over all {len(album) / rate / 60:.1f} min")
    print(
        f"{'':26s} {'rhythm':>7s} {'(/album)':>8s} {'spiky':>6s} {'closeness':>9s} "
        f"{'seam AUC':>8s} {'p':>8s} {'joins':>5s}"
    )
    figures = []  # (rhythm, closeness ratio) per row, for the targets below
    for name, x, joins in rows:
        rhythm = Q.rhythm_strength(x, rate)
        close = ref.closeness(x)
        figures.append((rhythm, close.ratio))
        seams = Q.seam_test(x, rate, joins)
        print(
            f"{name:26s} {rhythm:7.3f} {rhythm / album_rhythm:8.2f} {Q.transient_spikiness(x, rate):6.2f} "
            f"{close.ratio:9.2f} {seams.auc:8.2f} {seams.p_value:8.3f} {seams.joins:5d}"
        )
    g = rows[1 : 1 + len(generated)]
    rhythm = np.mean([r for r, _ in figures[1 : 1 + len(generated)]]) / album_rhythm
    close = np.mean([c for _, c in figures[1 : 1 + len(generated)]])
    # six joins a minute are few for a rank test: the seeds' joins are pooled (none lies within 4 s of an end,
    # so no point near a join reaches across from one seed's audio into the next)
    offsets = np.cumsum([0] + [len(x) for _, x, _ in g[:-1]])
    pooled = Q.seam_test(
        np.concatenate([x for _, x, _ in g]), rate, [o + j for o, (_, _, joins) in zip(offsets, g) for j in joins]
    )
    print(
        f"targets (mean of the generated seeds): rhythm {rhythm:.2f} of the album's (goal >= 0.75: "
        f"{'met' if rhythm >= 0.75 else 'MISSED'}); "
        f"closeness {close:.2f} (goal <= 3: {'met' if close <= 3 else 'MISSED'}); "
        f"seams of all seeds' {pooled.joins} joins: AUC {pooled.auc:.2f}, p {pooled.p_value:.3f} (goal p > 0.05: "
        f"{'met' if pooled.p_value > 0.05 else 'MISSED'})"
    )

    copies = [Q.copy_score(x, album, rate) for x in generated]
    own = Q.copy_score(songs[0], np.concatenate(songs[1:]), rate)
    print(
        f"copy check: generated {', '.join(f'{c:.2f}' for c in copies)} (highest window correlation with the album); "
        f"the album's first song against its other songs {own:.2f}"
    )
    write_spectrograms(
        args.png,
        {
            "album": excerpt,
            f"generated (seed {args.seeds.split(',')[0]})": generated[0],
            "white noise shaped like the album": rows[-2][1],
        },
        rate,
    )
    print(f"spectrograms: {args.png}")

    if not args.skip_lyrics:
        print(f"lyric model: {band.weights('lyrics')}")
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "lyrics_bench.py"), "--model", str(band.weights("lyrics"))],
            check=True,
        )


if __name__ == "__main__":
    main()
