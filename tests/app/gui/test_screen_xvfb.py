"""The real application on a real X screen of 1024x768 (issue 17): without a window manager (a
small ceremony-room laptop, an X11 kiosk) and with one (openbox).

`tests.screenshots` (what `make screenshots` runs) starts the window with the application's own
start code inside Xvfb, goes through every view (first-run passphrases, chooser, a whole
practice ceremony, custody & audit and its dialogs, a question and its answer, the lock
screen), takes a screenshot of each and reports where the controls are on the screen. Here:
the window and every control that must be reachable (both banners, Quit, the workstation's send
button and classification selector, the ceremony's answer button, every open dialog) lie inside
the screen, and the screenshots show them there (banner colours in the banners' rows, drawn
buttons where the buttons are).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

REPO = Path(__file__).resolve().parents[3]
SCREEN = (1024, 768)
BANNER = QColor("#007a33")  # the practice banner (UNCLASSIFIED in the colour table)
ALWAYS = ("top_banner", "bottom_banner", "quit_button")


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (the Makefile installs them for make test)")


def tour(tmp_path: Path, wm: str | None = None) -> tuple[dict, Path]:
    out = tmp_path / "shots"
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "tests.screenshots", "--size", "x".join(map(str, SCREEN))]
    command += ["--out", str(out), "--report", str(report)]
    if wm:
        command += ["--wm", wm]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return json.loads(report.read_text()), out


def inside(rect: list[int], width: int = SCREEN[0], height: int = SCREEN[1]) -> bool:
    x, y, w, h = rect
    return x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height


def drawn(image: QImage, rect: list[int]) -> bool:
    """Something is drawn there: the region holds more than one colour (a button's frame and
    text on its face), and it is not the shade of an empty window."""
    x, y, w, h = rect
    colours = {
        image.pixel(x + i * (w - 1) // 8, y + j * (h - 1) // 4) for i in range(9) for j in range(5)
    }
    return len(colours) > 1


def banner_shown(image: QImage, rect: list[int]) -> bool:
    x, y, _w, h = rect
    c = QColor(image.pixel(x + 4, y + h // 2))  # the banner's left edge: no text there
    return max(abs(c.red() - BANNER.red()), abs(c.green() - BANNER.green())) <= 8


def check(report: dict, shots: Path, *, framed: bool) -> set[str]:
    assert report["screen"] == list(SCREEN)
    seen = set()
    for shot in report["shots"]:
        name = shot["shot"]
        seen.add(name)
        window = shot["window"]
        if framed:  # a window manager's frame and title bar fit on the screen too
            assert inside(window), f"{name}: window {window} is not inside the screen"
        else:  # no window manager: the window is the whole screen, no more
            assert window == [0, 0, *SCREEN], f"{name}: window {window}"
        mw, mh = shot["minimum"]
        assert mw <= SCREEN[0] and mh <= SCREEN[1], f"{name}: minimum {mw}x{mh}"
        image = QImage(str(shots / name))
        assert (image.width(), image.height()) == SCREEN
        controls = shot["controls"]
        for key in ALWAYS:
            assert controls[key]["visible"], f"{name}: {key} hidden"
        for key, where in controls.items():
            if not where["visible"]:
                continue
            assert inside(where["rect"]), f"{name}: {key} at {where['rect']} is off-screen"
            if key.endswith(("_button", "_combo")) or key.startswith("dialog"):
                assert drawn(image, where["rect"]), f"{name}: nothing drawn where {key} is"
        for key in ("top_banner", "bottom_banner"):
            assert banner_shown(image, controls[key]["rect"]), f"{name}: {key} not on screen"
    workstation = next(
        s for s in report["shots"] if s["shot"].endswith(f"workstation-{SCREEN[0]}x{SCREEN[1]}.png")
    )
    for key in ("send_button", "classification_combo", "question_edit"):
        assert workstation["controls"][key]["visible"], f"workstation: {key} hidden"
    return seen


@pytest.mark.slow
def test_every_view_fits_a_1024x768_screen_without_a_window_manager(tmp_path) -> None:
    need("xvfb-run", "Xvfb")
    report, shots = tour(tmp_path)
    seen = check(report, shots, framed=False)
    for view in ("first-run", "chooser", "ceremony-plan", "ceremony-fingerprint", "custody"):
        assert f"{view}-1024x768.png" in seen
    assert "workstation-1024x768.png" in seen and "kiosk-locked-1024x768.png" in seen


@pytest.mark.slow
def test_every_view_fits_a_1024x768_screen_with_a_window_manager(tmp_path) -> None:
    need("xvfb-run", "Xvfb", "openbox")
    report, shots = tour(tmp_path, wm="openbox")
    check(report, shots, framed=True)
