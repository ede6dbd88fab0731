"""Red Door from the keyboard alone (issue 17, part 2): a newcomer's first start, a whole practice
ceremony to its receipt, and a question to the facility's AI and its answer, with key events
only, each sent where a keyboard sends it (the widget that has the focus). Mnemonics (Alt+letter)
choose the stations and press the buttons; Enter answers the focused question; Ctrl+Enter
sends. Also: Escape never destroys material, and every control has an accessible name.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QWidget,
)

from app.gui.install_settings import InstallSettings
from app.gui.launch import show_main_window
from app.gui.main_window import MainWindow

KEY = Qt.Key
ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def focused() -> QWidget:
    w = QApplication.focusWidget()
    assert w is not None, "nothing has the keyboard focus"
    return w


def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """One key, to whatever has the focus (as a keyboard would)."""
    QTest.keyClick(focused(), key, modifier)


def type_text(text: str) -> None:
    QTest.keyClicks(focused(), text)


def start(qtbot, tmp_path: Path) -> MainWindow:
    """A newcomer's first start: the window, then the practice passphrases, by keyboard."""
    w = MainWindow(InstallSettings(), tmp_path / "home")
    qtbot.addWidget(w)
    show_main_window(w, kiosk=False)
    qtbot.waitUntil(lambda: w.started is not None, timeout=120000)
    dlg = w.first_run_dialog
    qtbot.waitUntil(lambda: dlg.isActiveWindow(), timeout=10000)
    press(KEY.Key_Escape)  # Escape does not throw the passphrases away
    assert dlg.isVisible()
    press(KEY.Key_Return)  # nor does Enter, before the officers confirm
    assert dlg.isVisible()
    assert focused() is dlg.written
    press(KEY.Key_Space)  # "I have written both passphrases down"
    press(KEY.Key_Return)  # Done
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: w.isActiveWindow(), timeout=10000)
    return w


def run_ceremony(qtbot, w: MainWindow, passphrases: dict[str, str]) -> None:
    assert focused() is w.chooser.buttons["ceremony"]  # the first station, ready for Enter
    press(KEY.Key_C, ALT)  # the Ceremony station card
    qtbot.waitUntil(lambda: w.mode == "ceremony", timeout=5000)
    st = w.views["ceremony"]
    qtbot.waitUntil(lambda: st._names_cache is not None, timeout=10000)
    press(KEY.Key_S, ALT)  # Start ceremony
    qtbot.waitUntil(lambda: st.task is not None, timeout=5000)
    serials = 0
    while True:
        qtbot.waitUntil(lambda: st.question is not None or st.task.ended, timeout=120000)
        q = st.question
        if q is None:
            break
        if q.kind == "credentials":
            assert focused() is st.passphrase_edit
            officer = st.officer_combo.currentText()  # read off the screen
            type_text(passphrases[officer])
        elif q.kind == "bag_serial":
            assert focused() is st.text_edit
            type_text("RD-000777")
            serials += 1
        else:
            assert q.kind in ("confirm", "fingerprint"), q.kind
            assert focused() is st.prompt_box.yes_button  # the safe answer, never "stop"
        press(KEY.Key_Return)
        qtbot.waitUntil(lambda q=q: st.question is not q, timeout=120000)
    assert st.task.error is None, st.banner.label.text()
    assert st.outcome is not None and st.outcome.bag_serial == "RD-000777" and serials == 2
    assert st.receipt is not None and st.receipt.is_file()


def ask_question(qtbot, w: MainWindow) -> None:
    press(KEY.Key_M, ALT)  # Change mode
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.chooser, timeout=5000)
    assert not w.switch_button.isVisible()  # no "Change mode" on the chooser itself
    press(KEY.Key_W, ALT)  # the Workstation card
    qtbot.waitUntil(lambda: w.mode == "workstation", timeout=5000)
    ws = w.views["workstation"]
    qtbot.waitUntil(lambda: ws.pad_combo.count() > 0, timeout=30000)
    press(KEY.Key_C, ALT)  # Connect
    qtbot.waitUntil(lambda: ws.session is not None and ws.pad_status is not None, timeout=30000)
    press(KEY.Key_A, ALT)  # "Ask Red Forge AI": to the question
    qtbot.waitUntil(lambda: focused() is ws.question_edit, timeout=5000)
    type_text("Is the pad used once?")
    press(KEY.Key_I, ALT)  # the classification selector
    assert focused() is ws.classification_combo or ws.classification_combo.isAncestorOf(focused())
    QTest.keyClick(focused(), KEY.Key_A, Qt.KeyboardModifier.ControlModifier)
    type_text("SECRET")
    press(KEY.Key_Return, CTRL)  # Ctrl+Enter sends, from wherever the focus is in the view
    qtbot.waitUntil(lambda: len(ws.cards) == 1, timeout=5000)
    card = ws.cards[0]
    qtbot.waitUntil(lambda: "Query ID" in card.details.text(), timeout=60000)
    assert card.answer_text == "Is the pad used once?" and card.tag.text() == "SECRET"
    assert ws.question_edit.toPlainText() == ""


def test_first_start_ceremony_and_question_with_the_keyboard_only(qtbot, tmp_path) -> None:
    w = start(qtbot, tmp_path)
    passphrases = dict(w.started.first_run.passphrases)
    run_ceremony(qtbot, w, passphrases)
    ask_question(qtbot, w)
    # Ctrl+Enter on the keypad sends too
    ws = w.views["workstation"]
    ws.question_edit.setFocus()
    type_text("And the answer?")
    press(KEY.Key_Enter, CTRL | Qt.KeyboardModifier.KeypadModifier)
    qtbot.waitUntil(lambda: len(ws.cards) == 2, timeout=5000)
    qtbot.waitUntil(lambda: "Query ID" in ws.cards[1].details.text(), timeout=60000)
    w.close()


