"""The receipt on the ceremony's last page: its PDF shown as page images, and its printing.

Widgets only. `ReceiptPreview` shows the pages that `app.gui.ceremony_run.render_pdf_pages`
(poppler's pdftoppm) makes, in a temporary directory of its own, or where the PDF was written
when they cannot be made. `open_print_dialog` is Qt's print dialog restricted to a printer (no
page ranges; printing to a PDF file only off a kiosk); the station sends the vector PDF to the
chosen printer with CUPS, or copies it to the chosen file (`app.gui.ceremony_run.print_receipt`),
on a worker.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QScrollArea, QWidget

from app.gui.ceremony_run import PrintTarget, render_pdf_pages
from app.gui.widgets import PlainLabel

if TYPE_CHECKING:  # QtPrintSupport loads when the officers print, not at start-up
    from PySide6.QtPrintSupport import QPrintDialog, QPrinter


MIN_PREVIEW_HEIGHT = 340


class ReceiptPreview(QScrollArea):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.preview_inner = QWidget(self)
        self.preview_layout = QHBoxLayout(self.preview_inner)
        self.setWidget(self.preview_inner)
        self._preview_dir = tempfile.TemporaryDirectory(prefix="reddoor-receipt-")
        # Enough of a page to read its heading and first table, not a 160 px strip.
        self.setMinimumHeight(MIN_PREVIEW_HEIGHT)
        self.hide()

    def show_pdf(self, pdf: Path) -> None:
        while self.preview_layout.count():
            item = self.preview_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        out = Path(self._preview_dir.name) / datetime.now(UTC).strftime("%H%M%S%f")
        out.mkdir()
        try:
            pages = render_pdf_pages(pdf, out)
        except (OSError, subprocess.SubprocessError):
            pages = []
        for page in pages:
            label = QLabel(self.preview_inner)
            label.setPixmap(QPixmap(str(page)))
            label.setObjectName("receiptPage")  # framed, white: resources/qss/reddoor.qss
            self.preview_layout.addWidget(label)
        if not pages:
            self.preview_layout.addWidget(PlainLabel(f"Receipt written to {pdf}", self))
        self.preview_layout.addStretch(1)
        self.show()

    def cleanup(self) -> None:
        self._preview_dir.cleanup()


def open_print_dialog(
    parent: QWidget, on_accepted: Callable[[PrintTarget], None], *, to_file: bool
) -> QPrintDialog:
    """Open the restricted print dialog (no selection, no page ranges; "Print to File (PDF)"
    only when `to_file`, i.e. not on a kiosk); `on_accepted` gets what was chosen. The caller
    keeps the returned dialog alive while it is open."""
    from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter

    printer = QPrinter()
    dlg = QPrintDialog(printer, parent)
    dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintToFile, to_file)
    dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintSelection, False)
    dlg.setOption(QAbstractPrintDialog.PrintDialogOption.PrintPageRange, False)
    dlg.accepted.connect(lambda: on_accepted(print_target(printer)))
    # PySide6 6.12 binds only QPrintDialog.open(receiver, member); dlg.open() raised a
    # TypeError. QDialog's own open() is the window-modal show we want.
    QDialog.open(dlg)
    return dlg


def print_target(printer: QPrinter) -> PrintTarget:
    """The printer or the PDF file the accepted dialog chose."""
    from PySide6.QtPrintSupport import QPrinter

    file_name = printer.outputFileName()
    if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat and file_name:
        return PrintTarget(pdf_file=Path(file_name))
    return PrintTarget(printer=printer.printerName())
