"""What `reddoor` with no command starts: the desktop application.

Start-up hardening first (umask 077, no core dumps, one instance, a crash hook that logs no
secrets), then a QApplication made with a FIXED argv: Qt parses its own switches from argv and
`-platform vnc` would serve the screen on the network, so user arguments never reach Qt.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

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

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.facility import default_home
    from app.install_settings import load_settings
    from app.main_window import MainWindow

    app = QApplication(QT_ARGV)
    app.setApplicationName("Red Door")
    app.setDesktopFileName("reddoor")

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
    if kiosk:
        window.show()
    else:
        window.show()
    exit_code = 0
    try:
        exit_code = app.exec()
    finally:
        window.shutdown()
        instance.release()
    if os.environ.get("REDDOOR_APP_EXIT_AFTER_SHOW"):
        return 0
    return exit_code
