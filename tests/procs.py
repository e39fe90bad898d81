"""Processes a test starts: each in its own process group with Ctrl-C at its default, always killed afterwards.

A suite started from a background shell inherits SIGINT ignored, and so would every child; a test that sends
SIGINT would then wait on a child that never stops. ``started`` restores SIGINT in the child and, pass or fail,
kills the child's process group and every process it started (ffmpeg runs in a session of its own).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    found, stack = set(), [pid]
    while stack:
        for child in kids.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pids: set[int]) -> list[int]:
    """Those of ``pids`` still running (zombies, already finished, do not count)."""
    running = []
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                running.append(pid)
    return running


def kill_all(proc: subprocess.Popen, also: set[int] = frozenset()) -> None:
    """SIGKILL the child, its process group, everything below it and ``also``; then reap the child."""
    targets = descendants(proc.pid) | set(also)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def children(proc: subprocess.Popen) -> set[int]:
    """The processes below ``proc`` now, remembered so the clean-up finds them after ``proc`` has gone."""
    proc.seen_children |= descendants(proc.pid)
    return descendants(proc.pid)


@contextlib.contextmanager
def started(cmd: list[str], *, preexec=None, **kwargs) -> Iterator[subprocess.Popen]:
    """``subprocess.Popen(cmd)`` in a new process group with SIGINT at its default, killed on the way out
    with everything below it. ``preexec`` runs in the child too (e.g. to set a resource limit)."""

    def setup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if preexec is not None:
            preexec()

    kwargs.setdefault("cwd", _REPO)
    proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=setup, **kwargs)
    proc.seen_children = set()
    try:
        yield proc
    finally:
        kill_all(proc, proc.seen_children)


def run(cmd: list[str], *, timeout: float, preexec=None, **kwargs) -> subprocess.CompletedProcess:
    """Like ``subprocess.run(cmd, capture_output=True, text=True, timeout=...)``, but the whole process tree is
    killed when it returns, a timeout or a failed test included."""
    with started(cmd, preexec=preexec, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs) as proc:
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def composer(*args: str) -> list[str]:
    """The command line that runs composer with this interpreter."""
    return [sys.executable, "-m", "composer", *map(str, args)]
