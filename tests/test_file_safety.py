"""Hostile file names and folder layouts: composer never loses a user's file, never writes outside the output
folder it was given, and hands ffmpeg nothing it could read as an option or a protocol.

Cases tried (each has a test below): a video folder named like an ffmpeg protocol (``file:out``) or an option
(``-x``);
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf

from composer.render.writer import VideoWriter, mux
from tests.mp4probe import probe


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frames(w, h, n):
    for i in range(n):
        yield np.concatenate([np.full(w * h, 16 + 8 * i, np.uint8), np.full(w * h // 2, 128, np.uint8)])


# ----------------------------------------------------------------------------------------------- ffmpeg paths


@pytest.mark.parametrize("folder", ["file:out", "-x", "pipe:1"])
def test_folder_named_like_a_protocol_or_option_gets_the_real_video(tmp_path, monkeypatch, folder):
    monkeypatch.chdir(tmp_path)
    (tmp_path / folder).mkdir()
    wav = tmp_path / folder / "a.wav"
    sf.write(wav, np.zeros((48000, 2), np.float32) + 0.1, 48000)
    target = f"{folder}/v.mp4"  # relative, as a user types it
    with VideoWriter(target, 64, 48, 30, audio=f"{folder}/a.wav") as w:
        for frame in _frames(64, 48, 30):
            w.write(frame)
    p = probe(tmp_path / folder / "v.mp4")
    assert (p.width, p.height, p.frames) == (64, 48, 30)
    assert p.audio_codec == "aac"
    # nothing written where ffmpeg would have put it had it read the folder name as a protocol
    assert sorted(f.name for f in tmp_path.iterdir()) == [folder]
    assert not (tmp_path / "out").exists()

    mux(f"{folder}/v.mp4", f"{folder}/a.wav", f"{folder}/m.mp4")
    assert probe(tmp_path / folder / "m.mp4").frames == 30
