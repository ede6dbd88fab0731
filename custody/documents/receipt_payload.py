"""The receipt's QR payload and its offline check: what an auditor scans off a custody receipt
(or a pad report, or a destruction certificate) and verifies with the ledger's public key
alone, with no HSM, no SQLCipher and no ledger.

Payload (docs/receipts.md): `RDR1:` + base45(zlib(canonical JSON inclusion bundle)), all in
the QR alphanumeric alphabet so it scans as text. `receipt` and the reports encode it into
their QR codes; `reddoor receipt verify` decodes and checks it (`verify_receipt_bundle`).
No reportlab here: verifying a receipt needs no PDF machinery.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from custody import canonical_json
from custody.errors import ProofError
from custody.ledger import checkpoint, proofs

PAYLOAD_PREFIX = "RDR1:"
MAX_PAYLOAD_CHARS = 8_000
MAX_PAYLOAD_FILE_BYTES = 65_536  # a scanned payload file; beyond MAX_PAYLOAD_CHARS it is refused
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@dataclass(frozen=True)
class ReceiptVerification:
    """What an offline check of a receipt's QR payload established."""

    origin: str
    tree_size: int
    root: bytes
    seq: int
    event_type: str
    event_time: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "seq": self.seq,
            "type": self.event_type,
            "time": self.event_time,
            "payload": self.payload,
        }


# -- base45 (RFC 9285) and the QR payload ----------------------------------------------------


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        out += [_B45[n % 45], _B45[(n // 45) % 45], _B45[n // 2025]]
    if len(data) % 2:
        n = data[-1]
        out += [_B45[n % 45], _B45[n // 45]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    try:
        values = [_B45.index(c) for c in text]
    except ValueError:
        raise ProofError("the receipt payload holds a character outside base45") from None
    if len(values) % 3 == 1:
        raise ProofError("the receipt payload has a truncated base45 group")
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        if len(group) == 3:
            n = group[0] + group[1] * 45 + group[2] * 2025
            if n > 0xFFFF:
                raise ProofError("the receipt payload has an invalid base45 group")
            out += n.to_bytes(2, "big")
        else:
            n = group[0] + group[1] * 45
            if n > 0xFF:
                raise ProofError("the receipt payload has an invalid base45 group")
            out.append(n)
    return bytes(out)


def encode_payload(bundle: dict[str, Any]) -> str:
    """The QR text for an inclusion bundle."""
    return PAYLOAD_PREFIX + b45encode(zlib.compress(canonical_json.dumps(bundle), 9))


def decode_payload(payload: str | bytes) -> dict[str, Any]:
    """The inclusion bundle inside a QR payload (accepts zbarimg's `QR-Code:` prefix)."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("ascii")
        except UnicodeDecodeError:
            raise ProofError("the receipt payload is not ASCII text") from None
    # Spaces are base45 digits: strip only line ends (zbarimg adds one).
    text = payload.strip("\r\n").removeprefix("QR-Code:")
    if len(text) > MAX_PAYLOAD_CHARS:
        raise ProofError("the receipt payload is too long to be a receipt payload")
    if not text.startswith(PAYLOAD_PREFIX):
        raise ProofError(f"the receipt payload does not start with {PAYLOAD_PREFIX}")
    packed = b45decode(text[len(PAYLOAD_PREFIX) :])
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, proofs.MAX_BUNDLE_BYTES)
    except zlib.error:
        raise ProofError("the receipt payload is damaged (it does not decompress)") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise ProofError("the receipt payload is damaged or too large")
    return proofs.loads(raw)


def verify_receipt_bundle(
    payload: str | bytes, public_key: bytes, *, origin: str | None = None
) -> ReceiptVerification:
    """Verify a receipt's QR payload offline with the ledger's Ed25519 public key.

    Checks the checkpoint signature (the ledger's key name is its origin), that the closing
    event's entry belongs to that log at that sequence number, and the Merkle inclusion proof.
    Raises ProofError on any failure.
    """
    bundle = decode_payload(payload)
    note = bundle.get("checkpoint")
    if not isinstance(note, str):
        raise ProofError("the receipt payload holds no checkpoint")
    cp, _ = checkpoint.parse(note)
    if origin is not None and cp.origin != origin:
        raise ProofError(f"the receipt is for ledger {cp.origin!r}, not {origin!r}")
    if len(public_key) != 32:
        raise ProofError("the ledger public key must be 32 bytes (Ed25519)")
    entry = proofs.verify_inclusion_bundle(bundle, checkpoint.vkey(cp.origin, public_key))
    event_payload = entry.get("payload")
    return ReceiptVerification(
        origin=cp.origin,
        tree_size=cp.size,
        root=cp.root,
        seq=int(entry["seq"]),
        event_type=str(entry.get("type", "")),
        event_time=str(entry.get("time", "")),
        payload=event_payload if isinstance(event_payload, dict) else {},
    )


def read_public_key(data: bytes) -> tuple[bytes, str | None]:
    """A public key file: a vkey line (name+id+base64), 64 hex digits, or 32 raw bytes.
    Returns (key, the vkey's name or None)."""
    text = data.strip()
    if len(data) == 32 and not all(32 <= b < 127 for b in data):
        return data, None
    try:
        decoded = text.decode("ascii")
    except UnicodeDecodeError:
        raise ProofError("the public key file is neither a vkey, hex nor 32 raw bytes") from None
    if "+" in decoded:
        name, key = checkpoint.parse_vkey(decoded)
        return key, name
    try:
        key = bytes.fromhex(decoded)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ProofError("the public key file is neither a vkey, hex nor 32 raw bytes")
    return key, None
