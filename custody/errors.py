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


class InputTooLarge(UsageError):
    """A file or stream is larger than its documented limit (docs/architecture.md "Input
    limits"), or cannot be one (a device or FIFO where a file is needed)."""


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


class HsmError(RedDoorError):
    """The HSM (PKCS#11 module, token or key) cannot be used as asked."""

    exit_code = 8


class HsmModuleMissing(HsmError):
    """The PKCS#11 module (shared library) cannot be loaded."""


class HsmTokenMissing(HsmError):
    """No token with the configured label is present."""


class HsmPinIncorrect(HsmError):
    """The token refused the PIN (wrong, locked or not initialised)."""


class HsmKeyMissing(HsmError):
    """No key with the expected label is on the token."""


class HomeError(RedDoorError):
    """The facility home is missing, incomplete or already initialised."""

    exit_code = 9


class LedgerError(RedDoorError):
    """The custody ledger cannot be opened or written."""

    exit_code = 9


class LedgerKeyError(LedgerError):
    """The ledger database did not open with the key given (wrong key, or not a ledger)."""


class LedgerIntegrityError(LedgerError):
    """The ledger does not verify: an event, the chain, the tree or a checkpoint is wrong."""

    exit_code = 10


class ProofError(RedDoorError):
    """A checkpoint or proof file is malformed or does not verify."""

    exit_code = 10


class ApprovalRefused(RedDoorError):
    """A two-officer approval was refused. `reason` is a stable machine-readable code."""

    exit_code = 11

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class OfficerError(RedDoorError):
    """An officer cannot be enrolled, found or retired as asked."""

    exit_code = 11


# -- the Zenoh link (issue 5) ---------------------------------------------------------------------
class LinkError(RedDoorError):
    """The OTP link cannot do what was asked (router, gateway, answer)."""

    exit_code = 20


class RouterUnreachableError(LinkError):
    """No Zenoh router answers at the configured endpoint."""

    exit_code = 21


class GatewayDownError(LinkError):
    """No facility gateway announces itself on the link."""

    exit_code = 22


class WrongPadError(LinkError):
    """A gateway is up but does not serve this pad (or the copy is the wrong side)."""

    exit_code = 23


class NoAnswerError(LinkError):
    """The facility did not answer within the configured wait."""

    exit_code = 24


class BackendError(LinkError):
    """The AI backend failed (gateway side), or the facility reported that it failed."""

    exit_code = 25


class AnswerInterruptedError(LinkError):
    """An answer began but stopped arriving, or the facility lost it in a restart."""

    exit_code = 26


class FacilityPadExhaustedError(PadExhaustedError):
    """The facility sent a pad-exhausted frame: its facility→workstation region ran out."""


# -- the ceremony's custody parts (issue 4) -------------------------------------------------------
class OperationCancelled(RedDoorError):
    """An officer cancelled long-running custody work (vault write, verification)."""

    exit_code = 34


class MediumError(RedDoorError):
    """The customer medium cannot take the pad (too small, holds a pad, not removable)."""

    exit_code = 35


# -- custody lifecycle and reports (issue 6) ------------------------------------------------------
class LifecycleError(RedDoorError):
    """A pad's custody cannot change as asked (unknown pad, wrong home, missing copy)."""

    exit_code = 50


class IllegalTransition(LifecycleError):
    """The pad's state (derived from the ledger) does not allow this step."""

    exit_code = 51


class BagSerialMismatch(LifecycleError):
    """The bag (or medium) serial found differs from the one recorded; an exception was opened."""

    exit_code = 52


class AlreadyDestroyed(LifecycleError):
    """This copy of the pad was already destroyed (the ledger names the event)."""

    exit_code = 53


class DestructionNotVerified(LifecycleError):
    """Destruction ran but its check failed (the key is still listed, or a chunk decrypts)."""

    exit_code = 54


class ReconcileOverlap(LifecycleError):
    """Reconciliation found pad ranges used twice: the one-time rule was broken."""

    exit_code = 55


class ReconcileDiscrepancy(LifecycleError):
    """Reconciliation found ranges used by one side and never seen by the other."""

    exit_code = 56
