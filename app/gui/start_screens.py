"""What a station shows before any mode: the mode chooser, and a new practice facility's
passphrases (shown once).

Widgets only. `app.gui.main_window.MainWindow` puts the chooser in its stack, enables its buttons
once start-up (`app.gui.startup.bootstrap`) is done, and opens `FirstRunDialog` when that start-up
created a practice facility, never over the lock screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.install_settings import MODE_TITLES, MODES
from app.gui.screen_fit import place_dialog
from app.gui.style import set_role
from app.gui.widgets import ElidedLabel, PlainLabel, StatusBanner, svg_pixmap

if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrintDialog

    from app.gui.facility import FirstRun

# One line each, under the station's name on its card.
MODE_TEXT = {
    "ceremony": "Two officers make a pad, write both copies, seal the USB and sign the receipt.",
    "custody": "Pads and their custody history, the ledger's verification, officers, reports.",
    "workstation": "Insert the pad USB and ask the facility's AI over the one-time-pad link.",
}
# The button text: "&" marks the keyboard mnemonic (Alt+letter), "&&" shows an ampersand.
MODE_BUTTON = {
    "ceremony": "&Ceremony station",
    "custody": "C&ustody && audit",
    "workstation": "&Workstation",
}


class FirstRunDialog(QDialog):
    """Shows the practice officers' passphrases once: each on one line in a large monospace
    face. It cannot be dismissed by accident: Escape and the window's close button do nothing,
    and "Done" is enabled only once the officers confirm they have written the passphrases
    down. A practice home may copy or print them; a production home never offers either."""

    def __init__(self, first: FirstRun, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.first = first
        practice = bool(getattr(first, "practice", True))
        self.setWindowTitle("Practice facility created: the officers' passphrases")
        self.setModal(True)
        lay = QVBoxLayout(self)
        # The title inside too: without a window manager a dialog has no title bar.
        heading = PlainLabel("Write down the practice officers' passphrases", self)
        heading.setObjectName("dialogHeading")
        lay.addWidget(heading)
        self.intro = PlainLabel(
            "A PRACTICE facility was created: a SoftHSM2 token, an encrypted ledger, two "
            "practice officers and a small practice pad. Each officer's passphrase is shown "
            "ONCE, here. Write both down now: they are not stored anywhere in clear, and the "
            "ceremony and every two-officer action ask for them.",
            self,
        )
        lay.addWidget(self.intro)
        self.home_label = ElidedLabel(
            f"Facility home: {first.home}", self, mode=Qt.TextElideMode.ElideMiddle
        )
        set_role(self.home_label, "hint")
        lay.addWidget(self.home_label)
        self.grid = grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        self.passphrase_labels: dict[str, QLabel] = {}
        for row, (name, secret) in enumerate(first.passphrases.items()):
            owner = PlainLabel(f"{name}:", self, wrap=False)
            owner.setObjectName("passphraseOwner")
            value = PlainLabel(secret, self, wrap=False)  # one line, never wrapped
            value.setObjectName("passphrase")
            value.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse
                | Qt.TextInteractionFlag.TextSelectableByKeyboard
            )
            value.setAccessibleName(f"{name}'s passphrase")
            value.setAccessibleDescription("Shown once: write it down.")
            grid.addWidget(owner, row, 0)
            grid.addWidget(value, row, 1)
            self.passphrase_labels[name] = value
        lay.addLayout(grid)
        self.written = QCheckBox("I have &written both passphrases down", self)
        self.written.setAccessibleDescription("Required before the dialog can be closed.")
        lay.addWidget(self.written)
        row = QHBoxLayout()
        self.copy_button = QPushButton("&Copy (practice only)", self)
        self.copy_button.setAccessibleDescription("Copies both passphrases to the clipboard.")
        self.copy_button.clicked.connect(self.copy_passphrases)
        self.print_button = QPushButton("&Print… (practice only)", self)
        self.print_button.setAccessibleDescription("Prints both passphrases on a printer.")
        self.print_button.clicked.connect(self.print_passphrases)
        for b in (self.copy_button, self.print_button):
            b.setAutoDefault(False)
            b.setVisible(practice)
            row.addWidget(b)
        row.addStretch(1)
        self.done_button = QPushButton("&Done", self)
        self.done_button.setEnabled(False)
        self.done_button.setDefault(True)
        self.done_button.setAccessibleDescription(
            "Closes the dialog; the passphrases are never shown again."
        )
        self.done_button.clicked.connect(self.accept)
        self.written.toggled.connect(self.done_button.setEnabled)
        row.addWidget(self.done_button)
        lay.addLayout(row)
        self.status = set_role(PlainLabel("", self), "hint")
        self.status.hide()
        lay.addWidget(self.status)
        self.written.setFocus()

    def passphrase_text(self) -> str:
        return "\n".join(f"{name}: {pw}" for name, pw in self.first.passphrases.items())

    # -- sized to its content, centred on the window ----------------------------------------
    def setVisible(self, visible: bool) -> None:
        if visible and not self.isVisible():
            self.size_to_content()
        super().setVisible(visible)

    def size_to_content(self) -> None:
        """As wide as the passphrases (the text above wraps to that width), centred on the
        main window and inside the screen."""
        self.ensurePolished()
        width = max(420, self.grid.sizeHint().width())
        self.intro.setFixedWidth(min(width, 900))
        place_dialog(self)

    # -- not dismissed by accident ----------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            event.accept()  # Escape must not throw the passphrases away
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.result() != QDialog.DialogCode.Accepted and not self.written.isChecked():
            event.ignore()  # the window's close button: only once they are written down
            return
        super().closeEvent(event)

    # -- practice only: copy and print ------------------------------------------------------
    def copy_passphrases(self) -> None:
        QGuiApplication.clipboard().setText(self.passphrase_text())
        self.status.setText("Both passphrases copied to the clipboard.")
        self.status.show()

    def print_passphrases(self) -> QPrintDialog:
        """Qt's print dialog restricted to a real printer (no printing to a file: the
        passphrases must not land in a file by accident)."""
        from PySide6.QtGui import QTextDocument
        from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter

        printer = QPrinter()
        dlg = QPrintDialog(printer, self)
        dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintToFile, False)
        dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintSelection, False)
        dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintPageRange, False)

        def go() -> None:
            doc = QTextDocument()
            doc.setPlainText(
                "Red Door PRACTICE facility: the officers' passphrases\n\n" + self.passphrase_text()
            )
            doc.print_(printer)
            self.status.setText(f"Sent to the printer {printer.printerName()}.")
            self.status.show()

        dlg.accepted.connect(go)
        dlg.open()
        self.print_dialog = dlg
        return dlg


class ModeCard(QFrame):
    """One station on the chooser: its icon, its name (the button, with a mnemonic) and one
    line saying what it is for. A click anywhere on the card chooses it."""

    def __init__(self, mode: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("modeCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 16, 16, 16)
        self.icon = QLabel(self)
        self.icon.setPixmap(svg_pixmap(f"icons/mode-{mode}.svg", 64))
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton(MODE_BUTTON[mode], self)
        self.button.setObjectName(f"mode_{mode}")
        self.button.setAccessibleName(MODE_TITLES[mode])
        self.button.setAccessibleDescription(MODE_TEXT[mode])
        self.button.setAutoDefault(True)  # Enter chooses the card that has the focus
        self.description = PlainLabel(MODE_TEXT[mode], self)
        self.description.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.icon)
        lay.addWidget(self.button)
        lay.addWidget(self.description)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.button.isEnabled() and self.rect().contains(event.position().toPoint()):
            self.button.click()
        super().mouseReleaseEvent(event)


class ModeChooser(QWidget):
    """The three stations as cards, side by side; Alt+C, Alt+U, Alt+W or Tab and Enter."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 12, 24, 12)
        lay.addStretch(1)
        title = PlainLabel("Red Door", self)
        title.setObjectName("chooserTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        sub = PlainLabel("Choose what this station does now.", self)
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(sub)
        row = QHBoxLayout()
        row.setSpacing(16)
        self.cards: dict[str, ModeCard] = {}
        self.buttons: dict[str, QPushButton] = {}
        for mode in MODES:
            card = ModeCard(mode, self)
            card.button.clicked.connect(lambda _=False, m=mode: self.chosen.emit(m))
            row.addWidget(card, 1)
            self.cards[mode] = card
            self.buttons[mode] = card.button
        lay.addLayout(row)
        self.status = StatusBanner(self)
        lay.addWidget(self.status)
        lay.addStretch(2)

    def focus_first(self) -> None:
        """The first enabled station gets the keyboard focus."""
        for b in self.buttons.values():
            if b.isEnabled():
                b.setFocus(Qt.FocusReason.OtherFocusReason)
                return

    def first_focus(self) -> Any:
        return next((b for b in self.buttons.values() if b.isEnabled()), None)
