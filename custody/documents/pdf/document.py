"""`Document`: a receipt or a report, built flowable by flowable, then rendered to PDF bytes
(deterministic for identical input) or written atomically. `DocumentInfo` is what every
document carries (metadata, the fixed date, the marks on its pages).

The top of the reportlab seam (`custody.documents.pdf`, whose `__init__` installs the
settings guard): it lays out with `text` (fonts, styles, plain/markup) and `graphics` (QR code,
bar chart), and leaves PDF/A-2b to `archival`. `custody.documents.receipt` and the reports in
`custody.documents.reports` build on it; all text they pass is plain text, never markup.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from custody.documents.pdf import PdfError, graphics
from custody.documents.pdf.archival import make_archival
from custody.documents.pdf.text import (
    AMBER,
    GREY,
    RED,
    RULE,
    SANS,
    SANS_BOLD,
    SHADE,
    Ident,
    markup,
    paragraph_styles,
    plain,
    register_fonts,
)

TABLE_CHUNK_ROWS = 100
# An identifier shrinks to this fraction of its style's size to stay on one line; when even
# that is not enough it breaks between tokens, shrunk (to MIN_FIT_SCALE) only if a token must.
ONE_LINE_SCALE = 0.85
MIN_FIT_SCALE = 0.7
# A word this long in a table cell is an identifier (key label, hash, base64): never broken.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=:._-]{24,}")
# The only places an identifier that does not fit even then may break: after these.
_TOKENS = re.compile(r"[^\s+/-]+[\s+/-]*|[\s+/-]+")


class FitText(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """An identifier (`text.Ident`) in a cell: on one line at its style's size, shrunk to fit
    down to `ONE_LINE_SCALE` of it; only if it still does not fit, broken after a separator
    (space, '+', '/', '-'), never inside a token (each token shrunk to fit, down to
    `MIN_FIT_SCALE`). A bag serial "TEB-2026-000123" never reads
    "TEB-2026-000 / 123". Plain text only: `drawString` parses no markup."""

    def __init__(self, text: str, style: Any) -> None:
        super().__init__()
        self.text = plain(text).replace("\n", " ")
        given = getattr(text, "tokens", None)
        self.tokens: list[str] = (
            [plain(t) for t in given] if given else _TOKENS.findall(self.text) or [self.text]
        )
        self.font, self.color = style.fontName, style.textColor
        self.size = float(style.fontSize)
        self.font_size = self.size
        self.lines = [self.text]
        self.leading = self.size * 1.25

    def _width(self, text: str, size: float) -> float:
        return float(stringWidth(text, self.font, size))

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.font_size = size = self._fitting_size(avail_width)
        self.lines = self._break(avail_width, size)
        self.leading = size * 1.25
        self.width = max(self._width(line, size) for line in self.lines)
        self.height = self.leading * len(self.lines)
        return self.width, self.height

    def _fitting_size(self, avail_width: float) -> float:
        """One line, a little smaller if need be (down to `ONE_LINE_SCALE`); else the size at
        which its widest token fits (down to `MIN_FIT_SCALE`), to break between tokens."""
        full = self._width(self.text, self.size)
        if full <= avail_width or avail_width <= 0:
            return self.size
        one_line = self.size * avail_width / full
        if one_line >= self.size * ONE_LINE_SCALE:
            return one_line
        widest = max(self._width(t.strip(), self.size) for t in self.tokens)
        return max(self.size * MIN_FIT_SCALE, self.size * min(1.0, avail_width / widest))

    def _break(self, avail_width: float, size: float) -> list[str]:
        if self._width(self.text, size) <= avail_width:
            return [self.text]
        lines: list[str] = []
        line = ""
        for token in self.tokens:
            if line and self._width((line + token).rstrip(), size) > avail_width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
        if line.strip():
            lines.append(line.rstrip())
        return lines or [self.text]

    def draw(self) -> None:
        canvas = self.canv
        canvas.setFont(self.font, self.font_size)
        canvas.setFillColor(self.color)
        for i, line in enumerate(self.lines):
            baseline = self.height - (i + 1) * self.leading + 0.3 * self.font_size
            canvas.drawString(0, baseline, line)


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
    `TABLE_CHUNK_ROWS` rows), `ruled_rows` (a grid to fill in by hand), `fingerprint` (hex and
    words), `signature_lines`, `qr_code`, `bar_chart`. All text is plain text; callers never
    pass markup; an `Ident` is drawn on one line (`FitText`).
    """

    def __init__(self, info: DocumentInfo, *, pagesize: tuple[float, float] = A4) -> None:
        register_fonts()
        self.info = info
        self.pagesize = pagesize
        self.margin = 16 * mm
        # The frame pads 6 pt on each side inside the margins.
        self.width = pagesize[0] - 2 * self.margin - 12
        self._rendered = False
        self.styles = paragraph_styles()
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

    def cell(self, value: object, style: Any) -> Any:
        """What a table cell draws: an `Ident` on one line (`FitText`), a list or tuple as its
        parts one under the other, anything else as a wrapping paragraph of plain text, in
        which a word of 24 characters or more (a key label, a hash) is kept whole too."""
        if isinstance(value, Ident):
            return FitText(value, style)
        if isinstance(value, list | tuple):
            return [self.cell(v, style) for v in value]
        text = str(value)
        if not _LONG_TOKEN.search(text):
            return Paragraph(markup(text), style)
        # Text that carries a long token (a key label, a hash): the token on a line of its
        # own, never broken inside; the words around it wrap as usual.
        parts: list[Any] = []
        for line in text.split("\n"):
            words: list[str] = []
            for word in line.split(" "):
                if _LONG_TOKEN.fullmatch(word):
                    if words:
                        parts.append(Paragraph(markup(" ".join(words)), style))
                        words = []
                    parts.append(FitText(Ident.whole(word), style))
                else:
                    words.append(word)
            if words:
                parts.append(Paragraph(markup(" ".join(words)), style))
        return parts

    def key_values(
        self, rows: Sequence[tuple[str, object]], *, key_width: float = 0.28, mono: bool = False
    ) -> None:
        """A two-column block of labels and values (values wrap; `mono` for hex and ids)."""
        value_style = self.styles["mono" if mono else "cell"]
        cells = [
            [Paragraph(markup(k), self.styles["key"]), self.cell(v, value_style)] for k, v in rows
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
        """A table with a header row, split into tables of `chunk_rows` rows. A cell is drawn
        by `cell` (an `Ident` never breaks inside a token; a tuple stacks its parts).

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
                batch.append([self.cell(v, cell_style) for v in row])
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

    def ruled_rows(
        self,
        header: Sequence[str],
        *,
        rows: int,
        row_height_mm: float,
        col_widths: Sequence[float],
    ) -> None:
        """An empty table to fill in by hand: `rows` ruled rows of `row_height_mm`, a grid."""
        widths = [self.width * f / sum(col_widths) for f in col_widths]
        head = [Paragraph(markup(h), self.styles["cell_head"]) for h in header]
        blank = [["" for _ in header] for _ in range(rows)]
        table = Table(
            [head, *blank],
            colWidths=widths,
            rowHeights=[None, *([row_height_mm * mm] * rows)],
            repeatRows=1,
        )
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), SANS),
                    ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                    ("GRID", (0, 0), (-1, -1), 0.5, RULE),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        self.story += [table, Spacer(1, 3 * mm)]

    def fingerprint(self, label: str, hex_text: str, word_list: Sequence[str]) -> None:
        """A digest for reading aloud: label, the words large, the full hex small."""
        half = (len(word_list) + 1) // 2
        lines = [" ".join(word_list[:half]), " ".join(word_list[half:])]
        words_par = Paragraph("<br/>".join(markup(x) for x in lines if x), self.styles["words"])
        block = [
            Paragraph(markup(label), self.styles["key"]),
            words_par,
            Paragraph(markup(group_hex(hex_text)), self.styles["mono"]),
            Spacer(1, 2.5 * mm),
        ]
        self.story.append(KeepTogether(block))

    def signature_lines(self, signers: Sequence[Sequence[str]]) -> None:
        """One block per signer: a line to sign on, then their name and details below it (an
        `Ident` line, such as a key fingerprint, never breaks inside)."""
        cols = max(1, len(signers))
        col = self.width / cols
        cells: list[list[Any]] = [[Spacer(1, 14 * mm) for _ in signers]]
        cells.append(
            [[self.cell(line, self.styles["signature"]) for line in lines] for lines in signers]
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
        qr = graphics.QrFlowable(payload, size_mm * mm)
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
        drawing = graphics.bar_chart(self.width, categories, series, height_mm=height_mm)
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


def group_hex(text: str) -> str:
    """Hex in groups of 8 for reading; anything else unchanged."""
    if text and all(c in "0123456789abcdef" for c in text) and len(text) > 16:
        return " ".join(text[i : i + 8] for i in range(0, len(text), 8))
    return text
