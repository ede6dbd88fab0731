"""The main window: classification banners, the mode chooser, the three modes, kiosk and lock.

Start-up work that blocks (creating the practice facility, unlocking the home, starting the
embedded router and echo gateway) is `app.gui.startup.bootstrap`, run on a worker while the
window shows; the modes appear when it is done. The chooser and the first run's passphrases are
`app.gui.start_screens`'s. On close every worker is stopped and joined, the link and the home
closed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.install_settings import MODE_TITLES, MODES, InstallSettings
from app.gui.kiosk import IdleLock, LockScreen, close_open_dialogs, make_kiosk_window, show_kiosk
from app.gui.officer_dialogs import OfficerPassphraseDialog
from app.gui.screen_fit import fit_window
from app.gui.start_screens import FirstRunDialog, ModeChooser
from app.gui.startup import Started, bootstrap
from app.gui.style import classification_key, style_sheet
from app.gui.text_size import TextSize
from app.gui.widgets import ClassificationBanner, ElidedLabel, PlainLabel, error_text
from app.gui.workers import WorkerRunner

if TYPE_CHECKING:  # the cores (Zenoh, PKCS#11, SQLCipher) load on the bootstrap worker
    from app.gui.facility import FirstRun

log = logging.getLogger(__name__)


class DialogShade(QWidget):
    """Shades the views while a modal dialog of the window is open, so the dialog stands out
    even without a window manager (which would have given it a frame and a title bar)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("dialogShade")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.hide()

    def cover(self, on: bool) -> None:
        parent = self.parentWidget()
        if on and parent is not None:
            self.setGeometry(parent.rect())
            self.raise_()
        self.setVisible(on)


def first_control(view: QWidget) -> QWidget | None:
    """The first visible, enabled control inside `view` that Tab would reach."""
    w = view.nextInFocusChain()
    while w is not None and w is not view:
        tab = bool(w.focusPolicy() & Qt.FocusPolicy.TabFocus)
        if tab and view.isAncestorOf(w) and w.isVisibleTo(view) and w.isEnabled():
            return w
        w = w.nextInFocusChain()
    return None


