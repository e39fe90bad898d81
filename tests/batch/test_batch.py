"""`composer batch`: job-file validation, resume by manifest, failures alone, kills midway, Ray = local."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

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


def _karaoke_job(name: str, song_inputs, audio: Path | None = None, template: Path | None = None) -> str:
    return (
        f'[[job]]\nname = "{name}"\naudio = "{audio or song_inputs.audio}"\nlyrics = "{song_inputs.lyrics}"\n'
        f'images = "{song_inputs.images}"\ntemplate = "{template or song_inputs.template}"\n'
        f'output = "out/{name}.mp4"\n'
    )


def _described(folder: Path, names: list[str]) -> str:
    """What a failed clean-up left, with each file's time and an owner file's text: who made it, and when."""
    lines = [repr(names)]
    for name in names:
        top = folder / name
        for p in sorted([top, *top.rglob("*")] if top.is_dir() else [top]):
            st = p.lstat()
            text = p.read_text(errors="replace").strip() if p.is_file() and "owner" in p.name else ""
            lines.append(f"{p.relative_to(folder)} {st.st_size} B mtime {st.st_mtime:.3f} {text}")
    lines.append(f"now {time.time():.3f}")
    return "\n".join(lines)


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
            '[[job]]\naudio = "a.wav"\nlyrics = "l.txt"\nimages = "i"\noffset = nan\noutput = "v.mp4"\n',
            ["job #1", "offset = nan", "finite"],
        ),
        (
            '[[job]]\naudio = "a.wav"\nlyrics = "l.txt"\nimages = "i"\noffset = "0.3s"\noutput = "v.mp4"\n',
            ["job #1", "offset"],
        ),
        (
            '[[job]]\naudio = "a.wav"\nlyrics = "l.txt"\nimages = "i"\nbackground = "b.mp4"\noutput = "v.mp4"\n',
            ["job #1", "images", "background", "one of the two"],
        ),
        ('[[job]]\naudio = "a.wav"\nlyrics = "l.txt"\noutput = "v.mp4"\n', ["job #1", "images", "background"]),
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


def test_an_offset_is_part_of_a_karaoke_job(tmp_path):
    """A changed offset changes the video, so it is in the settings the inputs hash reads (and 0 is left out)."""
    path = _write(
        tmp_path, '[[job]]\naudio = "a.wav"\nlyrics = "l.txt"\nimages = "i"\noffset = -0.3\noutput = "k.mp4"\n'
    )
    (job,) = load_jobfile(path).jobs
    assert job.settings.offset == -0.3 and job.settings.as_json()["offset"] == -0.3


def test_a_jobs_background_video_replaces_the_default_images(tmp_path):
    body = (
        '[defaults]\nimages = "meat"\n'
        '[[job]]\naudio = "a.wav"\nlyrics = "l.txt"\nbackground = "loop.mp4"\noutput = "k.mp4"\n'
        '[[job]]\naudio = "a.wav"\nlyrics = "l.txt"\noutput = "s.mp4"\n'
    )
    video, slides = load_jobfile(_write(tmp_path, body)).jobs
    assert video.settings.background == tmp_path / "loop.mp4" and video.settings.images is None
    assert slides.settings.images == tmp_path / "meat" and slides.settings.background is None
    assert "background" not in slides.settings.as_json()  # a job without one hashes as before


def test_a_karaoke_job_over_a_background_video(song_inputs, tmp_path):
    from tests.karaoke.test_video_background import BLUE, RED, _frames_at, _loop_video

    loop = _loop_video(tmp_path / "loop.mp4")
    body = _karaoke_job("looped", song_inputs).replace(f'images = "{song_inputs.images}"', f'background = "{loop}"')
    proc = _cli(str(_write(tmp_path, body)), "-q")
    assert proc.returncode == 0, proc.stderr
    frames = _frames_at(tmp_path / "out" / "looped.mp4", [0.5, 1.5])
    for frame, colour in zip(frames, (RED, BLUE)):
        assert np.abs(frame[:40, :80].reshape(-1, 3).mean(axis=0) - colour).max() < 25
    # the video is an input of the job: changing it makes the job run again
    _loop_video(loop, seconds=3.0)
    assert "run   looped" in _cli(str(tmp_path / "jobs.toml"), "--dry-run").stdout


# ----------------------------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def first_batch(debug_band, song_inputs, tmp_path_factory) -> SimpleNamespace:
    """One local batch, run once for the tests below: a band render in two looks (red.toml, blue.toml beside the job
    file) and a karaoke video. Holds the folder, the job file's text, the result, the output folder's file names
    and each file's sha256 as the batch first wrote it."""
    root = tmp_path_factory.mktemp("batch")
    (root / "red.toml").write_text(SMALL_TEMPLATE, encoding="utf-8")
    (root / "blue.toml").write_text(SMALL_TEMPLATE.replace("#ff0000", "#0000ff").replace('"test-small"', '"b"'))
    band_job = _render_job("band", seed=1).replace("seed = 1\n", 'seed = 1\ntemplates = ["red.toml", "blue.toml"]\n')
    body = _defaults(debug_band) + band_job + _karaoke_job("song", song_inputs)
    path = _write(root, body)
    result = run_batch(path)
    files = sorted((root / "out").iterdir())
    return SimpleNamespace(
        root=root,
        body=body,
        path=path,
        result=result,
        names=[f.name for f in files],
        shas={f.name: _sha(f) for f in files if f.is_file()},
    )


