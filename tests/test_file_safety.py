"""Hostile file names and folder layouts: composer never loses a user's file, never writes outside the output
folder it was given, and hands ffmpeg nothing it could read as an option or a protocol.

Cases tried (each has a test below):
- a video folder named like an ffmpeg protocol (``file:out``, ``pipe:1``) or an option (``-x``);
- a job file whose output climbs out of out_dir (``../x/settings.mp4``, ``sub/../../x``) or is absolute;
- a band name that is a path (``--band ../evil``, ``band = "../evil"`` in a job file);
- ``train lyrics --out`` an existing folder of the user's; a band whose lyrics folder is its model folder
  (``lyrics = ["lyrics"]``); a model folder inside its training input;
- a crash at each point of a folder swap (while writing, before, between and after the two renames), and a
  fresh run and a resume after the crash that leaves only ``.X.old``;
- ``karaoke song.wav song.lrc --images . -o song.mp4`` (the .lrc sidecar and the thumbnail would replace the
  hand-timed lyrics and the cover), ``align ... song.lrc -o song.lrc``; a failure in the last part of an
  output set; batch jobs whose output lands in their image folder or is another job's input;
- batch clean-up beside the user's hidden files, with a glob as the output stem (``*.mp4``), a live run's work
  folder in the same folder, and a second batch on the same folder;
- ``align``, ``spectrogram``, ``generate audio`` and ``generate lyrics`` with ``-o`` a file of the user's (a
  hand-timed .lrc, a recording, lyrics) or a symlink to one; then ``align`` again over its own output.

The whole review, case by case, is in tests/HOSTILE_REVIEW.md.
"""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from composer.batch.jobfile import load_jobfile
from composer.cli import app
from composer.errors import ComposerError
from composer.media.ffmpeg import VideoWriter, mux
from composer.util.files import OUTPUT_RECORD
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
    path.write_text(
        f'[defaults]\n{extra}[[job]]\nname = "a"\naudio = "{song_inputs.audio}"\n'
        f'lyrics = "{song_inputs.lyrics}"\nimages = "{song_inputs.images}"\noutput = "{output}"\n',
        encoding="utf-8",
    )
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
    for args in (
        ["render", "--band", "../evil", "--length", "10s", "-o", tmp_path / "v.mp4"],
        ["train", "lyrics", "--band", "../evil"],
        ["train", "--band", "../evil"],
    ):
        _assert_refused(_cli(*args, "--bands-dir", tmp_path / "bands", "-q"), "band name '../evil'", "--bands-dir")
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nband = "../evil"\nlength = "10s"\noutput = "v.mp4"\n')
    _assert_refused(_cli("batch", jobs, "-q"), "band name '../evil'")
    jobs.unlink()
    assert _tree(tmp_path) == before


# ----------------------------------------------------------------------------------------------- model folders


def _corpus() -> str:
    """Enough distinct lyric lines to train on (the demo band's)."""
    from composer.band.profile import SHIPPED_DIR

    files = sorted((SHIPPED_DIR.parent / "assets" / "lyrics" / "demo").glob("*.txt"))[:40]
    return "\n\n".join(p.read_text(encoding="utf-8") for p in files)


_LYRICS = _corpus()


@pytest.mark.parametrize(
    "files",
    [
        {"thesis.tex": "three years of work", "config.json": "{}"},
        # someone else's GPT-2: the same file names as a lyric model, but no lyrics.json
        {"config.json": '{"model_type": "gpt2"}', "model.safetensors": "weights", "tokenizer.json": "{}"},
    ],
)
def test_train_lyrics_never_replaces_a_folder_composer_did_not_make(tmp_path, files):
    (tmp_path / "corpus.txt").write_text(_LYRICS)
    work = tmp_path / "work"
    work.mkdir()
    for name, text in files.items():
        (work / name).write_text(text)
    before = _tree(work)
    result = _cli(
        "train", "lyrics", "--lyrics", tmp_path / "corpus.txt", "--out", work, "--preset", "debug", "--steps", "2", "-q"
    )
    _assert_refused(result, str(work), "composer did not make")
    assert _tree(work) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "work"]


