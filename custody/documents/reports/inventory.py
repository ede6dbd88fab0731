"""The inventory report: every pad the ledger knows, counted by state, with its copies, bag,
holder, consumption and last event. Data from `custody.lifecycle.states.scan`; the shared
ledger section and wording from `shared`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from custody.documents.pdf.document import Document
from custody.documents.pdf.text import Ident
from custody.documents.reports.shared import (
    STATE_TITLES,
    LedgerState,
    document_info,
    ledger_section,
    pad_id_lines,
    percent,
    plural,
    size_text,
)
from custody.lifecycle import states


def inventory_data(state: LedgerState, pads: dict[str, states.PadRecord]) -> dict[str, Any]:
    rows = [pads[k].to_dict() for k in sorted(pads) if pads[k].recorded]
    for r in rows:
        del r["history"]
    return {
        "report": "inventory",
        "ledger": state.to_dict(),
        "counts": dict(sorted(Counter(r["state"] for r in rows).items())),
        "pads": rows,
    }


def inventory_pdf(data: dict[str, Any]) -> Document:
    state = LedgerState(**data["ledger"])
    doc = Document(document_info(state, "Pad inventory", "Every pad the ledger knows"))
    doc.title("Pad inventory", f"{plural(len(data['pads']), 'pad')} · as of {state.last_time}")
    ledger_section(doc, state)
    doc.heading("Pads by state")
    doc.key_values([(STATE_TITLES.get(k, k), v) for k, v in data["counts"].items()])
    doc.heading("Every pad")
    doc.paragraph(
        "Copies: C = customer USB (its serial, or 'present'), F = facility copy (HSM key); a "
        "destroyed copy reads 'destroyed', and the pad's state is 'destroyed' only once both "
        "copies are. Used: pad consumed per direction as the gateway recorded it.",
        style="small",
    )
    table_rows = []
    for p in data["pads"]:
        gone = p["destroyed_copies"]
        cust = "destroyed" if "customer" in gone else (p["usb_serial"] or "present")
        fac = "destroyed" if "facility" in gone else ("HSM" if p["key_label"] else "-")
        last = p["last_event"] or {}
        table_rows.append(
            [
                f"{pad_id_lines(p['pad_id_display'])}\n{p['mark']}",
                STATE_TITLES.get(p["state"], p["state"]),
                size_text(p["size"]),
                f"C: {cust}\nF: {fac}",
                (Ident(p["bag_serial"] or "-"), p["holder"]),
                f"{percent(p['used']['w2f'], p['w2f_length'])} / "
                f"{percent(p['used']['f2w'], p['f2w_length'])}\n{p['queries']} queries",
                (
                    Ident(f"#{last.get('seq', '')} {last.get('type', '')}"),
                    str(last.get("time", ""))[:16].replace("T", " "),
                ),
            ]
        )
    doc.table(
        ["Pad", "State", "Size", "Copies", "Bag / holder", "Used w2f / f2w", "Last event"],
        table_rows,
        col_widths=[1.95, 0.95, 0.65, 1.2, 1.3, 1.05, 1.6],
    )
    return doc
