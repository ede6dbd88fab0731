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
        self._fingerprint: dict[str, str] | None = None  # asked with the step's confirmation
        self._seal_notice = ""  # why the bag serial is asked again

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
        args: dict[str, Any] = {"facts": facts}
        if self._fingerprint is not None and self._fingerprint["step"] == step.id:
            args["fingerprint"] = self._fingerprint  # one question: the words and the summary
        self._fingerprint = None
        return bool(self._ask(Question("confirm", step, args)))

    def confirm_fingerprint(self, step: Step, what: str, hex_digest: str, words: str) -> bool:
        fingerprint = {"step": step.id, "what": what, "hex": hex_digest, "words": words}
        if step.event:
            # The step's own confirmation follows at once (its event needs it): the wizard asks
            # both there, with the words and the step's summary, instead of the same question
            # twice. "They differ" then stops the ceremony before the event, as a No here would.
            self._fingerprint = fingerprint
            return True
        q = Question("fingerprint", step, fingerprint)
        return bool(self._ask(q))

    def bag_serial(self, attempt: int, second: bool) -> str:
        q = Question("bag_serial", None, {"attempt": attempt, "second": second})
        if not second and self._seal_notice:  # why it is asked again, next to the field
            q.error = self._seal_notice[:1].upper() + self._seal_notice[1:] + "."
            self._seal_notice = ""
        return str(self._ask(q))

    def exception(self, step_id: str, expected: str, happened: str) -> str:
        q = Question(
            "exception", None, {"step_id": step_id, "expected": expected, "happened": happened}
        )
        return str(self._ask(q))

    def progress(self, step: Step, done: int, total: int) -> None:
        self.signals.progressed.emit(step, done, total)

    def info(self, step: Step, text: str, facts: dict[str, Any] | None = None) -> None:
        if step.id == "seal" and not facts:
            # "the two bag serials differ": shown as the bag serial field's error, styled as
            # every refusal is, not as a line of the step's results far from the field.
            self._seal_notice = text
            return
        self.signals.informed.emit(step, text, facts or {})

    def cancelled(self) -> bool:
        return self._cancelled()
