"""docs/ledger.md's test vectors are what the code produces, and they verify offline.

Run ``python -m tests.custody.ledger.test_ledger_doc`` to print the vector blocks for the doc.
"""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody import merkle
from custody.ledger import checkpoint, proofs
from custody.ledger import database as ledger_store
from custody.ledger.chain import EventDraft, Ledger

DOC = Path(__file__).resolve().parents[3] / "docs" / "ledger.md"
ORIGIN = "reddoor.ledger/0123456789abcdef"
TIME = "2026-01-01T00:00:00.000000Z"
# Test-only keys (never used outside this vector): seeds 32 x 0x01 and 32 x 0x02.
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32)
OFFICER_PUB = (
    Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
    .public_key()
    .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
)


def vectors() -> dict[str, str]:
    pub = LOG_KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    with tempfile.TemporaryDirectory() as tmp:
        conn = ledger_store.open_db(Path(tmp) / "v.db", bytes(range(32)), create=True)
        led = Ledger.create(
            conn,
            origin=ORIGIN,
            public_key=pub,
            genesis_payload={"practice": True},
            signer=LOG_KEY.sign,
            clock=lambda: TIME,
        )
        led.append_many(
            [
                EventDraft(
                    "officer.enrolled",
                    {
                        "bootstrap": True,
                        "fingerprint": "SHA256:test",
                        "name": "alice",
                        "public_key": OFFICER_PUB.hex(),
                        "role": "officer",
                    },
                    ("alice",),
                )
            ]
        )
        old_note = led.checkpoint()
        led.append("custody.note", {"pad_id": "a1b2c3d4e5f60718", "size": 1048576}, ("alice",))
        note = led.checkpoint()
        out = {
            "vkey": checkpoint.vkey(ORIGIN, pub),
            "entry-0": led.entry(0).decode(),
            "entry-1": led.entry(1).decode(),
            "entry-2": led.entry(2).decode(),
            "hashes": "\n".join(h.hex() for h in led.leaf_hashes()),
            "root": merkle.root_from_leaf_hashes(led.leaf_hashes()).hex(),
            "checkpoint": note,
            "inclusion": proofs.dumps(led.inclusion_bundle(1, note)).decode(),
            "consistency": proofs.dumps(led.consistency_bundle(old_note, note)).decode(),
        }
        conn.close()
    return {k: v if v.endswith("\n") else v + "\n" for k, v in out.items()}


def doc_blocks() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- vector:(\S+) -->\n```[a-z]*\n(.*?)```", text, re.S))


def test_doc_vectors_match_the_code():
    expected = vectors()
    found = doc_blocks()
    for name, value in expected.items():
        assert found.get(name) == value, f"docs/ledger.md vector {name!r} is stale"


def test_doc_vectors_verify_offline():
    found = doc_blocks()
    vkey = found["vkey"].strip()
    entry = proofs.verify_inclusion_bundle(proofs.loads(found["inclusion"].encode()), vkey)
    assert entry["seq"] == 1 and entry["type"] == "officer.enrolled"
    old, new = proofs.verify_consistency_bundle(proofs.loads(found["consistency"].encode()), vkey)
    assert (old.size, new.size) == (2, 3)
    name, pub = checkpoint.parse_vkey(vkey)
    cp = checkpoint.verify(found["checkpoint"], name, pub)
    assert cp.root.hex() == found["root"].strip()
    hashes = found["hashes"].split()
    for i in range(3):
        assert merkle.leaf_hash(found[f"entry-{i}"].rstrip("\n").encode()).hex() == hashes[i]
    assert base64.b64decode(found["checkpoint"].split("\n")[2]).hex() == found["root"].strip()


if __name__ == "__main__":
    for key, value in vectors().items():
        print(f"<!-- vector:{key} -->\n```\n{value}```\n")
