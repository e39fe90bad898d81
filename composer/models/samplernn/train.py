"""Training SampleRNN on a folder of audio: chunks, a held-out split, truncated BPTT and exact resume.

Every file becomes mono at the model's rate, loses its DC offset and is scaled to full peak as a whole (public
implementations min-max normalise each chunk, which shifts DC from chunk to chunk), then is quantized and cut
into non-overlapping chunks; near-silent chunks are dropped. Validation holds out whole files, or with a
single file the chunks at its end, so no validation sample was ever trained on.

One step is one optimizer update on one sub-sequence of a batch of chunks; the RNN state carries from one
sub-sequence to the next and is reset when a new batch of chunks is drawn.

The output folder holds the latest weights (``model.safetensors`` + ``config.json``, what generation loads),
``best/`` (the weights with the lowest validation NLL), ``checkpoints/step-NNNNNNN/`` (the weights at the last
``keep`` evaluations, to go back to when later ones sound worse) and ``training_state/`` (its own copy of the
weights, optimizer moments, RNG and data-position state, the RNN state mid-chunk) from which ``resume``
continues exactly; each folder is swapped in whole, so a crash mid-save leaves the previous checkpoint intact.

``init`` starts a new run from another model's weights (same preset) with a fresh optimizer: fine-tuning a
trained model on a new band's audio, or going on from shipped weights whose training state was not kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from composer.errors import ComposerError
from composer.media.audio import is_silent, read_audio, resample
from composer.models.samplernn.model import (
    CONFIG_FILE,
    SampleRNN,
    SampleRNNConfig,
    State,
    add_top_tier,
    detach_state,
    load,
    param_count,
    quantize,
    resolve_device,
    save,
)
from composer.models.samplernn.model import preset as model_preset
from composer.models.torchenv import torch_settings
from composer.types import Audio, Progress
from composer.util.files import check_apart, claim_dir, make_dir, recover_dir, write_dir_atomic

log = logging.getLogger("composer")

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
STATE_DIR = "training_state"
BEST_DIR = "best"
CHECKPOINTS_DIR = "checkpoints"
LOSS_CURVE = "loss.png"
_SILENT_CHUNK_DBFS = -50.0  # RMS after per-file normalisation: room noise and fade-outs, not music
_MAX_VAL_CHUNKS = 32  # validation cost stays flat as the band's catalogue grows
_LN2 = math.log(2)


_LR_FLOOR = 1 / 16  # a decaying learning rate stops at this share of its start
MAX_LR = 1.0


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int
    seq_len: int  # samples per truncated-BPTT sub-sequence (a multiple of the top frame size)
    subseqs: int  # sub-sequences per chunk
    lr: float
    val_fraction: float = 0.1
    # CPU threads when the caller gives none (None: torch's own setting). A step too small to split gains
    # nothing from a second thread and loses to its spin-waits: 150 steps of the debug preset took 72 s on 2
    # threads and 5.5 s on 1 on a busy 2-core machine
    threads: int | None = None
    # steps over which the learning rate halves (None: constant), down to lr * _LR_FLOOR. A function of the step
    # alone, so a resumed run (or one resumed to a larger --steps) follows the same curve
    lr_half_life: int | None = None

    def lr_at(self, step: int) -> float:
        """The learning rate of the update that takes the run from ``step`` to ``step + 1``."""
        if not self.lr_half_life:
            return self.lr
        return self.lr * max(0.5 ** (step / self.lr_half_life), _LR_FLOOR)

    def chunk_len(self, config: SampleRNNConfig) -> int:
        """Samples per chunk: the model's look-back, then ``subseqs`` predicted sub-sequences."""
        return config.lookback + self.seq_len * self.subseqs


