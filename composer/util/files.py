"""Atomic outputs: write beside the target under a temporary name, rename only when complete.

What composer may replace or delete is decided here, in one place:

- an output set (a video and the files beside it) is staged in a work folder and moved into place together,
  and never replaces a file that is an input of the same run (``OutputSet``);
- work folders (``.composer-*``) hold a locked owner file while in use, so a clean-up removes only the ones
  whose owner is gone (``work_dir``, ``remove_stale_work``); temporary files are locked while written;
- a folder is swapped or replaced only when composer made it (a marker file inside, ``write_dir_atomic``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from composer.errors import ComposerError

# the bytes a temporary name adds to its target's: '.' + name + '.' + 8 random + '.part' (atomic_path,
# write_dir_atomic); '.X.old' adds fewer
_TEMP_NAME_EXTRA = len("..12345678.part")


def check_writable_dir(target: Path) -> None:
    """One clear error if the folder that should receive ``target`` cannot take a file of that name."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ComposerError(f"{target}: output folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ComposerError(f"{target}: output folder {folder} is not writable")
    # a name the folder takes may still be too long for the temporary name it is written under first
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    size = len(os.fsencode(target.name))
    if size + _TEMP_NAME_EXTRA > limit:
        raise ComposerError(
            f"{shown_path(target)}: file name too long ({size} bytes; at most {limit - _TEMP_NAME_EXTRA} here, "
            f"so that composer can write it under a temporary name first)"
        )


def shown_path(path: str | os.PathLike) -> Path:
    """The path a user knows a file by: a part staged in an output set's work folder (``OutputSet.staged``) is
    shown by its final name, not by the hidden folder it is written in first."""
    path = Path(path)
    work = path.parent.parent
    if path.parent.name == "set" and work.name.startswith(WORK_PREFIX):
        return work.parent / path.name
    return path


# what a failed write says when the disk (or a file-size limit, or a quota) is full
_FULL = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large for the disk or limit",
    errno.EDQUOT: "disk quota exceeded",
}


class _WriteFailed(ComposerError):
    """A failed write, named by the file written; ``write_errors`` names the output it was for instead."""

    def __init__(self, target: str | os.PathLike, why: str):
        super().__init__(f"{shown_path(target)}: {why}")
        self.why = why


def _write_failure(target: str | os.PathLike, e: BaseException, any_os_error: bool) -> ComposerError | None:
    """The one-line error for a failed write of ``target``, or None when ``e`` is not one."""
    if isinstance(e, _WriteFailed):
        return _WriteFailed(target, e.why)
    sf = sys.modules.get("soundfile")  # libsndfile reports a full disk only as "System error."
    if isinstance(e, OSError) and (any_os_error or e.errno in _FULL) or sf and isinstance(e, sf.SoundFileError):
        return _WriteFailed(target, _FULL.get(getattr(e, "errno", None)) or f"writing failed ({e}; is the disk full?)")
    return None


def read_toml(path: Path, what: str) -> dict:
    """A TOML file as a dict, or one ComposerError naming the file (``what`` says which kind it should be)."""
    import tomllib

    try:
        return tomllib.loads(read_small_text(path, what))
    except tomllib.TOMLDecodeError as e:
        raise ComposerError(f"{path}: not valid TOML ({e})") from None


