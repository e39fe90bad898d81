"""The one exception type users see: its message is a single line naming the file and what is wrong."""


class ComposerError(Exception):
    """Bad input or an unrecoverable condition; the CLI prints ``error: <message>`` and exits non-zero."""

    def __init__(self, message: str, *, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, systemd, timeout) as an interrupt, so it unwinds exactly like Ctrl-C: temporary
    files removed, ffmpeg and worker processes stopped."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C. Not the built-in KeyboardInterrupt itself: CPython 3.11 marks a bare KeyboardInterrupt raised
    inside ``exec`` of a string (dataclasses and torch do that while importing) as unhandled even after it is
    caught, and then kills the process with SIGINT on exit instead of the 130 the clean-up chose."""