def test_band_whose_lyrics_folder_is_its_model_folder_keeps_its_lyrics(tmp_path):
    band = tmp_path / "bands" / "grave"
    (band / "lyrics").mkdir(parents=True)
    (band / "lyrics" / "songs.txt").write_text(_LYRICS)
    (band / "band.toml").write_text(
        'name = "grave"\naudio = "rec"\nimages = "img"\nlyrics = ["lyrics"]\n'
        '[models]\nlyrics_preset = "debug"\nlyrics_steps = 2\n'
    )
    before = _tree(band)
    for args in (["train", "lyrics", "--band", "grave"], ["train", "--band", "grave", "--only", "lyrics"]):
        _assert_refused(_cli(*args, "--bands-dir", tmp_path / "bands", "-q"), "songs.txt", "overlap")
        assert _tree(band) == before


def test_training_output_inside_its_input_folder_is_refused(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text(_LYRICS)
    before = _tree(tmp_path)
    result = _cli(
        "train",
        "lyrics",
        "--lyrics",
        tmp_path / "corpus",
        "--out",
        tmp_path / "corpus" / "model",
        "--preset",
        "debug",
        "--steps",
        "2",
        "-q",
    )
    _assert_refused(result, "overlap")
    assert _tree(tmp_path) == before


_CRASH = """
import os, shutil, sys
from pathlib import Path
from composer.util import files as fsutil
point = sys.argv[2]
real_replace, real_rmtree, calls = os.replace, shutil.rmtree, []
def replace(a, b):
    calls.append(1)
    if point == f"rename{len(calls)}":
        os._exit(9)  # the process dies here: no handler runs
    real_replace(a, b)
def rmtree(p, *args, **kwargs):
    if point == "cleanup" and Path(p).name.endswith(".old"):
        os._exit(9)
    real_rmtree(p, *args, **kwargs)
def write(folder):
    (folder / "weights").write_text("new")
    if point == "writing":
        os._exit(9)
os.replace, shutil.rmtree = replace, rmtree
fsutil.write_dir_atomic(Path(sys.argv[1]), write)
"""


@pytest.mark.parametrize(
    "point, survivor", [("writing", "old"), ("rename1", "old"), ("rename2", "old"), ("cleanup", "new")]
)
def test_folder_swap_survives_a_crash_at_any_point(tmp_path, point, survivor):
    import subprocess
    import sys

    from composer.util.files import recover_dir, write_dir_atomic

    model = tmp_path / "model"
    write_dir_atomic(model, lambda folder: (folder / "weights").write_text("old"))
    (tmp_path / "notes.txt").write_text("the user's")
    proc = subprocess.run([sys.executable, "-c", _CRASH, str(model), point], timeout=60)
    assert proc.returncode == 9
    if point == "rename2":
        assert not model.exists() and (tmp_path / ".model.old" / "weights").read_text() == "old"
    recover_dir(model)  # what every write_dir_atomic and each trainer does first
    assert (model / "weights").read_text() == survivor
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "notes.txt"]
    write_dir_atomic(model, lambda folder: (folder / "weights").write_text("next"))
    assert (model / "weights").read_text() == "next"


def test_resume_finds_the_model_a_crash_left_as_old(tmp_path):
    from composer.models.lyricgpt.train import train_lyrics

    (tmp_path / "corpus.txt").write_text(_LYRICS)
    out = tmp_path / "model"
    train_lyrics([tmp_path / "corpus.txt"], out, preset="debug", steps=4, eval_every=2)
    out.rename(tmp_path / ".model.old")  # a crash between the two renames of the next checkpoint
    # a fresh run must not delete it: it finds the model and says how to go on
    result = _cli(
        "train", "lyrics", "--lyrics", tmp_path / "corpus.txt", "--out", out, "--preset", "debug", "--steps", "8", "-q"
    )
    _assert_refused(result, "already holds a trained model")
    assert (out / "model.safetensors").is_file()
    out.rename(tmp_path / ".model.old")
    resumed = train_lyrics([tmp_path / "corpus.txt"], out, preset="debug", steps=8, eval_every=4, resume=True)
    assert resumed.step == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "model"]


