"""The custody view's custom-painted pieces: the consumption chart and the history's row heights.

`ConsumptionChart` draws a pad's cumulative bytes used per direction over time (the points are
`app.gui.custody_model.PadRow.usage`); `WrappingDelegate` makes the pad history's rows as tall as
their wrapped text. Both are widgets only: `app.gui.custody_view` fills them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QTreeWidget, QWidget


class WrappingDelegate(QStyledItemDelegate):
    """Rows as tall as their wrapped text at the column's current width. QTreeView's word wrap
    paints wrapped text but sizes rows for one line, so long history lines were cut off."""

    def __init__(self, tree: QTreeWidget) -> None:
        super().__init__(tree)
        self.tree = tree
        tree.header().sectionResized.connect(lambda *_: tree.doItemsLayout())

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # type: ignore[override]
        base = super().sizeHint(option, index)
        depth, parent = 1, index.parent()
        while parent.isValid():
            depth, parent = depth + 1, parent.parent()
        width = self.tree.header().sectionSize(index.column()) - self.tree.indentation() * depth
        width -= 10  # the item's own margins
        if width < 60:
            return base
        text = str(index.data() or "")
        flags = int(Qt.TextFlag.TextWordWrap | Qt.TextFlag.TextWrapAnywhere)
        r = option.fontMetrics.boundingRect(QRect(0, 0, width, 1 << 20), flags, text)
        return QSize(base.width(), max(base.height(), r.height() + 4))


class ConsumptionChart(QWidget):
    """Cumulative pad bytes used per direction over time, drawn with QPainter."""

    COLOURS = (QColor("#1a73e8"), QColor("#d93025"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(160)
        self.setMinimumWidth(240)
        self.points: list[tuple[float, int, int]] = []
        self.title = "Consumption over time"

    def set_usage(self, points: list[tuple[float, int, int]]) -> None:
        self.points = list(points)
        self.update()

    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(48, 24, -12, -28)
        p.fillRect(self.rect(), QColor("#ffffff"))
        p.setPen(QColor("#333333"))
        p.drawText(QRectF(8, 2, self.width() - 16, 20), Qt.AlignmentFlag.AlignLeft, self.title)
        p.setPen(QPen(QColor("#999999"), 1))
        p.drawRect(r)
        if not self.points:
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            p.drawText(r.adjusted(8, 8, -8, -8), int(flags), "No queries recorded for this pad yet")
            p.end()
            return
        pts = [(self.points[0][0] - 1, 0, 0), *self.points]
        t0, t1 = pts[0][0], pts[-1][0]
        top = max(max(w, f) for _, w, f in pts) or 1
        for idx, colour in enumerate(self.COLOURS):
            path = QPainterPath()
            for i, pt in enumerate(pts):
                x = r.left() + (pt[0] - t0) / max(t1 - t0, 1e-9) * r.width()
                y = r.bottom() - pt[idx + 1] / top * r.height()
                if i == 0:
                    path.moveTo(QPointF(x, y))
                else:
                    path.lineTo(QPointF(x, y))
            p.setPen(QPen(colour, 2))
            p.drawPath(path)
        p.setPen(QColor("#333333"))
        p.drawText(QRectF(0, r.top() - 6, 46, 14), Qt.AlignmentFlag.AlignRight, f"{top:,}")
        p.drawText(QRectF(0, r.bottom() - 8, 46, 14), Qt.AlignmentFlag.AlignRight, "0")
        legend = QRectF(r.left(), r.bottom() + 6, r.width(), 18)
        p.setPen(self.COLOURS[0])
        p.drawText(legend, Qt.AlignmentFlag.AlignLeft, "■ workstation→facility bytes")
        p.setPen(self.COLOURS[1])
        p.drawText(legend, Qt.AlignmentFlag.AlignRight, "■ facility→workstation bytes")
        p.end()
