"""The questions a ceremony asks the people in the room: the `CeremonyHandler` interface.

The state machine (ceremony/state_machine.py) and the step work (ceremony/step_work.py) ask
through it; the CLI (app/cli/ceremony_commands.py) and the Qt wizard (app/gui/ceremony_handler.py)
implement it. Long work reports through `handler.progress` and polls `handler.cancelled()`. The
wizard runs `Ceremony.run` in its worker thread: the handler's methods are then called on that
thread and must marshal to the UI themselves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ceremony.steps import Step


class CeremonyHandler(ABC):
    """Questions from the ceremony to the people in the room (CLI and Qt implement this)."""

    @abstractmethod
    def officer_credentials(self, index: int, exclude: Sequence[str]) -> tuple[str, str]:
        """Officer `index` (0 = A, 1 = B): (name, passphrase). `exclude`: names already given."""

    @abstractmethod
    def confirm(self, step: Step, facts: dict[str, Any]) -> bool:
        """Both officers confirm `step.question` given `facts`; False cancels the ceremony."""

    def confirmed(self, step: Step, seq: int) -> None:  # noqa: B027 - optional
        """Both officers' approval of `step` succeeded and is recorded as event `seq`."""

    @abstractmethod
    def confirm_fingerprint(self, step: Step, what: str, hex_digest: str, words: str) -> bool:
        """Both officers read `words` aloud and agree they match what each sees."""

    @abstractmethod
    def bag_serial(self, attempt: int, second: bool) -> str:
        """The tamper-evident bag's serial, typed; called twice per attempt (second=True).
        Raise `ceremony.errors.CeremonyInputNeeded` when it cannot be asked: the ceremony
        stays resumable."""

    @abstractmethod
    def exception(self, step_id: str, expected: str, happened: str) -> str:
        """Something was not as expected; return the officers' decision (recorded, signed)."""

    def progress(self, step: Step, done: int, total: int) -> None:  # noqa: B027 - optional
        """Long work advanced (bytes)."""

    def info(self, step: Step, text: str, facts: dict[str, Any] | None = None) -> None:  # noqa: B027
        """Something the officers should see (rates, ETA, identities)."""

    def cancelled(self) -> bool:
        """Polled during long work; True stops the ceremony (as a fault: material zeroized)."""
        return False
