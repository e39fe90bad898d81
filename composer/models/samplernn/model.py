"""SampleRNN (Mehri et al. 2017): frame-level RNN tiers over a sample-level MLP, 8-bit mu-law or linear audio.

Tiers run top-down. Frame tier ``i`` reads the ``frame_sizes[i]`` samples before each of its frames, adds the
conditioning upsampled from the tier above and runs its RNN; a transposed convolution turns each output into
one conditioning vector per frame of the tier below (per sample for the last frame tier). The sample-level
MLP embeds the last ``frame_sizes[-1]`` quantized samples, adds that conditioning and predicts the next
sample's level.

The MLP's first layer is an embedding followed by a bias-free convolution across the frame, so generation can
fold the two into a (frame, levels, width) lookup table. Only the model lives here: data and training are in
``train.py``, sampling in ``generate.py``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from composer.errors import ComposerError
from composer.util.files import atomic_path, read_small_text

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

# an RNN's state per frame tier: one entry per layer, a tensor for GRU and (h, c) for LSTM
State = list[list[torch.Tensor | tuple[torch.Tensor, torch.Tensor]]]


@dataclass(frozen=True)
class SampleRNNConfig:
    frame_sizes: tuple[int, ...] = (16, 4)  # top tier first; each divides the one above; tiers = len + 1
    dims: tuple[int, ...] = (512, 256)  # RNN width of each frame tier
    mlp_dim: int = 256
    rnn: str = "gru"  # "gru" | "lstm"
    layers: int = 2  # RNN layers per frame tier
    skip: bool = True  # a tier's output is the sum of all its layers' outputs, not only the last
    embedding: int = 256
    q_levels: int = 256
    quantization: str = "mu-law"  # "mu-law" | "linear"
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        for name in ("frame_sizes", "dims"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not all(_whole(v) for v in value):
                raise ValueError(f"{name} must be a list of whole numbers, not {value!r}")
            object.__setattr__(self, name, tuple(int(v) for v in value))
        for name in ("mlp_dim", "layers", "embedding", "q_levels", "sample_rate"):
            if not _whole(getattr(self, name)):
                raise ValueError(f"{name} must be a whole number, not {getattr(self, name)!r}")
        if not isinstance(self.skip, bool):
            raise ValueError(f"skip must be true or false, not {self.skip!r}")
        # a config.json is outside input: sizes past these would allocate gigabytes before anything is checked
        for name, value, most in (
            ("frame_sizes", max(self.frame_sizes, default=0), 256),
            ("dims", max(self.dims, default=0), 2048),
            ("mlp_dim", self.mlp_dim, 2048),
            ("embedding", self.embedding, 1024),
            ("layers", self.layers, 8),
            ("sample_rate", self.sample_rate, 192_000),
        ):
            if value > most:
                raise ValueError(f"{name} {value} is over the limit of {most}")
        if len(self.frame_sizes) not in (1, 2, 3):
            raise ValueError(f"SampleRNN has 2 to 4 tiers: frame_sizes needs 1 to 3 entries, not {self.frame_sizes}")
        if len(self.dims) != len(self.frame_sizes):
            raise ValueError(f"dims {self.dims} needs one width per frame tier {self.frame_sizes}")
        if any(f < 1 for f in self.frame_sizes) or any(
            hi % lo for hi, lo in zip(self.frame_sizes, self.frame_sizes[1:])
        ):
            raise ValueError(f"frame_sizes {self.frame_sizes}: each must divide the one above it")
        if any(f <= lo for f, lo in zip(self.frame_sizes, self.frame_sizes[1:])):
            raise ValueError(f"frame_sizes {self.frame_sizes} must shrink from the top tier down")
        if self.rnn not in ("gru", "lstm"):
            raise ValueError(f"rnn must be 'gru' or 'lstm', not {self.rnn!r}")
        if self.quantization not in ("mu-law", "linear"):
            raise ValueError(f"quantization must be 'mu-law' or 'linear', not {self.quantization!r}")
        if not 2 <= self.q_levels <= 256:
            raise ValueError(f"q_levels must be 2..256 (8-bit audio), not {self.q_levels}")
        if min(self.layers, self.mlp_dim, self.embedding, self.sample_rate, *self.dims) < 1:
            raise ValueError("layers, widths, embedding and sample_rate must be positive")

    @property
    def tiers(self) -> int:
        return len(self.frame_sizes) + 1

    @property
    def lookback(self) -> int:
        """Samples of context before the first predicted sample of a chunk."""
        return self.frame_sizes[0]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> SampleRNNConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError("config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}")
        return cls(**data)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


PRESETS: dict[str, SampleRNNConfig] = {
    # tiny: the test suite trains it in seconds
    "debug": SampleRNNConfig(frame_sizes=(8, 2), dims=(32, 32), mlp_dim=32, layers=1, embedding=16),
    # 4.1M parameters spent where generation is cheap: the wide top tier runs once per 16 samples, the
    # middle once per 4, and only the narrow MLP (an embedding lookup table at generation) once per sample
    "demo": SampleRNNConfig(frame_sizes=(16, 4), dims=(448, 256), mlp_dim=256, layers=2, embedding=64),
    # Carr & Zukowski 2018, the AI death-metal albums
    "dadabots": SampleRNNConfig(frame_sizes=(16,), dims=(1024,), mlp_dim=1024, rnn="lstm", layers=5, embedding=256),
}


def preset(name: str) -> SampleRNNConfig:
    if name not in PRESETS:
        raise ComposerError(f"unknown audio model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


# ----------------------------------------------------------------------------------------------- quantization


def quantize(x: torch.Tensor, q_levels: int = 256, kind: str = "mu-law") -> torch.Tensor:
    """Float samples in [-1, 1] -> integer levels 0 .. q_levels-1 (int64)."""
    x = x.clamp(-1.0, 1.0)
    if kind == "mu-law":
        mu = q_levels - 1
        x = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return torch.round((x + 1.0) * 0.5 * (q_levels - 1)).long()


def dequantize(q: torch.Tensor, q_levels: int = 256, kind: str = "mu-law") -> torch.Tensor:
    """Integer levels -> float32 samples in [-1, 1] (the inverse of ``quantize`` up to its rounding)."""
    y = q.float() * (2.0 / (q_levels - 1)) - 1.0
    if kind == "mu-law":
        mu = q_levels - 1
        y = torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu
    return y


# ----------------------------------------------------------------------------------------------- the network


class _FrameTier(nn.Module):
    def __init__(self, frame: int, dim: int, upsample: int, out_dim: int, cfg: SampleRNNConfig):
        super().__init__()
        cell = nn.GRU if cfg.rnn == "gru" else nn.LSTM
        self.expand = nn.Linear(frame, dim)
        self.rnns = nn.ModuleList(cell(dim, dim, batch_first=True) for _ in range(cfg.layers))
        self.upsample = nn.ConvTranspose1d(dim, out_dim, upsample, stride=upsample)
        self.skip = cfg.skip

    def forward(self, frames: torch.Tensor, cond: torch.Tensor | None, state):
        x = self.expand(frames)
        if cond is not None:
            x = x + cond
        new_state, total = [], None
        for k, rnn in enumerate(self.rnns):
            x, s = rnn(x, None if state is None else state[k])
            new_state.append(s)
            total = x if total is None else total + x
        out = total if self.skip else x
        return self.upsample(out.transpose(1, 2)).transpose(1, 2), new_state


class _SampleMLP(nn.Module):
    def __init__(self, frame: int, cfg: SampleRNNConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.q_levels, cfg.embedding)
        self.input = nn.Conv1d(cfg.embedding, cfg.mlp_dim, frame, bias=False)
        self.hidden = nn.Linear(cfg.mlp_dim, cfg.mlp_dim)
        self.out = nn.Linear(cfg.mlp_dim, cfg.q_levels)

    def forward(self, x_int: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.input(self.embed(x_int).transpose(1, 2)).transpose(1, 2) + cond
        return self.out(F.relu(self.hidden(F.relu(h))))


class SampleRNN(nn.Module):
    def __init__(self, config: SampleRNNConfig):
        super().__init__()
        self.config = config
        fs, dims = config.frame_sizes, config.dims
        tiers = []
        for i, (frame, dim) in enumerate(zip(fs, dims)):
            below = fs[i + 1] if i + 1 < len(fs) else 1
            out_dim = dims[i + 1] if i + 1 < len(dims) else config.mlp_dim
            tiers.append(_FrameTier(frame, dim, frame // below, out_dim, config))
        self.tiers = nn.ModuleList(tiers)
        self.mlp = _SampleMLP(fs[-1], config)

    @property
    def lookback(self) -> int:
        return self.config.lookback

    def forward(self, x_int: torch.Tensor, state: State | None = None, *, return_state: bool = False):
        """Teacher-forced logits for a chunk.

        ``x_int`` (batch, lookback + L) holds integer levels; the result (batch, L, q_levels) predicts
        ``x_int[:, lookback:]``. L must be a multiple of the top frame size. Pass the returned state to the
        next chunk of the same streams to carry the RNNs across chunks (truncated BPTT).
        """
        cfg, lb = self.config, self.lookback
        length = x_int.shape[1] - lb
        if length <= 0 or length % lb:
            raise ValueError(f"chunk of {x_int.shape[1]} samples: need lookback {lb} + a multiple of {lb}")
        inputs = x_int[:, :-1]
        # the RNNs see levels as evenly spaced values in [-2, 2]: the model's own scale, whatever the companding
        levels = inputs.float() * (4.0 / (cfg.q_levels - 1)) - 2.0
        batch, cond, new_state = x_int.shape[0], None, []
        for i, tier in enumerate(self.tiers):
            frame = cfg.frame_sizes[i]
            frames = levels[:, lb - frame : lb - frame + length].reshape(batch, length // frame, frame)
            cond, s = tier(frames, cond, None if state is None else state[i])
            new_state.append(s)
        logits = self.mlp(inputs[:, lb - cfg.frame_sizes[-1] :], cond)
        return (logits, new_state) if return_state else logits


def add_top_tier(model: SampleRNN, frame: int, dim: int, *, seed: int = 0) -> SampleRNN:
    """``model`` with a new, slower frame tier on top (``frame`` samples a step, ``dim`` wide) whose
    conditioning output starts at zero: the grown model predicts exactly what ``model`` does, so training it
    starts from the trained sound and can only add the long-range structure the new tier learns to carry."""
    cfg = model.config
    grown_cfg = replace(cfg, frame_sizes=(frame, *cfg.frame_sizes), dims=(dim, *cfg.dims))  # validates the sizes
    with torch.random.fork_rng(devices=[]):  # the new tier's draws leave the caller's random stream alone
        torch.manual_seed(seed)
        grown = SampleRNN(grown_cfg)
    weights = grown.state_dict()
    for key, value in model.state_dict().items():
        if key.startswith("tiers."):
            _, i, rest = key.split(".", 2)
            key = f"tiers.{int(i) + 1}.{rest}"
        weights[key] = value.detach().clone()
    weights["tiers.0.upsample.weight"].zero_()
    weights["tiers.0.upsample.bias"].zero_()
    grown.load_state_dict(weights)
    return grown.train(model.training)


def detach_state(state: State) -> State:
    """The same state cut from the graph, so backpropagation stops at the chunk boundary."""
    return [[tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in tier] for tier in state]


def resolve_device(name: str | None) -> torch.device:
    """``auto`` (or None): the CUDA GPU when torch sees one, else the CPU; ``cpu``; ``cuda`` or ``cuda:N``."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ComposerError(f"--device {name!r}: allowed values are auto, cpu, cuda, cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ComposerError(f"--device {name}: torch sees no CUDA GPU here (is this a CPU-only torch build?)")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ComposerError(f"--device {name}: only {torch.cuda.device_count()} CUDA GPU(s) visible")
    return device


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------- files


