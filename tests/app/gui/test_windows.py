"""Every window and dialog opens and closes; kiosk close needs a passphrase; idle lock engages."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog

from app.gui.custody_view import CustodyView
from app.gui.facility import Facility
from app.gui.install_settings import InstallSettings
from app.gui.kiosk import confined_open_file
from app.gui.main_window import MainWindow
from app.gui.officer_dialogs import OfficerPassphraseDialog, TwoOfficerDialog
from app.gui.start_screens import FirstRunDialog
from app.gui.startup import bootstrap
from app.gui.workers import WorkerRunner


def make_window(qtbot, home: Path, settings: InstallSettings, **kw) -> MainWindow:
    w = MainWindow(settings, home, start_link=False, **kw)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.started is not None, timeout=30000)
    return w


def test_main_window_opens_every_mode_and_closes(qtbot, practice_home, settings):
    home, _first = practice_home
    w = make_window(qtbot, home, settings)
    assert w.top_banner.text() == settings.classification_text
    assert w.bottom_banner.text() == settings.classification_text
    for mode in ("custody", "workstation", "ceremony"):
        w.set_mode(mode)
        assert w.stack.currentWidget() is w.views[mode]
    w.show_chooser()
    assert w.stack.currentWidget() is w.chooser
    w.close()
    assert w._shut and w.runner.active == 0


def test_first_run_creates_the_practice_facility_and_shows_passphrases(qtbot, tmp_path, settings):
    home = tmp_path / "fresh"
    w = MainWindow(settings, home, start_link=False)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.started is not None, timeout=60000)
    first = w.started.first_run
    assert first is not None and len(first.passphrases) == 2
    dlg = w.first_run_dialog
    assert isinstance(dlg, FirstRunDialog) and dlg.isVisible()
    dlg.accept()
    w.close()


def test_dialogs_open_and_close(qtbot, facility, practice_home):
    _home, first = practice_home
    runner = WorkerRunner()
    names = list(first.passphrases)
    two = TwoOfficerDialog(runner, "Approve", "Two officers approve.", names)
    qtbot.addWidget(two)
    two.open()
    two.set_officer(0, names[0], "x" * 8)
    two.set_officer(1, names[0], "y" * 8)
    two.try_accept()
    assert "cannot count twice" in two.error.text() and two.isVisible()
    two.reject()
    one = OfficerPassphraseDialog(runner, "Unlock", "An officer unlocks.", names, lambda n, p: True)
    qtbot.addWidget(one)
    one.open()
    one.reject()
    fr = FirstRunDialog(
        type("F", (), {"home": Path("/x"), "passphrases": {"A": "p"}})(),  # minimal stand-in
    )
    qtbot.addWidget(fr)
    fr.open()
    fr.accept()
    runner.stop_all()


def test_retire_officer_needs_two_other_officers(qtbot, facility, practice_home):
    _home, first = practice_home
    from custody.ledger import officers

    # a third officer so two others can retire one
    approvers = list(first.passphrases.items())
    facility.call(
        lambda h: officers.enroll(h.ledger, "Officer C", "charlie-pass", "officer", approvers)
    )
    runner = WorkerRunner()
    view = CustodyView(runner, facility)
    qtbot.addWidget(view)
    view.refresh()
    qtbot.waitUntil(lambda: view.officer_table.rowCount() == 3, timeout=15000)
    qtbot.waitUntil(lambda: view.report is not None, timeout=15000)
    assert view.verify_banner.level == "ok" and "verifies" in view.verify_banner.label.text()
    view.officer_table.selectRow(2)
    view.retire_selected()
    dlg = view.last_dialog
    a, b = list(first.passphrases.items())
    dlg.set_officer(0, a[0], "wrong passphrase")
    dlg.set_officer(1, b[0], b[1])
    dlg.try_accept()
    qtbot.waitUntil(lambda: "Refused" in dlg.error.text(), timeout=15000)
    dlg.set_officer(0, a[0], a[1])
    dlg.set_officer(1, b[0], b[1])
    dlg.try_accept()
    qtbot.waitUntil(lambda: dlg.result() == QDialog.DialogCode.Accepted, timeout=15000)
    assert not next(o for o in facility.officers() if o.name == "Officer C").active
    qtbot.waitUntil(lambda: view.type_filter.findData("officer.retired") > 0, timeout=15000)
    view.type_filter.setCurrentIndex(view.type_filter.findData("officer.retired"))
    qtbot.waitUntil(lambda: view.log_table.rowCount() == 1, timeout=15000)
    assert facility.verify().ok
    runner.stop_all()


def test_officers_tab_says_when_one_officer_is_left(qtbot, facility, practice_home):
    """After the genesis pair, one active officer left: the tab says so and names the way out
    (issue #11: the home says so)."""
    _home, first = practice_home
    from custody.ledger import officers

    approvers = list(first.passphrases.items())
    runner = WorkerRunner()
    view = CustodyView(runner, facility)
    qtbot.addWidget(view)
    view.refresh()
    qtbot.waitUntil(lambda: view.officer_table.rowCount() == 2, timeout=15000)
    assert view.quorum_warning.isHidden()
    facility.call(lambda h: officers.retire(h.ledger, approvers[1][0], approvers))
    view.refresh()
    qtbot.waitUntil(lambda: not view.quorum_warning.isHidden(), timeout=15000)
    text = view.quorum_warning.text()
    assert "only one active officer (Officer A)" in text and "officer recover" in text
    runner.stop_all()


def test_kiosk_cannot_close_without_passphrase_and_starts_locked(qtbot, practice_home):
    home, first = practice_home
    settings = InstallSettings(kiosk=True, mode="custody", idle_lock_seconds=10)
    w = make_window(qtbot, home, settings, kiosk=True)
    assert w.locked and w.stack.currentWidget() is w.lock_screen  # returns locked on start
    screen = w.screen().geometry()
    assert w.geometry().size() == screen.size()
    w.close()
    assert w.isVisible(), "a kiosk closed without an officer's passphrase"
    dlg = w.exit_dialog
    name, pw = next(iter(first.passphrases.items()))
    dlg.name.setCurrentText(name)
    dlg.passphrase.setText("not the passphrase")
    dlg.try_accept()
    qtbot.waitUntil(lambda: "Refused" in dlg.error.text(), timeout=15000)
    assert w.isVisible()
    dlg.name.setCurrentText(name)
    dlg.passphrase.setText(pw)
    dlg.try_accept()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=15000)


