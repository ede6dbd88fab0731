"""Custody transfer from the custody view: who receives the sealed pad, the bag serial read off
the bag (typed twice), then both officers through the same `TwoOfficerDialog` as the ceremony.

The dialog never shows the serial recorded for the pad: the officers read the bag, and only the
approval that follows (their entry fixed) names both serials when they differ.

The check and the record are `custody.lifecycle`'s transfer (through `Facility`): a serial that
matches the one recorded at sealing (or at the last hand-over) records `custody.transferred`; a
serial that differs records a two-officer `custody.exception` (expected / found / decision) and
the pad is NOT handed over. There is no re-bag operation in the lifecycle: a bag re-sealed
under a new serial is exactly such an exception, to be investigated before anything moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.gui.style import set_role
from app.gui.widgets import PlainLabel, describe, error_label, ok_cancel_buttons

MAX_SERIAL = 64
MAX_NAME = 120


@dataclass(frozen=True)
class TransferRequest:
    pad_id: str
    pad_display: str
    to: str
    bag_serial: str
    recorded_serial: str
    decision: str | None = None

    @property
    def serial_differs(self) -> bool:
        return self.bag_serial != self.recorded_serial


@dataclass(frozen=True)
class TransferOutcome:
    """What the officers' approval led to: a transfer, or an exception record and no transfer."""

    done: bool
    seq: int | None
    message: str


def run_transfer(facility: Any, req: TransferRequest, approvers: list[tuple[str, str]]) -> Any:
    """Blocking (a worker calls it). A differing serial is an OUTCOME, not a refusal: the
    exception is already in the ledger, so the dialog must not invite a second try that would
    record a second one. Wrong passphrases and illegal steps still raise (nothing recorded but
    the refusal) and the officers' dialog stays open."""
    from custody.errors import BagSerialMismatch

    try:
        event = facility.transfer_custody(
            req.pad_id, req.to, req.bag_serial, approvers, decision=req.decision
        )
    except BagSerialMismatch as exc:
        return TransferOutcome(False, None, exc.message)
    return TransferOutcome(
        True,
        event.seq,
        f"Pad {req.pad_display} transferred to {req.to} (bag {req.bag_serial}); recorded as "
        f"event {event.seq}.",
    )


class TransferDialog(QDialog):
    """The facts of the hand-over. Accepting it opens the two-officer approval."""

    request_ready = Signal(object)

    def __init__(
        self, pad_id: str, pad_display: str, state: str, recorded_serial: str, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Transfer custody")
        self.setModal(True)
        self.pad_id, self.pad_display, self.recorded_serial = pad_id, pad_display, recorded_serial
        lay = QVBoxLayout(self)
        lay.addWidget(
            PlainLabel(
                f"Hand the sealed pad {pad_display} (now: {state}) to a courier or the customer. "
                "Read the serial off the bag itself and type it twice: the station checks it "
                "against the serial recorded at sealing, which it shows only after you typed "
                "yours (a read-back check). Two officers then approve, each with their own "
                "passphrase.",
                self,
            )
        )
        form = QFormLayout()
        self.to_edit = QLineEdit(self)
        self.to_edit.setMaxLength(MAX_NAME)
        self.to_edit.setPlaceholderText("courier or customer, as on the receipt")
        self.serial_edit = QLineEdit(self)
        self.serial_edit.setMaxLength(MAX_SERIAL)
        self.serial_again = QLineEdit(self)
        self.serial_again.setMaxLength(MAX_SERIAL)
        # Typed twice, never pasted: the second entry is a second reading of the bag.
        for e in (self.serial_edit, self.serial_again):
            e.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.decision_edit = QLineEdit(self)
        self.decision_edit.setPlaceholderText(
            "only if the serial differs: what the officers decided"
        )
        describe(self.to_edit, "Recipient", "Who receives the pad, as on the receipt.")
        describe(self.serial_edit, "Bag serial", "The serial read off the bag itself.")
        describe(self.serial_again, "Bag serial again", "A second reading of the bag's serial.")
        describe(self.decision_edit, "Decision", "Only if the serial differs: the decision.")
        form.addRow("Recipient", self.to_edit)
        form.addRow("Bag serial (read off the bag)", self.serial_edit)
        form.addRow("Bag serial again", self.serial_again)
        form.addRow("Decision if it differs", self.decision_edit)
        lay.addLayout(form)
        self.warning = PlainLabel("", self)
        set_role(self.warning, "warning")
        lay.addWidget(self.warning)
        self.error = error_label(self)
        lay.addWidget(self.error)
        self.buttons = ok_cancel_buttons(self, self.try_accept, "&Next: two officers…")
        lay.addWidget(self.buttons)
        self.serial_edit.textChanged.connect(self._check_serial)
        self.serial_again.textChanged.connect(self._check_serial)
        self.request: TransferRequest | None = None

    def _check_serial(self) -> None:
        first = self.serial_edit.text().strip()
        if first and self.recorded_serial and first != self.recorded_serial:
            self.warning.setText(
                "This serial differs from the one recorded for this pad: read the bag again. "
                "If it really differs and the officers approve, a custody EXCEPTION is "
                "recorded and the pad is NOT transferred: the bag is held unopened and "
                "investigated."
            )
        else:
            self.warning.setText("")

    def validate(self) -> str | None:
        to = self.to_edit.text().strip()
        first, second = self.serial_edit.text().strip(), self.serial_again.text().strip()
        if not to:
            return "Type who receives the pad."
        if not to.isprintable():
            return "The recipient's name must be printable text."
        if not first:
            return "Type the bag serial read off the bag."
        if first != second:
            return "The two bag serial entries differ: read the bag again and retype both."
        if not first.isprintable():
            return "The bag serial must be printable text."
        return None

    def try_accept(self) -> None:
        problem = self.validate()
        if problem:
            self.error.setText(problem)
            return
        decision = self.decision_edit.text().strip() or None
        self.request = TransferRequest(
            self.pad_id,
            self.pad_display,
            self.to_edit.text().strip(),
            self.serial_edit.text().strip(),
            self.recorded_serial,
            decision,
        )
        self.accept()
        self.request_ready.emit(self.request)
