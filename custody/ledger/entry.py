"""The byte form of a ledger event, shared by the ledger, its verifier and offline auditors.

An event's *entry* is the canonical JSON (custody/canonical_json.py) of

    {"actors": [names], "approvals": [...], "log": origin, "payload": {...},
     "prev": hex(previous event hash), "seq": n, "time": "…Z", "type": "…", "v": 1}

Its hash is the RFC 6962 leaf hash SHA-256(0x00 || entry): the same value links the hash chain
(the next event's "prev") and is the Merkle leaf. The first event's prev is 64 zeros.

Two officers approve an event by signing the canonical JSON of

    {"actors": [...], "ctx": "reddoor-approval/1", "log": origin, "nonce": hex,
     "payload": {...}, "type": "…"}

with their Ed25519 keys; the event's approvals are [{"nonce", "officer", "sig"}, ...].

No HSM or SQLCipher here: auditors import this module offline.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from custody import canonical_json, merkle

ENTRY_VERSION = 1
GENESIS_PREV = bytes(32)
APPROVAL_CONTEXT = "reddoor-approval/1"
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
MAX_PAYLOAD_BYTES = 65_536

# Keys that must never name a payload field: secrets stay out of the ledger (BRIEF invariant 3).
FORBIDDEN_PAYLOAD_KEYS = frozenset(
    {
        "pin",
        "so_pin",
        "passphrase",
        "password",
        "secret",
        "private_key",
        "secret_key",
        "key_material",
        "pad_bytes",
        "plaintext",
        "seed",
    }
)

# Event types that are valid only with two distinct active officers' approvals. Later issues
# add theirs here (pad generation, copy, transfer, activation, destruction).
TWO_PERSON_TYPES = {
    "officer.retired",
    # the pad ceremony (ceremony/steps.py; docs/ceremony.md)
    "ceremony.started",
    "ceremony.sources_checked",
    "pad.generated",
    "pad.customer_copy_written",
    "pad.facility_copy_written",
    "pad.copies_verified",
    "pad.sealed",
    "ceremony.closed",
    "ceremony.receipt_signed",
    "ceremony.exception",
    "ceremony.aborted",
    # the custody lifecycle (custody/lifecycle/; docs/custody-lifecycle.md). pad.suspended and
    # pad.compromised are deliberately one-person: stopping a pad must never wait for a second.
    "custody.transferred",
    "custody.delivered",
    "custody.exception",
    "pad.activated",
    "pad.resynced",  # a facility copy moved up to the ledger's marks (custody/lifecycle/marks.py)
    "pad.frame_policy",  # a pad's frame policy made stricter (custody/lifecycle/acts.py)
    "pad.resumed",
    "pad.exhausted",
    "pad.retired",
    "pad.destroyed",
}


@dataclass(frozen=True)
class Event:
    seq: int
    time: str
    type: str
    actors: tuple[str, ...]
    payload: dict[str, Any]
    approvals: tuple[dict[str, str], ...]
    prev_hash: bytes
    hash: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "type": self.type,
            "actors": list(self.actors),
            "payload": self.payload,
            "approvals": [dict(a) for a in self.approvals],
            "prev_hash": self.prev_hash.hex(),
            "hash": self.hash.hex(),
        }


def entry_bytes(
    origin: str,
    seq: int,
    time: str,
    event_type: str,
    actors_json: bytes,
    payload_json: bytes,
    approvals_json: bytes,
    prev_hash: bytes,
) -> bytes:
    """The entry from already-canonical JSON parts (fast path; equals canonical_json.dumps).

    The three *_json arguments must be canonical JSON; `time`, `event_type` and `origin` are
    escaped here.
    """
    return b"".join(
        (
            b'{"actors":',
            actors_json,
            b',"approvals":',
            approvals_json,
            b',"log":',
            json_string(origin),
            b',"payload":',
            payload_json,
            b',"prev":"',
            prev_hash.hex().encode(),
            b'","seq":',
            str(seq).encode(),
            b',"time":',
            json_string(time),
            b',"type":',
            json_string(event_type),
            b',"v":1}',
        )
    )


@functools.lru_cache(maxsize=4096)
def json_string(text: str) -> bytes:
    """A JSON string literal as canonical JSON writes it (cached: origins, types, times repeat)."""
    return json.dumps(text, ensure_ascii=False).encode()


def event_hash(entry: bytes) -> bytes:
    return merkle.leaf_hash(entry)


def approval_message(
    origin: str, event_type: str, actors: list[str], payload: dict[str, Any], nonce: bytes
) -> bytes:
    """The exact bytes each approving officer signs."""
    return canonical_json.dumps(
        {
            "actors": actors,
            "ctx": APPROVAL_CONTEXT,
            "log": origin,
            "nonce": nonce.hex(),
            "payload": payload,
            "type": event_type,
        }
    )


def check_payload_keys(value: Any, path: str = "payload") -> str | None:
    """Name the first forbidden key in `value`, or None."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if str(key).lower() in FORBIDDEN_PAYLOAD_KEYS:
                return f"{path}.{key}"
            found = check_payload_keys(sub, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            found = check_payload_keys(sub, f"{path}[{i}]")
            if found:
                return found
    return None


def _walk(value: Any, path: str) -> None:
    """One pass: refuse floats, non-string keys and secret-named keys (see canonical_json)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path} has a non-string key")
            if key.lower() in FORBIDDEN_PAYLOAD_KEYS:
                raise PermissionError(f"{path}.{key}")
            if not isinstance(sub, str | int):
                _walk(sub, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, sub in enumerate(value):
            if not isinstance(sub, str | int):
                _walk(sub, f"{path}[{i}]")
    elif isinstance(value, float):
        raise ValueError(f"{path} is a float; use integers or strings")


def canonical_payload(payload: dict[str, Any]) -> bytes:
    """canonical_json.dumps(payload), after refusing secret-named keys (PermissionError names
    the key path) and floats (ValueError). One walk instead of two: appends are hot."""
    _walk(payload, "payload")
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@functools.lru_cache(maxsize=1024)
def canonical_actors(actors: tuple[str, ...]) -> bytes:
    return canonical_json.dumps([str(a) for a in actors])