# ----------------------------------------------------------------------------------------------- outputs vs inputs


def _song_folder(tmp_path, song_inputs):
    """A user's song folder: the song, hand-timed lyrics, a cover; the folder doubles as the image folder."""
    import shutil

    folder = tmp_path / "song"
    folder.mkdir()
    shutil.copy(song_inputs.audio, folder / "song.wav")
    (folder / "song.lrc").write_text("[ti:hand timed]\n[00:01.00]Carrion hymn\n[00:03.50]Hollow king\n")
    from PIL import Image

    Image.open(next(song_inputs.images.glob("*.jpg"))).save(folder / "song.png")
    return folder


def test_karaoke_never_replaces_its_own_inputs(tmp_path, song_inputs, monkeypatch):
    folder = _song_folder(tmp_path, song_inputs)
    monkeypatch.chdir(folder)
    before = _tree(folder)
    # the video's .lrc sidecar would replace the hand-timed lyrics
    result = _cli(
        "karaoke", "song.wav", "song.lrc", "--images", ".", "-o", "song.mp4", "--template", song_inputs.template, "-q"
    )
    _assert_refused(result, "song.lrc", "would replace", "-o")
    # the thumbnail would replace the cover in the image folder (and be read as a background next time)
    result = _cli(
        "karaoke",
        "song.wav",
        song_inputs.lyrics,
        "--images",
        ".",
        "-o",
        "song.mp4",
        "--template",
        song_inputs.template,
        "-q",
    )
    _assert_refused(result, "song.png", "image folder", "-o")
    # align's timing file is an output too
    result = _cli("align", "song.wav", "song.lrc", "-o", "song.lrc", "-q")
    _assert_refused(result, "song.lrc", "would replace")
    assert _tree(folder) == before


def test_a_failed_run_keeps_the_whole_earlier_set(tmp_path, song_inputs, monkeypatch):
    from composer.karaoke import engine as pipeline

    out = tmp_path / "v.mp4"
    pipeline.karaoke(song_inputs.audio, song_inputs.lyrics, song_inputs.images, out, template=song_inputs.template)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [OUTPUT_RECORD, "v.ass", "v.json", "v.lrc", "v.mp4", "v.png", "v.srt"]  # no work folder left
    before = _tree(tmp_path)

    def broken_thumbnail(*args, **kwargs):
        raise OSError(28, "No space left on device")  # the last part of the set fails

    monkeypatch.setattr(pipeline, "write_thumbnail", broken_thumbnail)
    with pytest.raises(ComposerError, match="no space left"):
        pipeline.karaoke(
            song_inputs.audio, song_inputs.lyrics, song_inputs.images, out, template=song_inputs.template, seed=7
        )
    assert _tree(tmp_path) == before  # the earlier video and its sidecars, not a mix


def test_files_beside_the_video_that_composer_did_not_write_are_never_replaced(tmp_path, song_inputs):
    # a rerun replaces composer's own set; a user's notes.json beside -o notes.mp4, or a sidecar the user edited
    # since, is refused with one error and left as it was
    args = [song_inputs.audio, song_inputs.lyrics, "--images", song_inputs.images, "--template", song_inputs.template]
    out = tmp_path / "v.mp4"
    assert _cli("karaoke", *args, "-o", str(out), "-q").exit_code == 0
    assert _cli("karaoke", *args, "-o", str(out), "--seed", "3", "-q").exit_code == 0  # its own files: replaced
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    before = _tree(tmp_path)
    _assert_refused(
        _cli("karaoke", *args, "-o", str(tmp_path / "notes.mp4"), "-q"), "notes.json", "not a file composer"
    )
    assert _tree(tmp_path) == before
    lrc = tmp_path / "v.lrc"
    lrc.write_text(lrc.read_text() + "[00:59.00] my own line\n")  # the user fixed a timing by hand
    before = _tree(tmp_path)
    _assert_refused(_cli("karaoke", *args, "-o", str(out), "-q"), "v.lrc", "changed")
    assert _tree(tmp_path) == before


