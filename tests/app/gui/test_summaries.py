"""Readable summaries: history lines, the newest pad chosen, the kiosk unlock passphrase."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace as NS

from app.gui.event_text import event_line
from app.gui.install_settings import InstallSettings
from app.gui.kiosk_unlock import check_unlock_passphrase, write_unlock_file
from app.gui.main_window import MainWindow
from app.gui.startup import Started
from app.gui.step_summary import step_summary
from app.gui.usb_detect import DetectedPad, DeviceInfo
from app.gui.workers import WorkerRunner
from app.gui.workstation_model import preferred_pad
from app.gui.workstation_view import WorkstationView
from custody.pad.manifest import Direction

FAST = {"iterations": 1, "lanes": 1, "memory_cost_kib": 8}


def test_untrusted_braces_and_markup_stay_plain_words():
    facts = {"ceremony_id": "C-1", "mark": "PRACTICE", "bag_serial": "<b>x</b>"}
    text = step_summary("seal", facts).text()
    assert "Bag serial: <b>x</b>" in text  # shown as typed, in plain-text widgets
    assert "{" not in step_summary("unknown_step", {"a": {"b": 1}, "c": [1, 2]}).text()


def test_event_line_is_readable():
    e = NS(
        seq=7,
        time="2026-11-23T17:21:27.399Z",
        type="pad.facility_copy_written",
        actors=(),
        approvals=[{"officer": "Officer A"}, {"officer": "Officer B"}],
        payload={
            "hsm": {
                "model": "SoftHSM v2",
                "serial": "05d2aa",
                "key_label": "reddoor-pad-dc13" + "0" * 28,
                "chunks": 4,
                "mechanism": "AES-256-GCM on the token",
            }
        },
    )
    line = event_line(e)
    assert line.startswith("#7 2026-11-2")
    assert "Facility copy written — HSM SoftHSM v2 serial 05d2…" in line
    assert "4 chunk(s) AES-256-GCM; approved by Officer A, Officer B" in line
    assert "{" not in line and "T17:21" not in line


def test_a_recovery_enrolment_says_so():
    e = NS(
        seq=9,
        time="2026-11-23T17:21:27.399Z",
        type="officer.enrolled",
        actors=("carol",),
        approvals=[{"officer": "alice"}],
        payload={
            "name": "carol",
            "role": "officer",
            "fingerprint": "SHA256:ab",
            "recovery": {"so_holder": "Sam", "reason": "bob left", "method": "m"},
        },
    )
    line = event_line(e)
    assert "RECOVERY: SO PIN held by Sam, bob left; approved by alice" in line


def _pad(path: str, created: str, left: int) -> DetectedPad:
    manifest = NS(created=created, pad_id_display=f"PAD-{path}", mark=NS(value="PRACTICE"))
    status = NS(
        manifest=manifest,
        remaining={Direction.W2F: left, Direction.F2W: left},
        length={Direction.W2F: 1000, Direction.F2W: 1000},
        warnings=lambda: [],
        queries_left=left,
        days_left=1.0,
        queries_per_day=100.0,
    )
    return DetectedPad(Path("/usb") / path, DeviceInfo(), status)  # type: ignore[arg-type]


def test_workstation_picks_the_newest_pad_with_bytes_left(qtbot):
    found = [
        _pad("old", "2026-01-01T00:00:00Z", 500),
        _pad("newest-used-up", "2026-03-01T00:00:00Z", 0),
        _pad("new", "2026-02-01T00:00:00Z", 500),
        _pad("older", "2025-12-01T00:00:00Z", 500),
    ]
    assert preferred_pad(found) == 2
    assert preferred_pad([found[1]]) == 0  # only a used-up pad: still shown and selected
    runner = WorkerRunner()
    view = WorkstationView(runner)
    qtbot.addWidget(view)
    view._on_detected(found)
    assert view.selected_pad_dir() == Path("/usb/new")
    assert "PAD-new" in view.usb_label.text()
    assert "used up" in view.pad_combo.itemText(1)
    view.pad_combo.setCurrentIndex(0)  # the list stays selectable, and a rescan keeps it
    view._on_detected(found)
    assert view.selected_pad_dir() == Path("/usb/old")
    runner.stop_all()


def test_kiosk_unlock_file(tmp_path):
    path = write_unlock_file(tmp_path / "kiosk-unlock.json", "correct horse battery", **FAST)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert "correct horse" not in path.read_text()
    assert check_unlock_passphrase(path, "correct horse battery")
    assert not check_unlock_passphrase(path, "wrong passphrase!!")
    os.chmod(path, 0o644)  # readable by others: unlocks nothing
    assert not check_unlock_passphrase(path, "correct horse battery")
    assert not check_unlock_passphrase(tmp_path / "missing.json", "correct horse battery")


def test_workstation_kiosk_without_facility_unlocks_with_the_kiosk_passphrase(qtbot, tmp_path):
    unlock = write_unlock_file(tmp_path / "kiosk-unlock.json", "correct horse battery", **FAST)
    settings = InstallSettings(
        kiosk=True,
        mode="workstation",
        router_endpoint="tcp/127.0.0.1:9",
        kiosk_unlock_file=str(unlock),
        usb_roots=[str(tmp_path / "usb")],
    )
    w = MainWindow(
        settings, tmp_path / "no-home", kiosk=True, started=Started(None, None, "tcp/127.0.0.1:9")
    )
    qtbot.addWidget(w)
    w.show()
    assert w.locked
    w.request_unlock()
    dlg = w.unlock_dialog
    assert (
        not dlg.name.isVisible()
        and "kiosk unlock passphrase" in dlg.findChild(type(dlg.error)).text()
    )
    dlg.passphrase.setText("wrong passphrase!!")
    dlg.try_accept()
    qtbot.waitUntil(lambda: "Refused" in dlg.error.text(), timeout=15000)
    assert w.locked
    dlg.passphrase.setText("correct horse battery")
    dlg.try_accept()
    qtbot.waitUntil(lambda: not w.locked, timeout=15000)
    w.close()  # quitting asks again
    assert w.isVisible()
    w.exit_dialog.passphrase.setText("correct horse battery")
    w.exit_dialog.try_accept()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=15000)


def test_workstation_kiosk_without_unlock_file_says_session_manager(qtbot, tmp_path):
    settings = InstallSettings(
        kiosk=True, mode="workstation", kiosk_unlock_file=str(tmp_path / "none.json")
    )
    w = MainWindow(settings, tmp_path / "no-home", kiosk=True, started=Started(None, None, ""))
    qtbot.addWidget(w)
    w.request_exit()
    assert "session manager" in w.exit_dialog.findChild(type(w.exit_dialog.error)).text()
    assert not w.verify_officer("", "anything at all")
    w.exit_dialog.reject()
    w._may_close = True
    w.close()
