"""The pad custody report (`reddoor report pad`): one pad's chain of custody, every event with
its leaf hash and audit path to the report's signed checkpoint, and a QR code of the latest
event's inclusion proof (the receipt's payload format, `custody.documents.receipt_payload`, so
`reddoor receipt verify` checks it). Shared parts from `shared`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from custody.documents.pdf.document import Document
from custody.documents.receipt_payload import encode_payload
from custody.documents.reports.shared import (
    STATE_TITLES,
    LedgerState,
    document_info,
    inclusion,
    ledger_section,
    officers_by_name,
    size_text,
)
from custody.fingerprint_words import words
from custody.ledger.chain import Ledger
from custody.lifecycle import states


def pad_data(ledger: Ledger, state: LedgerState, rec: states.PadRecord) -> dict[str, Any]:
    people = officers_by_name(ledger)
    history = []
    for h in rec.history:
        leaf = ledger.event(h.seq).hash.hex()
        bundle = inclusion(ledger, state, h.seq)
        history.append(
            {
                **h.__dict__,
                "leaf_hash": leaf,
                "proof": None
                if bundle is None
                else {"tree_size": state.checkpoint_size, "path": bundle["proof"]},
                "approver_fingerprints": [
                    people[n].fingerprint if n in people else "?" for n in h.approvers
                ],
            }
        )
    last_bundle = inclusion(ledger, state, rec.history[-1].seq) if rec.history else None
    d = rec.to_dict()
    d["history"] = history
    return {
        "report": "pad",
        "ledger": state.to_dict(),
        "pad": d,
        "last_event_bundle": last_bundle,
    }


def pad_pdf(data: dict[str, Any]) -> Document:
    state = LedgerState(**data["ledger"])
    p = data["pad"]
    doc = Document(
        document_info(
            state, f"Pad report — {p['pad_id_display']}", "Chain of custody with ledger proofs"
        )
    )
    doc.title(
        "Pad custody report",
        f"Pad {p['pad_id_display']} · {p['mark']} · {STATE_TITLES.get(p['state'], p['state'])}",
    )
    doc.key_values(
        [
            ("Pad id", f"{p['pad_id_display']}  ({p['pad_id']})"),
            ("State", STATE_TITLES.get(p["state"], p["state"])),
            ("Mark", p["mark"]),
            ("Size / split", f"{size_text(p['size'])}, split {p['split']}"),
            ("Ceremony", p["ceremony_id"]),
            ("Bag serial", p["bag_serial"] or "-"),
            ("Holder", p["holder"]),
            ("Customer USB serial", p["usb_serial"] or "-"),
            ("Facility copy", p["key_label"] or "-"),
            (
                "Destroyed copies",
                ", ".join(f"{c} (event {s})" for c, s in sorted(p["destroyed_copies"].items()))
                or "none",
            ),
            (
                "Consumed (gateway)",
                f"w2f {p['used']['w2f']:,} of {p['w2f_length']:,} bytes, f2w "
                f"{p['used']['f2w']:,} of {p['f2w_length']:,} bytes, {p['queries']} queries",
            ),
            ("Exceptions", p["exceptions"]),
        ]
    )
    doc.spacer(3)
    if p["merkle_root"]:
        doc.fingerprint(
            "Merkle root of the pad (as on the receipt)",
            p["merkle_root"],
            words(bytes.fromhex(p["merkle_root"]), 8),
        )
    if p["anomalies"]:
        doc.heading("Anomalies: steps the lifecycle does not allow")
        for a in p["anomalies"]:
            doc.paragraph(a)
    ledger_section(doc, state)
    doc.heading("Chain of custody")
    doc.table(
        ["#", "Time (UTC)", "Event", "State after", "Approved by", "Details"],
        [
            [
                h["seq"],
                h["time"][:19].replace("T", " "),
                h["type"],
                STATE_TITLES.get(h["state"], h["state"]),
                "\n".join(
                    f"{n} {fp[7:19]}"
                    for n, fp in zip(h["approvers"], h["approver_fingerprints"], strict=False)
                )
                or ("by " + ", ".join(h["actors"]) if h["actors"] else "one person / station"),
                h["summary"],
            ]
            for h in p["history"]
        ],
        col_widths=[0.45, 1.2, 1.7, 0.9, 1.5, 2.3],
    )
    doc.heading("Ledger proofs")
    doc.paragraph(
        "Each event's leaf hash (SHA-256 of 0x00 and its canonical entry) and its audit path to "
        f"the signed checkpoint above (tree size {state.checkpoint_size}). Recompute the root "
        "with RFC 6962 inclusion verification, or let the tool do it: "
        "reddoor ledger prove SEQ --out p.json; reddoor ledger verify-proof p.json --vkey "
        "ledger.vkey.",
        style="small",
    )
    doc.table(
        ["#", "Leaf hash", "Audit path (base64, leaf to root)"],
        [
            [
                h["seq"],
                h["leaf_hash"],
                "\n".join(h["proof"]["path"]) if h["proof"] else "not covered by the checkpoint",
            ]
            for h in p["history"]
        ],
        col_widths=[0.45, 2.6, 3.2],
    )
    bundle = data.get("last_event_bundle")
    if bundle:
        payload = encode_payload(bundle)
        with doc.group():
            doc.heading("Offline proof of the latest event")
            doc.qr_code(
                payload,
                [
                    f"Inclusion proof of event #{bundle['seq']} under the checkpoint above "
                    "(same format as the receipt's QR code).",
                    "zbarimg --raw report.png > payload.txt",
                    "reddoor receipt verify --qr-payload payload.txt --pubkey ledger.vkey",
                    f"Payload SHA-256: {hashlib.sha256(payload.encode()).hexdigest()[:16]}…",
                ],
                size_mm=55,
            )
    return doc