TRAIN_SETTINGS: dict[str, TrainSettings] = {
    "debug": TrainSettings(batch_size=16, seq_len=128, subseqs=4, lr=3e-3, threads=1),
    # 8 s chunks (16 kHz), Adam 1e-3 as in Carr & Zukowski 2018; a smaller batch for 2-core CPUs
    "demo": TrainSettings(batch_size=32, seq_len=512, subseqs=250, lr=1e-3),
    "dadabots": TrainSettings(batch_size=128, seq_len=1024, subseqs=125, lr=1e-3),
}


@dataclass(frozen=True)
class AudioData:
    train: torch.Tensor  # (chunks, chunk_len) uint8 levels
    val: torch.Tensor
    train_files: tuple[Path, ...]
    val_files: tuple[Path, ...]  # with a single file, that file (its end is held out)
    skipped: tuple[str, ...]  # "<file>: why" for files left out (silent, shorter than a chunk)


@dataclass(frozen=True)
class TrainReport:
    step: int
    steps: int
    train_bits_per_sample: float  # mean since the previous report
    val_bits_per_sample: float
    samples_per_s: float


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    step: int
    params: int
    train_chunks: int
    val_chunks: int
    chunk_seconds: float
    val_bits_per_sample: float
    initial_val_bits_per_sample: float  # of this run's starting weights
    best_val_bits_per_sample: float
    samples_per_s: float
    skipped: tuple[str, ...]
    reports: tuple[TrainReport, ...]


# ----------------------------------------------------------------------------------------------- data


def find_audio_files(audio_dir: Path) -> list[Path]:
    if not audio_dir.is_dir():
        raise ComposerError(f"{audio_dir}: audio folder not found")
    files = sorted(p for p in audio_dir.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and not p.is_dir())
    if not files:
        raise ComposerError(f"{audio_dir}: no audio files ({', '.join(e[1:] for e in AUDIO_EXTENSIONS)})")
    return files


def prepare_file(path: Path, rate: int) -> np.ndarray | str:
    """Normalised mono float32 at ``rate``, or why the file cannot be used."""
    audio = read_audio(path)  # ComposerError naming the file for unreadable and empty files
    if is_silent(audio):
        return f"{path}: audio is silent (peak below -60 dBFS)"
    mono = resample(Audio(audio.mono()[:, None], audio.rate), rate).samples[:, 0]
    mono = mono - mono.mean(dtype=np.float64).astype(np.float32)
    peak = float(np.abs(mono).max())
    if peak <= 0.0:
        return f"{path}: audio is silent (constant signal)"
    return mono / peak


def _cut(x: np.ndarray, config: SampleRNNConfig, chunk_len: int) -> torch.Tensor:
    """Non-overlapping chunks as uint8 levels, near-silent ones dropped."""
    n = len(x) // chunk_len
    chunks = x[: n * chunk_len].reshape(n, chunk_len)
    rms = np.sqrt(np.mean(np.square(chunks, dtype=np.float64), axis=1))
    keep = chunks[rms >= 10.0 ** (_SILENT_CHUNK_DBFS / 20.0)]
    levels = quantize(torch.from_numpy(np.ascontiguousarray(keep)), config.q_levels, config.quantization)
    return levels.to(torch.uint8).reshape(-1, chunk_len)


