"""Hostile file names and folder layouts: composer never loses a user's file, never writes outside the output
folder it was given, and hands ffmpeg nothing it could read as an option or a protocol.

Cases tried (each has a test below): a video folder named like an ffmpeg protocol (``file:out``) or an option
(``-x``); a job file whose output climbs out of out_dir (``../x/settings.mp4``) or is absolute; a band
name that is a path (``../x``);
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from composer.batchjobs import load_jobfile
from composer.cli import app
from composer.render.writer import VideoWriter, mux
from tests.mp4probe import probe


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _errors(result) -> list[str]:
    return [ln for ln in result.output.splitlines() if ln.startswith("error:")]


def _assert_refused(result, *needles) -> str:
    assert result.exit_code == 2, result.output
    lines = _errors(result)
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _tree(root) -> dict[str, str]:
    """Every file under ``root`` and its hash: what a user would see changed."""
    return {str(p.relative_to(root)): _sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


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


# ----------------------------------------------------------------------------------------------- job files


def _karaoke_jobfile(folder, song_inputs, output: str, extra: str = "") -> object:
    path = folder / "jobs.toml"
    path.write_text(f'[defaults]\n{extra}[[job]]\nname = "a"\naudio = "{song_inputs.audio}"\n'
                    f'lyrics = "{song_inputs.lyrics}"\nimages = "{song_inputs.images}"\noutput = "{output}"\n',
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("output", ["../x/settings.mp4", "{abs}/x/settings.mp4", "sub/../../x/settings.mp4"])
def test_job_output_outside_out_dir_is_refused(tmp_path, song_inputs, output):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "settings.json").write_text('{"the user": "settings"}\n')  # a sidecar name: would be replaced
    before = _tree(tmp_path / "x")
    path = _karaoke_jobfile(tmp_path / "jobs", song_inputs, output.format(abs=tmp_path))
    _assert_refused(_cli("batch", path, "-q"), "outside out_dir", "--allow-outside")
    assert _tree(tmp_path / "x") == before
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == ["jobs.toml"]


def test_allow_outside_lets_a_job_write_elsewhere(tmp_path, song_inputs):
    (tmp_path / "jobs").mkdir()
    path = _karaoke_jobfile(tmp_path / "jobs", song_inputs, "../x/v.mp4")
    assert load_jobfile(path, allow_outside=True).jobs[0].outputs == (tmp_path / "x" / "v.mp4",)
    path = _karaoke_jobfile(tmp_path / "jobs", song_inputs, "../x/v.mp4", extra="allow_outside = true\n")
    assert load_jobfile(path).jobs[0].outputs == (tmp_path / "x" / "v.mp4",)


def test_band_name_that_is_a_path_is_refused(tmp_path):
    # a real band folder outside the bands folder: a path as --band must not reach it
    (tmp_path / "bands").mkdir()
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "band.toml").write_text('name = "evil"\naudio = "."\nlyrics = ["."]\nimages = "."\n')
    before = _tree(tmp_path)
    for args in (["render", "--band", "../evil", "--length", "10s", "-o", tmp_path / "v.mp4"],
                 ["train", "lyrics", "--band", "../evil"], ["train", "--band", "../evil"]):
        _assert_refused(_cli(*args, "--bands-dir", tmp_path / "bands", "-q"), "band name '../evil'", "--bands-dir")
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nband = "../evil"\nlength = "10s"\noutput = "v.mp4"\n')
    _assert_refused(_cli("batch", jobs, "-q"), "band name '../evil'")
    jobs.unlink()
    assert _tree(tmp_path) == before
