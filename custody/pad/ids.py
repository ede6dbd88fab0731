"""Pad identifiers: 128 random bits, shown in a look-alike-free alphabet for reading aloud.

Display form: Crockford base32 (no I, L, O, U), 26 data characters carrying the 128 bits (the two
leading bits are zero) followed by 4 check characters (the first 20 bits of SHA-256 of the 16
id bytes), in six groups of five: ``7ZQ4M-1X9KD-...``. Decoding accepts lower case, the look-alikes
O→0 and I/L→1, and ignores dashes and spaces; a mistyped id fails the check instead of naming
another pad. The canonical machine form is 32 lower-case hex digits.
"""

from __future__ import annotations

import hashlib
import secrets

from custody.errors import UsageError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
_DECODE.update({"O": 0, "I": 1, "L": 1})


def new_pad_id() -> bytes:
    return secrets.token_bytes(16)


def _b32(value: int, width: int) -> str:
    return "".join(ALPHABET[(value >> (5 * (width - 1 - i))) & 31] for i in range(width))


def _check(raw: bytes) -> str:
    return _b32(int.from_bytes(hashlib.sha256(raw).digest()[:3], "big") >> 4, 4)


def display(raw: bytes) -> str:
    """Grouped, checksummed display form of a 16-byte pad id."""
    if len(raw) != 16:
        raise ValueError("pad id must be 16 bytes")
    text = _b32(int.from_bytes(raw, "big"), 26) + _check(raw)
    return "-".join(text[i : i + 5] for i in range(0, 30, 5))


def parse(text: str) -> bytes:
    """Accept the display form (any case, look-alikes, dashes) or 32 hex digits."""
    cleaned = text.strip().replace("-", "").replace(" ", "").upper()
    if len(cleaned) == 32 and all(c in "0123456789ABCDEF" for c in cleaned):
        return bytes.fromhex(cleaned)
    if len(cleaned) != 30 or any(c not in _DECODE for c in cleaned):
        raise UsageError(f"not a pad id: {text.strip()!r} (expected 6 groups of 5 or 32 hex)")
    value = 0
    for c in cleaned[:26]:
        value = (value << 5) | _DECODE[c]
    if value >> 128:
        raise UsageError(f"not a pad id: {text.strip()!r}")
    raw = value.to_bytes(16, "big")
    if _check(raw) != "".join(ALPHABET[_DECODE[c]] for c in cleaned[26:]):
        raise UsageError(f"pad id {text.strip()!r} fails its check characters (typo?)")
    return raw
