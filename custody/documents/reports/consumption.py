"""The consumption report: pad bytes the link consumed, per pad and direction and per day,
counted from the gateway's `link.query` events in the ledger (optionally since a date), with a
bar chart of the last 31 days with traffic. Shared parts from `shared`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from custody import canonical_json
from custody.documents.pdf.document import Document
from custody.documents.reports.shared import (
    STATE_TITLES,
    LedgerState,
    document_info,
    ledger_section,
    pad_id_lines,
    percent,
)
from custody.ledger.chain import Ledger
from custody.lifecycle import states
from custody.lifecycle.consumption import query_bytes
from custody.link.chronicle import LEDGER_EVENT


def consumption_data(
    ledger: Ledger,
    state: LedgerState,
    pads: dict[str, states.PadRecord],
    since: str | None = None,
) -> dict[str, Any]:
    per_pad: dict[str, dict[str, int]] = defaultdict(lambda: {"w2f": 0, "f2w": 0, "queries": 0})
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: {"w2f": 0, "f2w": 0, "queries": 0})
    cur = ledger.conn.execute(
        "SELECT time, payload FROM events WHERE type = ? AND time >= ? ORDER BY seq",
        (LEDGER_EVENT, since or ""),
    )
    for time, raw in cur:
        p = canonical_json.loads(bytes(raw))
        day = str(time)[:10]
        used = query_bytes(p)  # the count `states` adds up for `total_used`
        w, f = used["w2f"], used["f2w"]
        for bucket in (per_pad[p["pad_id"]], per_day[day]):
            bucket["w2f"] += w
            bucket["f2w"] += f
            bucket["queries"] += 1
    rows = []
    for pid in sorted(pads):
        rec = pads[pid]
        if not rec.recorded:
            continue
        u = per_pad.get(pid, {"w2f": 0, "f2w": 0, "queries": 0})
        rows.append(
            {
                "pad_id": pid,
                "pad_id_display": rec.display,
                "state": rec.state,
                "mark": rec.mark,
                "queries": u["queries"],
                "w2f": {"used": u["w2f"], "length": rec.w2f_length, "total_used": rec.used["w2f"]},
                "f2w": {"used": u["f2w"], "length": rec.f2w_length, "total_used": rec.used["f2w"]},
            }
        )
    return {
        "report": "consumption",
        "ledger": state.to_dict(),
        "since": since,
        "pads": rows,
        "days": [{"day": d, **v} for d, v in sorted(per_day.items())],
    }


def consumption_pdf(data: dict[str, Any]) -> Document:
    state = LedgerState(**data["ledger"])
    since = data["since"]
    scope = f"since {since}" if since else "since each pad's ceremony"
    doc = Document(document_info(state, "Pad consumption", f"Consumption {scope}"))
    doc.title("Pad consumption", f"Per pad and per direction, {scope} · as of {state.last_time}")
    ledger_section(doc, state)
    days = data["days"][-31:]
    doc.heading("Pad bytes consumed per day (KiB)")
    if days:
        doc.bar_chart(
            [d["day"][5:] for d in days],
            [
                ("workstation→facility", [round(d["w2f"] / 1024, 1) for d in days]),
                ("facility→workstation", [round(d["f2w"] / 1024, 1) for d in days]),
            ],
        )
        if len(data["days"]) > len(days):
            doc.paragraph(f"The last {len(days)} days with traffic are shown.", style="small")
    else:
        doc.paragraph("No link traffic recorded in this period.")
    total_w = sum(p["w2f"]["used"] for p in data["pads"])
    total_f = sum(p["f2w"]["used"] for p in data["pads"])
    total_q = sum(p["queries"] for p in data["pads"])
    doc.key_values(
        [
            ("Queries", f"{total_q:,}"),
            ("Workstation→facility", f"{total_w:,} bytes"),
            ("Facility→workstation", f"{total_f:,} bytes"),
        ]
    )
    doc.heading("Per pad")
    doc.table(
        [
            "Pad",
            "State",
            "Queries",
            "w2f in period",
            "w2f used of region",
            "f2w in period",
            "f2w used of region",
        ],
        [
            [
                pad_id_lines(p["pad_id_display"]),
                STATE_TITLES.get(p["state"], p["state"]),
                f"{p['queries']:,}",
                f"{p['w2f']['used']:,}",
                f"{p['w2f']['total_used']:,} / {p['w2f']['length']:,} "
                f"({percent(p['w2f']['total_used'], p['w2f']['length'])})",
                f"{p['f2w']['used']:,}",
                f"{p['f2w']['total_used']:,} / {p['f2w']['length']:,} "
                f"({percent(p['f2w']['total_used'], p['f2w']['length'])})",
            ]
            for p in data["pads"]
        ],
        col_widths=[2.05, 1.0, 0.85, 0.85, 1.45, 0.85, 1.45],
    )
    return doc
