"""`composer batch`: job-file validation, resume by manifest, failures alone, kills midway, Ray = local."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from composer.batch.jobfile import load_jobfile
from composer.batch.run import read_manifest, run_batch
from composer.errors import ComposerError
from composer.util.files import OUTPUT_RECORD
from tests.conftest import SMALL_TEMPLATE
from tests.mp4probe import decode_audio
from tests.procs import children, composer, run, started


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write(tmp_path: Path, text: str, name: str = "jobs.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _render_job(name: str, seed: int, length: str = "10s", template: str | None = None) -> str:
    tmpl = f'template = "{template}"\n' if template else ""
    return (
        f'[[job]]\nname = "{name}"\nband = "debugband"\nlength = "{length}"\nseed = {seed}\n{tmpl}'
        f'output = "out/{name}.mp4"\n'
    )


def _defaults(debug_band) -> str:
    return f'[defaults]\nbands_dir = "{debug_band.folder.parent}"\n'


def _karaoke_job(name: str, song_inputs, audio: Path | None = None) -> str:
    return (
        f'[[job]]\nname = "{name}"\naudio = "{audio or song_inputs.audio}"\nlyrics = "{song_inputs.lyrics}"\n'
        f'images = "{song_inputs.images}"\ntemplate = "{song_inputs.template}"\noutput = "out/{name}.mp4"\n'
    )


def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return run(composer("batch", *args), timeout=timeout)


# ----------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            '[[job]]\nname = "a"\nband = "x"\nlength = "10s"\noutput = "a.mp4"\ncolour = "red"\n',
            ["job 'a'", "unknown key 'colour'", "allowed keys are"],
        ),
        (
            '[[job]]\nband = "x"\nlength = "10s"\noutput = "a.mp4"\nseed = "seven"\n',
            ["job #1", "seed = 'seven'", "must be a int"],
        ),
        ('[[job]]\nname = "a"\nband = "x"\nlength = "soon"\noutput = "a.mp4"\n', ["job 'a'", "length", "12s"]),
        (
            '[[job]]\nname = "a"\nband = "x"\nlength = "10s"\noutput = "a.mp4"\ntemplate = "nope"\n',
            ["job 'a'", "template = 'nope'", '"gore"'],
        ),
        (
            '[[job]]\nname = "a"\nkind = "render"\nband = "x"\nlength = "10s"\noutput = "a.mp4"\naudio = "s.wav"\n',
            ["job 'a'", "'audio' is not for a render job"],
        ),
        (
            '[[job]]\nname = "a"\nband = "x"\nlength = "10s"\noutput = "a.mp4"\naudio = "s.wav"\n',
            ["job 'a'", "band (a render key) and audio (a karaoke key)"],
        ),
        ('[[job]]\nname = "a"\nband = "x"\nlength = "10s"\noutput = "a.mkv"\n', ["job 'a'", "output", ".mp4"]),
        ('[[job]]\nname = "a"\nkind = "opera"\noutput = "a.mp4"\n', ["job 'a'", "kind = 'opera'", "'render'"]),
        ('[[job]]\nname = "a"\nband = "x"\noutput = "a.mp4"\n', ["job 'a'", "length is required"]),
        (
            '[defaults]\nband = "x"\nlength = "10s"\n[[job]]\nname = "a"\noutput = "v.mp4"\n'
            '[[job]]\nname = "b"\noutput = "./v.mp4"\n',
            ["job 'b'", "also written by job 'a'"],
        ),
        (
            '[[job]]\nname = "a"\nband = "x"\nlength = "10s"\noutput = "v.mp4"\n'
            '[[job]]\nname = "a"\nband = "x"\nlength = "20s"\noutput = "w.mp4"\n',
            ["job 'a'", "unique"],
        ),
        (
            '[defaults]\nworkers = 3\n[[job]]\nband = "x"\nlength = "10s"\noutput = "v.mp4"\n',
            ["[defaults]", "unknown key 'workers'"],
        ),
        ('[[job]]\nband = "x"\nlength = "25s"\nsongs = 5\noutput = "v.mp4"\n', ["job #1", "songs", "at least 10"]),
        (
            '[[job]]\nband = "x"\nlength = "10s"\noutput = "v.mp4"\nseed = 18446744073709551\n',
            ["job #1", "seed = 18446744073709551", "0 to 4294967295"],
        ),
        ('[[job]]\nband = "x"\nlength = "10s"\noutput = "v.mp4"\nseed = -1\n', ["job #1", "0 to 4294967295"]),
        ('[[job]]\nband = "x"\nlength = nan\noutput = "v.mp4"\n', ["job #1", "length", "12s"]),
        (
            '[[job]]\nband = "x"\nlength = "10s"\nsize = "100x100"\noutput = "v.mp4"\n',
            ["job #1", "size = '100x100'", "128 to 4096 a side", "720p"],
        ),
        ('[[job]]\nband = "x"\nlength = inf\noutput = "v.mp4"\n', ["job #1", "length", "12s"]),
        (
            '[[job]]\nband = "x"\nlength = "100h"\nsongs = 500\noutput = "v.mp4"\n',
            ["job #1", "past the 3h limit", 'max_length = "100h"'],
        ),
    ],
)
def test_bad_job_file_names_job_and_key(tmp_path, body, expected):
    path = _write(tmp_path, body)
    with pytest.raises(ComposerError) as info:
        load_jobfile(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for part in expected:
        assert part in message, (part, message)


def test_bad_job_file_is_one_error_line_and_exit_2(tmp_path):
    path = _write(tmp_path, '[[job]]\nname = "a"\nband = "x"\nlength = "10s"\noutput = "a.mp4"\nspeed = 2\n')
    proc = _cli(str(path))
    assert proc.returncode == 2
    assert proc.stderr.count("error:") == 1 and "unknown key 'speed'" in proc.stderr
    assert not (tmp_path / "jobs.manifest.json").exists()


def test_several_templates_give_one_output_each(tmp_path):
    path = _write(
        tmp_path,
        '[defaults]\ntemplates = ["gore", "void"]\n[[job]]\nname = "a"\nband = "x"\n'
        'length = "10s"\noutput = "v/song.mp4"\n',
    )
    (job,) = load_jobfile(path).jobs
    assert job.outputs == (tmp_path / "v" / "song-gore.mp4", tmp_path / "v" / "song-void.mp4")
    assert job.kind == "render" and job.settings.length == 10.0


def test_job_settings_hash_as_before(tmp_path):
    """The inputs hash reads the settings as JSON: the same JSON as composer wrote before settings were typed,
    so a resumed batch still skips the jobs an earlier run finished."""
    path = _write(
        tmp_path,
        '[[job]]\nname = "r"\nband = "x"\nbands_dir = "bands"\nlength = "1m"\nsize = "720p"\noutput = "r.mp4"\n'
        '[[job]]\nname = "k"\naudio = "a.wav"\nlyrics = "l.txt"\nimages = "img"\nseed = 3\noutput = "k.mp4"\n',
    )
    render, karaoke = load_jobfile(path).jobs
    assert render.settings.as_json() == {
        "seed": 0,
        "band": "x",
        "bands_dir": str(tmp_path / "bands"),
        "length": 60.0,
        "songs": None,
        "size": [1280, 720],
    }
    assert karaoke.settings.as_json() == {
        "seed": 3,
        "audio": str(tmp_path / "a.wav"),
        "lyrics": str(tmp_path / "l.txt"),
        "images": str(tmp_path / "img"),
        "title": None,
    }


# ----------------------------------------------------------------------------------------------- running


def test_batch_runs_skips_and_reruns_only_what_changed(debug_band, song_inputs, tmp_path):
    body = _defaults(debug_band) + _render_job("band", seed=1) + _karaoke_job("song", song_inputs)
    path = _write(tmp_path, body)
    first = run_batch(path)
    assert [r.status for r in first.results] == ["done", "done"] and first.ok
    manifest = read_manifest(tmp_path / "jobs.manifest.json")
    assert set(manifest) == {"band", "song"}
    assert all(e["status"] == "done" and len(e["hash"]) == 64 and e["outputs"] for e in manifest.values())
    videos = [tmp_path / "out" / "band.mp4", tmp_path / "out" / "song.mp4"]
    assert all(str(v) in manifest[v.stem]["outputs"] for v in videos)
    stamps = {v: (v.stat().st_mtime_ns, _sha(v)) for v in videos}

    again = run_batch(path)
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    assert {v: (v.stat().st_mtime_ns, _sha(v)) for v in videos} == stamps

    _write(tmp_path, body.replace("seed = 1", "seed = 2"))
    third = run_batch(path)
    assert [r.status for r in third.results] == ["done", "skipped"]
    assert _sha(videos[0]) != stamps[videos[0]][1]
    assert (videos[1].stat().st_mtime_ns, _sha(videos[1])) == stamps[videos[1]]
    assert read_manifest(tmp_path / "jobs.manifest.json")["band"]["hash"] != manifest["band"]["hash"]
    # a deleted output makes its job run again
    videos[1].unlink()
    assert [r.status for r in run_batch(path).results] == ["skipped", "done"]


def test_a_corrupt_input_fails_alone(debug_band, song_inputs, tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is not a wav file\n" * 50)
    body = (
        _defaults(debug_band)
        + _karaoke_job("broken", song_inputs, audio=bad)
        + _render_job("fine", seed=3)
        + _karaoke_job("missing", song_inputs, audio=tmp_path / "nowhere.wav")
    )
    path = _write(tmp_path, body)
    proc = _cli(str(path))
    assert proc.returncode == 1, proc.stderr
    assert (tmp_path / "out" / "fine.mp4").is_file()
    assert not (tmp_path / "out" / "broken.mp4").exists()
    summary = proc.stderr
    assert "failed: broken: " in summary and "not-audio.wav" in summary
    assert "failed: missing: " in summary and "nowhere.wav" in summary and "not found" in summary
    manifest = read_manifest(tmp_path / "jobs.manifest.json")
    assert manifest["fine"]["status"] == "done" and manifest["broken"]["status"] == "failed"
    assert "not-audio.wav" in manifest["broken"]["error"]
    # the failed job is tried again on a rerun; the finished one is not
    dry = _cli(str(path), "--dry-run")
    assert dry.returncode == 0
    assert "skip  fine" in dry.stdout and "run   broken (karaoke): failed before" in dry.stdout
    assert "fail  missing" in dry.stdout


def test_several_templates_share_one_song(debug_band, tmp_path):
    (tmp_path / "red.toml").write_text(SMALL_TEMPLATE, encoding="utf-8")
    (tmp_path / "blue.toml").write_text(SMALL_TEMPLATE.replace("#ff0000", "#0000ff").replace('"test-small"', '"b"'))
    body = _defaults(debug_band) + _render_job("multi", seed=4).replace(
        "seed = 4\n", 'seed = 4\ntemplates = ["red.toml", "blue.toml"]\n'
    )
    result = run_batch(_write(tmp_path, body))
    assert result.ok
    red, blue = tmp_path / "out" / "multi-red.mp4", tmp_path / "out" / "multi-blue.mp4"
    assert _sha(red) != _sha(blue)  # different looks...
    a, _ = decode_audio(red)
    b, _ = decode_audio(blue)
    assert a.shape == b.shape and np.array_equal(a, b)  # ...of the same song
    assert (tmp_path / "out" / "multi-red.json").read_text() == (tmp_path / "out" / "multi-blue.json").read_text()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_midway_then_rerun_finishes_the_rest(debug_band, tmp_path, sig):
    body = _defaults(debug_band) + "".join(_render_job(f"j{i}", seed=10 + i) for i in range(3))
    path = _write(tmp_path, body)
    manifest_path = tmp_path / "jobs.manifest.json"
    with started(composer("batch", path, "-q"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 150
        while not read_manifest(manifest_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the batch ended before it could be killed"
        time.sleep(1.0)  # well into the second job
        children(proc)  # remembered: the clean-up kills workers a SIGKILL left behind
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
        done_before = {n for n, e in read_manifest(manifest_path).items() if e["status"] == "done"}
        assert done_before and len(done_before) < 3
        first = tmp_path / "out" / f"{sorted(done_before)[0]}.mp4"
        stamp = (first.stat().st_mtime_ns, _sha(first))
        time.sleep(1.0)  # give a worker orphaned by SIGKILL time to notice and stop
        assert not list((tmp_path / "out").glob(f".{first.stem}.*"))  # the finished job left nothing half-done

        proc2 = _cli(str(path), "-q")
        assert proc2.returncode == 0, proc2.stderr
        manifest = read_manifest(manifest_path)
        assert all(manifest[f"j{i}"]["status"] == "done" for i in range(3))
        assert (first.stat().st_mtime_ns, _sha(first)) == stamp  # not redone, not rewritten
        assert all((tmp_path / "out" / f"j{i}.mp4").is_file() for i in range(3))
        leftovers = [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
        assert leftovers == [OUTPUT_RECORD], leftovers  # the record of what composer wrote, nothing else
        assert "part" not in " ".join(p.name for p in tmp_path.iterdir())


# ----------------------------------------------------------------------------------------------- Ray


@pytest.fixture(scope="session")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_backend_writes_the_same_files_as_the_local_pool(debug_band, song_inputs, tmp_path, local_ray):
    body = _defaults(debug_band) + _render_job("band", seed=7) + _karaoke_job("song", song_inputs)
    (tmp_path / "local").mkdir()
    (tmp_path / "ray").mkdir()
    local, remote = _write(tmp_path / "local", body), _write(tmp_path / "ray", body)
    assert run_batch(local).ok
    result = run_batch(remote, ray="local")
    assert result.ok, [r.error for r in result.results]
    names = sorted(p.name for p in (tmp_path / "local" / "out").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "ray" / "out").iterdir())
    for name in names:
        if name.endswith(".upload.json") or name == OUTPUT_RECORD:  # names its own path; stamps of its own files
            continue
        assert _sha(tmp_path / "local" / "out" / name) == _sha(tmp_path / "ray" / "out" / name), name
    manifest = json.loads((tmp_path / "ray" / "jobs.manifest.json").read_text())
    assert {e["status"] for e in manifest.values()} == {"done"}