def test_escape_never_stops_a_ceremony(qtbot, facility, practice_home) -> None:
    """ "Stop ceremony" asks first; Escape and Enter answer "go on"."""
    from app.gui.workers import WorkerRunner
    from tests.app.gui.conftest import shown_station

    runner = WorkerRunner()
    st = shown_station(qtbot, facility, runner)
    st.start()
    qtbot.waitUntil(lambda: st.question is not None, timeout=30000)
    for key in (KEY.Key_Escape, KEY.Key_Return):
        st.cancel_button.click()
        box = st.cancel_dialog
        assert isinstance(box, QMessageBox) and box.isVisible()
        assert box.defaultButton() is box.escapeButton()  # the safe one: go on
        QTest.keyClick(box, key)
        qtbot.waitUntil(lambda b=box: not b.isVisible(), timeout=5000)
        assert not st.task.ended and st.question is not None, f"{key} stopped the ceremony"
    QTest.keyClick(st.prompt_box.passphrase_edit, KEY.Key_Escape)
    assert not st.task.ended
    st.cancel()
    qtbot.waitUntil(lambda: st.task.ended, timeout=30000)
    runner.stop_all()
    st.shutdown()


CONTROLS = (QAbstractButton, QLineEdit, QComboBox, QPlainTextEdit, QAbstractItemView)


def in_combo(w: QWidget) -> bool:
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, QComboBox):
            return True
        p = p.parentWidget()
    return False


def unnamed_controls(root: QWidget) -> list[str]:
    """Controls a screen reader cannot name: no accessible name, and (for buttons) no text."""
    bad = []
    for w in root.findChildren(QWidget):
        if not isinstance(w, CONTROLS) or w.focusPolicy() == Qt.FocusPolicy.NoFocus:
            continue
        if in_combo(w):  # an editable combo's own line edit, its popup's list
            continue
        text = w.text() if isinstance(w, QAbstractButton) else ""
        if not (w.accessibleName() or text.replace("&", "")):
            parent = type(w.parentWidget()).__name__
            bad.append(f"{type(w).__name__} {w.objectName()!r} in {parent}")
        elif not isinstance(w, QAbstractButton) and not w.accessibleDescription():
            bad.append(f"{type(w).__name__} {w.accessibleName()!r} has no description")
    return bad


def buttons_without_mnemonic(root: QWidget) -> list[str]:
    """Buttons with text but no Alt+letter (the tab bar's own scroll arrows have no text)."""
    return [
        b.text()
        for b in root.findChildren(QAbstractButton)
        if b.text() and "&" not in b.text().replace("&&", "") and not in_combo(b)
    ]


def test_every_control_has_an_accessible_name(qtbot, practice_home) -> None:
    home, _first = practice_home
    w = MainWindow(InstallSettings(), home, start_link=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.started is not None, timeout=30000)
    for mode in ("ceremony", "custody", "workstation"):
        w.set_mode(mode)
    assert unnamed_controls(w) == []
    assert buttons_without_mnemonic(w) == []
    w.close()


def tab_chain(view: QWidget) -> list[QWidget]:
    """The visible controls of `view` in the order Tab visits them."""
    from app.gui.main_window import first_control

    first = first_control(view)
    assert first is not None
    chain, w = [first], first.nextInFocusChain()
    while w is not first:
        tab = bool(w.focusPolicy() & Qt.FocusPolicy.TabFocus)
        shown = view.isAncestorOf(w) and w.isVisible() and w.isEnabled()
        if tab and shown and w.focusProxy() is None and not in_combo(w):
            chain.append(w)
        w = w.nextInFocusChain()
    return chain


def out_of_reading_order(chain: list[QWidget]) -> list[str]:
    """Pairs where Tab goes up the screen, or leftwards on the same line (a line: the centres
    within half a control's height), except into the next column (wholly to the right, from
    no lower than the top). Reading order: top to bottom, left to right, column by column."""
    from PySide6.QtCore import QPoint, QRect

    def where(w: QWidget) -> QRect:
        return QRect(w.mapToGlobal(QPoint(0, 0)), w.size())

    bad = []
    for a, b in itertools.pairwise(chain):
        ra, rb = where(a), where(b)
        pa, pb = ra.center(), rb.center()
        same_line = abs(pa.y() - pb.y()) <= min(a.height(), b.height()) // 2
        next_column = rb.left() >= ra.right() and rb.top() >= ra.top() - 4
        if next_column:
            continue
        if (same_line and pb.x() < pa.x()) or (not same_line and pb.y() < pa.y()):
            bad.append(f"{a.accessibleName() or type(a).__name__} -> {b.accessibleName() or b}")
    return bad


def test_tab_order_is_reading_order(qtbot, practice_home) -> None:
    home, _first = practice_home
    w = MainWindow(InstallSettings(), home, start_link=False)
    qtbot.addWidget(w)
    w.show()
    w.resize(1024, 768)
    qtbot.waitUntil(lambda: w.started is not None, timeout=30000)
    for mode in ("workstation", "ceremony", "custody"):
        w.set_mode(mode)
        qtbot.wait(50)
        view = w.views[mode]
        assert out_of_reading_order(tab_chain(view)) == [], mode
    w.show_chooser()
    chain = tab_chain(w.chooser)
    assert chain == list(w.chooser.buttons.values())
    w.close()
