"""Workstation mode: connection setup and the chat to the facility's AI (seed 000 mock-ups).

Every blocking call (Zenoh, pad journal, USB scan) runs on a worker; answer text arrives as
authenticated chunks from `WorkstationClient.ask`'s callback on that worker thread and reaches
the widgets only through the worker's signals. Answers and excerpts are plain text, always.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.gui.usb_detect import DetectedPad, detect
from app.gui.widgets import ERROR_TEXT_STYLE, PlainLabel, StatusBanner, error_text
from app.gui.workers import WorkerRunner
from app.gui.workstation_session import WorkstationSession, probe_gateways
from custody.link.messages import CoverCost, duration_text
from custody.link.presence import Presence
from custody.link.workstation import Answer
from custody.pad.status import PadStatus

log = logging.getLogger(__name__)

CLASSIFICATIONS = ("UNCLASSIFIED", "CUI", "CONFIDENTIAL", "SECRET", "TOP SECRET")
EXCERPT_CHARS = 4000


def pad_low_threshold(s: PadStatus, count: int, fraction: float) -> int:
    """Queries left below which the pad is "low": the LOWER of a fixed count and a fraction of
    the pad's whole capacity, so a small practice pad is not "low" from its first query.

    The capacity is estimated from the tighter direction: queries left / the fraction of its
    bytes still unused (exact for a fresh pad)."""
    left = [n / s.length[d] for d, n in s.remaining.items() if s.length.get(d)]
    unused = min(left) if left else 0.0
    if unused <= 0:
        return max(1, count)
    return max(1, min(count, int(fraction * s.queries_left / unused)))


def pad_line(s: PadStatus) -> str:
    """The one sentence every place on the screen uses for what the pad has left."""
    return (
        f"OTP Pad {s.manifest.pad_id_display} [{s.manifest.mark.value}]: about "
        f"{s.queries_left:,} queries left (approximately {int(s.days_left):,} days at "
        f"{s.queries_per_day:,.0f}/day)"
    )


def cover_confirmation_text(cost: CoverCost) -> str:
    """What the user reads before cover traffic starts: what it does and what it costs."""
    lasts = cost.lasts_seconds
    left = (
        ""
        if cost.remaining is None or lasts is None
        else f"\n\nThe {cost.remaining:,} pad bytes left for questions (workstation→facility) "
        f"last about {duration_text(lasts)} at this rate, whatever you ask."
    )
    return (
        f"Cover traffic sends {cost.rate:g} frame(s) per second to the facility, each of "
        f"{cost.frame_bytes:,} pad bytes, whether or not you ask anything, so that an observer "
        "of the link cannot tell when or how much you ask. Questions go out in its slots."
        f"\n\nCost: {cost.bytes_per_minute:,} pad bytes per minute, {cost.bytes_per_day:,} "
        f"pad bytes per day.{left}\n\nIt stays on until you turn it off or disconnect; while "
        "no facility gateway serves this pad it pauses (nothing to cover for, no pad spent)."
    )


def has_bytes_left(d: DetectedPad) -> bool:
    return d.status is not None and all(n > 0 for n in d.status.remaining.values())


def preferred_pad(found: list[DetectedPad]) -> int:
    """Which detected pad to select: the most recently created one with bytes left in both
    directions (after a ceremony, the new pad), else the newest readable one, else the first."""
    candidates = [(i, d) for i, d in enumerate(found) if d.status is not None]
    usable = [(i, d) for i, d in candidates if has_bytes_left(d)] or candidates
    if not usable:
        return 0
    return max(usable, key=lambda c: (c[1].status.manifest.created, c[0]))[0]  # type: ignore[union-attr]


class MessageCard(QFrame):
    """One question and its streamed answer, with the per-message details."""

    def __init__(self, question: str, classification: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageCard")
        self.setStyleSheet(
            "QFrame#messageCard { border: 1px solid #c8ccd0; border-radius: 6px; "
            "background: #fbfbfc; }"
        )
        lay = QVBoxLayout(self)
        self.header = PlainLabel(f"You asked [{classification}]:", self)
        self.header.setStyleSheet("color: #555; font-weight: bold;")
        self.question = PlainLabel(question, self)
        self.answer_header = PlainLabel("Red Forge AI (waiting for the answer…):", self)
        self.answer_header.setStyleSheet("color: #555; font-weight: bold;")
        self.answer = PlainLabel("", self)
        self.answer.setObjectName("answerText")
        self.details = PlainLabel("", self)
        self.details.setStyleSheet("color: #666;")
        for w in (self.header, self.question, self.answer_header, self.answer, self.details):
            lay.addWidget(w)
        self._text = ""
        self.result: Answer | None = None

    def append(self, piece: str) -> None:
        self._text += piece
        self.answer.setText(self._text)
        self.answer_header.setText("Red Forge AI (streaming, each chunk authenticated):")

    def finish(self, answer: Answer) -> None:
        self.answer_header.setText("Red Forge AI:")
        if answer.text != self._text:  # the final text is authoritative
            self._text = answer.text
            self.answer.setText(answer.text)
        self.result = answer
        self.set_remaining(None)

    def set_remaining(self, queries_left: int | None) -> None:
        """The pad left after this answer, from the status read after it (the view's one
        pad-status source), so the card agrees with the banner and the footer."""
        a = self.result
        if a is None:
            return
        left = "…" if queries_left is None else f"about {queries_left:,} queries"
        self.details.setText(
            f"Query ID: {a.query_id[:16]}   OTP consumed: {a.w2f_bytes + a.f2w_bytes:,} bytes "
            f"({a.w2f_bytes:,} out, {a.f2w_bytes:,} back)   Remaining: {left}   "
            "Chronicle: logged by the facility gateway"
        )

    def fail(self, message: str) -> None:
        self.answer_header.setText("No complete answer:")
        self.details.setText(message)
        self.details.setStyleSheet(ERROR_TEXT_STYLE)

    @property
    def answer_text(self) -> str:
        return self._text


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
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.cover_rate = cover_rate
        self.cover_bucket = cover_bucket
        self.cover_dialog: QMessageBox | None = None
        self.usb_roots = usb_roots or []
        self.queries_per_day = queries_per_day
        self.low_pad_queries = low_pad_queries
        self.low_pad_fraction = low_pad_fraction
        # The ONE pad-status source: the selected pad's status from detection, replaced by each
        # status read after connecting and after every answer. Every figure shown comes from it.
        self.pad_status: PadStatus | None = None
        self._cards_waiting: list[MessageCard] = []
        self.file_dialog_dirs = file_dialog_dirs
        self.session: WorkstationSession | None = None
        self.detected: list[DetectedPad] = []
        self.cards: list[MessageCard] = []
        self.excerpt: tuple[str, str] | None = None  # (file name, text)
        self._asking = False
        self._presence_busy = False

        outer = QVBoxLayout(self)
        outer.addWidget(self._build_connection(endpoint))
        self.gateway_banner = StatusBanner(self)
        self.pad_banner = StatusBanner(self)
        outer.addWidget(self.gateway_banner)
        outer.addWidget(self.pad_banner)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self._build_transcript())
        split.addWidget(self._build_ask())
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

    # -- layout -----------------------------------------------------------------------------
    def _build_connection(self, endpoint: str) -> QGroupBox:
        box = QGroupBox("Connection setup", self)
        form = QFormLayout(box)
        form.setVerticalSpacing(4)
        self.endpoint_edit = QLineEdit(endpoint, box)
        self.endpoint_edit.setPlaceholderText("tcp/router.red.local:7447")
        form.addRow("Router endpoint", self.endpoint_edit)
        row = QHBoxLayout()
        self.pad_combo = QComboBox(box)
        self.pad_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.rescan_button = QPushButton("Detect USB", box)
        self.rescan_button.clicked.connect(self.rescan)
        row.addWidget(self.pad_combo, 1)
        row.addWidget(self.rescan_button)
        form.addRow("Pad USB", row)
        # Not word-wrapped: a wrapping label in a form row gets a height for a narrow width
        # and leaves a blank gap above and below it; its lines are short and explicit.
        self.usb_label = PlainLabel("No pad USB detected yet.", box, wrap=False)
        self.usb_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        form.addRow("", self.usb_label)
        self.pad_combo.currentIndexChanged.connect(self._show_selected_pad)
        buttons = QHBoxLayout()
        self.test_button = QPushButton("Test connection", box)
        self.test_button.setToolTip("Asks the router which gateways are alive; spends no pad")
        self.test_button.clicked.connect(self.test_connection)
        self.connect_button = QPushButton("Connect", box)
        self.connect_button.clicked.connect(self.toggle_connection)
        self.connection_label = PlainLabel("Not connected.", box, wrap=False)
        self.connection_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # Off by default: it spends pad continuously. Turning it on shows the cost first.
        self.cover_check = QCheckBox("Cover traffic", box)
        self.cover_check.setToolTip(
            "Constant-rate cover frames to the facility: hide when and how much you ask. "
            "Spends pad all the time; the cost is shown before it starts."
        )
        self.cover_check.clicked.connect(self._on_cover_clicked)
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
        self.empty_hint.setStyleSheet("color: #777;")
        self.cards_layout.insertWidget(0, self.empty_hint)
        self.scroll.setWidget(inner)
        return self.scroll

    def _build_ask(self) -> QWidget:
        box = QGroupBox("Ask Red Forge AI", self)
        self.ask_box = box
        lay = QVBoxLayout(box)
        self.question_edit = QPlainTextEdit(box)
        self.question_edit.setPlaceholderText("Your question…")
        self.question_edit.textChanged.connect(self._update_cost)
        self.question_edit.setMinimumHeight(60)
        self.question_edit.setMaximumHeight(130)
        lay.addWidget(self.question_edit)
        row = QHBoxLayout()
        self.attach_button = QPushButton("Attach file excerpt…", box)
        self.attach_button.clicked.connect(self.choose_excerpt)
        self.clear_excerpt_button = QPushButton("Remove excerpt", box)
        self.clear_excerpt_button.clicked.connect(lambda: self.set_excerpt(None))
        self.classification_combo = QComboBox(box)
        self.classification_combo.addItems(CLASSIFICATIONS)
        self.classification_combo.setEditable(True)
        row.addWidget(self.attach_button)
        row.addWidget(self.clear_excerpt_button)
        row.addStretch(1)
        row.addWidget(PlainLabel("Classification:", box, wrap=False))
        row.addWidget(self.classification_combo)
        lay.addLayout(row)
        self.excerpt_view = QPlainTextEdit(box)
        self.excerpt_view.setReadOnly(True)
        self.excerpt_view.setMaximumHeight(90)
        self.excerpt_view.hide()
        lay.addWidget(self.excerpt_view)
        row2 = QHBoxLayout()
        self.cost_label = PlainLabel("", box)
        self.send_button = QPushButton("Send query", box)
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        row2.addWidget(self.cost_label, 1)
        row2.addWidget(self.send_button)
        lay.addLayout(row2)
        return box

    # -- USB --------------------------------------------------------------------------------
    def rescan(self) -> None:
        roots = list(self.usb_roots)
        per_day = self.queries_per_day
        self.rescan_button.setEnabled(False)
        task = self.runner.run(lambda w: detect(roots, queries_per_day=per_day), "usb-detect")
        task.finished.connect(self._on_detected)
        task.failed.connect(lambda e: self._on_detected([]))

    def _on_detected(self, found: list[DetectedPad]) -> None:
        self.rescan_button.setEnabled(True)
        keep = self.pad_combo.currentData()
        self.detected = found
        self.pad_combo.blockSignals(True)
        self.pad_combo.clear()
        for d in found:
            if d.status is None:
                label = f"{d.path.name} (unreadable)"
            else:
                m = d.status.manifest
                left = "" if has_bytes_left(d) else ", used up"
                label = f"{m.pad_id_display} — created {m.created[:10]}{left}"
            self.pad_combo.addItem(f"{label} — {d.path}", str(d.path))
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
            self.usb_label.setText(d.describe(self.queries_per_day))
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
        task = self.runner.run(lambda w: probe_gateways(endpoint), "test-connection")

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
        per_day = self.queries_per_day
        task = self.runner.run(
            lambda w: WorkstationSession(pad_dir, endpoint, queries_per_day=per_day), "connect"
        )
        task.finished.connect(self._on_connected)
        task.failed.connect(self._on_connect_failed)

    def _on_connected(self, session: WorkstationSession) -> None:
        self.session = session
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
        session, self.session = self.session, None
        self.presence_timer.stop()
        self._close_cover_dialog()
        self.cover_check.setChecked(False)  # closing the session stops cover traffic
        self._set_connected(False)
        self.connection_label.setText("Disconnected.")
        if session is not None:
            self.runner.run(lambda w: session.close(), "disconnect")
        self.session_changed.emit()

    def _set_connected(self, on: bool) -> None:
        self.connect_button.setText("Disconnect" if on else "Connect")
        self.send_button.setEnabled(on and not self._asking)
        # Not switched while a question is on its way: its frames were cut for one mode.
        self.cover_check.setEnabled(on and not self._asking)
        self.endpoint_edit.setEnabled(not on)
        self.pad_combo.setEnabled(not on)

    def check_presence(self) -> None:
        session = self.session
        if session is None:
            return
        if self.cover_check.isChecked() and not session.client.cover_enabled:
            # The cover sender stops by itself (pad used up, medium failed): say so and why.
            why = session.client.cover_stopped_because or "it stopped"
            session.client.disable_cover()  # the sender's thread has ended: no wait
            self.cover_check.setChecked(False)
            self.pad_banner.show_message("error", f"Cover traffic stopped: {why}.")
        if self._presence_busy:
            return
        self._presence_busy = True
        task = self.runner.run(lambda w: session.presence(), "presence")

        def done(p: Presence) -> None:
            self._presence_busy = False
            self.show_presence(p)

        def failed(exc: BaseException) -> None:
            self._presence_busy = False

        task.finished.connect(done)
        task.failed.connect(failed)

    def show_presence(self, p: Presence) -> None:
        if not p.up:
            self.gateway_banner.show_message(
                "error",
                "Gateway absent: no facility gateway is on the link. Questions cannot be "
                "answered now; no pad is spent by waiting.",
            )
        elif not p.serving_pad:
            self.gateway_banner.show_message(
                "error",
                "The facility gateway does not serve this pad (wrong pad, or the pad was "
                "suspended, compromised or destroyed at the facility).",
            )
        else:
            self.gateway_banner.clear()

    # -- cover traffic ----------------------------------------------------------------------
    def _on_cover_clicked(self, checked: bool) -> None:
        if checked:
            self.cover_check.setChecked(False)  # on only once the cost is confirmed
            self.confirm_cover()
        else:
            self.disable_cover()

    def confirm_cover(self) -> None:
        """Show what cover traffic costs; enable it only if the user confirms."""
        session = self.session
        if session is None or self.cover_dialog is not None:
            return
        try:
            cost = session.client.cover_cost(self.cover_rate, self.cover_bucket)
        except Exception as exc:
            self.connection_label.setText(f"Cover traffic unavailable: {error_text(exc)}")
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Turn on cover traffic?",
            "",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(cover_confirmation_text(cost))
        box.button(QMessageBox.StandardButton.Yes).setText("Turn on cover traffic")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered(button: Any) -> None:
            self.cover_dialog = None
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                self.enable_cover(cost)

        box.buttonClicked.connect(answered)
        box.rejected.connect(lambda: setattr(self, "cover_dialog", None))
        self.cover_dialog = box
        box.open()

    def enable_cover(self, cost: CoverCost) -> None:
        session = self.session
        if session is None or self._asking:
            return
        try:
            session.client.enable_cover(cost.rate, cost.bucket)  # starts its thread, no wait
        except Exception as exc:
            self.connection_label.setText(f"Cover traffic not started: {error_text(exc)}")
            return
        self.cover_check.setChecked(True)
        self.cover_check.setToolTip(
            f"Cover traffic on: {cost.bytes_per_minute:,} pad bytes per minute. Click to stop."
        )
        self._update_cost()

    def disable_cover(self) -> None:
        session = self.session
        self.cover_check.setChecked(False)
        if session is None:
            return
        # Stopping joins the cover thread (at most one slot): on a worker, not the GUI thread.
        self.cover_check.setEnabled(False)
        task = self.runner.run(lambda w: session.client.disable_cover(), "cover-off")

        def done(_result: Any = None) -> None:
            self._set_connected(self.session is not None)
            self._update_cost()

        task.finished.connect(done)
        task.failed.connect(lambda e: done())

    def _close_cover_dialog(self) -> None:
        box, self.cover_dialog = self.cover_dialog, None
        if box is not None:
            box.reject()

    # -- pad status -------------------------------------------------------------------------
    def refresh_status(self) -> None:
        session = self.session
        if session is None:
            return
        task = self.runner.run(lambda w: session.status(), "pad-status")
        task.finished.connect(self.show_status)

    def show_status(self, s: PadStatus) -> None:
        """Render the pad status everywhere it appears: the USB line, the footer, the banner and
        any answer card waiting for its "Remaining" figure."""
        self.pad_status = s
        i = self.pad_combo.currentIndex()
        device = self.detected[i].device.describe() if 0 <= i < len(self.detected) else ""
        self.usb_label.setText(f"USB Detected: {device}\n{pad_line(s)}" if device else pad_line(s))
        self.pad_label.setText(
            f"Pad {s.manifest.pad_id_display}: about {s.queries_left:,} queries left; "
            f"{self.remaining_text(s)}."
        )
        for card in self._cards_waiting:
            card.set_remaining(s.queries_left)
        self._cards_waiting.clear()
        exhausted = any(v <= 0 for v in s.remaining.values()) or s.queries_left == 0
        low = pad_low_threshold(s, self.low_pad_queries, self.low_pad_fraction)
        if exhausted:
            self.pad_banner.show_message(
                "error", "Pad exhausted: this pad cannot carry another query. Use a new pad."
            )
            self.send_button.setEnabled(False)
        elif s.queries_left < low or any("critically" in w for w in s.warnings()):
            self.pad_banner.show_message(
                "warn",
                f"Pad low: about {s.queries_left:,} queries left. Order a new pad from the "
                "facility now.",
            )
        else:
            self.pad_banner.clear()

    @staticmethod
    def remaining_text(s: PadStatus) -> str:
        parts = [f"{n:,} bytes {d.label}" for d, n in s.remaining.items()]
        return "; ".join(parts)

    # -- asking -----------------------------------------------------------------------------
    def choose_excerpt(self) -> None:
        dirs = self.file_dialog_dirs() if self.file_dialog_dirs else []
        from app.gui.kiosk import confined_open_file, no_allowed_folder

        if no_allowed_folder(dirs):
            self.cost_label.setText("No USB or export folder is available: nothing to attach.")
            return
        path = confined_open_file(self, "Attach a file excerpt", dirs)
        if path is None:
            return
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read(EXCERPT_CHARS)
        except OSError as exc:
            self.cost_label.setText(f"Cannot read {path.name}: {exc.strerror}")
            return
        self.set_excerpt((path.name, text))

    def set_excerpt(self, excerpt: tuple[str, str] | None) -> None:
        self.excerpt = excerpt
        if excerpt is None:
            self.excerpt_view.hide()
            self.excerpt_view.setPlainText("")
        else:
            self.excerpt_view.setPlainText(f"Content excerpt from {excerpt[0]}:\n{excerpt[1]}")
            self.excerpt_view.show()
        self._update_cost()

    def compose(self) -> str:
        text = self.question_edit.toPlainText().strip()
        if self.excerpt is not None:
            name, body = self.excerpt
            text += f"\n\n--- content excerpt from {name} ---\n{body}"
        return text

    def _update_cost(self) -> None:
        if self.session is None:
            self.cost_label.setText("")
            return
        q = self.compose()
        if not q:
            self.cost_label.setText("")
            return
        try:
            cost = self.session.client.query_cost(q, self.classification_combo.currentText())
        except Exception:
            self.cost_label.setText("")
            return
        self.cost_label.setText(f"This question will consume {cost:,} pad bytes to send.")

    def send(self) -> None:
        session = self.session
        question = self.compose()
        if session is None or not question or self._asking:
            return
        classification = self.classification_combo.currentText().strip() or None
        self.empty_hint.hide()
        card = MessageCard(question, classification or "UNMARKED", self)
        self.cards.append(card)
        self.cards_layout.insertWidget(self.cards_layout.count() - 1, card)
        self._asking = True
        self.send_button.setEnabled(False)
        self.cover_check.setEnabled(False)

        def job(w: Any) -> Answer:
            return session.client.ask(question, w.emit_item, classification=classification)

        task = self.runner.run(job, "ask")
        task.item.connect(card.append)
        task.item.connect(lambda _p: self._scroll_down())
        task.finished.connect(lambda a: self._on_answer(card, a))
        task.failed.connect(lambda e: self._on_ask_failed(card, e))
        self.question_edit.clear()
        self.set_excerpt(None)

    def _scroll_down(self) -> None:
        bar = self.scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_answer(self, card: MessageCard, answer: Answer) -> None:
        self._asking = False
        self._set_connected(self.session is not None)
        card.finish(answer)
        self._cards_waiting.append(card)
        self.refresh_status()

    def _on_ask_failed(self, card: MessageCard, exc: BaseException) -> None:
        self._asking = False
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
        if self.session is not None:
            self.session.close()
            self.session = None
