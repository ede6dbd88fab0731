"""One product (issue 17, part 3): the look comes from resources/ (one style sheet, the icons,
the banner colours per classification from the settings), the chooser shows the three stations
as cards, and the large-text mode for the words read aloud is remembered.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from app.gui.install_settings import MODES, InstallSettings
from app.gui.main_window import MainWindow
from app.gui.startup import Started
from app.gui.style import classification_key, style_sheet
from app.gui.text_size import TextSize
from app.gui.workstation_chat import MessageCard

REPO = Path(__file__).resolve().parents[3]


def colour_at(widget: QWidget, x: int, y: int) -> QColor:
    return QColor(widget.grab().toImage().pixel(x, y))


def test_no_widget_styles_itself() -> None:
    """Only the main window sets a style sheet (resources/qss/reddoor.qss, on itself)."""
    found = []
    for path in sorted((REPO / "app" / "gui").glob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\.setStyleSheet\(", line):
                found.append(f"{path.name}:{n}")
    assert len(found) == 1 and found[0].startswith("main_window.py:"), found


def window(qtbot, settings: InstallSettings, tmp_path: Path) -> MainWindow:
    w = MainWindow(settings, tmp_path / "none", started=Started(None, None, "tcp/127.0.0.1:9"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_banner_colours_follow_the_classification(qtbot, tmp_path) -> None:
    for text, colour in (
        ("UNCLASSIFIED // PRACTICE", "#007a33"),
        ("SECRET//NOFORN", "#c8102e"),
        ("TOP SECRET//SCI", "#fce83a"),
    ):
        w = window(qtbot, InstallSettings(classification_text=text), tmp_path)
        for banner in (w.top_banner, w.bottom_banner):
            assert banner.text() == text
            assert colour_at(banner, 3, banner.height() // 2) == QColor(colour), text
        w.close()
    # an install's own table
    own = InstallSettings(
        classification_text="GREEN", classification_colours={"green": ["#00ff00", "black"]}
    )
    w = window(qtbot, own, tmp_path)
    assert colour_at(w.top_banner, 3, 5) == QColor("#00ff00")
    w.close()


def test_a_question_is_tagged_in_its_classification_colour(qtbot) -> None:
    settings = InstallSettings()
    holder = QWidget()
    holder.setStyleSheet(style_sheet(settings))
    qtbot.addWidget(holder)
    key = classification_key(settings, "SECRET//REL TO USA")
    assert key == "SECRET"
    card = MessageCard("q?", "SECRET//REL TO USA", holder, colour_key=key)
    holder.resize(600, 200)
    card.resize(600, 200)
    holder.show()
    qtbot.waitExposed(holder)
    tag = card.tag
    assert colour_at(tag, 2, tag.height() // 2) == QColor("#c8102e")


def test_the_chooser_shows_three_cards_and_no_change_mode(qtbot, tmp_path) -> None:
    w = window(qtbot, InstallSettings(), tmp_path)
    chooser = w.chooser
    assert list(chooser.cards) == list(MODES)
    for card in chooser.cards.values():
        assert not card.icon.pixmap().isNull() and card.icon.pixmap().width() >= 64
        assert card.description.text() and "\n" not in card.description.text()
        assert card.button.text().count("&") >= 1  # a mnemonic
    assert w.stack.currentWidget() is chooser and not w.switch_button.isVisible()
    w.set_mode("workstation")
    assert w.switch_button.isVisible()
    # a click anywhere on a card chooses it
    w.show_chooser()
    assert not w.switch_button.isVisible()
    card = chooser.cards["workstation"]
    QTest.mouseClick(card, Qt.MouseButton.LeftButton, pos=QPoint(12, card.height() - 12))
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.views["workstation"], timeout=5000)
    w.close()


def test_large_text_is_remembered(qtbot, tmp_path) -> None:
    """Ctrl+Plus makes the fingerprint words and the step instructions larger, Ctrl+Minus
    smaller; the next start keeps the size."""
    prefs = tmp_path / "display.ini"
    w = MainWindow(
        InstallSettings(),
        tmp_path / "none",
        started=Started(None, None, "x"),
        text_size=TextSize(prefs),
    )
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    from app.gui.widgets import FingerprintView, PlainLabel

    words = FingerprintView("pad", w.chooser).words
    step = PlainLabel("Read the bag serial aloud.", w.chooser)
    step.setObjectName("stepInstruction")
    for label in (words, step):
        label.ensurePolished()
    before = (words.font().pointSize(), step.font().pointSize())
    QTest.keyClick(w, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(w, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    larger = (words.font().pointSize(), step.font().pointSize())
    assert larger[0] > before[0] and larger[1] > before[1], (before, larger)
    QTest.keyClick(w, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    once = (words.font().pointSize(), step.font().pointSize())
    assert before[0] < once[0] < larger[0]
    w.close()
    again = TextSize(prefs)
    assert again.scale == 1.25
    w2 = MainWindow(
        InstallSettings(), tmp_path / "none", started=Started(None, None, "x"), text_size=again
    )
    qtbot.addWidget(w2)
    w2.show()
    qtbot.waitExposed(w2)
    words2 = FingerprintView("pad", w2.chooser).words
    words2.ensurePolished()
    assert words2.font().pointSize() == once[0]
    QTest.keyClick(w2, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert TextSize(prefs).scale == 1.0
    w2.close()
