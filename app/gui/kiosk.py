"""Kiosk: full screen with no window-manager escape, an idle lock, confined file dialogs.

A kill cannot be blocked: systemd restarts the application, and a kiosk install always starts
locked, so a crash or a restart never leaves the station unlocked. Quitting needs an officer's
passphrase (MainWindow.closeEvent). The idle lock closes every open dialog first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.widgets import PlainLabel

log = logging.getLogger(__name__)

ACTIVITY_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


def make_kiosk_window(window: QMainWindow) -> None:
    """Frameless, on top, covering the whole screen. The size is set explicitly: without a
    window manager, showFullScreen() alone does not resize the window (FIELD-NOTES)."""
    want = Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint
    want |= Qt.WindowType.WindowStaysOnTopHint
    if window.windowFlags() != want:  # setWindowFlags hides a shown window: only when needed
        window.setWindowFlags(want)
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        window.setGeometry(screen.geometry())


def show_kiosk(window: QMainWindow) -> None:
    """Show a kiosk window full screen, frameless and on top.

    showFullScreen() asks the window manager; a kiosk session may have none (cage, a bare X
    server), and then nothing resizes the window, so the screen's geometry is set explicitly
    after it as well (FIELD-NOTES)."""
    make_kiosk_window(window)
    window.showFullScreen()
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        window.setGeometry(screen.geometry())
    window.raise_()
    window.activateWindow()


def kiosk_shape(window: QMainWindow) -> dict[str, object]:
    """What a kiosk window looks like to the system (tests and the start-up probe check it)."""
    flags = window.windowFlags()
    screen = window.screen() or QGuiApplication.primaryScreen()
    g = window.geometry()
    sg = screen.geometry() if screen is not None else g
    return {
        "fullscreen": bool(window.windowState() & Qt.WindowState.WindowFullScreen),
        "frameless": bool(flags & Qt.WindowType.FramelessWindowHint),
        "on_top": bool(flags & Qt.WindowType.WindowStaysOnTopHint),
        "covers_screen": (g.width(), g.height()) == (sg.width(), sg.height()),
    }


class IdleLock(QObject):
    """Emits `idle` after `seconds` with no key, mouse or touch input anywhere in the app."""

    idle = Signal()

    def __init__(self, seconds: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(max(1, seconds) * 1000)
        self.timer.timeout.connect(self.idle)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in ACTIVITY_EVENTS and self.timer.isActive():
            self.timer.start()
        return False

    def remove(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)


def close_open_dialogs(keep: QWidget | None = None) -> int:
    n = 0
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QDialog) and w.isVisible() and w is not keep:
            w.reject()
            n += 1
    return n


class LockScreen(QWidget):
    """What a locked station shows: nothing of the work underneath."""

    unlock_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockScreen")  # dark, light text: resources/qss/reddoor.qss
        # A plain QWidget ignores its style-sheet background unless asked to paint it: without
        # this the white text sat on the light default grey.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        title = PlainLabel("Red Door is locked", self)
        f = title.font()
        f.setPointSize(f.pointSize() * 2)
        f.setBold(True)
        title.setFont(f)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason = PlainLabel("", self)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton("&Unlock (officer passphrase)", self)
        self.button.setAccessibleDescription("An officer unlocks the station with a passphrase.")
        self.button.clicked.connect(self.unlock_requested)
        lay.addWidget(title)
        lay.addWidget(self.reason)
        lay.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(1)


def no_allowed_folder(roots: list[Path]) -> bool:
    """True when folders were configured but none of them exists (the dialog would refuse)."""
    return bool(roots) and not any(r.is_dir() for r in roots)


def within(path: Path, roots: list[Path]) -> bool:
    p = path.resolve()
    for r in roots:
        r = r.resolve()
        if p == r or r in p.parents:
            return True
    return False


def confined_open_file(
    parent: QWidget | None,
    title: str,
    roots: list[Path],
    *,
    save: bool = False,
    suggested: str = "",
    start: Path | None = None,
    opener: Callable[[QFileDialog], int] | None = None,
) -> Path | None:
    """A file dialog that cannot leave `roots` (when given): Qt's own dialog (never the
    platform's), pulled back to the first root whenever it wanders, and the choice re-checked.

    An empty `roots` means no confinement (a desktop install). Roots that were given but of
    which none exists (no USB inserted, no export folder yet) refuse outright: dropping the
    missing ones must never turn a confined dialog into an unconfined one.
    """
    configured = bool(roots)
    roots = [r for r in roots if r.is_dir()]
    if configured and not roots:
        log.warning("file dialog refused: none of the allowed folders exists")
        return None
    dlg = QFileDialog(parent, title)
    dlg.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dlg.setOption(QFileDialog.Option.ReadOnly, not save)
    if save:
        dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dlg.setFileMode(QFileDialog.FileMode.AnyFile)
    else:
        dlg.setFileMode(QFileDialog.FileMode.ExistingFile)
    if roots:
        dlg.setDirectory(str(roots[0]))
        dlg.setSidebarUrls([])
        dlg.setHistory([])

        def pull_back(d: str) -> None:
            if not within(Path(d), roots):
                dlg.setDirectory(str(roots[0]))

        dlg.directoryEntered.connect(pull_back)
    elif start is not None:
        dlg.setDirectory(str(start))
    if suggested:
        dlg.selectFile(suggested)
    code = opener(dlg) if opener else dlg.exec()
    if code != QDialog.DialogCode.Accepted or not dlg.selectedFiles():
        return None
    chosen = Path(dlg.selectedFiles()[0])
    if roots and not within(chosen.parent if save else chosen, roots):
        log.warning("file dialog choice outside the allowed folders refused")
        return None
    return chosen