def test_example_never_replaces_a_users_files_beside_it(tmp_path):
    mine = tmp_path / "ex-song.wav"
    mine.write_bytes(b"my demo tape")
    before = _tree(tmp_path)
    _assert_refused(_cli("example", "-o", str(tmp_path / "ex.mp4"), "--length", "10s", "-q"), "ex-song.wav")
    assert _tree(tmp_path) == before


def test_batch_job_reading_its_own_output_folder_fails_before_running(tmp_path, song_inputs):
    import shutil

    from composer.batch.run import plan_batch

    images = tmp_path / "images"
    shutil.copytree(song_inputs.images, images)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(
        f'[defaults]\nout_dir = "images"\n[[job]]\nname = "a"\naudio = "{song_inputs.audio}"\n'
        f'lyrics = "{song_inputs.lyrics}"\nimages = "{images}"\noutput = "a.mp4"\n'
        f'[[job]]\nname = "b"\naudio = "{images}/a.mp4"\nlyrics = "{song_inputs.lyrics}"\n'
        f'images = "{song_inputs.images}"\noutput = "b.mp4"\n'
    )
    (images / "a.mp4").write_bytes(b"an earlier render")  # so job b's input exists
    plan = plan_batch(load_jobfile(jobs))
    status = {r.name: (r.status, r.error) for r in plan.results}
    assert status["a"][0] == "failed" and "a.png" in status["a"][1] and "image folder" in status["a"][1]
    assert status["b"][0] == "failed" and "a.mp4" in status["b"][1] and "would replace" in status["b"][1]
    assert plan.run == []


# ----------------------------------------------------------------------------------------------- batch clean-up


def test_batch_cleanup_removes_only_what_a_killed_run_left(tmp_path, song_inputs):
    from composer.batch.run import remove_stale_temporaries
    from composer.util.files import OWNER_FILE, work_dir

    out = tmp_path / "out"
    out.mkdir()
    jobs = tmp_path / "jobs.toml"
    # a stem that is a glob: '.*.*.part*' would match any hidden file with two dots and 'part' in it
    jobs.write_text(
        f'[defaults]\nout_dir = "out"\n[[job]]\nname = "a"\naudio = "{song_inputs.audio}"\n'
        f'lyrics = "{song_inputs.lyrics}"\nimages = "{song_inputs.images}"\noutput = "*.mp4"\n'
    )
    users = [out / ".thesis.final.partial.tex", out / ".*.bak.part2", out / ".composer-notes" / "todo.txt"]
    for p in users:
        p.parent.mkdir(exist_ok=True)
        p.write_text("the user's")
    stale_work = out / ".composer-k1ll3d"
    stale_work.mkdir()
    (stale_work / OWNER_FILE).write_text("composer pid 1\n")  # its owner died: nobody holds the lock
    stale_part = out / ".*.ab12cd_9.part.mp4"
    stale_part.write_bytes(b"half a video")
    # a run killed in the moment between making its work folder and locking the owner file: no lock to try,
    # so only its age says it is abandoned, and only a folder holding nothing else may go
    abandoned, being_made = out / ".composer-0f3a9c1e", out / ".composer-77aa00bb"
    for p in (abandoned, being_made):
        p.mkdir()
        (p / ".owner.x1y2z3ab").write_text("")
    hour_ago = time.time() - 3600
    for p in (abandoned, out / ".composer-notes"):
        os.utime(p, (hour_ago, hour_ago))
    before = _tree(tmp_path)
    with work_dir(out) as live:  # another composer run, still writing here
        (live / "frames.bin").write_bytes(b"in progress")
        removed = remove_stale_temporaries(load_jobfile(jobs))
        assert sorted(removed) == sorted([stale_work, stale_part, abandoned])
        assert (live / "frames.bin").read_bytes() == b"in progress"
    left = _tree(tmp_path)
    gone = ("out/.composer-k1ll3d", "out/.*.ab12", "out/.composer-0f3a9c1e")
    assert left == {k: v for k, v in before.items() if not k.startswith(gone)}


