"""A synthetic facility ledger for report tests and the report benchmark.

Real practice home (SoftHSM2, SQLCipher), two real officers; then `pads` pads, each with the
ceremony events a closing ceremony writes (approved by both officers, so the ledger verifies)
and `link.query` events up to `events` in all, through `ledger.append_many` (fast: the
officers' keys are unlocked once, not per approval as the CLI does).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custody.ledger import home, officers
from custody.ledger.chain import Approval, EventDraft
from custody.ledger.entry import approval_message
from custody.pad import ids as pad_ids

PASSES = {"alice": "alice passphrase", "bob": "bob passphrase!!"}


def _keys(ledger: Any) -> dict[str, Ed25519PrivateKey]:
    out = {}
    for name, pw in PASSES.items():
        pub, kdf, salt, nonce, sealed = ledger.conn.execute(
            "SELECT public_key, kdf, salt, nonce, sealed_key FROM officer_keys WHERE name = ?",
            (name,),
        ).fetchone()
        key = officers._derive(pw, bytes(salt), json.loads(kdf))
        raw = AESGCM(key).decrypt(
            bytes(nonce), bytes(sealed), officers._key_aad(ledger.origin, name, bytes(pub))
        )
        out[name] = Ed25519PrivateKey.from_private_bytes(raw)
    return out


def _approved(ledger: Any, keys: dict[str, Ed25519PrivateKey], etype: str, payload: dict) -> Any:
    nonce = secrets.token_bytes(32)
    msg = approval_message(ledger.origin, etype, [], payload, nonce)
    approvals = tuple(Approval(n, nonce, k.sign(msg)).to_dict() for n, k in keys.items())
    return EventDraft(etype, payload, (), approvals)


def build_synthetic_home(path: Path, *, pads: int = 200, events: int = 10_000) -> list[str]:
    """Create the home at `path`; returns the pad ids (hex)."""
    home.init_home(path, practice=True)
    ids = []
    with home.open_home(path) as oh:
        led = oh.ledger
        for name, pw in PASSES.items():
            officers.enroll(led, name, pw)
        keys = _keys(led)
        drafts = []
        size, half = 1 << 26, 1 << 25
        for i in range(pads):
            raw = secrets.token_bytes(16)
            pid = raw.hex()
            ids.append(pid)
            root = secrets.token_bytes(32)
            base = {"ceremony_id": f"C-20260101-{i:08x}", "pad_id": pid, "mark": "PRACTICE"}
            drafts.append(
                _approved(
                    led,
                    keys,
                    "pad.generated",
                    {
                        **base,
                        "pad_id_display": pad_ids.display(raw),
                        "size": size,
                        "split": "1:1",
                        "w2f_length": half,
                        "f2w_length": half,
                        "merkle_root": root.hex(),
                    },
                )
            )
            drafts.append(_approved(led, keys, "pad.sealed", {**base, "bag_serial": f"RD-{i:06d}"}))
            drafts.append(_approved(led, keys, "ceremony.closed", base))
        led.append_many(drafts)
        n = events - led.size()
        queries = []
        for j in range(max(0, n)):
            pid = ids[j % len(ids)]
            off = (j // len(ids)) * 1024
            day = 1 + (j * 28) // max(1, n)
            queries.append(
                EventDraft(
                    "link.query",
                    {
                        "query_id": f"{j:032x}",
                        "pad_id": pid,
                        "gateway": "facility",
                        "backend": "echo",
                        "classification": None,
                        "received_at": f"2026-02-{day:02d}T10:00:00.000000Z",
                        "finished_at": f"2026-02-{day:02d}T10:00:01.000000Z",
                        "first_answer_us": 900,
                        "total_us": 1000,
                        "query_frames": 1,
                        "query_bytes": 900,
                        "answer_frames": 1,
                        "answer_bytes": 3000,
                        "w2f_ranges": [[off, 1024]],
                        "f2w_ranges": [[half + off * 4, 4096]],
                        "outcome": "answered",
                    },
                )
            )
        for k in range(0, len(queries), 2000):
            led.append_many(queries[k : k + 2000])
        led.checkpoint()
    return ids
