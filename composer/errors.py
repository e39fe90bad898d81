"""The one exception type users see: its message is a single line naming the file and what is wrong."""

import unicodedata

# besides the C0/C1 controls: the line and paragraph separators, and the bidi embeddings, overrides and isolates
# that would show the rest of a line in another order
_SHOWN_ESCAPED = set("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def escape_controls(text: str) -> str:
    """``text`` with each control character written as Python writes it in a string (``\\n``, ``\\x1b``,
    ``\\u202e``): a file name holding a newline (``-o $'n\\nl.mp4'``) stays on the one line that names it."""
    if text.isprintable():  # the usual case, in one C pass
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) == "Cc" or ch in _SHOWN_ESCAPED else ch
        for ch in text
    )


class ComposerError(Exception):
    """Bad input or an unrecoverable condition; the CLI prints ``error: <message>`` and exits non-zero.

    The message is kept to one line whatever paths or names were formatted into it: control characters are
    shown escaped (``escape_controls``)."""

    def __init__(self, message: str, *, exit_code: int = 2):
        super().__init__(escape_controls(message))
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, systemd, timeout) as an interrupt, so it unwinds exactly like Ctrl-C: temporary
    files removed, ffmpeg and worker processes stopped."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C. Not the built-in KeyboardInterrupt itself: CPython 3.11 marks a bare KeyboardInterrupt raised
    inside ``exec`` of a string (dataclasses and torch do that while importing) as unhandled even after it is
    caught, and then kills the process with SIGINT on exit instead of the 130 the clean-up chose."""
