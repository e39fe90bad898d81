"""Measures that hear music: they rank a band's album above a collage of restarts above shaped noise, find a
click track's period, tell joins from random points, and catch a copy."""

from __future__ import annotations

import numpy as np
import pytest

from composer.media import quality as Q

RATE = 16000


@pytest.fixture(scope="module")
def album() -> list[np.ndarray]:
    from composer.synthetic.demo import demo_song

    return [demo_song(i).audio.mono() for i in range(4)]  # two clear and two dense songs of 48 s


def test_measures_rank_album_above_collage_above_noise(album):
    ref = Q.AlbumReference.from_songs(album[:2] + album[3:], RATE)  # song 3 (index 2) is kept out: unseen music
    unseen = album[2][: 30 * RATE]
    collage, _ = Q.restart_collage(album[:2] + album[3:], 30, RATE)
    noise = Q.shaped_noise(np.concatenate(album), RATE, 30)
    rhythm = [Q.rhythm_strength(x, RATE) for x in (unseen, collage, noise)]
    close = [ref.closeness(x).ratio for x in (unseen, collage, noise)]
    spiky = [Q.transient_spikiness(x, RATE) for x in (unseen, collage, noise)]
    assert rhythm[0] > rhythm[2] + 0.15 and rhythm[0] > rhythm[1], rhythm
    assert close[0] < close[1] < close[2], close
    assert close[0] < 2.0 and close[2] > 3.0, close
    assert spiky[0] > 2 * spiky[2], spiky
    # the long-term spectrum, the old figure, cannot tell noise shaped like the album from the album
    assert Q.ltas_correlation(noise, unseen, RATE) > 0.9


def test_rhythm_finds_a_click_tracks_period():
    rng = np.random.default_rng(0)
    x = 0.01 * rng.standard_normal(20 * RATE)
    for period in (0.4,):
        for t in np.arange(0, 20, period):
            i = round(t * RATE)
            x[i : i + 400] += np.exp(-np.arange(400) / 60.0) * rng.choice([-1, 1], 400)
    assert Q.rhythm_strength(x, RATE) > 0.6
    assert abs(Q.beat_period(x, RATE) - 0.4) < 0.01, Q.beat_period(x, RATE)
    assert Q.rhythm_strength(0.1 * rng.standard_normal(20 * RATE), RATE) < 0.15


def test_seams_of_restarts_are_heard_and_random_points_are_not(album):
    collage, joins = Q.restart_collage(album, 40, RATE, piece_s=2.0)
    seams = Q.seam_test(collage, RATE, joins)
    assert seams.auc > 0.85 and seams.p_value < 0.01, seams
    # points of the album itself every 7.3 s, as far apart as real joins: nothing to hear there
    songs = np.concatenate(album)
    fake = (np.arange(3.3, 190, 7.3) * RATE).astype(int)
    calm = Q.seam_test(songs, RATE, fake)
    assert calm.p_value > 0.05, calm


def test_copy_score_catches_a_copy(album):
    reference = np.concatenate(album[1:])
    copied = reference[5 * RATE : 15 * RATE]
    assert Q.copy_score(copied, reference, RATE) > 0.99
    noise = Q.shaped_noise(reference, RATE, 10)
    assert Q.copy_score(noise, reference, RATE) < 0.3


def test_spectrogram_png_shows_hits_as_columns(tmp_path, album):
    from PIL import Image

    from composer.media.plot import write_spectrograms

    rng = np.random.default_rng(0)
    clicks = 0.0003 * rng.standard_normal(10 * RATE)
    clicks[:: RATE // 2] = 1.0  # a hit every half second: bright columns
    out = tmp_path / "s.png"
    write_spectrograms(out, {"clicks": clicks, "album": album[0]}, RATE, seconds=10, size=(400, 100))
    image = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    assert image.shape == (2 * (100 + 26), 400)
    panel = image[26:126]
    columns = panel.mean(0)
    assert columns.max() > 2 * np.median(columns)  # the hits stand out of the quiet between them


def test_spectrogram_command_draws_files_side_by_side(tmp_path, album):
    from PIL import Image
    from typer.testing import CliRunner

    from composer.cli import app
    from composer.media.audio import write_wav
    from composer.types import Audio

    a, b = tmp_path / "album.wav", tmp_path / "gen.wav"
    write_wav(a, Audio(album[0][: 12 * RATE, None], RATE))
    write_wav(b, Audio(Q.shaped_noise(album[0], RATE, 12)[:, None], RATE))
    out = tmp_path / "cmp.png"
    runner = CliRunner()
    result = runner.invoke(app, ["spectrogram", str(a), str(b), "-o", str(out), "--start", "1s", "--length", "10s"])
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    top, bottom = image[26:286], image[312:572]  # the two panels under their labels
    # the album's panel has structure (hits, quiet gaps); the noise's is an even smear
    assert top.std(axis=1).mean() > 1.5 * bottom.std(axis=1).mean()
    result = runner.invoke(app, ["spectrogram", str(a), "-o", str(a)])
    assert result.exit_code == 2 and "would replace" in result.output
