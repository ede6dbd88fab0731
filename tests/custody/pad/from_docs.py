"""A second implementation of the pad and frame formats, written from the docs alone.

docs/protocol.md, docs/pad-format.md and docs/ledger.md are the only source: nothing here
imports Red Door (tests/custody/pad/test_protocol_from_docs.py checks that this module imports
the standard library only), and Poly1305 is RFC 8439 §2.5 in a few lines of integers. The tests
use it to open, seal and refuse the documented vectors, to rebuild the journals, manifest hashes
and Merkle trees the pages show, and to act as a second sender and receiver on a copy Red Door
also uses.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any

# -- docs/protocol.md "Frame layout" ----------------------------------------------------------
HEADER = struct.Struct(">2sBBBBH16sQII")  # magic, version, kind, direction, 0, 0, pad id, ...
INNER = struct.Struct(">BBI16sI")  # kind, flags, seq, message id, payload length
BUCKETS = sorted({2**k for k in range(8, 17)} | {3 * 2 ** (k - 1) for k in range(8, 16)})
ALLOWED = {1: {0}, 2: {1}, 3: {1}}  # query w2f only; answer-chunk, answer-end f2w only
MAX_INFLATED = 4 * 1024 * 1024


class Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def poly1305(key: bytes, message: bytes) -> bytes:
    """RFC 8439 §2.5.1."""
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:32], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        acc = (acc + int.from_bytes(message[i : i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) % (1 << 128)).to_bytes(16, "little")


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


# -- docs/pad-format.md "Canonical JSON" ------------------------------------------------------
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)  # non-ASCII, "/", "<", U+007F, U+2028: as themselves
    return '"' + "".join(out) + '"'


def canonical(value: Any) -> bytes:
    def enc(v: Any) -> str:
        if v is True:
            return "true"
        if v is False:
            return "false"
        if v is None:
            return "null"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return _string(v)
        if isinstance(v, list):
            return "[" + ",".join(enc(x) for x in v) + "]"
        if isinstance(v, dict):  # keys by code point
            return "{" + ",".join(_string(k) + ":" + enc(v[k]) for k in sorted(v)) + "}"
        raise TypeError(f"not in canonical JSON: {type(v).__name__}")

    return enc(value).encode("utf-8")


# -- docs/pad-format.md: the vector pad, manifest, Merkle tree, journal ------------------------
def vector_pad(size: int = 65536) -> bytes:
    out = b"".join(
        hashlib.sha256(b"reddoor test pad" + i.to_bytes(4, "big")).digest()
        for i in range(-(-size // 32))
    )
    return out[:size]


def merkle_root(leaf_hashes: list[bytes]) -> bytes:
    """RFC 6962 over leaf hashes (raw 32 bytes): split at the largest power of two below n."""
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):
        k *= 2
    left, right = merkle_root(leaf_hashes[:k]), merkle_root(leaf_hashes[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def verify_inclusion(h: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    fn, sn, r = index, size - 1, h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, old: bytes, new: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    path = ([old] if m & (m - 1) == 0 else []) + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hashlib.sha256(b"\x01" + c + fr).digest()
            sr = hashlib.sha256(b"\x01" + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hashlib.sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old and sr == new


def journal_bytes(body: dict[str, Any]) -> bytes:
    """The file: canonical JSON with `checksum` (over the rest, no newline), then a newline."""
    checksum = hashlib.sha256(canonical(body)).hexdigest()
    return canonical({**body, "checksum": checksum}) + b"\n"


def journal_body(data: bytes) -> dict[str, Any]:
    """The journal without its checksum, after checking it."""
    body = json.loads(data)
    checksum = body.pop("checksum")
    if hashlib.sha256(canonical(body)).hexdigest() != checksum:
        raise ValueError("journal checksum does not hold")
    return body


class Journal:
    """The documented journal rules, on a copy described by a manifest (dict) and a side."""

    def __init__(self, manifest: dict[str, Any], body: dict[str, Any], block: int = 65536):
        self.manifest, self.body, self.block = manifest, body, block
        send, recv = ("w2f", "f2w") if body["side"] == "workstation" else ("f2w", "w2f")
        self.send = _region(manifest, send)
        self.recv = _region(manifest, recv)
        self.next = body["send"]["reserved_end"]
        self.floor = body["recv"]["mark"]  # in memory: the contiguous consumed prefix
        self.seen = [tuple(r) for r in body["recv"]["seen"]]
        self.writes: list[dict[str, Any]] = []

    @property
    def durable_mark(self) -> int:
        return int(self.body["recv"]["mark"])

    def write(self, **changes: Any) -> None:
        body = json.loads(json.dumps(self.body))
        body["generation"] += 1
        if "reserved_end" in changes:
            body["send"]["reserved_end"] = changes["reserved_end"]
        if "mark" in changes:
            body["recv"] = {"mark": changes["mark"], "seen": changes["seen"]}
        self.body = body
        self.writes.append(body)

    def reserve(self, n: int, *, pad_exhausted: bool = False) -> int:
        _start, end = self.send
        limit = end if pad_exhausted else end - self.manifest["reserve"]
        if self.next + n > limit:
            raise ValueError("pad exhausted")
        if self.next + n > self.body["send"]["reserved_end"]:
            self.write(reserved_end=min(limit, self.next + max(self.block, 8 * n)))
        offset, self.next = self.next, self.next + n
        return offset

    def verdict(self, a: int, b: int) -> str | None:
        start, end = self.recv
        if not (start <= a and b <= end and b > a):
            return "outside-region"
        if a < self.floor or any(a < y and x < b for x, y in self.seen):
            return "replay"
        return None

    def received(self, a: int, b: int) -> None:
        if b > self.durable_mark:
            self.write(mark=min(self.recv[1], b + max(self.block, 8 * (b - a))), seen=[])
        self.seen = sorted([*self.seen, (a, b)])
        merged: list[tuple[int, int]] = []
        for x, y in self.seen:
            if merged and x <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(y, merged[-1][1]))
            else:
                merged.append((x, y))
        while merged and merged[0][0] <= self.floor:
            self.floor = max(self.floor, merged.pop(0)[1])
        self.seen = merged

    def close(self) -> None:
        exact = {
            "reserved_end": self.next,
            "mark": self.floor,
            "seen": [list(r) for r in self.seen],
        }
        now = self.body
        if (now["send"]["reserved_end"], now["recv"]["mark"], now["recv"]["seen"]) != (
            exact["reserved_end"],
            exact["mark"],
            exact["seen"],
        ):
            self.write(**exact)


def _region(manifest: dict[str, Any], name: str) -> tuple[int, int]:
    r = manifest["regions"][name]
    return r["start"], r["start"] + r["length"]


# -- docs/protocol.md: sealing and "Receiving: the order of checks" ---------------------------
def seal(
    pad: bytes,
    pad_id: bytes,
    offset: int,
    kind: int,
    direction: int,
    payload: bytes,
    *,
    msg_id: bytes,
    seq: int = 0,
    final: bool = True,
    compress: bool = False,
    conceal: bool = False,
    body_len: int | None = None,
    clear_kind: int | None = None,
) -> bytes:
    """A frame at `offset`; `pad` holds the pad bytes from that offset on. `clear_kind` puts
    another kind in the clear header than inside (to make frames a receiver must refuse)."""
    flags = 0x02 if final else 0
    if compress:
        packed = zlib.compress(payload, 9)
        if len(packed) < len(payload):
            payload, flags = packed, flags | 0x01
    size = body_len or next(b for b in BUCKETS if b >= 26 + len(payload))
    header = HEADER.pack(
        b"RD", 1, 0 if conceal else kind, direction, 0, 0, pad_id, offset, 32 + size, size
    )
    if clear_kind is not None:
        header = header[:3] + bytes([clear_kind]) + header[4:]
    inner = (INNER.pack(kind, flags, seq, msg_id, len(payload)) + payload).ljust(size, b"\0")
    body = xor(inner, pad[32 : 32 + size])
    return header + body + poly1305(pad[:32], header + body)


class PadKeyed(Exception):
    """A well-formed pad-keyed header (mode 1), which this one-time-pad-only reader refuses."""

    def __init__(self, kind: int, direction: int, pad_id: bytes) -> None:
        super().__init__("pad-keyed")
        self.kind, self.direction, self.pad_id = kind, direction, pad_id


def check_header(data: bytes) -> tuple[int, int, bytes, int, int, int]:
    """Step 1: (clear kind, direction, pad id, offset, range length, body length)."""
    if len(data) < 56:
        raise Refused("truncated")
    magic, version, kind, direction, mode, index, pad_id, offset, range_len, body_len = (
        HEADER.unpack_from(data)
    )
    if magic != b"RD":
        raise Refused("bad-magic")
    if version != 1:
        raise Refused("bad-version")
    if mode > 1 or (mode == 0 and index) or direction not in (0, 1) or kind > 8:
        raise Refused("bad-header")
    if body_len not in BUCKETS or range_len != (32 if mode else 32 + body_len):
        raise Refused("bad-length")
    if len(data) != 56 + body_len:
        raise Refused("bad-length")
    if mode:  # this reader implements one-time-pad frames only: an otp-only receiver
        raise PadKeyed(kind, direction, pad_id)
    return kind, direction, pad_id, offset, range_len, body_len


def open_frame(
    data: bytes, pad: bytes, pad_id: bytes, receives: int, journal: Journal
) -> tuple[int, int, int, bytes, bytes]:
    """Steps 1–8 on the whole pad `pad`: (kind, flags, seq, message id, payload). Steps 7 and 9
    (record, zeroize) are the caller's: `journal.received` and overwriting the range."""
    try:
        clear, direction, frame_pad, offset, range_len, body_len = check_header(data)
    except PadKeyed as keyed:  # steps 2 and 3 come first, then the policy (otp-only here)
        if keyed.pad_id != pad_id:
            raise Refused("wrong-pad") from None
        if keyed.direction != receives:
            raise Refused("wrong-direction") from None
        raise Refused("policy") from None
    if frame_pad != pad_id:
        raise Refused("wrong-pad")
    if direction != receives:
        raise Refused("wrong-direction")
    verdict = journal.verdict(offset, offset + range_len)
    if verdict:
        raise Refused(verdict)
    key = pad[offset : offset + 32]
    if key == bytes(32):
        raise Refused("replay")
    signed = 40 + body_len
    if not hmac.compare_digest(poly1305(key, data[:signed]), data[signed:]):
        raise Refused("bad-tag")
    journal.received(offset, offset + range_len)  # step 7
    inner = xor(data[40:signed], pad[offset + 32 : offset + range_len])
    kind, flags, seq, msg_id, length = INNER.unpack_from(inner)
    if not 1 <= kind <= 8 or clear not in (0, kind):
        raise Refused("bad-inner")
    if direction not in ALLOWED.get(kind, {0, 1}):
        raise Refused("bad-kind")
    if kind != 5 and offset + range_len > journal.recv[1] - journal.manifest["reserve"]:
        raise Refused("bad-kind")
    if flags & ~0x03 or 26 + length > body_len:
        raise Refused("bad-inner")
    if any(inner[26 + length :]):
        raise Refused("bad-inner")
    payload = inner[26 : 26 + length]
    if flags & 0x01:
        d = zlib.decompressobj()
        try:
            payload = d.decompress(payload, MAX_INFLATED)
        except zlib.error:
            raise Refused("bad-inner") from None
        if d.unconsumed_tail or not d.eof or d.unused_data:
            raise Refused("bad-inner")
    return kind, flags, seq, msg_id, payload


