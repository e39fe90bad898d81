"""Frame sizes as users type them: one parser and one set of allowed values for --size and a job's size."""

from __future__ import annotations

import pytest

from composer.util.sizes import parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("720p", (1280, 720)), ("1080P", (1920, 1080)), (" portrait ", (1080, 1920)), ("4k", (3840, 2160))]
    + [("1280x720", (1280, 720)), ("128X4096", (128, 4096))],
)
def test_sizes_read(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["huge", "1280", "1281x720", "126x720", "4098x2160", "-1280x720", "1280x720x3", ""])
def test_bad_sizes_say_what_is_allowed(text):
    with pytest.raises(ValueError, match="even WIDTHxHEIGHT, 128 to 4096 a side, or one of 720p, 1080p"):
        parse_size(text)
