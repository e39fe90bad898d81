"""Giving freed memory back to the system between songs, so a process that runs for days does not creep."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None  # glibc only
    except OSError:
        return None


def release_free_memory() -> bool:
    """Return the heap's free pages to the system (glibc's ``malloc_trim``); False where there is none.

    A song's buffers (tens of MB, freed when the next song starts) leave the heap fragmented; glibc keeps such
    pages mapped, and over hours of songs a stream's RSS would climb though nothing is held."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
