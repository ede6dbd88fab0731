"""Errors a user can act on.

Every error carries a one-line message fit for a terminal or a dialog and an exit code for the
CLI. Messages never contain secrets (pad bytes, keys, PINs, passphrases): fingerprints, paths,
offsets and sizes only.
"""

from __future__ import annotations


class RedDoorError(Exception):
    """Base of every error Red Door reports to a user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(RedDoorError):
    """The command was called wrongly (bad size, bad option value)."""

    exit_code = 2


class PadError(RedDoorError):
    """A pad directory cannot be used as asked."""

    exit_code = 3


class PadFormatError(PadError):
    """The manifest, journal or pad file is missing, truncated or corrupt."""


class PadInUseError(PadError):
    """Another process holds this pad copy."""


class PadRollbackError(PadError):
    """The journal (or manifest) is older than what this host or the medium has seen."""

    exit_code = 5


class PadExhaustedError(PadError):
    """The sending region has no room left for this message."""

    exit_code = 4


class StorageError(RedDoorError):
    """The medium refused a write (disk full, read-only, I/O error)."""

    exit_code = 6


class FrameRejected(RedDoorError):
    """A received frame was refused. `reason` is a stable machine-readable code."""

    exit_code = 7

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