def test_several_templates_share_one_song(first_batch):
    assert first_batch.result.ok
    out = first_batch.root / "out"
    red, blue = out / "band-red.mp4", out / "band-blue.mp4"
    # the files the batch wrote (the test below reruns the batch, and checks that it leaves these as they were)
    assert _sha(red) == first_batch.shas[red.name] and _sha(blue) == first_batch.shas[blue.name]
    assert _sha(red) != _sha(blue)  # different looks...
    a, _ = decode_audio(red)
    b, _ = decode_audio(blue)
    assert a.shape == b.shape and np.array_equal(a, b)  # ...of the same song
    assert (out / "band-red.json").read_text() == (out / "band-blue.json").read_text()


def test_batch_runs_skips_and_reruns_only_what_changed(first_batch, song_inputs):
    # the karaoke job is the one changed and rerun below: a band render costs several times as much
    root, path, body, first = first_batch.root, first_batch.path, first_batch.body, first_batch.result
    assert [r.status for r in first.results] == ["done", "done"] and first.ok
    manifest = read_manifest(root / "jobs.manifest.json")
    assert set(manifest) == {"band", "song"}
    assert all(e["status"] == "done" and len(e["hash"]) == 64 and e["outputs"] for e in manifest.values())
    videos = [root / "out" / "band-red.mp4", root / "out" / "band-blue.mp4", root / "out" / "song.mp4"]
    assert all(str(v) in manifest[v.stem.split("-")[0]]["outputs"] for v in videos)
    assert all(_sha(v) == first_batch.shas[v.name] for v in videos)
    stamps = {v: (v.stat().st_mtime_ns, _sha(v)) for v in videos}

    again = run_batch(path)
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    assert {v: (v.stat().st_mtime_ns, _sha(v)) for v in videos} == stamps

    song_job = _karaoke_job("song", song_inputs)
    _write(root, body.replace(song_job, _karaoke_job("song", song_inputs, template=root / "blue.toml")))
    third = run_batch(path)
    assert [r.status for r in third.results] == ["skipped", "done"]
    assert _sha(videos[2]) != stamps[videos[2]][1]
    assert all((v.stat().st_mtime_ns, _sha(v)) == stamps[v] for v in videos[:2])
    assert read_manifest(root / "jobs.manifest.json")["song"]["hash"] != manifest["song"]["hash"]
    # a deleted output makes its job run again
    videos[2].unlink()
    assert [r.status for r in run_batch(path).results] == ["skipped", "done"]


def test_a_corrupt_input_fails_alone(song_inputs, tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is not a wav file\n" * 50)
    body = (
        _karaoke_job("broken", song_inputs, audio=bad)
        + _karaoke_job("fine", song_inputs)
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


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_midway_then_rerun_finishes_the_rest(debug_band, song_inputs, tmp_path, sig):
    # the job killed midway is a band render (a worker with an audio process and ffmpeg below it, and the longest
    # job by far, so the kill lands in it); the quick karaoke jobs either side finish before it and after the rerun
    body = (
        _defaults(debug_band)
        + _karaoke_job("j0", song_inputs)
        + _render_job("j1", seed=11)
        + _karaoke_job("j2", song_inputs)
    )
    path = _write(tmp_path, body)
    manifest_path = tmp_path / "jobs.manifest.json"
    batch = composer("batch", path, "-q", "--workers", "2")
    with started(batch, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 150
        while not read_manifest(manifest_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the batch ended before it could be killed"
        time.sleep(1.0)  # well into the second job
        children(proc)  # remembered: the clean-up kills workers a SIGKILL left behind
        os.kill(proc.pid, sig)
        _, stderr = proc.communicate(timeout=60)
        if sig == signal.SIGTERM:
            # composer's one line, and nothing from Python: no leaked semaphores of the workers' queues, no
            # "Exception ignored" from a stop that landed in a __del__
            assert proc.returncode == 143
            assert stderr.splitlines() == ["interrupted: finished jobs and the manifest are kept; rerun to do the rest"]
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
        # the record of what composer wrote, nothing else
        assert leftovers == [OUTPUT_RECORD], _described(tmp_path / "out", leftovers)
        assert "part" not in " ".join(p.name for p in tmp_path.iterdir())


def test_a_stop_that_lands_in_a_del_still_stops_the_job(tmp_path):
    # SIGTERM raised inside a __del__ is swallowed by Python ("Exception ignored in ..."): the worker must
    # still stop its job, quietly, rather than run on until the parent's SIGKILL
    script = tmp_path / "worker.py"
    script.write_text(
        "import os, signal, time\n"
        "from composer.batch import run\n"
        "run._worker_init(None, os.getppid())\n"
        "run._in_job = True\n"
        "class Dying:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(0.01)\n"
        "try:\n"
        "    Dying()\n"
        "    for _ in range(500):\n"
        "        time.sleep(0.01)\n"
        "    print('ran on')\n"
        "except run._Stopped:\n"
        "    print('stopped')\n"
    )
    res = run([sys.executable, str(script)], timeout=60)
    assert (res.stdout, res.stderr, res.returncode) == ("stopped\n", "", 0)


# ----------------------------------------------------------------------------------------------- Ray


@pytest.fixture(scope="session")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_backend_writes_the_same_files_as_the_local_pool(first_batch, local_ray, tmp_path):
    # the same job file as the local pool's first batch, beside copies of its templates, run as Ray tasks
    for name in ("red.toml", "blue.toml"):
        shutil.copy(first_batch.root / name, tmp_path / name)
    assert first_batch.result.ok
    result = run_batch(_write(tmp_path, first_batch.body), ray="local")
    assert result.ok, [r.error for r in result.results]
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == first_batch.names
    for name in names:
        if name.endswith(".upload.json") or name == OUTPUT_RECORD:  # names its own path; stamps of its own files
            continue
        assert _sha(tmp_path / "out" / name) == first_batch.shas[name], name
    manifest = json.loads((tmp_path / "jobs.manifest.json").read_text())
    assert {e["status"] for e in manifest.values()} == {"done"}