# -- docs/pad-format.md "Another program using a copy" ---------------------------------------
class PadDirectory:
    """A copy on disk, used by this implementation between Red Door's runs."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.lock = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        raw = (directory / "manifest.json").read_bytes()
        self.manifest = json.loads(raw)
        if canonical(self.manifest) + b"\n" != raw:
            raise ValueError("manifest not canonical")
        digests = [bytes.fromhex(h) for h in self.manifest["chunks"]]
        if merkle_root([leaf(d) for d in digests]).hex() != self.manifest["merkle_root"]:
            raise ValueError("Merkle root does not hold")
        body = journal_body((directory / "journal.json").read_bytes())
        if (body["pad_id"], body["manifest_sha256"]) != (
            self.manifest["pad_id"],
            hashlib.sha256(raw).hexdigest(),
        ):
            raise ValueError("journal of another pad")
        self.journal = Journal(self.manifest, body)
        self.pad_id = bytes.fromhex(self.manifest["pad_id"])
        self.sends = 0 if body["side"] == "workstation" else 1
        self._written = len(self.journal.writes)

    def _sync_journal(self) -> None:
        """Write every journal state the rules produced since the last call, durably."""
        for body in self.journal.writes[self._written :]:
            tmp = self.dir / "journal.json.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, journal_bytes(body))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, self.dir / "journal.json")
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._written = len(self.journal.writes)

    def _pad(self) -> bytes:
        return (self.dir / "pad.bin").read_bytes()

    def _zeroize(self, offset: int, length: int) -> None:
        fd = os.open(self.dir / "pad.bin", os.O_WRONLY)
        try:
            os.pwrite(fd, bytes(length), offset)
            os.fsync(fd)
        finally:
            os.close(fd)

    def seal(self, kind: int, payload: bytes, msg_id: bytes) -> bytes:
        size = next(b for b in BUCKETS if b >= 26 + len(payload))
        offset = self.journal.reserve(32 + size)
        self._sync_journal()  # reserved before any pad byte is read
        data = seal(
            self._pad()[offset:], self.pad_id, offset, kind, self.sends, payload, msg_id=msg_id
        )
        self._zeroize(offset, 32 + size)
        return data

    def open(self, data: bytes) -> bytes:
        before = (self.journal.floor, list(self.journal.seen))
        try:
            payload = open_frame(data, self._pad(), self.pad_id, 1 - self.sends, self.journal)[4]
        finally:
            # Recorded before the plaintext is released, and zeroized, once the tag verified
            # (step 7), whatever the inner part turned out to be.
            self._sync_journal()
            if (self.journal.floor, self.journal.seen) != before:
                h = check_header(data)
                self._zeroize(h[3], h[4])
        return payload

    def close(self) -> None:
        self.journal.close()
        self._sync_journal()
        os.close(self.lock)


# -- reading the vectors off the pages ---------------------------------------------------------
def vectors(*pages: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for page in pages:
        text = page.read_text()
        out.update(re.findall(r"```vector:([a-z0-9-]+)\n(.*?)\n```", text, re.S))
        out.update(re.findall(r"<!-- vector:([a-z0-9-]+) -->\n```\n(.*?)\n```", text, re.S))
    return out