def load_audio_data(
    audio_dir: str | os.PathLike,
    config: SampleRNNConfig,
    settings: TrainSettings,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> AudioData:
    """Read, normalise, chunk and split a folder; ComposerError naming the file when nothing is usable."""
    audio_dir = Path(audio_dir)
    files = find_audio_files(audio_dir)
    chunk_len = settings.chunk_len(config)
    chunk_s = chunk_len / config.sample_rate
    usable: list[tuple[Path, np.ndarray]] = []
    skipped: list[str] = []
    for i, path in enumerate(files):
        x = prepare_file(path, config.sample_rate)
        if isinstance(x, str):
            skipped.append(x)
        elif len(x) < chunk_len:
            skipped.append(
                f"{path}: {len(x) / config.sample_rate:.2f} s of audio is shorter than one "
                f"training chunk ({chunk_s:.2f} s)"
            )
        else:
            usable.append((path, x))
        if progress:
            progress("load", i + 1, len(files))
    if not usable:
        more = f" (and {len(skipped) - 1} more files unusable)" if len(skipped) > 1 else ""
        raise ComposerError(skipped[0] + more)
    for reason in skipped:
        log.warning("skipping %s", reason)

    if len(usable) == 1:
        path, x = usable[0]
        chunks = _cut(x, config, chunk_len)
        if len(chunks) < 2:
            raise ComposerError(
                f"{path}: needs at least 2 non-silent {chunk_s:.2f} s chunks (one held out for "
                f"validation); it has {len(chunks)}"
            )
        # the last chunks of the file's time line are held out: disjoint from every training chunk
        n_val = max(1, round(len(chunks) * settings.val_fraction))
        return AudioData(chunks[:-n_val], chunks[-n_val:], (path,), (path,), tuple(skipped))

    order = np.random.default_rng(seed).permutation(len(usable))
    n_val = max(1, round(len(usable) * settings.val_fraction))
    val_set = set(order[:n_val].tolist())
    train = [(p, x) for k, (p, x) in enumerate(usable) if k not in val_set]
    val = [(p, x) for k, (p, x) in enumerate(usable) if k in val_set]
    train_chunks = torch.cat([_cut(x, config, chunk_len) for _, x in train])
    val_chunks = torch.cat([_cut(x, config, chunk_len) for _, x in val])
    for name, part, chunks in (("training", train, train_chunks), ("validation", val, val_chunks)):
        if len(chunks) == 0:
            raise ComposerError(f"{part[0][0]}: every {chunk_s:.2f} s chunk of the {name} files is near-silent")
    return AudioData(train_chunks, val_chunks, tuple(p for p, _ in train), tuple(p for p, _ in val), tuple(skipped))


# ----------------------------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate_bits_per_sample(model: SampleRNN, chunks: torch.Tensor, seq_len: int, batch_size: int) -> float:
    """Mean negative log-likelihood in bits per sample over (at most 32 evenly spaced) held-out chunks."""
    was_training = model.training
    model.train(False)
    if len(chunks) > _MAX_VAL_CHUNKS:
        chunks = chunks[torch.linspace(0, len(chunks) - 1, _MAX_VAL_CHUNKS).round().long()]
    lb, total, count = model.lookback, 0.0, 0
    device = next(model.parameters()).device
    for a in range(0, len(chunks), batch_size):
        block, state = chunks[a : a + batch_size].to(device).long(), None
        for s in range(0, block.shape[1] - lb, seq_len):
            x = block[:, s : s + lb + seq_len]
            logits, state = model(x, state, return_state=True)
            total += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), x[:, lb:].reshape(-1), reduction="sum"
            ).item()
            count += x[:, lb:].numel()
    model.train(was_training)
    return total / count / _LN2


# ----------------------------------------------------------------------------------------------- training


class _Position:
    """Where the data stream stands: the chunks being trained on, the next sub-sequence and the RNN state."""

    def __init__(self, gen: torch.Generator):
        self.gen = gen
        self.batch: torch.Tensor | None = None
        self.sub = 0
        self.state: State | None = None

    def next(self, data: torch.Tensor, settings: TrainSettings, lookback: int) -> torch.Tensor:
        if self.batch is None or self.sub >= settings.subseqs:
            self.batch = torch.randint(0, len(data), (settings.batch_size,), generator=self.gen)
            self.sub, self.state = 0, None
        a = self.sub * settings.seq_len
        self.sub += 1
        return data[self.batch, a : a + lookback + settings.seq_len].long()


