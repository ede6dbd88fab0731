"""Pictures in the documents, drawn as vector shapes: the QR code (receipts, the pad report,
the destruction certificate) and the bar chart (the consumption report). Part of the reportlab
seam (`custody.documents.pdf`); `document.Document.qr_code` and `.bar_chart` place them.

Both stay deterministic and font-safe: the QR code has no text at all, and every chart label
is set in DejaVu (reportlab's renderer would otherwise start in Helvetica).
"""

from __future__ import annotations

from collections.abc import Sequence

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from custody.documents.pdf.text import SANS, plain


class QrFlowable(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """A QR code drawn as filled rectangles (no text, no fonts): one rectangle per run of
    dark modules in a row, so the PDF stays small and the output deterministic."""

    def __init__(self, payload: str, size: float) -> None:
        super().__init__()
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4, box_size=1)
        code.add_data(payload)
        code.make(fit=True)
        self.matrix: list[list[bool]] = code.get_matrix()
        self.version: int = code.version
        self.size = size
        self.width = self.height = size

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        c = self.canv
        n = len(self.matrix)
        cell = self.size / n
        c.setFillColor(colors.white)
        c.rect(0, 0, self.size, self.size, stroke=0, fill=1)
        c.setFillColor(colors.black)
        path = c.beginPath()
        for row, modules in enumerate(self.matrix):
            y = self.size - (row + 1) * cell
            col = 0
            while col < n:
                if modules[col]:
                    start = col
                    while col < n and modules[col]:
                        col += 1
                    path.rect(start * cell, y, (col - start) * cell, cell)
                else:
                    col += 1
        c.drawPath(path, stroke=0, fill=1)


def bar_chart(
    width: float,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    height_mm: float,
) -> Drawing:
    """A small vertical bar chart `width` points wide, with a legend at its top right."""
    height = height_mm * mm
    drawing = Drawing(width, height)
    drawing.initialFontName = SANS  # the renderer would start in Helvetica
    chart = VerticalBarChart()
    chart.x, chart.y = 30, 28
    chart.width, chart.height = width - 140, height - 40
    chart.data = [list(values) for _, values in series]
    chart.categoryAxis.categoryNames = [plain(c) for c in categories]
    for axis in (chart.categoryAxis, chart.valueAxis):
        axis.labels.fontName = SANS
        axis.labels.fontSize = 6.5
    chart.categoryAxis.labels.angle = 30 if len(categories) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(categories) > 8 else "n"
    chart.valueAxis.valueMin = 0
    chart.barLabels.fontName = SANS
    palette = [colors.HexColor(c) for c in ("#2f5d8a", "#c0504d", "#6a8f3c", "#8064a2")]
    for i in range(len(series)):
        chart.bars[i].fillColor = palette[i % len(palette)]
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    legend = Legend()
    legend.fontName = SANS
    legend.fontSize = 7
    legend.x, legend.y = width - 100, height - 12
    legend.alignment = "right"
    legend.colorNamePairs = [
        (palette[i % len(palette)], plain(name)) for i, (name, _) in enumerate(series)
    ]
    drawing.add(legend)
    return drawing
