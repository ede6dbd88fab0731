"""Small widgets every mode uses: plain-text labels, banners, fingerprints as words, errors.

Untrusted text (AI answers, officer names, file excerpts, anything from a USB stick or the
ledger) is only ever shown through `PlainLabel` or a read-only `QPlainTextEdit`: Qt guesses
rich text for a QLabel whose text looks like HTML, and rich text can load images and links.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFont, QIcon, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.style import repolish, set_role
from custody.fingerprint_words import phrase
from resources import ICON_SIZES, icon_png, read_bytes


class PlainLabel(QLabel):
    """A QLabel that never interprets its text (SecureDrop's SecureQLabel)."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, wrap: bool = True):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setOpenExternalLinks(False)
        self.setWordWrap(wrap)
        self.setText(text)

    def setText(self, text: str) -> None:
        self.setTextFormat(Qt.TextFormat.PlainText)
        super().setText(text)


class ElidedLabel(QLabel):
    """One line of plain text that never widens its window: too long for its width, it is
    elided ("…", in the middle for paths) and the whole text is its tooltip. Multi-line text
    is elided line by line."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        *,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.mode = mode
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        """The whole text, not its elided rendering."""
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        width = max(self.contentsRect().width(), 40)
        lines = [metrics.elidedText(ln, self.mode, width) for ln in self._full.split("\n")]
        super().setText("\n".join(lines))

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        lines = self._full.split("\n")
        width = max((metrics.horizontalAdvance(ln) for ln in lines), default=0)
        m = self.contentsMargins()
        return QSize(width + m.left() + m.right(), metrics.height() * len(lines) + 2)

    def minimumSizeHint(self) -> QSize:
        return QSize(40, self.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._elide()


def describe(widget: QWidget, name: str, description: str) -> QWidget:
    """The accessible name and description of a control: what a screen reader says, and what
    the tests find it by."""
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(description)
    return widget


def error_label(parent: QWidget | None, object_name: str | None = "dialogError") -> PlainLabel:
    """The red, bold, plain-text line a dialog or form shows its refusal in (the style sheet's
    "error" role)."""
    label = PlainLabel("", parent)
    if object_name:
        label.setObjectName(object_name)
    set_role(label, "error")
    return label


def application_icon() -> QIcon:
    """The red door (resources/icons), every rendered size, for the windows and the task bar.
    Built from bytes so it works wherever importlib.resources finds the files."""
    icon = QIcon()
    for size in ICON_SIZES:
        pixmap = QPixmap()
        if pixmap.loadFromData(icon_png(size), "PNG"):
            icon.addPixmap(pixmap)
    return icon


def svg_pixmap(name: str, size: int) -> QPixmap:
    """resources/NAME (an SVG) rendered at `size`x`size` device-independent pixels, sharp on
    a high-DPI screen too."""
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance()
    ratio = app.devicePixelRatio() if isinstance(app, QGuiApplication) else 1.0
    side = max(1, round(size * ratio))
    image = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(QByteArray(read_bytes(name)))
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def plain_view(text: str = "", parent: QWidget | None = None) -> QPlainTextEdit:
    view = QPlainTextEdit(parent)
    view.setReadOnly(True)
    view.setPlainText(text)
    return view


class ClassificationBanner(QLabel):
    """The classification line SCIF software shows at the top and bottom of every window. Its
    colours are the style sheet's (`app.gui.style.banner_colours`, from the settings)."""

    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setObjectName("classificationBanner")
        # Never wider than the window: a long marking is cut, not the window widened.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setText(text)
        self.setAccessibleName("Classification")
        self.setAccessibleDescription(f"This station is marked {text}.")


LEVELS = ("ok", "info", "warn", "error")


class StatusBanner(QFrame):
    """A one-line coloured message (pad low, gateway absent, ledger verifies...)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBanner")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.label = PlainLabel("", self)
        # A long path or pad id wraps or is cut at the window's edge; it never widens it.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.label)
        self.level = "info"
        self.setProperty("level", self.level)
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        """Show `text` in the colours of `level` (ok, info, warn, error: the style sheet's
        `QFrame#statusBanner[level=...]` rules)."""
        self.level = level if level in LEVELS else "info"
        if self.property("level") != self.level:
            self.setProperty("level", self.level)
            repolish(self)
        self.label.setText(text)
        self.label.setAccessibleName(f"{self.level} message")
        self.show()

    def clear(self) -> None:
        self.label.setText("")
        self.hide()


class FingerprintView(QWidget):
    """A fingerprint as large words (read aloud) with the hex underneath."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = PlainLabel(title, self)
        self.words = PlainLabel("", self)
        self.words.setObjectName("fingerprintWords")
        f = QFont(self.words.font())
        f.setPointSize(max(18, f.pointSize() * 2))
        f.setBold(True)
        self.words.setFont(f)
        self.hex = PlainLabel("", self)
        self.hex.setObjectName("fingerprintHex")
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.hex.setFont(mono)
        for w in (self.title, self.words, self.hex):
            layout.addWidget(w)

    def set_fingerprint(self, fingerprint: str) -> None:
        self.words.setText(phrase(fingerprint_digest(fingerprint)).upper())
        self.hex.setText(fingerprint)


def fingerprint_digest(fingerprint: str) -> bytes:
    """The digest behind `SHA256:ab12…`, bare hex, or (anything else) its SHA-256."""
    hexpart = fingerprint.split(":", 1)[-1].strip().replace(" ", "")
    try:
        digest = bytes.fromhex(hexpart)
    except ValueError:
        digest = b""
    return digest if len(digest) >= 8 else hashlib.sha256(fingerprint.encode()).digest()


def show_error(parent: QWidget | None, title: str, exc: BaseException | str) -> None:
    """A RedDoorError's message is written for users; anything else shows its type only."""
    if isinstance(exc, str):
        text = exc
    else:
        text = getattr(exc, "message", None) or (
            f"An internal error occurred ({type(exc).__name__}); see the log."
        )
    box = QMessageBox(QMessageBox.Icon.Warning, title, "", QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    box.open()


def error_text(exc: BaseException) -> str:
    return getattr(exc, "message", None) or f"internal error ({type(exc).__name__}); see the log"


def ok_cancel_buttons(
    dialog: QDialog, accept: Callable[[], None], ok_text: str | None = None
) -> QDialogButtonBox:
    """A dialog's OK/Cancel row: OK (saying `ok_text`, if given) calls `accept`, which checks
    the input and accepts only if it holds; Cancel rejects."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog
    )
    if ok_text is not None:
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(accept)
    buttons.rejected.connect(dialog.reject)
    return buttons
