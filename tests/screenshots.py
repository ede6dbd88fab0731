"""`make screenshots`: the three modes under Xvfb at 1440x900 and 1024x768 → docs/screenshots.

Each size runs in its own Xvfb server (so the screen really is that size) and its own practice
facility; the workstation shot asks one question over the embedded router and echo gateway.
Run `python -m tests.screenshots` (the Makefile installs xvfb first).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots"
SIZES = ((1440, 900), (1024, 768))


def shoot(width: int, height: int) -> None:
    """Runs inside Xvfb: build the window, drive it, grab each mode."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.install_settings import InstallSettings
    from app.gui.main_window import MainWindow

    app = QApplication(["reddoor"])
    home = Path(os.environ["REDDOOR_HOME"])
    w = MainWindow(InstallSettings(), home)
    w.setGeometry(0, 0, width, height)
    w.show()

    def wait(pred, limit=60.0):
        end = time.monotonic() + limit
        while not pred():
            if time.monotonic() > end:
                raise RuntimeError("screenshot: condition not reached")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.02)

    def settle(ms=400):
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def grab(name: str) -> None:
        settle()
        screen = app.primaryScreen()
        screen.grabWindow(0).save(str(OUT / f"{name}-{width}x{height}.png"))

    wait(lambda: w.started is not None)
    if w.started.first_run is not None:
        w.first_run_dialog.accept()
    grab("chooser")
    # ceremony station: start a practice ceremony and stop at the fingerprint
    w.set_mode("ceremony")
    st = w.views["ceremony"]
    wait(lambda: st._names_cache is not None)
    grab("ceremony-plan")
    passes = w.started.first_run.passphrases if w.started.first_run else {}
    st.start()
    names = list(passes)
    while True:
        wait(lambda: st.question is not None or st.task.ended)
        q = st.question
        if q is None:
            break
        if q.kind == "credentials":
            st.officer_combo.setCurrentText(names[q.args["index"]])
            st.passphrase_edit.setText(passes[names[q.args["index"]]])
            st.answer(True)
        elif q.kind == "fingerprint":
            grab("ceremony-fingerprint")
            st.answer(True)
        elif q.kind == "bag_serial":
            st.text_edit.setText("RD-000123")
            st.answer(True)
        else:
            if q.kind == "confirm" and q.step is not None and q.step.id == "sources":
                grab("ceremony-sources")
            if q.kind == "confirm" and q.step is not None and q.step.id == "generate":
                settle()
                grab("ceremony-fingerprint")  # asked with the step's confirmation
                st.summary_scroll.ensureWidgetVisible(st.health_chart, 0, 0)
                grab("ceremony-health")  # the health tests' chart on the generation page
            st.answer(True)
    grab("ceremony-receipt")
    w.set_mode("custody")
    cv = w.views["custody"]
    wait(lambda: cv.report is not None and cv.pads_table.rowCount() > 0)
    cv.pads_table.selectRow(cv.pads_table.rowCount() - 1)
    grab("custody")
    w.set_mode("workstation")
    ws = w.views["workstation"]
    wait(lambda: ws.pad_combo.count() > 0)
    ws.connect_link()
    wait(lambda: ws.session is not None and ws.pad_status is not None)
    ws.question_edit.setPlainText(
        "How do I make this function UNCLASSIFIED without losing functionality?"
    )
    ws.classification_combo.setCurrentText("SECRET")
    ws.send()
    wait(lambda: ws.cards and "Query ID" in ws.cards[-1].details.text())
    grab("workstation")
    w.lock("locked after inactivity")
    grab("kiosk-locked")
    w.close()
    QTimer.singleShot(0, app.quit)
    app.exec()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if os.environ.get("REDDOOR_SCREENSHOT_CHILD"):
        w, h = (int(x) for x in os.environ["REDDOOR_SCREENSHOT_SIZE"].split("x"))
        shoot(w, h)
        return 0
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print("screenshots need xvfb-run (apt-get install xvfb)", file=sys.stderr)
        return 1
    for width, height in SIZES:
        with tempfile.TemporaryDirectory(prefix="reddoor-shots-") as tmp:
            env = dict(os.environ)
            env.update(
                REDDOOR_SCREENSHOT_CHILD="1",
                REDDOOR_SCREENSHOT_SIZE=f"{width}x{height}",
                REDDOOR_HOME=str(Path(tmp) / "home"),
                REDDOOR_STATE_DIR=str(Path(tmp) / "state"),
                QT_QPA_PLATFORM="xcb",
            )
            env.pop("REDDOOR_TESTING", None)
            r = subprocess.run(
                [
                    xvfb,
                    "-a",
                    "-s",
                    f"-screen 0 {width}x{height}x24",
                    sys.executable,
                    "-m",
                    "tests.screenshots",
                ],
                cwd=REPO,
                env=env,
                timeout=600,
                check=False,
            )
            if r.returncode != 0:
                print(f"screenshots at {width}x{height} failed", file=sys.stderr)
                return r.returncode
    print(f"screenshots written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
