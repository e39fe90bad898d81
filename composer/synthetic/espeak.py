"""Speech from espeak-ng, through the library and voice data that the ``espeakng-loader`` wheel ships.

A voice that composer did not make: the aligner's evaluation sings lyrics with it (see ``tts_song``). Only
the few calls of espeak-ng's C API that synthesis needs are bound (ctypes); the library keeps one voice and
one set of parameters at a time, so a ``Speaker`` sets them before every utterance. Optional: install
``composer[test]``; without the wheel, ``Speaker()`` raises ComposerError.
"""

from __future__ import annotations

import _ctypes
import ctypes
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.errors import ComposerError

_AUDIO_OUTPUT_RETRIEVAL = 1
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7


class _Event(ctypes.Structure):  # espeak_EVENT in speak_lib.h
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Utterance:
    samples: np.ndarray  # float32 mono in [-1, 1]
    rate: int
    word_starts: tuple[float, ...]  # seconds from the first sample, where espeak-ng began each word


class Speaker:
    """An espeak-ng voice of its own: every Speaker loads a private copy of the library.

    espeak-ng keeps state across utterances that no call resets (its pitch flutter runs on a counter that
    only grows, even through Terminate and Initialize): the same text said twice comes out different, and a
    song made after others would differ from the same song made first. A private copy starts fresh, so what
    a Speaker says depends only on what it said before. ``close()`` (or ``with``) unloads it.
    """

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise ComposerError(
                "espeak-ng voices need the espeakng-loader package: pip install 'composer[test]'"
            ) from exc
        self._dir = tempfile.TemporaryDirectory(prefix="composer-espeak-")
        copy = Path(self._dir.name) / "libespeak-ng.so"
        shutil.copyfile(espeakng_loader.get_library_path(), copy)
        lib = ctypes.CDLL(str(copy), mode=os.RTLD_LOCAL)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        path = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_RETRIEVAL, 0, path, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            self._dir.cleanup()
            raise ComposerError(f"espeak-ng could not start with its voice data in {path.decode()}")
        self._lib, self._rate = lib, rate
        self._chunks: list[np.ndarray] = []
        self._words: list[int] = []
        self._callback = _CALLBACK(self._collect)  # kept alive while the library may call it

    def close(self) -> None:
        if getattr(self, "_lib", None) is not None:
            self._lib.espeak_Terminate()
            _ctypes.dlclose(self._lib._handle)
            self._lib = None
            self._dir.cleanup()

    def __enter__(self) -> Speaker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit the modules close() needs may already be gone
            pass

    @property
    def rate(self) -> int:
        return self._rate

    def say(self, text: str, voice: str = "en", *, wpm: int = 175, pitch: int = 50, pitch_range: int = 50) -> Utterance:
        """Speak ``text`` with a voice ("en-us+m3": language, then an optional variant) at ``wpm`` words a
        minute; ``pitch`` and ``pitch_range`` 0-99 (range 0: a monotone, a sung note)."""
        lib = self._lib
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ComposerError(f"espeak-ng has no voice {voice!r}")
        for param, value in ((_RATE, wpm), (_PITCH, pitch), (_RANGE, pitch_range), (_VOLUME, 100), (_WORDGAP, 0)):
            lib.espeak_SetParameter(param, int(value), 0)
        lib.espeak_SetSynthCallback(self._callback)
        self._chunks, self._words = [], []
        data = text.encode()
        lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None)
        lib.espeak_Synchronize()
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        starts = tuple(s / self._rate for s in self._words)
        return Utterance(samples.astype(np.float32) / 32768.0, self._rate, starts)

    def _collect(self, wav, n: int, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_WORD:
                self._words.append(events[i].sample)
            i += 1
        return 0
