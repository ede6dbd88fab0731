"""The destruction certificate: what was destroyed (which copy of which pad, by which method),
what was done and checked, the claim it makes and its conditions, signature lines for the
approving officers and the witnesses, and a QR code of the destruction event's inclusion
proof. Written by `reddoor pad destroy` right after `custody.lifecycle.destruction` records
the event. Shared parts from `shared`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

from custody.documents.pdf.document import Document, DocumentInfo
from custody.documents.pdf.text import Ident
from custody.documents.receipt_payload import encode_payload
from custody.documents.reports.shared import (
    STATE_TITLES,
    LedgerState,
    document_info,
    inclusion,
    ledger_section,
    officers_by_name,
)
from custody.fingerprint_words import words
from custody.ledger.chain import Ledger
from custody.lifecycle import states


def certificate_data(
    ledger: Ledger, state: LedgerState, rec: states.PadRecord, seq: int
) -> dict[str, Any]:
    event = ledger.event(seq)
    people = officers_by_name(ledger)
    return {
        "report": "destruction-certificate",
        "ledger": state.to_dict(),
        "pad": {k: v for k, v in rec.to_dict().items() if k != "history"},
        "event": {
            "seq": event.seq,
            "time": event.time,
            "hash": event.hash.hex(),
            "payload": event.payload,
            "approvers": [
                {
                    "name": a.get("officer", ""),
                    "fingerprint": people[a["officer"]].fingerprint
                    if a.get("officer") in people
                    else "?",
                }
                for a in event.approvals
            ],
        },
        "bundle": inclusion(ledger, state, seq),
    }


_DETAIL_LABELS = {
    "key_label": "HSM key destroyed",
    "key_present_before": "Key present before",
    "keys_destroyed": "Key objects destroyed",
    "chunk_files_removed": "Vault chunk files removed",
    "token_lists_key_after": "Token lists the key afterwards",
    "chunk_decrypts_after": "A kept chunk decrypts afterwards",
    "checked_chunk": "Chunk checked",
    "medium": "Medium",
    "bytes_overwritten": "Bytes overwritten",
    "files_removed": "Files removed",
    "note": "Note",
    "medium_serial": "Medium serial",
    "physical_method": "Physical method",
    "witnesses": "Witnesses",
}


# What a crypto-erase certificate claims: exactly what was checked, and its conditions.
CRYPTO_ERASE_CLAIM = (
    "The per-pad AES-256 key object was destroyed on this HSM token. Verified afterwards: the "
    "token no longer lists the key, and a facility chunk kept in memory for the purpose no "
    "longer decrypts on it.",
    "Any remaining copy of the encrypted facility chunks (a backup of the home, a copied "
    "vault) stays undecryptable only as long as no other copy of this key exists. A backup of "
    "the token's storage taken before this destruction (for SoftHSM2, the token directory in "
    "the home, e.g. practice/tokens), a cloned or replicated HSM, or an exported key backup "
    "still holds the key and still decrypts those chunks. The operator must destroy every such "
    "backup, clone and replica as well (or crypto-erase the key on each); this certificate "
    "covers this token only.",
)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def certificate_pdf(data: dict[str, Any]) -> Document:
    state = LedgerState(**data["ledger"])
    p, e = data["pad"], data["event"]
    payload = e["payload"]
    created = e["time"][:19] + "Z"
    info = document_info(
        state, f"Destruction certificate — {p['pad_id_display']}", "Pad destruction"
    )
    info = DocumentInfo(**{**asdict(info), "created": created})
    doc = Document(info)
    doc.title(
        "Certificate of destruction",
        f"Pad {p['pad_id_display']} · {payload['method']} of the {payload['copy']} copy · "
        f"{created}",
    )
    doc.key_values(
        [
            ("Pad id", f"{p['pad_id_display']}  ({p['pad_id']})"),
            ("Mark", p["mark"]),
            ("Copy destroyed", payload["copy"]),
            ("Method", payload["method"]),
            ("State before", STATE_TITLES.get(payload.get("from_state", ""), "")),
            ("Ledger event", Ident(f"#{e['seq']} pad.destroyed at {e['time']}")),
            ("Event hash", Ident(e["hash"])),
        ]
    )
    doc.spacer(3)
    if payload.get("merkle_root"):
        doc.fingerprint(
            "Merkle root of the destroyed pad (compare with the receipt and the ledger)",
            payload["merkle_root"],
            words(bytes.fromhex(payload["merkle_root"]), 8),
        )
    doc.heading("What was done and checked")
    rows = [(_DETAIL_LABELS[k], _fmt(payload[k])) for k in _DETAIL_LABELS if k in payload]
    doc.key_values(rows)
    if payload["method"] == "crypto-erase":
        for text in CRYPTO_ERASE_CLAIM:
            doc.paragraph(text, style="small")
    elif payload["method"] == "overwrite":
        doc.paragraph(
            "Zeroizing a flash drive is best effort: wear levelling can keep old cells. Destroy "
            "the medium physically when it leaves custody.",
            style="small",
        )
    doc.heading("The pad's copies")
    gone = p.get("destroyed_copies", {})
    doc.key_values(
        [
            (
                f"{copy.capitalize()} copy",
                f"destroyed (event #{gone[copy]})" if copy in gone else "NOT destroyed yet",
            )
            for copy in states.COPIES
        ]
    )
    if all(copy in gone for copy in states.COPIES):
        doc.paragraph("Both copies are destroyed: the pad's state is destroyed.", style="small")
    else:
        left = ", ".join(c for c in states.COPIES if c not in gone)
        doc.paragraph(
            f"The pad is not destroyed until its {left} copy is destroyed too "
            "(reddoor pad destroy with the matching --method).",
            style="small",
        )
    date = "date and time: ____________________"
    signers = [
        [f"{a['name']} (officer), key:", Ident(a["fingerprint"]), date] for a in e["approvers"]
    ]
    signers += [[w, "witness", date] for w in payload.get("witnesses", [])]
    # What the officers sign and the proof that it is in the ledger stay on one page: a
    # signature page that could be swapped for another certificate's proves nothing.
    with doc.group():
        ledger_section(doc, state)
        bundle = data.get("bundle")
        if bundle:
            qr = encode_payload(bundle)
            doc.qr_code(
                qr,
                [
                    f"Inclusion proof of the destruction event #{e['seq']}.",
                    "reddoor receipt verify --qr-payload payload.txt --pubkey ledger.vkey",
                    f"Payload SHA-256: {hashlib.sha256(qr.encode()).hexdigest()[:16]}…",
                ],
                size_mm=45,
            )
        doc.heading("Signatures")
        doc.paragraph(
            f"We destroyed the {payload['copy']} copy of pad {p['pad_id_display']} as recorded "
            f"in event #{e['seq']} above.",
            style="small",
        )
        for i in range(0, len(signers), 3):
            doc.signature_lines(signers[i : i + 3])
    return doc
