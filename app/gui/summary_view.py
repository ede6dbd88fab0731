"""`SummaryView`: a step's result as sentences and small tables, the JSON one click away.

Renders an `app.gui.step_summary.Summary`: lines and notes as `PlainLabel`s, tables as read-only
`QTableWidget`s (items are plain text), and a "Details (JSON)" toggle, collapsed by default, for
auditors who want the exact recorded result.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPlainTextEdit,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.step_summary import Summary, Table, details_json
from app.gui.widgets import PlainLabel, describe


def table_widget(table: Table, parent: QWidget) -> QTableWidget:
    t = QTableWidget(len(table.rows), len(table.headers), parent)
    t.setHorizontalHeaderLabels(table.headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    t.setWordWrap(False)  # one line per row: wrapping before layout makes rows too tall
    header = t.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    for i, row in enumerate(table.rows):
        for j, value in enumerate(row):
            t.setItem(i, j, QTableWidgetItem(value))  # items are plain text
    # The column with the longest text takes the spare width (the identity, the roots).
    widest = max(
        range(len(table.headers)),
        key=lambda j: max([len(r[j]) for r in table.rows if j < len(r)] or [0]),
    )
    header.setSectionResizeMode(widest, QHeaderView.ResizeMode.Stretch)
    t.resizeRowsToContents()
    rows = sum(t.rowHeight(i) for i in range(t.rowCount()))
    height = header.sizeHint().height() + rows + 2 * t.frameWidth()
    t.setFixedHeight(max(height, 48))
    t.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    t.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return t


class SummaryView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)
        self.body = QWidget(self)
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.lay.addWidget(self.body)
        self.details_button = QToolButton(self)
        self.details_button.setText("&Details (JSON)")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.toggled.connect(self._toggle)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(220)
        describe(self.details, "Details (JSON)", "The step's result exactly as recorded.")
        self.details.hide()
        self.lay.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.lay.addWidget(self.details)
        self.labels: list[PlainLabel] = []
        self.tables: list[QTableWidget] = []
        self.clear()

    def _toggle(self, on: bool) -> None:
        self.details.setVisible(on)
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def clear(self) -> None:
        while self.body_layout.count():
            item = self.body_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.labels = []
        self.tables = []
        self.details.setPlainText("")
        self.details_button.setChecked(False)
        self.details_button.hide()
        self.hide()

    def _label(self, text: str, *, bold: bool = False) -> None:
        label = PlainLabel(text, self.body)
        if bold:
            f = label.font()
            f.setBold(True)
            label.setFont(f)
        self.body_layout.addWidget(label)
        self.labels.append(label)

    def add_lines(self, lines: list[str]) -> None:
        for line in lines:
            self._label(line)
        if lines:
            self.show()

    def show_summary(self, summary: Summary, facts: dict[str, Any] | None = None) -> None:
        self.clear()
        for line in summary.lines:
            self._label(line)
        for table in summary.tables:
            self._label(table.caption, bold=True)
            tw = table_widget(table, self.body)
            self.body_layout.addWidget(tw)
            self.tables.append(tw)
        for line in summary.notes:
            self._label(line)
        if facts:
            self.details.setPlainText(details_json(facts))
            self.details_button.show()
        self.show()

    def text(self) -> str:
        """Everything the officers see (not the collapsed details)."""
        parts = [lb.text() for lb in self.labels]
        for t in self.tables:
            heads = [t.horizontalHeaderItem(j).text() for j in range(t.columnCount())]
            parts.append(" | ".join(heads))
            for i in range(t.rowCount()):
                parts.append(" | ".join(t.item(i, j).text() for j in range(t.columnCount())))
        return "\n".join(parts)
