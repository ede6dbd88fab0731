"""Text as the documents draw it: the DejaVu fonts (registered once), the colours, the
paragraph styles, and `plain()`/`markup()`, through which every piece of user or ledger text
passes. The lowest module of the reportlab seam (`custody.documents.pdf`): `graphics`,
`archival` and `document` draw with what is here.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from custody.documents.pdf import PdfError

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
FONT_FILES = {
    "DejaVuSans": "DejaVuSans.ttf",
    "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "DejaVuSansMono": "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold": "DejaVuSansMono-Bold.ttf",
}
SANS, SANS_BOLD, MONO = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"
RED = colors.HexColor("#b00020")
AMBER = colors.HexColor("#8a5a00")
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#999999")
SHADE = colors.HexColor("#eeeeee")


def _font_dir() -> Path:
    override = os.environ.get("REDDOOR_FONT_DIR")
    for d in ((Path(override),) if override else ()) + FONT_DIRS:
        if all((d / f).is_file() for f in FONT_FILES.values()):
            return d
    raise PdfError(
        "the DejaVu fonts are missing (install the Debian package fonts-dejavu-core, "
        "or set REDDOOR_FONT_DIR)"
    )


@functools.cache
def register_fonts() -> frozenset[str]:
    """Register the DejaVu fonts once; return the set of characters DejaVu Sans can draw."""
    d = _font_dir()
    for name, filename in FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(d / filename)))
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=SANS_BOLD, italic=SANS, boldItalic=SANS)
    pdfmetrics.registerFontFamily(MONO, normal=MONO, bold="DejaVuSansMono-Bold")
    face = pdfmetrics.getFont(SANS).face
    return frozenset(chr(c) for c in face.charWidths)


# -- text: everything a user or the ledger supplied is plain text ---------------------------


def plain(text: object) -> str:
    """Text safe to draw: control, format (bidi overrides) and unknown characters made visible.

    A name like "alice\\u202eecila" would otherwise draw reversed; a character DejaVu lacks
    would draw as an invisible box. Both become a visible `[U+XXXX]`.
    """
    known = register_fonts()
    out = []
    for ch in str(text):
        if ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn") or ch not in known:
            out.append(f"[U+{ord(ch):04X}]")
        else:
            out.append(ch)
    return "".join(out)


def markup(text: object) -> str:
    """Paragraph markup that shows `text` literally (escaped; newlines become line breaks)."""
    return _xml_escape(plain(text)).replace("\n", "<br/>")


class Ident(str):
    """A value that names something exactly (a bag serial, an event type, a step number, a
    key, a hash, an id): the documents draw it on one line, smaller if it must be, and never
    break it inside a token (`custody.documents.pdf.document.FitText`).

    Its tokens are what lies between spaces, '+', '/' and '-' (each keeping the separator
    that ends it), unless given: `Ident.split_at` for a value whose own field separator also
    occurs inside a field (a verifier key's base64), `Ident.whole` for one never broken."""

    tokens: tuple[str, ...] | None = None

    @classmethod
    def split_at(cls, text: str, sep: str, maxsplit: int) -> Ident:
        """Breakable only after the first `maxsplit` occurrences of `sep`."""
        fields = text.split(sep, maxsplit)
        ident = cls(text)
        ident.tokens = (*(f + sep for f in fields[:-1]), fields[-1])
        return ident

    @classmethod
    def whole(cls, text: str) -> Ident:
        """Never broken (shrunk to fit instead): a hash, a base64 line, a key label."""
        ident = cls(text)
        ident.tokens = (text,)
        return ident


# -- styles ----------------------------------------------------------------------------------


def paragraph_styles() -> dict[str, ParagraphStyle]:
    """The named paragraph styles every document uses, all in DejaVu."""
    register_fonts()
    body = ParagraphStyle("body", fontName=SANS, fontSize=9, leading=11.5)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5, textColor=GREY),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
        "cell_head": ParagraphStyle("cell_head", parent=body, fontName=SANS_BOLD, fontSize=8),
        "mono": ParagraphStyle("mono", parent=body, fontName=MONO, fontSize=8, leading=10),
        "key": ParagraphStyle("key", parent=body, fontName=SANS_BOLD, fontSize=8.5),
        "title": ParagraphStyle(
            "title", parent=body, fontName=SANS_BOLD, fontSize=17, leading=21, spaceAfter=2
        ),
        "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=9.5, textColor=GREY),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName=SANS_BOLD,
            fontSize=11.5,
            leading=14,
            spaceBefore=8,
            spaceAfter=3,
            keepWithNext=1,  # never a heading alone at the foot of a page
        ),
        "words": ParagraphStyle(
            "words", parent=body, fontName=SANS_BOLD, fontSize=15, leading=19, spaceAfter=1
        ),
        "banner": ParagraphStyle(
            "banner",
            parent=body,
            fontName=SANS_BOLD,
            fontSize=18,
            leading=22,
            alignment=TA_CENTER,
            textColor=colors.white,
        ),
        "banner_note": ParagraphStyle(
            "banner_note",
            parent=body,
            fontSize=8.5,
            leading=11,
            alignment=TA_CENTER,
            textColor=colors.white,
        ),
        "signature": ParagraphStyle("signature", parent=body, fontSize=8, leading=10),
    }
