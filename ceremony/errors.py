"""Errors the ceremony reports to a user.

Every class subclasses `custody.errors.RedDoorError`, so the CLI maps each to one line and an
exit code and the GUI to a dialog. Messages name sources, tests, paths and counts; never pad
bytes or any other secret, and never the sample values that made a health test fail.
"""

from __future__ import annotations

from custody.errors import RedDoorError


class CeremonyError(RedDoorError):
    """Base of every error raised by the ceremony package."""

    exit_code = 30


class EntropySourceError(CeremonyError):
    """An entropy source cannot be opened or read (missing device, permission, short read)."""

    exit_code = 31


class EntropyPolicyError(CeremonyError):
    """The chosen sources are not allowed here (OS CSPRNG alone outside practice, test doubles,
    regular files, sources that are not independent of each other)."""

    exit_code = 32


class HealthTestFailure(CeremonyError):
    """A NIST SP 800-90B health test failed on a raw source.

    Carries the source's name, the test's name and the sample index (counted from the first
    sample read from that source), never any sample value.
    """

    exit_code = 33

    def __init__(self, source: str, test: str, sample_index: int, detail: str = "") -> None:
        message = f"health test failed: {test} on source {source} at sample {sample_index:,}"
        if detail:
            message += f" ({detail})"
        message += "; the ceremony stops and everything generated is discarded"
        super().__init__(message)
        self.source = source
        self.test = test
        self.sample_index = sample_index


class CeremonyCancelled(CeremonyError):
    """An officer cancelled long-running work; what it produced has been discarded."""

    exit_code = 34
