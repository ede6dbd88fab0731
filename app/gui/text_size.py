"""The large-text mode: Ctrl+Plus / Ctrl+Minus (Ctrl+0 resets), remembered per user.

Ceremony rooms are dim and the fingerprint words and the step instructions are read aloud: the
officers make them larger. The choice is kept in `display.ini` in the application's state
directory (`app.hardening.app_state_dir`, QSettings' INI format), so it survives a restart; it
holds nothing but the scale.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

SCALES = (1.0, 1.25, 1.5, 1.75, 2.0)
KEY = "text/scale"


class TextSize:
    """The current scale, one of SCALES, read from and saved to `path`."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from app.hardening import app_state_dir

            path = app_state_dir() / "display.ini"
        self.path = path
        self._settings = QSettings(str(path), QSettings.Format.IniFormat)
        try:
            value = float(self._settings.value(KEY, 1.0))
        except (TypeError, ValueError):
            value = 1.0
        self.index = min(range(len(SCALES)), key=lambda i: abs(SCALES[i] - value))

    @property
    def scale(self) -> float:
        return SCALES[self.index]

    def step(self, by: int) -> bool:
        """Larger (by > 0) or smaller; False when already at the end."""
        i = min(max(self.index + by, 0), len(SCALES) - 1)
        if i == self.index:
            return False
        self.index = i
        self._save()
        return True

    def reset(self) -> bool:
        if self.index == 0:
            return False
        self.index = 0
        self._save()
        return True

    def _save(self) -> None:
        self._settings.setValue(KEY, self.scale)
        self._settings.sync()