def resolve_path(base: Path, path: str) -> Path:
    """A path written in a settings file (band.toml, a job file): ``~`` expanded, and a relative one taken from
    ``base`` (the file's folder), not from wherever composer happens to run."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


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
    try:
        yield
    except Exception as e:
        failure = _write_failure(target, e, any_os_error=True)
        if failure is None:
            raise
        raise failure from None


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed onto ``target``.

    On any exception (Ctrl-C included) the temporary file is removed and ``target`` is left untouched.
    The suffix is kept so tools that pick a format by extension (ffmpeg, pysubs2) still work.
    """
    target = Path(target)
    check_writable_dir(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        # locked while we write it: a clean-up (remove_stale_parts) removes only files nobody holds
        fcntl.flock(fd, fcntl.LOCK_EX)
        # mkstemp makes the file private (0600); a finished output gets the mode a plain open() would give it
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        # a full disk while writing (an image library's or libsndfile's write): one error, not a traceback
        failure = _write_failure(target, e, any_os_error=False)
        if failure is None or isinstance(e, _WriteFailed):
            raise
        raise failure from None
    finally:
        os.close(fd)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------------------------- folders composer made

MADE_MARKER = ".composer-made"  # in every folder composer swaps in whole: only such folders are ever replaced
# what model folders held before the marker existed: a folder holding nothing else, with something only composer
# writes among it (a GPT-2 folder from elsewhere has the same names as a lyric model, but no lyrics.json)
_LEGACY_MODEL_NAMES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "lyrics.json",
        "novelty.npy",
        "training_state",
        "optimizer.pt",
        "rng.safetensors",
        "state.json",
        "best",
        "checkpoints",
        "loss.png",
    }
)
_COMPOSER_ONLY_NAMES = frozenset({"lyrics.json", "novelty.npy", "training_state", "state.json", "loss.png"})


def made_by_composer(folder: str | os.PathLike) -> bool:
    """True for a real folder composer may replace: it carries the marker, is empty, or is a model folder an
    earlier composer wrote."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    if (folder / MADE_MARKER).is_file():
        return True
    names = {p.name for p in folder.iterdir()}
    if not names:
        return True
    if not names <= _LEGACY_MODEL_NAMES:
        return False
    return bool(names & _COMPOSER_ONLY_NAMES) or _is_samplernn_config(folder / "config.json")


def _is_samplernn_config(path: Path) -> bool:
    try:
        if path.stat().st_size > 65536:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"frame_sizes", "q_levels", "sample_rate"} <= data.keys()


def mark_made(folder: str | os.PathLike) -> None:
    (Path(folder) / MADE_MARKER).write_text("written by composer: composer may replace this folder\n", encoding="utf-8")


def claim_dir(folder: str | os.PathLike, hint: str) -> None:
    """Refuse, before any work, a ``folder`` composer would write into (and replace parts of) but did not make."""
    folder = Path(folder)
    if (folder.exists() or folder.is_symlink()) and not made_by_composer(folder):
        what = "is not a folder" if not folder.is_dir() or folder.is_symlink() else "is a folder composer did not make"
        raise ComposerError(f"{folder}: {what} (no {MADE_MARKER} in it); composer will not replace it: {hint}")


def make_dir(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and parents) as composer's own, or keep it when it already is (see ``claim_dir``)."""
    folder = Path(folder)
    claim_dir(folder, "choose another output folder")
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / MADE_MARKER).is_file():
        mark_made(folder)
    return folder


def check_apart(inputs: Iterable[str | os.PathLike], out: str | os.PathLike, what: str) -> None:
    """Training reads ``inputs`` and replaces the model folder ``out``: neither may lie inside the other
    (a band whose lyrics folder is its model folder would lose its lyrics at the first checkpoint)."""
    folder = Path(out).resolve()
    for p in inputs:
        r = Path(p).resolve()
        if r == folder or r.is_relative_to(folder) or folder.is_relative_to(r):
            raise ComposerError(
                f"{p}: the {what} and the model folder {out} overlap, and training replaces the "
                f"model folder: keep them apart (another --out, or move the {what})"
            )


