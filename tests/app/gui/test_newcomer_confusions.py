"""What misled a newcomer (issue 19): the bag-serial mismatch shown as a refusal next to its
field, step 4 asked once, the transfer dialog never showing the serial it expects."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from app.gui.transfer_dialog import TransferDialog
from app.gui.workers import WorkerRunner
from tests.app.gui.conftest import shown_station

RECORDED = "TEB-2026-000123"


def test_a_bag_serial_mismatch_is_an_error_next_to_the_field(qtbot, facility, practice_home):
    _home, first = practice_home
    names = list(first.passphrases)
    runner = WorkerRunner()
    station = shown_station(qtbot, facility, runner)
    station.start()
    serials = ["BAG-1", "BAG-2", "BAG-3", "BAG-3"]  # the first pair differs
    seen: dict[str, object] = {}

    def step() -> bool:
        q = station.question
        if q is None:
            return False
        if q.kind == "credentials":
            name = names[q.args["index"]]
            station.officer_combo.setCurrentText(name)
            station.passphrase_edit.setText(first.passphrases[name])
        elif q.kind == "bag_serial":
            if q.args["attempt"] == 2 and not q.args["second"]:
                err = station.prompt_error
                seen["error"] = err.text()
                seen["role"] = err.property("role")
                seen["visible"] = err.isVisible()
                seen["near"] = err.parentWidget() is station.text_edit.parentWidget()
                seen["summary"] = station.summary.text()
                station.text_edit.setText(serials.pop(0))
                station.answer(True)
                return True
            station.text_edit.setText(serials.pop(0))
        station.answer(True)
        return False

    try:
        qtbot.waitUntil(step, timeout=120000)
    finally:
        station.task.cancel()
        qtbot.waitUntil(lambda: station.task.ended, timeout=30000)
        runner.stop_all()
        station.shutdown()
    assert "differ" in str(seen["error"]) and seen["visible"] and seen["near"]
    assert seen["role"] == "error"  # the style sheet's error text, as every refusal
    assert "differ" not in str(seen["summary"])


def _shown_text(dlg: QWidget) -> str:
    return "\n".join(label.text() for label in dlg.findChildren(QLabel))


def test_the_transfer_dialog_never_shows_the_expected_serial(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    dlg = TransferDialog("00" * 16, "ABCD-EFGH", "sealed", RECORDED, parent)
    dlg.show()
    assert RECORDED not in _shown_text(dlg)  # before anything is typed
    dlg.to_edit.setText("Courier C. Jones")
    dlg.serial_edit.setText("TEB-2026-000124")
    assert RECORDED not in _shown_text(dlg)
    assert "differs from the one recorded" in dlg.warning.text()
    dlg.serial_again.setText("TEB-2026-000124")
    dlg.try_accept()
    assert dlg.request is not None and dlg.request.serial_differs
    assert RECORDED not in _shown_text(dlg)
