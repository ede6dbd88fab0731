"""Render resources/icons/reddoor.svg into the PNG sizes a desktop's hicolor theme wants.

The PNGs are committed (the .deb build must not need a renderer); run this again after editing
the SVG: `QT_QPA_PLATFORM=offscreen python packaging/render_icons.py`. Qt's own SVG renderer is
used because PySide6 is already a dependency (no librsvg or cairosvg to install).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def png_path(size: int) -> Path:
    return ICONS / "hicolor" / f"{size}x{size}" / "apps" / "reddoor.png"


def render(svg: Path, size: int, out: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: error: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"render_icons: error: cannot write {out}")


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    for size in SIZES:
        render(ICONS / "reddoor.svg", size, png_path(size))
        print(png_path(size).relative_to(ICONS.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
