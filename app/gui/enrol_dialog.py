"""Officer enrolment from the custody view's Officers tab.

`EnrolDialog` asks for the new officer's name, role and own passphrase (typed twice, by the new
officer, never pasted). What follows is `custody.ledger.officer_rules`' rule, asked of the home
(`Facility.enrolment_path`): one of the first two officers (the genesis pair) enrols alone;
every later one needs two active officers, each with their own passphrase, in the same
`TwoOfficerDialog` as every two-person action; with one officer left, enrolment is a recovery
that needs the HSM Security Officer PIN, which only the command line does (`reddoor officer
recover`, docs/ledger.md "Recovery"). The enrolment itself runs on a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.gui.facility import Facility
from app.gui.officer_dialogs import TwoOfficerDialog, passphrase_edit
from app.gui.widgets import PlainLabel, error_label, error_text, ok_cancel_buttons
from app.gui.workers import WorkerRunner
from custody.ledger.officer_rules import ROLES
from custody.ledger.officers import MIN_PASSPHRASE_CHARS, NAME_PATTERN


@dataclass(frozen=True)
class EnrolRequest:
    name: str
    role: str
    passphrase: str = field(repr=False)  # never in a log line or an error


class EnrolDialog(QDialog):
    """The new officer's name, role and passphrase. Accepting it emits `request_ready`."""

    request_ready = Signal(object)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Enrol an officer")
        self.setModal(True)
        lay = QVBoxLayout(self)
        lay.addWidget(
            PlainLabel(
                "The new officer types their own passphrase, twice (at least "
                f"{MIN_PASSPHRASE_CHARS} characters; everyone else looks away). It unlocks "
                "their signing key and is never stored. After the first two officers, two "
                "active officers approve the enrolment, each with their own passphrase.",
                self,
            )
        )
        form = QFormLayout()
        self.name_edit = QLineEdit(self)
        self.name_edit.setMaxLength(64)
        self.role_combo = QComboBox(self)
        self.role_combo.addItems(list(ROLES))
        self.pass_edit = passphrase_edit(self)
        self.pass_again = passphrase_edit(self)
        form.addRow("Name", self.name_edit)
        form.addRow("Role", self.role_combo)
        form.addRow("Passphrase", self.pass_edit)
        form.addRow("Passphrase again", self.pass_again)
        lay.addLayout(form)
        self.error = error_label(self)
        lay.addWidget(self.error)
        self.buttons = ok_cancel_buttons(self, self.try_accept, "Next…")
        lay.addWidget(self.buttons)

    def validate(self) -> str | None:
        name = self.name_edit.text().strip()
        if not NAME_PATTERN.match(name):
            return (
                "A name is 1 to 64 letters, digits, spaces or . _ ' @ - and starts with a "
                "letter or digit."
            )
        if len(self.pass_edit.text()) < MIN_PASSPHRASE_CHARS:
            return f"The passphrase needs at least {MIN_PASSPHRASE_CHARS} characters."
        if self.pass_edit.text() != self.pass_again.text():
            return "The two passphrase entries differ: type both again."
        return None

    def try_accept(self) -> None:
        problem = self.validate()
        if problem:
            self.error.setText(problem)
            self.pass_edit.clear()
            self.pass_again.clear()
            return
        request = EnrolRequest(
            self.name_edit.text().strip(), self.role_combo.currentText(), self.pass_edit.text()
        )
        self.pass_edit.clear()
        self.pass_again.clear()
        self.accept()
        self.request_ready.emit(request)


class Enrolment:
    """One enrolment, from the dialog to the ledger event. `dialog` is the one open now
    (tests drive it); `done(event)` and `message(level, text)` report the outcome."""

    def __init__(
        self,
        runner: WorkerRunner,
        facility: Facility,
        officer_names: Sequence[str],
        parent: QWidget,
        *,
        done: Callable[[Any], None],
        message: Callable[[str, str], None],
    ) -> None:
        self.runner = runner
        self.facility = facility
        self.officer_names = list(officer_names)
        self.parent = parent
        self.done = done
        self.message = message
        first = EnrolDialog(parent)
        first.request_ready.connect(self._route)
        first.open()
        self.dialog: QDialog = first

    def _route(self, req: EnrolRequest) -> None:
        facility = self.facility
        task = self.runner.run(lambda w: facility.enrolment_path(), "enrolment-path")
        task.finished.connect(lambda path: self._enrol(req, path))
        task.failed.connect(lambda e: self.message("error", error_text(e)))

    def _enrol(self, req: EnrolRequest, path: str | None) -> None:
        facility = self.facility
        if path == "bootstrap":  # one of the first two officers: enrols alone
            task = self.runner.run(
                lambda w: facility.enrol_officer(req.name, req.passphrase, req.role, []),
                "officer-enrol",
            )
            task.finished.connect(self.done)
            task.failed.connect(
                lambda e: self.message("error", f"Enrolment refused: {error_text(e)}")
            )
            return
        if path != "approved":
            self.message(
                "warn",
                "Only one active officer remains (or none): enrolling another is a recovery "
                "that needs that officer and the HSM Security Officer PIN. Use "
                "reddoor officer recover (docs/ledger.md, Recovery).",
            )
            return
        dlg = TwoOfficerDialog(
            self.runner,
            "Approve the enrolment",
            f"Enrol {req.name} as {req.role}? Two active officers approve, each with their "
            "own passphrase.",
            self.officer_names,
            action=lambda approvers: facility.enrol_officer(
                req.name, req.passphrase, req.role, approvers
            ),
            parent=self.parent,
        )
        dlg.accepted.connect(lambda: self.done(dlg.result_value))
        dlg.open()
        self.dialog = dlg
