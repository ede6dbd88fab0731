"""Pad-keyed cover traffic: one key per key period, and real frames carried inside it.

Where a pad's frame policy allows it (`otp-preferred`, `pad-keyed`), constant-rate cover traffic
is sealed pad-keyed: every slot of a period is a frame under one key, 32 pad bytes per period
instead of 32 + bucket per frame (docs/protocol.md, "Pad-keyed cover traffic"). A slot with a real
frame waiting carries it whole: a concealed CARRIER frame whose payload is the real frame's bytes,
sealed in its own mode (a one-time pad question stays one-time pad inside). On the wire every
slot is then the same: one size, clear kind `opaque`, mode pad-keyed, the period's key offset.

`CoverStream` seals the slots of one sender (under the caller's pad lock); `open_carried` opens
a frame and, if it is a carrier, the frame inside it; `carried_bucket` is the body size of a
frame that fits in a carrier of a given cover bucket.
"""

from __future__ import annotations

import time

from custody.errors import FrameRejected, UsageError
from custody.pad import frame
from custody.pad.keyed import KeyedStream
from custody.pad.pad_copy import PadCopy

DEFAULT_KEY_PERIOD = 10.0  # seconds of cover traffic under one key
MIN_KEY_PERIOD = 1.0
MAX_KEY_PERIOD = 86400.0
CARRIER_OVERHEAD = frame.INNER_LEN + frame.OVERHEAD  # a carried frame's room in a carrier


def carried_bucket(cover_bucket: int) -> int:
    """The largest frame body that travels inside a carrier of `cover_bucket`."""
    fits = [b for b in frame.BUCKETS if b + CARRIER_OVERHEAD <= cover_bucket]
    if not fits:
        raise UsageError(
            f"pad-keyed cover traffic needs a cover bucket of at least "
            f"{frame.BUCKETS[0] + CARRIER_OVERHEAD} bytes to carry a question or an answer "
            f"(got {cover_bucket}); use --cover-bucket 384 or more"
        )
    return fits[-1]


def can_carry(cover_bucket: int) -> bool:
    """A carrier of this bucket holds a frame: pad-keyed cover is possible with it (below, cover
    stays one-time pad: more pad, never a weaker guarantee)."""
    return frame.BUCKETS[0] + CARRIER_OVERHEAD <= cover_bucket


def check_key_period(seconds: float) -> float:
    if not MIN_KEY_PERIOD <= seconds <= MAX_KEY_PERIOD:
        raise UsageError(
            f"cover key period must be from {MIN_KEY_PERIOD:g} to {MAX_KEY_PERIOD:g} seconds"
        )
    return seconds


class CoverStream:
    """The slots of one sender's pad-keyed cover traffic. Used under the copy's lock."""

    def __init__(self, copy: PadCopy, bucket: int, key_period: float = DEFAULT_KEY_PERIOD):
        carried_bucket(bucket)  # refuse a bucket too small to carry anything, up front
        self.copy, self.bucket, self.key_period = copy, bucket, check_key_period(key_period)
        self.stream = KeyedStream(copy)
        self._key_since = 0.0

    def seal_slot(self, carried: bytes | None) -> bytes:
        """A cover frame, or a carrier of the sealed frame `carried`, under this period's key
        (a new key, 32 pad bytes, once the period is over)."""
        now = time.monotonic()
        if self.stream.needs_key or now - self._key_since >= self.key_period:
            self.stream.rotate()
            self._key_since = now
        if carried is None:
            return frame.seal(
                self.copy, frame.Kind.COVER, b"", conceal=True, body_len=self.bucket,
                stream=self.stream,
            )  # fmt: skip
        return frame.seal(
            self.copy, frame.Kind.CARRIER, carried, conceal=True, body_len=self.bucket,
            stream=self.stream,
        )  # fmt: skip

    @property
    def pad_bytes(self) -> int:
        return self.stream.pad_bytes


class CarriedRejected(FrameRejected):
    """The frame inside an authentic carrier was refused; `frame` is its bytes (for replay
    handling, which looks retransmissions up by the carried frame's digest)."""

    def __init__(self, inner: FrameRejected, carried: bytes) -> None:
        super().__init__(inner.reason, inner.message)
        self.frame = carried


def open_carried(copy: PadCopy, data: bytes) -> tuple[bytes, frame.Message]:
    """Open `data`; if it is a carrier, open the frame it carries too. Returns the frame that
    was meant (the carried one, or `data`) and its message."""
    msg = frame.open_frame(copy, data)
    if msg.kind is not frame.Kind.CARRIER:
        return data, msg
    carried = msg.payload
    try:
        inner = frame.open_frame(copy, carried)
        if inner.kind is frame.Kind.CARRIER:
            raise FrameRejected("bad-inner", "a carrier inside a carrier")
    except FrameRejected as exc:
        raise CarriedRejected(exc, carried) from None
    return carried, inner
