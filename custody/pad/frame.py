"""The OTP frame: one self-contained, authenticated, pad-encrypted message.

Wire layout (big-endian; docs/protocol.md has test vectors):

    header (40 bytes, authenticated, in the clear)
        magic "RD" | version u8 | kind u8 | direction u8 | zero u8 | zero u16
        pad id (16) | offset u64 | range length u32 | body length u32
    body   (body length bytes) = inner XOR pad[offset+32 : offset+32+body length]
    tag    (16 bytes) = Poly1305(key = pad[offset : offset+32], header || body)

    inner (encrypted): kind u8 | flags u8 | seq u32 | message id (16) | payload length u32 |
                       payload | zero padding up to the bucket size

A frame consumes `range length` = 32 + body length pad bytes of its sender's region. The receiver
checks version and pad id, direction, that the range lies in the sender's region, that no byte of
it was consumed before (and that its key bytes are not zeroized), then the tag, and only then
decrypts. Poly1305 keyed once with 32 uniformly random secret bytes is a one-time authenticator
whose forgery probability is at most 8·ceil(L/16)/2^106 for an L-byte message, against any
adversary, while the key bytes stay secret and are never used again.

A pad-keyed frame (header byte 5 = 1; docs/protocol.md, "Pad-keyed frames") has the same layout
and sizes, but its offset and range length (32) name the pad range of an AEAD key shared by the
frames of one stream (custody.pad.keyed), bytes 6-7 its index under that key, and its body and
tag are ChaCha20-Poly1305 of the inner part (header as associated data). A copy whose frame policy
does not allow pad-keyed frames refuses one before reading any pad byte (`policy`).
"""

from __future__ import annotations

import bisect
import struct
import zlib
from enum import IntEnum
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.poly1305 import Poly1305

from custody.errors import FrameRejected
from custody.pad import keyed
from custody.pad.frame_policy import FrameMode, FramePolicy, PolicyMode
from custody.pad.keyed import KeyedStream
from custody.pad.manifest import Direction
from custody.pad.pad_copy import PadCopy

MAGIC = b"RD"
VERSION = 1
HEADER = struct.Struct(">2sBBBBH16sQII")
INNER = struct.Struct(">BBI16sI")
HEADER_LEN = HEADER.size  # 40
INNER_LEN = INNER.size  # 26
KEY_LEN = 32
TAG_LEN = 16
OVERHEAD = HEADER_LEN + TAG_LEN
FLAG_COMPRESSED = 0x01
FLAG_FINAL = 0x02
MAX_DECOMPRESSED = 4 << 20
# Every reason a frame is refused with, in the order of the checks (docs/protocol.md, "Receiving:
# the order of checks" lists exactly these; `reddoor frame open` prints the word last).
REASONS = (
    "truncated",
    "bad-magic",
    "bad-version",
    "bad-header",
    "bad-length",
    "wrong-pad",
    "wrong-direction",
    "policy",
    "outside-region",
    "replay",
    "bad-tag",
    "bad-inner",
    "bad-kind",
)
# Rejections raised after the tag verified: the frame's range is consumed and zeroized.
REJECTED_AFTER_AUTHENTICATION = frozenset({"bad-inner", "bad-kind"})
POLICY_REFUSAL = "pad-keyed frame refused by policy"