def train_audio(
    audio_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    preset: str = "demo",
    steps: int = 2000,
    resume: bool = False,
    seed: int = 0,
    eval_every: int | None = None,
    threads: int | None = None,
    init: str | os.PathLike | None = None,
    keep: int = 3,
    device: str | None = None,
    progress: Progress | None = None,
    report: Callable[[TrainReport], None] | None = None,
    lr: float | None = None,
    lr_half_life: int | None = None,
    seq_len: int | None = None,
    batch_size: int | None = None,
    add_tier: int | None = None,
) -> TrainResult:
    """Train (or with ``resume``, keep training) a SampleRNN on a folder of audio; ``steps`` is the total to reach.

    ``threads`` (default: the preset's ``TrainSettings.threads``, else torch's setting) is restored afterwards.
    ``init``: a model folder whose weights this run starts from. ``keep``: how many of the latest evaluated
    checkpoints' weights to keep (0: none). ``device``: auto (a CUDA GPU when there is one), cpu or cuda[:N]; on
    CUDA the forward pass runs in bfloat16 autocast (AMP). ``lr`` and ``lr_half_life`` (the steps over which the
    learning rate halves) replace the preset's; a resumed run keeps the ones it was started with unless given.
    ``seq_len``: samples per truncated-BPTT sub-sequence instead of the preset's (the chunks keep their length,
    so the data are the same; a multiple of the top frame); ``batch_size``: chunks per step instead of the
    preset's. ``add_tier``: with ``init``, the initial model grows a slower top tier of this many samples a
    step (``add_top_tier``), starting from exactly the init's predictions; the run then trains the grown
    model, and ``resume`` knows it. Nothing in ``out_dir`` is touched before the audio has been read and
    checked.
    """
    dev = resolve_device(device)
    if keep < 0:
        raise ComposerError(f"--keep must be 0 or more (got {keep})")
    if lr is not None and not 0 < lr <= MAX_LR:  # also refuses nan
        raise ComposerError(f"--lr must be above 0 and at most {MAX_LR:g} (got {lr})")
    if lr_half_life is not None and lr_half_life < 1:
        raise ComposerError(f"--lr-half-life must be at least 1 step (got {lr_half_life})")
    if init is not None and resume:
        raise ComposerError("--init starts a new run from other weights; it cannot be combined with --resume")
    if add_tier is not None and init is None:
        raise ComposerError("--add-tier grows a trained model: give the model to grow with --init")
    for name, value in (("--seq-len", seq_len), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise ComposerError(f"{name} must be at least 1 (got {value})")
    with torch_settings(threads):
        return _train(
            Path(audio_dir),
            Path(out_dir),
            preset,
            steps,
            resume,
            seed,
            eval_every,
            threads,
            Path(init) if init is not None else None,
            keep,
            dev,
            progress,
            report,
            {"lr": lr, "lr_half_life": lr_half_life, "seq_len": seq_len, "batch_size": batch_size},
            add_tier,
        )


def _train(
    audio_dir,
    out_dir,
    preset,
    steps,
    resume,
    seed,
    eval_every,
    threads,
    init,
    keep,
    device,
    progress,
    report,
    overrides,
    add_tier,
) -> TrainResult:
    run = _start(audio_dir, out_dir, preset, steps, resume, seed, init, device, progress, overrides, add_tier)
    # the preset is known only now (a resumed run takes it from its state): so is its thread count
    with torch_settings(None if threads else run.settings.threads):
        return _loop(run, steps, eval_every or max(100, steps // 10), keep, progress, report)


@dataclass
class _Run:
    """A training run between steps: what it trains, on what, and the state a checkpoint saves."""

    out_dir: Path
    config: SampleRNNConfig
    settings: TrainSettings
    data: AudioData
    model: SampleRNN
    optimizer: torch.optim.Optimizer
    position: _Position
    state: dict  # state.json: step, preset, seed, best and latest held-out loss, the loss history
    device: torch.device


def _start(audio_dir, out_dir, preset, steps, resume, seed, init, device, progress, overrides, add_tier) -> _Run:
    """Checks, the audio, and the model and optimizer: fresh, from ``init``'s weights, or as ``resume`` left them."""
    if steps < 1:
        raise ComposerError(f"--steps must be at least 1 (got {steps})")
    for folder in (STATE_DIR, BEST_DIR):
        recover_dir(out_dir / folder)  # a checkpoint cut short between its two renames
    check_apart([audio_dir], out_dir, "audio")
    claim_dir(out_dir, "choose another --out")
    if resume:
        state = _read_state(out_dir)
        preset, seed = state["preset"], state["seed"]
        if state["step"] >= steps:
            raise ComposerError(
                f"{out_dir}: already trained {state['step']} steps; pass --steps above {state['step']} to go on"
            )
    else:
        if (out_dir / STATE_DIR).exists() or (out_dir / CONFIG_FILE).exists():
            raise ComposerError(f"{out_dir}: already holds a trained model; pass --resume or choose another --out")
        state = {"step": 0, "preset": preset, "seed": seed, "best_val": None}
        if init is not None:
            state["init"] = str(init)
        if add_tier is not None:
            state["added_tiers"] = [add_tier]
    if preset not in TRAIN_SETTINGS:
        raise ComposerError(f"no training settings for preset {preset!r}")
    config = _run_config(model_preset(preset), state.get("added_tiers", []))
    settings = _run_settings(TRAIN_SETTINGS[preset], state, overrides, config)
    state = {**state, **{k: getattr(settings, k) for k in overrides}}
    data = load_audio_data(audio_dir, config, settings, seed=seed, progress=progress)

    torch.manual_seed(seed)
    position = _Position(torch.Generator().manual_seed(seed))
    if resume:
        model = load(out_dir / STATE_DIR)
        if model.config != config:
            raise ComposerError(f"{out_dir / STATE_DIR / CONFIG_FILE}: config differs from preset {preset!r}")
        model.to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
        _restore(out_dir / STATE_DIR, optimizer, position, config, device)
    else:
        model = SampleRNN(config) if init is None else _initial_weights(init, config, preset, add_tier)
        model.to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    return _Run(out_dir, config, settings, data, model, optimizer, position, state, device)


def _loop(run: _Run, steps: int, eval_every: int, keep: int, progress, report) -> TrainResult:
    """Steps up to ``steps``, evaluated and checkpointed every ``eval_every`` and at the last."""
    settings, data = run.settings, run.data
    # bfloat16 needs no loss scaling; the loss itself is taken in float32
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if run.device.type == "cuda" else contextlib.nullcontext()
    step = start = run.state["step"]
    initial = evaluate_bits_per_sample(run.model, data.val, settings.seq_len, settings.batch_size)
    val_bits, best = initial, run.state["best_val"]
    losses: list[float] = []
    reports: list[TrainReport] = []
    samples, busy = 0, 0.0
    run.model.train()
    while step < steps:
        t0 = time.perf_counter()
        chunks, bits = _step(run, amp, step)
        busy += time.perf_counter() - t0
        samples += chunks * settings.seq_len
        losses.append(bits)
        step += 1
        if progress:
            progress("train", step - start, steps - start)
        if step % eval_every == 0 or step == steps:
            val_bits = evaluate_bits_per_sample(run.model, data.val, settings.seq_len, settings.batch_size)
            rep = TrainReport(step, steps, sum(losses) / len(losses), val_bits, samples / busy)
            losses = []
            reports.append(rep)
            improved = best is None or val_bits < best
            best = val_bits if improved else best
            _save(run, rep, initial, best, improved, keep)
            if report:
                report(rep)
    return TrainResult(
        out_dir=run.out_dir,
        step=step,
        params=param_count(run.model),
        train_chunks=len(data.train),
        val_chunks=len(data.val),
        chunk_seconds=settings.chunk_len(run.config) / run.config.sample_rate,
        val_bits_per_sample=val_bits,
        initial_val_bits_per_sample=initial,
        best_val_bits_per_sample=best if best is not None else val_bits,
        samples_per_s=samples / busy if busy else 0.0,
        skipped=data.skipped,
        reports=tuple(reports),
    )


def _step(run: _Run, amp, step: int) -> tuple[int, float]:
    """Update ``step`` (from 0) on the next sub-sequence; returns the chunks in the batch and the loss in bits."""
    lb = run.model.lookback
    x = run.position.next(run.data.train, run.settings, lb).to(run.device, non_blocking=True)
    with amp:
        logits, new_state = run.model(x, run.position.state, return_state=True)
    loss = F.cross_entropy(logits.float().reshape(-1, run.config.q_levels), x[:, lb:].reshape(-1))
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    # element-wise clipping to +-1, as Carr & Zukowski 2018: it keeps rare exploding LSTM steps local
    torch.nn.utils.clip_grad_value_(run.model.parameters(), 1.0)
    for group in run.optimizer.param_groups:
        group["lr"] = run.settings.lr_at(step)
    run.optimizer.step()
    run.position.state = detach_state(new_state)
    return x.shape[0], loss.item() / _LN2


def _save(run: _Run, rep: TrainReport, initial: float, best: float, improved: bool, keep: int) -> None:
    """The evaluated step's checkpoint, its state (with the loss history) and the loss curve."""
    # the curve starts at the untrained model's held-out loss (no training loss yet at step 0)
    history = run.state.get("history") or [[0, None, round(initial, 4)]]
    history = [*history, [rep.step, round(rep.train_bits_per_sample, 4), round(rep.val_bits_per_sample, 4)]]
    run.state = {
        **run.state,
        "step": rep.step,
        "best_val": best,
        "val_bits_per_sample": rep.val_bits_per_sample,
        "history": history,
    }
    _checkpoint(run.out_dir, run.model, run.optimizer, run.position, run.state, improved, keep)
    _loss_curve(run.out_dir / LOSS_CURVE, history)


# ----------------------------------------------------------------------------------------------- checkpoints


def _run_config(config: SampleRNNConfig, added_tiers: list[int]) -> SampleRNNConfig:
    """The preset's config grown by the run's added top tiers (innermost first), each as wide as the one below."""
    for frame in added_tiers:
        try:
            config = replace(config, frame_sizes=(int(frame), *config.frame_sizes), dims=(config.dims[0], *config.dims))
        except ValueError as exc:
            raise ComposerError(f"--add-tier {frame}: {exc}") from exc
    return config


def _run_settings(base: TrainSettings, state: dict, overrides: dict, config: SampleRNNConfig) -> TrainSettings:
    """The preset's settings with the given overrides, else the run's own (a resumed run's state)."""
    own = {k: state[k] for k in overrides if k in state}
    chosen = own | {k: v for k, v in overrides.items() if v is not None}
    seq_len = chosen.get("seq_len", base.seq_len)
    top = config.frame_sizes[0]
    if seq_len % top:
        raise ComposerError(f"--seq-len {seq_len}: must be a multiple of the model's top frame ({top} samples)")
    # chunks keep the preset's length (the same data, cut the same way) in sub-sequences of the new length
    subseqs = max(1, base.seq_len * base.subseqs // seq_len)
    return replace(base, **chosen, subseqs=subseqs)


def _initial_weights(init: Path, config: SampleRNNConfig, preset: str, add_tier: int | None) -> SampleRNN:
    model = load(init)
    if add_tier is not None:
        model = add_top_tier(model, add_tier, model.config.dims[0])
    if model.config != config:
        raise ComposerError(
            f"{init / CONFIG_FILE}: config differs from preset {preset!r}; --init needs a model "
            f"of the preset being trained"
        )
    return model


def _checkpoint(out_dir: Path, model, optimizer, position: _Position, state: dict, improved: bool, keep: int) -> None:
    make_dir(out_dir)

    def write(folder: Path) -> None:
        save(model, folder)
        torch.save(optimizer.state_dict(), folder / "optimizer.pt")
        (folder / "rng.safetensors").write_bytes(safetensors_bytes(_position_tensors(position)))
        # written last: a folder without state.json is never a checkpoint
        (folder / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")

    write_dir_atomic(out_dir / STATE_DIR, write)
    save(model, out_dir)
    if improved:
        write_dir_atomic(out_dir / BEST_DIR, lambda folder: save(model, folder))
    if keep:
        (out_dir / CHECKPOINTS_DIR).mkdir(exist_ok=True)
        write_dir_atomic(out_dir / CHECKPOINTS_DIR / f"step-{state['step']:07d}", lambda folder: save(model, folder))
        # zero-padded names sort by step; anything else in the folder is the user's and stays
        kept = sorted(p for p in (out_dir / CHECKPOINTS_DIR).glob("step-" + "[0-9]" * 7) if p.is_dir())
        for old in kept[:-keep]:
            shutil.rmtree(old)


def _loss_curve(path: Path, history: list) -> None:
    from composer.media.plot import write_curve

    write_curve(
        path,
        {
            "held-out": [(float(st), v) for st, _, v in history],
            "training": [(float(st), t) for st, t, _ in history if t is not None],
        },
        title="SampleRNN training",
        ylabel="bits per sample",
    )


def _position_tensors(position: _Position) -> dict[str, torch.Tensor]:
    tensors = {
        "torch_rng": torch.get_rng_state(),
        "data_rng": position.gen.get_state(),
        "sub": torch.tensor([position.sub]),
    }
    if position.batch is not None:
        tensors["batch"] = position.batch
    for i, tier in enumerate(position.state or []):
        for k, s in enumerate(tier):
            h, c = s if isinstance(s, tuple) else (s, None)
            tensors[f"h.{i}.{k}"] = h.float().cpu().contiguous()
            if c is not None:
                tensors[f"c.{i}.{k}"] = c.float().cpu().contiguous()
    return tensors


def _read_state(out_dir: Path) -> dict:
    path = out_dir / STATE_DIR / "state.json"
    if not path.is_file():
        raise ComposerError(f"{out_dir}: nothing to resume (no {STATE_DIR}/state.json); train without --resume first")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        int(state["step"]), str(state["preset"]), int(state["seed"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ComposerError(f"{path}: corrupt training state ({exc})") from exc
    return state


def _restore(
    folder: Path, optimizer: torch.optim.Optimizer, position: _Position, config: SampleRNNConfig, device: torch.device
) -> None:
    try:
        # weights_only: a checkpoint folder may come from anyone; never unpickle arbitrary objects
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
        tensors = load_file(str(folder / "rng.safetensors"))
        torch.set_rng_state(tensors["torch_rng"])
        position.gen.set_state(tensors["data_rng"])
    except (OSError, RuntimeError, ValueError, KeyError, SafetensorError) as exc:
        raise ComposerError(f"{folder}: training state cannot be loaded ({str(exc).splitlines()[0]})") from exc
    position.sub = int(tensors["sub"][0])
    position.batch = tensors.get("batch")
    if position.batch is not None:
        tensors = {k: v.to(device) for k, v in tensors.items() if k[:2] in ("h.", "c.")}
        position.state = [
            [
                (tensors[f"h.{i}.{k}"], tensors[f"c.{i}.{k}"]) if config.rnn == "lstm" else tensors[f"h.{i}.{k}"]
                for k in range(config.layers)
            ]
            for i in range(len(config.frame_sizes))
        ]


__all__ = [
    "AUDIO_EXTENSIONS",
    "TRAIN_SETTINGS",
    "AudioData",
    "TrainReport",
    "TrainResult",
    "TrainSettings",
    "evaluate_bits_per_sample",
    "find_audio_files",
    "load_audio_data",
    "prepare_file",
    "train_audio",
]
