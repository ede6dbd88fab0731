"""The reportlab seam: the only package that imports reportlab (and qrcode), a small document
builder for receipts and reports.

Why a package and why the care:
- reportlab executes `~/.reportlab_settings` (or any importable `reportlab_settings` module,
  e.g. one dropped in the working directory) as Python on first import. This `__init__`
  installs an inert `reportlab_settings` module in `sys.modules` before importing reportlab,
  which is the first place reportlab looks, so neither file is ever read. Python runs a
  package's `__init__` before any of its modules, so no module here can import reportlab
  before the guard: that is why the seam is this package and nothing outside it imports
  reportlab (tests/custody/pad/test_cli_frames.py checks both).
- Paragraphs treat text as markup (`<img src="/etc/passwd"/>` embeds a local file). Every
  piece of text goes through `text.markup()` (escaped, control and bidi characters made
  visible); long tables use plain string cells, which reportlab draws without parsing.
- Identical input gives identical bytes: `invariant=1` globally (here) and per document, the
  creation date comes from the data, and every font is set explicitly (canvas start font,
  tables, charts), so Helvetica never appears and only embedded DejaVu fonts do.

The modules, lowest first: `text` (fonts, colours, styles, plain/markup), `graphics` (the QR
code and the bar chart), `archival` (the PDF/A-2b post-step, through pikepdf), `document`
(`DocumentInfo` and `Document`, which the receipt and the reports build on).
"""

from __future__ import annotations

import logging
import sys
import types

from custody.errors import RedDoorError

log = logging.getLogger(__name__)


class PdfError(RedDoorError):
    """A PDF cannot be produced (missing fonts or ICC profile, unwritable output)."""

    exit_code = 40


def _guard_reportlab_settings() -> None:
    """Make reportlab's settings lookup find an inert module instead of user files."""
    if "reportlab" in sys.modules and "reportlab_settings" not in sys.modules:
        log.warning("reportlab was imported before custody.documents.pdf; settings guard late")
    stub = types.ModuleType("reportlab_settings")
    stub.__dict__.update(invariant=1, pdfComments=0)
    sys.modules["reportlab_settings"] = stub


_guard_reportlab_settings()

from reportlab import rl_config  # noqa: E402  (after the guard, on purpose)

rl_config.invariant = 1
