"""The ceremony run-sheet: the paper form the officers fill in by hand while the station runs
a pad ceremony, generated from the ceremony's step definitions (passed in by the caller:
custody never imports `ceremony`) with the script hash as words. With a ledger it also shows
the ledger section from `shared`; without one it carries a fixed date.
"""

from __future__ import annotations

from typing import Any

from custody.documents.pdf.document import Document, DocumentInfo
from custody.documents.pdf.text import Ident
from custody.documents.reports.shared import LedgerState, document_info, ledger_section

# Rows the exception table offers, each tall enough to write two lines by hand.
EXCEPTION_ROWS = 6


def runsheet_data(state: LedgerState | None, script: dict[str, Any]) -> dict[str, Any]:
    """`script` comes from the ceremony layer (custody never imports it): `sha256`, `words`,
    `steps` [{n, id, title, activity, confirms, event}] — see app/cli/report_commands.py."""
    return {
        "report": "runsheet",
        "ledger": None if state is None else state.to_dict(),
        "script_sha256": script["sha256"],
        "script_words": script["words"],
        "steps": list(script["steps"]),
    }


def runsheet_pdf(data: dict[str, Any]) -> Document:
    state = None if data["ledger"] is None else LedgerState(**data["ledger"])
    title = "Ceremony run-sheet"
    if state is not None:
        info = document_info(state, title, "To be filled in by hand during a pad ceremony")
    else:
        info = DocumentInfo(
            title=title,
            created="2026-01-01T00:00:00Z",
            subject="To be filled in by hand during a pad ceremony",
            footer="Red Door ceremony run-sheet · no ledger given",
        )
    doc = Document(info)
    doc.title(title, "Fill in by hand, in ink, as the station runs each step")
    doc.fingerprint(
        "Script hash (SHA-256 of the step definitions): the station shows the same words",
        data["script_sha256"],
        data["script_words"].split(),
    )
    blank = "______________________"
    doc.key_values(
        [
            ("Date", blank),
            ("Room / station", blank),
            ("Officer A (name)", blank),
            ("Officer B (name)", blank),
            ("Pad size and split", blank),
            ("Customer drive serial", blank),
        ]
    )
    if state is not None:
        ledger_section(doc, state)
    doc.heading("Steps")
    doc.table(
        ["#", "Step", "Activity", "Who confirms", "Initials A", "Initials B", "Time"],
        [
            [Ident(str(s["n"])), s["title"], s["activity"], s["confirms"], "", "", ""]
            for s in data["steps"]
        ],
        col_widths=[0.45, 1.1, 3.45, 1.1, 0.75, 0.75, 0.8],
    )
    with doc.group():
        doc.heading("Tamper-evident bag")
        doc.key_values(
            [
                ("Bag serial, read by A", blank),
                ("Bag serial, typed by B", blank),
                ("Bag serial, typed again", blank),
                ("Bag intact, sealed at (time)", blank),
            ]
        )
    with doc.group():
        doc.heading("Exceptions (expected / what happened / decision)")
        doc.paragraph(
            "One row per exception; both officers initial it. Use the back of the sheet when "
            "these rows are not enough, and say so here.",
            style="small",
        )
        doc.ruled_rows(
            ["Step", "Expected", "What happened", "Decision", "Initials A / B"],
            rows=EXCEPTION_ROWS,
            row_height_mm=14,
            col_widths=[0.6, 1.6, 2.2, 1.8, 1.1],
        )
    with doc.group():
        doc.heading("Signatures")
        doc.signature_lines(
            [
                ["Officer A", "signature, date"],
                ["Officer B", "signature, date"],
                ["Received by (courier or customer)", "name, bag serial, signature, date"],
            ]
        )
    return doc
