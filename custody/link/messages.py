"""What travels inside the link's frames: the query body and its fragments.

Query body (the plaintext reassembled from QUERY frames of one message id, in seq order):

    one line of canonical JSON metadata, "\\n", then the question in UTF-8
    metadata: {"v": 1, "classification": <label or null>, "f2w_floor": <offset>}

`f2w_floor` is the lowest facility→workstation offset the workstation still accepts (after a crash
its receive window moved past ranges it may never have seen); the gateway skips its send offset
up to it, so no answer is sealed where the workstation would refuse it as a replay.

Fragments: a body longer than one frame's payload is cut into parts of at most `part_size` bytes;
part i is sealed with seq i, and the last one carries the FINAL flag. Answer frames (ANSWER_CHUNK,
then one terminal ANSWER_END, ERROR or PAD_EXHAUSTED) are numbered the same way, per answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from custody.errors import UsageError
from custody.link import carrier
from custody.pad import frame, keyed
from custody.pad.frame_policy import FrameMode
from custody.pad.pad_copy import PadCopy

MAX_QUERY_BYTES = 4 << 20
# Cover frames per second and direction: 1,000 frames of 1 KiB spend about 90 GB of pad a day.
MAX_COVER_RATE = 1000.0
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class Query:
    question: str
    classification: str | None
    f2w_floor: int = 0  # the workstation accepts answer frames only at or above this offset


def encode_query(question: str, classification: str | None, f2w_floor: int = 0) -> bytes:
    meta = json.dumps(
        {"classification": classification, "f2w_floor": f2w_floor, "v": 1}, sort_keys=True
    )
    return meta.encode() + b"\n" + question.encode("utf-8")


def decode_query(body: bytes) -> Query:
    head, sep, rest = body.partition(b"\n")
    if not sep:
        raise ValueError("query body has no metadata line")
    meta = json.loads(head)
    if not isinstance(meta, dict) or meta.get("v") != 1:
        raise ValueError("unsupported query metadata")
    label = meta.get("classification")
    if label is not None and (not isinstance(label, str) or len(label) > 64):
        raise ValueError("bad classification label")
    floor = meta.get("f2w_floor", 0)
    if not isinstance(floor, int) or floor < 0:
        raise ValueError("bad f2w floor")
    return Query(rest.decode("utf-8"), label, floor)


def split(data: bytes, part_size: int = frame.MAX_PAYLOAD) -> list[bytes]:
    if part_size <= 0:
        raise ValueError("part size must be positive")
    return [data[i : i + part_size] for i in range(0, len(data), part_size)] or [b""]


def split_text(text: bytes, limit: int) -> tuple[bytes, bytes]:
    """Cut UTF-8 `text` at most `limit` bytes in, on a character boundary."""
    if len(text) <= limit:
        return text, b""
    cut = limit
    while cut > 0 and (text[cut] & 0xC0) == 0x80:
        cut -= 1
    if cut == 0:
        cut = limit
    return text[:cut], text[cut:]


def frame_cost(payload_len: int) -> int:
    """Pad bytes one frame with this payload consumes."""
    return frame.KEY_LEN + frame.bucket_for(frame.INNER_LEN + payload_len)


def largest_payload(budget: int) -> int:
    """The largest payload whose frame fits in `budget` pad bytes (-1 if none)."""
    best = -1
    for size in frame.BUCKETS:
        if frame.KEY_LEN + size <= budget:
            best = size - frame.INNER_LEN
    return best


def next_send_offset(copy: PadCopy) -> int:
    return copy.send_region.usable_end - copy.remaining_send()


def receive_floor(copy: PadCopy) -> int:
    """Lowest offset of the receive region this copy would still accept."""
    return copy.receive_high()


def skip_send_to(copy: PadCopy, floor: int, limit: int) -> int:
    """Advance the send offset to `floor` (never more than `limit` bytes); bytes skipped."""
    gap = min(floor - next_send_offset(copy), limit, copy.remaining_send())
    if gap <= 0:
        return 0
    offset = copy.reserve_send(gap)
    copy.zeroize(offset, gap)
    return gap


@dataclass
class CoverCost:
    """What cover traffic in one direction costs in pad. One-time pad cover: every frame
    `frame_bytes` (32 + bucket). Pad-keyed cover (`keyed`): 32 pad bytes per key period of
    `key_period` seconds (or per 65,536 frames, whichever comes first); a real message it carries
    costs what its own mode costs."""

    rate: float
    bucket: int
    frame_bytes: int  # pad bytes per cover frame: 32 + bucket (one-time pad), 0 (pad-keyed)
    bytes_per_day: int
    days_left: float | None
    remaining: int | None = None  # pad bytes left in the sender's region, if known
    keyed: bool = False
    key_period: float | None = None  # pad-keyed: seconds of cover under one 32-byte key

    @property
    def pad_per_second(self) -> float:
        if self.keyed:
            assert self.key_period is not None
            return frame.KEY_LEN * max(1.0 / self.key_period, self.rate / keyed.MAX_FRAMES)
        return self.rate * self.frame_bytes

    @property
    def guarantee(self) -> str:
        return (FrameMode.PAD_KEYED if self.keyed else FrameMode.OTP).guarantee

    @property
    def bytes_per_minute(self) -> int:
        return int(60 * self.pad_per_second)

    @property
    def lasts_seconds(self) -> float | None:
        """How long the region's remaining bytes last at this rate (cover alone)."""
        if self.remaining is None:
            return None
        return self.remaining / self.pad_per_second

    def _what(self) -> str:
        if self.keyed:
            return (
                f"cover traffic: {self.rate:g} frames/s of {self.bucket:,}-byte bodies, "
                f"{self.guarantee}: one {frame.KEY_LEN}-byte key every "
                f"{duration_text(min(self.key_period or 0.0, keyed.MAX_FRAMES / self.rate))} = "
            )
        return f"cover traffic: {self.rate:g} frames/s of {self.frame_bytes:,} pad bytes each = "

    def render_budget(self, region: str) -> str:
        """The cost as shown before cover is enabled: per minute, per day, and how long what is
        left of `region` (e.g. "workstation→facility") lasts at this rate."""
        text = (
            self._what() + f"{self.bytes_per_minute:,} pad bytes/min, "
            f"{self.bytes_per_day:,} pad bytes/day"
        )
        lasts = self.lasts_seconds
        if self.remaining is not None and lasts is not None:
            text += (
                f"; the {self.remaining:,} bytes left in the {region} region last about "
                f"{duration_text(lasts)} at this rate"
            )
        if self.keyed:
            text += "; a question or answer it carries costs its own pad, in its own mode"
        return text

    def render(self) -> str:
        days = (
            "" if self.days_left is None else f"; this pad's questions last {self.days_left:.1f} d"
        )
        if self.keyed:
            return self._what() + f"{self.bytes_per_day:,} pad bytes/day{days}"
        return (
            f"cover traffic: {self.rate:g} frames/s of {self.frame_bytes} pad bytes each = "
            f"{self.bytes_per_day:,} pad bytes/day{days}"
        )


