"""The GUI review's defects, each pinned: kiosk confinement, lock screen, full screen, secrets
over the lock screen, chooser text, one pad-status source, custody transfer, real start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog, QFileDialog

from app.gui.custody_view import CustodyView
from app.gui.facility import Facility
from app.gui.install_settings import InstallSettings
from app.gui.kiosk import LockScreen, confined_open_file, kiosk_shape, show_kiosk
from app.gui.main_window import MainWindow
from app.gui.startup import KioskNeedsHome, Started, bootstrap
from app.gui.style import style_sheet
from app.gui.workers import WorkerRunner
from app.gui.workstation_model import pad_low_threshold
from app.gui.workstation_view import WorkstationView
from custody.pad.manifest import Direction
from tests.conftest import REPO


# -- 1. file dialogs stay confined when no allowed folder exists ------------------------------
def test_confined_dialog_refuses_when_no_configured_folder_exists(qtbot):
    opened = []

    def opener(dlg: QFileDialog) -> int:
        opened.append(dlg)
        dlg.selectFile("/etc/passwd")
        return QDialog.DialogCode.Accepted

    assert confined_open_file(None, "Open", [Path("/nonexistent-usb")], opener=opener) is None
    assert opened == [], "the dialog opened although no allowed folder exists"
    # no roots at all (a desktop install): not confined
    assert confined_open_file(None, "Open", [], opener=opener) == Path("/etc/passwd")


def test_confined_dialog_keeps_the_existing_roots(qtbot, tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "a.txt").write_text("x")

    def opener(dlg: QFileDialog) -> int:
        dlg.selectFile(str(usb / "a.txt"))
        return QDialog.DialogCode.Accepted

    roots = [Path("/nonexistent-usb"), usb]
    assert confined_open_file(None, "Open", roots, opener=opener) == usb / "a.txt"


# -- 2. the lock screen paints its dark background --------------------------------------------
def test_lock_screen_is_dark_with_light_text(qtbot):
    lock = LockScreen()
    lock.setStyleSheet(style_sheet(InstallSettings()))  # the main window's one style sheet
    qtbot.addWidget(lock)
    lock.resize(400, 300)
    lock.show()
    assert lock.testAttribute(Qt.WidgetAttribute.WA_StyledBackground)
    img = lock.grab().toImage()
    corner = QColor(img.pixel(5, 5))
    assert corner.lightness() < 60, f"lock screen background is {corner.name()}, not dark"


# -- 3. kiosk: full screen, frameless, on top, covering the screen ----------------------------
def test_show_kiosk_is_full_screen_frameless_on_top(qtbot, tmp_path):
    settings = InstallSettings(kiosk=True, mode="workstation", router_endpoint="tcp/127.0.0.1:9")
    w = MainWindow(settings, tmp_path / "none", kiosk=True, started=Started(None, None, "x"))
    qtbot.addWidget(w)
    show_kiosk(w)
    shape = kiosk_shape(w)
    assert shape == {"fullscreen": True, "frameless": True, "on_top": True, "covers_screen": True}
    w._may_close = True
    w.close()


def _launch(tmp_path: Path, *args: str, settings: dict | None = None) -> dict:
    """The real start-up path (`python -m app` = the `reddoor` entry point), offscreen, until
    the main window is shown; the probe prints one JSON line and quits."""
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        REDDOOR_APP_EXIT_AFTER_SHOW="1",
        REDDOOR_STATE_DIR=str(tmp_path / "state"),
        REDDOOR_HOME=str(tmp_path / "home"),
    )
    if settings is not None:
        path = tmp_path / "app.json"
        path.write_text(json.dumps(settings))
        env["REDDOOR_APP_SETTINGS"] = str(path)
    proc = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith("{")]
    assert lines, proc.stdout.decode() + proc.stderr.decode()
    return json.loads(lines[-1])


def test_real_launch_shows_the_kiosk_full_screen(tmp_path):
    settings = {"mode": "workstation", "router_endpoint": "tcp/127.0.0.1:9"}
    shown = _launch(tmp_path, "--kiosk", settings=settings)
    assert shown["shown"] and shown["kiosk"]
    assert shown["fullscreen"] and shown["frameless"] and shown["on_top"]
    assert shown["covers_screen"]


def test_real_launch_normal_window_is_not_kiosk(tmp_path):
    settings = {"mode": "workstation", "router_endpoint": "tcp/127.0.0.1:9"}
    shown = _launch(tmp_path, settings=settings)
    assert shown["shown"] and not shown["kiosk"] and not shown["frameless"]
    assert shown["window_icon"]  # the red door from resources/icons (QApplication.setWindowIcon)


# -- 4. no secrets-bearing dialog over the lock screen ----------------------------------------
def test_kiosk_never_creates_a_practice_facility(tmp_path):
    with pytest.raises(KioskNeedsHome, match="never creates one"):
        bootstrap(tmp_path / "fresh", InstallSettings(kiosk=True), start_link=False, kiosk=True)
    assert not (tmp_path / "fresh" / "settings.json").exists()


def test_kiosk_first_start_stays_locked_and_says_why(qtbot, tmp_path):
    settings = InstallSettings(kiosk=True, idle_lock_seconds=10)
    w = MainWindow(settings, tmp_path / "fresh", kiosk=True, start_link=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: "never creates one" in w.lock_screen.reason.text(), timeout=30000)
    assert w.locked and getattr(w, "first_run_dialog", None) is None
    w._may_close = True
    w.close()


def test_first_run_passphrases_wait_for_unlock(qtbot, practice_home):
    home, first = practice_home
    settings = InstallSettings(kiosk=True, idle_lock_seconds=10)
    facility = Facility(home)
    w = MainWindow(settings, home, kiosk=True, started=Started(facility, None, "", first_run=first))
    qtbot.addWidget(w)
    w.show()
    assert w.locked and getattr(w, "first_run_dialog", None) is None
    w.unlock()
    assert w.first_run_dialog.isVisible()
    w.first_run_dialog.accept()
    w._may_close = True
    w.close()


# -- 5. chooser text and header ---------------------------------------------------------------
def test_chooser_shows_the_ampersand_and_the_header_leaves_starting(qtbot, practice_home, settings):
    home, _first = practice_home
    w = MainWindow(settings, home, start_link=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.started is not None, timeout=30000)
    button = w.chooser.buttons["custody"]
    assert button.text() == "C&ustody && audit"  # renders as "Custody & audit", Alt+U
    assert "Starting" not in w.mode_label.text()
    assert "Ready" in w.chooser.status.label.text()
    w.close()


# -- 7. one pad-status source; a relative "pad low" threshold ---------------------------------
def _status(left_w2f: int, left_f2w: int, queries: int, length: int = 1 << 20) -> NS:
    return NS(
        remaining={Direction.W2F: left_w2f, Direction.F2W: left_f2w},
        length={Direction.W2F: length, Direction.F2W: 3 * length},
        queries_left=queries,
    )


def test_pad_low_threshold_is_the_lower_of_a_count_and_a_fraction():
    practice = _status(1 << 20, 3 << 20, 480)  # a fresh 4 MiB practice pad: ~480 queries
    assert pad_low_threshold(practice, 500, 0.10) == 48  # not "low" from the start
    big = _status(1 << 30, 3 << 30, 500_000, length=1 << 30)
    assert pad_low_threshold(big, 500, 0.10) == 500
    half = _status(1 << 19, 3 << 20, 240)  # half of the tighter direction used
    assert pad_low_threshold(half, 500, 0.10) == 48
    assert InstallSettings().low_pad_fraction == 0.10
    assert InstallSettings.from_dict({"low_pad_fraction": 7}).low_pad_fraction == 1.0
    # A hand-edited settings file: 1024.0 is taken as 1024, anything else falls back.
    assert InstallSettings.from_dict({"cover_bucket": 1024.0}).cover_bucket == 1024
    assert type(InstallSettings.from_dict({"cover_bucket": 1024.0}).cover_bucket) is int
    assert InstallSettings.from_dict({"cover_bucket": "big"}).cover_bucket == 1024
    assert InstallSettings.from_dict({"cover_rate": 2}).cover_rate == 2.0


# -- 8. custody transfer from the GUI ----------------------------------------------------------
def _closed_ceremony(home: Path, passphrases: dict[str, str], tmp: Path) -> None:
    """A practice ceremony through the CLI (OS CSPRNG, 1 MiB): fast, and really closed."""
    usb = tmp / "customer-usb"
    usb.mkdir()
    args = []
    for i, (name, pw) in enumerate(passphrases.items()):
        f = tmp / f"officer{i}.pass"
        f.write_text(pw + "\n")
        f.chmod(0o600)
        args += ["--officer", f"{name}={f}"]
    cmd = [sys.executable, "-m", "app", "ceremony", "run", "--size", "1M", "--source", "os"]
    cmd += ["--customer-dir", str(usb), *args, "--bag-serial", "RD-000777", "--json"]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=dict(os.environ, REDDOOR_HOME=str(home)),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()


def _approve(qtbot, view, passphrases):
    dlg = view.last_dialog
    (a, pa), (b, pb) = list(passphrases.items())
    dlg.set_officer(0, a, pa)
    dlg.set_officer(1, b, pb)
    dlg.try_accept()
    return dlg


def test_custody_transfer_through_the_gui(qtbot, practice_home, tmp_path):
    home, first = practice_home
    _closed_ceremony(home, first.passphrases, tmp_path)
    facility = Facility(home)
    runner = WorkerRunner()
    view = CustodyView(runner, facility)
    qtbot.addWidget(view)
    view.show()
    view.refresh()
    qtbot.waitUntil(lambda: any(r.bag_serial == "RD-000777" for r in view.rows), timeout=20000)
    qtbot.waitUntil(lambda: view.report is not None, timeout=20000)
    row = next(i for i, r in enumerate(view.rows) if r.bag_serial == "RD-000777")
    view.pads_table.selectRow(row)
    assert view.rows[row].state == "sealed"

    # a serial that differs: refused on screen when the two entries differ …
    view.transfer_selected()
    tdlg = view.transfer_dialog
    tdlg.to_edit.setText("Courier C. Jones")
    tdlg.serial_edit.setText("RD-000778")
    tdlg.serial_again.setText("RD-000779")
    tdlg.try_accept()
    assert "differ" in tdlg.error.text() and tdlg.isVisible()
    # … and, typed the same twice, it is an exception record, not a transfer
    tdlg.serial_again.setText("RD-000778")
    assert "NOT transferred" in tdlg.warning.text()
    tdlg.try_accept()
    assert not tdlg.isVisible()
    odlg = _approve(qtbot, view, first.passphrases)
    qtbot.waitUntil(lambda: view.transfer_outcome is not None, timeout=30000)
    assert odlg.result() == QDialog.DialogCode.Accepted
    out = view.transfer_outcome
    assert not out.done and "exception recorded" in out.message
    assert view.verify_banner.level == "error" and "NOT done" in view.verify_banner.label.text()
    types = [e.type for e in facility.events()]
    assert "custody.exception" in types and "custody.transferred" not in types

    # the recorded serial: transferred, recorded, the table refreshed
    view.transfer_outcome = None
    view.transfer_selected()
    tdlg = view.transfer_dialog
    tdlg.to_edit.setText("Courier C. Jones")
    tdlg.serial_edit.setText("RD-000777")
    tdlg.serial_again.setText("RD-000777")
    assert tdlg.warning.text() == ""
    tdlg.try_accept()
    odlg = view.last_dialog
    (a, _pa), (b, pb) = list(first.passphrases.items())
    odlg.set_officer(0, a, "not the passphrase")
    odlg.set_officer(1, b, pb)
    odlg.try_accept()
    qtbot.waitUntil(lambda: "Refused" in odlg.error.text(), timeout=30000)
    assert odlg.isVisible()  # a wrong passphrase: the dialog stays for another try
    _approve(qtbot, view, first.passphrases)
    qtbot.waitUntil(lambda: view.transfer_outcome is not None, timeout=30000)
    assert view.transfer_outcome.done
    assert view.verify_banner.level == "ok" and "transferred" in view.verify_banner.label.text()
    qtbot.waitUntil(lambda: view.rows[row].state == "in transit", timeout=20000)
    assert facility.verify().ok
    runner.stop_all()
    facility.close()


# -- 6. 1024x768: the workstation's ask box and the custody columns fit ------------------------
def test_workstation_ask_row_does_not_overlap_the_question(qtbot):
    runner = WorkerRunner()
    view = WorkstationView(runner)
    qtbot.addWidget(view)
    view.resize(1000, 640)
    view.show()
    qtbot.waitExposed(view)
    q = view.question_edit.geometry()
    b = view.attach_button.geometry()
    assert b.top() >= q.bottom(), (q, b)
    runner.stop_all()
