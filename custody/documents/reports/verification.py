"""The verification report: the result of verifying the ledger (its problems, every
checkpoint checked, stored or given) and the officers with their keys. Shared parts from
`shared`.
"""

from __future__ import annotations

from typing import Any

from custody.documents.pdf.document import Document
from custody.documents.pdf.text import Ident
from custody.documents.reports.shared import (
    LedgerState,
    document_info,
    ledger_section,
    plural,
)
from custody.ledger import officers
from custody.ledger.chain import Ledger


def verification_data(ledger: Ledger, state: LedgerState) -> dict[str, Any]:
    return {
        "report": "verification",
        "ledger": state.to_dict(),
        "officers": [o.to_dict() for o in officers.list_officers(ledger)],
        "stored_checkpoints": len(ledger.stored_checkpoints()),
    }


def verification_pdf(data: dict[str, Any]) -> Document:
    state = LedgerState(**data["ledger"])
    doc = Document(document_info(state, "Ledger verification", "Result of ledger verify"))
    doc.title(
        "Ledger verification",
        ("VERIFIES" if state.verified else "DOES NOT VERIFY") + f" · as of {state.last_time}",
    )
    ledger_section(doc, state)
    doc.heading("Problems")
    if state.problems:
        doc.table(
            ["#", "Problem"],
            [[i + 1, p] for i, p in enumerate(state.problems[:500])],
            col_widths=[0.4, 6],
        )
    else:
        doc.paragraph(
            "None. Every event's hash, the hash chain, the Merkle tree, every officer's approval "
            "signature and the two-person rule were recomputed from the events."
        )
    doc.heading("Checkpoints checked")
    doc.paragraph(
        f"{plural(data['stored_checkpoints'], 'checkpoint')} stored in the ledger; those given "
        "with --checkpoint (kept outside: receipts, the customer) are the ones that detect a "
        "truncated or rolled-back ledger.",
        style="small",
    )
    doc.table(
        ["Source", "Size", "Root", "Result"],
        [
            [
                c.get("source", ""),
                c.get("size", ""),
                Ident(c.get("root", "")),
                "holds" if c.get("ok") else f"FAILS: {c.get('problem', '')}",
            ]
            for c in state.checkpoints
        ],
        col_widths=[1.4, 0.5, 3.6, 1.4],
    )
    doc.heading("Officers and their keys")
    doc.table(
        ["Name", "Role", "Key fingerprint", "Enrolled", "Status"],
        [
            [
                o["name"],
                o["role"],
                Ident(o["fingerprint"]),
                f"event {o['enrolled_seq']}",
                "active" if o["active"] else f"retired (event {o['retired_seq']})",
            ]
            for o in data["officers"]
        ],
        col_widths=[1.2, 0.7, 3.0, 0.8, 1.3],
    )
    return doc