def save(model: SampleRNN, folder: str | os.PathLike, *, half: bool = False) -> None:
    """Write ``model.safetensors`` and ``config.json`` into ``folder`` (created if needed), each atomically.

    ``half`` stores the weights as float16 (half the size, for shipping); ``load`` always gives float32.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if half else torch.float32
    weights = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        # written as bytes into atomic_path's file so it keeps that file's ordinary permissions
        tmp.write_bytes(safetensors_bytes(weights))
    with atomic_path(folder / CONFIG_FILE) as tmp:
        tmp.write_text(model.config.to_json() + "\n", encoding="utf-8")


def load_config(folder: str | os.PathLike) -> SampleRNNConfig:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ComposerError(f"{path}: not found; is {Path(folder)} a SampleRNN model folder?")
    try:
        return SampleRNNConfig.from_json(read_small_text(path, "model config"))
    except (ValueError, TypeError) as exc:
        raise ComposerError(f"{path}: not a valid SampleRNN config ({_one_line(exc)})") from exc


def load(folder: str | os.PathLike) -> SampleRNN:
    """The model saved in ``folder``, in eval mode; ComposerError when config and weights disagree."""
    config = load_config(folder)
    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise ComposerError(f"{path}: not found")
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ComposerError(f"{path}: corrupt or unreadable weights ({_one_line(exc)})") from exc
    model = SampleRNN(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if missing or extra or wrong:
        what = (
            f"missing {missing[0]}"
            if missing
            else f"unexpected {extra[0]}"
            if extra
            else f"{wrong[0]} is {tuple(weights[wrong[0]].shape)}, config wants {tuple(expected[wrong[0]].shape)}"
        )
        raise ComposerError(f"{path}: weights do not match {CONFIG_FILE} ({what})")
    model.load_state_dict(weights)
    return model.train(False)


def _one_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
