"""`composer preview --clip / --watch` and `composer templates --sheet`: what a template tweaker sees."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from composer.errors import ComposerError
from composer.karaoke.preview import SHEET_LABEL_H, SHEET_TILE, PreviewInputs, _load, _renderer, _scaled
from composer.util.watch import watch
from tests.clirun import cli
from tests.mp4probe import probe
from tests.procs import composer, started


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_clip_is_a_small_mp4_of_the_template_from_at(tmp_path):
    out = tmp_path / "look.mp4"
    res = cli("preview", "--template", "classic", "--at", "4s", "--clip", "2s", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    p = probe(out)
    assert (p.video_codec, p.height, p.width) == ("h264", 480, 854)
    assert p.frames == 60 and p.audio_codec is None
    frames = _frames(out)
    # frame 15 shows the template at 4.5 s (scaled to 480 lines), not a moment before or after it
    what = PreviewInputs("classic")
    renderer = _renderer(what, _scaled(_load(what), 480), tmp_path)
    at = {t: renderer.rgb(t).astype(int) for t in (4.0, 4.5, 5.0)}
    sweep = np.abs(at[4.0] - at[5.0]).sum(-1) > 90  # where the highlight moves in that second
    assert sweep.sum() > 1000
    off = {t: np.abs(frames[15].astype(int) - img)[sweep].mean() for t, img in at.items()}
    assert off[4.5] < 0.5 * min(off[4.0], off[5.0]), off
    # the sweep moves: a frame a second later differs where the lyrics are
    assert np.abs(frames[45].astype(int) - frames[15].astype(int))[300:].mean() > 1.0


def test_clip_bad_values_fail_cleanly(tmp_path):
    for args, words in (
        (("--clip", "soon"), "--clip"),
        (("--clip", "0s"), "--clip"),
        (("--clip", "1s", "-o", tmp_path / "x.png"), ".mp4"),
    ):
        res = cli("preview", *args, "-o", tmp_path / "x.mp4", "-q") if "-o" not in args else cli("preview", *args)
        assert res.exit_code != 0 and words in res.output and "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_preview_never_replaces_a_picture_it_did_not_write(tmp_path):
    mine = tmp_path / "holiday.png"
    Image.new("RGB", (8, 8), "blue").save(mine)
    before = mine.read_bytes()
    res = cli("preview", "-o", mine, "-q")
    assert res.exit_code != 0 and "holiday.png" in res.output
    assert mine.read_bytes() == before
    ours = tmp_path / "p.png"
    for _ in range(2):  # its own preview it may redraw
        assert cli("preview", "-o", ours, "-q").exit_code == 0


def test_template_sheet_shows_every_builtin_template(tmp_path):
    out = tmp_path / "sheet.png"
    res = cli("templates", "--sheet", out)
    assert res.exit_code == 0, res.output
    names = res.output.split()[:3]
    assert names == ["classic", "gore", "void"]
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    w, h = SHEET_TILE
    assert sheet.shape == (h + SHEET_LABEL_H, 3 * w, 3)
    tiles = [sheet[SHEET_LABEL_H:, i * w : (i + 1) * w] for i in range(3)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(tiles[i] - tiles[j]).mean() > 10  # three different looks, not one drawn thrice
    assert sheet[:SHEET_LABEL_H, :200].max() > 150  # a label over each tile


def test_watch_runs_again_after_each_save_and_survives_a_bad_one(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text("a")
    runs: list[str] = []
    errors: list[ComposerError] = []

    def action():
        runs.append(f.read_text())
        if f.read_text() == "bad":
            raise ComposerError("bad template")

    def edit():
        for text in ("bad", "good"):
            while len(runs) < (2 if text == "bad" else 3) - 1:
                time.sleep(0.02)
            time.sleep(0.05)
            (tmp_path / "next").write_text(text)
            os.replace(tmp_path / "next", f)  # a save in one step, as most editors make it

    t = threading.Thread(target=edit)
    t.start()
    try:
        watch([f], action, errors.append, poll=0.02, rounds=3)
    finally:
        t.join()
    assert runs == ["a", "bad", "good"] and len(errors) == 1


def test_preview_watch_redraws_on_save_and_stops_on_ctrl_c(tmp_path):
    template = tmp_path / "mine.toml"
    template.write_text(Path("templates/classic.toml").read_text())
    out = tmp_path / "p.png"
    with started(composer("preview", "--watch", "--template", template, "--at", "4.5s", "-o", out)) as proc:
        deadline = time.monotonic() + 120
        while not out.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        first = np.asarray(Image.open(out).convert("RGB")).astype(int)
        text = template.read_text()
        assert 'highlight_color = "' in text
        lines = [
            ln if not ln.startswith("highlight_color") else 'highlight_color = "#00ff00"' for ln in text.splitlines()
        ]
        template.write_text("\n".join(lines) + "\n")
        while True:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
            try:
                now = np.asarray(Image.open(out).convert("RGB")).astype(int)
            except OSError:
                continue
            if np.abs(now - first).max() > 0:
                break
        green = (now[..., 1] > 200) & (now[..., 0] < 80) & (now[..., 2] < 80)
        assert green.sum() > 500  # the sung part of the line is drawn in the newly saved colour
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["mine.toml", "p.png"]


@pytest.mark.parametrize("args", [("--watch",), ("--watch", "--template", "gore")])
def test_watch_needs_a_template_file(args, tmp_path):
    res = cli("preview", *args, "-o", tmp_path / "p.png")
    assert res.exit_code == 2 and ".toml" in res.output
