"""Rebuild a pad's custody receipt from the ledger alone (custody/receipt.py lays it out).

Everything on the receipt comes from the ceremony's ledger events (`ceremony.started`,
`pad.generated`, `pad.customer_copy_written`, `pad.facility_copy_written`, `pad.sealed`,
`ceremony.closed`), the officers' enrolment events, and the **first** signed checkpoint that
covers the closing event: re-issuing a receipt later (`reddoor receipt PADID`) gives the same
PDF bytes even though the ledger has grown since.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ceremony.errors import CeremonyStateError
from custody import canonical_json, checkpoint, merkle, officers, proofs
from custody.home import OpenHome
from custody.ledger import Ledger
from custody.ledger_entry import Event


def _events(ledger: Ledger, needle: str, types: tuple[str, ...]) -> list[Event]:
    marks = ",".join("?" * len(types))
    rows = ledger.conn.execute(
        f"SELECT seq FROM events WHERE type IN ({marks}) AND instr(payload, ?) > 0 "  # noqa: S608
        "ORDER BY seq",
        (*types, needle.encode()),
    ).fetchall()
    return [ledger.event(int(r[0])) for r in rows]


def _first_checkpoint_covering(ledger: Ledger, seq: int) -> str:
    for note in ledger.stored_checkpoints():
        cp = checkpoint.parse(note)[0]
        if cp.size > seq:
            return note
    return ledger.checkpoint()


def _mixing_text(mixing: dict[str, Any]) -> str:
    names = ", ".join(mixing.get("sources", []))
    if mixing.get("mixing") == "xor":
        indep = "independent" if mixing.get("all_independent") else "NOT all independent"
        return f"XOR of {names} ({indep}; each health-tested before mixing)"
    return f"single source {names} (no mixing)"


def receipt_data(ledger: Ledger, pad_id: bytes) -> Any:
    """The `ReceiptData` of a pad whose ceremony has closed."""
    from custody.receipt import ReceiptData

    generated = _events(ledger, f'"pad_id":"{pad_id.hex()}"', ("pad.generated",))
    if not generated:
        raise CeremonyStateError(f"the ledger records no ceremony for pad {pad_id.hex()}")
    gen = generated[0].payload
    cid = gen["ceremony_id"]
    by_type: dict[str, dict[str, Any]] = {}
    closing: Event | None = None
    for e in _events(
        ledger,
        f'"ceremony_id":"{cid}"',
        (
            "ceremony.started",
            "pad.customer_copy_written",
            "pad.facility_copy_written",
            "pad.sealed",
            "ceremony.closed",
        ),
    ):
        by_type.setdefault(e.type, e.payload)
        if e.type == "ceremony.closed" and closing is None:
            closing = e
    if closing is None:
        raise CeremonyStateError(f"the ceremony of pad {pad_id.hex()} has not closed")
    started = by_type.get("ceremony.started", {})
    people = []
    for name in started.get("officers", []):
        o = officers.find_officer(ledger, name)
        people.append(
            {
                "name": name,
                "role": o.role if o else "officer",
                "key_fingerprint": o.fingerprint if o else "",
            }
        )
    note = _first_checkpoint_covering(ledger, closing.seq)
    cp = checkpoint.parse(note)[0]
    bundle = proofs.make_inclusion_bundle(
        note,
        closing.seq,
        ledger.entry(closing.seq),
        merkle.inclusion_proof(ledger.leaf_hashes(cp.size), closing.seq),
    )
    customer = by_type.get("pad.customer_copy_written", {})
    facility = by_type.get("pad.facility_copy_written", {})
    usb = dict(customer.get("usb", {}))
    hsm = dict(facility.get("hsm", {}))
    return ReceiptData(
        pad_id=pad_id,
        pad_id_display=gen["pad_id_display"],
        size=int(gen["size"]),
        split=gen["split"],
        w2f_length=int(gen["w2f_length"]),
        f2w_length=int(gen["f2w_length"]),
        merkle_root=bytes.fromhex(gen["merkle_root"]),
        pad_sha256=bytes.fromhex(gen["pad_sha256"]),
        mark=gen["mark"],
        ceremony_id=cid,
        created=gen["created"],
        sources=list(gen.get("sources", [])),
        mixing=_mixing_text(gen.get("mixing", {})),
        health=list(gen.get("health", [])),
        statistics=dict(gen.get("statistics", {})),
        usb=usb,
        hsm=hsm,
        bag_serial=by_type.get("pad.sealed", {}).get("bag_serial", ""),
        officers=people,
        checkpoint_note=note,
        inclusion_bundle=canonical_json.loads(canonical_json.dumps(bundle)),
        ledger_public_key=ledger.public_key,
        ledger_origin=ledger.origin,
    )


def write_for_pad(oh: OpenHome, pad_id: bytes, out: Path) -> Path:
    from custody.receipt import write_receipt

    path: Path = write_receipt(receipt_data(oh.ledger, pad_id), out)
    return path