class MainWindow(QMainWindow):
    ready = Signal()

    def __init__(
        self,
        settings: InstallSettings,
        home: Path,
        *,
        kiosk: bool = False,
        start_link: bool = True,
        started: Started | None = None,
        text_size: TextSize | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.home = home
        self.kiosk = kiosk
        self.runner = WorkerRunner(self)
        self.started: Started | None = None
        self.views: dict[str, QWidget] = {}
        self.mode: str | None = None
        self._may_close = not kiosk
        self._shut = False
        self.setWindowTitle("Red Door")
        # The start size fits the screen's available area (app.gui.screen_fit); the launcher
        # shows the window maximised on a small screen.
        fit_window(self)
        self.text_size = text_size or TextSize()
        self.apply_style()

        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.top_banner = ClassificationBanner(settings.classification_text, central)
        self.bottom_banner = ClassificationBanner(settings.classification_text, central)
        lay.addWidget(self.top_banner)
        bar = QHBoxLayout()
        bar.setContentsMargins(10, 4, 10, 4)
        self.mode_label = ElidedLabel("Starting…", central)
        self.mode_label.setObjectName("modeLabel")
        self.switch_button = QPushButton("Change &mode", central)
        self.switch_button.clicked.connect(self.show_chooser)
        self.lock_button = QPushButton("&Lock", central)
        self.lock_button.clicked.connect(lambda: self.lock("locked by the user"))
        self.quit_button = QPushButton("&Quit", central)
        self.quit_button.clicked.connect(self.close)
        self.help_button = QPushButton("&Help (F1)", central)  # the user guide, in the app
        self.help_button.setShortcut(QKeySequence(Qt.Key.Key_F1))
        self.help_button.clicked.connect(self.show_help)
        for button, description in (
            (self.switch_button, "Back to the choice of station (Alt+M)."),
            (self.lock_button, "Lock the station; an officer unlocks it (Alt+L)."),
            (self.quit_button, "Close Red Door (Alt+Q)."),
            (self.help_button, "The user guide, in a window of its own (Alt+H or F1)."),
        ):
            button.setAccessibleDescription(description)
        bar.addWidget(self.mode_label, 1)
        bar.addWidget(self.help_button)
        bar.addWidget(self.switch_button)
        bar.addWidget(self.lock_button)
        bar.addWidget(self.quit_button)
        lay.addLayout(bar)
        self.stack = QStackedWidget(central)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.bottom_banner)
        self.setCentralWidget(central)

        self.shade = DialogShade(self.stack)
        app = QApplication.instance()
        if app is not None:  # dialogs of this window shade it while they are open
            app.installEventFilter(self)
        self.chooser = ModeChooser(self.stack)
        self.chooser.chosen.connect(self.set_mode)
        self.stack.addWidget(self.chooser)
        self.lock_screen = LockScreen(self.stack)
        self.lock_screen.unlock_requested.connect(self.request_unlock)
        self.stack.addWidget(self.lock_screen)
        self._locked = False
        self._pending_secrets: FirstRun | None = None
        self.stack.currentChanged.connect(lambda _i: self._update_bar())
        self._update_bar()
        self.lock_button.setVisible(kiosk)
        self._text_shortcuts()
        for b in self.chooser.buttons.values():
            b.setEnabled(False)
        self.chooser.status.show_message("info", f"Opening the facility home {home}…")

        self.idle: IdleLock | None = None
        if kiosk:
            make_kiosk_window(self)
            self.idle = IdleLock(settings.idle_lock_seconds, self)
            self.idle.idle.connect(lambda: self.lock("locked after inactivity"))
            # A kiosk always starts locked: a crash or a kill must never leave it open.
            self.lock("locked at start")
        if started is not None:
            self._started(started)
        else:
            task = self.runner.run(
                lambda w: bootstrap(home, settings, start_link=start_link, kiosk=kiosk),
                "bootstrap",
            )
            task.finished.connect(self._started)
            task.failed.connect(self._start_failed)

    # -- start-up ---------------------------------------------------------------------------
    def _started(self, started: Started) -> None:
        self.started = started
        for b in self.chooser.buttons.values():
            b.setEnabled(True)
        where = "practice facility" if started.facility and started.facility.practice else "home"
        msg = f"Ready: {where} {self.home}"
        if started.endpoint:
            msg += f"; link router {started.endpoint}"
        if started.link is not None and started.link.gateway is not None:
            msg += " with the practice echo gateway"
        self.chooser.status.show_message("ok", msg + ".")
        if started.facility is None:
            for m in ("ceremony", "custody"):
                self.chooser.buttons[m].setEnabled(False)
        if self.mode is None:
            self.mode_label.setText("Red Door")  # no longer "Starting…"
            self.chooser.focus_first()
        if started.first_run is not None and started.first_run.passphrases:
            self._pending_secrets = started.first_run
            self._show_pending_secrets()
        if self.settings.mode:
            self.set_mode(self.settings.mode)
        self.ready.emit()

    # -- look -------------------------------------------------------------------------------
    def apply_style(self) -> None:
        """The one style sheet (resources/qss/reddoor.qss) for these settings and text size."""
        self.setStyleSheet(style_sheet(self.settings, self.text_size.scale))

    def _text_shortcuts(self) -> None:
        """Ctrl+Plus / Ctrl+Minus: the large-text mode for the words read aloud and the step
        instructions; Ctrl+0 back to normal. Remembered (app.gui.text_size)."""
        keys = (
            (QKeySequence.StandardKey.ZoomIn, 1),
            ("Ctrl+=", 1),
            (QKeySequence.StandardKey.ZoomOut, -1),
            ("Ctrl+0", 0),
        )
        self.text_shortcuts: list[QShortcut] = []
        for key, by in keys:
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.ApplicationShortcut)
            sc.activated.connect(lambda by=by: self.change_text_size(by))
            self.text_shortcuts.append(sc)

    def change_text_size(self, by: int) -> None:
        """Larger (by > 0), smaller (by < 0) or normal (0) text; saved for the next start."""
        changed = self.text_size.reset() if by == 0 else self.text_size.step(by)
        if changed:
            self.apply_style()

    def _update_bar(self) -> None:
        """ "Change mode" only inside a mode, and only when the install leaves the choice open."""
        current = self.stack.currentWidget()
        in_mode = current is not None and current not in (self.chooser, self.lock_screen)
        self.switch_button.setVisible(self.settings.mode is None and in_mode)

    def _show_pending_secrets(self) -> None:
        """The practice officers' passphrases, never over the lock screen: a locked station
        keeps them until it is unlocked (bootstrap refuses a first run in a kiosk anyway)."""
        first = self._pending_secrets
        if first is None or self._locked:
            return
        self._pending_secrets = None
        dlg = FirstRunDialog(first, self)
        dlg.open()
        self.first_run_dialog = dlg

    def _start_failed(self, exc: BaseException) -> None:
        self.mode_label.setText("Red Door")
        self.chooser.status.show_message("error", f"Could not start: {error_text(exc)}")
        if self._locked:  # the lock screen hides the chooser: say it there too
            self.lock_screen.reason.setText(f"Could not start: {error_text(exc)}")
        self.chooser.buttons["workstation"].setEnabled(True)
        self.ready.emit()

    # -- modes ------------------------------------------------------------------------------
    def show_help(self) -> None:
        from app.gui.help_dialog import HelpDialog

        self.help_dialog = HelpDialog(self)
        self.help_dialog.show()

    def show_chooser(self) -> None:
        if self._locked:
            return
        self.mode = None
        self.mode_label.setText("Red Door")
        self.stack.setCurrentWidget(self.chooser)
        self.chooser.focus_first()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            return
        view = self.views.get(mode) or self._make_view(mode)
        self.mode = mode
        self.mode_label.setText(f"Red Door — {MODE_TITLES[mode]}")
        if not self._locked:
            self.stack.setCurrentWidget(view)
            self._focus_view(view)

    @staticmethod
    def _focus_view(view: QWidget) -> None:
        """Keyboard focus into the view just shown: its `first_focus()`, else its first
        control in the tab order (reading order)."""
        first = getattr(view, "first_focus", None)
        target = first() if callable(first) else None
        if target is None:
            target = first_control(view)
        (target or view).setFocus(Qt.FocusReason.OtherFocusReason)

    def _file_dirs(self) -> list[Path]:
        """Where file dialogs may go: nowhere else in a kiosk."""
        if not self.kiosk:
            return []
        dirs = [Path(p) for p in self.settings.usb_roots]
        if self.settings.export_dir:
            dirs.append(Path(self.settings.export_dir))
        if self.started and self.started.facility:
            dirs.append(self.started.facility.exports_dir())
            dirs.append(self.home / "usb")
        return dirs

    def _usb_roots(self) -> list[Path]:
        roots = [Path(p) for p in self.settings.usb_roots]
        if self.started and self.started.facility and self.started.facility.practice:
            roots.insert(0, self.home / "usb")
        return roots

    def _make_view(self, mode: str) -> QWidget:
        started = self.started
        facility = started.facility if started else None
        view: QWidget
        if mode == "workstation":
            from app.gui.workstation_view import WorkstationView

            view = WorkstationView(
                self.runner,
                endpoint=started.endpoint if started else "",
                usb_roots=self._usb_roots(),
                queries_per_day=self.settings.queries_per_day,
                low_pad_queries=self.settings.low_pad_queries,
                low_pad_fraction=self.settings.low_pad_fraction,
                file_dialog_dirs=self._file_dirs,
                cover_rate=self.settings.cover_rate,
                cover_bucket=self.settings.cover_bucket,
                classification_colour=lambda text: classification_key(self.settings, text),
                parent=self.stack,
            )
            view.rescan()
        elif mode == "custody" and facility is not None:
            from app.gui.custody_view import CustodyView

            view = CustodyView(
                self.runner, facility, file_dialog_dirs=self._file_dirs, parent=self.stack
            )
            view.refresh()
        elif mode == "ceremony" and facility is not None:
            from app.gui.ceremony_wizard import CeremonyStation

            view = CeremonyStation(
                self.runner,
                facility,
                on_pad_made=self._pad_made,
                file_dialog_dirs=self._file_dirs,
                metrics_textfile=self.settings.metrics_textfile,
                parent=self.stack,
            )
        else:
            view = PlainLabel("This mode needs a facility home.", self.stack)
        self.stack.addWidget(view)
        self.views[mode] = view
        return view

    def _pad_made(self) -> None:
        """A ceremony finished: the practice gateway serves the new pad too."""
        started = self.started
        if started is not None and started.link is not None:
            link = started.link
            self.runner.run(lambda w: link.restart_gateway(), "gateway-restart")
        ws = self.views.get("workstation")
        if ws is not None and hasattr(ws, "rescan"):
            ws.rescan()

    # -- kiosk and lock ---------------------------------------------------------------------
    def officer_names(self) -> list[str]:
        facility = self.started.facility if self.started else None
        if facility is None:
            return []
        try:
            return [o.name for o in facility.officers() if o.signer]
        except Exception:
            return []

    def verify_officer(self, name: str, passphrase: str) -> bool:
        """An officer's passphrase through the ledger (refusals recorded); a workstation kiosk
        with no facility home checks the installer's kiosk unlock passphrase instead."""
        facility = self.started.facility if self.started else None
        if facility is None:
            from app.gui.kiosk_unlock import check_unlock_passphrase

            return check_unlock_passphrase(self.kiosk_unlock_path(), passphrase)
        return facility.check_officer(name, passphrase, "kiosk")

    def kiosk_unlock_path(self) -> Path:
        from app.gui.kiosk_unlock import DEFAULT_PATH

        configured = self.settings.kiosk_unlock_file
        return Path(configured) if configured else DEFAULT_PATH

    def _passphrase_dialog(self, title: str, officer_text: str) -> OfficerPassphraseDialog:
        has_facility = bool(self.started and self.started.facility)
        if has_facility:
            text = officer_text
        elif self.kiosk_unlock_path().is_file():
            text = "This workstation has no officers: type the kiosk unlock passphrase."
        else:
            text = (
                "This workstation kiosk has no unlock passphrase configured: it can be left "
                "only through the session manager (see the kiosk installer's guide)."
            )
        return OfficerPassphraseDialog(
            self.runner,
            title,
            text,
            self.officer_names(),
            self.verify_officer,
            self,
            ask_name=has_facility,
        )

    def lock(self, reason: str = "locked") -> None:
        close_open_dialogs()
        self._locked = True
        self.lock_screen.reason.setText(reason)
        self.stack.setCurrentWidget(self.lock_screen)
        self.lock_screen.button.setFocus(Qt.FocusReason.OtherFocusReason)
        self.switch_button.setEnabled(False)
        self.quit_button.setEnabled(not self.kiosk)
        if self.idle is not None:
            self.idle.stop()

    @property
    def locked(self) -> bool:
        return self._locked

    def unlock(self) -> None:
        self._locked = False
        self.switch_button.setEnabled(True)
        self.quit_button.setEnabled(True)
        view = self.views.get(self.mode or "")
        self.stack.setCurrentWidget(view if view is not None else self.chooser)
        self._focus_view(view if view is not None else self.chooser)
        if self.idle is not None:
            self.idle.start()
        self._show_pending_secrets()

    def request_unlock(self) -> None:
        dlg = self._passphrase_dialog(
            "Unlock Red Door", "An officer unlocks the station with their own passphrase."
        )
        dlg.accepted.connect(self.unlock)
        dlg.open()
        self.unlock_dialog = dlg

    def request_exit(self) -> None:
        dlg = self._passphrase_dialog(
            "Quit the kiosk", "Quitting the kiosk needs an officer's passphrase."
        )

        def allowed() -> None:
            self._may_close = True
            self.close()

        dlg.accepted.connect(allowed)
        dlg.open()
        self.exit_dialog = dlg

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide) and isinstance(obj, QDialog):
            self._update_shade()
        return False

    def _update_shade(self) -> None:
        if self._shut:
            return
        mine = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QDialog)
            and w.isVisible()
            and w.isModal()
            and w.parentWidget() is not None
            and w.parentWidget().window() is self
        ]
        self.shade.cover(bool(mine))
        if not mine and self.isVisible() and not self.isActiveWindow():
            # Without a window manager nobody gives the keyboard back to the window when
            # its dialog closes.
            self.activateWindow()

    def changeEvent(self, event: Any) -> None:
        super().changeEvent(event)
        if self.kiosk and self.isMinimized():
            show_kiosk(self)  # no minimising out of the kiosk

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._may_close:
            event.ignore()
            self.request_exit()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.runner.stop_all()
        for view in self.views.values():
            if hasattr(view, "shutdown"):
                view.shutdown()
        if self.idle is not None:
            self.idle.remove()
        if self.started is not None:
            if self.started.link is not None:
                self.started.link.stop()
            if self.started.facility is not None:
                self.started.facility.close()
