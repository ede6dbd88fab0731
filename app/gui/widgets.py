"""Small widgets every mode uses: plain-text labels, banners, fingerprints as words, errors.

Untrusted text (AI answers, officer names, file excerpts, anything from a USB stick or the
ledger) is only ever shown through `PlainLabel` or a read-only `QPlainTextEdit`: Qt guesses
rich text for a QLabel whose text looks like HTML, and rich text can load images and links.
"""

from __future__ import annotations

import hashlib
from string import Template

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from custody.fingerprint_words import phrase
from resources import ICON_SIZES, icon_png, read_text


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


ERROR_TEXT_STYLE = "color: #a50e0e; font-weight: bold;"


def error_label(parent: QWidget | None, object_name: str | None = "dialogError") -> PlainLabel:
    """The red, bold, plain-text line a dialog or form shows its refusal in."""
    label = PlainLabel("", parent)
    if object_name:
        label.setObjectName(object_name)
    label.setStyleSheet(ERROR_TEXT_STYLE)
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


def plain_view(text: str = "", parent: QWidget | None = None) -> QPlainTextEdit:
    view = QPlainTextEdit(parent)
    view.setReadOnly(True)
    view.setPlainText(text)
    return view


class ClassificationBanner(QLabel):
    """The classification line SCIF software shows at the top and bottom of every window."""

    def __init__(self, text: str, background: str, foreground: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setObjectName("classificationBanner")
        self.setText(text)
        font = self.font()
        font.setBold(True)
        self.setFont(font)
        self.setFixedHeight(26)
        self.setStyleSheet(
            banner_style("classification-banner", _colour(background), _colour(foreground))
        )


def banner_style(name: str, background: str, foreground: str) -> str:
    """resources/qss/NAME.qss with its two colours filled in (checked colours only: a style
    sheet is a small language, and settings text must not write into it)."""
    template = Template(read_text(f"qss/{name}.qss"))
    return template.substitute(background=background, foreground=foreground)


def _colour(text: str) -> str:
    """Only #rgb/#rrggbb or a plain colour name reaches a style sheet."""
    t = text.strip()
    if t.startswith("#") and len(t) in (4, 7) and all(c in "0123456789abcdefABCDEF" for c in t[1:]):
        return t
    if t.isalpha() and len(t) < 30:
        return t
    return "#555555"


LEVEL_STYLE = {
    "ok": ("#e6f4ea", "#137333"),
    "info": ("#e8f0fe", "#174ea6"),
    "warn": ("#fef7e0", "#8a5300"),
    "error": ("#fce8e6", "#a50e0e"),
}


class StatusBanner(QFrame):
    """A one-line coloured message (pad low, gateway absent, ledger verifies...)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBanner")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.label = PlainLabel("", self)
        layout.addWidget(self.label)
        self.level = "info"
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        self.level = level
        bg, fg = LEVEL_STYLE.get(level, LEVEL_STYLE["info"])
        self.setStyleSheet(banner_style("status-banner", bg, fg))
        self.label.setText(text)
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
