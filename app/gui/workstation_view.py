"""Workstation mode: connection setup and the chat to the facility's AI (seed 000 mock-ups).

The view holds the widgets and their layout and renders what comes back. The open link, and
every blocking call (Zenoh, pad journal, USB scan) on a worker, are `app.gui.workstation_link`'s;
the words and figures shown are `app.gui.workstation_model`'s; the question box and the answer
cards are `app.gui.workstation_chat`'s, the cover traffic switch `app.gui.cover_switch`'s.
Answer text arrives as authenticated chunks from `WorkstationClient.ask`'s callback on the worker
thread and reaches the widgets only through the worker's signals. Answers and excerpts are plain
text, always.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.gui.cover_switch import CoverSwitch
from app.gui.style import set_role
from app.gui.usb_detect import DetectedPad
from app.gui.widgets import ElidedLabel, PlainLabel, StatusBanner, describe, error_text
from app.gui.workers import WorkerRunner
from app.gui.workstation_chat import AskBox, MessageCard
from app.gui.workstation_link import WorkstationLink
from app.gui.workstation_model import (
    footer_text,
    is_exhausted,
    pad_alert,
    pad_choice,
    pad_line,
    preferred_pad,
    presence_alert,
    presence_note,
)
from app.gui.workstation_session import WorkstationSession
from custody.link.presence import Presence
from custody.link.workstation import Answer
from custody.pad.status import PadStatus

log = logging.getLogger(__name__)


class WorkstationView(QWidget):
    session_changed = Signal()

    def __init__(
        self,
        runner: WorkerRunner,
        *,
        endpoint: str = "",
        usb_roots: list[Path] | None = None,
        queries_per_day: float | None = None,
        low_pad_queries: int = 500,
        low_pad_fraction: float = 0.10,
        file_dialog_dirs: Callable[[], list[Path]] | None = None,
        presence_interval_ms: int = 5000,
        cover_rate: float = 1.0,
        cover_bucket: int = 1024,
        classification_colour: Callable[[str], str | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`classification_colour(text)`: the settings' colour entry for a classification,
        which colours the question's tag (`app.gui.style.classification_key`)."""
        super().__init__(parent)
        self.classification_colour = classification_colour
        self.runner = runner
        self.link = WorkstationLink(
            runner,
            queries_per_day=queries_per_day,
            cover_rate=cover_rate,
            cover_bucket=cover_bucket,
        )
        self.usb_roots = usb_roots or []
        self.low_pad_queries = low_pad_queries
        self.low_pad_fraction = low_pad_fraction
        # The ONE pad-status source: the selected pad's status from detection, replaced by each
        # status read after connecting and after every answer. Every figure shown comes from it.
        self.pad_status: PadStatus | None = None
        self._cards_waiting: list[MessageCard] = []
        self.detected: list[DetectedPad] = []
        self.cards: list[MessageCard] = []

        outer = QVBoxLayout(self)
        outer.addWidget(self._build_connection(endpoint))
        self.gateway_banner = StatusBanner(self)
        self.pad_banner = StatusBanner(self)
        outer.addWidget(self.gateway_banner)
        outer.addWidget(self.pad_banner)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self._build_transcript())
        split.addWidget(self._build_ask(file_dialog_dirs))
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([520, 240])
        # The ask box never shrinks below what its question box and button row need (at
        # 1024x768 the buttons were drawn over the question box).
        split.setChildrenCollapsible(False)
        self.ask_box.setMinimumHeight(self.ask_box.minimumSizeHint().height())
        outer.addWidget(split, 1)
        # The pad's bytes left, under the chat (the same status as the USB line and banner).
        self.pad_label = PlainLabel("", self)
        outer.addWidget(self.pad_label)
        self.presence_timer = QTimer(self)
        self.presence_timer.setInterval(presence_interval_ms)
        self.presence_timer.timeout.connect(self.check_presence)
        self._set_connected(False)
        # Ctrl+Enter (and Ctrl+Return) sends the question from anywhere in the view.
        self.send_shortcuts = []
        for key in ("Ctrl+Return", "Ctrl+Enter"):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(self.send)
            self.send_shortcuts.append(sc)

    def first_focus(self) -> QWidget:
        """Where the keyboard starts: the question when connected, else Connect."""
        return self.question_edit if self.session is not None else self.connect_button

    @property
    def session(self) -> WorkstationSession | None:
        return self.link.session

    # -- layout -----------------------------------------------------------------------------
    def _build_connection(self, endpoint: str) -> QGroupBox:
        box = QGroupBox("Connection setup", self)
        form = QFormLayout(box)
        form.setVerticalSpacing(4)
        self.endpoint_edit = QLineEdit(endpoint, box)
        self.endpoint_edit.setPlaceholderText("tcp/router.red.local:7447")
        describe(self.endpoint_edit, "Router endpoint", "The facility router to connect to.")
        endpoint_label = QLabel("Router &endpoint", box)
        endpoint_label.setBuddy(self.endpoint_edit)
        form.addRow(endpoint_label, self.endpoint_edit)
        row = QHBoxLayout()
        self.pad_combo = QComboBox(box)
        self.pad_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # A long pad description never widens the window: the list shows it whole.
        self.pad_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.pad_combo.setMinimumContentsLength(24)
        describe(self.pad_combo, "Pad USB", "The pad on the inserted USB to ask with.")
        self.rescan_button = QPushButton("&Detect USB", box)
        self.rescan_button.setAccessibleDescription("Looks for pad USBs again.")
        self.rescan_button.clicked.connect(self.rescan)
        row.addWidget(self.pad_combo, 1)
        row.addWidget(self.rescan_button)
        pad_label = QLabel("&Pad USB", box)
        pad_label.setBuddy(self.pad_combo)
        form.addRow(pad_label, row)
        # Not word-wrapped: a wrapping label in a form row gets a height for a narrow width
        # and leaves a blank gap above and below it; its lines are short and explicit, and
        # elided (whole in the tooltip) rather than widening the window.
        self.usb_label = ElidedLabel("No pad USB detected yet.", box)
        self.usb_label.setAccessibleName("Pad USB status")
        form.addRow("", self.usb_label)
        self.pad_combo.currentIndexChanged.connect(self._show_selected_pad)
        buttons = QHBoxLayout()
        self.test_button = QPushButton("&Test connection", box)
        self.test_button.setToolTip("Asks the router which gateways are alive; spends no pad")
        self.test_button.setAccessibleDescription(self.test_button.toolTip())
        self.test_button.clicked.connect(self.test_connection)
        self.connect_button = QPushButton("&Connect", box)
        self.connect_button.setAccessibleDescription(
            "Opens the one-time-pad link with the selected pad (Alt+C)."
        )
        self.connect_button.clicked.connect(self.toggle_connection)
        self.connection_label = ElidedLabel("Not connected.", box)
        self.connection_label.setAccessibleName("Connection status")
        # Off by default: it spends pad continuously. Turning it on shows the cost first.
        self.cover_check = CoverSwitch(self.link, self, box)
        self.cover_check.problem.connect(self.connection_label.setText)
        self.cover_check.turned_on.connect(self._cover_on)
        self.cover_check.turned_off.connect(self._cover_off)
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.cover_check)
        buttons.addWidget(self.connection_label, 1)
        form.addRow("", buttons)
        return box

    def _build_transcript(self) -> QWidget:
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setMinimumHeight(160)
        inner = QWidget(self.scroll)
        self.cards_layout = QVBoxLayout(inner)
        self.cards_layout.addStretch(1)
        self.empty_hint = PlainLabel(
            "Questions and answers appear here. Each answer streams in chunk by chunk; every "
            "chunk is authenticated with a one-time MAC before it is shown.",
            inner,
        )
        set_role(self.empty_hint, "hint")
        self.cards_layout.insertWidget(0, self.empty_hint)
        self.scroll.setWidget(inner)
        return self.scroll

    def _build_ask(self, file_dialog_dirs: Callable[[], list[Path]] | None) -> QWidget:
        box = AskBox(self.link.query_cost, file_dialog_dirs, self, self.link.frame_modes)
        box.send_button.clicked.connect(self.send)
        self.ask_box = box
        # The box's inputs, as the view's own (drivers and tests use them).
        self.question_edit = box.question_edit
        self.attach_button = box.attach_button
        self.classification_combo = box.classification_combo
        self.cost_label = box.cost_label
        self.send_button = box.send_button
        return box

    # -- USB --------------------------------------------------------------------------------
    def rescan(self) -> None:
        roots = list(self.usb_roots)
        self.rescan_button.setEnabled(False)
        task = self.link.detect(roots)
        task.finished.connect(self._on_detected)
        task.failed.connect(lambda e: self._on_detected([]))

    def _on_detected(self, found: list[DetectedPad]) -> None:
        self.rescan_button.setEnabled(True)
        keep = self.pad_combo.currentData()
        self.detected = found
        self.pad_combo.blockSignals(True)
        self.pad_combo.clear()
        for d in found:
            self.pad_combo.addItem(pad_choice(d), str(d.path))
        idx = self.pad_combo.findData(keep) if keep else -1
        if idx < 0:
            idx = preferred_pad(found)
        self.pad_combo.setCurrentIndex(idx if found else -1)
        self.pad_combo.blockSignals(False)
        self._show_selected_pad()

    def _show_selected_pad(self) -> None:
        i = self.pad_combo.currentIndex()
        d = self.detected[i] if 0 <= i < len(self.detected) else None
        if d is not None and d.status is not None:
            self.show_status(d.status)
            return
        self.pad_status = None
        self.pad_label.setText("")
        self.pad_banner.clear()
        if d is not None:
            self.usb_label.setText(d.describe(self.link.queries_per_day))
        else:
            self.usb_label.setText("No pad USB detected. Insert the pad USB and press Detect USB.")

    def selected_pad_dir(self) -> Path | None:
        data = self.pad_combo.currentData()
        return Path(data) if data else None

    # -- connection -------------------------------------------------------------------------
    def test_connection(self) -> None:
        endpoint = self.endpoint_edit.text().strip()
        self.connection_label.setText("Testing (liveliness only, no pad spent)…")
        self.test_button.setEnabled(False)
        task = self.link.probe(endpoint)

        def done(names: list[str]) -> None:
            self.test_button.setEnabled(True)
            if names:
                self.connection_label.setText(
                    f"Router reachable; facility gateway alive: {', '.join(names)}. No pad spent."
                )
                self.gateway_banner.clear()
            else:
                self.connection_label.setText("Router reachable, but no facility gateway is alive.")
                self.gateway_banner.show_message(
                    "error", "Gateway absent: no facility gateway is on the link."
                )

        def failed(exc: BaseException) -> None:
            self.test_button.setEnabled(True)
            self.connection_label.setText(f"Test failed: {error_text(exc)}")

        task.finished.connect(done)
        task.failed.connect(failed)

    def toggle_connection(self) -> None:
        if self.session is not None:
            self.disconnect_link()
        else:
            self.connect_link()

    def connect_link(self) -> None:
        pad_dir = self.selected_pad_dir()
        endpoint = self.endpoint_edit.text().strip()
        if pad_dir is None:
            self.connection_label.setText("Choose a pad USB first.")
            return
        self.connect_button.setEnabled(False)
        self.connection_label.setText("Connecting…")
        task = self.link.open(pad_dir, endpoint)
        task.finished.connect(self._on_connected)
        task.failed.connect(self._on_connect_failed)

    def _on_connected(self, session: WorkstationSession) -> None:
        self.connect_button.setEnabled(True)
        self._set_connected(True)
        self.connection_label.setText(f"Connected to {session.endpoint}.")
        self.presence_timer.start()
        self.check_presence()
        self.refresh_status()
        self.session_changed.emit()

    def _on_connect_failed(self, exc: BaseException) -> None:
        self.connect_button.setEnabled(True)
        self.connection_label.setText(f"Could not connect: {error_text(exc)}")

    def disconnect_link(self) -> None:
        self.link.disconnect()
        self.presence_timer.stop()
        self.cover_check.close_dialog()
        self.cover_check.setChecked(False)  # closing the session stops cover traffic
        self._set_connected(False)
        self.connection_label.setText("Disconnected.")
        self.session_changed.emit()

    def _set_connected(self, on: bool) -> None:
        asking = self.link.asking
        self.connect_button.setText("Dis&connect" if on else "&Connect")
        self.send_button.setEnabled(on and not asking)
        # Not switched while a question is on its way: its frames were cut for one mode.
        self.cover_check.setEnabled(on and not asking)
        self.endpoint_edit.setEnabled(not on)
        self.pad_combo.setEnabled(not on)

    def check_presence(self) -> None:
        if self.session is None:
            return
        why = self.cover_check.reap()
        if why is not None:  # the sender stopped by itself: say so and why
            self.pad_banner.show_message("error", f"Cover traffic stopped: {why}.")
        task = self.link.presence()
        if task is not None:
            task.finished.connect(self.show_presence)

    def show_presence(self, p: Presence) -> None:
        alert = presence_alert(p)
        note = presence_note(p)
        if alert is None and note is not None:
            self.gateway_banner.show_message("info", note)
        elif alert is None:
            self.gateway_banner.clear()
        else:
            self.gateway_banner.show_message("error", alert)

    # -- cover traffic ----------------------------------------------------------------------
    @property
    def cover_dialog(self) -> QMessageBox | None:
        """The cost shown before cover traffic starts, while it is open."""
        return self.cover_check.dialog

    def _cover_on(self) -> None:
        self.ask_box.update_cost()

    def _cover_off(self) -> None:
        self._set_connected(self.session is not None)  # the switch may be used again
        self.ask_box.update_cost()

    # -- pad status -------------------------------------------------------------------------
    def refresh_status(self) -> None:
        task = self.link.pad_status()
        if task is not None:
            task.finished.connect(self.show_status)

    def show_status(self, s: PadStatus) -> None:
        """Render the pad status everywhere it appears: the USB line, the footer, the banner and
        any answer card waiting for its "Remaining" figure."""
        self.pad_status = s
        i = self.pad_combo.currentIndex()
        device = self.detected[i].device.describe() if 0 <= i < len(self.detected) else ""
        self.usb_label.setText(f"USB Detected: {device}\n{pad_line(s)}" if device else pad_line(s))
        self.pad_label.setText(footer_text(s))
        for card in self._cards_waiting:
            card.set_remaining(s.queries_left)
        self._cards_waiting.clear()
        alert = pad_alert(s, self.low_pad_queries, self.low_pad_fraction)
        if alert is None:
            self.pad_banner.clear()
        else:
            self.pad_banner.show_message(*alert)
        if is_exhausted(s):
            self.send_button.setEnabled(False)

    # -- asking -----------------------------------------------------------------------------
    def send(self) -> None:
        question = self.ask_box.compose()
        if self.session is None or not question or self.link.asking:
            return
        classification = self.ask_box.classification()
        self.empty_hint.hide()
        label = classification or "UNMARKED"
        colour = self.classification_colour(label) if self.classification_colour else None
        card = MessageCard(question, label, self, colour_key=colour)
        self.cards.append(card)
        self.cards_layout.insertWidget(self.cards_layout.count() - 1, card)
        self.send_button.setEnabled(False)
        self.cover_check.setEnabled(False)
        task = self.link.ask(question, classification)
        task.item.connect(card.append)
        task.item.connect(lambda _p: self._scroll_down())
        task.finished.connect(lambda a: self._on_answer(card, a))
        task.failed.connect(lambda e: self._on_ask_failed(card, e))
        self.ask_box.clear()

    def _scroll_down(self) -> None:
        bar = self.scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_answer(self, card: MessageCard, answer: Answer) -> None:
        self._set_connected(self.session is not None)
        card.finish(answer)
        self._cards_waiting.append(card)
        self.refresh_status()

    def _on_ask_failed(self, card: MessageCard, exc: BaseException) -> None:
        self._set_connected(self.session is not None)
        card.fail(error_text(exc))
        name = type(exc).__name__
        if name == "GatewayDownError":
            self.gateway_banner.show_message("error", f"Gateway absent: {error_text(exc)}")
        elif "Exhausted" in name:
            self.pad_banner.show_message("error", f"Pad exhausted: {error_text(exc)}")
        self.refresh_status()

    # -- shutdown ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Close the link synchronously (workers are already stopped)."""
        self.presence_timer.stop()
        self.link.close()
