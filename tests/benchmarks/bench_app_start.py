"""Cold start of the application to a shown main window (offscreen), median of 5 runs, against
`import PySide6.QtWidgets` plus an empty shown QMainWindow measured in the same run.

The application is started the way a user starts it: the `reddoor` entry point (`python -m app`,
which is `app.cli.main:main`: argument parsing, start-up hardening, the single-instance lock,
logging, the install settings, then `MainWindow` with its bootstrap worker).
`REDDOOR_APP_EXIT_AFTER_SHOW` makes `launch_gui` print one JSON line at the first event-loop turn
after the window is shown and quit. Both children are timed from spawn to that line (interpreter
start included); the exit that follows is not timed. The practice facility already exists, as in
any start after the first.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNS = 5

BASELINE = (
    "from PySide6.QtCore import QTimer\n"
    "from PySide6.QtWidgets import QApplication, QMainWindow\n"
    "app = QApplication(['x']); w = QMainWindow(); w.show()\n"
    "QTimer.singleShot(0, lambda: (print('{\"shown\": true}', flush=True), app.exit(0)))\n"
    "app.exec()\n"
)


def _time_to_shown(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning `cmd` to its first JSON line on stdout (the window is shown)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    shown = None
    for line in proc.stdout:
        if line.startswith("{"):
            shown = time.perf_counter() - t0
            break
    proc.stdout.read()
    if proc.wait(timeout=120) != 0 or shown is None:
        raise RuntimeError(f"{cmd[1:3]} did not report a shown window")
    return shown


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            QT_QPA_PLATFORM="offscreen",
            REDDOOR_HOME=str(Path(tmp) / "h"),
            REDDOOR_STATE_DIR=str(Path(tmp) / "s"),
            REDDOOR_APP_EXIT_AFTER_SHOW="1",
            REDDOOR_APP_SETTINGS=str(Path(tmp) / "no-settings.json"),
        )
        # the practice facility exists already in a normal start; make it once, untimed
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from pathlib import Path; import os; from app.gui.facility import "
                "create_practice_facility as c; c(Path(os.environ['REDDOOR_HOME']))",
            ],
            cwd=REPO,
            env=env,
            check=True,
            timeout=120,
        )
        base, app = [], []
        for _ in range(RUNS):
            base.append(_time_to_shown([sys.executable, "-c", BASELINE], env))
            app.append(_time_to_shown([sys.executable, "-m", "app"], env))
    b, a = statistics.median(base), statistics.median(app)
    return {
        "name": "app_start",
        "path": "reddoor entry point (python -m app) -> launch_gui -> main window shown",
        "runs": RUNS,
        "baseline_median_s": round(b, 3),
        "app_median_s": round(a, 3),
        "ratio": round(a / b, 2),
        "target_ratio": 2.0,
    }


if __name__ == "__main__":
    print(main())
