"""Pad-keyed frame keys: 32 fresh pad bytes → HKDF-SHA256 → a ChaCha20-Poly1305 key.

A pad-keyed frame (docs/protocol.md, "Pad-keyed frames") names the 32-byte pad range of its key
(`offset`, range length 32) and its frame index under that key (`index`, 0 … 65,535). The key is

    HKDF-SHA256(IKM  = pad[offset : offset + 32],
                salt = pad id (16 bytes),
                info = "reddoor/v1 pad-keyed frame key" || direction u8 || offset u64be,
                L    = 32)

and the frame's nonce is `00000000 || index u64be` (12 bytes). One key seals at most 65,536
frames, each with its own index, so a nonce never repeats under a key; and no two keys share
their pad bytes (every key range is reserved, used once and zeroized like any frame's range).

`KeyedStream` is the sending side: it reserves the key's range durably before reading it, derives
the key, zeroizes the range at once, and hands out indices; a full key is replaced by a new one
(another 32 pad bytes). `ReceivedKeys` is the receiving side's memory of the keys it has taken
into use (`custody.pad.frame.open_frame` adds one when a frame under a new key authenticates, and
commits and zeroizes the key's range then): which indices it has seen (a second frame with the
same index is a replay) and the key for the frames still to come. It lives in the process only:
after a restart a key's range is consumed and its later frames are refused as replays.
The derived keys live in process memory while their stream lasts (Python cannot wipe them
reliably); the pad bytes they came from are zeroized at once.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from custody.pad.pad_copy import PadCopy

KEY_LEN = 32
MAX_FRAMES = 1 << 16  # per key: the header's index is a u16
KEY_INFO = b"reddoor/v1 pad-keyed frame key"
_INFO_TAIL = struct.Struct(">BQ")
MAX_KEYS_HELD = 256  # keys a receiver remembers (least recently used forgotten first)


def derive_key(
    ikm: bytes | bytearray | memoryview, pad_id: bytes, direction: int, offset: int
) -> bytes:
    """The ChaCha20-Poly1305 key of the pad-keyed frames whose key range starts at `offset`."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=pad_id,
        info=KEY_INFO + _INFO_TAIL.pack(direction, offset),
    ).derive(ikm)


_NONCE = struct.Struct(">4xQ")


def nonce(index: int) -> bytes:
    """00000000 || index u64be: the 96-bit ChaCha20-Poly1305 nonce of the frame `index`."""
    return _NONCE.pack(index)


class KeyedStream:
    """Pad-keyed frames from one sender under one key at a time (a question, an answer, a
    period of cover traffic). Not thread-safe: used under the copy's lock, like the copy."""

    def __init__(self, copy: PadCopy, *, max_frames: int = MAX_FRAMES) -> None:
        if not 1 <= max_frames <= MAX_FRAMES:
            raise ValueError(f"a key seals 1 to {MAX_FRAMES} frames")
        self.copy = copy
        self.max_frames = max_frames
        self._aead: ChaCha20Poly1305 | None = None
        self.offset = -1  # the current key's range
        self._next = 0
        self.keys_opened = 0  # keys taken so far (each cost KEY_LEN pad bytes)

    @property
    def pad_bytes(self) -> int:
        """Pad bytes this stream has consumed."""
        return self.keys_opened * KEY_LEN

    @property
    def needs_key(self) -> bool:
        """The next frame opens a new key (and costs KEY_LEN pad bytes)."""
        return self._aead is None or self._next >= self.max_frames

    def rotate(self) -> None:
        """Forget the current key: the next frame opens a new one (a new key period)."""
        self._aead = None

    def take(self, *, use_reserve: bool = False) -> tuple[ChaCha20Poly1305, int, int]:
        """(key, key offset, frame index) for the next frame."""
        if self.needs_key:
            self._open_key(use_reserve)
        assert self._aead is not None
        index = self._next
        self._next += 1
        return self._aead, self.offset, index

    def _open_key(self, use_reserve: bool) -> None:
        copy = self.copy
        offset = copy.reserve_send(KEY_LEN, use_reserve=use_reserve)  # durable before the read
        ikm = copy.read(offset, KEY_LEN)
        try:
            key = derive_key(ikm, copy.pad_id, copy.send_code, offset)
        finally:
            if isinstance(ikm, memoryview):
                ikm.release()
            elif isinstance(ikm, bytearray):
                ikm[:] = bytes(len(ikm))
            copy.zeroize(offset, KEY_LEN)
        self._aead = ChaCha20Poly1305(key)
        self.offset, self._next = offset, 0
        self.keys_opened += 1


class _Held:
    __slots__ = ("aead", "seen")

    def __init__(self, aead: ChaCha20Poly1305) -> None:
        self.aead = aead
        self.seen = bytearray(MAX_FRAMES // 8)

    def has(self, index: int) -> bool:
        return bool(self.seen[index >> 3] & (1 << (index & 7)))

    def add(self, index: int) -> None:
        self.seen[index >> 3] |= 1 << (index & 7)


class ReceivedKeys:
    """A receiver's keys in use, by key offset: at most `limit` (least recently used forgotten
    first; a forgotten key's later frames are then refused as replays, its range being spent)."""

    def __init__(self, limit: int = MAX_KEYS_HELD) -> None:
        self.limit = limit
        self._keys: OrderedDict[int, _Held] = OrderedDict()

    def get(self, offset: int) -> _Held | None:
        held = self._keys.get(offset)
        if held is not None:
            self._keys.move_to_end(offset)
        return held

    def add(self, offset: int, aead: ChaCha20Poly1305) -> _Held:
        held = self._keys[offset] = _Held(aead)
        while len(self._keys) > self.limit:
            self._keys.popitem(last=False)
        return held

    def forget(self, offset: int) -> None:
        self._keys.pop(offset, None)

    def __len__(self) -> int:
        return len(self._keys)
