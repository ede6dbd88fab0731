"""The application on a real screen (issue 17, part 1): the window fits the screen it opens on;
no view asks for more than 1024x768; dialogs are sized to their content and centred on the
window; long texts are elided instead of widening it.

The screen sizes are Qt's offscreen platform's (`offscreen:configfile=...` gives it a screen of
any size), in a subprocess per size; tests/app/gui/test_screen_xvfb.py shows the real thing
under X without a window manager.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSize

from app.gui.install_settings import InstallSettings
from app.gui.main_window import MainWindow
from app.gui.screen_fit import SMALLEST_SCREEN, dialog_geometry, start_geometry
from app.gui.start_screens import FirstRunDialog, ModeChooser
from app.gui.widgets import ElidedLabel

REPO = Path(__file__).resolve().parents[3]
SCREENS = ((1024, 768), (1366, 768), (1920, 1080), (3840, 2160))


@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_start_geometry_is_inside_the_available_area(width: int, height: int) -> None:
    for available in (QRect(0, 0, width, height), QRect(0, 27, width, height - 27 - 40)):
        g = start_geometry(available)
        assert available.contains(g), (available, g)
        if width <= 1440:  # a small screen: all of it
            assert g == available
        else:  # a large one: roomy, centred, with space for a window manager's frame
            assert g.width() >= SMALLEST_SCREEN.width() and g.height() >= SMALLEST_SCREEN.height()
            assert g.width() < available.width() and g.height() < available.height()
            assert abs(g.center().x() - available.center().x()) <= 1


def test_a_dialog_is_centred_on_its_window_and_kept_on_the_screen() -> None:
    screen = QRect(0, 0, 1024, 768)
    window = QRect(0, 0, 1024, 768)
    g = dialog_geometry(QSize(600, 300), window, screen)
    assert g.size() == QSize(600, 300) and g.center() == window.center()
    # a dialog larger than the screen is cut to it; one near the edge is pulled back in
    assert dialog_geometry(QSize(2000, 1000), window, screen) == screen
    edge = dialog_geometry(QSize(400, 300), QRect(900, 600, 200, 200), screen)
    assert screen.contains(edge)


def _probe(tmp_path: Path, width: int, height: int) -> dict:
    config = tmp_path / f"screen-{width}x{height}.json"
    screen = {"name": "probe", "x": 0, "y": 0, "width": width, "height": height}
    screen.update(logicalDpi=96, logicalBaseDpi=96, dpr=1)
    config.write_text(json.dumps({"windowFrameMargins": False, "screens": [screen]}))
    env = dict(
        os.environ,
        QT_QPA_PLATFORM=f"offscreen:configfile={config}",
        REDDOOR_STATE_DIR=str(tmp_path / "state"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tests.app.gui.fit_probe", str(tmp_path / "home")],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith("{")]
    return json.loads(lines[-1])


def _inside(outer: list[int], inner: list[int]) -> bool:
    ox, oy, ow, oh = outer
    x, y, w, h = inner
    return x >= ox and y >= oy and x + w <= ox + ow and y + h <= oy + oh


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(1024, 768), (1366, 768), (3840, 2160)])
def test_the_started_window_fits_its_screen(tmp_path, width, height) -> None:
    """A first start (practice facility created, passphrases shown) on a 1024x768 and a
    1366x768 screen: the window covers the screen and no more in every mode (on a 4K screen:
    a roomy window in its middle), no view's
    minimum exceeds 1024x768, the passphrase dialog is on the screen, centred on the window,
    each passphrase on one line."""
    out = _probe(tmp_path, width, height)
    available = out["available"]
    assert available == [0, 0, width, height]
    first = out["first_run"]
    assert _inside(available, first["geometry"])
    gx, gy, gw, gh = first["geometry"]
    wx, wy, ww, wh = first["window"]
    assert abs((gx + gw / 2) - (wx + ww / 2)) <= 2 and abs((gy + gh / 2) - (wy + wh / 2)) <= 2
    assert len(first["passphrases"]) == 2
    for shape in first["passphrases"]:
        assert shape["whole"] and shape["one_line"] and shape["monospace"], shape
        assert shape["point_size"] >= 16, shape
    for mode, state in out["states"].items():
        if width <= 1440:  # a small screen: all of it, and no more
            assert state["window"] == available, f"{mode}: window {state['window']}"
        else:  # a large one: inside, roomy, centred
            x, y, ww, wh = state["window"]
            assert _inside(available, state["window"]) and ww >= 1024 and wh >= 768
            assert abs(x + ww / 2 - width / 2) <= 1 and abs(y + wh / 2 - height / 2) <= 1
        for key in ("window_minimum", "view_minimum"):
            mw, mh = state[key]
            assert mw <= 1024 and mh <= 768, f"{mode}: {key} {mw}x{mh} exceeds 1024x768"


def test_every_view_fits_1024x768(qtbot, practice_home) -> None:
    """With every mode's view made (the stack's minimum is the largest page's), the whole
    window's minimum size stays within 1024x768, in normal and in the largest text."""
    home, _first = practice_home
    w = MainWindow(InstallSettings(), home, start_link=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.started is not None, timeout=30000)
    for mode in ("ceremony", "custody", "workstation"):
        w.set_mode(mode)
    for _ in range(5):
        w.change_text_size(+1)
    for view in (w.chooser, *w.views.values()):
        hint = view.minimumSizeHint()
        assert hint.width() <= 1024 and hint.height() <= 768, (view, hint)
    hint = w.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 768, hint
    w.change_text_size(0)
    w.close()


