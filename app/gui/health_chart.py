"""The health tests' chart on the ceremony's generation page.

A widget only: per entropy source, the longest repetition run (RCT) and the highest adaptive
proportion count (APT) seen, each against its failure cutoff, from the `health` facts the
generate step reports. `app.gui.ceremony_wizard.CeremonyStation` shows it under the step summary.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget


class HealthChart(QWidget):
    """Per source: the longest repetition run and the highest APT count, against their cutoffs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.health: list[dict[str, Any]] = []
        self.setMinimumHeight(110)
        self.hide()

    def set_health(self, health: list[dict[str, Any]]) -> None:
        self.health = [h for h in health if isinstance(h, dict)]
        self.setVisible(bool(self.health))
        self.update()

    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#ffffff"))
        p.setPen(QColor("#333333"))
        p.drawText(8, 16, "Health tests (SP 800-90B): highest value seen / failure cutoff")
        y = 26
        bar_w = max(100, self.width() - 260)
        for h in self.health:
            for label, value, cutoff in (
                ("RCT longest run", h.get("longest_run"), h.get("rct_cutoff")),
                ("APT highest count", h.get("highest_apt_count"), h.get("apt_cutoff")),
            ):
                try:
                    v, c = float(value or 0), float(cutoff or 1)
                except (TypeError, ValueError):
                    continue
                frac = min(1.0, v / c) if c else 0.0
                p.setPen(QColor("#333333"))
                p.drawText(QRectF(8, y, 200, 18), f"{h.get('source', '?')}: {label}")
                p.fillRect(QRectF(210, y + 3, bar_w, 12), QColor("#eeeeee"))
                colour = QColor("#d93025") if v >= c else QColor("#188038")
                p.fillRect(QRectF(210, y + 3, bar_w * frac, 12), colour)
                p.setPen(QPen(QColor("#d93025"), 2))
                p.drawLine(210 + bar_w, y + 1, 210 + bar_w, y + 17)
                p.setPen(QColor("#333333"))
                p.drawText(QRectF(215 + bar_w, y, 60, 18), f"{int(v)}/{int(c)}")
                y += 22
        p.end()