@pytest.mark.parametrize("call", ["os.mkdir", "tempfile.mkstemp"])
def test_a_stop_while_the_work_folder_is_made_leaves_nothing(tmp_path, monkeypatch, call):
    # Ctrl-C or a batch worker's SIGTERM lands between two bytecodes: just after the folder (or the owner
    # file not yet in place) is made, before the code that would clean it up knows of it
    from composer.util import files

    module, name = call.split(".")
    real = getattr(getattr(files, module), name)

    def made_then_stopped(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    user = tmp_path / "notes.txt"
    user.write_text("the user's")
    monkeypatch.setattr(getattr(files, module), name, made_then_stopped)
    with pytest.raises(KeyboardInterrupt), files.work_dir(tmp_path):
        pytest.fail("the work folder was never made")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_stop_while_the_work_folder_is_removed_leaves_it_to_the_next_clean_up(tmp_path, monkeypatch):
    # a batch worker's job has finished and its work folder is being removed when the batch's SIGTERM lands:
    # what is left must still be known as a work folder whose owner is gone, not an ownerless folder kept forever
    from composer.util import files

    real = files.shutil.rmtree

    def removed_then_stopped(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), files.work_dir(tmp_path) as work:
        for part in ("set", "scratch"):
            (work / part).mkdir()
            (work / part / "video0.mp4").write_bytes(b"half a job")
        monkeypatch.setattr(files.shutil, "rmtree", removed_then_stopped)
    monkeypatch.undo()
    assert work.is_dir()  # cut short: one of the two parts is still there
    assert files.remove_stale_work(tmp_path) == [work]
    assert list(tmp_path.iterdir()) == []


def test_second_batch_on_the_same_folder_is_refused(tmp_path, song_inputs):
    from composer.util.files import folder_lock, work_dir

    out = tmp_path / "out"
    out.mkdir()
    jobs = _karaoke_jobfile(tmp_path, song_inputs, "v.mp4", extra='out_dir = "out"\n')
    with folder_lock(out), work_dir(out) as first_batch_work:  # the first batch, mid-render
        (first_batch_work / "video0.mp4").write_bytes(b"first batch's work")
        result = _cli("batch", jobs, "-q")
        _assert_refused(result, str(out), "another composer batch")
        assert (first_batch_work / "video0.mp4").read_bytes() == b"first batch's work"
    assert sorted(p.name for p in out.iterdir()) == []  # the lock file goes with the batch that held it


def test_a_file_of_the_users_at_the_manifest_name_is_never_replaced(tmp_path, song_inputs):
    from composer.batch.run import check_manifest_is_ours

    jobs = _karaoke_jobfile(tmp_path, song_inputs, "v.mp4")
    notes = tmp_path / "jobs.manifest.json"
    notes.write_text("my notes on the jobs\n")
    before = _tree(tmp_path)
    _assert_refused(_cli("batch", jobs, "-q"), "jobs.manifest.json", "not a batch manifest composer wrote")
    assert _tree(tmp_path) == before
    # a manifest an earlier composer wrote (no record of it in the folder) is still composer's to update
    notes.write_text('{"a": {"hash": "ab12", "status": "done", "outputs": []}}\n')
    check_manifest_is_ours(notes)


def test_preview_and_generate_never_replace_their_inputs(tmp_path, song_inputs):
    import shutil

    images = tmp_path / "images"
    shutil.copytree(song_inputs.images, images)
    cover = next(images.iterdir())
    prime = tmp_path / "riff.wav"
    shutil.copy(song_inputs.audio, prime)
    before = _tree(tmp_path)
    _assert_refused(_cli("preview", "--images", images, "-o", cover, "-q"), cover.name, "image folder")
    _assert_refused(_cli("preview", "--images", images, "-o", images / "new.png", "-q"), "image folder")
    _assert_refused(
        _cli("generate", "audio", "--band", "demo", "--prime", prime, "-o", prime, "--length", "1s", "-q"),
        "riff.wav",
        "would replace",
    )
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    "command",
    [
        ["align", "{audio}", "{lyrics}", "-o", "mine.lrc", "-q"],
        ["align", "{audio}", "{lyrics}", "-o", "link.lrc", "-q"],
        ["spectrogram", "{audio}", "-o", "mine.png", "-q"],
        ["generate", "audio", "--band", "demo", "--length", "1s", "-o", "mine.wav", "-q"],
        ["generate", "lyrics", "--band", "demo", "--lines", "2", "-o", "mine.txt", "-q"],
    ],
    ids=["align", "align-symlink", "spectrogram", "generate-audio", "generate-lyrics"],
)
def test_single_file_outputs_never_replace_a_users_file(tmp_path, song_inputs, monkeypatch, command):
    # these four wrote over whatever was at -o: a hand-timed .lrc, a recording, a lyric sheet
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "keep"
    elsewhere.mkdir()
    (elsewhere / "timed.lrc").write_text("[00:01.00]the user's own timing\n")
    (tmp_path / "link.lrc").symlink_to(elsewhere / "timed.lrc")
    for suffix in (".lrc", ".png", ".wav", ".txt"):
        (tmp_path / f"mine{suffix}").write_text("the user's own\n")
    before = _tree(tmp_path)
    args = [a.format(audio=song_inputs.audio, lyrics=song_inputs.lyrics) for a in command]
    _assert_refused(_cli(*args), args[args.index("-o") + 1], "not a file composer wrote")
    assert _tree(tmp_path) == before
    assert (tmp_path / "link.lrc").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["keep", "link.lrc", *(f"mine{s}" for s in ".lrc .png .wav .txt".split())]
    )


