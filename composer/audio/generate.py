"""Fast batched SampleRNN generation: many segments at once, stitched with equal-power crossfades.

A track is cut into segments; ``streams`` of them are generated together as one batch, each stream starting
from silence with its own seed. Within a batch:

- the sample-level MLP's first layer (an embedding followed by a bias-free convolution across the frame) is
  folded into a lookup table of shape (frame * levels, width), so its input for one sample is a gather + sum;
- the frame tiers step their RNNs once per frame and produce every conditioning vector of the frame below in
  one matrix product (the transposed convolution written as a plain matmul);
- sampling is inverse-CDF with one uniform per sample, drawn in blocks from a ``torch.Generator`` seeded per
  segment, so the same seed gives the same samples and nothing is copied to the host sample by sample.

Each finished segment is checked: silent (RMS under -50 dBFS), clipped (held at the extreme levels)
or stuck in a loop (long stretches that exactly repeat earlier audio, or a bar-length pattern repeated nearly
sample for sample) segments are regenerated with seeds derived deterministically from (seed, segment,
attempt). Segments are yielded in order as pieces of the final track, so a consumer (the WAV writer, the
renderer) can use them while later batches are generated; memory holds one batch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf
import torch
import torch.nn.functional as F

from composer.audio.model import SampleRNN, dequantize, load, quantize, resolve_device
from composer.errors import ComposerError
from composer.fsutil import Input, atomic_path, check_outputs_spare_inputs, check_writable_dir

log = logging.getLogger("composer")

Progress = Callable[[str, float, float], None]

CROSSFADE_S = 0.05  # equal-power crossfade between consecutive segments
MAX_SEGMENT_S = 10.0  # longer tracks take several batches: bounded memory, earlier first output
_MIN_HOP_S = 0.2
_BLOCK = 4096  # uniforms drawn per stream per generator call
SILENT_DBFS = -50.0
CLIP_FRACTION = 0.02  # share of samples held at the lowest or highest level ...
CLIP_RUN = 32  # ... for this many samples in a row (2 ms at 16 kHz) or more
LOOP_WINDOW = 1024  # samples (64 ms at 16 kHz) that must repeat exactly to count as a loop
LOOP_FRACTION = 0.25  # share of windows that exactly (or, for near_loop_fraction, nearly) repeat
NEAR_LOOP_CORRELATION = 0.8  # autocorrelation at the pattern's lag above which a window nearly repeats
MAX_ATTEMPTS = 3
# sampling the model's own distribution: on the demo band, 0.95 gave audio tonal and sparse next to the album
# (spectral flatness 0.07 vs 0.11, 0.6-0.7x its onset rate), 1.0 came closest (0.14, 0.72-0.86x), 1.05 was hiss
TEMPERATURE = 1.0
PRIME_S = 1.0  # audio each primed stream hears first: the frame tiers settle; it costs ~1/3 of generating it
_PRIME_DRAW = 1 << 16  # the "attempt" in a segment's seed that picks its prime excerpt (never a real attempt)


@dataclass
class GenerateStats:
    samples: int = 0
    sample_rate: int = 16000
    segments: int = 0
    streams: int = 0
    regenerated: int = 0  # segment regenerations (a segment regenerated twice counts 2)
    unfixed: int = 0  # segments still bad after the last attempt (kept)
    problems: dict[str, int] = field(default_factory=dict)  # reason -> times detected
    generated_samples: int = 0  # all samples the model produced, regenerations and crossfade tails included
    wall_s: float = 0.0

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate

    @property
    def samples_per_s(self) -> float:
        return self.generated_samples / self.wall_s if self.wall_s else 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of finished track per wall second."""
        return self.seconds / self.wall_s if self.wall_s else 0.0


# ----------------------------------------------------------------------------------------------- batched sampler


