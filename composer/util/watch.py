"""Run an action again whenever watched files change: `composer preview --watch` while a template is edited."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from composer.errors import ComposerError

POLL_S = 0.25  # polling, not inotify: works on every filesystem (network mounts, editors that replace files)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:  # an editor saving by delete-and-rename leaves a moment with no file
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def watch(
    paths: Sequence[Path],
    action: Callable[[], None],
    on_error: Callable[[ComposerError], None],
    *,
    poll: float = POLL_S,
    rounds: int | None = None,
) -> None:
    """``action()`` now and after every change of ``paths``, until Ctrl-C (or ``rounds`` runs, for tests).

    A ComposerError of one run (a template saved half edited) goes to ``on_error`` and the watch goes on: the
    next save is tried again."""
    paths = [Path(p) for p in paths]
    done = 0
    while rounds is None or done < rounds:
        seen = [_stamp(p) for p in paths]
        try:
            action()
        except ComposerError as e:
            on_error(e)
        done += 1
        if rounds is not None and done >= rounds:
            return
        now = seen
        while now == seen or None in now:
            time.sleep(poll)
            now = [_stamp(p) for p in paths]
        # an editor may still be writing: wait until the files hold still for one poll
        while True:
            time.sleep(poll)
            settled = [_stamp(p) for p in paths]
            if settled == now:
                break
            now = settled