def test_align_replaces_its_own_timing_file(tmp_path, song_inputs):
    out = tmp_path / "song.lrc"
    for _ in range(2):  # the second run replaces what the first wrote
        result = _cli("align", song_inputs.audio, song_inputs.lyrics, "-o", out, "-q")
        assert result.exit_code == 0, result.output
    assert out.read_text().startswith("[ti:")
    assert sorted(p.name for p in tmp_path.iterdir()) == [OUTPUT_RECORD, "song.lrc"]


def test_stream_now_playing_never_writes_into_a_users_file_or_its_hls_folder(debug_band, tmp_path, monkeypatch):
    def no_songs_yet(*args, **kwargs):
        raise AssertionError("the band started generating before --now-playing was checked")

    monkeypatch.setattr("composer.stream.live.AudioProcess", no_songs_yet)
    notes = tmp_path / "notes.txt"
    notes.write_text("setlist: 1. Altar of Rot\n")
    band_toml = debug_band.folder / "band.toml"
    kept = {p: _sha(p) for p in (notes, band_toml)}
    hls = ["--hls", tmp_path / "hls", "--duration", "1s", "-q"]
    band = ["--band", debug_band.name, "--bands-dir", debug_band.folder.parent]
    # a JSON line appended to band.toml breaks the band; to notes.txt it is litter in the user's file
    for path in (notes, band_toml):
        _assert_refused(_cli("stream", *band, *hls, "--now-playing", path), path.name, "not a now-playing log")
    _assert_refused(_cli("stream", *band, *hls, "--now-playing", tmp_path / "hls" / "now.jsonl"), "inside the HLS")
    assert {p: _sha(p) for p in kept} == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_second_stream_into_a_busy_hls_folder_is_refused_before_any_song(debug_band, tmp_path, monkeypatch):
    from composer.util.files import folder_lock, make_dir

    def no_songs_yet(*args, **kwargs):
        raise AssertionError("the band started generating before the folder was checked")

    monkeypatch.setattr("composer.stream.live.AudioProcess", no_songs_yet)
    hls = make_dir(tmp_path / "hls")
    band = ["--band", debug_band.name, "--bands-dir", debug_band.folder.parent]
    with folder_lock(hls, who="stream"):  # the first stream, live: the second one learnt of it minutes later
        _assert_refused(_cli("stream", *band, "--hls", hls, "--duration", "1s", "-q"), "another composer stream")
