"""User-facing errors. The CLI turns these into one line on stderr and exit code 2."""


class GenlabError(Exception):
    """A mistake the user can fix: the message names the bad value and the fix."""
