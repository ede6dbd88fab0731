"""The Qt implementation of `ceremony.handler.CeremonyHandler`.

`Ceremony.run` runs on the facility home's thread (the ledger's SQLCipher connection lives
there). Each question to the officers is emitted as a `Question` over a queued signal to the
wizard on the UI thread, and the ceremony thread waits for the answer, polling for cancel. No
widget is touched from the ceremony thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from ceremony.errors import CeremonyCancelled
from ceremony.handler import CeremonyHandler
from ceremony.steps import Step


@dataclass
class Question:
    kind: str  # credentials | confirm | fingerprint | bag_serial | exception
    step: Step | None
    args: dict[str, Any] = field(default_factory=dict)
    answer: Any = None
    error: str = ""
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def reply(self, value: Any) -> None:
        self.answer = value
        self._done.set()


class CeremonySignals(QObject):
    """Made on the UI thread; emitting from the ceremony thread queues to the UI's slots."""

    asked = Signal(object)  # Question
    progressed = Signal(object, object, object)  # step, done, total
    informed = Signal(object, str, object)  # step, text, facts


class QtCeremonyHandler(CeremonyHandler):
    def __init__(
        self,
        cancelled: Callable[[], bool],
        check_officer: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.signals = CeremonySignals()
        self._cancelled = cancelled
        # Called on the ceremony thread (the home's): a wrong passphrase is asked again
        # instead of failing the ceremony at its first signed event.
        self.check_officer = check_officer

    def _ask(self, q: Question) -> Any:
        self.signals.asked.emit(q)
        while not q._done.wait(0.1):
            if self._cancelled():
                raise CeremonyCancelled("the ceremony was cancelled at the station")
        return q.answer

    # -- CeremonyHandler --------------------------------------------------------------------
    def officer_credentials(self, index: int, exclude: Sequence[str]) -> tuple[str, str]:
        error = ""
        while True:
            q = Question("credentials", None, {"index": index, "exclude": list(exclude)})
            q.error = error
            name, passphrase = self._ask(q)
            if name in exclude:
                error = f"{name} has already authenticated: the second officer must be another."
                continue
            if self.check_officer is not None and not self.check_officer(name, passphrase):
                error = f"Wrong passphrase for {name} (the refusal is recorded in the ledger)."
                continue
            return name, passphrase

    def confirm(self, step: Step, facts: dict[str, Any]) -> bool:
        return bool(self._ask(Question("confirm", step, {"facts": facts})))

    def confirm_fingerprint(self, step: Step, what: str, hex_digest: str, words: str) -> bool:
        q = Question("fingerprint", step, {"what": what, "hex": hex_digest, "words": words})
        return bool(self._ask(q))

    def bag_serial(self, attempt: int, second: bool) -> str:
        return str(self._ask(Question("bag_serial", None, {"attempt": attempt, "second": second})))

    def exception(self, step_id: str, expected: str, happened: str) -> str:
        q = Question(
            "exception", None, {"step_id": step_id, "expected": expected, "happened": happened}
        )
        return str(self._ask(q))

    def progress(self, step: Step, done: int, total: int) -> None:
        self.signals.progressed.emit(step, done, total)

    def info(self, step: Step, text: str, facts: dict[str, Any] | None = None) -> None:
        self.signals.informed.emit(step, text, facts or {})

    def cancelled(self) -> bool:
        return self._cancelled()
