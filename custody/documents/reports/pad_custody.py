"""The pad custody report (`reddoor report pad`): one pad's chain of custody, every event with
its leaf hash and audit path to the report's signed checkpoint, and a QR code of the latest
event's inclusion proof (the receipt's payload format, `custody.documents.receipt_payload`, so
`reddoor receipt verify` checks it). Shared parts from `shared`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from custody.documents.pdf.document import Document, group_hex
from custody.documents.pdf.text import Ident
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
from custody.ledger.entry import Event
from custody.lifecycle import states

# Events written many times per pad (one per journal write, one per query): listed in the
# chain with their leaf hash, their audit paths left to `reddoor ledger prove SEQ`.
BULK_EVENTS = frozenset({"pad.marks", "link.query"})
# What an event that does not move the pad's state says in the chain.
_SIDE_SUMMARIES = {
    "ceremony.started": "both officers approved the ceremony plan",
    "ceremony.sources_checked": "entropy sources checked",
    "pad.copies_verified": "both copies verified against the Merkle root",
    "ceremony.exception": "ceremony exception recorded",
}


def names_pad(payload: dict[str, Any], pad_hex: str, ceremony_id: str) -> bool:
    """The event is about this pad: it names it, or the ceremony that made it."""
    if payload.get("pad_id") == pad_hex:
        return True
    return bool(ceremony_id) and payload.get("ceremony_id") == ceremony_id


def _side_summary(e: Event) -> str:
    p = e.payload
    if e.type == "ceremony.receipt_signed":
        return f"printed receipt signed (SHA-256 {str(p.get('receipt_sha256', ''))[:16]}…)"
    if e.type == "pad.marks":
        marks = p.get("marks", {})
        return (
            f"{p.get('side', 'facility')} journal: sent or reserved to "
            f"{marks.get('send_reserved', '?')}, received to {marks.get('recv_mark', '?')}"
        )
    if e.type == "link.query":
        used = {
            d: sum(int(r[1]) for r in p.get(f"{d}_ranges", []) if len(r) > 1)
            for d in ("w2f", "f2w")
        }
        return f"query: {used['w2f']:,} bytes w2f, {used['f2w']:,} bytes f2w"
    return _SIDE_SUMMARIES.get(e.type, e.type)


def chain_of_custody(ledger: Ledger, rec: states.PadRecord) -> list[dict[str, Any]]:
    """Every ledger event about the pad, as the custody view lists them (and the ceremony's
    own events): the lifecycle's history for the events that move the pad, the others in
    words, each with the state the pad is in after it."""
    moving = {h.seq: h for h in rec.history}
    out: list[dict[str, Any]] = []
    current = ""
    for e in ledger.events():
        if not names_pad(e.payload, rec.pad_id, rec.ceremony_id):
            continue
        h = moving.get(e.seq)
        if h is not None:
            current = h.state
            out.append(dict(h.__dict__))
            continue
        out.append(
            {
                "seq": e.seq,
                "time": e.time,
                "type": e.type,
                "state": current,
                "approvers": [str(a.get("officer", "")) for a in e.approvals],
                "actors": list(e.actors),
                "summary": _side_summary(e),
            }
        )
    return out


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
    by_seq = {h["seq"]: h for h in history}
    chain = []
    for c in chain_of_custody(ledger, rec):
        if c["seq"] in by_seq:
            chain.append(by_seq[c["seq"]])
            continue
        proof = None
        if c["type"] not in BULK_EVENTS:
            bundle = inclusion(ledger, state, c["seq"])
            if bundle is not None:
                proof = {"tree_size": state.checkpoint_size, "path": bundle["proof"]}
        chain.append(
            {
                **c,
                "leaf_hash": ledger.event(c["seq"]).hash.hex(),
                "proof": proof,
                "approver_fingerprints": [
                    people[n].fingerprint if n in people else "?" for n in c["approvers"]
                ],
            }
        )
    d["chain"] = chain
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
            ("Ceremony", Ident(p["ceremony_id"])),
            ("Bag serial", Ident(p["bag_serial"] or "-")),
            ("Holder", p["holder"]),
            ("Customer USB serial", p["usb_serial"] or "-"),
            ("Facility copy", Ident(p["key_label"] or "-")),
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
    chain = p.get("chain", p["history"])
    doc.heading("Chain of custody")
    doc.paragraph(
        "Every ledger event about this pad, as the custody view lists them: those that move "
        "it through its custody, and those that only record something of it (copies "
        "verified, receipt signed, journal marks, queries).",
        style="small",
    )
    doc.table(
        ["#", "Time (UTC)", "Event", "State after", "Approved by", "Details"],
        [
            [
                Ident(str(h["seq"])),
                h["time"][:19].replace("T", " "),
                Ident(h["type"]),
                STATE_TITLES.get(h["state"], h["state"]) or "-",
                "\n".join(
                    f"{n} {fp[7:19]}"
                    for n, fp in zip(h["approvers"], h["approver_fingerprints"], strict=False)
                )
                or ("by " + ", ".join(h["actors"]) if h["actors"] else "one person / station"),
                h["summary"],
            ]
            for h in chain
        ],
        col_widths=[0.45, 1.05, 1.9, 1.05, 1.65, 1.95],
    )
    doc.heading("Ledger proofs")
    doc.paragraph(
        "Each event's leaf hash (SHA-256 of 0x00 and its canonical entry) and its audit path to "
        f"the signed checkpoint above (tree size {state.checkpoint_size}). Recompute the root "
        "with RFC 6962 inclusion verification, or let the tool do it: "
        "reddoor ledger prove SEQ --out p.json; reddoor ledger verify-proof p.json --vkey "
        "ledger.vkey. Journal marks and queries (many per pad) show their leaf hash only; "
        "that command gives their proofs.",
        style="small",
    )
    doc.table(
        ["#", "Leaf hash", "Audit path (base64, leaf to root)"],
        [
            [
                Ident(str(h["seq"])),
                Ident(group_hex(h["leaf_hash"])),
                "\n".join(h["proof"]["path"])
                if h["proof"]
                else (
                    "reddoor ledger prove " + str(h["seq"])
                    if h["type"] in BULK_EVENTS
                    else "not covered by the checkpoint"
                ),
            ]
            for h in chain
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
