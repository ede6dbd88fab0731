"""The one module that imports reportlab (and qrcode): a small document builder for receipts
and reports.

Why the care:
- reportlab executes `~/.reportlab_settings` (or any importable `reportlab_settings` module,
  e.g. one dropped in the working directory) as Python on first import. We install an inert
  `reportlab_settings` module in `sys.modules` before importing reportlab, which is the first
  place reportlab looks, so neither file is ever read.
- Paragraphs treat text as markup (`<img src="/etc/passwd"/>` embeds a local file). Every
  piece of text goes through `markup()` (escaped, control and bidi characters made visible);
  long tables use plain string cells, which reportlab draws without parsing.
- Identical input gives identical bytes: `invariant=1` globally and per document, the creation
  date comes from the data, and every font is set explicitly (canvas start font, tables,
  charts), so Helvetica never appears and only embedded DejaVu fonts do.
- Archival output is PDF/A-2b, made by a pikepdf post-step (XMP metadata and an sRGB output
  intent); see `make_archival`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import io
import logging
import os
import sys
import types
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from custody.errors import RedDoorError

log = logging.getLogger(__name__)


class PdfError(RedDoorError):
    """A PDF cannot be produced (missing fonts or ICC profile, unwritable output)."""

    exit_code = 40


def _guard_reportlab_settings() -> None:
    """Make reportlab's settings lookup find an inert module instead of user files."""
    if "reportlab" in sys.modules and "reportlab_settings" not in sys.modules:
        log.warning(
            "reportlab was imported before custody.documents.pdf_document; settings guard late"
        )
    stub = types.ModuleType("reportlab_settings")
    stub.__dict__.update(invariant=1, pdfComments=0)
    sys.modules["reportlab_settings"] = stub


_guard_reportlab_settings()

