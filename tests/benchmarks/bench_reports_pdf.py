"""PDF figures: receipt render time; a 10,000-row report table (chunked into 100-row tables)
against a baseline of reportlab drawing the same rows as plain text lines on a canvas (the
least a PDF of those rows can cost); the archival (PDF/A-2b) post-step."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

from custody.documents import receipt
from custody.documents.pdf import document as pdf
from custody.documents.pdf.text import SANS, register_fonts

ROWS = 10_000


def _rows() -> list[list[str]]:
    return [
        [
            str(i),
            f"2026-03-01T09:{i % 60:02d}:{i % 60:02d}Z",
            "pad.consumed",
            f"pad-{i % 200:03d}",
            f"{i * 4096:,}-{(i + 1) * 4096:,}",
        ]
        for i in range(ROWS)
    ]


def _best(fn: Any, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _chunked(rows: list[list[str]]) -> bytes:
    doc = pdf.Document(pdf.DocumentInfo(title="Events", created="2026-03-01T00:00:00Z"))
    doc.table(
        ["seq", "time", "type", "pad", "range"], rows, col_widths=[1, 3, 2.2, 1.5, 3], wrap=False
    )
    return doc.render()


def _canvas_lines(rows: list[list[str]]) -> bytes:
    register_fonts()
    buf = io.BytesIO()
    c = pdf.Canvas(buf, invariant=1, initialFontName=SANS)
    y = 800.0
    c.setFont(SANS, 7.5)
    for row in rows:
        c.drawString(45, y, "   ".join(row))
        y -= 9
        if y < 40:
            c.showPage()
            c.setFont(SANS, 7.5)
            y = 800.0
    c.save()
    return buf.getvalue()


def main() -> dict[str, Any]:
    data = receipt.sample_data()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.pdf"
        receipt_s = _best(lambda: receipt.write_receipt(data, out))
        receipt_bytes = out.stat().st_size
        receipt_archival_s = _best(lambda: receipt.write_receipt(data, out, archival=True))
    rows = _rows()
    chunked_s = _best(lambda: _chunked(rows), repeat=1)
    chunked_pages = _chunked(rows).count(b"/Type /Page\n")
    baseline_s = _best(lambda: _canvas_lines(rows), repeat=2)
    result = {
        "receipt_ms": round(receipt_s * 1000, 1),
        "receipt_archival_ms": round(receipt_archival_s * 1000, 1),
        "receipt_bytes": receipt_bytes,
        "table_rows": ROWS,
        "table_chunked_s": round(chunked_s, 2),
        "table_chunked_pages": chunked_pages,
        "baseline_canvas_lines_s": round(baseline_s, 2),
        "ratio_chunked_vs_baseline": round(chunked_s / baseline_s, 1),
    }
    for key, value in result.items():
        print(f"{key:>28}: {value}")
    return result


if __name__ == "__main__":
    main()
