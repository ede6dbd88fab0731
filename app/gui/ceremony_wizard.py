"""Ceremony station: the wizard rendered from `ceremony.steps.STEPS`, driven by the state machine.

The left column lists the steps (titles from the step definitions, with their state); the page
shows the current step's activity text, its facts, a progress bar, and whatever the state machine
asks through `QtCeremonyHandler` (credentials, confirmations, fingerprints as large words, the bag
serial typed twice). The ceremony runs on the facility home's thread inside a worker; resume and
abort are the state machine's own. The receipt PDF is previewed as page images (`pdftoppm`) and
printed with CUPS `lp` from a print dialog that cannot print to a file.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.ceremony_handler import QtCeremonyHandler, Question
from app.gui.facility import USB_DIR, Facility
from app.gui.step_summary import generic_lines, info_lines, step_summary
from app.gui.summary_view import SummaryView
from app.gui.widgets import FingerprintView, PlainLabel, StatusBanner, error_label, error_text
from app.gui.workers import Task, WorkerRunner
from ceremony import state_machine
from ceremony.ceremony_plan import CeremonyOutcome, CeremonyPlan
from ceremony.steps import STEPS, Step, script_words
from custody.ledger import officers

log = logging.getLogger(__name__)

SIZES = (("4 MiB (practice)", 4 << 20), ("16 MiB", 16 << 20), ("64 MiB", 64 << 20))
MARKS = {"pending": "○", "active": "▶", "done": "✓", "failed": "✗"}


class HealthChart(QWidget):
    """Per source: the longest repetition run and the highest APT count, against their cutoffs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.health: list[dict[str, Any]] = []
        self.setMinimumHeight(110)
        self.hide()

    def set_health(self, health: list[dict[str, Any]]) -> None:
        self.health = [h for h in health if isinstance(h, dict)]
        self.setVisible(bool(self.health))
        self.update()

    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#ffffff"))
        p.setPen(QColor("#333333"))
        p.drawText(8, 16, "Health tests (SP 800-90B): highest value seen / failure cutoff")
        y = 26
        bar_w = max(100, self.width() - 260)
        for h in self.health:
            for label, value, cutoff in (
                ("RCT longest run", h.get("longest_run"), h.get("rct_cutoff")),
                ("APT highest count", h.get("highest_apt_count"), h.get("apt_cutoff")),
            ):
                try:
                    v, c = float(value or 0), float(cutoff or 1)
                except (TypeError, ValueError):
                    continue
                frac = min(1.0, v / c) if c else 0.0
                p.setPen(QColor("#333333"))
                p.drawText(QRectF(8, y, 200, 18), f"{h.get('source', '?')}: {label}")
                p.fillRect(QRectF(210, y + 3, bar_w, 12), QColor("#eeeeee"))
                colour = QColor("#d93025") if v >= c else QColor("#188038")
                p.fillRect(QRectF(210, y + 3, bar_w * frac, 12), colour)
                p.setPen(QPen(QColor("#d93025"), 2))
                p.drawLine(210 + bar_w, y + 1, 210 + bar_w, y + 17)
                p.setPen(QColor("#333333"))
                p.drawText(QRectF(215 + bar_w, y, 60, 18), f"{int(v)}/{int(c)}")
                y += 22
        p.end()