class BatchSampler:
    """Steps a SampleRNN for a batch of streams, one frame-tier step per frame and a table lookup per sample."""

    def __init__(self, model: SampleRNN):
        cfg = model.config
        self.model, self.cfg = model, cfg
        self.q = cfg.q_levels
        self.zero_level = int(quantize(torch.zeros(1), cfg.q_levels, cfg.quantization)[0])
        with torch.inference_mode():
            mlp = model.mlp
            frame = cfg.frame_sizes[-1]
            conv = mlp.input.weight  # (width, embedding, frame)
            # lut[j * q + level] = conv[:, :, j] @ embed[level]: the first layer for level at frame position j
            self.lut = torch.einsum("qe,dej->jqd", mlp.embed.weight, conv).reshape(frame * self.q, -1).contiguous()
            self.device = conv.device
            self.lut_offsets = (torch.arange(frame, device=self.device) * self.q).view(1, frame)
            self.hidden_w = mlp.hidden.weight.t().contiguous()
            self.hidden_b = mlp.hidden.bias.detach().clone()
            self.out_w = mlp.out.weight.t().contiguous()
            self.out_b = mlp.out.bias.detach().clone()
            # each tier's transposed convolution (dim, out, k) as one (dim, k * out) matrix
            self.up_w = [t.upsample.weight.permute(0, 2, 1).reshape(t.upsample.weight.shape[0], -1).contiguous()
                         for t in model.tiers]  # fmt: skip
            self.up_b = [t.upsample.bias.repeat(t.upsample.weight.shape[2]) for t in model.tiers]
            self.up_dim = [t.upsample.weight.shape[1] for t in model.tiers]

    def _heard(self, history: torch.Tensor) -> list:
        """The frame tiers' RNN states after hearing ``history`` (lookback + whole top frames of levels): the
        states the step loop would reach, got from one pass of each RNN over the whole sequence, as
        ``SampleRNN.forward`` runs them, without the sample-level MLP (nothing is sampled while priming)."""
        cfg, fs = self.cfg, self.cfg.frame_sizes
        lb, batch = cfg.lookback, history.shape[0]
        length = history.shape[1] - lb
        # the last frame is left out: the loop's first step consumes it, as it does every frame it samples
        levels = history[:, :-1].float() * (4.0 / (self.q - 1)) - 2.0
        cond, states = None, []
        for i, tier in enumerate(self.model.tiers):
            frames = levels[:, lb - fs[i] : lb - fs[i] + length].reshape(batch, length // fs[i], fs[i])
            cond, state = tier(frames, cond, None)
            states.append(state)
        return states

    def run(self, n: int, generators: list[torch.Generator] | None, temperature: float = 1.0, *,
            teacher: torch.Tensor | None = None, record_logits: bool = False,
            prime: torch.Tensor | None = None):  # fmt: skip
        """Sample ``n`` levels for each stream (one generator per stream): a (streams, n) int64 tensor.

        ``teacher`` (streams, n) forces the history instead of sampling (for checking against ``forward``);
        with ``record_logits`` the (streams, n, levels) logits come back too. ``prime`` (streams, p) levels
        are heard first, so the streams continue that audio instead of starting from silence; only the frame
        tiers run over them, each in one pass over the sequence, cut at the front to whole top frames.
        """
        cfg, model, q = self.cfg, self.model, self.q
        fs = cfg.frame_sizes
        top, last = fs[0], fs[-1]
        batch = len(generators) if generators is not None else teacher.shape[0]
        lb = cfg.lookback
        primed = 0 if prime is None else prime.shape[1] // top * top
        steps = -(-n // top) * top
        dev = self.device
        out = torch.full((batch, lb + primed + steps), self.zero_level, dtype=torch.long, device=dev)
        if primed:
            out[:, lb : lb + primed] = prime[:, prime.shape[1] - primed :].to(dev)
        if teacher is not None:
            teacher = teacher.to(dev)
        logits_all = torch.empty(batch, steps, q, device=dev) if record_logits else None
        states = self._heard(out[:, : lb + primed]) if primed else [[None] * cfg.layers for _ in fs]
        conds: list[torch.Tensor | None] = [None] * len(fs)
        inv_t = 1.0 / float(temperature)
        uniforms = None
        with torch.inference_mode():
            for s in range(steps):
                t = lb + primed + s
                if generators is not None and s % _BLOCK == 0:
                    # drawn on the CPU per stream (seeded, device-independent), copied once per block
                    uniforms = torch.stack([torch.rand(_BLOCK, generator=g) for g in generators]).to(dev)
                for i, frame in enumerate(fs):
                    if s % frame:
                        continue
                    tier = model.tiers[i]
                    frames = out[:, t - frame : t].float() * (4.0 / (q - 1)) - 2.0
                    x = tier.expand(frames)
                    if i:
                        k = (s % fs[i - 1]) // frame
                        x = x + conds[i - 1][:, k]
                    x, total = x.unsqueeze(1), None
                    for layer, rnn in enumerate(tier.rnns):
                        x, states[i][layer] = rnn(x, states[i][layer])
                        total = x if total is None else total + x
                    h = (total if tier.skip else x)[:, 0]
                    conds[i] = torch.addmm(self.up_b[i], h, self.up_w[i]).view(batch, -1, self.up_dim[i])
                idx = out[:, t - last : t] + self.lut_offsets
                h = F.embedding(idx, self.lut).sum(1)
                h = torch.relu_(h.add_(conds[-1][:, s % last]))
                h = torch.relu_(torch.addmm(self.hidden_b, h, self.hidden_w))
                logits = torch.addmm(self.out_b, h, self.out_w)
                if record_logits:
                    logits_all[:, s] = logits
                if teacher is not None:
                    out[:, t] = teacher[:, s]
                    continue
                p = logits.sub_(logits.amax(1, keepdim=True)).mul_(inv_t).exp_()
                cdf = p.cumsum(1)
                threshold = uniforms[:, s % _BLOCK : s % _BLOCK + 1] * cdf[:, -1:]
                # the first level whose cumulative mass passes u * total (never a level of zero probability)
                out[:, t : t + 1] = torch.searchsorted(cdf, threshold, right=True).clamp_(max=q - 1)
        levels = out[:, lb + primed : lb + primed + n].cpu()
        return (levels, logits_all[:, :n].cpu()) if record_logits else levels


# ----------------------------------------------------------------------------------------------- checks


def segment_problem(levels: np.ndarray, audio: np.ndarray, q_levels: int = 256, rate: int = 16000) -> str | None:
    """Why a generated segment is unusable ("silent", "clipped", "loop"), or None when it is fine."""
    if len(audio) == 0:
        return None
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if rms < 10.0 ** (SILENT_DBFS / 20.0):
        return "silent"
    if clipped_fraction(levels, q_levels) > CLIP_FRACTION:
        return "clipped"
    if repeated_fraction(levels) > LOOP_FRACTION or near_loop_fraction(audio, rate) > LOOP_FRACTION:
        return "loop"
    return None


def clipped_fraction(levels: np.ndarray, q_levels: int = 256, run: int = CLIP_RUN) -> float:
    """Share of samples held at the lowest or highest level for at least ``run`` samples in a row.

    Loud audio normalised to full scale touches the extreme levels at its peaks (a full-scale sine spends
    about a tenth of its time there), but only briefly; clipping holds them.
    """
    levels = np.asarray(levels)
    held = 0
    for rail in (0, q_levels - 1):
        edges = np.diff(np.concatenate([[0], (levels == rail).astype(np.int8), [0]]))
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        held += int(lengths[lengths >= run].sum())
    return held / max(1, len(levels))


def repeated_fraction(levels: np.ndarray, window: int = LOOP_WINDOW) -> float:
    """Share of the ``window``-sample stretches that exactly repeat an earlier stretch of the same segment.

    Sampled audio practically never repeats 8-bit levels exactly over a whole window; a model stuck in a loop
    (or on a constant level) does. Windows are compared by a 64-bit key mixed from three random integer
    projections (each exact in float64 through an FFT convolution): different windows practically never share
    a key.
    """
    x = np.asarray(levels, dtype=np.float64)
    if len(x) < 2 * window:
        return 0.0
    rng = np.random.default_rng(12345)
    key = np.zeros(len(x) - window + 1, dtype=np.uint64)
    for mix in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9):
        w = rng.integers(0, 1 << 20, window).astype(np.float64)
        part = np.rint(scipy.signal.fftconvolve(x, w[::-1], mode="valid")).astype(np.uint64)
        with np.errstate(over="ignore"):
            key = (key ^ part) * np.uint64(mix)
    return 1.0 - len(np.unique(key)) / len(key)


def near_loop_fraction(audio: np.ndarray, rate: int = 16000, window_s: float = 2.0) -> float:
    """Share of 2 s windows (half overlapping) in which the audio repeats a pattern of 50 ms to 1 s nearly
    exactly, though it is not simply periodic at a pitch: a model stuck cycling through the same bar.

    Per window, the normalised autocorrelation's highest value at lags of 50 ms to 1 s (the pattern) is set
    against its highest at 1-20 ms (a pitch period). A held note or drone is as periodic at its pitch as at
    any multiple of it and is not flagged; music that repeats a riff varies from one pass to the next (on the
    demo album the long-lag peak stays under 0.5); a stuck model repeats its pattern almost sample for sample.
    """
    x = np.asarray(audio, dtype=np.float64)
    size = round(window_s * rate)
    if len(x) < size:
        return 0.0
    short = slice(max(1, round(0.001 * rate)), round(0.02 * rate))
    long = slice(round(0.05 * rate), size // 2 + 1)
    # dividing by the overlap's length makes each lag an average, not a sum that shrinks with the lag
    unbias = size / (size - np.arange(size // 2 + 1))
    starts = range(0, len(x) - size + 1, size // 2)
    looping = 0
    for a in starts:
        w = x[a : a + size] - x[a : a + size].mean()
        r = np.fft.irfft(np.abs(np.fft.rfft(w, 2 * size)) ** 2)[: size // 2 + 1]
        if r[0] <= 1e-9 * size:
            continue
        r = r / r[0] * unbias
        pattern, pitch = float(r[long].max()), float(r[short].max())
        looping += pattern > NEAR_LOOP_CORRELATION and pattern > pitch + 0.15
    return looping / len(starts)


# ----------------------------------------------------------------------------------------------- segments


def _seed(seed: int, segment: int, attempt: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, segment, attempt]).generate_state(1, np.uint64)[0] >> 1)


def _as_model(model: SampleRNN | str | os.PathLike, device: str | None = None) -> SampleRNN:
    if isinstance(model, SampleRNN):
        return (model if device is None else model.to(resolve_device(device))).train(False)
    return load(model).to(resolve_device(device))


def _plan(total: int, streams: int, rate: int, segment_seconds: float) -> int:
    """Samples per segment (the track piece each one owns, crossfade excluded)."""
    per_round = streams * max(1, round(segment_seconds * rate))
    count = streams * math.ceil(total / per_round)
    count = max(1, min(count, total // max(1, round(_MIN_HOP_S * rate))))
    return math.ceil(total / count)


def iter_segments(
    model: SampleRNN | str | os.PathLike,
    seconds: float,
    *,
    seed: int = 0,
    streams: int = 16,
    temperature: float = TEMPERATURE,
    segment_seconds: float = MAX_SEGMENT_S,
    threads: int | None = None,
    prime: np.ndarray | None = None,
    device: str | None = None,
    stats: GenerateStats | None = None,
    progress: Progress | None = None,
) -> Iterator[np.ndarray]:
    """Yield consecutive float32 pieces of one mono track of exactly ``round(seconds * rate)`` samples.

    ``model`` is a SampleRNN or a model folder. ``streams`` segments are generated at once; each piece is
    yielded once its batch is done (checked, regenerated where needed, crossfaded into its neighbour).
    ``prime`` (normalised mono audio at the model's rate, see ``load_prime``): the first segment continues
    from its end, every other one from an excerpt of it chosen by the seed; without it segments start from
    silence. ``device`` (auto, cpu, cuda[:N]; default: where ``model`` is, or auto for a folder) is where the
    batch runs; a model passed in is moved there. ``stats`` (optional) is filled in as it goes.
    """
    model = _as_model(model, device)
    cfg = model.config
    rate = cfg.sample_rate
    total = round(float(seconds) * rate)
    if not math.isfinite(float(seconds)) or total < 1:
        raise ComposerError(f"length must be positive (got {seconds} s)")
    if streams < 1:
        raise ComposerError(f"--streams must be at least 1 (got {streams})")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ComposerError(f"--temperature must be positive (got {temperature})")
    stats = stats if stats is not None else GenerateStats()
    stats.sample_rate = rate
    hop = _plan(total, streams, rate, segment_seconds)
    count = math.ceil(total / hop)
    xf = min(round(CROSSFADE_S * rate), hop // 2)
    fade = (np.arange(xf, dtype=np.float64) + 0.5) * (0.5 * np.pi / max(xf, 1))
    fade_in, fade_out = np.sin(fade).astype(np.float32), np.cos(fade).astype(np.float32)
    stats.segments, stats.streams = count, min(streams, count)
    sampler = BatchSampler(model)
    threads = threads or _default_threads()
    start = time.perf_counter()
    tail: np.ndarray | None = None
    done = 0
    for first in range(0, count, streams):
        ids = list(range(first, min(first + streams, count)))
        lengths = [min(hop, total - k * hop) + (xf if k < count - 1 else 0) for k in ids]
        primes = None if prime is None else _prime_excerpts(prime, ids, seed, cfg)
        with _torch_settings(threads):  # only while generating: the consumer runs with its own settings
            pieces = _generate_checked(sampler, ids, max(lengths), seed, temperature, stats, primes)
        for k, piece, length in zip(ids, pieces, lengths):
            piece = piece[:length]
            if tail is not None:
                piece = piece.copy()
                piece[:xf] = tail * fade_out + piece[:xf] * fade_in
            own = min(hop, total - k * hop)
            tail = piece[own:] if k < count - 1 else None
            done += own
            stats.samples = done
            stats.wall_s = time.perf_counter() - start
            if progress:
                progress("generate", done, total)
            yield np.ascontiguousarray(piece[:own])


@contextlib.contextmanager
def _torch_settings(threads: int):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    # a model's RNN state can decay into denormal floats, which slow x86 matmuls several-fold
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(before)


def load_prime(path: str | os.PathLike, rate: int) -> np.ndarray:
    """A priming file as generation hears it: mono at ``rate``, normalised exactly as training audio is."""
    from composer.audio.train import prepare_file

    audio = prepare_file(Path(path), rate)
    if isinstance(audio, str):
        raise ComposerError(audio)
    return audio


def _prime_excerpts(prime: np.ndarray, ids: list[int], seed: int, cfg) -> torch.Tensor:
    """(len(ids), p) levels: segment 0 hears the prime's end, the others an excerpt drawn from (seed, segment)."""
    p = min(len(prime), round(PRIME_S * cfg.sample_rate))
    starts = [len(prime) - p if k == 0 else
              int(np.random.default_rng(_seed(seed, k, _PRIME_DRAW)).integers(0, len(prime) - p + 1)) for k in ids]  # fmt: skip
    excerpts = np.stack([prime[a : a + p] for a in starts])
    return quantize(torch.from_numpy(excerpts), cfg.q_levels, cfg.quantization)


def _generate_checked(sampler: BatchSampler, ids: list[int], n: int, seed: int, temperature: float,
                      stats: GenerateStats, primes: torch.Tensor | None = None) -> list[np.ndarray]:  # fmt: skip
    cfg = sampler.cfg
    pieces: list[np.ndarray | None] = [None] * len(ids)
    todo = list(range(len(ids)))
    for attempt in range(MAX_ATTEMPTS):
        gens = [torch.Generator().manual_seed(_seed(seed, ids[j], attempt)) for j in todo]
        levels = sampler.run(n, gens, temperature, prime=None if primes is None else primes[todo])
        stats.generated_samples += levels.numel()
        audio = dequantize(levels, cfg.q_levels, cfg.quantization).numpy()
        levels = levels.numpy()
        bad = []
        for row, j in enumerate(todo):
            pieces[j] = audio[row]
            problem = segment_problem(levels[row], audio[row], cfg.q_levels, cfg.sample_rate)
            if problem:
                stats.problems[problem] = stats.problems.get(problem, 0) + 1
                bad.append(j)
        if not bad:
            break
        if attempt + 1 < MAX_ATTEMPTS:
            stats.regenerated += len(bad)
        else:
            stats.unfixed += len(bad)
            log.warning("%d segment(s) still %s after %d attempts; kept", len(bad), "unusable", MAX_ATTEMPTS)
        todo = bad
    return pieces  # type: ignore[return-value]


def _default_threads() -> int:
    """One core is left to whoever consumes the audio (the renderer, ffmpeg, the WAV writer): torch's threads
    spin-wait on each other for every sample, and with a busy core a 2-thread batch runs many times slower
    than a 1-thread one (measured: 10 s of a debug model took over 250 s instead of 13 s)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, 8))


def generate_audio(
    model_dir: SampleRNN | str | os.PathLike,
    seconds: float,
    out_wav: str | os.PathLike,
    *,
    seed: int = 0,
    streams: int = 16,
    temperature: float = TEMPERATURE,
    segment_seconds: float = MAX_SEGMENT_S,
    threads: int | None = None,
    prime: str | os.PathLike | None = None,
    device: str | None = None,
    progress: Progress | None = None,
) -> GenerateStats:
    """Generate a track and write it as a 16-bit mono WAV at the model's rate, atomically, as segments finish.

    ``prime``: an audio file the track continues from; ``device``: see ``iter_segments``."""
    model = _as_model(model_dir, device)
    out_wav = Path(out_wav)
    check_writable_dir(out_wav)
    if prime is not None:
        check_outputs_spare_inputs([out_wav], [Input(Path(prime), "the prime")], "write the track (-o) elsewhere")
    stats = GenerateStats()
    primed = None if prime is None else load_prime(prime, model.config.sample_rate)
    segments = iter_segments(model, seconds, seed=seed, streams=streams, temperature=temperature,
                             segment_seconds=segment_seconds, threads=threads, prime=primed, stats=stats,
                             progress=progress)  # fmt: skip
    first = next(segments)  # argument errors surface before any file is created
    with atomic_path(out_wav) as tmp, sf.SoundFile(tmp, "w", samplerate=model.config.sample_rate, channels=1,
                                                   subtype="PCM_16", format="WAV") as f:  # fmt: skip
        f.write(first)
        for piece in segments:
            f.write(piece)
    return stats


__all__ = [
    "BatchSampler", "GenerateStats", "clipped_fraction", "generate_audio", "iter_segments", "load_prime",
    "near_loop_fraction", "repeated_fraction", "segment_problem",
]  # fmt: skip
