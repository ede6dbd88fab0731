"""The custody view's reports: the buttons that make a report PDF, and where it was saved.

`write_report` is the worker's part (it blocks: the ledger is verified and a checkpoint signed
on the facility home's thread, then the PDF is laid out): the same data as `reddoor report`
(`custody.documents.reports.builders.ledger_report_data`), written to the home's exports
folder. `ReportBar` is the row of buttons; each report's path is shown with Open PDF and Save a
copy… (`app.gui.pdf_file_row`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from app.gui.facility import Facility
from app.gui.pdf_file_row import PdfFileRow
from app.gui.widgets import PlainLabel, error_text
from app.gui.workers import WorkerRunner

# (report, button text); the pad report is of the pad selected in the table.
REPORT_BUTTONS = (
    ("inventory", "&Inventory"),
    ("consumption", "&Consumption"),
    ("pad", "Pad &report (selected pad)"),
    ("verification", "Ledger verific&ation"),
)


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    verified: bool  # False: the ledger did not verify (the report says so on its first page)


def write_report(facility: Facility, kind: str, pad_id: str | None = None) -> WrittenReport:
    """Blocking (a worker runs it): report `kind` as a PDF in the home's exports folder."""
    from custody.documents.reports import builders
    from custody.durable_file import write_atomic

    data = facility.call(
        lambda oh: builders.ledger_report_data(
            oh.ledger, kind, practice=oh.settings.practice, pad_id=pad_id
        )
    )
    pdf = builders.render(data)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = facility.exports_dir() / f"{kind}-report-{stamp}.pdf"
    write_atomic(out, pdf, mode=0o644)
    return WrittenReport(out, bool(data["ledger"]["verified"]))


class ReportBar(QWidget):
    """ "Reports:" and a button per report; the last one written, to open or copy. `message`
    carries outcomes for the view's banner: (level, text)."""

    message = Signal(str, str)

    def __init__(
        self,
        runner: WorkerRunner,
        facility: Facility,
        selected_pad: Callable[[], str | None],
        *,
        file_dialog_dirs: Callable[[], list[Path]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.facility = facility
        self.selected_pad = selected_pad
        self.last_report: Path | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(PlainLabel("Reports (PDF):", self, wrap=False))
        self.buttons: dict[str, QPushButton] = {}
        for kind, text in REPORT_BUTTONS:
            button = QPushButton(text, self)
            button.clicked.connect(lambda _checked=False, k=kind: self.make(k))
            self.buttons[kind] = button
            row.addWidget(button)
        row.addStretch(1)
        lay.addLayout(row)
        self.file_row = PdfFileRow("Report", self, file_dialog_dirs=file_dialog_dirs)
        self.file_row.message.connect(self.message)
        lay.addWidget(self.file_row)

    def make(self, kind: str) -> None:
        pad = self.selected_pad() if kind == "pad" else None
        if kind == "pad" and not pad:
            self.message.emit("warn", "Select the pad to report on first.")
            return
        for b in self.buttons.values():
            b.setEnabled(False)
        self.message.emit("info", "Writing the report (the ledger is verified first)…")
        facility = self.facility
        task = self.runner.run(lambda w: write_report(facility, kind, pad), f"report-{kind}")
        task.finished.connect(self._written)
        task.failed.connect(self._failed)

    def _enable(self) -> None:
        for b in self.buttons.values():
            b.setEnabled(True)

    def _written(self, report: WrittenReport) -> None:
        self._enable()
        self.last_report = report.path
        self.file_row.show_file(report.path)
        if report.verified:
            self.message.emit("ok", f"Report written to {report.path}.")
        else:
            self.message.emit(
                "error",
                f"Report written to {report.path}, but the ledger DOES NOT VERIFY: its first "
                "page says so. Stop and call the custody lead.",
            )

    def _failed(self, exc: BaseException) -> None:
        self._enable()
        self.message.emit("error", f"The report could not be written: {error_text(exc)}")