def render_pdf_pages(pdf: Path, out_dir: Path, dpi: int = 60) -> list[Path]:
    """Page images of `pdf` through poppler's pdftoppm (QtPdf is not in PySide6-Essentials)."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        return []
    subprocess.run(
        [exe, "-r", str(dpi), "-png", str(pdf), str(out_dir / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return sorted(out_dir.glob("page*.png"))


def print_pdf(pdf: Path, printer: str) -> None:
    """Send the vector PDF to CUPS (a rasterised job of the same receipt is 250x larger)."""
    subprocess.run(
        ["lp", "-d", printer, "--", str(pdf)], check=True, capture_output=True, timeout=60
    )


class CeremonyStation(QWidget):
    def __init__(
        self,
        runner: WorkerRunner,
        facility: Facility,
        *,
        on_pad_made: Callable[[], None] | None = None,
        file_dialog_dirs: Callable[[], list[Path]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.facility = facility
        self.on_pad_made = on_pad_made
        self.file_dialog_dirs = file_dialog_dirs
        self.task: Task | None = None
        self.question: Question | None = None
        self.outcome: CeremonyOutcome | None = None
        self.receipt: Path | None = None
        self.step_states = {s.id: "pending" for s in STEPS}
        self._preview_dir = tempfile.TemporaryDirectory(prefix="reddoor-receipt-")

        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(PlainLabel("Ceremony steps", self))
        self.step_list = QListWidget(self)
        self.step_list.setMaximumWidth(330)
        self.step_list.setMinimumWidth(290)
        self.step_list.setWordWrap(True)
        for s in STEPS:
            self.step_list.addItem(QListWidgetItem(f"{MARKS['pending']}  {s.title}"))
        left.addWidget(self.step_list, 1)
        script = PlainLabel(f"Script words: {script_words()}", self)
        script.setMaximumWidth(300)
        script.setStyleSheet("color: #555;")
        left.addWidget(script)
        outer.addLayout(left)

        right = QVBoxLayout()
        self.banner = StatusBanner(self)
        right.addWidget(self.banner)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self._build_plan_page())
        self.pages.addWidget(self._build_step_page())
        right.addWidget(self.pages, 1)
        outer.addLayout(right, 1)
        self.refresh_status()
        self._names_cache: list[str] | None = None
        names = self.runner.run(
            lambda w: [o.name for o in facility.officers() if o.active and o.role == "officer"],
            "officer-names",
        )
        names.finished.connect(self.set_officer_names)

    # -- plan page --------------------------------------------------------------------------
    def _build_plan_page(self) -> QWidget:
        page = QWidget(self)
        lay = QVBoxLayout(page)
        box = QGroupBox("New ceremony", page)
        form = QFormLayout(box)
        self.size_combo = QComboBox(box)
        for label, n in SIZES:
            self.size_combo.addItem(label, n)
        self.split_edit = QLineEdit("1:3", box)
        self.source_boxes: dict[str, QCheckBox] = {}
        srow = QHBoxLayout()
        for spec, label in (
            ("hwrng", "/dev/hwrng"),
            ("pkcs11", "HSM RNG"),
            ("os", "OS CSPRNG (practice only)"),
        ):
            cb = QCheckBox(label, box)
            self.source_boxes[spec] = cb
            srow.addWidget(cb)
        self.source_boxes["os" if self.facility.practice else "hwrng"].setChecked(True)
        self.customer_edit = QLineEdit(str(self._new_customer_dir()), box)
        form.addRow("Pad size", self.size_combo)
        form.addRow("Direction split (questions:answers)", self.split_edit)
        form.addRow("Entropy sources", srow)
        form.addRow("Customer USB directory", self.customer_edit)
        lay.addWidget(box)
        self.status_label = PlainLabel("", page)
        lay.addWidget(self.status_label)
        row = QHBoxLayout()
        self.start_button = QPushButton("Start ceremony", page)
        self.start_button.clicked.connect(self.start)
        self.resume_button = QPushButton("Resume interrupted ceremony", page)
        self.resume_button.clicked.connect(self.resume)
        self.abort_button = QPushButton("Abort interrupted ceremony…", page)
        self.abort_button.clicked.connect(self.abort_interrupted)
        self.abort_reason = QLineEdit(page)
        self.abort_reason.setPlaceholderText("Reason for the abort (recorded, signed by both)")
        for w in (self.start_button, self.resume_button, self.abort_button):
            row.addWidget(w)
        lay.addLayout(row)
        lay.addWidget(self.abort_reason)
        lay.addStretch(1)
        return page

    def _new_customer_dir(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        if self.facility.practice:
            return self.facility.path / USB_DIR / f"ceremony-{stamp}"
        return Path("/media")

    def refresh_status(self) -> None:
        try:
            st = state_machine.ceremony_status(self.facility.path)
        except Exception as exc:
            st = {"active": False}
            log.info("ceremony status unreadable (%s)", type(exc).__name__)
        active = bool(st.get("active"))
        self.resume_button.setVisible(active)
        self.abort_button.setVisible(active)
        self.abort_reason.setVisible(active)
        self.start_button.setEnabled(not active)
        if active:
            done = ", ".join(st.get("completed_steps", [])) or "none"
            self.status_label.setText(
                f"Ceremony {st.get('ceremony_id')} was interrupted. Completed steps: {done}. "
                f"Next: {st.get('next_step')}. Resume it (both officers authenticate again) or "
                "abort it (its material is destroyed)."
            )
        else:
            self.status_label.setText(
                "Two officers are needed. The station asks each for their own passphrase."
            )

    def plan(self) -> CeremonyPlan:
        sources = [k for k, cb in self.source_boxes.items() if cb.isChecked()]
        customer = Path(self.customer_edit.text().strip())
        customer.mkdir(mode=0o700, parents=True, exist_ok=True)
        return CeremonyPlan(
            size=int(self.size_combo.currentData()),
            customer_dir=customer,
            sources=sources,
            split=self.split_edit.text().strip() or "1:3",
        )

    # -- step page --------------------------------------------------------------------------
    def _build_step_page(self) -> QWidget:
        page = QWidget(self)
        lay = QVBoxLayout(page)
        self.step_title = PlainLabel("", page)
        f = self.step_title.font()
        f.setPointSize(f.pointSize() + 6)
        f.setBold(True)
        self.step_title.setFont(f)
        self.step_activity = PlainLabel("", page)
        self.progress = QProgressBar(page)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.progress_label = PlainLabel("", page)
        # The step's result, in words and small tables (JSON only under "Details"), with the
        # health chart; scrolls on a small screen so the prompt's buttons stay visible.
        self.summary_scroll = QScrollArea(page)
        self.summary_scroll.setWidgetResizable(True)
        self.summary_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        inner = QWidget(self.summary_scroll)
        inner_lay = QVBoxLayout(inner)
        inner_lay.setContentsMargins(0, 0, 8, 0)
        self.summary = SummaryView(inner)
        self.health_chart = HealthChart(inner)
        inner_lay.addWidget(self.summary)
        inner_lay.addWidget(self.health_chart)
        inner_lay.addStretch(1)
        self.summary_scroll.setWidget(inner)
        self.summary_scroll.hide()
        self._summary_step = ""
        self.fingerprint = FingerprintView("", page)
        self.fingerprint.hide()
        for w in (
            self.step_title,
            self.step_activity,
            self.progress,
            self.progress_label,
        ):
            lay.addWidget(w)
        # The question first, then what it is about: the buttons never move off screen.
        lay.addWidget(self._build_prompt(page))
        lay.addWidget(self.fingerprint)
        lay.addWidget(self.summary_scroll, 1)
        self.preview = QScrollArea(page)
        self.preview.setWidgetResizable(True)
        self.preview_inner = QWidget(self.preview)
        self.preview_layout = QHBoxLayout(self.preview_inner)
        self.preview.setWidget(self.preview_inner)
        self.preview.hide()
        lay.addWidget(self.preview, 1)
        row = QHBoxLayout()
        self.print_button = QPushButton("Print receipt…", page)
        self.print_button.clicked.connect(self.print_receipt)
        self.print_button.hide()
        self.cancel_button = QPushButton("Stop ceremony (destroys its material)", page)
        self.cancel_button.clicked.connect(self.cancel)
        self.done_button = QPushButton("New ceremony", page)
        self.done_button.clicked.connect(self.back_to_plan)
        self.done_button.hide()
        row.addWidget(self.print_button)
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.done_button)
        lay.addLayout(row)
        lay.addStretch(0)
        return page

    def _build_prompt(self, parent: QWidget) -> QWidget:
        box = QGroupBox("", parent)
        self.prompt_box = box
        lay = QVBoxLayout(box)
        self.prompt_text = PlainLabel("", box)
        f = self.prompt_text.font()
        f.setBold(True)
        self.prompt_text.setFont(f)
        self.prompt_error = error_label(box, None)
        form = QFormLayout()
        self.officer_combo = QComboBox(box)
        self.officer_combo.setEditable(True)
        self.passphrase_edit = QLineEdit(box)
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.text_edit = QLineEdit(box)
        form.addRow("Officer", self.officer_combo)
        form.addRow("Passphrase", self.passphrase_edit)
        form.addRow("", self.text_edit)
        self.prompt_form_labels = (
            form.labelForField(self.officer_combo),
            form.labelForField(self.passphrase_edit),
        )
        lay.addWidget(self.prompt_text)
        lay.addLayout(form)
        lay.addWidget(self.prompt_error)
        row = QHBoxLayout()
        self.yes_button = QPushButton("Confirm", box)
        self.yes_button.setDefault(True)
        self.yes_button.clicked.connect(lambda: self.answer(True))
        self.no_button = QPushButton("No", box)
        self.no_button.clicked.connect(lambda: self.answer(False))
        row.addStretch(1)
        row.addWidget(self.no_button)
        row.addWidget(self.yes_button)
        lay.addLayout(row)
        self.passphrase_edit.returnPressed.connect(lambda: self.answer(True))
        self.text_edit.returnPressed.connect(lambda: self.answer(True))
        box.hide()
        return box

    def _set_step(self, step_id: str, state: str) -> None:
        for i, s in enumerate(STEPS):
            if s.id == step_id:
                self.step_states[s.id] = state
                self.step_list.item(i).setText(f"{MARKS[state]}  {s.title}")
                if state == "active":
                    if s.id != self._summary_step:  # a new step: the last one's result goes
                        self._summary_step = s.id
                        self.set_summary(None)
                    self.step_list.setCurrentRow(i)
                    self.step_title.setText(f"Step {i + 1} of {len(STEPS)}: {s.title}")
                    self.step_activity.setText(s.activity)
            elif state == "active" and self.step_states[s.id] == "active":
                self.step_states[s.id] = "done"
                self.step_list.item(i).setText(f"{MARKS['done']}  {s.title}")

    # -- running ----------------------------------------------------------------------------
    def _check_officer_on_home_thread(self) -> Callable[[str, str], bool]:
        """Runs on the ceremony thread (the home's): the same approval path as every action."""
        facility = self.facility

        def check(name: str, passphrase: str) -> bool:
            oh = facility._home
            if oh is None:
                return False
            req = oh.ledger.request_approval("ceremony.officer_check", {"officer": name}, (name,))
            try:
                officers.approve(oh.ledger, req, name, passphrase)
            except Exception:
                return False
            return True

        return check

    def _run(self, body: Callable[[Any, QtCeremonyHandler], Any], name: str) -> None:
        self.outcome = None
        self.receipt = None
        for s in STEPS:
            self._set_step(s.id, "pending")
        self.pages.setCurrentIndex(1)
        self.done_button.hide()
        self.print_button.hide()
        self.preview.hide()
        self.cancel_button.show()
        self.set_summary(None)
        self.progress_label.hide()
        self.fingerprint.hide()
        self.banner.clear()
        facility = self.facility
        holder: dict[str, Any] = {}
        handler = QtCeremonyHandler(
            lambda: holder["w"].cancelled(), self._check_officer_on_home_thread()
        )
        handler.signals.asked.connect(self.ask)
        handler.signals.progressed.connect(self.show_progress)
        handler.signals.informed.connect(self.show_info)
        self.handler = handler

        def job(w: Any) -> Any:
            holder["w"] = w
            return facility.call(lambda oh: body(oh, handler))

        self.task = self.runner.run(job, name)
        self.task.finished.connect(self._finished)
        self.task.failed.connect(self._failed)

    def start(self) -> None:
        try:
            plan = self.plan()
        except OSError as exc:
            self.banner.show_message("error", f"Customer directory: {exc.strerror}")
            return
        self._set_step("prepare", "active")
        self._run(lambda oh, h: state_machine.Ceremony.begin(oh, plan, h).run(), "ceremony")
        self._set_step("prepare", "active")

    def resume(self) -> None:
        try:  # the journals alone (no token), as refresh_status reads them
            done = state_machine.ceremony_status(self.facility.path).get("completed_steps", [])
        except Exception as exc:
            done = []
            log.info("ceremony status unreadable (%s)", type(exc).__name__)
        self._run(lambda oh, h: state_machine.Ceremony.resume(oh, h).run(), "ceremony-resume")
        for step_id in done:  # steps finished before the interruption are not run again
            self._set_step(step_id, "done")

    def abort_interrupted(self) -> None:
        reason = self.abort_reason.text().strip()
        if not reason:
            self.status_label.setText("Type the reason for the abort first.")
            return
        self._run(lambda oh, h: state_machine.abort(oh, h, reason), "ceremony-abort")

    def cancel(self) -> None:
        if self.task is not None and not self.task.ended:
            self.task.cancel()
            self.banner.show_message("warn", "Stopping: the ceremony's material is destroyed.")

    # -- the handler's questions (UI thread) -------------------------------------------------
    def ask(self, q: Question) -> None:
        self.question = q
        step = q.step
        if step is not None:
            self._set_step(step.id, "active")
        self.prompt_error.setText(q.error)
        self.officer_combo.hide()
        self.passphrase_edit.hide()
        self.text_edit.hide()
        for label in self.prompt_form_labels:
            if label is not None:
                label.hide()
        self.no_button.show()
        self.yes_button.setText("Confirm")
        self.no_button.setText("No — stop")
        if q.kind == "credentials":
            self._set_step("authenticate", "active")
            index = int(q.args["index"])
            who = "A" if index == 0 else "B"
            self.prompt_box.setTitle(f"Officer {who} authenticates")
            self.prompt_text.setText(
                f"Officer {who}: choose your name and type your own passphrase. The other "
                "officer looks away."
            )
            names = self._officer_names(exclude=q.args.get("exclude", []))
            self.officer_combo.clear()
            self.officer_combo.addItems(names)
            self.officer_combo.show()
            self.passphrase_edit.show()
            for label in self.prompt_form_labels:
                if label is not None:
                    label.show()
            self.passphrase_edit.setFocus()
            self.no_button.hide()
            self.yes_button.setText("Authenticate")
        elif q.kind == "confirm":
            assert step is not None
            self.prompt_box.setTitle("Both officers confirm")
            self.prompt_text.setText(step.question)
            facts = q.args.get("facts", {})
            self.set_summary(step.id, facts if isinstance(facts, dict) else {})
        elif q.kind == "fingerprint":
            self.prompt_box.setTitle("Read the fingerprint aloud")
            self.prompt_text.setText(
                f"Officer A reads the {q.args['what']} words aloud; officer B checks them on "
                "the screen. Do both read the same words?"
            )
            self.fingerprint.title.setText(f"{q.args['what']}:")
            self.fingerprint.words.setText(str(q.args["words"]).upper())
            self.fingerprint.hex.setText(str(q.args["hex"]))
            self.fingerprint.show()
            self.yes_button.setText("The words match")
            self.no_button.setText("They differ — stop")
        elif q.kind == "bag_serial":
            self._set_step("seal", "active")
            second = bool(q.args["second"])
            self.prompt_box.setTitle("Tamper-evident bag serial")
            self.prompt_text.setText(
                "Type the bag serial again (it must match)."
                if second
                else "Officer A reads the bag serial aloud; officer B types it."
            )
            self.text_edit.clear()
            self.text_edit.show()
            self.text_edit.setFocus()
            self.no_button.hide()
            self.yes_button.setText("Enter")
        elif q.kind == "exception":
            self.prompt_box.setTitle("Exception: both officers decide")
            self.prompt_text.setText(
                f"Expected: {q.args['expected']}\nWhat happened: {q.args['happened']}\n"
                "Type the decision (it is recorded and signed by both officers)."
            )
            self.text_edit.setText("resume")
            self.text_edit.show()
            self.no_button.hide()
            self.yes_button.setText("Record decision")
        self.prompt_box.show()

    def _officer_names(self, exclude: list[str]) -> list[str]:
        return [n for n in (self._names_cache or []) if n not in exclude]

    def set_officer_names(self, names: list[str]) -> None:
        self._names_cache = names

    def answer(self, yes: bool) -> None:
        q = self.question
        if q is None:
            return
        if q.kind == "credentials":
            name = self.officer_combo.currentText().strip()
            pw = self.passphrase_edit.text()
            if not name or not pw:
                self.prompt_error.setText("Choose the officer and type the passphrase.")
                return
            if name in q.args.get("exclude", []):
                self.prompt_error.setText(
                    f"{name} has already authenticated: the same officer cannot count twice."
                )
                return
            self.passphrase_edit.clear()
            value: Any = (name, pw)
        elif q.kind in ("bag_serial", "exception"):
            value = self.text_edit.text()
            self.text_edit.clear()
        else:
            value = yes
        self.question = None
        self.prompt_box.hide()
        if q.kind == "fingerprint":
            self.fingerprint.show()
        q.reply(value)

    # -- reports from the ceremony -----------------------------------------------------------
    def show_progress(self, step: Step, done: int, total: int) -> None:
        self._set_step(step.id, "active")
        self.progress.show()
        self.progress_label.show()
        self.progress.setValue(int(1000 * done / total) if total else 0)
        self.progress_label.setText(f"{step.title}: {done:,} of {total:,} bytes")

    def show_info(self, step: Step, text: str, facts: dict[str, Any]) -> None:
        self._set_step(step.id, "active")
        if text == "sources" and facts:
            self.set_summary("sources", facts)
        elif text == "receipt" and facts.get("path"):
            self.receipt = Path(str(facts["path"]))
            self.show_receipt(self.receipt)
        else:
            self.summary.add_lines(info_lines(text, facts or {}))
            if self.summary.labels:
                self.summary_scroll.show()

    def set_summary(self, step_id: str | None, facts: dict[str, Any] | None = None) -> None:
        """Show `step_id`'s result in words (None: clear it)."""
        if step_id is None:
            self.summary.clear()
            self.health_chart.set_health([])
            self.summary_scroll.hide()
            return
        facts = facts or {}
        self.summary.show_summary(step_summary(step_id, facts), facts)
        health = facts.get("health")
        self.health_chart.set_health(health if isinstance(health, list) else [])
        self.summary_scroll.show()

    def show_receipt(self, pdf: Path) -> None:
        while self.preview_layout.count():
            item = self.preview_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        out = Path(self._preview_dir.name) / datetime.now(UTC).strftime("%H%M%S%f")
        out.mkdir()
        try:
            pages = render_pdf_pages(pdf, out)
        except (OSError, subprocess.SubprocessError):
            pages = []
        for page in pages:
            label = QLabel(self.preview_inner)
            label.setPixmap(QPixmap(str(page)))
            label.setStyleSheet("border: 1px solid #999; background: white;")
            self.preview_layout.addWidget(label)
        if not pages:
            self.preview_layout.addWidget(PlainLabel(f"Receipt written to {pdf}", self))
        self.preview_layout.addStretch(1)
        self.preview.show()
        self.print_button.show()

    def print_receipt(self) -> None:
        if self.receipt is None:
            return
        from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter

        printer = QPrinter()
        dlg = QPrintDialog(printer, self)
        dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintToFile, False)
        dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintSelection, False)
        dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintPageRange, False)
        self.print_dialog = dlg
        receipt = self.receipt

        def go() -> None:
            name = printer.printerName()
            if not name:
                self.banner.show_message("error", "No printer chosen.")
                return
            task = self.runner.run(lambda w: print_pdf(receipt, name), "print")
            task.finished.connect(
                lambda _r: self.banner.show_message("ok", f"Receipt sent to printer {name}.")
            )
            task.failed.connect(
                lambda e: self.banner.show_message("error", f"Printing failed: {error_text(e)}")
            )

        dlg.accepted.connect(go)
        dlg.open()

    def _finished(self, result: Any) -> None:
        self.cancel_button.hide()
        self.done_button.show()
        self.prompt_box.hide()
        self.set_summary(None)
        self.progress.hide()  # the last step's bar says nothing about the closed ceremony
        self.progress_label.hide()
        if isinstance(result, CeremonyOutcome):
            self.outcome = result
            for s in STEPS:
                self._set_step(s.id, "done")
            self.step_title.setText("Ceremony closed")
            self.step_activity.setText(
                f"Pad {result.pad_id_display} [{result.mark}], {result.size:,} bytes, split "
                f"{result.split}, bag {result.bag_serial}, signed by "
                f"{' and '.join(result.officers)}."
            )
            self.fingerprint.title.setText("Pad Merkle root:")
            self.fingerprint.words.setText(result.merkle_root_words.upper())
            self.fingerprint.hex.setText(result.merkle_root)
            self.fingerprint.show()
            self.banner.show_message(
                "ok", "Ceremony closed. Print the receipt; both officers sign it."
            )
            if result.receipt and self.receipt is None:
                self.receipt = Path(result.receipt)
                self.show_receipt(self.receipt)
            if self.on_pad_made is not None:
                self.on_pad_made()
        else:
            self.step_title.setText("Ceremony aborted")
            facts = result if isinstance(result, dict) else {}
            self.step_activity.setText("\n".join(generic_lines(facts)))
            self.banner.show_message("warn", "The interrupted ceremony was aborted and recorded.")
        self.refresh_status()

    def _failed(self, exc: BaseException) -> None:
        self.cancel_button.hide()
        self.done_button.show()
        self.prompt_box.hide()
        for s in STEPS:
            if self.step_states[s.id] == "active":
                self._set_step(s.id, "failed")
        self.banner.show_message("error", f"The ceremony stopped: {error_text(exc)}")
        self.refresh_status()

    def back_to_plan(self) -> None:
        self.customer_edit.setText(str(self._new_customer_dir()))
        self.pages.setCurrentIndex(0)
        self.refresh_status()

    def shutdown(self) -> None:
        self._preview_dir.cleanup()
