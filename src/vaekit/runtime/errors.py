"""User-facing errors.

Every error a user can cause by bad input is a ``VaekitError``: the CLI prints its message
(which names the problem and the fix) and exits non-zero, without a traceback.
"""

from __future__ import annotations

import os
import sys

#: the vaekit package's folder, as its modules' code objects name it: frames under it are the
#: library's, not the user's
_PACKAGE = os.path.dirname(os.path.dirname(__file__)) + os.sep


class VaekitError(Exception):
    """Base class of every error caused by user input rather than by a bug."""


class VaekitWarning(UserWarning):
    """Something the user should know but that does not stop the command (a config written by a
    newer vaekit, dataset files that match no published checksum); the CLI prints it as one
    ``warning:`` line."""


def user_stacklevel() -> int:
    """Return the ``stacklevel`` at which ``warnings.warn``, called by the caller of this
    function, names the first frame outside vaekit: the user's own call, however many vaekit
    functions lie between (``vaekit.train`` -> ``build_config``). Python's default filters show
    a ``DeprecationWarning`` only where that frame is the user's script (``__main__``)."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


class DataError(VaekitError, ValueError):
    """A dataset could not be read or failed validation (shape, NaN/inf, empty, bad cells)."""


class ConfigError(VaekitError, ValueError):
    """A configuration value or command-line option is invalid."""


class CheckpointError(VaekitError):
    """A run folder or checkpoint is missing, truncated, corrupted or inconsistent."""


class RunFolderError(VaekitError):
    """A run folder cannot be used as asked (e.g. not empty and ``--force`` not given)."""


class TrainingDivergedError(VaekitError):
    """The loss became NaN or infinite during training."""


class RunFolderLockedError(RunFolderError):
    """Another process holds the run folder's lock (it is training, resuming or writing)."""


class WriteError(VaekitError):
    """A file could not be written (the disk is full, or the folder is read-only)."""


class DiskFullError(WriteError):
    """The disk (or the user's quota) ran out of space while a file was written."""


class NotWritableError(WriteError):
    """A folder or file cannot be written: no permission, or a read-only file system."""


class DistributedError(VaekitError):
    """A process of a distributed run lost contact with the others (one died, hung or timed
    out), or the processes disagree about the run."""
