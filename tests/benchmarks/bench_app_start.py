"""Cold start of the application to a shown main window (offscreen), median of 5 runs, against
`import PySide6.QtWidgets` plus an empty shown QMainWindow measured in the same run."""

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
    "from PySide6.QtWidgets import QApplication, QMainWindow\n"
    "app = QApplication(['x']); w = QMainWindow(); w.show(); app.processEvents()\n"
)
APP = (
    "from pathlib import Path\n"
    "from PySide6.QtWidgets import QApplication\n"
    "from app.install_settings import InstallSettings\n"
    "from app.main_window import MainWindow\n"
    "app = QApplication(['reddoor'])\n"
    "import os\n"
    "w = MainWindow(InstallSettings(), Path(os.environ['REDDOOR_HOME']), start_link=False)\n"
    "w.show(); app.processEvents()\n"
    "os._exit(0)\n"
)


def _time(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, timeout=120)
    return time.perf_counter() - t0


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            QT_QPA_PLATFORM="offscreen",
            REDDOOR_HOME=str(Path(tmp) / "h"),
            REDDOOR_STATE_DIR=str(Path(tmp) / "s"),
        )
        # the practice facility exists already in a normal start; make it once, untimed
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from pathlib import Path; import os; from app.facility import "
                "create_practice_facility as c; c(Path(os.environ['REDDOOR_HOME']))",
            ],
            cwd=REPO,
            env=env,
            check=True,
            timeout=120,
        )
        base, app = [], []
        for _ in range(RUNS):
            base.append(_time(BASELINE, env))
            app.append(_time(APP, env))
    b, a = statistics.median(base), statistics.median(app)
    return {
        "name": "app_start",
        "runs": RUNS,
        "baseline_median_s": round(b, 3),
        "app_median_s": round(a, 3),
        "ratio": round(a / b, 2),
        "target_ratio": 2.0,
    }


if __name__ == "__main__":
    print(main())
