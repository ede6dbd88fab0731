"""What a newcomer expected in the custody view and the window (issue 19): report buttons with
Open / Save PDF, officer enrolment under the two-officer rule, the user guide in the app."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from app.gui.custody_view import CustodyView
from app.gui.enrol_dialog import EnrolDialog
from app.gui.facility import Facility
from app.gui.help_dialog import HelpDialog, find_guide
from app.gui.install_settings import InstallSettings
from app.gui.main_window import MainWindow
from app.gui.officer_dialogs import TwoOfficerDialog
from app.gui.startup import Started
from app.gui.workers import WorkerRunner
from custody.ledger.home import init_home
from tests.app.gui.test_review_fixes import _closed_ceremony


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open_url(self, url: QUrl) -> None:
        self.urls.append(url)


def _pdftext(path: Path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout
    return " ".join(out.decode().split())


@pytest.fixture
def view(qtbot, facility):
    runner = WorkerRunner()
    v = CustodyView(runner, facility)
    qtbot.addWidget(v)
    v.show()
    v.refresh()
    qtbot.waitUntil(lambda: v.report is not None and v.pads_table.rowCount() > 0, timeout=20000)
    yield v
    runner.stop_all()


def test_report_buttons_write_a_pdf_to_open_or_save(qtbot, practice_home, tmp_path):
    home, first = practice_home
    _closed_ceremony(home, first.passphrases, tmp_path)  # a pad with a ceremony
    facility = Facility(home)
    runner = WorkerRunner()
    v = CustodyView(runner, facility)
    qtbot.addWidget(v)
    v.show()
    v.refresh()
    qtbot.waitUntil(lambda: any(r.bag_serial == "RD-000777" for r in v.rows), timeout=20000)
    try:
        bar = v.reports
        bar.buttons["inventory"].click()
        qtbot.waitUntil(lambda: bar.last_report is not None, timeout=30000)
        inventory = bar.last_report
        assert inventory.parent == facility.exports_dir() and inventory.is_file()
        assert "Pad inventory" in _pdftext(inventory)
        assert v.verify_banner.level == "ok" and str(inventory) in v.verify_banner.label.text()
        assert str(inventory) in bar.file_row.path_label.text()
        catcher = UrlCatcher()
        QDesktopServices.setUrlHandler("file", catcher, "open_url")
        try:
            bar.file_row.open_button.click()
        finally:
            QDesktopServices.unsetUrlHandler("file")
        assert [u.toLocalFile() for u in catcher.urls] == [str(inventory)]
        bar.file_row.chooser = lambda dirs: tmp_path / "copy.pdf"
        bar.file_row.save_button.click()
        assert (tmp_path / "copy.pdf").read_bytes() == inventory.read_bytes()

        row = next(i for i, r in enumerate(v.rows) if r.bag_serial == "RD-000777")
        v.pads_table.selectRow(row)
        bar.buttons["pad"].click()
        qtbot.waitUntil(lambda: bar.last_report != inventory, timeout=30000)
        text = _pdftext(bar.last_report)
        assert "Pad custody report" in text and "RD-000777" in text
    finally:
        runner.stop_all()
        facility.close()


def _enrol(qtbot, v, name: str, passphrase: str) -> EnrolDialog:
    v.enrol_button.click()
    dlg = v.last_dialog
    assert isinstance(dlg, EnrolDialog)
    dlg.name_edit.setText(name)
    dlg.pass_edit.setText(passphrase)
    dlg.pass_again.setText(passphrase)
    dlg.try_accept()
    return dlg


def test_enrolling_an_officer_needs_two_other_officers(qtbot, view, facility, practice_home):
    _home, first = practice_home
    (a, pa), (b, pb) = list(first.passphrases.items())
    view.tabs.setCurrentIndex(2)
    view.enrol_button.click()
    dlg = view.last_dialog
    dlg.name_edit.setText("Officer C")
    dlg.pass_edit.setText("charlie passphrase")
    dlg.pass_again.setText("charlie passphrasE")
    dlg.try_accept()
    assert "differ" in dlg.error.text() and dlg.isVisible()
    assert dlg.pass_edit.text() == "" and dlg.pass_again.text() == ""  # secrets not kept
    dlg.reject()

    _enrol(qtbot, view, "Officer C", "charlie passphrase")
    qtbot.waitUntil(lambda: isinstance(view.enrolment.dialog, TwoOfficerDialog), timeout=15000)
    approve = view.enrolment.dialog
    approve.set_officer(0, a, pa)
    approve.set_officer(1, a, pa)
    approve.try_accept()
    assert "cannot count twice" in approve.error.text()
    approve.set_officer(0, a, pa)
    approve.set_officer(1, b, pb)
    approve.try_accept()
    qtbot.waitUntil(lambda: "enrolled" in view.verify_banner.label.text(), timeout=30000)
    qtbot.waitUntil(lambda: "Officer C" in view.officer_names, timeout=20000)
    event = [e for e in facility.events() if e.type == "officer.enrolled"][-1]
    assert event.payload["name"] == "Officer C"
    assert sorted(x["officer"] for x in event.approvals) == sorted([a, b])
    assert facility.verify().ok


def test_the_first_two_officers_enrol_alone(qtbot, tmp_path):
    home = tmp_path / "bare"
    init_home(home, practice=True)  # a home with no officers yet
    facility = Facility(home)
    runner = WorkerRunner()
    v = CustodyView(runner, facility)
    qtbot.addWidget(v)
    v.show()
    try:
        for name in ("First Officer", "Second Officer"):
            _enrol(qtbot, v, name, f"{name.lower()} passphrase")
            qtbot.waitUntil(lambda n=name: f"Officer {n} enrolled" in v.verify_banner.label.text())
        _enrol(qtbot, v, "Third Officer", "third officer passphrase")
        qtbot.waitUntil(lambda: isinstance(v.enrolment.dialog, TwoOfficerDialog), timeout=15000)
        assert [o.name for o in facility.officers()] == ["First Officer", "Second Officer"]
    finally:
        runner.stop_all()
        facility.close()


def test_help_shows_the_user_guide_in_the_app(qtbot, tmp_path):
    guide = find_guide()
    assert guide is not None and guide.name == "user-guide.md"
    dlg = HelpDialog(guide=guide)
    qtbot.addWidget(dlg)
    text = dlg.browser.toPlainText()
    assert "Red Door user guide" in text and "Facility officers: the ceremony station" in text
    assert not dlg.browser.openExternalLinks()
    assert str(guide) in dlg.where.text()
    w = MainWindow(
        InstallSettings(),
        tmp_path / "none",
        started=Started(None, None, "x"),
    )
    qtbot.addWidget(w)
    w.help_button.click()
    assert isinstance(w.help_dialog, HelpDialog) and w.help_dialog.isVisible()
    w.close()
