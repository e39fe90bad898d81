"""SampleRNN generation speed: composer's batched generator against a reference loop, on the same weights.

Weights are randomly initialised from a fixed seed (generation speed does not depend on training). For each
preset (default `demo`, then `dadabots`):
  (r) reference: generation the way public SampleRNN implementations do it: one stream, one sample per
      Python step, the sample-level MLP (embedding + convolution across the frame + two layers) applied in
      full each step with no lookup table, each frame tier's RNN stepped when its frame completes, softmax +
      multinomial, and a `.item()` host copy of every sample
  (s) sampler: composer's step loop (`BatchSampler.run`, one round of 4096 samples per stream from silence)
      with 1 stream and with 32, 64 and 128 streams for `demo` (64 for `dadabots`): the same work per sample
      as (r), so the ratio to it is the batched loop's own gain. All in float32, as renders run it; for
      `demo`, where this CPU sums 8-bit products exactly, the same loop at the track's batch in 8 bits
      too (`composer.models.samplernn.dense`: faster, not used by renders)
  (t) track (`demo` only): what a render gets, `iter_segments` cutting a track among 32 streams (a render's
      batch) into stretches of 8 s, the shortest a render cuts: every stream also generates its warm-up and
      the join windows shared with its neighbours, and only the finished track counts. The share of the
      generated samples that end up in the track is printed (longer stretches, as in long renders, waste less)
  (e) endings (`demo` only): a 30 s track on 64 streams, as `generate audio` cuts it (4 stretches, streams to
      spare), with one ending per join window and with three (`BRANCHES`, the default: the spare streams
      fork and the best ending is kept); the ratio is what the better joins cost
Contestants run interleaved, in a rotating order, for `--rounds` rounds on a shared machine; the medians are
printed as samples per second and real-time factor (seconds of 16 kHz audio per wall second), with ratios
against (r). Targets on the 2-core CPU (issues 4 and 13): `demo` track >= 4x real time and sampler >= 20x the
reference; `dadabots` reported. Torch threads are set explicitly (`--threads`, default what composer would
pick: one core is left to whoever consumes the audio) and printed; composer runs with the same count.

    python benchmarks/audio_bench.py [--rounds 2] [--seconds 1.0] [--presets demo,dadabots] [--threads N]
    python benchmarks/audio_bench.py --device cuda --presets dadabots --streams 1,256,1024   # on a GPU

`--seconds` (default 1) is the reference's length for `demo`; `dadabots` runs 1/16 of it (1000 samples at
0.01x real time is already ~7 s). `--stretch` sets (t)'s stretch length, `--track-streams` its batch.
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

from composer.band.render import STREAMS as RENDER_STREAMS  # noqa: E402
from composer.models.samplernn.dense import int8_available  # noqa: E402
from composer.models.samplernn.generate import (  # noqa: E402
    BRANCHES,
    ROUND,
    TEMPERATURE,
    BatchSampler,
    GenerateStats,
    _default_threads,
    iter_segments,
)
from composer.models.samplernn.model import SampleRNN, param_count, preset, quantize, resolve_device  # noqa: E402
from composer.models.samplernn.stretches import MIN_STRETCH_S  # noqa: E402

STREAMS = {"demo": (1, 32, 64, 128), "dadabots": (64,)}
ENDINGS_S, ENDINGS_STREAMS = 30.0, 64  # (e): `generate audio`'s default streams, a track too short to fill them
REF_SCALE = {"demo": 1.0, "dadabots": 1 / 16}  # share of --seconds that the reference generates


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


def run_sampler(model: SampleRNN, streams: int, int8: bool) -> tuple[float, float, float]:
    """(audio seconds, wall seconds, 1.0): one round of the step loop for ``streams`` streams from silence."""
    sampler = BatchSampler(model, int8=int8)
    generators = [torch.Generator().manual_seed(i) for i in range(streams)]
    t0 = time.perf_counter()
    levels = sampler.run(ROUND, generators, TEMPERATURE)
    wall = time.perf_counter() - t0
    assert levels.shape == (streams, ROUND)
    return levels.numel() / model.config.sample_rate, wall, 1.0


def run_track(
    model: SampleRNN, seconds: float, streams: int, threads: int, stats: GenerateStats | None = None, **options
) -> tuple[float, float, float]:
    """(track seconds, wall seconds, share of generated samples kept): a track generated and joined as
    composer does it (``options`` go to ``iter_segments``)."""
    stats = stats if stats is not None else GenerateStats()
    t0 = time.perf_counter()
    total = 0
    for piece in iter_segments(
        model, seconds, seed=0, streams=streams, temperature=TEMPERATURE, threads=threads, stats=stats, **options
    ):
        total += len(piece)
    wall = time.perf_counter() - t0
    return total / model.config.sample_rate, wall, total / stats.generated_samples


def run_render_cut(model: SampleRNN, stretch_s: float, streams: int, threads: int) -> tuple[float, float, float]:
    """``run_track`` for ``streams`` stretches of ``stretch_s`` seconds in one batch, as a render cuts them."""
    stats, span = GenerateStats(), {"min_stretch_s": stretch_s, "max_stretch_s": stretch_s}
    result = run_track(model, stretch_s * streams, streams, threads, stats, **span)
    assert stats.streams == streams and stats.segments == streams, (stats.streams, stats.segments)
    return result


def bench_preset(name: str, args) -> None:
    model = build(name, args.device)
    cfg = model.config
    ref_s = args.seconds * REF_SCALE[name]
    contestants: dict[str, object] = {"reference, 1 stream": lambda: (*run_reference(model, ref_s), 1.0)}
    for streams in args.streams or STREAMS[name]:
        plural = "s" if streams > 1 else ""
        contestants[f"sampler, {streams} stream{plural}"] = lambda s=streams: run_sampler(model, s, False)
    int8_key = f"8-bit, {args.track_streams} streams"
    if int8_available(args.device) and name == "demo":  # what 8-bit products would buy (renders stay in float32)
        contestants[int8_key] = lambda: run_sampler(model, args.track_streams, True)
    track_key = f"track, {args.track_streams} x {args.stretch:g} s"
    one, endings = f"{ENDINGS_S:g} s, 1 ending a join", f"{ENDINGS_S:g} s, {BRANCHES} endings"
    if name == "demo":
        contestants[track_key] = lambda: run_render_cut(model, args.stretch, args.track_streams, args.threads)
        contestants[one] = lambda: run_track(model, ENDINGS_S, ENDINGS_STREAMS, args.threads, branches=1)
        contestants[endings] = lambda: run_track(model, ENDINGS_S, ENDINGS_STREAMS, args.threads)
    # warm-up, untimed: first calls allocate and pick kernels
    reference_generate(model, 4 * cfg.frame_sizes[0])
    BatchSampler(model).run(4 * cfg.frame_sizes[0], [torch.Generator().manual_seed(0)] * 2, TEMPERATURE)

    rate: dict[str, list[float]] = {k: [] for k in contestants}
    track: dict[str, float] = {}
    kept: dict[str, float] = {}
    names = list(contestants)
    for r in range(args.rounds):
        for key in names[r % len(names) :] + names[: r % len(names)]:  # rotate so no one always runs first
            seconds, wall, kept[key] = contestants[key]()
            rate[key].append(seconds / wall)
            track[key] = seconds

    tiers = f"{cfg.tiers}-tier {cfg.rnn.upper()} x{cfg.layers}, frames {cfg.frame_sizes}, dims {cfg.dims}"
    print(
        f"{name}: {param_count(model) / 1e6:.2f}M parameters, {tiers}, MLP {cfg.mlp_dim}, "
        f"embedding {cfg.embedding}; {args.rounds} interleaved round(s), medians"
    )
    med = {k: statistics.median(v) for k, v in rate.items()}
    ref = med[names[0]]
    sr = cfg.sample_rate
    for k in names:
        extra = f", {kept[k]:.0%} of the generated samples kept" if k == track_key else ""
        print(
            f"  {k:<22} {track[k]:6.2f} s audio  {med[k] * sr:10,.0f} samples/s  {med[k]:7.3f}x real time  "
            f"{med[k] / ref:7.1f}x reference   runs: {', '.join(f'{x:.3f}' for x in rate[k])}x{extra}"
        )
    if int8_key in med:
        ratio = med[int8_key] / med[f"sampler, {args.track_streams} streams"]
        print(f"  8-bit products (not used by renders: see composer/models/samplernn/dense.py): {ratio:.2f}x float32")
    if endings in med:
        print(f"  {BRANCHES} endings a join on spare streams: {med[endings] / med[one]:.2f}x the speed of one")
    samplers = [k for k in names if k.startswith("sampler")]
    best = max(samplers, key=lambda k: med[k])
    if name == "demo":
        ok_rt, ok_ref = med[track_key] >= 4.0, med[best] / ref >= 20.0
        print(
            f"  track: {med[track_key]:.2f}x real time (target >= 4x: {'met' if ok_rt else 'MISSED'}); "
            f"best sampler: {best}: {med[best] / ref:.1f}x the reference (target >= 20x: "
            f"{'met' if ok_ref else 'MISSED'})"
        )
    elif args.device.type == "cuda":
        one = next((k for k in samplers if k.endswith(", 1 stream")), None)
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
    ap.add_argument("--streams", default="", help="comma-separated sampler batch sizes instead of the preset's")
    ap.add_argument("--stretch", type=float, default=MIN_STRETCH_S, help="seconds per stretch of the track run")
    ap.add_argument("--track-streams", type=int, default=RENDER_STREAMS, help="streams of the track run")
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
