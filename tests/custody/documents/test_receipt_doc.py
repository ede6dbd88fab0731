"""docs/receipts.md's test vector verifies, and matches what the code produces."""

from __future__ import annotations

import re
from pathlib import Path

from custody.documents import receipt, receipt_payload
from custody.ledger import checkpoint

DOC = Path(__file__).resolve().parents[3] / "docs" / "receipts.md"


def _block(name: str) -> str:
    match = re.search(rf"```{name}\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, name
    return match.group(1)


def test_doc_vector_verifies_offline():
    payload = _block("payload")
    name, public_key = checkpoint.parse_vkey(_block("vkey"))
    result = receipt_payload.verify_receipt_bundle(payload, public_key, origin=name)
    assert (result.seq, result.event_type, result.tree_size) == (40, "ceremony.closed", 41)
    assert result.origin == "reddoor.ledger/5a3c9e0d11b2f047"
    assert result.payload["pad_id"] == "7c1e2a9b44d03f6e81a5c2d9e0b7f314"
    assert result.payload["bag_serial"] == "TEB-2026-004518"


def test_doc_vector_is_the_sample_receipt_bundle():
    sample = receipt.sample_data()
    assert receipt_payload.decode_payload(_block("payload")) == sample.inclusion_bundle
    assert _block("vkey") == checkpoint.vkey(sample.ledger_origin, sample.ledger_public_key)
