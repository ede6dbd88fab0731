"""Ceremony station: the wizard rendered from `ceremony.steps.STEPS`, driven by the state machine.

The left column lists the steps (titles from the step definitions, with their state). The first
page plans a ceremony or resumes or aborts an interrupted one (`app.gui.ceremony_plan`); the step
page shows the current step's activity text, its facts (`app.gui.summary_view`,
`app.gui.health_chart`), a progress bar, and whatever the state machine asks through
`QtCeremonyHandler`, in the box of `app.gui.ceremony_prompt` (credentials, confirmations,
fingerprints as large words, the bag serial typed twice). The ceremony runs on the facility
home's thread inside a worker (`app.gui.ceremony_run`); resume and abort are the state machine's
own. The receipt PDF is previewed as page images (`pdftoppm`) and printed with CUPS `lp` from a
print dialog that cannot print to a file (`app.gui.receipt_preview`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui import ceremony_run
from app.gui.ceremony_handler import Question
from app.gui.ceremony_plan import CeremonyPlanPage
from app.gui.ceremony_prompt import OfficerPrompt
from app.gui.facility import Facility
from app.gui.fact_text import generic_lines
from app.gui.health_chart import HealthChart
from app.gui.pdf_file_row import PdfFileRow
from app.gui.receipt_preview import ReceiptPreview, open_print_dialog
from app.gui.step_summary import info_lines, step_summary
from app.gui.style import set_role
from app.gui.summary_view import SummaryView
from app.gui.widgets import FingerprintView, PlainLabel, StatusBanner, describe, error_text
from app.gui.workers import Task, WorkerRunner
from ceremony.ceremony_plan import CeremonyOutcome
from ceremony.errors import CeremonyInputNeeded
from ceremony.steps import STEPS, Step, script_words

log = logging.getLogger(__name__)

MARKS = {"pending": "○", "active": "▶", "done": "✓", "failed": "✗"}


class CeremonyStation(QWidget):
    def __init__(
        self,
        runner: WorkerRunner,
        facility: Facility,
        *,
        on_pad_made: Callable[[], None] | None = None,
        file_dialog_dirs: Callable[[], list[Path]] | None = None,
        metrics_textfile: str | Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.facility = facility
        self.metrics_textfile = Path(metrics_textfile) if metrics_textfile else None
        self.on_pad_made = on_pad_made
        self.file_dialog_dirs = file_dialog_dirs
        self.task: Task | None = None
        self.question: Question | None = None
        self.outcome: CeremonyOutcome | None = None
        self.receipt: Path | None = None
        self.step_states = {s.id: "pending" for s in STEPS}

        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(PlainLabel("Ceremony steps", self))
        self.step_list = QListWidget(self)
        self.step_list.setMaximumWidth(330)
        self.step_list.setMinimumWidth(290)
        self.step_list.setWordWrap(True)
        describe(self.step_list, "Ceremony steps", "Done, current and coming steps.")
        for s in STEPS:
            self.step_list.addItem(QListWidgetItem(f"{MARKS['pending']}  {s.title}"))
        left.addWidget(self.step_list, 1)
        script = PlainLabel(f"Script words: {script_words()}", self)
        script.setMaximumWidth(300)
        set_role(script, "hint")
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
            lambda w: [o.name for o in facility.officers() if o.signer], "officer-names"
        )
        names.finished.connect(self.set_officer_names)

    # -- plan page --------------------------------------------------------------------------
    def _build_plan_page(self) -> QWidget:
        page = CeremonyPlanPage(self.facility, self)
        page.start_button.clicked.connect(self.start)
        page.resume_button.clicked.connect(self.resume)
        page.abort_button.clicked.connect(self.abort_interrupted)
        self.plan_page = page
        # The page's controls, as the station's own (drivers and tests use them).
        self.size_combo = page.size_combo
        self.status_label = page.status_label
        self.start_button = page.start_button
        self.resume_button = page.resume_button
        self.abort_button = page.abort_button
        self.abort_reason = page.abort_reason
        return page

    def refresh_status(self) -> None:
        self.plan_page.show_status(ceremony_run.ceremony_status(self.facility.path))

    # -- step page --------------------------------------------------------------------------
    def _build_step_page(self) -> QWidget:
        page = QWidget(self)
        lay = QVBoxLayout(page)
        self.step_title = PlainLabel("", page)
        self.step_title.setObjectName("stepTitle")
        f = self.step_title.font()
        f.setPointSize(f.pointSize() + 6)
        f.setBold(True)
        self.step_title.setFont(f)
        self.step_activity = PlainLabel("", page)
        self.step_activity.setObjectName("stepInstruction")  # large-text mode (Ctrl+Plus)
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
        # Where the receipt PDF was written, to open or copy it (step 10 names it too).
        self.receipt_row = PdfFileRow("Receipt", page, file_dialog_dirs=self.file_dialog_dirs)
        self.receipt_row.message.connect(self.banner.show_message)
        lay.addWidget(self.receipt_row)
        self.preview = ReceiptPreview(page)
        self.preview_layout = self.preview.preview_layout  # the pages shown (tests count them)
        lay.addWidget(self.preview, 3)  # the receipt's pages get most of the room
        row = QHBoxLayout()
        self.print_button = QPushButton("&Print receipt…", page)
        self.print_button.clicked.connect(self.print_receipt)
        self.print_button.hide()
        # Asks first, "go on" being the default and Escape's answer (confirm_cancel).
        self.cancel_button = QPushButton("&Stop ceremony (destroys its material)…", page)
        self.cancel_button.clicked.connect(self.confirm_cancel)
        self.done_button = QPushButton("&New ceremony", page)
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
        self.prompt_box = OfficerPrompt(parent)
        self.prompt_box.answered.connect(self.answer)
        # The inputs the officers answer in, as the station's own (drivers and tests use them).
        self.officer_combo = self.prompt_box.officer_combo
        self.passphrase_edit = self.prompt_box.passphrase_edit
        self.text_edit = self.prompt_box.text_edit
        self.prompt_error = self.prompt_box.prompt_error
        return self.prompt_box

    def _set_step(self, step_id: str, state: str) -> None:
        for i, s in enumerate(STEPS):
            if s.id == step_id:
                self.step_states[s.id] = state
                self.step_list.item(i).setText(f"{MARKS[state]}  {s.title}")
                if state == "active":
                    if s.id != self._summary_step:  # a new step: the last one's result goes
                        self._summary_step = s.id
                        self.set_summary(None)
                        self.progress.hide()  # and so does its progress (shown again by
                        self.progress_label.hide()  # this step's own, if it has any)
                        self.fingerprint.hide()  # and the fingerprint it read aloud
                    self.step_list.setCurrentRow(i)
                    self.step_title.setText(f"Step {i + 1} of {len(STEPS)}: {s.title}")
                    self.step_activity.setText(s.activity)
            elif state == "active" and self.step_states[s.id] == "active":
                self.step_states[s.id] = "done"
                self.step_list.item(i).setText(f"{MARKS['done']}  {s.title}")

    # -- running ----------------------------------------------------------------------------
    def _run(self, body: ceremony_run.Body, name: str) -> None:
        self.outcome = None
        self.receipt = None
        for s in STEPS:
            self._set_step(s.id, "pending")
        self.pages.setCurrentIndex(1)
        self.done_button.hide()
        self.print_button.hide()
        self.preview.hide()
        self.receipt_row.hide()
        self.cancel_button.show()
        self.set_summary(None)
        self.progress_label.hide()
        self.fingerprint.hide()
        self.banner.clear()
        job = ceremony_run.CeremonyJob(self.facility, body)
        handler = job.handler
        handler.signals.asked.connect(self.ask)
        handler.signals.progressed.connect(self.show_progress)
        handler.signals.informed.connect(self.show_info)
        self.handler = handler
        self.task = job.start(self.runner, name)
        self.task.finished.connect(self._finished)
        self.task.failed.connect(self._failed)

    def start(self) -> None:
        try:
            plan = self.plan_page.plan()
        except OSError as exc:
            self.banner.show_message("error", f"Customer directory: {exc.strerror}")
            return
        self._set_step("prepare", "active")
        self._run(ceremony_run.begin(plan, self.metrics_textfile), "ceremony")
        self._set_step("prepare", "active")

    def resume(self) -> None:
        done = ceremony_run.ceremony_status(self.facility.path).get("completed_steps", [])
        self._run(ceremony_run.resume(self.metrics_textfile), "ceremony-resume")
        for step_id in done:  # steps finished before the interruption are not run again
            self._set_step(step_id, "done")

    def abort_interrupted(self) -> None:
        reason = self.abort_reason.text().strip()
        if not reason:
            self.status_label.setText("Type the reason for the abort first.")
            return
        self._run(ceremony_run.abort(reason), "ceremony-abort")

    def first_focus(self) -> QWidget:
        """Where the keyboard starts: the plan's first choice, or the question being asked."""
        if self.pages.currentIndex() == 0:
            return self.size_combo
        return self.prompt_box.focusWidget() or self.prompt_box.yes_button

    def confirm_cancel(self) -> None:
        """Stop asks first: going on is the default button and what Escape answers, so no
        stray key destroys the ceremony's material."""
        if self.task is None or self.task.ended:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Stop the ceremony?", "", parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(
            "Stopping destroys this ceremony's material (the pad being made and its copies) "
            "and records the failure in the ledger."
        )
        go_on = box.addButton("&Go on with the ceremony", QMessageBox.ButtonRole.RejectRole)
        stop = box.addButton("&Stop and destroy", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(go_on)
        box.setEscapeButton(go_on)
        box.buttonClicked.connect(lambda b: self.cancel() if b is stop else None)
        box.open()
        self.cancel_dialog = box

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
        names: list[str] = []
        if q.kind == "credentials":
            self._set_step("authenticate", "active")
            names = self._officer_names(exclude=q.args.get("exclude", []))
        elif q.kind == "confirm":
            assert step is not None
            facts = q.args.get("facts", {})
            self.set_summary(step.id, facts if isinstance(facts, dict) else {})
            if q.args.get("fingerprint"):
                fp = q.args["fingerprint"]
                self.fingerprint.title.setText(f"{fp['what']}:")
                self.fingerprint.words.setText(str(fp["words"]).upper())
                self.fingerprint.hex.setText(str(fp["hex"]))
                self.fingerprint.show()
        elif q.kind == "fingerprint":
            self.fingerprint.title.setText(f"{q.args['what']}:")
            self.fingerprint.words.setText(str(q.args["words"]).upper())
            self.fingerprint.hex.setText(str(q.args["hex"]))
            self.fingerprint.show()
        elif q.kind == "bag_serial":
            self._set_step("seal", "active")
        self.prompt_box.show_question(q, names)
        if q.kind == "confirm" and step is not None and step.id == "close":
            self._ask_receipt_signed(q)

    def _ask_receipt_signed(self, q: Question) -> None:
        """Step 10 names the receipt file, and cannot be confirmed unless that file is there
        with the SHA-256 the step records (the officers sign a printout of those bytes)."""
        facts = q.args.get("facts", {})
        problem = ceremony_run.receipt_problem(self.receipt, str(facts.get("receipt_sha256", "")))
        if problem:
            self.prompt_box.prompt_error.setText(
                f"{problem} Print the receipt before this is confirmed; answering No keeps "
                "the ceremony resumable at this step."
            )
            self.prompt_box.yes_button.setEnabled(False)
            return
        self.prompt_box.prompt_text.setText(
            f"{q.step.question if q.step else ''}\nThe receipt is {self.receipt}: print it "
            "(Print receipt…), both officers sign the paper, then confirm."
        )

    def _officer_names(self, exclude: list[str]) -> list[str]:
        return [n for n in (self._names_cache or []) if n not in exclude]

    def set_officer_names(self, names: list[str]) -> None:
        self._names_cache = names

    def answer(self, yes: bool) -> None:
        q = self.question
        if q is None:
            return
        complete, value = self.prompt_box.read_answer(q, yes)
        if not complete:
            return
        self.question = None
        self.prompt_box.hide()
        if q.kind == "fingerprint" or q.args.get("fingerprint"):
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
            if self.receipt != Path(str(facts["path"])):  # step 10 names it again
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
        self.preview.show_pdf(pdf)
        self.receipt_row.show_file(pdf)
        self.print_button.show()

    def print_receipt(self) -> None:
        if self.receipt is None:
            return
        receipt = self.receipt

        def go(target: ceremony_run.PrintTarget) -> None:
            if not target.printer and target.pdf_file is None:
                self.banner.show_message(
                    "error", f"No printer chosen: the receipt stays at {receipt}."
                )
                return
            task = self.runner.run(lambda w: ceremony_run.print_receipt(receipt, target), "print")
            task.finished.connect(
                lambda where: self.banner.show_message("ok", f"Receipt sent to {where}.")
            )
            task.failed.connect(
                lambda e: self.banner.show_message("error", f"Printing failed: {error_text(e)}")
            )

        kiosk = bool(self.file_dialog_dirs()) if self.file_dialog_dirs else False
        self.print_dialog = open_print_dialog(self, go, to_file=not kiosk)

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
            self.step_activity.setText(ceremony_run.closed_text(result))
            self.fingerprint.title.setText("Pad Merkle root:")
            self.fingerprint.words.setText(result.merkle_root_words.upper())
            self.fingerprint.hex.setText(result.merkle_root)
            self.fingerprint.show()
            self.banner.show_message(
                "ok", "Ceremony closed: the pad is made and sealed, the signed receipt recorded."
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
        if isinstance(exc, CeremonyInputNeeded):  # waiting, not failed: nothing was destroyed
            self.banner.show_message("warn", f"The ceremony waits: {error_text(exc)}.")
            self.refresh_status()
            return
        for s in STEPS:
            if self.step_states[s.id] == "active":
                self._set_step(s.id, "failed")
        self.banner.show_message("error", f"The ceremony stopped: {error_text(exc)}")
        self.refresh_status()

    def back_to_plan(self) -> None:
        self.plan_page.reset_customer_dir()
        self.pages.setCurrentIndex(0)
        self.refresh_status()

    def shutdown(self) -> None:
        self.preview.cleanup()