import qrcode  # noqa: E402
from qrcode.constants import ERROR_CORRECT_M  # noqa: E402
from reportlab import rl_config  # noqa: E402
from reportlab.graphics.charts.barcharts import VerticalBarChart  # noqa: E402
from reportlab.graphics.charts.legends import Legend  # noqa: E402
from reportlab.graphics.shapes import Drawing  # noqa: E402
from reportlab.lib import colors  # noqa: E402
from reportlab.lib.enums import TA_CENTER  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402
from reportlab.platypus import (  # noqa: E402
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

rl_config.invariant = 1

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
FONT_FILES = {
    "DejaVuSans": "DejaVuSans.ttf",
    "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "DejaVuSansMono": "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold": "DejaVuSansMono-Bold.ttf",
}
SANS, SANS_BOLD, MONO = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"
# sRGB ICC profiles shipped by Debian packages, in order of preference (Makefile: libgs-common).
ICC_PROFILES = (
    Path("/usr/share/color/icc/colord/sRGB.icc"),
    Path("/usr/share/color/icc/ghostscript/srgb.icc"),
)
TABLE_CHUNK_ROWS = 100
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


# -- styles ----------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
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


# -- flowables -------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class DocumentInfo:
    """What every document carries: metadata, the fixed date, marks on the pages.

    `created` is ISO 8601 UTC ("2026-03-01T09:30:00Z"); it becomes the PDF creation date so
    the same data always gives the same bytes. `banner` is drawn in a coloured box at the top
    of the first page ("LEDGER DID NOT VERIFY"); `page_mark` in the header of every page
    ("PRACTICE").
    """

    title: str
    created: str
    subject: str = ""
    author: str = "Red Door"
    footer: str = ""
    banner: str | None = None
    banner_note: str = ""
    banner_color: str = "red"  # "red" or "amber"
    page_mark: str | None = None
    keywords: tuple[str, ...] = field(default_factory=tuple)

    def created_datetime(self) -> _dt.datetime:
        try:
            value = _dt.datetime.fromisoformat(self.created.replace("Z", "+00:00"))
        except ValueError:
            raise PdfError(f"the document date {self.created!r} is not ISO 8601") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value.astimezone(_dt.UTC).replace(microsecond=0)

    def pdf_date(self) -> str:
        return self.created_datetime().strftime("D:%Y%m%d%H%M%S+00'00'")


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab is untyped
    """Defers every page until the end so each can say "Page X of Y"."""

    def __init__(self, *args: Any, document: Document, **kwargs: Any) -> None:
        kwargs["invariant"] = 1
        kwargs["initialFontName"] = SANS
        super().__init__(*args, **kwargs)
        self._document = document
        self._page_states: list[dict[str, Any]] = []
        self.setDateFormatter(lambda *_: document.info.pdf_date())
        self.setTitle(plain(document.info.title))
        self.setAuthor(plain(document.info.author))
        self.setSubject(plain(document.info.subject))
        self.setCreator("Red Door")
        self.setProducer("Red Door (reportlab)")
        if document.info.keywords:
            self.setKeywords(", ".join(plain(k) for k in document.info.keywords))

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self._document.decorate_page(self, self._pageNumber, total)
            super().showPage()
        super().save()


class Document:
    """Build a document flowable by flowable, then `write()` it.

    Reports reuse it: `heading`, `paragraph`, `key_values`, `table` (split into chunks of
    `TABLE_CHUNK_ROWS` rows), `fingerprint` (hex and words), `signature_lines`, `qr_code`,
    `bar_chart`. All text is plain text; callers never pass markup.
    """

    def __init__(self, info: DocumentInfo, *, pagesize: tuple[float, float] = A4) -> None:
        register_fonts()
        self.info = info
        self.pagesize = pagesize
        self.margin = 16 * mm
        # The frame pads 6 pt on each side inside the margins.
        self.width = pagesize[0] - 2 * self.margin - 12
        self._rendered = False
        self.styles = _styles()
        self.story: list[Flowable] = []
        if info.banner:
            self._banner(info.banner, info.banner_note, info.banner_color)

    # -- page furniture --

    def decorate_page(self, canvas: Canvas, page: int, total: int) -> None:
        w, h = self.pagesize
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(self.margin, h - 11 * mm, w - self.margin, h - 11 * mm)
        canvas.line(self.margin, 11 * mm, w - self.margin, 11 * mm)
        canvas.setFont(SANS, 7.5)
        canvas.setFillColor(GREY)
        canvas.drawString(self.margin, h - 9.5 * mm, plain(self.info.title))
        canvas.drawString(self.margin, 7.5 * mm, plain(self.info.footer))
        canvas.drawRightString(w - self.margin, 7.5 * mm, f"Page {page} of {total}")
        if self.info.page_mark:
            canvas.setFont(SANS_BOLD, 9)
            canvas.setFillColor(RED)
            canvas.drawRightString(w - self.margin, h - 9.5 * mm, plain(self.info.page_mark))
        canvas.restoreState()

    def _banner(self, text: str, note: str, color: str) -> None:
        cells: list[list[Any]] = [[Paragraph(markup(text), self.styles["banner"])]]
        if note:
            cells.append([Paragraph(markup(note), self.styles["banner_note"])])
        table = Table(cells, colWidths=[self.width])
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), SANS),
                    ("BACKGROUND", (0, 0), (-1, -1), AMBER if color == "amber" else RED),
                    ("TOPPADDING", (0, 0), (-1, -1), 4),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ]
            )
        )
        self.story += [table, Spacer(1, 4 * mm)]

    # -- content --

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        """Keep everything added inside the block on one page (a heading with its content)."""
        start = len(self.story)
        yield
        block: list[Any] = []
        for flowable in self.story[start:]:
            # Nested KeepTogether blocks make reportlab overestimate the group's height and
            # push it to a new page with room to spare: flatten them into this one.
            if isinstance(flowable, KeepTogether):
                block.extend(flowable._content)
            else:
                block.append(flowable)
        del self.story[start:]
        self.story.append(KeepTogether(block))

    def title(self, text: str, subtitle: str = "") -> None:
        self.story.append(Paragraph(markup(text), self.styles["title"]))
        if subtitle:
            self.story.append(Paragraph(markup(subtitle), self.styles["subtitle"]))
        self.story.append(Spacer(1, 3 * mm))

    def heading(self, text: str) -> None:
        self.story.append(Paragraph(markup(text), self.styles["heading"]))

    def paragraph(self, text: str, *, style: str = "body") -> None:
        self.story.append(Paragraph(markup(text), self.styles[style]))

    def spacer(self, height_mm: float = 3) -> None:
        self.story.append(Spacer(1, height_mm * mm))

    def page_break(self) -> None:
        self.story.append(PageBreak())

    def key_values(
        self, rows: Sequence[tuple[str, object]], *, key_width: float = 0.28, mono: bool = False
    ) -> None:
        """A two-column block of labels and values (values wrap; `mono` for hex and ids)."""
        value_style = self.styles["mono" if mono else "cell"]
        cells = [
            [Paragraph(markup(k), self.styles["key"]), Paragraph(markup(v), value_style)]
            for k, v in rows
        ]
        if not cells:
            return
        kw = self.width * key_width
        table = Table(cells, colWidths=[kw, self.width - kw])
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), SANS),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, SHADE),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                    ("LEFTPADDING", (0, 0), (0, -1), 0),
                ]
            )
        )
        self.story.append(table)

    def table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[object]],
        *,
        col_widths: Sequence[float] | None = None,
        wrap: bool = True,
        chunk_rows: int = TABLE_CHUNK_ROWS,
    ) -> int:
        """A table with a header row, split into tables of `chunk_rows` rows.

        reportlab lays out one table in time that grows faster than its rows; chunks keep a
        10,000-row report linear. `col_widths` are fractions of the text width. `wrap=False`
        draws plain strings (faster, no wrapping) for long machine tables. Returns the rows.
        """
        ncols = len(header)
        fractions = list(col_widths) if col_widths else [1 / ncols] * ncols
        if len(fractions) != ncols:
            raise ValueError("col_widths must give one width per column")
        widths = [self.width * f / sum(fractions) for f in fractions]
        cell_style, head_style = self.styles["cell"], self.styles["cell_head"]
        head: list[Any]
        if wrap:
            head = [Paragraph(markup(h), head_style) for h in header]
        else:
            head = [plain(h) for h in header]
        count = 0
        batch: list[list[Any]] = []
        for row in rows:
            if len(row) != ncols:
                raise ValueError(f"a table row has {len(row)} cells, the header {ncols}")
            if wrap:
                batch.append([Paragraph(markup(v), cell_style) for v in row])
            else:
                batch.append([plain(v).replace("\n", " ") for v in row])
            count += 1
            if len(batch) == chunk_rows:
                self._table_chunk(head, batch, widths, wrap)
                batch = []
        if batch or count == 0:
            self._table_chunk(head, batch, widths, wrap)
        self.story.append(Spacer(1, 2 * mm))
        return count

    def _table_chunk(
        self, head: list[Any], rows: list[list[Any]], widths: list[float], wrap: bool
    ) -> None:
        table = Table([head, *rows], colWidths=widths, repeatRows=1)
        style: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), SANS),
            ("FONTNAME", (0, 0), (-1, 0), SANS_BOLD),
            ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ("LEADING", (0, 0), (-1, -1), 9),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, RULE),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, SHADE),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5 if wrap else 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5 if wrap else 1),
        ]
        table.setStyle(TableStyle(style))
        self.story.append(table)

    def fingerprint(self, label: str, hex_text: str, word_list: Sequence[str]) -> None:
        """A digest for reading aloud: label, the words large, the full hex small."""
        half = (len(word_list) + 1) // 2
        lines = [" ".join(word_list[:half]), " ".join(word_list[half:])]
        words_par = Paragraph("<br/>".join(markup(x) for x in lines if x), self.styles["words"])
        block = [
            Paragraph(markup(label), self.styles["key"]),
            words_par,
            Paragraph(markup(_group_hex(hex_text)), self.styles["mono"]),
            Spacer(1, 2.5 * mm),
        ]
        self.story.append(KeepTogether(block))

    def signature_lines(self, signers: Sequence[Sequence[str]]) -> None:
        """One block per signer: a line to sign on, then their name and details below it."""
        cols = max(1, len(signers))
        col = self.width / cols
        cells: list[list[Any]] = [[Spacer(1, 14 * mm) for _ in signers]]
        cells.append(
            [
                Paragraph("<br/>".join(markup(line) for line in lines), self.styles["signature"])
                for lines in signers
            ]
        )
        table = Table(cells, colWidths=[col] * cols)
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), SANS),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 10),
                ]
            )
        )
        self.story.append(KeepTogether([table, Spacer(1, 3 * mm)]))

    def qr_code(self, payload: str, caption: Sequence[str] = (), *, size_mm: float = 70) -> int:
        """A QR code of `payload` beside its caption lines; returns the QR version used."""
        qr = QrFlowable(payload, size_mm * mm)
        text = [Paragraph(markup(line), self.styles["small"]) for line in caption]
        table = Table([[qr, text]], colWidths=[size_mm * mm + 4 * mm, None])
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), SANS),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (0, 0), 0),
                ]
            )
        )
        self.story.append(KeepTogether([table]))
        return qr.version

    def bar_chart(
        self,
        categories: Sequence[str],
        series: Sequence[tuple[str, Sequence[float]]],
        *,
        height_mm: float = 55,
    ) -> None:
        """A small vertical bar chart (every label in DejaVu, so no Helvetica)."""
        height = height_mm * mm
        drawing = Drawing(self.width, height)
        drawing.initialFontName = SANS  # the renderer would start in Helvetica
        chart = VerticalBarChart()
        chart.x, chart.y = 30, 28
        chart.width, chart.height = self.width - 140, height - 40
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
        legend.x, legend.y = self.width - 100, height - 12
        legend.alignment = "right"
        legend.colorNamePairs = [
            (palette[i % len(palette)], plain(name)) for i, (name, _) in enumerate(series)
        ]
        drawing.add(legend)
        self.story.append(drawing)

    # -- output --

    def render(self, *, archival: bool = False) -> bytes:
        """The PDF bytes. Once per document: reportlab consumes the story while laying out."""
        if self._rendered:
            raise RuntimeError("a Document renders once; build a new one")
        self._rendered = True
        buf = io.BytesIO()
        template = SimpleDocTemplate(
            buf,
            pagesize=self.pagesize,
            leftMargin=self.margin,
            rightMargin=self.margin,
            topMargin=self.margin,
            bottomMargin=self.margin,
            title=plain(self.info.title),
            author=plain(self.info.author),
            subject=plain(self.info.subject),
            creator="Red Door",
            producer="Red Door (reportlab)",
            invariant=1,
            initialFontName=SANS,
        )
        template.build(
            list(self.story), canvasmaker=functools.partial(_NumberedCanvas, document=self)
        )
        data = buf.getvalue()
        return make_archival(data, self.info) if archival else data

    def write(self, out: Path, *, archival: bool = False) -> Path:
        from custody.durable_file import write_atomic

        data = self.render(archival=archival)
        try:
            write_atomic(out, data, mode=0o644)
        except OSError as exc:
            raise PdfError(f"cannot write {out}: {exc.strerror}") from None
        return out


