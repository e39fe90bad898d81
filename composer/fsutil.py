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
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComposerError(f"{path}: {what} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ComposerError(f"{path}: not valid TOML ({e})") from None


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