def _old(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def recover_dir(target: str | os.PathLike) -> None:
    """Finish a folder swap that a crash cut short. ``.X.old`` without ``X``: the crash came between the two
    renames and ``.X.old`` is the last complete ``X``, so it is put back. ``.X.old`` beside ``X``: the crash
    came after the swap and it is the previous copy, removed; so are the temporary folders of saves cut
    short. Only folders composer made are touched."""
    target = Path(target)
    # the temporary folders of saves cut short (marked before anything is written into them)
    part = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.part")
    for p in _entries(target.parent):
        if part.fullmatch(p.name) and not p.is_symlink() and (p / MADE_MARKER).is_file():
            shutil.rmtree(p, ignore_errors=True)
    old = _old(target)
    if not made_by_composer(old):
        return
    if not target.exists() and not target.is_symlink():
        os.replace(old, target)
    elif made_by_composer(target):
        shutil.rmtree(old)


def write_dir_atomic(target: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Have ``write`` fill a temporary folder beside ``target``, then swap it in whole.

    Used for model folders and checkpoints: a crash mid-save leaves the previous folder as it was, and
    readers never see half a folder. A crash between the two renames leaves ``.X.old``, which
    ``recover_dir`` (run here and by the trainers before they read) puts back. ``target`` is replaced only
    when composer made it.
    """
    target = Path(target)
    check_writable_dir(target)
    recover_dir(target)
    claim_dir(target, "choose another output folder")
    old = _old(target)
    if old.exists() or old.is_symlink():
        raise ComposerError(f"{old}: in the way of replacing {target}, and composer did not make it: move it away")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        mark_made(tmp)
        write(tmp)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):
            recover_dir(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- work folders, locks

WORK_PREFIX = ".composer-"
OWNER_FILE = ".composer-owner"  # in a work folder: locked by the process using it, for as long as it lives
LOCK_FILE = ".composer.lock"  # in an output folder: held by the batch writing there


_OWNER_PART = ".owner."  # the owner file before it is locked and renamed into place
_STALE_UNOWNED_S = 60.0  # no live run takes this long between making its work folder and locking its owner file


@contextlib.contextmanager
def work_dir(parent: str | os.PathLike) -> Iterator[Path]:
    """A hidden work folder in ``parent`` (on the outputs' disk, so they can be renamed into place), removed
    whatever happens. Its owner file is locked before it appears, for as long as we live: a clean-up tells a
    folder a killed run left from one in use by trying that lock (``remove_stale_work``)."""
    fd = None
    # named before it is made (not by mkdtemp): a stop (Ctrl-C, SIGTERM) that lands just after the mkdir
    # must still find the folder's name below
    folder = _work_name(parent)
    try:
        while True:
            try:
                os.mkdir(folder, 0o700)
                break
            except FileExistsError:
                folder = _work_name(parent)
        fd, name = tempfile.mkstemp(prefix=_OWNER_PART, dir=folder)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"composer pid {os.getpid()}\n".encode())
        os.rename(name, folder / OWNER_FILE)
        yield folder
    finally:
        if fd is not None:
            try:
                _remove_work(folder)
            finally:
                os.close(fd)
        else:  # stopped while it was being made: only what we made goes, never a folder with more in it
            _remove_unowned(folder)


def _work_name(parent: str | os.PathLike) -> Path:
    return Path(parent) / (WORK_PREFIX + secrets.token_hex(4))  # not the random module: --seed draws stay its own


def _remove_work(folder: Path) -> None:
    """Remove a work folder, its owner file last: a stop (a second signal, SIGKILL) that cuts this short leaves
    a folder its owner file still marks as composer's, which the next clean-up removes once we are gone."""
    for p in _entries(folder):
        if p.name == OWNER_FILE:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()
    with contextlib.suppress(OSError):
        (folder / OWNER_FILE).unlink()
        folder.rmdir()


def _remove_unowned(folder: Path) -> bool:
    """Remove a work folder that holds nothing but an owner file not yet in place (a run stopped or killed
    while it made the folder); anything else in it, and it stays."""
    try:
        for p in folder.iterdir():
            if not p.name.startswith(_OWNER_PART):
                return False
            p.unlink()
        folder.rmdir()
        return True
    except OSError:
        return False


def _unheld(path: Path) -> bool:
    """True when ``path`` is a plain file that no live process holds a lock on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def remove_stale_work(folder: str | os.PathLike) -> list[Path]:
    """Work folders in ``folder`` whose owner is gone (a killed run's); folders without an owner file, or
    whose owner still runs, are left alone."""
    removed = []
    for p in _entries(Path(folder)):
        if not p.name.startswith(WORK_PREFIX) or not p.is_dir() or p.is_symlink():
            continue
        if _unheld(p / OWNER_FILE):
            _remove_work(p)  # its owner file last, as its owner would have: a clean-up cut short is redone
            removed.append(p)
        elif not (p / OWNER_FILE).exists() and _older_than(p, _STALE_UNOWNED_S) and _remove_unowned(p):
            removed.append(p)  # killed (SIGKILL) in the moment between making it and locking its owner file
    return removed


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat(follow_symlinks=False).st_mtime > seconds
    except OSError:
        return False


def remove_stale_parts(folder: str | os.PathLike, stems: Iterable[str]) -> list[Path]:
    """``atomic_path`` temporaries of ``stems`` in ``folder`` that nobody is writing (a killed run's)."""
    # exactly the names mkstemp gives: '.<stem>.' + 8 of [a-z0-9_] + '.part' + the target's suffix
    names = re.compile("|".join(rf"\.{re.escape(stem)}\.[a-z0-9_]{{8}}\.part(\.[^.]+)?" for stem in stems))
    removed = []
    for p in _entries(Path(folder)):
        if names.fullmatch(p.name) and not p.is_symlink() and _unheld(p):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def folder_lock(
    folder: str | os.PathLike, who: str = "batch", hint: str = "wait for it to finish or use another out_dir"
) -> Iterator[None]:
    """Hold ``folder``'s lock file (flock) for a composer ``who`` (a batch, a stream) writing there; a second
    one gets one clear error naming the holder, then ``hint``."""
    path = Path(folder) / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise ComposerError(f"{path}: cannot create the {who} lock ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            busy = _held(fd, folder, hint)
            os.close(fd)
            raise busy from None
        # the holder before us may have removed the file after we opened it: the lock must be on the one there
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False)):
                break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"composer {who}, pid {os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def check_unlocked(folder: str | os.PathLike, hint: str) -> None:
    """The error ``folder_lock`` would give when another composer process holds ``folder`` now: a look only,
    nothing is taken or created (so a run can say so before minutes of work)."""
    try:
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return  # no lock file: nobody writes there
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        raise _held(fd, folder, hint) from None
    finally:
        os.close(fd)


def _held(fd: int, folder: str | os.PathLike, hint: str) -> ComposerError:
    holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "composer process"
    return ComposerError(f"{folder}: another {holder} is writing in this folder; {hint}")


# ----------------------------------------------------------------------------------------------- output sets


class Input(NamedTuple):
    """Something a run reads: a file, or a folder and the suffixes of the files in it that are read."""

    path: Path
    what: str  # "the lyrics", "the image folder": for the error message
    reads: tuple[str, ...] = ()  # ("*",): every file in the folder


def check_outputs_spare_inputs(outputs: Iterable[str | os.PathLike], inputs: Iterable[Input], hint: str) -> None:
    """One error if an output would replace an input of the same run, or land in a folder the run reads
    (a thumbnail in the image folder would be a background image next time)."""
    inputs = [i for i in inputs if i.path is not None]
    for out in map(Path, outputs):
        for inp in inputs:
            if inp.reads:
                if (out.suffix.lower() in inp.reads or "*" in inp.reads) and _same(out.parent, inp.path):
                    raise ComposerError(
                        f"{out}: would be written into {inp.path} ({inp.what}) and read as an "
                        f"input from then on: {hint}"
                    )
            elif _same(out, inp.path):
                raise ComposerError(f"{out}: would replace {inp.path} ({inp.what}), an input of this run: {hint}")


def _same(a: Path, b: Path) -> bool:
    """The same file (hard links and symlinks included) or, when one is not there yet, the same path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


class OutputSet:
    """The files one run makes (a video, its sidecars, thumbnail and upload kit), committed together.

    Every part is written under its final name into a work folder beside its target (``staged``); only when
    all are complete are they renamed into place, one after another with no work between, the first target
    (the video) last. A crash before that leaves the previous set untouched and no half file; a crash during
    the renames can leave some parts new and the rest old. No target may be an input of the run.
    """

    def __init__(
        self,
        targets: Sequence[str | os.PathLike],
        inputs: Iterable[Input] = (),
        hint: str = "write the video (-o) to another name or folder",
    ) -> None:
        self.targets = [Path(t) for t in targets]
        check_outputs_spare_inputs(self.targets, inputs, hint)
        refuse_unless_made_here(self.targets, hint)
        self._work: dict[Path, Path] = {}
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> OutputSet:
        for target in self.targets:
            check_writable_dir(target)
        self._stack = contextlib.ExitStack()
        try:
            for parent in dict.fromkeys(t.parent for t in self.targets):
                work = self._stack.enter_context(work_dir(parent))
                (work / "set").mkdir()
                self._work[parent] = work
        except BaseException:
            self._stack.close()
            raise
        return self

    def staged(self, target: str | os.PathLike) -> Path:
        """Where to write ``target`` (one of the set's) until the set is committed."""
        target = Path(target)
        return self._work[target.parent] / "set" / target.name

    @property
    def scratch(self) -> Path:
        """A folder for intermediate files, on the first target's disk, removed with the set."""
        folder = self._work[self.targets[0].parent] / "scratch"
        folder.mkdir(exist_ok=True)
        return folder

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._commit()
        finally:
            self._stack.close()

    def _commit(self) -> None:
        pairs = [(self.staged(t), t) for t in self.targets]
        for staged, target in pairs:
            if not staged.is_file():
                raise ComposerError(f"{target}: was not written")
        with contextlib.ExitStack() as records:
            by_folder: dict[Path, list[tuple[Path, Path]]] = {}
            for staged, target in pairs:
                by_folder.setdefault(target.parent, []).append((staged, target))
            # recorded before the renames (a rename keeps size and time), the old stamps kept beside the new
            # until all are in place: a crash halfway leaves every file, old or new, known as composer's
            books = {folder: records.enter_context(_OutputRecord(folder)) for folder in by_folder}
            for folder, items in by_folder.items():
                books[folder].add({t.name: _stamp(staged) for staged, t in items}, keep_old=True)
            for staged, target in reversed(pairs):
                os.replace(staged, target)
            for folder, items in by_folder.items():
                books[folder].add({t.name: _stamp(t) for _, t in items}, keep_old=False)


OUTPUT_RECORD = ".composer-outputs.json"  # what composer wrote in a folder: only those files it may replace


def _stamp(path: Path) -> list[int]:
    st = os.stat(path, follow_symlinks=False)
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def record_written(paths: Iterable[str | os.PathLike]) -> None:
    """Note files composer has just written (outside an OutputSet) in their folders' records."""
    by_folder: dict[Path, list[Path]] = {}
    for p in map(Path, paths):
        by_folder.setdefault(p.parent, []).append(p)
    for folder, files in by_folder.items():
        with _OutputRecord(folder) as record:
            record.add({p.name: _stamp(p) for p in files}, keep_old=False)


def refuse_unless_made_here(paths: Iterable[str | os.PathLike], hint: str) -> None:
    """One error naming the first of ``paths`` that is there and that composer did not write."""
    for path in paths:
        if not made_here(path):
            raise ComposerError(
                f"{path}: already there, and not a file composer wrote (or it was changed since): "
                f"composer never replaces it; remove it or {hint}"
            )


def made_here(path: str | os.PathLike) -> bool:
    """True when ``path`` is free to write: absent, or a file composer wrote there and nobody changed since."""
    path = Path(path)
    if not os.path.lexists(path):
        return True
    with _OutputRecord(path.parent, write=False) as record:
        return _stamp(path) in record.files.get(path.name, [])


class _OutputRecord:
    """A folder's record of the files composer wrote there (name -> size, mtime, inode), read and updated
    under an flock so two runs writing into one folder keep each other's entries."""

    def __init__(self, folder: Path, write: bool = True):
        self.path, self.write, self.files = Path(folder) / OUTPUT_RECORD, write, {}

    def __enter__(self) -> _OutputRecord:
        self._fd = None
        if self.write:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            data = json.loads(self.path.read_text("utf-8")[: 1 << 22] or "{}")
            files = data.get("files", {}) if isinstance(data, dict) else {}
            self.files = {k: [s for s in v if isinstance(s, list)] for k, v in files.items() if isinstance(v, list)}
        return self

    def add(self, stamps: dict[str, list[int]], keep_old: bool) -> None:
        for name, stamp in stamps.items():
            self.files[name] = [*(self.files.get(name, [])[-1:] if keep_old else []), stamp]
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps({"files": self.files}, indent=1).encode(), 0)
        os.fsync(self._fd)

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