def test_idle_lock_engages_and_closes_dialogs(qtbot, practice_home):
    home, _first = practice_home
    settings = InstallSettings(kiosk=True, mode="custody", idle_lock_seconds=10)
    w = make_window(qtbot, home, settings, kiosk=True)
    w.unlock()
    assert not w.locked and w.stack.currentWidget() is w.views["custody"]
    w.idle.timer.setInterval(200)  # the configured minimum is 10 s; shorten for the test
    w.idle.start()
    dlg = QDialog(w)
    dlg.open()
    qtbot.waitUntil(lambda: w.locked, timeout=5000)
    assert not dlg.isVisible()
    assert w.stack.currentWidget() is w.lock_screen
    w._may_close = True
    w.close()


def test_confined_file_dialog_refuses_other_folders(qtbot, tmp_path):
    allowed = tmp_path / "usb"
    allowed.mkdir()
    (tmp_path / "secret.txt").write_text("x")

    def opener(dlg: QFileDialog) -> int:
        assert Path(dlg.directory().absolutePath()) == allowed
        dlg.setDirectory(str(tmp_path))  # wander off
        dlg.selectFile(str(tmp_path / "secret.txt"))
        return QDialog.DialogCode.Accepted

    assert confined_open_file(None, "Open", [allowed], opener=opener) is None


def test_bootstrap_without_link(practice_home):
    home, _first = practice_home
    started = bootstrap(home, InstallSettings(), start_link=False)
    assert isinstance(started.facility, Facility) and started.link is None
    started.facility.close()


def test_no_display_is_one_clear_line_not_a_qt_abort() -> None:
    """`reddoor` without a display must stop before Qt, which would abort the process."""
    import subprocess
    import sys

    from app.gui.launch import display_problem
    from tests.conftest import REPO

    assert display_problem({}) is not None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_problem({"DISPLAY": ":0"}) is None
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = ""
    proc = subprocess.run(
        [sys.executable, "-m", "app"], env=env, cwd=REPO, capture_output=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("reddoor: error: no display")
    assert b"qt.qpa" not in proc.stderr
