"""In-app help: the user guide (docs/user-guide.md) read inside the application.

The guide is this project's own Markdown, so it is shown rendered (`QTextBrowser.setMarkdown`),
not as untrusted text. It is found in the source checkout's `docs/` or where the .deb installs
the docs (`/usr/share/doc/reddoor/`). Links between the docs open inside the same window;
nothing opens another program or a network address, so a kiosk can show it too. Screenshots
are shown when they are installed beside the guide and left out otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextCursor, QTextDocument
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app.gui.widgets import PlainLabel

GUIDE = "user-guide.md"
DOC_DIRS = (
    Path(__file__).resolve().parents[2] / "docs",  # a source checkout
    Path("/usr/share/doc/reddoor"),  # the .deb
)
IMAGE_WIDTH = 640
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def find_guide(dirs: tuple[Path, ...] = DOC_DIRS) -> Path | None:
    return next((d / GUIDE for d in dirs if (d / GUIDE).is_file()), None)


def guide_markdown(path: Path) -> str:
    """The guide's Markdown, without the images that are not installed beside it."""
    text = path.read_text(encoding="utf-8")

    def keep(m: re.Match[str]) -> str:
        return m.group(0) if (path.parent / m.group(2)).is_file() else ""

    return _IMAGE.sub(keep, text)


def fit_images(document: QTextDocument, width: int) -> None:
    """Show every image `width` pixels wide (height in proportion): the screenshots are
    1440 px wide, the window is not."""
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                image = fmt.toImageFormat()
                image.setWidth(width)
                cursor = QTextCursor(document)
                cursor.setPosition(fragment.position())
                cursor.setPosition(
                    fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor
                )
                cursor.setCharFormat(image)
            it += 1
        block = block.next()


class HelpDialog(QDialog):
    """The user guide, with where its file is."""

    def __init__(self, parent: QWidget | None = None, *, guide: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Red Door — user guide")
        self.resize(900, 700)
        lay = QVBoxLayout(self)
        self.guide = guide or find_guide()
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(False)  # never another program or the network
        self.browser.setOpenLinks(True)  # docs/*.md links open here
        if self.guide is None:
            self.browser.setPlainText(
                "The user guide (user-guide.md) is not installed on this station. It is "
                "docs/user-guide.md in the source and /usr/share/doc/reddoor/user-guide.md "
                "in the Debian package."
            )
            where = "User guide not found"
        else:
            self.browser.setSearchPaths([str(self.guide.parent)])
            self.browser.document().setBaseUrl(QUrl.fromLocalFile(str(self.guide)))
            self.browser.setMarkdown(guide_markdown(self.guide))
            fit_images(self.browser.document(), IMAGE_WIDTH)
            where = f"From {self.guide}"
        lay.addWidget(self.browser, 1)
        self.where = PlainLabel(where, self)
        lay.addWidget(self.where)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
