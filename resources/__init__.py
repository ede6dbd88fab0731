"""Red Door's data files: the icon, the desktop entry, the fingerprint word list, the Qt style
sheets and the sRGB ICC profile reference, read through `importlib.resources`.

This directory is a Python package so that a checkout (`python -m app` from the repository) and
an installed wheel (the .deb's virtualenv under /opt/reddoor) read the very same files by the
same names: `files("resources")` is the checkout's `resources/` in one case and the installed
package's copy in the other (pyproject.toml ships them as package data). Nothing here imports
the rest of the project; every layer may import this one (docs/architecture.md).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


class MissingResource(FileNotFoundError):
    """A data file the code needs is not installed (a broken install or a packaging bug)."""


def resource(name: str) -> Traversable:
    """The data file `name` ("qss/banners.qss"), which must exist."""
    path = files(__name__).joinpath(*name.split("/"))
    if not path.is_file():
        raise MissingResource(f"Red Door data file {name} is missing from {files(__name__)}")
    return path


def read_text(name: str) -> str:
    return resource(name).read_text(encoding="utf-8")


def read_bytes(name: str) -> bytes:
    return resource(name).read_bytes()


def data_lines(name: str) -> list[str]:
    """The non-blank lines of a text data file, with `#` comment lines left out."""
    out = []
    for line in read_text(name).splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            out.append(text)
    return out


# The sizes rendered into icons/hicolor/NxN/apps/reddoor.png (packaging/render_icons.py).
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def icon_png(size: int) -> bytes:
    return read_bytes(f"icons/hicolor/{size}x{size}/apps/reddoor.png")
