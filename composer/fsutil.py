"""Atomic outputs: write beside the target under a temporary name, rename only when complete."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from composer.errors import ComposerError


def check_writable_dir(target: Path) -> None:
    """One clear error if the folder that should receive ``target`` cannot take a file."""
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ComposerError(f"{target}: output folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ComposerError(f"{target}: output folder {folder} is not writable")


def read_toml(path: Path, what: str) -> dict:
    """A TOML file as a dict, or one ComposerError naming the file (``what`` says which kind it should be)."""
    import tomllib

    try:
        return tomllib.loads(read_small_text(path, what))
    except tomllib.TOMLDecodeError as e:
        raise ComposerError(f"{path}: not valid TOML ({e})") from None


MAX_SETTINGS_BYTES = 4 * 2**20  # templates, band and job files, model configs: a few kB each


def read_small_text(path: str | os.PathLike, what: str, limit: int = MAX_SETTINGS_BYTES) -> str:
    """A settings file's UTF-8 text, or one ComposerError naming the file: missing, not a regular file (a pipe
    would block the read, a device such as /dev/zero never end it), over ``limit`` bytes, or not UTF-8."""
    path = Path(path)
    if not path.exists():
        raise ComposerError(f"{path}: {what} not found")
    if not path.is_file():
        raise ComposerError(f"{path}: not a regular file (a device or pipe?); give a {what}")
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise ComposerError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    if len(data) > limit:
        raise ComposerError(f"{path}: over {limit // 2**20} MB, far too large for a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ComposerError(f"{path}: {what} is not UTF-8 text ({e})") from None


@contextlib.contextmanager
def write_errors(target: str | os.PathLike) -> Iterator[None]:
    """Turn a failed write of intermediate or final files (full disk, file-size limit, I/O error) into one
    clear error naming the output, instead of a traceback from deep inside an audio or image library."""
    import soundfile as sf

    try:
        yield
    except (OSError, sf.SoundFileError) as e:
        code = getattr(e, "errno", None)
        why = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "file too large for the disk or limit",
               errno.EDQUOT: "disk quota exceeded"}.get(code) or f"writing failed ({e}; is the disk full?)"
        raise ComposerError(f"{target}: {why}") from None


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed onto ``target``.

    On any exception (Ctrl-C included) the temporary file is removed and ``target`` is left untouched.
    The suffix is kept so tools that pick a format by extension (ffmpeg, pysubs2) still work.
    """
    target = Path(target)
    check_writable_dir(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); a finished output gets the mode a plain open() would give it
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_dir_atomic(target: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Have ``write`` fill a temporary folder beside ``target``, then swap it in whole.

    Used for model folders and checkpoints: a crash mid-save leaves the previous folder as it was, and
    readers never see half a folder.
    """
    target = Path(target)
    check_writable_dir(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    old = target.with_name(f".{target.name}.old")
    try:
        write(tmp)
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
