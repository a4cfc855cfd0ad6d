"""The project's error types: each message names its culprit (file, histogram, branch, sample or key).

Every stage raises a subclass of :class:`SysawareError` for a problem it recognises (bad
config, bad input, a fit or a training that cannot go on).  The stage scripts turn any
failure into one line that names the culprit (:func:`sysaware.cli_util.setup`); the
traceback goes to the rule's log only.  This module imports nothing of the package, so
every layer can use it.
"""

from __future__ import annotations


class SysawareError(Exception):
    """An error whose message names what is wrong: a file, histogram, branch, sample or config key."""


class InputError(SysawareError, ValueError):
    """An input (file, histogram, event weight or feature) that cannot be used; the message names it."""
