"""The one place that changes torch's process-wide CPU settings, and puts them back afterwards."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

_depth = threading.local()  # open torch_settings blocks on this thread: only the outermost turns flushing off


@contextlib.contextmanager
def torch_settings(threads: int | None = None) -> Iterator[None]:
    """While the block runs: ``threads`` intra-op threads (None: torch's setting kept) and denormal floats
    flushed to zero; both are restored after.

    A model's RNN state decays into denormals, and a fresh network makes them for its first few hundred steps;
    on x86 they slow every matmul several-fold (~9x for a debug GPT-2 here). Small token-at-a-time math gains
    nothing from threads, and on a busy 2-core machine a second thread's spin-waits cost 5-6x, so callers
    choose the thread count.
    """
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    _depth.n = getattr(_depth, "n", 0) + 1
    try:
        yield
    finally:
        _depth.n -= 1
        if not _depth.n:
            torch.set_flush_denormal(False)
        torch.set_num_threads(before)
