"""Where a PDF the station wrote lies, with buttons to open it and to save a copy.

Used by the ceremony's receipt (step 10) and the custody view's reports. The path is plain,
selectable text. "Open PDF" hands the file to the desktop's PDF viewer
(`QDesktopServices.openUrl`); a kiosk has no Open button, since another program's window would
leave the locked-down station. "Save a copy…" goes through the kiosk's confined file dialog
(`app.gui.kiosk.confined_open_file`), so a kiosk saves only into its allowed folders.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from app.gui.kiosk import confined_open_file, no_allowed_folder
from app.gui.widgets import PlainLabel

log = logging.getLogger(__name__)


def open_pdf(path: Path) -> bool:
    """Ask the desktop to open `path` in its PDF viewer; False when nothing took it."""
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))


class PdfFileRow(QWidget):
    """ "Saved at PATH" and its buttons; hidden until `show_file`. `message` carries what the
    buttons did (or why they could not) for the owner's banner: (level, text)."""

    message = Signal(str, str)

    def __init__(
        self,
        what: str,
        parent: QWidget,
        *,
        file_dialog_dirs: Callable[[], list[Path]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.what = what
        self.file_dialog_dirs = file_dialog_dirs
        self.path: Path | None = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.path_label = PlainLabel("", self)
        self.open_button = QPushButton("Open P&DF", self)
        self.open_button.clicked.connect(self.open_file)
        self.save_button = QPushButton("Save a cop&y…", self)
        self.save_button.clicked.connect(self.save_copy)
        lay.addWidget(self.path_label, 1)
        lay.addWidget(self.open_button)
        lay.addWidget(self.save_button)
        self.hide()

    def _dirs(self) -> list[Path]:
        return self.file_dialog_dirs() if self.file_dialog_dirs else []

    def show_file(self, path: Path) -> None:
        self.path = path
        self.path_label.setText(f"{self.what} saved at {path}")
        # A kiosk never starts another program: its files are printed or saved to its folders.
        self.open_button.setVisible(not self._dirs())
        self.show()

    def open_file(self) -> None:
        if self.path is None:
            return
        if not self.path.is_file():
            self.message.emit("error", f"{self.what} is missing: {self.path}")
        elif not open_pdf(self.path):
            self.message.emit(
                "warn", f"No PDF viewer opened {self.path}; open it from a file manager."
            )

    def save_copy(self) -> None:
        """A copy through the (confined) save dialog; `chooser` replaces the dialog in tests."""
        if self.path is None:
            return
        dirs = self._dirs()
        if no_allowed_folder(dirs):
            self.message.emit("warn", "No export folder or USB is available: nothing saved.")
            return
        target = self.chooser(dirs)
        if target is None:
            return
        try:
            shutil.copyfile(self.path, target)
        except OSError as exc:
            self.message.emit("error", f"Could not save {target}: {exc.strerror or 'error'}")
            return
        self.message.emit("ok", f"{self.what} copied to {target}.")

    def chooser(self, dirs: list[Path]) -> Path | None:
        assert self.path is not None
        return confined_open_file(
            self,
            f"Save a copy of the {self.what.lower()}",
            dirs,
            save=True,
            suggested=self.path.name,
            start=self.path.parent,
        )
