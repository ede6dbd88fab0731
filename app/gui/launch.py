"""What `reddoor` with no command starts: the desktop application.

Start-up hardening first (umask 077, no core dumps, one instance, a crash hook that logs no
secrets), then a QApplication made with a FIXED argv: Qt parses its own switches from argv and
`-platform vnc` would serve the screen on the network, so user arguments never reach Qt.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from app.hardening import (
    AlreadyRunning,
    SingleInstance,
    app_state_dir,
    configure_file_logging,
    harden_process,
    install_excepthook,
)

log = logging.getLogger(__name__)

QT_ARGV = ["reddoor"]
# Set to 1: quit as soon as the main window is shown, printing one JSON line (what the app-start
# benchmark times, and how tests see the real start-up path). Never set on an install.
PROBE_ENV = "REDDOOR_APP_EXIT_AFTER_SHOW"


def display_problem(env: dict[str, str] | None = None) -> str | None:
    """Why Qt could not show a window here, or None. Checked before Qt aborts the process."""
    env = dict(os.environ) if env is None else env
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform and platform not in ("xcb", "wayland"):
        return None  # offscreen, eglfs, linuxfb…: the installer chose it
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display to open the application on (DISPLAY and WAYLAND_DISPLAY are unset): "
        "start Red Door from a desktop session, or use the command line "
        "(reddoor --help; `reddoor demo` runs the headless practice round trip)"
    )


def launch_gui(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    problem = display_problem()
    if problem:
        print(f"reddoor: error: {problem}", file=sys.stderr)
        return 2
    harden_process()
    state = app_state_dir()
    log_path = configure_file_logging(state)
    instance = SingleInstance(state)
    try:
        instance.acquire()
    except AlreadyRunning as exc:
        print(f"reddoor: {exc}", file=sys.stderr)
        return 1

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.gui.install_settings import default_home, load_settings
    from app.gui.main_window import MainWindow
    from app.gui.widgets import application_icon

    app = QApplication(QT_ARGV)
    app.setApplicationName("Red Door")
    app.setDesktopFileName("reddoor")
    app.setWindowIcon(application_icon())

    def show_crash(text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, "Red Door: internal error", "")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(text)
        box.exec()

    install_excepthook(log_path, show_crash)
    settings = load_settings()
    kiosk = bool(getattr(args, "kiosk", False) or settings.kiosk)
    home = Path(args.home) if getattr(args, "home", None) else default_home()
    window = MainWindow(settings, home, kiosk=kiosk)
    show_main_window(window, kiosk)
    if os.environ.get(PROBE_ENV):
        QTimer.singleShot(0, lambda: _report_shown(window, kiosk, t0))
    exit_code = 0
    try:
        exit_code = app.exec()
    finally:
        window.shutdown()
        instance.release()
    if os.environ.get(PROBE_ENV):
        return 0
    return exit_code


def show_main_window(window: Any, kiosk: bool) -> None:
    """A kiosk full screen; else a window that fits its screen (app.gui.screen_fit)."""
    if kiosk:
        from app.gui.kiosk import show_kiosk

        show_kiosk(window)
    else:
        from app.gui.screen_fit import show_fitted

        show_fitted(window)


def _report_shown(window: Any, kiosk: bool, t0: float) -> None:
    """The start-up probe: one JSON line once the window is shown, then quit (benchmark, tests).
    The first event-loop turn after show() is when the window has been exposed and painted."""
    from PySide6.QtWidgets import QApplication

    from app.gui.kiosk import kiosk_shape
    from app.gui.screen_fit import window_fit

    line = {"shown": window.isVisible(), "launch_gui_s": round(time.perf_counter() - t0, 4)}
    line["kiosk"] = kiosk
    line["window_icon"] = not window.windowIcon().isNull()
    line.update(kiosk_shape(window))
    line.update(window_fit(window))
    print(json.dumps(line), flush=True)
    QApplication.exit(0)  # not quit(): that asks each window to close, and a kiosk refuses