def cover_cost(
    rate: float,
    bucket: int,
    remaining: int | None = None,
    *,
    keyed_period: float | None = None,
) -> CoverCost:
    """Pad bytes per day that cover traffic at `rate` frames/s in `bucket` would consume, in one
    direction. One-time pad cover (`keyed_period` None): every frame on the wire costs
    `frame_bytes`, real or cover. Pad-keyed cover: 32 bytes per `keyed_period` seconds."""
    if bucket not in frame.BUCKETS:
        raise UsageError(f"cover bucket must be one of {frame.BUCKETS[0]}..{frame.BUCKETS[-1]}")
    if not math.isfinite(rate) or not 0 < rate <= MAX_COVER_RATE:
        raise UsageError(
            f"cover rate must be a positive number of frames per second, at most {MAX_COVER_RATE:g}"
        )
    if keyed_period is not None:
        carrier.carried_bucket(bucket)
        carrier.check_key_period(keyed_period)
        cost = CoverCost(rate, bucket, 0, 0, None, remaining, True, keyed_period)
        cost.bytes_per_day = int(cost.pad_per_second * SECONDS_PER_DAY)
        if remaining is not None:
            cost.days_left = remaining / (cost.pad_per_second * SECONDS_PER_DAY)
        return cost
    per = frame.KEY_LEN + bucket
    per_day = int(rate * SECONDS_PER_DAY * per)
    days = None if remaining is None else remaining / (rate * SECONDS_PER_DAY * per)
    return CoverCost(rate, bucket, per, per_day, days, remaining)


def duration_text(seconds: float) -> str:
    """A duration as a person reads it: 45 s, 12 min, 5.5 h, 3.2 days."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 120 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / SECONDS_PER_DAY:,.1f} days"