def _buckets() -> tuple[int, ...]:
    sizes = []
    k = 256
    while k <= 65536:
        sizes.append(k)
        if k * 3 // 2 <= 65536 and k < 65536:
            sizes.append(k * 3 // 2)
        k *= 2
    return tuple(sorted(sizes))


BUCKETS = _buckets()  # 256, 384, 512, 768, ..., 49152, 65536
_BUCKET_SET = frozenset(BUCKETS)
_ZERO_KEY = bytes(KEY_LEN)
MAX_BODY = BUCKETS[-1]
MAX_PAYLOAD = MAX_BODY - INNER_LEN


class Kind(IntEnum):
    OPAQUE = 0  # header only: the real kind is inside (concealed traffic)
    QUERY = 1
    ANSWER_CHUNK = 2
    ANSWER_END = 3
    ERROR = 4
    PAD_EXHAUSTED = 5
    COVER = 6
    PING = 7
    CARRIER = 8  # pad-keyed cover traffic carrying a real frame (custody.link.carrier)


_KIND_VALUES = frozenset(int(k) for k in Kind)

# Who may send what: questions go to the facility, answers come back.
_ALLOWED = {
    Kind.QUERY: {Direction.W2F},
    Kind.ANSWER_CHUNK: {Direction.F2W},
    Kind.ANSWER_END: {Direction.F2W},
}


class PayloadTooLarge(ValueError):
    """The payload does not fit one frame; the caller fragments it."""


_BOTH = frozenset({Direction.W2F, Direction.F2W})
_ALLOWED_BY_VALUE = {int(k): frozenset(_ALLOWED.get(k, _BOTH)) for k in Kind}
_ALLOWED_CODES = {int(k): frozenset(d.code for d in v) for k, v in _ALLOWED_BY_VALUE.items()}
_SENDABLE = frozenset(
    (kind, code) for kind in Kind if kind is not Kind.OPAQUE for code in _ALLOWED_CODES[kind]
)
_KIND_OF = {int(k): k for k in Kind}


def allowed_directions(kind: Kind) -> frozenset[Direction]:
    return _ALLOWED_BY_VALUE[int(kind)]


def bucket_for(inner_length: int) -> int:
    i = bisect.bisect_left(BUCKETS, inner_length)
    if i < len(BUCKETS):
        return BUCKETS[i]
    raise ValueError(f"message part of {inner_length} bytes exceeds the largest bucket")


def _wipe(buf: bytearray) -> None:
    buf[:] = bytes(len(buf))


def _xor(data: bytes | bytearray | memoryview, key: bytes | bytearray | memoryview) -> bytes:
    n = len(data)
    x = int.from_bytes(data, "little") ^ int.from_bytes(key[:n], "little")
    return x.to_bytes(n, "little")


class Header(NamedTuple):
    version: int
    kind: int
    direction: int
    pad_id: bytes
    offset: int
    range_len: int
    body_len: int
    mode: FrameMode = FrameMode.OTP
    key_index: int = 0  # pad-keyed: the frame's index under its key (its nonce)

    @property
    def range(self) -> tuple[int, int]:
        return self.offset, self.offset + self.range_len


class Message(NamedTuple):
    kind: Kind
    payload: bytes
    msg_id: bytes
    seq: int
    final: bool
    offset: int
    range_len: int  # pad bytes this frame consumed at the receiver (0: a key already in use)
    compressed: bool
    mode: FrameMode = FrameMode.OTP


def parse_header(data: bytes) -> Header:
    """Parse the clear header of a frame (no pad needed). Raises FrameRejected."""
    if len(data) < OVERHEAD:
        raise FrameRejected("truncated", f"frame of {len(data)} bytes is shorter than a header")
    magic, version, kind, direction, mode, index, pid, offset, range_len, body_len = (
        HEADER.unpack_from(data)
    )
    if magic != MAGIC:
        raise FrameRejected("bad-magic", "not a Red Door frame")
    if version != VERSION:
        raise FrameRejected("bad-version", f"unsupported frame version {version}")
    if mode > 1 or (mode == 0 and index) or direction > 1 or kind not in _KIND_VALUES:
        raise FrameRejected("bad-header", "frame header has invalid fields")
    if body_len not in _BUCKET_SET or range_len != (KEY_LEN if mode else KEY_LEN + body_len):
        raise FrameRejected("bad-length", "frame lengths are not a valid bucket")
    if len(data) != OVERHEAD + body_len:
        raise FrameRejected(
            "bad-length", f"frame is {len(data)} bytes, header says {OVERHEAD + body_len}"
        )
    return Header(version, kind, direction, pid, offset, range_len, body_len, _MODES[mode], index)


_MODES = (FrameMode.OTP, FrameMode.PAD_KEYED)


def seal(
    copy: PadCopy,
    kind: Kind,
    payload: bytes,
    *,
    msg_id: bytes = bytes(16),
    seq: int = 0,
    final: bool = True,
    compress: bool = False,
    conceal: bool = False,
    body_len: int | None = None,
    stream: KeyedStream | None = None,
) -> bytes:
    """Encrypt and authenticate one frame from `copy`'s send region.

    The range is reserved durably before any pad byte is read; the pad bytes are zeroized on
    the medium once the frame exists. `conceal` hides the kind from the clear header (cover
    traffic); `body_len` forces a bucket (constant-size traffic). With `stream` the frame is
    pad-keyed: sealed under the stream's current key (a new one, 32 pad bytes, when it has
    none), which the copy's frame policy must allow.
    """
    code = copy.send_code
    if (kind, code) not in _SENDABLE:
        if kind == Kind.OPAQUE:
            raise ValueError("OPAQUE is a header marker, not a message kind")
        direction = copy.send_region.direction
        raise ValueError(f"{Kind(kind).name} frames cannot be sent {direction.label}")
    if len(msg_id) != 16:
        raise ValueError("message id must be 16 bytes")
    if stream is not None and not copy.frame_policy.allows_pad_keyed:
        raise FrameRejected(
            "policy", f"{POLICY_REFUSAL}: this pad's policy is otp-only; nothing was sealed"
        )
    flags = FLAG_FINAL if final else 0
    if compress:
        packed = zlib.compress(payload, 9)
        if len(packed) < len(payload):
            payload, flags = packed, flags | FLAG_COMPRESSED
    inner_len = INNER_LEN + len(payload)
    if inner_len > MAX_BODY:
        raise PayloadTooLarge(
            f"payload of {len(payload)} bytes does not fit one frame (max {MAX_PAYLOAD}); "
            "fragment it"
        )
    if body_len is None:
        size = BUCKETS[bisect.bisect_left(BUCKETS, inner_len)]
    elif type(body_len) is int and body_len in _BUCKET_SET and body_len >= inner_len:
        size = body_len
    else:
        raise ValueError(f"body length {body_len} is not a bucket that fits {inner_len} bytes")
    clear_kind = 0 if conceal else kind
    if stream is not None:
        # inner || zero padding, built in place: the AEAD encrypts the whole body.
        plain = bytearray(size)
        INNER.pack_into(plain, 0, kind, flags, seq, msg_id, len(payload))
        plain[INNER_LEN:inner_len] = payload
        try:
            return _seal_keyed(copy, stream, clear_kind, plain, kind is Kind.PAD_EXHAUSTED)
        finally:
            _wipe(plain)
    inner = bytearray(INNER.pack(kind, flags, seq, msg_id, len(payload)))
    inner += payload
    range_len = KEY_LEN + size
    offset = copy.reserve_send(range_len, use_reserve=kind is Kind.PAD_EXHAUSTED)
    out = bytearray(
        HEADER.pack(MAGIC, VERSION, clear_kind, code, 0, 0, copy.pad_id, offset, range_len, size)
    )
    pad = copy.read(offset, range_len)
    try:
        # body = (inner || zero padding) XOR pad: the padding part is the pad bytes themselves.
        out += _xor(inner, pad[KEY_LEN : KEY_LEN + inner_len])
        out += pad[KEY_LEN + inner_len :]
        out += Poly1305.generate_tag(pad[:KEY_LEN], out)
    finally:
        _wipe(inner)
        _done_with(pad)
        # Zeroize the range on the medium now the frame exists (and with it, a mapped view).
        copy.zeroize(offset, range_len)
    return bytes(out)


def _seal_keyed(
    copy: PadCopy, stream: KeyedStream, clear_kind: int, plain: bytearray, last: bool
) -> bytes:
    """body || tag = ChaCha20-Poly1305(key, nonce(index), inner || zero padding, header)."""
    aead, offset, index = stream.take(use_reserve=last)
    header = HEADER.pack(
        MAGIC, VERSION, clear_kind, copy.send_code, FrameMode.PAD_KEYED, index, copy.pad_id,
        offset, KEY_LEN, len(plain),
    )  # fmt: skip
    return header + aead.encrypt(keyed.nonce(index), plain, header)


def seal_cover(copy: PadCopy, bucket: int) -> bytes:
    """One cover frame: no payload, kind concealed, body of exactly `bucket` — the same on the
    wire as any other frame of a covered direction."""
    return seal(copy, Kind.COVER, b"", conceal=True, body_len=bucket)


def open_frame(copy: PadCopy, data: bytes) -> Message:
    """Check, authenticate and decrypt one frame addressed to `copy`. Raises FrameRejected.

    Order matters: nothing is decrypted before the tag verifies, and the tag is never checked
    for a range already consumed (a zeroized range is an all-zero Poly1305 key: forgeable).
    """
    h = parse_header(data)
    if h.pad_id != copy.pad_id:
        raise FrameRejected("wrong-pad", "frame is for another pad")
    if h.direction != copy.recv_code:
        raise FrameRejected("wrong-direction", "frame travels in the wrong direction for this side")
    if h.mode is FrameMode.PAD_KEYED:
        _check_policy(copy.frame_policy, h)  # before any pad byte is read
        return _open_keyed(copy, h, data)
    offset, range_len, body_len = h.offset, h.range_len, h.body_len
    verdict = copy.receive_verdict(offset, range_len)
    if verdict is not None:
        raise FrameRejected(*verdict)
    pad = copy.read(offset, range_len)
    consumed = False
    try:
        key = pad[:KEY_LEN]
        if key == _ZERO_KEY:
            raise FrameRejected("replay", "pad range is already zeroized (consumed)")
        wire = memoryview(data)
        signed = HEADER_LEN + body_len
        try:
            Poly1305.verify_tag(key, wire[:signed], bytes(wire[signed:]))
        except InvalidSignature:
            raise FrameRejected(
                "bad-tag", "frame failed authentication (modified or forged)"
            ) from None
        # Authentic: the range is now spent whatever the inner content turns out to be.
        copy.commit_received(offset, range_len)
        consumed = True
        # Decrypt the inner header, then only as much as it says; the padding must be zeros,
        # i.e. the body there equals the pad bytes.
        head = _xor(wire[HEADER_LEN : HEADER_LEN + INNER_LEN], pad[KEY_LEN : KEY_LEN + INNER_LEN])
        kind, flags, seq, msg_id, length = INNER.unpack(head)
        _check_inner(h, kind, flags, length, offset + range_len > copy.recv_region.usable_end)
        end = INNER_LEN + length
        payload = _xor(
            wire[HEADER_LEN + INNER_LEN : HEADER_LEN + end],
            pad[KEY_LEN + INNER_LEN : KEY_LEN + end],
        )
        if bytes(wire[HEADER_LEN + end : signed]) != bytes(pad[KEY_LEN + end :]):
            raise FrameRejected("bad-inner", "authenticated frame has malformed padding or length")
    finally:
        _done_with(pad)
        if consumed:
            copy.zeroize(offset, range_len)
    return _message(kind, flags, seq, msg_id, payload, offset, range_len, FrameMode.OTP)


def _check_policy(policy: FramePolicy, h: Header) -> None:
    """Refuse a pad-keyed frame this copy's policy does not allow, from its header alone."""
    if policy.mode is PolicyMode.OTP_ONLY:
        raise FrameRejected("policy", f"{POLICY_REFUSAL} (this pad's policy is otp-only)")
    if policy.mode is PolicyMode.OTP_PREFERRED and not (
        h.kind == Kind.OPAQUE or (h.kind == Kind.QUERY and h.direction == Direction.W2F.code)
    ):
        raise FrameRejected(
            "policy",
            f"{POLICY_REFUSAL} (otp-preferred: pad-keyed only for cover traffic and large "
            "questions)",
        )


def _open_keyed(copy: PadCopy, h: Header, data: bytes) -> Message:
    """Check, authenticate and decrypt a pad-keyed frame (docs/protocol.md, "Pad-keyed frames").

    A key not yet in use: its range must be receivable and not zeroized, the key is derived
    from it, and only a frame that authenticates under it commits the range (durably, then
    zeroized) and puts the key in the copy's `received_keys`. A key in use: the frame's index
    must be new. ChaCha20-Poly1305 releases no plaintext unless the tag verifies; the plaintext
    is released (returned) only after the key range is recorded as consumed.
    """
    wire = memoryview(data)
    held = copy.received_keys.get(h.offset)
    if held is not None:
        if held.has(h.key_index):
            raise FrameRejected("replay", "frame was already received under its key (replay)")
        aead = held.aead
    else:
        verdict = copy.receive_verdict(h.offset, KEY_LEN)
        if verdict is not None:
            raise FrameRejected(*verdict)
        ikm = copy.read(h.offset, KEY_LEN)
        try:
            if ikm == _ZERO_KEY:
                raise FrameRejected("replay", "pad range is already zeroized (consumed)")
            aead = ChaCha20Poly1305(keyed.derive_key(ikm, copy.pad_id, h.direction, h.offset))
        finally:
            _done_with(ikm)
    try:
        # `bytes` from the library: it cannot be wiped, so no copy is made to pretend otherwise.
        plain = aead.decrypt(keyed.nonce(h.key_index), wire[HEADER_LEN:], wire[:HEADER_LEN])
    except InvalidTag:
        raise FrameRejected("bad-tag", "frame failed authentication (modified or forged)") from None
    consumed = 0
    if held is None:
        copy.commit_received(h.offset, KEY_LEN)
        copy.zeroize(h.offset, KEY_LEN)
        held = copy.received_keys.add(h.offset, aead)
        consumed = KEY_LEN
    held.add(h.key_index)
    kind, flags, seq, msg_id, length = INNER.unpack_from(plain)
    _check_inner(h, kind, flags, length, h.offset + KEY_LEN > copy.recv_region.usable_end)
    if (
        h.kind == Kind.OPAQUE
        and kind != Kind.COVER
        and kind != Kind.CARRIER
        and copy.frame_policy.mode is PolicyMode.OTP_PREFERRED
    ):
        raise FrameRejected(
            "bad-kind",
            f"{POLICY_REFUSAL} (otp-preferred: a concealed pad-keyed frame carries only "
            "cover traffic)",
        )
    end = INNER_LEN + length
    if plain.count(0, end) != len(plain) - end:  # the padding must be zeros
        raise FrameRejected("bad-inner", "authenticated frame has malformed padding or length")
    payload = plain[INNER_LEN:end]
    return _message(kind, flags, seq, msg_id, payload, h.offset, consumed, FrameMode.PAD_KEYED)


def _message(
    kind: int,
    flags: int,
    seq: int,
    msg_id: bytes,
    payload: bytes,
    offset: int,
    range_len: int,
    mode: FrameMode,
) -> Message:
    """The opened frame: its payload inflated if the compressed flag says so."""
    compressed = bool(flags & FLAG_COMPRESSED)
    if compressed:
        payload = _inflate(payload)
    return Message(
        _KIND_OF[kind],
        payload,
        msg_id,
        seq,
        bool(flags & FLAG_FINAL),
        offset,
        range_len,
        compressed,
        mode,
    )


def _done_with(pad: bytes | bytearray | memoryview) -> None:
    """Let go of a range's pad bytes: release a view (never wipe through it: a mapped view is
    the medium itself, zeroized by the copy), wipe a private copy (a range over two vault
    chunks is assembled in a bytearray)."""
    if isinstance(pad, memoryview):
        pad.release()
    elif isinstance(pad, bytearray):
        _wipe(pad)


def _check_inner(h: Header, kind: int, flags: int, length: int, in_reserve: bool) -> None:
    """Step 8 of docs/protocol.md's checks, in its order. `in_reserve`: the range reaches into
    the last `reserve` bytes of its region, which only the final pad-exhausted frame may use."""
    if kind not in _KIND_VALUES or kind == Kind.OPAQUE:
        raise FrameRejected("bad-inner", "authenticated frame has an unknown inner kind")
    if h.kind not in (Kind.OPAQUE, kind):
        raise FrameRejected("bad-inner", "clear and encrypted kinds disagree")
    if h.direction not in _ALLOWED_CODES[kind]:
        direction = Direction.W2F if h.direction == 0 else Direction.F2W
        raise FrameRejected("bad-kind", f"{Kind(kind).name} frames cannot travel {direction.label}")
    if in_reserve and kind != Kind.PAD_EXHAUSTED:
        raise FrameRejected(
            "bad-kind", f"{Kind(kind).name} frame uses the region's reserve (pad-exhausted only)"
        )
    if INNER_LEN + length > h.body_len or flags & ~0x03:
        raise FrameRejected("bad-inner", "authenticated frame has malformed padding or length")


def _inflate(payload: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(payload, MAX_DECOMPRESSED)
    except zlib.error:
        raise FrameRejected("bad-inner", "compressed payload is corrupt") from None
    if d.unconsumed_tail or not d.eof:
        raise FrameRejected("bad-inner", "compressed payload is too large or truncated")
    if d.unused_data:
        raise FrameRejected("bad-inner", "compressed payload has bytes after its zlib stream")
    return out
