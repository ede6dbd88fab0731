"""The box in which the ceremony station asks the officers what the state machine asks.

Widgets only. `app.gui.ceremony_wizard.CeremonyStation` receives each `Question` from
`QtCeremonyHandler` and shows it here (`show_question`): an officer's name and passphrase, a
confirmation, the fingerprint check, the bag serial, an exception's decision. When the officers
press a button the station reads their answer back (`read_answer`) and replies to the question.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.ceremony_handler import Question
from app.gui.widgets import PlainLabel, describe, error_label


class OfficerPrompt(QGroupBox):
    """The question, its inputs and its two buttons. Hidden until a question comes."""

    answered = Signal(bool)  # a button or Enter: yes (True) or no (False)

    def __init__(self, parent: QWidget) -> None:
        super().__init__("", parent)
        lay = QVBoxLayout(self)
        self.prompt_text = PlainLabel("", self)
        self.prompt_text.setObjectName("promptText")  # large-text mode (app.gui.text_size)
        f = self.prompt_text.font()
        f.setBold(True)
        self.prompt_text.setFont(f)
        self.prompt_error = error_label(self, None)
        self.form = form = QFormLayout()
        self.officer_combo = QComboBox(self)
        self.officer_combo.setEditable(True)
        self.passphrase_edit = QLineEdit(self)
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.text_edit = QLineEdit(self)
        describe(self.officer_combo, "Officer", "The name of the officer authenticating now.")
        describe(
            self.passphrase_edit, "Passphrase", "The officer's own passphrase; Enter confirms."
        )
        describe(self.text_edit, "Answer", "What the step asks for; Enter confirms.")
        officer_label = QLabel("O&fficer", self)
        officer_label.setBuddy(self.officer_combo)
        passphrase_label = QLabel("Pass&phrase", self)
        passphrase_label.setBuddy(self.passphrase_edit)
        form.addRow(officer_label, self.officer_combo)
        form.addRow(passphrase_label, self.passphrase_edit)
        form.addRow("", self.text_edit)
        self.prompt_form_labels = (officer_label, passphrase_label)
        lay.addWidget(self.prompt_text)
        lay.addLayout(form)
        lay.addWidget(self.prompt_error)
        row = QHBoxLayout()
        # Enter on the focused "yes" goes on (the safe answer); "no" stops the ceremony and
        # is never the default.
        self.yes_button = QPushButton("&Confirm", self)
        self.yes_button.setDefault(True)
        self.yes_button.clicked.connect(lambda: self.answered.emit(True))
        self.no_button = QPushButton("&No — stop", self)
        self.no_button.clicked.connect(lambda: self.answered.emit(False))
        row.addStretch(1)
        row.addWidget(self.no_button)
        row.addWidget(self.yes_button)
        lay.addLayout(row)
        self.passphrase_edit.returnPressed.connect(lambda: self.answered.emit(True))
        self.text_edit.returnPressed.connect(lambda: self.answered.emit(True))
        self.hide()

    def _refuse(self, text: str) -> None:
        self.prompt_error.setText(text)
        self.prompt_error.show()

    def _show_text_row(self, on: bool) -> None:
        """The text answer's row, label and all: hidden, it leaves no gap."""
        self.form.setRowVisible(self.text_edit, on)

    def _show_form_labels(self, on: bool) -> None:
        """The officer's name and passphrase rows, labels and all."""
        for field in (self.officer_combo, self.passphrase_edit):
            self.form.setRowVisible(field, on)

    def show_question(self, q: Question, names: list[str]) -> None:
        """Set the box up for `q` and show it; `names` are the officers a credentials question
        may choose from."""
        self.prompt_error.setText(q.error)
        self.prompt_error.setVisible(bool(q.error))
        self.yes_button.setEnabled(True)
        self._show_text_row(False)
        self._show_form_labels(False)
        self.no_button.show()
        self.yes_button.setText("&Confirm")
        self.no_button.setText("&No — stop")
        focus = self.yes_button
        if q.kind == "credentials":
            index = int(q.args["index"])
            who = "A" if index == 0 else "B"
            self.setTitle(f"Officer {who} authenticates")
            self.prompt_text.setText(
                f"Officer {who}: choose your name and type your own passphrase. The other "
                "officer looks away."
            )
            self.officer_combo.clear()
            self.officer_combo.addItems(names)
            self._show_form_labels(True)
            focus = self.passphrase_edit
            self.no_button.hide()
            self.yes_button.setText("&Authenticate")
        elif q.kind == "confirm" and q.args.get("fingerprint"):
            self.setTitle("Read the fingerprint aloud")
            self.prompt_text.setText(
                f"Officer A reads the {q.args['fingerprint']['what']} words aloud; officer B "
                "checks them on the screen. Do both read the same words? (The step's results "
                "are below.)"
            )
            self.yes_button.setText("&The words match")
            self.no_button.setText("They differ — st&op")
        elif q.kind == "confirm":
            assert q.step is not None
            self.setTitle("Both officers confirm")
            self.prompt_text.setText(q.step.question)
        elif q.kind == "fingerprint":
            self.setTitle("Read the fingerprint aloud")
            self.prompt_text.setText(
                f"Officer A reads the {q.args['what']} words aloud; officer B checks them on "
                "the screen. Do both read the same words?"
            )
            self.yes_button.setText("&The words match")
            self.no_button.setText("They differ — st&op")
        elif q.kind == "bag_serial":
            second = bool(q.args["second"])
            self.setTitle("Tamper-evident bag serial")
            self.prompt_text.setText(
                "Type the bag serial again (it must match)."
                if second
                else "Officer A reads the bag serial aloud; officer B types it."
            )
            self.text_edit.clear()
            self._show_text_row(True)
            focus = self.text_edit
            self.no_button.hide()
            self.yes_button.setText("&Enter")
        elif q.kind == "exception":
            self.setTitle("Exception: both officers decide")
            self.prompt_text.setText(
                f"Expected: {q.args['expected']}\nWhat happened: {q.args['happened']}\n"
                "Type the decision (it is recorded and signed by both officers)."
            )
            self.text_edit.setText("resume")
            self._show_text_row(True)
            focus = self.text_edit
            self.no_button.hide()
            self.yes_button.setText("&Record decision")
        self.yes_button.setAccessibleDescription("Answers yes and goes on (Enter).")
        self.no_button.setAccessibleDescription("Answers no: the ceremony stops.")
        self.show()
        focus.setFocus(Qt.FocusReason.OtherFocusReason)

    def read_answer(self, q: Question, yes: bool) -> tuple[bool, Any]:
        """(True, the answer to `q`) from the inputs, which are cleared; (False, None) with the
        reason shown in the box when the answer is incomplete or refused."""
        if yes and not self.yes_button.isEnabled():  # e.g. step 10 without its receipt
            return False, None
        if q.kind == "credentials":
            name = self.officer_combo.currentText().strip()
            pw = self.passphrase_edit.text()
            if not name or not pw:
                self._refuse("Choose the officer and type the passphrase.")
                return False, None
            if name in q.args.get("exclude", []):
                self._refuse(
                    f"{name} has already authenticated: the same officer cannot count twice."
                )
                return False, None
            self.passphrase_edit.clear()
            return True, (name, pw)
        if q.kind in ("bag_serial", "exception"):
            value = self.text_edit.text()
            self.text_edit.clear()
            return True, value
        return True, yes
