"""Custody & audit mode: pads, their history and consumption, the ledger's health, officers.

Reading the ledger and verifying it block (SQLCipher, HSM), so they run on workers
(`app.gui.custody_model.load_custody`, `Facility.verify`); the view renders what comes back, in
the words of `app.gui.custody_model` and `app.gui.event_text`, with the chart and row delegate of
`app.gui.custody_widgets`. Everything from the ledger is plain text. Two-officer actions use the
same `TwoOfficerDialog` as the ceremony.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.custody_controls import describe_controls
from app.gui.custody_model import (
    PadRow,
    load_custody,
    log_columns,
    pad_cells,
    pad_heading,
    pad_notes,
    verify_banner,
)
from app.gui.custody_reports import ReportBar
from app.gui.custody_widgets import ConsumptionChart, WrappingDelegate
from app.gui.enrol_dialog import Enrolment
from app.gui.event_text import event_line, event_title
from app.gui.facility import Facility
from app.gui.fact_text import local_time, pad_display
from app.gui.kiosk import confined_open_file, no_allowed_folder
from app.gui.officer_dialogs import TwoOfficerDialog
from app.gui.step_summary import details_json
from app.gui.transfer_dialog import TransferDialog, TransferOutcome, TransferRequest, run_transfer
from app.gui.widgets import PlainLabel, StatusBanner, error_text
from app.gui.workers import WorkerRunner
from custody.ledger.verify import VerifyReport

log = logging.getLogger(__name__)

# Two-line headers: at 1024x768 one-line headers made the table wider than the window and cut
# off "Last activity".
PAD_COLUMNS = (
    "Pad id",
    "State",
    "Created\n(local time)",
    "USB\nserial",
    "Bag\nserial",
    "Bytes used\n→facility",
    "Bytes used\n→workstation",
    "Last activity\n(local time)",
)


def _item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)  # table items are plain text
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class CustodyView(QWidget):
    def __init__(
        self,
        runner: WorkerRunner,
        facility: Facility,
        *,
        file_dialog_dirs: Callable[[], list[Path]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.facility = facility
        self.file_dialog_dirs = file_dialog_dirs
        self.rows: list[PadRow] = []
        self.events: list[Any] = []
        self.report: VerifyReport | None = None
        self.officer_names: list[str] = []
        self._keep_banner = False
        self.transfer_outcome: TransferOutcome | None = None

        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.verify_banner = StatusBanner(self)
        self.verify_banner.show_message("info", "Ledger: verifying…")
        self.verify_button = QPushButton("&Verify ledger", self)
        self.verify_button.clicked.connect(self.verify)
        self.export_button = QPushButton("&Export checkpoint…", self)
        self.export_button.clicked.connect(self.export_checkpoint)
        self.refresh_button = QPushButton("Re&fresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.verify_banner, 1)
        top.addWidget(self.verify_button)
        top.addWidget(self.export_button)
        top.addWidget(self.refresh_button)
        outer.addLayout(top)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_pads(), "&Pads")
        self.tabs.addTab(self._build_log(), "Event lo&g")
        self.tabs.addTab(self._build_officers(), "&Officers")
        outer.addWidget(self.tabs, 1)
        self.reports = ReportBar(
            runner, facility, self.selected_pad_id, file_dialog_dirs=file_dialog_dirs, parent=self
        )
        self.reports.message.connect(self.verify_banner.show_message)
        outer.addWidget(self.reports)
        describe_controls(self)

    # -- pads -------------------------------------------------------------------------------
    def _build_pads(self) -> QWidget:
        page = QWidget(self)
        page_lay = QVBoxLayout(page)
        page_lay.setContentsMargins(0, 0, 0, 0)
        actions = QHBoxLayout()
        actions.setContentsMargins(6, 6, 6, 0)
        self.transfer_button = QPushButton("&Transfer custody… (two officers)", page)
        self.transfer_button.setToolTip(
            "Hand the selected sealed pad to a courier or the customer: bag serial checked, "
            "two officers approve"
        )
        self.transfer_button.clicked.connect(self.transfer_selected)
        actions.addStretch(1)
        actions.addWidget(self.transfer_button)
        split = QSplitter(Qt.Orientation.Vertical, page)
        page_lay.addWidget(split, 1)
        page_lay.addLayout(actions)
        self.pads_table = QTableWidget(0, len(PAD_COLUMNS), split)
        self.pads_table.setHorizontalHeaderLabels(list(PAD_COLUMNS))
        self.pads_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.pads_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.pads_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.pads_table.horizontalHeader().setStretchLastSection(True)
        self.pads_table.verticalHeader().setVisible(False)
        self.pads_table.itemSelectionChanged.connect(self._show_pad)
        detail = QSplitter(Qt.Orientation.Horizontal, split)
        # One readable line per ledger event; expand a line for the exact recorded payload.
        self.pad_history = QTreeWidget(detail)
        self.pad_history.setHeaderLabels(["Pad history"])
        self.pad_history.setWordWrap(True)
        self.pad_history.setUniformRowHeights(False)
        self.pad_history.setRootIsDecorated(True)
        # Long lines wrap at the pane's width: neither cut off nor hidden off to the side.
        self.pad_history.header().setStretchLastSection(True)
        self.pad_history.header().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.pad_history.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.pad_history.setItemDelegate(WrappingDelegate(self.pad_history))
        self.pad_history.setToolTip("Expand a line for the payload exactly as recorded")
        self.chart = ConsumptionChart(detail)
        detail.setStretchFactor(0, 3)
        detail.setStretchFactor(1, 2)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        return page

    def _fill_pads(self, selected: str | None = None) -> None:
        """Fill the table, select `selected` (a pad id) again or the first pad, and show the
        selected pad's history and chart from the new rows: after Refresh they must not stay
        stale (the selection may not change, so no selection signal would redraw them)."""
        t = self.pads_table
        t.blockSignals(True)
        try:
            t.clearSelection()
            t.setRowCount(len(self.rows))
            for i, r in enumerate(self.rows):
                for j, v in enumerate(pad_cells(r)):
                    t.setItem(i, j, _item(v))
            ids = [r.pad_id for r in self.rows]
            if self.rows:
                t.selectRow(ids.index(selected) if selected in ids else 0)
        finally:
            t.blockSignals(False)
        self._show_pad()

    def selected_pad(self) -> str | None:
        """The pad id of the selected row, if any."""
        i = self.pads_table.currentRow()
        return self.rows[i].pad_id if 0 <= i < len(self.rows) else None

    def _show_pad(self) -> None:
        i = self.pads_table.currentRow()
        if not 0 <= i < len(self.rows):
            self.pad_history.clear()
            self.pad_history.setHeaderLabels(["Pad history"])
            self.chart.set_usage([])
            return
        r = self.rows[i]
        tree = self.pad_history
        tree.clear()
        tree.setHeaderLabels([pad_heading(r)])
        for e in r.events:
            item = QTreeWidgetItem([event_line(e)])  # tree items are plain text
            for line in details_json(e.payload).splitlines():
                item.addChild(QTreeWidgetItem([line]))
            tree.addTopLevelItem(item)
        for note in pad_notes(r):
            tree.addTopLevelItem(QTreeWidgetItem([note]))
        self.chart.title = "Consumption over time (selected pad)"
        self.chart.set_usage(r.usage)

    def selected_pad_id(self) -> str | None:
        i = self.pads_table.currentRow()
        return self.rows[i].pad_id if 0 <= i < len(self.rows) else None

    def history_lines(self) -> list[str]:
        """The detail pane's top-level lines, as shown."""
        t = self.pad_history
        return [t.topLevelItem(i).text(0) for i in range(t.topLevelItemCount())]

    # -- custody transfer -------------------------------------------------------------------
    def transfer_selected(self) -> None:
        """Recipient and bag serial (twice), then both officers; the lifecycle call runs on a
        worker inside the officers' dialog, and its outcome is shown in the banner."""
        i = self.pads_table.currentRow()
        if not 0 <= i < len(self.rows):
            self.verify_banner.show_message("warn", "Select the pad to transfer first.")
            return
        r = self.rows[i]
        dlg = TransferDialog(r.pad_id, pad_display(r.pad_id), r.state, r.bag_serial, self)
        dlg.request_ready.connect(self._approve_transfer)
        dlg.open()
        self.transfer_dialog = dlg
        self.last_dialog = dlg

    def _approve_transfer(self, req: TransferRequest) -> None:
        facility = self.facility
        what = (
            f"Transfer pad {req.pad_display} to {req.to}, bag serial {req.bag_serial}."
            if not req.serial_differs
            else f"The bag serial {req.bag_serial} DIFFERS from the recorded "
            f"{req.recorded_serial or '(none)'}: approving records a custody exception and "
            f"the pad {req.pad_display} is NOT transferred."
        )
        dlg = TwoOfficerDialog(
            self.runner,
            "Approve the custody transfer",
            what + " Two officers approve, each with their own passphrase.",
            self.officer_names,
            action=lambda approvers: run_transfer(facility, req, approvers),
            parent=self,
        )
        dlg.accepted.connect(lambda: self._transfer_done(dlg.result_value))
        dlg.open()
        self.last_dialog = dlg

    def _transfer_done(self, outcome: TransferOutcome) -> None:
        self.transfer_outcome = outcome
        if outcome.done:
            self.verify_banner.show_message("ok", outcome.message)
        else:
            self.verify_banner.show_message("error", f"Transfer NOT done: {outcome.message}")
        self.refresh(keep_banner=True)

    # -- event log --------------------------------------------------------------------------
    def _build_log(self) -> QWidget:
        w = QWidget(self)
        lay = QVBoxLayout(w)
        row = QHBoxLayout()
        self.type_filter = QComboBox(w)
        self.type_filter.addItem("All event types", "")
        self.type_filter.currentIndexChanged.connect(self._fill_log)
        self.text_filter = QLineEdit(w)
        self.text_filter.setPlaceholderText("Filter: officer, pad id, any text…")
        self.text_filter.textChanged.connect(self._fill_log)
        row.addWidget(PlainLabel("Type", w, wrap=False))
        row.addWidget(self.type_filter)
        row.addWidget(self.text_filter, 1)
        lay.addLayout(row)
        self.log_table = QTableWidget(0, 5, w)
        self.log_table.setHorizontalHeaderLabels(
            ["#", "Time (local)", "Event", "Actors / approvals", "What"]
        )
        self.log_table.verticalHeader().setVisible(False)
        self.log_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.log_table.horizontalHeader().setStretchLastSection(True)
        self.log_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        lay.addWidget(self.log_table, 1)
        return w

    def _fill_log(self) -> None:
        want_type = self.type_filter.currentData() or ""
        needle = self.text_filter.text().strip().lower()
        shown = []
        for e in self.events:
            if want_type and e.type != want_type:
                continue
            people, what, haystack = log_columns(e)
            if needle and needle not in haystack:
                continue
            shown.append((str(e.seq), local_time(e.time), event_title(e.type), people, what))
        self.log_table.setRowCount(len(shown))
        for i, values in enumerate(shown):
            for j, v in enumerate(values):
                self.log_table.setItem(i, j, _item(v))

    # -- officers ---------------------------------------------------------------------------
    def _build_officers(self) -> QWidget:
        w = QWidget(self)
        lay = QVBoxLayout(w)
        self.officer_table = QTableWidget(0, 4, w)
        self.officer_table.setHorizontalHeaderLabels(["Name", "Role", "State", "Key fingerprint"])
        self.officer_table.verticalHeader().setVisible(False)
        self.officer_table.horizontalHeader().setStretchLastSection(True)
        self.officer_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        lay.addWidget(self.officer_table, 1)
        # Fewer than two active officers after the genesis pair: say so, and what to do.
        self.quorum_warning = PlainLabel("", w)
        self.quorum_warning.setObjectName("quorumWarning")
        self.quorum_warning.hide()
        lay.addWidget(self.quorum_warning)
        row = QHBoxLayout()
        self.enrol_button = QPushButton("E&nrol officer… (two officers)", w)
        self.enrol_button.clicked.connect(self.enrol_officer)
        self.retire_button = QPushButton("R&etire selected officer… (two officers)", w)
        self.retire_button.clicked.connect(self.retire_selected)
        row.addStretch(1)
        row.addWidget(self.enrol_button)
        row.addWidget(self.retire_button)
        lay.addLayout(row)
        return w

    def _fill_officers(self, officers: list[Any], warning: str | None = None) -> None:
        self.officers = officers
        self.quorum_warning.setText(warning or "")
        self.quorum_warning.setVisible(bool(warning))
        self.officer_names = [o.name for o in officers if o.signer]
        t = self.officer_table
        t.setRowCount(len(officers))
        for i, o in enumerate(officers):
            for j, v in enumerate(
                (o.name, o.role, "active" if o.active else "retired", o.fingerprint)
            ):
                t.setItem(i, j, _item(v))

    def enrol_officer(self) -> None:
        """The new officer's name, role and passphrase, then (after the first two) two
        officers approve (`app.gui.enrol_dialog`)."""
        self.enrolment = Enrolment(
            self.runner,
            self.facility,
            self.officer_names,
            self,
            done=self._enrolled,
            message=self.verify_banner.show_message,
        )
        self.last_dialog = self.enrolment.dialog

    def _enrolled(self, event: Any) -> None:
        name = event.payload.get("name", "")
        self.verify_banner.show_message("ok", f"Officer {name} enrolled (event {event.seq}).")
        self.refresh(keep_banner=True)

    def retire_selected(self) -> None:
        i = self.officer_table.currentRow()
        if not 0 <= i < len(getattr(self, "officers", [])):
            self.verify_banner.show_message("warn", "Select the officer to retire first.")
            return
        name = self.officers[i].name
        facility = self.facility
        dlg = TwoOfficerDialog(
            self.runner,
            "Retire an officer",
            f"Retire officer {name}? A retired officer can never approve again. Two other "
            "active officers approve, each with their own passphrase.",
            [n for n in self.officer_names if n != name] or self.officer_names,
            action=lambda approvers: facility.retire_officer(name, approvers),
            parent=self,
        )
        dlg.accepted.connect(self.refresh)
        dlg.open()
        self.last_dialog = dlg

    # -- loading ----------------------------------------------------------------------------
    def refresh(self, keep_banner: bool = False) -> None:
        """Reload the pads, the log and the officers, and re-verify the ledger. With
        `keep_banner` an action's outcome stays in the banner instead of the verification."""
        facility = self.facility
        self._keep_banner = keep_banner
        task = self.runner.run(lambda w: load_custody(facility), "custody-load")
        task.finished.connect(self._loaded)
        task.failed.connect(lambda e: self.verify_banner.show_message("error", error_text(e)))
        self.verify()

    def _loaded(self, data: dict[str, Any]) -> None:
        selected = self.selected_pad()
        self.events = data["events"]
        self.rows = data["rows"]
        types = sorted({e.type for e in self.events})
        keep = self.type_filter.currentData()
        self.type_filter.blockSignals(True)
        self.type_filter.clear()
        self.type_filter.addItem("All event types", "")
        for t in types:
            self.type_filter.addItem(t, t)
        self.type_filter.setCurrentIndex(max(0, self.type_filter.findData(keep)))
        self.type_filter.blockSignals(False)
        self._fill_pads(selected)
        self._fill_log()
        self._fill_officers(data["officers"], data.get("quorum_warning"))

    def verify(self) -> None:
        self.verify_button.setEnabled(False)
        task = self.runner.run(lambda w: self.facility.verify(), "ledger-verify")
        task.finished.connect(self.show_report)
        task.failed.connect(self._verify_failed)

    def show_report(self, report: VerifyReport) -> None:
        self.verify_button.setEnabled(True)
        self.report = report
        when = dt.datetime.now().strftime("%H:%M:%S")
        if report.ok and self._keep_banner:
            self._keep_banner = False  # the action's outcome stays; the ledger still verifies
            return
        self._keep_banner = False
        self.verify_banner.show_message(*verify_banner(report, when))

    def _verify_failed(self, exc: BaseException) -> None:
        self.verify_button.setEnabled(True)
        self.verify_banner.show_message("error", f"Ledger could not be verified: {error_text(exc)}")

    def export_checkpoint(self) -> None:
        dirs = self.file_dialog_dirs() if self.file_dialog_dirs else []
        if no_allowed_folder(dirs):
            self.verify_banner.show_message(
                "warn", "No export folder or USB is available on this kiosk: nothing exported."
            )
            return
        default_dir = self.facility.exports_dir()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = confined_open_file(
            self,
            "Export a signed checkpoint",
            dirs,
            start=default_dir,
            save=True,
            suggested=f"checkpoint-{stamp}.txt",
        )
        if path is None:
            return
        facility = self.facility
        task = self.runner.run(lambda w: facility.export_checkpoint(path), "export-checkpoint")
        task.finished.connect(
            lambda p: self.verify_banner.show_message("ok", f"Signed checkpoint written to {p}.")
        )
        task.failed.connect(lambda e: self.verify_banner.show_message("error", error_text(e)))