def _group_hex(text: str) -> str:
    """Hex in groups of 8 for reading; anything else unchanged."""
    if text and all(c in "0123456789abcdef" for c in text) and len(text) > 16:
        return " ".join(text[i : i + 8] for i in range(0, len(text), 8))
    return text


# -- PDF/A-2b ------------------------------------------------------------------------------


def icc_profile() -> bytes:
    override = os.environ.get("REDDOOR_ICC_PROFILE")
    for path in ((Path(override),) if override else ()) + ICC_PROFILES:
        if path.is_file():
            return path.read_bytes()
    raise PdfError(
        "no sRGB ICC profile for archival PDF (install the Debian package libgs-common, "
        "or set REDDOOR_ICC_PROFILE)"
    )


def _xmp(info: DocumentInfo) -> bytes:
    when = info.created_datetime().strftime("%Y-%m-%dT%H:%M:%SZ")

    def x(text: str) -> str:
        return _xml_escape(plain(text))

    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{x(info.title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{x(info.author)}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{x(info.subject)}</rdf:li></rdf:Alt>
   </dc:description>
   <xmp:CreateDate>{when}</xmp:CreateDate>
   <xmp:ModifyDate>{when}</xmp:ModifyDate>
   <xmp:MetadataDate>{when}</xmp:MetadataDate>
   <xmp:CreatorTool>Red Door</xmp:CreatorTool>
   <pdf:Producer>Red Door (reportlab)</pdf:Producer>
   <pdfaid:part>2</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


def make_archival(data: bytes, info: DocumentInfo) -> bytes:
    """PDF/A-2b: XMP metadata matching the Info dictionary, an sRGB output intent, no
    Keywords mismatch, deterministic /ID. reportlab already embeds every font."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        icc = pdf.make_stream(icc_profile())
        icc.N = 3
        intent = pikepdf.Dictionary(
            Type=pikepdf.Name.OutputIntent,
            S=pikepdf.Name.GTS_PDFA1,
            OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"),
            Info=pikepdf.String("sRGB IEC61966-2.1"),
            DestOutputProfile=icc,
        )
        pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])
        metadata = pdf.make_stream(_xmp(info))
        metadata.Type = pikepdf.Name.Metadata
        metadata.Subtype = pikepdf.Name.XML
        pdf.Root.Metadata = metadata
        docinfo = pdf.trailer.Info
        for key in ("/Keywords", "/Trapped"):
            if key in docinfo:
                del docinfo[key]
        docinfo.Creator = pikepdf.String("Red Door")
        docinfo.Producer = pikepdf.String("Red Door (reportlab)")
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True, min_version="1.7")
        return out.getvalue()
