"""What a station shows before any mode: the mode chooser, and a new practice facility's
passphrases (shown once).

Widgets only. `app.gui.main_window.MainWindow` puts the chooser in its stack, enables its buttons
once start-up (`app.gui.startup.bootstrap`) is done, and opens `FirstRunDialog` when that start-up
created a practice facility, never over the lock screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.install_settings import MODE_TITLES, MODES
from app.gui.widgets import PlainLabel, StatusBanner

if TYPE_CHECKING:
    from app.gui.facility import FirstRun

MODE_TEXT = {
    "ceremony": "Two officers generate a pad, write the customer USB and the facility copy, "
    "verify both, seal the USB and print the custody receipt.",
    "custody": "Pads and their custody history, consumption, the ledger's verification status, "
    "the event log, signed checkpoints, officers.",
    "workstation": "Insert the pad USB, connect to the facility router and ask the facility's AI "
    "over the one-time-pad link.",
}


class FirstRunDialog(QDialog):
    """Shows the practice officers' passphrases once."""

    def __init__(self, first: FirstRun, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Practice facility created")
        lay = QVBoxLayout(self)
        lay.addWidget(
            PlainLabel(
                f"A PRACTICE facility was created in {first.home}: a SoftHSM2 token, an "
                "encrypted ledger, two practice officers and a small practice pad. Each officer's "
                "passphrase is shown ONCE, here. Write them down now; they are not stored "
                "anywhere in clear.",
                self,
            )
        )
        text = "\n".join(f"{name}:  {pw}" for name, pw in first.passphrases.items())
        view = QPlainTextEdit(self)
        view.setReadOnly(True)
        view.setPlainText(text)
        f = view.font()
        f.setPointSize(f.pointSize() + 4)
        view.setFont(f)
        view.setMaximumHeight(90)
        lay.addWidget(view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("I have written them down")
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)


class ModeChooser(QWidget):
    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        title = PlainLabel("Red Door", self)
        f = title.font()
        f.setPointSize(f.pointSize() * 2)
        f.setBold(True)
        title.setFont(f)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        sub = PlainLabel("Choose what this station does now.", self)
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(sub)
        row = QHBoxLayout()
        row.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        for mode in MODES:
            col = QVBoxLayout()
            # "&" in a button's text marks a keyboard mnemonic; "&&" shows the character.
            b = QPushButton(MODE_TITLES[mode].replace("&", "&&"), self)
            b.setMinimumSize(220, 64)
            b.setObjectName(f"mode_{mode}")
            b.clicked.connect(lambda _=False, m=mode: self.chosen.emit(m))
            desc = PlainLabel(MODE_TEXT[mode], self)
            desc.setMaximumWidth(260)
            col.addWidget(b)
            col.addWidget(desc)
            col.addStretch(1)
            row.addLayout(col)
            self.buttons[mode] = b
        row.addStretch(1)
        lay.addLayout(row)
        self.status = StatusBanner(self)
        lay.addWidget(self.status)
        lay.addStretch(2)
