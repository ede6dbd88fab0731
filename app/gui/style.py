"""The application's look: resources/qss/reddoor.qss filled in from the install's settings.

One style sheet, set by the main window on itself, so every view and every dialog it owns
looks the same; widgets pick their rule by object name or by the `role` property
(`set_role`), and never style themselves. What the settings put into it (the banner colours,
the classification names of the workstation's tags) is checked first: a style sheet is a small
language, and settings text must not write into it. The large-text mode (`app.gui.text_size`)
scales the fingerprint words and the ceremony's instructions.
"""

from __future__ import annotations

import re
from string import Template

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.gui.install_settings import InstallSettings
from resources import read_text

FALLBACK_COLOURS = ("#555555", "#ffffff")
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_NAME = re.compile(r"[A-Za-z]{1,29}")
# What a classification name may be to reach the style sheet (in a quoted attribute selector).
_CLASSIFICATION = re.compile(r"[A-Za-z0-9 /_-]{1,40}")


def checked_colour(text: str | None, fallback: str = FALLBACK_COLOURS[0]) -> str:
    """Only #rgb/#rrggbb or a plain colour name reaches a style sheet; anything else is
    `fallback`."""
    t = (text or "").strip()
    if _HEX.fullmatch(t) or _NAME.fullmatch(t):
        return t
    return fallback


def classification_key(settings: InstallSettings, text: str) -> str | None:
    """The entry of `classification_colours` that `text` is marked with: the longest name it
    starts with ("TOP SECRET//SCI" before "TOP SECRET" before "SECRET"), or None."""
    t = text.strip().upper()
    best: str | None = None
    for key in settings.classification_colours:
        if t.startswith(key.strip().upper()) and (best is None or len(key) > len(best)):
            best = key
    return best


def classification_colours(settings: InstallSettings, text: str) -> tuple[str, str]:
    """Background and text colour for a text marked `text` (grey when no entry matches)."""
    key = classification_key(settings, text)
    if key is None:
        return FALLBACK_COLOURS
    bg, fg = settings.classification_colours[key]
    return checked_colour(bg), checked_colour(fg, FALLBACK_COLOURS[1])


def banner_colours(settings: InstallSettings) -> tuple[str, str]:
    """The classification banners' colours: the explicit settings win, else the table's."""
    bg, fg = classification_colours(settings, settings.classification_text)
    if settings.classification_background:
        bg = checked_colour(settings.classification_background)
    if settings.classification_foreground:
        fg = checked_colour(settings.classification_foreground, FALLBACK_COLOURS[1])
    return bg, fg


def _tag_rules(settings: InstallSettings) -> str:
    rules = []
    for key in settings.classification_colours:
        if not _CLASSIFICATION.fullmatch(key):
            continue
        bg, fg = classification_colours(settings, key)
        rules.append(
            f'QLabel#classificationTag[classification="{key}"] {{ background: {bg}; color: {fg}; }}'
        )
    return "\n".join(rules)


def base_point_size() -> int:
    """The application font's point size (10 when the font is sized in pixels)."""
    app = QApplication.instance()
    size = app.font().pointSize() if isinstance(app, QApplication) else -1
    return size if size > 0 else 10


def point_sizes(text_scale: float = 1.0, base: int | None = None) -> dict[str, int]:
    """The style sheet's font sizes; the large-text mode scales the words read aloud and the
    step instructions."""
    b = base or base_point_size()
    return {
        "title_pt": 2 * b,
        "card_title_pt": b + 3,
        "step_title_pt": b + 6,
        "instruction_pt": round((b + 2) * text_scale),
        "words_pt": round(max(18, 2 * b) * text_scale),
        "passphrase_pt": max(16, b + 7),
    }


def style_sheet(settings: InstallSettings, text_scale: float = 1.0, base: int | None = None) -> str:
    """resources/qss/reddoor.qss for these settings and this text scale."""
    bg, fg = banner_colours(settings)
    template = Template(read_text("qss/reddoor.qss"))
    return template.substitute(
        banner_background=bg,
        banner_foreground=fg,
        classification_tags=_tag_rules(settings),
        **point_sizes(text_scale, base),
    )


def repolish(widget: QWidget) -> None:
    """Apply the style sheet again after a property its rules select on has changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    for child in widget.findChildren(QWidget):
        child.style().unpolish(child)
        child.style().polish(child)


def set_role(widget: QWidget, role: str) -> QWidget:
    """Give `widget` a text role of the style sheet: error, warning, hint or heading."""
    widget.setProperty("role", role)
    if widget.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):
        repolish(widget)  # already styled: its new role needs the rules again
    return widget
