"""Windows that fit the screen they open on: 1024x768 laptops, X11 kiosks without a window
manager, 4K monitors.

A window's start size is computed from its screen's *available* geometry (the screen less task
bars and docks): never larger than it, and on a small screen all of it. The size is set
explicitly before the window is shown, because without a window manager nothing else would
shrink a window that is larger than the screen (FIELD-NOTES: full screen alone does not resize
either). With a window manager a small screen's window is also shown maximised, so that its
title bar and frame fit too. Dialogs are sized to their content, bounded by the same available
geometry, and centred on the window they belong to.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

# The smallest screen the application is designed for; no view's minimum size exceeds it.
SMALLEST_SCREEN = QSize(1024, 768)
# What a roomy screen gets: more than this only spreads the same content out.
PREFERRED = QSize(1440, 900)
# At most this share of a large screen, so a framed window is never larger than its screen.
SHARE = 0.9


def screen_of(widget: QWidget) -> QScreen | None:
    """The screen `widget` opens on (the primary screen for a window not yet shown)."""
    return widget.screen() or QGuiApplication.primaryScreen()


def fills_screen(available: QRect) -> bool:
    """A screen this small gets a window covering all of its available area."""
    return available.width() <= 1440 or available.height() <= 900


def start_geometry(available: QRect) -> QRect:
    """The main window's geometry at start on a screen whose available area is `available`:
    all of it on a small screen; else the preferred size (at most SHARE of it), centred."""
    if fills_screen(available):
        return QRect(available)
    width = min(max(PREFERRED.width(), SMALLEST_SCREEN.width()), int(available.width() * SHARE))
    height = min(max(PREFERRED.height(), SMALLEST_SCREEN.height()), int(available.height() * SHARE))
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    return rect


def fit_window(window: QWidget) -> QRect:
    """Give `window` its start geometry on its screen (before it is shown); returns it."""
    screen = screen_of(window)
    if screen is None:  # no screen at all: leave Qt's default
        return window.geometry()
    rect = start_geometry(screen.availableGeometry())
    window.setGeometry(rect)
    return rect


def show_fitted(window: QWidget) -> None:
    """Show `window` fitted to its screen: maximised on a small screen (a window manager then
    fits the frame too; without one, the geometry set here already covers the screen)."""
    fit_window(window)
    screen = screen_of(window)
    if screen is not None and fills_screen(screen.availableGeometry()):
        window.showMaximized()
        # Without a window manager showMaximized() changes nothing: set the size again.
        window.setGeometry(start_geometry(screen.availableGeometry()))
    else:
        window.show()


def dialog_geometry(hint: QSize, anchor: QRect, available: QRect) -> QRect:
    """Where a dialog whose size hint is `hint` goes: centred on `anchor` (its window), as
    large as its content but never larger than `available`, and moved inside it."""
    size = hint.boundedTo(available.size())
    rect = QRect(QPoint(0, 0), size)
    rect.moveCenter(anchor.center())
    if rect.right() > available.right():
        rect.moveRight(available.right())
    if rect.bottom() > available.bottom():
        rect.moveBottom(available.bottom())
    if rect.left() < available.left():
        rect.moveLeft(available.left())
    if rect.top() < available.top():
        rect.moveTop(available.top())
    return rect


def place_dialog(dialog: QWidget, anchor: QWidget | None = None) -> None:
    """Size `dialog` to its content and centre it on `anchor` (default: its parent's window),
    inside the screen. Called before the dialog is shown."""
    dialog.adjustSize()
    owner = anchor or (dialog.parentWidget().window() if dialog.parentWidget() else None)
    screen = screen_of(owner or dialog)
    if screen is None:
        return
    available = screen.availableGeometry()
    frame = owner.frameGeometry() if owner is not None and owner.isVisible() else available
    dialog.setGeometry(dialog_geometry(dialog.sizeHint(), frame, available))


def window_fit(window: QWidget) -> dict[str, object]:
    """Whether `window` fits its screen (tests and the start-up probe check it): its geometry,
    the screen's available geometry, and its minimum size."""
    screen = screen_of(window)
    g = window.geometry()
    avail = screen.availableGeometry() if screen is not None else g
    hint = window.minimumSizeHint()
    return {
        "geometry": [g.x(), g.y(), g.width(), g.height()],
        "available": [avail.x(), avail.y(), avail.width(), avail.height()],
        "minimum": [hint.width(), hint.height()],
        "fits": avail.contains(g),
    }
