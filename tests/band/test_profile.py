"""Band profiles: create, find, list, and band.toml validation that names the key and the allowed values."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from composer.band.profile import create_band, find_band, list_bands, load_band
from composer.cli import app
from composer.errors import ComposerError


def run(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


@pytest.fixture()
def material(song_inputs, tmp_path):
    audio = tmp_path / "rec"
    audio.mkdir()
    (audio / "one.wav").write_bytes(song_inputs.audio.read_bytes())
    return audio, song_inputs.lyrics, song_inputs.images


def test_create_then_find_and_list(material, tmp_path):
    audio, lyrics, images = material
    bands = tmp_path / "bands"
    band = create_band("grind-1", audio, [lyrics], images, template="void", bands_dir=bands)
    assert (bands / "grind-1" / "band.toml").is_file()
    again = find_band("grind-1", bands)
    assert again.audio_dir == audio.resolve() and again.template == "void"
    assert again.lyric_files() == [lyrics.resolve()]
    assert not band.trained("audio") and not band.trained("lyrics")
    with pytest.raises(ComposerError, match="no trained audio model yet: run `composer train --band grind-1`"):
        band.weights("audio")
    names = [b.name for b in list_bands(bands)]
    assert "grind-1" in names and "demo" in names  # the shipped demo band is always found


def test_cli_create_and_list(material, tmp_path):
    audio, lyrics, images = material
    bands = tmp_path / "bands"
    r = run(
        "band", "create", "gore-band", "--audio", audio, "--lyrics", lyrics, "--images", images, "--bands-dir", bands
    )
    assert r.exit_code == 0, r.output
    r = run("band", "list", "--bands-dir", bands)
    assert r.exit_code == 0 and "gore-band" in r.output and "untrained" in r.output


def test_a_broken_band_toml_does_not_hide_the_other_bands(material, tmp_path):
    audio, lyrics, images = material
    bands = tmp_path / "bands"
    (bands / "broken").mkdir(parents=True)
    (bands / "broken" / "band.toml").write_text('name = "broken"\nsample_rate = "fast"\n')
    r = run(
        "band", "create", "gore-band", "--audio", audio, "--lyrics", lyrics, "--images", images, "--bands-dir", bands
    )
    assert r.exit_code == 0, r.output
    r = run("band", "list", "--bands-dir", bands)
    assert r.exit_code == 0 and "gore-band" in r.output and "demo" in r.output
    assert "warning:" in r.output and "broken" in r.output and "left out" in r.output
    r = run("band", "create", "broken", "--audio", audio, "--lyrics", lyrics, "--images", images, "--bands-dir", bands)
    assert r.exit_code == 2 and "already exists" in r.output


def test_unknown_band_lists_known_ones(tmp_path):
    r = run("render", "--band", "nope", "--length", "20s", "-o", tmp_path / "x.mp4", "--bands-dir", tmp_path)
    assert r.exit_code == 2
    assert "unknown band 'nope'" in r.output and "demo" in r.output
    assert not (tmp_path / "x.mp4").exists()


def test_untrained_band_says_how_to_train(material, tmp_path):
    audio, lyrics, images = material
    bands = tmp_path / "bands"
    create_band("fresh", audio, [lyrics], images, bands_dir=bands)
    r = run("render", "--band", "fresh", "--length", "20s", "-o", tmp_path / "x.mp4", "--bands-dir", bands)
    assert r.exit_code == 2
    assert "composer train --band fresh" in r.output
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("length", ["0s", "-3m", "ten minutes"])
def test_bad_length(length, tmp_path):
    r = run("render", "--band", "demo", "--length", length, "-o", tmp_path / "x.mp4")
    assert r.exit_code != 0 and "length" in r.output
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('name = "x"\nlyrics = []\nimages = "i"\n', "audio is required"),
        ('name = "x"\naudio = "a"\nlyrics = []\nimages = "i"\nflavour = 1\n', "unknown key 'flavour'"),
        ('name = "x"\naudio = "a"\nlyrics = []\nimages = "i"\nsample_rate = 44100\n', "allowed values are 16000"),
        (
            'name = "x"\naudio = "a"\nlyrics = []\nimages = "i"\n[models]\naudio_preset = "huge"\n',
            "[models] audio_preset = 'huge': allowed values are 'debug', 'demo', 'dadabots'",
        ),
        ('name = "x"\naudio = "a"\nlyrics = []\nimages = "i"\ntemplate = "pink"\n', 'allowed are "classic"'),
        ('name = "x"\naudio = 3\nlyrics = []\nimages = "i"\n', "audio = 3: must be a str"),
        ('name = "X Y"\naudio = "a"\nlyrics = []\nimages = "i"\n', "lowercase"),
        ('name = "x"\naudio = "a"\n[[[', "not valid TOML"),
        ('name = "x"\naudio = "a"\nlyrics = []\nimages = "i"\nvoices = "growl"\n', "voices = 'growl': must be a list"),
        (
            'name = "x"\naudio = "a"\nlyrics = []\nimages = "i"\nvoices = ["Growl"]\n',
            "each voice is a name of lowercase",
        ),
        ('name = "x"\naudio = "a"\nlyrics = []\nimages = "i"\nvoices = ["growl", "growl"]\n', "listed twice"),
    ],
)
def test_band_toml_errors_name_the_key(tmp_path, toml, needle):
    (tmp_path / "band.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ComposerError) as e:
        load_band(tmp_path)
    assert str(tmp_path / "band.toml") in str(e.value) and needle in str(e.value)


def test_create_refuses_folder_without_audio(material, tmp_path):
    _, lyrics, images = material
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ComposerError, match="no audio files"):
        create_band("x", empty, [lyrics], images, bands_dir=tmp_path / "bands")
    assert not (tmp_path / "bands" / "x").exists()
