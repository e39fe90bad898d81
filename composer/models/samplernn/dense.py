"""The sampler's matrix products, ``bias + x @ w``: in float32 as the model's modules compute them, or in
8-bit integers where this CPU sums 8-bit products exactly.

Generation steps a batch of streams one sample at a time, a long run of small matrix products that take most of
its time at the demo model's sizes. In 8 bits the step loop runs 1.8-2x faster on a CPU with VNNI (32 / 128
streams, one thread: 2.80x -> 4.94x, 3.82x -> 7.69x real time), and the next-sample predictions stay the model's
(held-out 5.8002 bits a sample in float32, 5.8003 in 8 bits, teacher-forced). But the audio it generates
free-running lost some of the album's rhythm: `benchmarks/demo_quality.py`, seeds 0-5, rhythm 0.123-0.140
against 0.132-0.177 in float32, closeness 2.38 against 1.68 on average. Rounding the RNN states to 8 bits every
step seems to blur what they carry over hundreds of steps. So renders stay in float32, and this path is measured
(`benchmarks/audio_bench.py`) until a mix that keeps the recurrent products in float32 is shown to keep the rhythm.
"""

from __future__ import annotations

import functools

import torch


class Dense:
    """``bias + x @ w`` in float32, with the (in, out) view of the weight that nn.Linear passes to addmm: the
    same bits as the module."""

    def __init__(self, w: torch.Tensor, bias: torch.Tensor):
        self.w, self.bias = w, bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x, self.w)


class Int8Dense:
    """``bias + x @ w`` in 8-bit integers: the weight quantised once per output column, each row of ``x`` as it
    comes (both symmetric, to +-127); the products are summed in int32 and scaled back to float32."""

    def __init__(self, w: torch.Tensor, bias: torch.Tensor):
        w = w.detach()
        scale = w.abs().amax(0).clamp(min=1e-12) / 127
        self.w = torch.round(w / scale).to(torch.int8).contiguous()
        self.scale, self.bias = scale, bias.detach().clone()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        s = x.abs().amax(1, keepdim=True).clamp_(min=1e-12).div_(127)  # a row of zeros stays zeros
        acc = torch._int_mm(torch.round(x / s).to(torch.int8), self.w)
        return torch.addcmul(self.bias, acc.float(), s * self.scale)


@functools.cache
def int8_exact() -> bool:
    """Whether this CPU's 8-bit matrix product sums exactly. With VNNI (most CPUs since 2019: Intel Cascade
    Lake, Ice Lake, Alder Lake on; AMD Zen 4 on) it does, and is the fast path. Without it, oneDNN adds pairs
    of products in 16 bits, which saturate (measured with ONEDNN_MAX_CPU_ISA=AVX2: 448 products of 127 x 127
    summed to 57120, not 7225792), and runs slower than float32 too (1037 against 632 us for a 32 x 448 by
    448 x 1344 product); there the sampler stays in float32."""
    k = 64
    a = torch.full((2, k), 127, dtype=torch.int8)
    b = torch.full((k, 16), 127, dtype=torch.int8)
    try:
        return bool((torch._int_mm(a, b) == k * 127 * 127).all() and (torch._int_mm(a, -b) == -k * 127 * 127).all())
    except (RuntimeError, AttributeError):  # no 8-bit product in this build of torch
        return False


def int8_available(device: torch.device) -> bool:
    """Whether ``Int8Dense`` can run on ``device``: a CPU that sums 8-bit products exactly (on a GPU the sampler's
    RNN cells run in cuDNN, in float32 or the model's own precision)."""
    return device.type == "cpu" and int8_exact()
