"""Templates: built-ins load and differ; bad files fail with one line naming file, key and what is allowed."""

from __future__ import annotations

import dataclasses

import pytest

from composer.errors import ComposerError
from composer.karaoke.template import Template, builtin_templates, load_template


def write(tmp_path, body: str, name: str = "x.toml"):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def error_of(path) -> str:
    with pytest.raises(ComposerError) as info:
        load_template(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_builtins_are_listed_and_load():
    assert builtin_templates() == ["classic", "gore", "void"]
    for name in builtin_templates():
        tpl = load_template(name)
        assert isinstance(tpl, Template)
        assert tpl.name == name
        assert tpl.description
        assert tpl.source == f"templates/{name}.toml"


def test_builtins_look_clearly_different():
    gore, void, classic = (load_template(n) for n in ("gore", "void", "classic"))
    assert gore.text.highlight_color != classic.text.highlight_color
    assert gore.text.stroke_width > classic.text.stroke_width > void.text.stroke_width
    assert gore.text.font == "black-ops-one" and gore.text.uppercase
    assert gore.background.tint_strength > 0 and gore.background.grain > 0
    assert void.background.saturation == 0.0
    assert classic.text.lines == 2
    # the expensive effects stay available, and each has a template that uses it
    assert gore.background.crossfade > 0
    assert any(load_template(n).background.ken_burns > 0 for n in builtin_templates())


def test_partial_file_takes_defaults_and_name_from_file(tmp_path):
    tpl = load_template(write(tmp_path, '[text]\nhighlight = "word"\n', "mine.toml"))
    assert tpl.name == "mine"
    assert tpl.text.highlight == "word"
    assert tpl.video == Template().video


def test_portrait_and_720p_resolutions(tmp_path):
    tpl = load_template(write(tmp_path, "[video]\nwidth = 1080\nheight = 1920\nfps = 25\n"))
    assert tpl.size == (1080, 1920) and tpl.video.fps == 25
    assert load_template(write(tmp_path, "[video]\nwidth = 1280\nheight = 720\n")).size == (1280, 720)


def test_unknown_key_names_file_section_and_allowed_keys(tmp_path):
    path = write(tmp_path, '[text]\ncolour = "#ffffff"\n')
    message = error_of(path)
    assert str(path) in message
    assert "[text]" in message and "'colour'" in message
    assert "color" in message and "highlight_color" in message


def test_unknown_table(tmp_path):
    message = error_of(write(tmp_path, "[sparkles]\nx = 1\n"))
    assert "sparkles" in message and "[text]" in message


def test_bad_enum_lists_allowed_values(tmp_path):
    path = write(tmp_path, '[text]\nhighlight = "glow"\n')
    assert error_of(path) == (f'{path}: [text] highlight = "glow": allowed values are "word", "syllable", "smooth"')


def test_bad_colour(tmp_path):
    message = error_of(write(tmp_path, '[text]\nhighlight_color = "red"\n'))
    assert 'highlight_color = "red"' in message and "#rrggbb" in message


def test_bad_resolution(tmp_path):
    odd = error_of(write(tmp_path, "[video]\nwidth = 1281\n"))
    assert "[video] width = 1281" in odd and "even" in odd and "128" in odd and "4096" in odd
    huge = error_of(write(tmp_path, "[video]\nheight = 10000\n"))
    assert "height = 10000" in huge and "4096" in huge


def test_out_of_range_and_wrong_type(tmp_path):
    assert "allowed range is 1 to 4" in error_of(write(tmp_path, "[text]\nlines = 7\n"))
    assert "expected true or false" in error_of(write(tmp_path, '[text]\nuppercase = "yes"\n'))
    assert "expected a number" in error_of(write(tmp_path, '[background]\ngrain = "lots"\n'))
    fonts = error_of(write(tmp_path, '[text]\nfont = "/usr/share/fonts/x.ttf"\n'))
    assert '"anton"' in fonts and '"default"' in fonts


def test_invalid_toml_and_missing_files(tmp_path):
    assert "invalid TOML" in error_of(write(tmp_path, "[text\n"))
    assert "not found" in error_of(tmp_path / "nope.toml")
    with pytest.raises(ComposerError, match="built-in templates are classic, gore, void"):
        load_template("nosuch")


def test_replace_validates_dict_changes_and_keeps_the_file_name():
    gore = load_template("gore")
    small = gore.replace(video={"width": 1280, "height": 720}, text={"highlight": "word"})
    assert small.size == (1280, 720) and small.text.highlight == "word"
    assert small.text.font == gore.text.font  # untouched keys kept
    with pytest.raises(ComposerError, match=r"templates/gore.toml: \[text\] highlight = \"glow\""):
        gore.replace(text={"highlight": "glow"})
    # plain dataclasses.replace works too
    assert dataclasses.replace(gore, name="other").name == "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        gore.name = "x"  # type: ignore[misc]


def test_convenience_properties_and_ass_style():
    gore = load_template("gore")
    assert (gore.width, gore.height, gore.fps) == (1920, 1080, 30)
    assert gore.ass_style() == {
        "width": 1920,
        "height": 1080,
        "font": "Black Ops One",
        "primary": gore.text.color,
        "highlight": gore.text.highlight_color,
        # gore's two voices: the growler as [text], the screamer pale blue filling yellow
        "voices": {"growl": ("#e8ddd0", "#d00000", "bottom"), "scream": ("#c9d6e3", "#f0c000", "bottom")},
    }
    assert "voices" not in load_template("gore").replace(voices={}).ass_style()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[title]\nlayout = "side"\n', '[title] layout = "side": allowed values are "share", "corner", "yield"'),
        ('[end]\ntext = "{bnd} - {title}"\n', '[end] text = "{bnd} - {title}": unknown placeholder {bnd}'),
        ("[end]\nseconds = 0\n", "[end] seconds = 0: allowed range is 0.5 to 60"),
        ('[title]\nband_color = "grey"\n', '[title] band_color = "grey": expected a hex colour'),
        ('[voices.growl]\ncolour = "#ffffff"\n', "[voices.growl] unknown key 'colour': allowed keys are color"),
        ('[voices.growl]\ncolor = "green"\n', '[voices.growl] color = "green": expected a hex colour'),
        ('[voices.growl]\nposition = "left"\n', '[voices.growl] position = "left": allowed values are "bottom"'),
        ('[voices.Growl]\ncolor = "#ffffff"\n', "[voices.Growl]: a voice name is lowercase letters"),
        ('voices = "growl"\n', "voices must be tables [voices.NAME]"),
    ],
)
def test_bad_card_and_voice_keys_give_one_line_naming_the_key(tmp_path, body, expected):
    path = write(tmp_path, body)
    message = error_of(path)
    assert expected in message and message.startswith(str(path)) and "\n" not in message
