"""Train the aligner's voice-activity detector (composer/karaoke/vad.py) on composer's own mixtures.

Songs: espeak-ng voices (``composer/synthetic/tts_song.py``: clear, buried, growled, screamed; over
composer's instrumentals and the demo album's) from seeds 5000.. and composer's synthesized growls
(``composer/synthetic/song.py``) from seeds 30000..; no evaluation set uses these seeds (align_eval: synth
1000.., espeak-ng tuning 100.. and report 700..; tests below 20). A fifth of the songs are mixed down to mono.
The truth is where the voice stem sounds (within 20 dB of its loud level), per 10 ms frame.

    python benchmarks/train_vad.py [--tts-songs 240] [--synth-songs 60] [--steps 3000] [--out composer/data]

Features are cached per song under benchmarks/.cache/vad/ (gitignored); a rerun only trains. Training is
seeded: the same arguments give the same weights on the same machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np

from composer.karaoke.vad import CONFIG, N_FEATURES, DetectorConfig

CACHE = Path(__file__).resolve().parent / ".cache" / "vad"
TTS_SEED, SYNTH_SEED = 5000, 30000
_VERSION = 1  # bump when the features or the songs change
LAYERS = ((5, 1), (3, 2), (3, 4), (3, 8), (3, 16))
CHANNELS = 32


def song_features(spec: tuple[str, int]) -> Path:
    """Features and truth of one training song, cached as .npz; returns its path."""
    source, seed = spec
    path = CACHE / f"v{_VERSION}-{source}-{seed}.npz"
    if path.exists():
        return path
    from composer.karaoke.align import _band_energies
    from composer.karaoke.vad import features
    from composer.types import Audio

    rng = np.random.default_rng([seed, 77])
    if source == "tts":
        from composer.synthetic.tts_song import make_tts_song

        kind, backing = ("clear", "buried")[seed % 2], ("synth", "album")[(seed // 2) % 2]
        song = make_tts_song(seed, kind, backing)
        audio, truth = song.audio, song.voiced
    else:
        from composer.synthetic.song import make_song

        song = make_song(seed=seed, kind=("clear", "dense")[seed % 2], duration=float(rng.uniform(30, 50)), rate=22050)
        audio = song.audio
        truth = np.zeros(int(np.ceil(audio.duration * 100)), bool)
        for line in song.syllable_times:
            for a, b in line:
                truth[int(a * 100) : int(np.ceil(b * 100))] = True
    if rng.random() < 0.2:
        audio = Audio(audio.samples.mean(axis=1, keepdims=True), audio.rate)
    mid, side, _ = _band_energies(audio)
    feats = features(mid, mid - side if side is not None else None)
    n = min(len(feats), len(truth))
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, x=feats[:n].astype(np.float16), y=truth[:n])
    os.replace(tmp, path)
    return path


def build_model(config: DetectorConfig):
    import torch
    from torch import nn

    class Detector(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(N_FEATURES))
            self.register_buffer("std", torch.ones(N_FEATURES))
            c_in = N_FEATURES
            self.convs = nn.ModuleList()
            for k, d in config.layers:
                self.convs.append(nn.Conv1d(c_in, config.channels, k, dilation=d, padding=(k - 1) // 2 * d))
                c_in = config.channels
            self.out = nn.Conv1d(c_in, 1, 1)

        def forward(self, x):  # (batch, frames, features) -> logits (batch, frames)
            h = ((x - self.mean) / self.std).transpose(1, 2)
            for conv in self.convs:
                h = torch.relu(conv(h))
            return self.out(h)[:, 0]

    return Detector()


def train(paths: list[Path], steps: int, seed: int, crop: int = 800, batch: int = 32):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    songs = [np.load(p) for p in paths]
    xs = [s["x"].astype(np.float32) for s in songs]
    ys = [s["y"].astype(np.float32) for s in songs]
    allx = np.concatenate(xs)
    config = DetectorConfig(CHANNELS, LAYERS)
    model = build_model(config)
    model.mean.copy_(torch.from_numpy(allx.mean(axis=0)))
    model.std.copy_(torch.from_numpy(allx.std(axis=0) + 1e-3))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t0, running = time.time(), []
    for step in range(steps):
        bx, by = [], []
        for _ in range(batch):
            k = int(rng.integers(len(xs)))
            a = int(rng.integers(0, max(len(xs[k]) - crop, 1)))
            x, y = xs[k][a : a + crop], ys[k][a : a + crop]
            if len(x) < crop:
                x = np.pad(x, ((0, crop - len(x)), (0, 0)))
                y = np.pad(y, (0, crop - len(y)))
            bx.append(x * np.float32(rng.uniform(0.8, 1.25)))  # louder or softer rises over the floor
            by.append(y)
        logits = model(torch.from_numpy(np.stack(bx)))
        loss = loss_fn(logits, torch.from_numpy(np.stack(by)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running.append(loss.item())
        if (step + 1) % 250 == 0:
            print(f"step {step + 1:5d}  loss {np.mean(running[-250:]):.4f}  {time.time() - t0:.0f} s", flush=True)
    return model, config


def save(model, config: DetectorConfig, out: Path) -> None:
    from safetensors.numpy import save_file

    w = {"norm.mean": model.mean.numpy(), "norm.std": model.std.numpy()}
    for i, conv in enumerate(model.convs):
        w[f"conv{i}.weight"] = conv.weight.detach().numpy()
        w[f"conv{i}.bias"] = conv.bias.detach().numpy()
    w["out.weight"] = model.out.weight.detach().numpy()
    w["out.bias"] = model.out.bias.detach().numpy()
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "voice_detector.safetensors"
    tmp = weights.with_suffix(".tmp")
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in w.items()}, str(tmp))
    os.replace(tmp, weights)
    (out / CONFIG.name).write_text(config.to_json() + "\n")
    print(f"wrote {weights} ({weights.stat().st_size // 1024} KiB) and {CONFIG.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tts-songs", type=int, default=240)
    parser.add_argument("--synth-songs", type=int, default=60)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=CONFIG.parent)
    parser.add_argument("--data-only", action="store_true", help="make the songs' features and stop")
    args = parser.parse_args()
    specs = [("tts", TTS_SEED + k) for k in range(args.tts_songs)]
    specs += [("synth", SYNTH_SEED + k) for k in range(args.synth_songs)]
    t0 = time.time()
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        paths = pool.map(song_features, specs, chunksize=4)
    print(f"{len(paths)} songs' features in {time.time() - t0:.0f} s")
    if args.data_only:
        return
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, config = train(paths, args.steps, args.seed)
    save(model, config, args.out)


if __name__ == "__main__":
    main()
