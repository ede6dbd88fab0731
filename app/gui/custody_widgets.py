"""The custody view's custom-painted pieces: the consumption chart and the history's row heights.

`ConsumptionChart` draws a pad's cumulative bytes used per direction over time (the points are
`app.gui.custody_model.PadRow.usage`); `WrappingDelegate` makes the pad history's rows as tall as
their wrapped text. Both are widgets only: `app.gui.custody_view` fills them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen
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


@dataclass
class ChartLayout:
    """Where the chart puts each piece. Every text has its own box; no two boxes overlap and
    none overlaps the plot (the widget's tests check it at the sizes the view can take)."""

    plot: QRectF
    texts: list[tuple[str, QRectF, QColor, Qt.AlignmentFlag]] = field(default_factory=list)
    swatches: list[tuple[QRectF, QColor]] = field(default_factory=list)


class ConsumptionChart(QWidget):
    """Cumulative pad bytes used per direction over time, drawn with QPainter.

    The points are (unix time, workstation→facility bytes, facility→workstation bytes), running
    totals of the ledger's `link.query` events (`app.gui.custody_model.PadRow.usage`): the last
    point is what the reports count. Title on top, then the legend with each direction's total
    (entries wrap to a second line when the pane is narrow), the plot with its byte scale on the
    left, the first and last query's local times under it.
    """

    COLOURS = (QColor("#1a73e8"), QColor("#d93025"))
    LABELS = ("workstation→facility", "facility→workstation")
    TEXT = QColor("#333333")
    MARGIN = 8.0
    GAP = 6.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        self.setMinimumWidth(240)
        self.points: list[tuple[float, int, int]] = []
        self.title = "Consumption over time"

    def set_usage(self, points: list[tuple[float, int, int]]) -> None:
        self.points = list(points)
        self.update()

    # -- what is drawn ----------------------------------------------------------------------
    def series(self) -> dict[str, list[tuple[float, int]]]:
        """Per direction, the (time, cumulative bytes) points the lines go through."""
        return {
            "w2f": [(t, w) for t, w, _f in self.points],
            "f2w": [(t, f) for t, _w, f in self.points],
        }

    def totals(self) -> tuple[int, int]:
        """The last point: bytes used per direction (w2f, f2w), as the legend says."""
        return (self.points[-1][1], self.points[-1][2]) if self.points else (0, 0)

    def legend_texts(self) -> list[str]:
        return [
            f"{label}: {n:,} bytes" for label, n in zip(self.LABELS, self.totals(), strict=True)
        ]

    def text_boxes(self) -> list[tuple[str, QRectF]]:
        """Every text as drawn at the current size, with its box."""
        return [(text, box) for text, box, _c, _a in self.chart_layout().texts]

    def chart_layout(self) -> ChartLayout:
        fm = QFontMetricsF(self.font())
        line = fm.height()
        m, gap = self.MARGIN, self.GAP
        width, height = float(self.width()), float(self.height())
        left_al = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        right_al = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        texts: list[tuple[str, QRectF, QColor, Qt.AlignmentFlag]] = []
        swatches: list[tuple[QRectF, QColor]] = []

        def fitted(text: str, room: float) -> str:
            return fm.elidedText(text, Qt.TextElideMode.ElideRight, max(0.0, room))

        title = fitted(self.title, width - 2 * m)
        texts.append((title, QRectF(m, m, width - 2 * m, line), self.TEXT, left_al))
        y = m + line + gap
        if not self.points:
            plot = QRectF(m, y, width - 2 * m, max(0.0, height - y - m))
            return ChartLayout(plot, texts, swatches)
        # Legend: swatch + text per direction, flowing left to right, wrapping when needed.
        sw = line * 0.7
        x = m
        for text, colour in zip(self.legend_texts(), self.COLOURS, strict=True):
            room = width - 2 * m - sw - 4
            shown = fitted(text, room)
            need = sw + 4 + fm.horizontalAdvance(shown)
            if x > m and x + need > width - m:
                x, y = m, y + line + 2
            swatches.append((QRectF(x, y + (line - sw) / 2, sw, sw), colour))
            texts.append(
                (
                    shown,
                    QRectF(x + sw + 4, y, fm.horizontalAdvance(shown) + 1, line),
                    colour,
                    left_al,
                )
            )
            x += need + 3 * gap
        top_y = y + line + gap
        # The byte scale on the left, as wide as its widest label.
        top = max(max(w, f) for _t, w, f in self.points) or 1
        labels = (f"{top:,}", f"{top // 2:,}", "0")
        label_w = max(fm.horizontalAdvance(t) for t in labels) + 1
        x_axis_h = line + 4
        plot = QRectF(
            m + label_w + gap,
            top_y + line / 2,
            max(1.0, width - 2 * m - label_w - gap),
            max(1.0, height - top_y - line / 2 - m - x_axis_h),
        )
        for i, t in enumerate(labels):
            cy = plot.top() + plot.height() * i / 2
            texts.append((t, QRectF(m, cy - line / 2, label_w, line), self.TEXT, right_al))
        # The first and last query's local times under the plot (the last only, if both do
        # not fit side by side).
        first, last = (self._when(self.points[0][0]), self._when(self.points[-1][0]))
        by = plot.bottom() + 4
        last_w = fm.horizontalAdvance(last) + 1
        last_box = QRectF(
            max(plot.left(), plot.right() - last_w), by, min(last_w, plot.width()), line
        )
        texts.append((fitted(last, plot.width()), last_box, self.TEXT, right_al))
        first_w = fm.horizontalAdvance(first) + 1
        if len(self.points) > 1 and first != last and plot.left() + first_w + gap < last_box.left():
            texts.append((first, QRectF(plot.left(), by, first_w, line), self.TEXT, left_al))
        return ChartLayout(plot, texts, swatches)

    def _when(self, t: float) -> str:
        """Local time; with seconds when the queries span less than a few hours."""
        span = self.points[-1][0] - self.points[0][0]
        fmt = "%Y-%m-%d %H:%M:%S" if span < 6 * 3600 else "%Y-%m-%d %H:%M"
        return dt.datetime.fromtimestamp(t).strftime(fmt)

    def _x_range(self) -> tuple[float, float]:
        """The first and last query stand off the plot's edges (the first step rises from 0)."""
        t0, t1 = self.points[0][0], self.points[-1][0]
        pad = (t1 - t0) * 0.03 or 1.0
        return t0 - pad, t1 + pad

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, event: Any) -> None:
        lay = self.chart_layout()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#ffffff"))
        for text, box, colour, align in lay.texts:
            p.setPen(colour)
            p.drawText(box, int(align), text)
        for box, colour in lay.swatches:
            p.fillRect(box, colour)
        r = lay.plot
        p.setPen(QPen(QColor("#999999"), 1))
        p.drawRect(r)
        if not self.points:
            p.setPen(self.TEXT)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            p.drawText(r.adjusted(8, 8, -8, -8), int(flags), "No queries recorded for this pad yet")
            p.end()
            return
        p.setPen(QPen(QColor("#e0e0e0"), 1, Qt.PenStyle.DashLine))
        mid = r.top() + r.height() / 2
        p.drawLine(QPointF(r.left(), mid), QPointF(r.right(), mid))
        t0, t1 = self._x_range()
        top = max(max(w, f) for _t, w, f in self.points) or 1
        for idx, colour in enumerate(self.COLOURS):
            path = QPainterPath(QPointF(r.left(), r.bottom()))
            for pt in self.points:
                x = r.left() + (pt[0] - t0) / max(t1 - t0, 1e-9) * r.width()
                y = r.bottom() - pt[idx + 1] / top * r.height()
                path.lineTo(QPointF(x, path.currentPosition().y()))  # flat until the query
                path.lineTo(QPointF(x, y))
            path.lineTo(QPointF(r.right(), path.currentPosition().y()))  # the total, held
            p.setPen(QPen(colour, 2))
            p.drawPath(path)
        p.end()
