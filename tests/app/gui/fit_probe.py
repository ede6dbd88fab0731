"""Run by tests/app/gui/test_screen_fit.py in a subprocess whose Qt offscreen screen has a given
size (`QT_QPA_PLATFORM=offscreen:configfile=...`): the main window shown by the application's
own start code, every mode opened in turn, the first-run dialog, each measured.

Prints one JSON line: the screen's available geometry, and per state the window's geometry and
minimum size hint, each view's minimum size hint, and the dialog's geometry.

    python -m tests.app.gui.fit_probe HOME
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def rect(r: Any) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def size(s: Any) -> list[int]:
    return [s.width(), s.height()]


def passphrase_shape(label: Any) -> dict[str, Any]:
    """How a passphrase is shown: whole (as wide as its text), on one line, monospace, large."""
    from PySide6.QtGui import QFontInfo

    metrics = label.fontMetrics()
    margins = label.contentsMargins()
    inner = label.width() - margins.left() - margins.right()
    return {
        "whole": inner >= metrics.horizontalAdvance(label.text()),
        "one_line": not label.wordWrap() and label.height() < 2 * metrics.height(),
        "monospace": QFontInfo(label.font()).fixedPitch(),
        "point_size": label.font().pointSize(),
    }


def main(home: Path) -> int:
    from PySide6.QtWidgets import QApplication

    from app.gui.install_settings import InstallSettings
    from app.gui.launch import show_main_window
    from app.gui.main_window import MainWindow

    app = QApplication(["reddoor"])

    def wait(pred: Any, limit: float = 120) -> None:
        end = time.monotonic() + limit
        while not pred():
            if time.monotonic() > end:
                raise SystemExit("fit_probe: condition not reached")
            app.processEvents()
            time.sleep(0.02)

    w = MainWindow(InstallSettings(), home, start_link=False)
    show_main_window(w, kiosk=False)
    wait(lambda: w.started is not None)
    out: dict[str, Any] = {"available": rect(app.primaryScreen().availableGeometry())}
    dlg = getattr(w, "first_run_dialog", None)
    if dlg is not None:
        app.processEvents()
        out["first_run"] = {
            "geometry": rect(dlg.frameGeometry()),
            "window": rect(w.frameGeometry()),
            "passphrases": [passphrase_shape(lb) for lb in dlg.passphrase_labels.values()],
        }
        dlg.written.setChecked(True)
        dlg.done_button.click()
    states = {}
    for mode in ("chooser", "ceremony", "custody", "workstation"):
        if mode == "chooser":
            w.show_chooser()
            view = w.chooser
        else:
            w.set_mode(mode)
            view = w.views[mode]
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)
        states[mode] = {
            "window": rect(w.frameGeometry()),
            "window_minimum": size(w.minimumSizeHint()),
            "view_minimum": size(view.minimumSizeHint()),
        }
    out["states"] = states
    print(json.dumps(out), flush=True)
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
