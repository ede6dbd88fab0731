"""resources/: the data files the code reads through importlib.resources (issue #14, part 4).

The installed package must carry every one of them: each file under resources/ is matched by
pyproject's package-data, so a new data file cannot be forgotten in the wheel (and the .deb).
"""

from __future__ import annotations

import configparser
import fnmatch
import hashlib
import struct
import tomllib
from pathlib import Path

import pytest

import resources
from custody.documents.pdf import archival
from custody.fingerprint_words import WORDS

REPO = Path(__file__).resolve().parent.parent
RESOURCES = REPO / "resources"


def test_the_checkout_reads_its_own_resources_directory() -> None:
    assert Path(str(resources.resource("fingerprint-words.txt"))).parent == RESOURCES


def test_every_data_file_is_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["resources"]
    data = [
        p.relative_to(RESOURCES).as_posix()
        for p in RESOURCES.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    ]
    assert data, "resources/ holds no data files"
    missing = [f for f in data if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert missing == [], f"not in [tool.setuptools.package-data] resources: {missing}"


def test_fingerprint_words_are_the_receipt_format_list() -> None:
    """The list moved from a string in custody/fingerprint_words.py to a data file: the same
    256 words in the same order (the digest is that of the list before the move)."""
    assert len(WORDS) == 256 and len(set(WORDS)) == 256
    digest = hashlib.sha256(" ".join(WORDS).encode()).hexdigest()
    assert digest == "4e541c16bc37c781b5d837dafa9c49f9101941f973cd81d0c176bdebb9bd80dd"
    assert WORDS[0] == "acorn" and WORDS[255] == "nutmeg"


def test_icc_profile_reference_lists_the_debian_profiles() -> None:
    profiles = archival.ICC_PROFILES
    assert profiles == (
        Path("/usr/share/color/icc/colord/sRGB.icc"),
        Path("/usr/share/color/icc/ghostscript/srgb.icc"),
    )


def test_a_missing_data_file_is_named() -> None:
    with pytest.raises(resources.MissingResource, match=r"qss/nothing\.qss"):
        resources.read_text("qss/nothing.qss")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("size", resources.ICON_SIZES)
def test_each_icon_png_has_its_size(size: int) -> None:
    assert _png_size(resources.icon_png(size)) == (size, size)


def test_desktop_entry_runs_reddoor_with_its_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read_string(resources.read_text("reddoor.desktop"))
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"] == "reddoor"
    assert section["Icon"] == "reddoor"
    assert section["Terminal"] == "false"
    assert section["Categories"].endswith(";")


def test_one_style_sheet_fills_in_checked_colours(qapp) -> None:
    """resources/qss/reddoor.qss is the application's only style sheet: the banner colours and
    the per-classification tags come from the settings, checked before they reach it."""
    from app.gui.install_settings import InstallSettings
    from app.gui.style import banner_colours, style_sheet

    assert sorted(p.name for p in (RESOURCES / "qss").iterdir()) == ["reddoor.qss"]
    practice = style_sheet(InstallSettings())
    assert "$" not in practice and "QLabel#classificationBanner" in practice
    assert "background: #007a33;" in practice  # UNCLASSIFIED green from the colour table
    assert 'QLabel#classificationTag[classification="SECRET"]' in practice
    secret = InstallSettings(classification_text="SECRET//NOFORN")
    assert banner_colours(secret) == ("#c8102e", "#ffffff")
    top = InstallSettings(classification_text="TOP SECRET//SCI//TK")
    assert banner_colours(top) == ("#fce83a", "#000000")  # the longest entry wins
    explicit = InstallSettings(classification_background="#123456")
    assert banner_colours(explicit) == ("#123456", "#ffffff")
    # a colour that is not a colour never reaches the style sheet
    hostile = InstallSettings(
        classification_background="red; } QWidget { background: url(/etc/passwd)",
        classification_colours={'X"] { } QWidget { background: url(/x) } [a="': ["red", "white"]},
    )
    sheet = style_sheet(hostile)
    assert "url(" not in sheet.lower() and "background: #555555;" in sheet


def test_application_icon_holds_every_size(qapp) -> None:
    from app.gui.widgets import application_icon

    sizes = {(s.width(), s.height()) for s in application_icon().availableSizes()}
    assert sizes == {(n, n) for n in resources.ICON_SIZES}
