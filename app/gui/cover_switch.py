"""The workstation's "Cover traffic" switch: the cost shown first, then on; off on a worker.

Cover traffic sends pad-keyed frames at a constant rate whether or not the user asks anything,
so an observer of the link cannot tell when or how much they ask; it spends pad all the time.
The switch is off by default. Clicking it on asks first, in a dialog that states the cost
(`app.gui.workstation_model.cover_confirmation_text`), and starts the sender only on "Yes";
clicking it off stops the sender, whose thread is joined on a worker. The sender may also stop
by itself (pad used up, medium failed): `reap` notices that and turns the switch off. The link
calls are `app.gui.workstation_link.WorkstationLink`'s; `app.gui.workstation_view` places the
switch and re-prices the question when it changes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

from app.gui.widgets import error_text
from app.gui.workstation_link import WorkstationLink
from app.gui.workstation_model import cover_confirmation_text
from custody.link.messages import CoverCost


class CoverSwitch(QCheckBox):
    problem = Signal(str)  # why cover traffic could not start (for the connection line)
    turned_on = Signal()
    turned_off = Signal()  # once the sender's thread has stopped

    def __init__(self, link: WorkstationLink, dialog_parent: QWidget, parent: QWidget) -> None:
        super().__init__("Co&ver traffic", parent)
        self.link = link
        self.dialog_parent = dialog_parent
        self.dialog: QMessageBox | None = None
        self.setToolTip(
            "Constant-rate cover frames to the facility: hide when and how much you ask. "
            "Spends pad all the time; the cost is shown before it starts."
        )
        self.setAccessibleDescription(self.toolTip())
        self.clicked.connect(self._on_clicked)

    def _on_clicked(self, checked: bool) -> None:
        if checked:
            self.setChecked(False)  # on only once the cost is confirmed
            self.confirm()
        else:
            self.turn_off()

    def confirm(self) -> None:
        """Show what cover traffic costs; turn it on only if the user confirms."""
        if self.link.session is None or self.dialog is not None:
            return
        try:
            cost = self.link.cover_cost()
        except Exception as exc:
            self.problem.emit(f"Cover traffic unavailable: {error_text(exc)}")
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Turn on cover traffic?",
            "",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self.dialog_parent,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(cover_confirmation_text(cost))
        box.button(QMessageBox.StandardButton.Yes).setText("&Turn on cover traffic")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered(button: Any) -> None:
            self.dialog = None
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                self.turn_on(cost)

        box.buttonClicked.connect(answered)
        box.rejected.connect(lambda: setattr(self, "dialog", None))
        self.dialog = box
        box.open()

    def turn_on(self, cost: CoverCost) -> None:
        if self.link.session is None or self.link.asking:
            return
        try:
            self.link.enable_cover(cost)
        except Exception as exc:
            self.problem.emit(f"Cover traffic not started: {error_text(exc)}")
            return
        self.setChecked(True)
        self.setToolTip(
            f"Cover traffic on: {cost.bytes_per_minute:,} pad bytes per minute. Click to stop."
        )
        self.turned_on.emit()

    def turn_off(self) -> None:
        self.setChecked(False)
        if self.link.session is None:
            return
        # Stopping joins the cover thread (at most one slot): on a worker, not the GUI thread.
        self.setEnabled(False)
        task = self.link.cover_off()
        assert task is not None
        task.finished.connect(lambda _r: self.turned_off.emit())
        task.failed.connect(lambda _e: self.turned_off.emit())

    def reap(self) -> str | None:
        """Why the sender stopped by itself while the switch was on (now off), or None."""
        if not self.isChecked() or self.link.cover_running():
            return None
        why = self.link.reap_stopped_cover()
        self.setChecked(False)
        return why

    def close_dialog(self) -> None:
        box, self.dialog = self.dialog, None
        if box is not None:
            box.reject()
