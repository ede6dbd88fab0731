"""The custody receipt: the signed paper record of a pad ceremony.

The receipt shows what the two officers made (pad id, size, split, Merkle root and SHA-256 as
hex and as words to read aloud), from what (entropy sources, health tests, statistics), where
the copies went (USB identity, HSM token and key label, bag serial), who did it (both officers,
their key fingerprints, signature lines), and the ledger's signed checkpoint with the inclusion
proof of the ceremony's closing event. The QR code carries that proof bundle, encoded by
`receipt_payload`, where its offline check lives too (`verify_receipt_bundle`, `reddoor receipt
verify`). Secrets never appear: only fingerprints, sizes, serials and names.

Laid out with `custody.documents.pdf.document` (imported when a receipt is written, so that
building a `ReceiptData` loads no reportlab); `ceremony.receipt_data` fills in the data from
the ledger. docs/receipts.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody import canonical_json, merkle
from custody.documents.receipt_payload import PAYLOAD_PREFIX, encode_payload
from custody.fingerprint_words import words
from custody.ledger import checkpoint, proofs

_SECRET_WORDS = ("passphrase", "password", "pin", "secret", "private")


@dataclass(frozen=True)
class ReceiptData:
    pad_id: bytes
    pad_id_display: str
    size: int
    split: str
    w2f_length: int
    f2w_length: int
    merkle_root: bytes
    pad_sha256: bytes
    mark: str  # "PRACTICE" or "PRODUCTION"
    ceremony_id: str
    created: str  # ISO 8601 UTC; also the PDF's creation date
    sources: list[dict[str, Any]]
    mixing: str
    health: list[dict[str, Any]]
    statistics: dict[str, Any]
    usb: dict[str, Any]
    hsm: dict[str, Any]
    bag_serial: str
    officers: list[dict[str, Any]]  # each {name, role, key_fingerprint}
    checkpoint_note: str
    inclusion_bundle: dict[str, Any]
    ledger_public_key: bytes
    ledger_origin: str


# -- rendering -------------------------------------------------------------------------------


def _check_no_secrets(value: Any, where: str) -> None:
    """Fail closed if a field looks like a secret: receipts carry only public facts."""
    if isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"receipt field {where} holds raw bytes; pass fingerprints as text")
    if isinstance(value, dict):
        for k, v in value.items():
            if any(w in str(k).lower() for w in _SECRET_WORDS):
                raise ValueError(f"receipt field {where}.{k} looks like a secret; refusing")
            _check_no_secrets(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_no_secrets(v, f"{where}[{i}]")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format(value, ".6g")
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def _size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size:,} bytes ({size / (1 << shift):.2f} {unit})"
    return f"{size:,} bytes"


def write_receipt(data: ReceiptData, out: Path, *, archival: bool = False) -> Path:
    """Render the custody receipt to `out` (same data, same bytes). Returns `out`."""
    from custody.documents.pdf import document as pdf
    from custody.documents.pdf.text import Ident

    for name in ("sources", "health", "statistics", "usb", "hsm", "officers"):
        _check_no_secrets(getattr(data, name), name)
    practice = data.mark.upper() == "PRACTICE"
    info = pdf.DocumentInfo(
        title=f"Custody receipt — pad {data.pad_id_display}",
        created=data.created,
        subject=f"Ceremony {data.ceremony_id}, ledger {data.ledger_origin}",
        footer=f"Red Door custody receipt · ceremony {data.ceremony_id} · {data.created}",
        banner="PRACTICE — NOT A PRODUCTION PAD" if practice else None,
        banner_note=(
            "Made in a practice home. It can never be activated in a production home."
            if practice
            else ""
        ),
        page_mark="PRACTICE" if practice else None,
    )
    doc = pdf.Document(info)
    doc.title(
        "Custody receipt: one-time pad",
        f"Pad {data.pad_id_display} · ceremony {data.ceremony_id} · {data.created}",
    )
    doc.key_values(
        [
            ("Pad id", f"{data.pad_id_display}  ({data.pad_id.hex()})"),
            ("Size", _size_text(data.size)),
            (
                "Split",
                f"{data.split}: workstation→facility {data.w2f_length:,} bytes, "
                f"facility→workstation {data.f2w_length:,} bytes",
            ),
            ("Mark", data.mark),
            ("Bag serial", Ident(data.bag_serial)),
        ]
    )
    doc.heading("Fingerprints — read aloud and compare")
    doc.fingerprint(
        "Merkle root of the pad's chunk hashes (first 8 bytes as words)",
        data.merkle_root.hex(),
        words(data.merkle_root, 8),
    )
    doc.fingerprint(
        "SHA-256 of the whole pad (first 8 bytes as words)",
        data.pad_sha256.hex(),
        words(data.pad_sha256, 8),
    )

    doc.heading("Copies")
    usb = [(f"USB {_label(k).lower()}", _ident_or_text(k, v)) for k, v in data.usb.items()]
    hsm = [(f"HSM {_label(k).lower()}", _ident_or_text(k, v)) for k, v in data.hsm.items()]
    doc.key_values([*usb, *hsm, ("Tamper-evident bag", Ident(data.bag_serial))])

    doc.heading("Entropy")
    doc.paragraph(f"Mixing: {data.mixing}")
    doc.spacer(1.5)
    if data.sources:
        cols = _columns(data.sources)
        doc.table([_label(c) for c in cols], [[_fmt(r.get(c)) for c in cols] for r in data.sources])
    if data.health:
        with doc.group():  # a label never stays behind at the foot of a page
            doc.paragraph("Health tests on each raw source, before mixing:", style="small")
            cols = _columns(data.health)
            doc.table(
                [_label(c) for c in cols], [[_fmt(r.get(c)) for c in cols] for r in data.health]
            )
    if data.statistics:
        with doc.group():
            doc.paragraph("Statistics of the final pad:", style="small")
            doc.key_values([(_label(k), _fmt(v)) for k, v in sorted(data.statistics.items())])

    with doc.group():
        doc.heading("Officers")
        doc.paragraph(
            "Both officers confirm, by signing, that the fingerprints above were read aloud and "
            "matched on both copies, and that the USB was sealed in the bag with the serial "
            "above. Whoever takes the sealed bag (courier or customer) signs for it, with the "
            "bag serial read off the bag.",
            style="small",
        )
        doc.spacer(2)
        doc.signature_lines(
            [
                *(
                    [
                        f"{o.get('name', '')} ({o.get('role', '')}), key:",
                        Ident(str(o.get("key_fingerprint", ""))),
                        "date and time: ____________________",
                    ]
                    for o in data.officers
                ),
                [
                    "Received by (courier or customer)",
                    "name: ____________________",
                    "bag serial: ____________________",
                    "date and time: ____________________",
                ],
            ]
        )

    _ledger_section(doc, data)

    doc.heading("What this receipt claims")
    doc.paragraph(
        "It records that the pad with the fingerprints above was generated and copied in the "
        "ceremony named, and that the ledger event closing that ceremony is in the ledger "
        "tree signed by the checkpoint above. A one-time pad keeps messages confidential only "
        "while the pad is truly random, kept secret, used once and destroyed after use. "
        "Overwriting a USB copy is best effort (flash wear levelling keeps old data); "
        "destroying the facility copy's HSM key crypto-erases that copy.",
        style="small",
    )
    return doc.write(out, archival=archival)


def _ident_or_text(key: str, value: Any) -> Any:
    """Serials, labels and tokens are identifiers (never broken inside); the rest text."""
    from custody.documents.pdf.text import Ident

    text = _fmt(value)
    if key in ("serial", "key_label", "token", "path") and text:
        return Ident(text)
    return text


def _ledger_section(doc: Any, data: ReceiptData) -> None:
    from custody.documents.pdf.text import Ident

    bundle = data.inclusion_bundle
    entry: dict[str, Any] = {}
    try:
        entry = canonical_json.loads(base64.b64decode(bundle.get("entry", "")))
    except (ValueError, UnicodeDecodeError):
        entry = {}
    cp, _ = checkpoint.parse(str(bundle.get("checkpoint", data.checkpoint_note)))
    doc.heading("Ledger checkpoint and inclusion proof")
    doc.key_values(
        [
            ("Ledger", Ident(data.ledger_origin)),
            (
                "Verifier key",  # origin+key id+base64: breakable between those only
                Ident.split_at(checkpoint.vkey(data.ledger_origin, data.ledger_public_key), "+", 2),
            ),
            (
                "Closing event",
                Ident(f"#{bundle.get('seq')} {entry.get('type', '')} {entry.get('time', '')}"),
            ),
            ("Proof", f"{len(bundle.get('proof', []))} hashes to tree size {cp.size}"),
            ("Tree root", Ident(cp.root.hex())),
        ]
    )
    doc.paragraph(
        "Signed checkpoint (keep it: it detects a later truncation of the ledger):", style="small"
    )
    doc.paragraph(data.checkpoint_note.rstrip("\n"), style="mono")
    doc.spacer(2)
    payload = encode_payload(bundle)
    doc.qr_code(
        payload,
        [
            "The QR code holds the inclusion proof of the closing event (format "
            f"{proofs.INCLUSION_FORMAT}; payload {PAYLOAD_PREFIX} + base45 of zlib of its "
            "canonical JSON; docs/receipts.md).",
            "Verify offline with the ledger's public key only:",
            "zbarimg --raw receipt.png > payload.txt",
            "reddoor receipt verify --qr-payload payload.txt --pubkey ledger.vkey",
            f"Payload SHA-256: {hashlib.sha256(payload.encode()).hexdigest()[:16]}…",
        ],
        size_mm=62,
    )


# -- a realistic sample (docs, tests, `python -m custody.documents.receipt --sample OUT.pdf`) --


SAMPLE_KEY_SEED = hashlib.sha256(b"reddoor sample receipt ledger key (public, for samples only)")


def sample_data(*, practice: bool = True, ledger_events: int = 41) -> ReceiptData:
    """A ReceiptData with a real signed checkpoint and inclusion proof, made with a fixed
    sample key (never a real ledger's key) over a small synthetic ledger."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(SAMPLE_KEY_SEED.digest())
    public = key.public_key().public_bytes_raw()
    origin = "reddoor.ledger/5a3c9e0d11b2f047"
    pad_id = bytes.fromhex("7c1e2a9b44d03f6e81a5c2d9e0b7f314")
    merkle_root = hashlib.sha256(b"sample merkle root").digest()
    pad_sha = hashlib.sha256(b"sample pad").digest()
    entries = []
    prev = "00" * 32
    for seq in range(ledger_events):
        last = seq == ledger_events - 1
        entry = {
            "actors": [] if last else ["ceremony"],
            "approvals": [],
            "log": origin,
            "payload": (
                {
                    "bag_serial": "TEB-2026-004518",
                    "ceremony_id": "cer-2026-03-01-a",
                    "merkle_root": merkle_root.hex(),
                    "pad_id": pad_id.hex(),
                    "sha256": pad_sha.hex(),
                }
                if last
                else {"step": seq}
            ),
            "prev": prev,
            "seq": seq,
            "time": f"2026-03-01T09:{seq % 60:02d}:00Z",
            "type": "ceremony.closed" if last else "ceremony.step",
            "v": 1,
        }
        raw = canonical_json.dumps(entry)
        prev = hashlib.sha256(raw).hexdigest()
        entries.append(raw)
    leaves = [merkle.leaf_hash(e) for e in entries]
    cp = checkpoint.Checkpoint(origin, len(leaves), merkle.root_from_leaf_hashes(leaves))
    note = checkpoint.sign(cp, origin, public, key.sign)
    seq = len(entries) - 1
    bundle = proofs.make_inclusion_bundle(
        note, seq, entries[seq], merkle.inclusion_proof(leaves, seq)
    )
    size = 64 << 20
    w2f = size // 4
    return ReceiptData(
        pad_id=pad_id,
        pad_id_display="7C1E-2A9B-44D0-3F6E",
        size=size,
        split="1:3",
        w2f_length=w2f,
        f2w_length=size - w2f,
        merkle_root=merkle_root,
        pad_sha256=pad_sha,
        mark="PRACTICE" if practice else "PRODUCTION",
        ceremony_id="cer-2026-03-01-a",
        created="2026-03-01T09:41:00Z",
        sources=[
            {"source": "hwrng", "identity": "/dev/hwrng (virtio_rng.0)", "bytes": size},
            {
                "source": "pkcs11",
                "identity": "SoftHSM v2 token rd-practice (serial 3f9c0e1a)",
                "bytes": size,
            },
        ],
        mixing="XOR of 2 independently health-tested sources (not an SP 800-90B conditioner)",
        health=[
            {"source": "hwrng", "test": "repetition count (C=6)", "result": "pass"},
            {"source": "hwrng", "test": "adaptive proportion (W=1024, C=26)", "result": "pass"},
            {"source": "pkcs11", "test": "repetition count (C=6)", "result": "pass"},
            {"source": "pkcs11", "test": "adaptive proportion (W=1024, C=26)", "result": "pass"},
        ],
        statistics={
            "monobit_ones_fraction": "0.500012",
            "byte_chi_square": "247.31 (255 d.f., p=0.62)",
            "mcv_min_entropy_bits_per_byte": "7.98",
        },
        usb={"vendor": "SanDisk", "model": "Ultra Fit", "serial": "4C530001230915116384"},
        hsm={"token": "rd-practice", "key_label": "pad-7c1e2a9b44d03f6e"},
        bag_serial="TEB-2026-004518",
        officers=[
            {
                "name": "Alice Martin",
                "role": "ceremony officer",
                "key_fingerprint": "SHA256:06e58315c2228f743abe52cb024bd80d",
            },
            {
                "name": "Bob Okafor",
                "role": "ceremony officer",
                "key_fingerprint": "SHA256:c9b98281de55d7c46ed14813a49f2c0d",
            },
        ],
        checkpoint_note=note,
        inclusion_bundle=bundle,
        ledger_public_key=public,
        ledger_origin=origin,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m custody.documents.receipt")
    parser.add_argument("--sample", type=Path, required=True, metavar="OUT.pdf")
    parser.add_argument("--production", action="store_true", help="no PRACTICE marks")
    parser.add_argument("--archival", action="store_true", help="PDF/A-2b")
    args = parser.parse_args(argv)
    write_receipt(sample_data(practice=not args.production), args.sample, archival=args.archival)
    print(args.sample)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
