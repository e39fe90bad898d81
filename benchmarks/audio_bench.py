"""SampleRNN generation speed: composer's batched generator against a reference loop, on the same weights.

Weights are randomly initialised from a fixed seed (generation speed does not depend on training). For each
preset (default `demo`, then `dadabots`):
  (r) reference: generation the way public SampleRNN implementations do it: one stream, one sample per
      Python step, the sample-level MLP (embedding + convolution across the frame + two layers) applied in
      full each step with no lookup table, each frame tier's RNN stepped when its frame completes, softmax +
      multinomial, and a `.item()` host copy of every sample
  (c) composer: `iter_segments` (BatchSampler) with 1 stream, and with 32, 64 and 128 streams for `demo`
      (64 for `dadabots`); each stream makes one segment of the track (lengths below)
Contestants run interleaved, in a rotating order, for `--rounds` rounds on a shared machine; the medians are
printed as samples per second and real-time factor (seconds of 16 kHz track per wall second), with ratios
against (r). Targets on the 2-core CPU (issue 4): `demo` >= 4x real time aggregate and >= 20x the reference;
`dadabots` reported. Torch threads are set explicitly (`--threads`, default what composer would pick) and
printed; composer runs with the same count.

    python benchmarks/audio_bench.py [--rounds 2] [--seconds 1.0] [--presets demo,dadabots] [--threads N]
    python benchmarks/audio_bench.py --device cuda --presets dadabots --streams 1,256,1024   # on a GPU

Lengths, from `--seconds` (default 1): `demo` reference and 1-stream composer 1 s, batched composer 0.5 s per
stream (16-64 s of track); `dadabots` reference 1/16 of it (1000 samples at 0.01x real time is already ~7 s),
composer 0.2 s per stream. Each stream generates one stretch of the track. Composer's figures count the finished
track only (join windows, whole rounds of 4096 samples and any regenerated stretches are work it does but does
not get credit for: at these short stretches that is a larger share than in real use, where stretches are 8 s+).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from composer.models.samplernn.generate import TEMPERATURE, GenerateStats, _default_threads, iter_segments  # noqa: E402
from composer.models.samplernn.model import SampleRNN, param_count, preset, quantize, resolve_device  # noqa: E402

STREAMS = {"demo": (1, 32, 64, 128), "dadabots": (64,)}
# share of --seconds that the reference (and a 1-stream composer run) generates, and that each stream of a
# batched composer run generates as its segment
REF_SCALE = {"demo": 1.0, "dadabots": 1 / 16}
SEGMENT_SCALE = {"demo": 0.5, "dadabots": 0.2}
MIN_SEGMENT_S = 0.2  # the shortest stretch a stream is given here


def build(name: str, device: torch.device) -> SampleRNN:
    torch.manual_seed(1234)
    return SampleRNN(preset(name)).to(device).train(False)


# ----------------------------------------------------------------------------------------------- reference


def reference_generate(model: SampleRNN, n: int, seed: int = 0, temperature: float = TEMPERATURE) -> list[int]:
    """``n`` levels for one stream, one Python step per sample, as public SampleRNN generators do it."""
    cfg = model.config
    fs, q = cfg.frame_sizes, cfg.q_levels
    top, last = fs[0], fs[-1]
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    history = [int(quantize(torch.zeros(1), q, cfg.quantization)[0])] * top  # silence before the first frame
    states: list = [None] * len(fs)
    conds: list = [None] * len(fs)
    with torch.no_grad():
        for s in range(n):
            t = top + s
            for i, frame in enumerate(fs):
                if s % frame:
                    continue  # this tier's frame is not complete yet
                frames = torch.tensor(history[t - frame : t], dtype=torch.float32, device=dev).view(1, 1, frame)
                frames = frames * (4.0 / (q - 1)) - 2.0
                cond = None
                if i:
                    k = (s % fs[i - 1]) // frame
                    cond = conds[i - 1][:, k : k + 1]
                conds[i], states[i] = model.tiers[i](frames, cond, states[i])
            x = torch.tensor(history[t - last : t], dtype=torch.long, device=dev).view(1, last)
            logits = model.mlp(x, conds[-1][:, s % last : s % last + 1])[0, 0]  # embedding + conv + MLP, no table
            probs = F.softmax(logits / temperature, dim=-1)
            history.append(torch.multinomial(probs, 1, generator=gen).item())  # host copy each sample
    return history[top:]


# ----------------------------------------------------------------------------------------------- contestants


def run_reference(model: SampleRNN, seconds: float) -> tuple[float, float]:
    """(track seconds, wall seconds)."""
    n = round(seconds * model.config.sample_rate)
    t0 = time.perf_counter()
    out = reference_generate(model, n)
    wall = time.perf_counter() - t0
    assert len(out) == n
    return n / model.config.sample_rate, wall


def run_composer(model: SampleRNN, seconds: float, streams: int, threads: int) -> tuple[float, float, int]:
    """(track seconds, wall seconds, regenerated segments): ``streams`` segments of ``seconds`` in one batch."""
    stats = GenerateStats()
    t0 = time.perf_counter()
    total = 0
    for piece in iter_segments(
        model,
        seconds * streams,
        seed=0,
        streams=streams,
        temperature=TEMPERATURE,
        min_stretch_s=seconds,
        max_stretch_s=seconds,
        threads=threads,
        stats=stats,
    ):
        total += len(piece)
    wall = time.perf_counter() - t0
    assert stats.streams == streams and stats.segments == streams, (stats.streams, stats.segments)
    return total / model.config.sample_rate, wall, stats.regenerated


def segment_seconds(name: str, seconds: float, streams: int) -> float:
    scale = REF_SCALE[name] if streams == 1 else SEGMENT_SCALE[name]
    return max(MIN_SEGMENT_S, seconds * scale)


def bench_preset(name: str, args) -> None:
    model = build(name, args.device)
    cfg = model.config
    ref_s = args.seconds * REF_SCALE[name]
    contestants: dict[str, object] = {"reference, 1 stream": lambda: (*run_reference(model, ref_s), 0)}
    for streams in args.streams or STREAMS[name]:
        contestants[f"composer, {streams} stream{'s' if streams > 1 else ''}"] = lambda s=streams: run_composer(
            model, segment_seconds(name, args.seconds, s), s, args.threads
        )
    # warm-up, untimed: first calls allocate and pick kernels
    reference_generate(model, 4 * cfg.frame_sizes[0])
    run_composer(model, MIN_SEGMENT_S, 2, args.threads)

    rate: dict[str, list[float]] = {k: [] for k in contestants}
    track: dict[str, float] = {}
    regen: dict[str, int] = {k: 0 for k in contestants}
    names = list(contestants)
    for r in range(args.rounds):
        for key in names[r % len(names) :] + names[: r % len(names)]:  # rotate so no one always runs first
            seconds, wall, regenerated = contestants[key]()
            rate[key].append(seconds / wall)
            track[key] = seconds
            regen[key] += regenerated

    tiers = f"{cfg.tiers}-tier {cfg.rnn.upper()} x{cfg.layers}, frames {cfg.frame_sizes}, dims {cfg.dims}"
    print(
        f"{name}: {param_count(model) / 1e6:.2f}M parameters, {tiers}, MLP {cfg.mlp_dim}, "
        f"embedding {cfg.embedding}; {args.rounds} interleaved round(s), medians"
    )
    med = {k: statistics.median(v) for k, v in rate.items()}
    ref = med[names[0]]
    sr = cfg.sample_rate
    for k in names:
        extra = f", {regen[k]} segment(s) regenerated" if regen[k] else ""
        print(
            f"  {k:<22} {track[k]:6.2f} s audio  {med[k] * sr:10,.0f} samples/s  {med[k]:7.3f}x real time  "
            f"{med[k] / ref:7.1f}x reference   runs: {', '.join(f'{x:.3f}' for x in rate[k])}x{extra}"
        )
    best = max(names[1:], key=lambda k: med[k])
    if name == "demo":
        ok_rt, ok_ref = med[best] >= 4.0, med[best] / ref >= 20.0
        print(
            f"  best: {best}: {med[best]:.2f}x real time (target >= 4x: {'met' if ok_rt else 'MISSED'}), "
            f"{med[best] / ref:.1f}x the reference (target >= 20x: {'met' if ok_ref else 'MISSED'})"
        )
    elif args.device.type == "cuda":
        one = next((k for k in names[1:] if k.endswith(", 1 stream")), None)
        single = f"; one stream {med[one]:.2f}x (target >= 1x)" if one else ""
        print(
            f"  best: {best}: {med[best]:.1f}x real time (target >= 100x on a GPU: "
            f"{'met' if med[best] >= 100 else 'MISSED'}){single}"
        )
    else:
        print(f"  best: {best}: {med[best]:.3f}x real time, {med[best] / ref:.1f}x the reference (reported)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0, help="reference length for demo (see above)")
    ap.add_argument("--presets", default="demo,dadabots", help="comma-separated: demo, dadabots")
    ap.add_argument("--threads", type=int, default=_default_threads())
    ap.add_argument(
        "--device",
        default="cpu",
        help="cpu, cuda or auto (the GPU targets: dadabots >= 100x real time batched, >= 1x one stream)",
    )
    ap.add_argument("--streams", default="", help="comma-separated batch sizes instead of the preset's")
    args = ap.parse_args()
    args.device = resolve_device(args.device)
    args.streams = [int(x) for x in args.streams.split(",") if x.strip()]
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    for p in presets:
        if p not in STREAMS:
            ap.error(f"--presets: {p!r} is not one of {', '.join(STREAMS)}")
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) (reference and composer), "
        f"temperature {TEMPERATURE}, {args.device} "
        f"({torch.cuda.get_device_name(args.device) if args.device.type == 'cuda' else 'CPU'})"
    )
    t0 = time.perf_counter()
    for p in presets:
        bench_preset(p, args)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
