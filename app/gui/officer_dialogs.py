"""Officer dialogs: two officers approve an action; one officer unlocks the kiosk.

`TwoOfficerDialog` is what every two-person action uses (officer retirement, custody transfer,
the ceremony's authentication): each officer picks their own name and types their own
passphrase; the same officer twice is refused on screen before anything is sent. The action
itself (which checks the passphrases through `custody.ledger.officers`, and records refusals in the
ledger) runs on a worker; its error is shown in the dialog, which stays open for another try.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.gui.widgets import PlainLabel, describe, error_label, error_text, ok_cancel_buttons
from app.gui.workers import WorkerRunner

Approvers = list[tuple[str, str]]


def passphrase_edit(parent: QWidget) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
    edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)  # no copy/paste of secrets
    return edit


class TwoOfficerDialog(QDialog):
    def __init__(
        self,
        runner: WorkerRunner,
        title: str,
        description: str,
        officer_names: Sequence[str],
        action: Callable[[Approvers], Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self.runner = runner
        self.action = action
        self.result_value: Any = None
        self.approvers: Approvers = []
        lay = QVBoxLayout(self)
        lay.addWidget(PlainLabel(description, self))
        self.names: list[QComboBox] = []
        self.passphrases: list[QLineEdit] = []
        for i, label in enumerate(("Officer A", "Officer B")):
            box = QGroupBox(f"{label}: your name and your own passphrase", self)
            form = QFormLayout(box)
            combo = QComboBox(box)
            combo.addItems(list(officer_names))
            if len(officer_names) > i:
                combo.setCurrentIndex(i)
            pw = passphrase_edit(box)
            pw.setObjectName(f"passphrase{i}")
            describe(combo, f"{label}'s name", f"{label} chooses their own name.")
            describe(pw, f"{label}'s passphrase", f"{label} types their own passphrase.")
            form.addRow("Officer", combo)
            form.addRow("Passphrase", pw)
            self.names.append(combo)
            self.passphrases.append(pw)
            lay.addWidget(box)
        self.error = error_label(self)
        lay.addWidget(self.error)
        self.buttons = ok_cancel_buttons(self, self.try_accept, "&Approve")
        lay.addWidget(self.buttons)
        self.for_names(officer_names)

    def for_names(self, names: Sequence[str]) -> None:
        if len(names) < 2:
            self.error.setText("Two enrolled officers are needed for this action.")
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)

    def set_officer(self, i: int, name: str, passphrase: str) -> None:
        """For tests and scripted practice runs."""
        self.names[i].setCurrentText(name)
        self.passphrases[i].setText(passphrase)

    def validate(self) -> str | None:
        names = [c.currentText().strip() for c in self.names]
        if not all(names):
            return "Both officers must choose their name."
        if names[0] == names[1]:
            return (
                f"The same officer ({names[0]}) cannot count twice: two different officers "
                "must each type their own passphrase."
            )
        if not all(p.text() for p in self.passphrases):
            return "Both officers must type their passphrase."
        return None

    def try_accept(self) -> None:
        problem = self.validate()
        if problem:
            self.error.setText(problem)
            return
        approvers = [
            (c.currentText().strip(), p.text())
            for c, p in zip(self.names, self.passphrases, strict=True)
        ]
        for p in self.passphrases:
            p.clear()
        if self.action is None:
            self.approvers = approvers
            self.accept()
            return
        self.error.setText("Checking both passphrases…")
        self.buttons.setEnabled(False)
        action = self.action
        task = self.runner.run(lambda w: action(approvers), "two-officer-action")
        task.finished.connect(self._done)
        task.failed.connect(self._failed)

    def _done(self, value: Any) -> None:
        self.result_value = value
        self.buttons.setEnabled(True)
        self.error.setText("")
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.error.setText(f"Refused: {error_text(exc)}")


class OfficerPassphraseDialog(QDialog):
    """One officer proves presence (kiosk exit or unlock). `verify(name, pw) -> bool` blocks."""

    def __init__(
        self,
        runner: WorkerRunner,
        title: str,
        description: str,
        officer_names: Sequence[str],
        verify: Callable[[str, str], bool],
        parent: QWidget | None = None,
        *,
        ask_name: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self.runner = runner
        self.verify = verify
        self.ask_name = ask_name
        lay = QVBoxLayout(self)
        lay.addWidget(PlainLabel(description, self))
        form = QFormLayout()
        self.name = QComboBox(self)
        self.name.setEditable(not officer_names)
        self.name.addItems(list(officer_names))
        self.passphrase = passphrase_edit(self)
        describe(self.name, "Officer", "The officer's own name.")
        describe(self.passphrase, "Passphrase", "The officer's own passphrase; Enter checks it.")
        if ask_name:
            form.addRow("Officer", self.name)
        else:  # the kiosk's own unlock passphrase: there is no officer to name
            self.name.hide()
        form.addRow("Passphrase", self.passphrase)
        lay.addLayout(form)
        self.error = error_label(self, None)
        lay.addWidget(self.error)
        self.buttons = ok_cancel_buttons(self, self.try_accept)
        lay.addWidget(self.buttons)

    def try_accept(self) -> None:
        name, pw = self.name.currentText().strip(), self.passphrase.text()
        self.passphrase.clear()
        if not self.ask_name:
            name = "kiosk"
        if not name or not pw:
            self.error.setText("Choose the officer and type the passphrase.")
            return
        self.buttons.setEnabled(False)
        self.error.setText("Checking…")
        verify = self.verify
        task = self.runner.run(lambda w: verify(name, pw), "officer-check")
        task.finished.connect(self._done)
        task.failed.connect(lambda e: self._done(False))

    def _done(self, ok: bool) -> None:
        self.buttons.setEnabled(True)
        if ok:
            self.accept()
        else:
            self.error.setText(
                "Refused: wrong officer or passphrase (the refusal is recorded)."
                if self.ask_name
                else "Refused: wrong kiosk unlock passphrase."
            )