def test_long_paths_are_elided_not_widening(qtbot, tmp_path) -> None:
    long_home = tmp_path / ("very-long-directory-name-" * 12) / "home"
    label = ElidedLabel(f"Facility home: {long_home}")
    qtbot.addWidget(label)
    label.resize(300, 30)
    label.show()
    assert label.minimumSizeHint().width() <= 40
    assert "…" in label.shown_text() and label.text().endswith("home")
    assert label.toolTip() == label.text()
    # the passphrase dialog of a home with such a path is no wider than a small screen
    first = type("F", (), {"home": long_home, "passphrases": {"Officer A": "a-b-c-d-e"}})()
    dlg = FirstRunDialog(first)
    qtbot.addWidget(dlg)
    dlg.size_to_content()
    assert dlg.minimumSizeHint().width() <= 1024 and dlg.sizeHint().width() <= 1024
    chooser = ModeChooser()
    qtbot.addWidget(chooser)
    chooser.status.show_message("ok", f"Ready: practice facility {long_home}.")
    assert chooser.minimumSizeHint().width() <= 1024


def test_first_run_dialog_is_not_dismissed_by_accident(qtbot) -> None:
    from PySide6.QtCore import Qt

    first = type("F", (), {"home": Path("/x"), "passphrases": {"A": "p-q", "B": "r-s"}})()
    dlg = FirstRunDialog(first)
    qtbot.addWidget(dlg)
    dlg.open()
    qtbot.waitExposed(dlg)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert dlg.isVisible(), "Escape closed the passphrase dialog"
    dlg.close()
    assert dlg.isVisible(), "the close button closed it before the confirmation"
    assert not dlg.done_button.isEnabled()
    qtbot.keyClick(dlg, Qt.Key.Key_Return)
    assert dlg.isVisible(), "Enter closed it before the confirmation"
    qtbot.keyClick(dlg.written, Qt.Key.Key_Space)
    assert dlg.written.isChecked() and dlg.done_button.isEnabled()
    qtbot.keyClick(dlg, Qt.Key.Key_Return)
    assert dlg.result() == FirstRunDialog.DialogCode.Accepted and not dlg.isVisible()


def test_copy_and_print_only_in_a_practice_home(qtbot) -> None:
    from PySide6.QtGui import QGuiApplication

    practice = type("F", (), {"home": Path("/x"), "passphrases": {"A": "p-q"}, "practice": True})
    production = type("F", (), {"home": Path("/x"), "passphrases": {"A": "p-q"}, "practice": False})
    shown = FirstRunDialog(practice())
    hidden = FirstRunDialog(production())
    for d in (shown, hidden):
        qtbot.addWidget(d)
        d.show()
    assert shown.copy_button.isVisible() and shown.print_button.isVisible()
    assert not hidden.copy_button.isVisible() and not hidden.print_button.isVisible()
    shown.copy_button.click()
    assert QGuiApplication.clipboard().text() == "A: p-q"
    QGuiApplication.clipboard().clear()
    for d in (shown, hidden):
        d.reject()
