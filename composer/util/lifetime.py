"""Child processes that end with their parent: a parent killed outright (SIGKILL, the OOM killer) runs no
clean-up of its own, and a child that lives on holds the output folder's work files and the terminal's pipes,
and may write an output a rerun is already redoing."""

from __future__ import annotations

import contextlib
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies; exit now if it already has.

    Call it first thing in the child, with the pid the parent had when it started us (``os.getppid()`` here
    would already name init if the parent died while we started). Linux only; elsewhere a no-op.
    """
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(128 + sig)
