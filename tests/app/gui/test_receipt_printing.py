"""Step 10 of the wizard: the receipt's path shown and opened, printed through a real
QPrintDialog, and "the printed receipt is signed" only while that receipt exists."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QComboBox, QLineEdit

from app.gui import ceremony_run
from app.gui.ceremony_wizard import CeremonyStation
from app.gui.receipt_preview import MIN_PREVIEW_HEIGHT
from app.gui.workers import WorkerRunner


def answer_until(qtbot, station, passphrases, stop) -> None:
    """Answer as the officers would until `stop(question)` is true for the question asked."""
    names = list(passphrases)

    def step() -> bool:
        q = station.question
        if q is None:
            return False
        if stop(q):
            return True
        if q.kind == "credentials":
            name = names[q.args["index"]]
            station.officer_combo.setCurrentText(name)
            station.passphrase_edit.setText(passphrases[name])
        elif q.kind == "bag_serial":
            station.text_edit.setText("BAG-0042")
        station.answer(True)
        return False

    qtbot.waitUntil(step, timeout=120000)


def at_step_10(q) -> bool:
    return q.kind == "confirm" and q.step is not None and q.step.id == "close"


class UrlCatcher(QObject):
    """Stands in for the desktop's PDF viewer (QDesktopServices.setUrlHandler)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open_url(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def start(qtbot, facility):
    """Start a ceremony at a station; a failing test still cancels it (the facility's thread
    waits on the station's question until then)."""
    made: list[tuple[CeremonyStation, WorkerRunner]] = []

    def go(**kw) -> tuple[CeremonyStation, WorkerRunner]:
        runner = WorkerRunner()
        station = CeremonyStation(runner, facility, **kw)
        qtbot.addWidget(station)
        station.show()
        qtbot.waitUntil(lambda: station._names_cache is not None, timeout=10000)
        station.start()
        made.append((station, runner))
        return station, runner

    yield go
    for station, runner in made:
        if station.task is not None and not station.task.ended:
            station.task.cancel()
            qtbot.waitUntil(lambda s=station: s.task.ended, timeout=30000)
        runner.stop_all()
        station.shutdown()


def test_step_10_prints_the_receipt_through_a_real_print_dialog(
    qtbot, start, facility, practice_home, tmp_path
):
    _home, first = practice_home
    station, _runner = start()
    answer_until(qtbot, station, first.passphrases, at_step_10)
    receipt = station.receipt
    assert receipt is not None and receipt.is_file()
    # The receipt's pages get the room at 1024x768, not a 160 px strip.
    station.resize(1024, 768)
    qtbot.waitUntil(lambda: station.preview.height() >= MIN_PREVIEW_HEIGHT, timeout=5000)
    # Step 10 says where the receipt is and offers to open it.
    assert station.receipt_row.isVisible()
    assert str(receipt) in station.receipt_row.path_label.text()
    assert str(receipt) in station.prompt_box.prompt_text.text()
    assert station.prompt_box.yes_button.isEnabled()
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open_url")
    try:
        assert station.receipt_row.open_button.isVisible()
        station.receipt_row.open_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in catcher.urls] == [str(receipt)]

    # Print: Qt's own dialog opens (PySide6 6.12 raised a TypeError here); print to a PDF file.
    station.print_button.click()
    dlg = station.print_dialog
    assert isinstance(dlg, QPrintDialog) and dlg.isVisible()
    printed = tmp_path / "printed-receipt.pdf"
    # As an officer would: "Print to File (PDF)" (no CUPS printer here), a file name, Print.
    printers = dlg.findChild(QComboBox, "printers")
    assert printers.currentText() == "Print to File (PDF)"
    dlg.findChild(QLineEdit, "filename").setText(str(printed))
    dlg.accept()
    assert dlg.printer().outputFormat() == QPrinter.OutputFormat.PdfFormat
    qtbot.waitUntil(lambda: "Receipt sent to" in station.banner.label.text(), timeout=10000)
    assert station.banner.level == "ok", station.banner.label.text()
    assert str(printed) in station.banner.label.text()
    # The receipt's own bytes: the SHA-256 step 10 records holds for the printout's file.
    assert printed.read_bytes() == receipt.read_bytes()
    sha = hashlib.sha256(printed.read_bytes()).hexdigest()
    assert station.question.args["facts"]["receipt_sha256"] == sha

    station.answer(True)
    qtbot.waitUntil(lambda: station.task.ended, timeout=30000)
    assert station.task.error is None, station.banner.label.text()
    assert "ceremony.receipt_signed" in [e.type for e in facility.events()]


def test_a_kiosk_prints_to_a_printer_only(qtbot, start, practice_home, tmp_path):
    """On a kiosk there is no Open button and no "Print to File": a file name set on the
    printer does not survive the dialog, and no printer chosen says where the receipt is."""
    _home, first = practice_home
    allowed = tmp_path / "exports"
    allowed.mkdir()
    station, _runner = start(file_dialog_dirs=lambda: [allowed])
    answer_until(qtbot, station, first.passphrases, at_step_10)
    assert not station.receipt_row.open_button.isVisible()
    assert station.receipt_row.save_button.isVisible()
    station.print_button.click()
    dlg = station.print_dialog
    printers = dlg.findChild(QComboBox, "printers")
    assert "Print to File (PDF)" not in [printers.itemText(i) for i in range(printers.count())]
    dlg.printer().setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    dlg.printer().setOutputFileName(str(tmp_path / "escape.pdf"))
    dlg.accept()
    qtbot.waitUntil(lambda: station.banner.level == "error", timeout=10000)
    assert "No printer chosen" in station.banner.label.text()
    assert str(station.receipt) in station.banner.label.text()
    assert not (tmp_path / "escape.pdf").exists()
    # Save a copy goes only where the kiosk allows.
    station.receipt_row.chooser = lambda dirs: dirs[0] / "copy.pdf"
    station.receipt_row.save_button.click()
    assert (allowed / "copy.pdf").read_bytes() == station.receipt.read_bytes()
    station.answer(True)
    qtbot.waitUntil(lambda: station.task.ended, timeout=30000)


def test_step_10_cannot_be_confirmed_without_the_receipt(qtbot, start, facility, practice_home):
    _home, first = practice_home
    station, _runner = start()
    answer_until(qtbot, station, first.passphrases, at_step_10)
    receipt = station.receipt
    moved = receipt.with_suffix(".away")
    receipt.rename(moved)
    q = station.question
    station.ask(q)  # the question as shown now: the receipt is gone
    assert not station.prompt_box.yes_button.isEnabled()
    assert "missing" in station.prompt_box.prompt_error.text()
    station.answer(True)
    assert not q._done.is_set()  # not confirmed
    # "No" at step 10 destroys nothing: the pad is made and sealed; the ceremony waits.
    station.answer(False)
    qtbot.waitUntil(lambda: station.task.ended, timeout=30000)
    assert station.banner.level == "warn" and "waits" in station.banner.label.text()
    status = ceremony_run.ceremony_status(facility.path)
    assert status["active"] and status["next_step"] == "close"
    types = [e.type for e in facility.events()]
    assert "ceremony.closed" in types and "ceremony.failed" not in types
    assert "ceremony.receipt_signed" not in types
    station.back_to_plan()
    assert "waits at step 10" in station.status_label.text()
    assert station.resume_button.isVisibleTo(station) and not station.abort_button.isVisibleTo(
        station
    )
    plan = status["plan"]
    assert (Path(plan["customer_dir"]) / "pad.bin").is_file()
    moved.rename(receipt)
