"""`make screenshots`: every view of the application under Xvfb → docs/screenshots.

Each size runs in its own Xvfb server WITHOUT a window manager (what a small ceremony-room laptop
or an X11 kiosk gives) and its own practice facility. The window is shown by the application's
own start code (`app.gui.launch.show_main_window`): nothing here sizes it, so the shots show
what a person's first start shows. The run goes through the first-run passphrases, the chooser,
a whole practice ceremony (with the large-text mode once), custody & audit with its dialogs, one
three questions over the embedded router and echo gateway (the custody shots then show that pad's
history and consumption chart, from the ledger), and the lock screen.

With `--report FILE` the run also writes, for every shot, where the controls that must never be
off-screen are (the banners, Quit, the workstation's send button and classification selector,
the ceremony's answer button, any open dialog) in screen coordinates, and the window's geometry:
tests/app/gui/test_screen_xvfb.py checks them against the screenshots.

    python -m tests.screenshots [--size 1024x768 ...] [--out DIR] [--report FILE] [--wm CMD]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots"
SIZES = ("1024x768", "1440x900")


QUESTIONS = (
    "Summarise the attached maintenance log in three bullet points.",
    "Which of these part numbers appear in both lists? " * 6,
    "How do I make this function UNCLASSIFIED without losing functionality?",
)


class Shooter:
    """Drives the window and grabs the screen (runs inside Xvfb)."""

    def __init__(self, width: int, height: int, out: Path, prefix: str) -> None:
        from PySide6.QtWidgets import QApplication

        from app.gui.install_settings import InstallSettings
        from app.gui.launch import show_main_window
        from app.gui.main_window import MainWindow
        from app.gui.widgets import application_icon

        self.app = QApplication(["reddoor"])
        self.app.setApplicationName("Red Door")
        self.app.setWindowIcon(application_icon())
        self.size = (width, height)
        self.out = out
        self.prefix = prefix
        self.report: list[dict[str, Any]] = []
        home = Path(os.environ["REDDOOR_HOME"])
        self.w = MainWindow(InstallSettings(), home)
        show_main_window(self.w, kiosk=False)

    # -- waiting ----------------------------------------------------------------------------
    def wait(self, pred: Any, limit: float = 120.0) -> None:
        from PySide6.QtCore import QEventLoop

        end = time.monotonic() + limit
        while not pred():
            if time.monotonic() > end:
                raise RuntimeError("screenshot: condition not reached")
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.02)

    def settle(self, ms: int = 500) -> None:
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.02)

    # -- grabbing ---------------------------------------------------------------------------
    def grab(self, name: str, **controls: Any) -> None:
        """Save the whole screen as NAME-WxH.png and record where the must-see controls are."""
        from PySide6.QtWidgets import QApplication, QDialog

        self.settle()
        w, h = self.size
        path = self.out / f"{self.prefix}{name}-{w}x{h}.png"
        self.app.primaryScreen().grabWindow(0).save(str(path))
        win = self.w
        must = {
            "top_banner": win.top_banner,
            "bottom_banner": win.bottom_banner,
            "quit_button": win.quit_button,
            "mode_label": win.mode_label,
            **controls,
        }
        for i, d in enumerate(
            x for x in QApplication.topLevelWidgets() if isinstance(x, QDialog) and x.isVisible()
        ):
            must[f"dialog{i}"] = d
        fg = win.frameGeometry()
        self.report.append(
            {
                "shot": path.name,
                "window": [fg.x(), fg.y(), fg.width(), fg.height()],
                "minimum": [win.minimumSizeHint().width(), win.minimumSizeHint().height()],
                "controls": {k: self._where(v) for k, v in must.items()},
            }
        )

    @staticmethod
    def _where(widget: Any) -> dict[str, Any]:
        from PySide6.QtCore import QPoint

        top_left = widget.mapToGlobal(QPoint(0, 0))
        return {
            "rect": [top_left.x(), top_left.y(), widget.width(), widget.height()],
            "visible": widget.isVisible(),
        }

    # -- the tour ---------------------------------------------------------------------------
    def run(self) -> None:
        w = self.wait
        win = self.w
        w(lambda: win.started is not None)
        first = win.started.first_run
        passes = dict(first.passphrases) if first else {}
        dlg = getattr(win, "first_run_dialog", None)
        if dlg is not None:
            self.grab("first-run")
            dlg.written.setChecked(True)
            dlg.done_button.click()
        self.grab("chooser")
        self.ceremony(passes)
        self.workstation()
        self.custody(passes)
        win.lock("locked after inactivity")
        self.grab("kiosk-locked")
        win.request_unlock()
        self.grab("unlock-dialog")
        win.unlock_dialog.reject()

    def ceremony(self, passes: dict[str, str]) -> None:
        win = self.w
        win.set_mode("ceremony")
        st = win.views["ceremony"]
        self.wait(lambda: st._names_cache is not None)
        self.grab("ceremony-plan")
        st.start()
        names = list(passes)
        prompt = st.prompt_box
        large_done = False
        while True:
            self.wait(lambda: st.question is not None or st.task.ended)
            q = st.question
            if q is None:
                break
            if q.kind == "credentials":
                who = names[q.args["index"]]
                st.officer_combo.setCurrentText(who)
                if q.args["index"] == 0:
                    self.grab("ceremony-authenticate", yes_button=prompt.yes_button)
                st.passphrase_edit.setText(passes[who])
                st.answer(True)
            elif q.kind == "fingerprint" or (q.kind == "confirm" and q.args.get("fingerprint")):
                # The fingerprint is read aloud with the generation step's results.
                self.settle()
                self.grab("ceremony-fingerprint", yes_button=prompt.yes_button)
                if not large_done:  # the large-text mode, as a dim ceremony room wants it
                    large_done = True
                    win.change_text_size(+1)
                    win.change_text_size(+1)
                    self.grab("ceremony-fingerprint-large-text", yes_button=prompt.yes_button)
                    win.change_text_size(0)
                if q.step is not None and q.step.id == "generate":
                    st.summary_scroll.ensureWidgetVisible(st.health_chart, 0, 0)
                    self.grab("ceremony-health", yes_button=prompt.yes_button)
                st.answer(True)
            elif q.kind == "bag_serial":
                st.text_edit.setText("RD-000123")
                st.answer(True)
            else:
                step = q.step.id if q.kind == "confirm" and q.step is not None else ""
                if step == "sources":
                    self.grab("ceremony-sources", yes_button=prompt.yes_button)
                if step == "generate":
                    self.settle()
                    st.summary_scroll.ensureWidgetVisible(st.health_chart, 0, 0)
                    self.grab("ceremony-health", yes_button=prompt.yes_button)
                st.answer(True)
        self.grab("ceremony-receipt", print_button=st.print_button)

    def custody(self, passes: dict[str, str]) -> None:
        win = self.w
        win.set_mode("custody")
        cv = win.views["custody"]

        def asked_pad() -> int | None:
            found = [i for i, r in enumerate(cv.rows) if (r.queries or 0) >= len(QUESTIONS)]
            return found[0] if found else None

        end = time.monotonic() + 60
        while True:
            cv.refresh()  # the gateway's chronicle writes its batches a moment after each answer
            self.wait(lambda: cv.report is not None and cv.pads_table.rowCount() > 0)
            self.settle(300)
            if asked_pad() is not None or time.monotonic() > end:
                break
        row = asked_pad()
        cv.pads_table.selectRow(row if row is not None else cv.pads_table.rowCount() - 1)
        self.grab("custody", transfer_button=cv.transfer_button)
        cv.tabs.setCurrentIndex(1)
        self.grab("custody-log")
        cv.tabs.setCurrentIndex(2)
        self.grab("custody-officers", retire_button=cv.retire_button)
        cv.tabs.setCurrentIndex(0)
        cv.transfer_selected()
        self.grab("custody-transfer-dialog")
        cv.transfer_dialog.to_edit.setText("Courier Jane Roe")
        cv.transfer_dialog.serial_edit.setText("RD-000123")
        cv.transfer_dialog.serial_again.setText("RD-000123")
        cv.transfer_dialog.try_accept()
        self.wait(lambda: cv.last_dialog is not cv.transfer_dialog)
        self.grab("two-officer-dialog")
        cv.last_dialog.reject()

    def workstation(self) -> None:
        win = self.w
        win.set_mode("workstation")
        ws = win.views["workstation"]
        self.wait(lambda: ws.pad_combo.count() > 0)
        ws.connect_link()
        self.wait(lambda: ws.session is not None and ws.pad_status is not None)
        for question in QUESTIONS:
            ws.question_edit.setPlainText(question)
            ws.classification_combo.setCurrentText("SECRET")
            asked = len(ws.cards)
            ws.send()
            self.wait(
                lambda n=asked: len(ws.cards) > n and "Query ID" in ws.cards[-1].details.text()
            )
            self.settle(300)
        self.grab(
            "workstation",
            send_button=ws.send_button,
            classification_combo=ws.classification_combo,
            question_edit=ws.question_edit,
        )

    def close(self) -> None:
        from PySide6.QtCore import QTimer

        self.w.close()
        QTimer.singleShot(0, self.app.quit)
        self.app.exec()


def child() -> int:
    width, height = (int(x) for x in os.environ["REDDOOR_SCREENSHOT_SIZE"].split("x"))
    out = Path(os.environ["REDDOOR_SCREENSHOT_OUT"])
    shooter = Shooter(width, height, out, os.environ.get("REDDOOR_SCREENSHOT_PREFIX", ""))
    try:
        shooter.run()
    finally:
        report = os.environ.get("REDDOOR_SCREENSHOT_REPORT")
        if report:
            screen = {"screen": [width, height], "shots": shooter.report}
            Path(report).write_text(json.dumps(screen, indent=1))
    shooter.close()
    return 0


def shoot(size: str, out: Path, report: Path | None = None, wm: str | None = None) -> int:
    """One Xvfb server of `size` (WxH), optionally with the window manager `wm`; returns the
    child's exit code."""
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print("screenshots need xvfb-run (apt-get install xvfb)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="reddoor-shots-") as tmp:
        env = dict(os.environ)
        env.update(
            REDDOOR_SCREENSHOT_CHILD="1",
            REDDOOR_SCREENSHOT_SIZE=size,
            REDDOOR_SCREENSHOT_OUT=str(out),
            REDDOOR_HOME=str(Path(tmp) / "home"),
            REDDOOR_STATE_DIR=str(Path(tmp) / "state"),
            QT_QPA_PLATFORM="xcb",
        )
        if report is not None:
            env["REDDOOR_SCREENSHOT_REPORT"] = str(report)
        env.pop("REDDOOR_TESTING", None)
        command = [sys.executable, "-m", "tests.screenshots"]
        if wm:  # the window manager first, then the tour (xvfb-run runs one command)
            env["REDDOOR_SCREENSHOT_PREFIX"] = "wm-"
            script = f"{wm} & sleep 1; exec {shlex.join(command)}"
            command = ["sh", "-c", script]
        r = subprocess.run(
            [xvfb, "-a", "-s", f"-screen 0 {size}x24", *command],
            cwd=REPO,
            env=env,
            timeout=900,
            check=False,
        )
        return r.returncode


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("REDDOOR_SCREENSHOT_CHILD"):
        return child()
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots")
    parser.add_argument("--size", action="append", help="WxH (repeatable; default both)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--report", type=Path, help="write where the controls are (JSON)")
    parser.add_argument("--wm", help="a window manager command to run first (e.g. openbox)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for size in args.size or SIZES:
        code = shoot(size, args.out, args.report, args.wm)
        if code != 0:
            print(f"screenshots at {size} failed", file=sys.stderr)
            return code
    print(f"screenshots written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
