"""Offline proof bundles: inclusion of an event, consistency between two checkpoints.

An auditor verifies them with the ledger's verifier key (vkey) alone: no HSM, no SQLCipher,
no ledger. Both are canonical JSON objects (docs/ledger.md has test vectors):

    {"checkpoint": "<signed note>", "entry": "<base64 entry>", "format":
     "reddoor-inclusion-proof/1", "proof": ["<base64 hash>", ...], "seq": n}

    {"format": "reddoor-consistency-proof/1", "new_checkpoint": "<note>",
     "old_checkpoint": "<note>", "proof": ["<base64 hash>", ...]}
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from custody import canonical_json, merkle
from custody.errors import ProofError
from custody.ledger import checkpoint

INCLUSION_FORMAT = "reddoor-inclusion-proof/1"
CONSISTENCY_FORMAT = "reddoor-consistency-proof/1"
MAX_BUNDLE_BYTES = 1_048_576


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ProofError(f"the proof's {what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ProofError(f"the proof's {what} is not base64") from None


def _hashes(items: Any) -> list[bytes]:
    if not isinstance(items, list):
        raise ProofError("the proof's hash list is missing")
    out = [_unb64(h, "hash") for h in items]
    if any(len(h) != 32 for h in out):
        raise ProofError("a proof hash is not 32 bytes")
    return out


def make_inclusion_bundle(note: str, seq: int, entry: bytes, proof: list[bytes]) -> dict[str, Any]:
    return {
        "checkpoint": note,
        "entry": _b64(entry),
        "format": INCLUSION_FORMAT,
        "proof": [_b64(h) for h in proof],
        "seq": seq,
    }


def make_consistency_bundle(old_note: str, new_note: str, proof: list[bytes]) -> dict[str, Any]:
    return {
        "format": CONSISTENCY_FORMAT,
        "new_checkpoint": new_note,
        "old_checkpoint": old_note,
        "proof": [_b64(h) for h in proof],
    }


def dumps(bundle: dict[str, Any]) -> bytes:
    return canonical_json.dumps(bundle) + b"\n"


def loads(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_BUNDLE_BYTES:
        raise ProofError("the proof file is too large to be a proof")
    try:
        bundle = canonical_json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ProofError("the proof file is not JSON") from None
    if not isinstance(bundle, dict):
        raise ProofError("the proof file is not a JSON object")
    return bundle


def verify_inclusion_bundle(bundle: dict[str, Any], vkey: str) -> dict[str, Any]:
    """Verify an inclusion bundle; return the event entry (parsed). Raises ProofError."""
    if bundle.get("format") != INCLUSION_FORMAT:
        raise ProofError(f"not a {INCLUSION_FORMAT} bundle")
    name, public_key = checkpoint.parse_vkey(vkey)
    note = bundle.get("checkpoint")
    seq = bundle.get("seq")
    if not isinstance(note, str) or not isinstance(seq, int) or isinstance(seq, bool):
        raise ProofError("the inclusion proof lacks its checkpoint or sequence number")
    cp = checkpoint.verify(note, name, public_key)
    entry_raw = _unb64(bundle.get("entry"), "entry")
    try:
        entry = canonical_json.loads(entry_raw)
    except (ValueError, UnicodeDecodeError):
        raise ProofError("the proof's event entry is not JSON") from None
    if not isinstance(entry, dict) or entry.get("seq") != seq or entry.get("log") != cp.origin:
        raise ProofError("the event entry does not match the proof's log or sequence number")
    if not merkle.verify_inclusion(
        merkle.leaf_hash(entry_raw), seq, cp.size, _hashes(bundle.get("proof")), cp.root
    ):
        raise ProofError(f"event {seq} is not in the tree of the signed checkpoint")
    return entry


def verify_consistency_bundle(
    bundle: dict[str, Any], vkey: str
) -> tuple[checkpoint.Checkpoint, checkpoint.Checkpoint]:
    """Verify that the old checkpoint's tree is a prefix of the new one's. Raises ProofError."""
    if bundle.get("format") != CONSISTENCY_FORMAT:
        raise ProofError(f"not a {CONSISTENCY_FORMAT} bundle")
    name, public_key = checkpoint.parse_vkey(vkey)
    old_note, new_note = bundle.get("old_checkpoint"), bundle.get("new_checkpoint")
    if not isinstance(old_note, str) or not isinstance(new_note, str):
        raise ProofError("the consistency proof lacks its checkpoints")
    old = checkpoint.verify(old_note, name, public_key)
    new = checkpoint.verify(new_note, name, public_key, origin=old.origin)
    if not checkpoints_consistent(old, new, _hashes(bundle.get("proof"))):
        raise ProofError(
            f"the ledger of size {new.size} is not an extension of the checkpoint of size "
            f"{old.size}"
        )
    return old, new


def checkpoints_consistent(
    old: checkpoint.Checkpoint, new: checkpoint.Checkpoint, proof: list[bytes]
) -> bool:
    if old.size == 0:
        return old.root == merkle.EMPTY_ROOT
    return merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
