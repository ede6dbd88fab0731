"""The gateway's facility→workstation (f2w) direction: sealing frames and putting them on the wire.

`F2WSender` seals a frame under its lane's lock (refusing once the pad is suspended) and
publishes it: at once, or under cover traffic into the lane's slot queue, which `run_cover` empties
at a constant rate, filling every slot that has no frame waiting with a COVER frame of the same
size (seal, threat 4). It also prices a frame (`frame_cost`), so that the answer can be budgeted
against the region (custody.link.answering). `custody.link.gateway.Gateway` owns the thread that
runs `run_cover`; the lanes are custody.link.lane's.

A pad-keyed answer is sealed under its own `KeyedStream` (the answerer's); on a lane whose policy
allows pad-keyed cover (custody.link.carrier) every slot is sealed under the lane's cover key
period, and answer frames go out inside carriers, so they are sealed at the carried size.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter

from custody.errors import PadExhaustedError, RedDoorError
from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.carrier import DEFAULT_KEY_PERIOD, CoverStream, can_carry, carried_bucket
from custody.link.lane import Lane
from custody.link.messages import CoverCost
from custody.link.zenoh_transport import Transport
from custody.pad import frame, keyed
from custody.pad.frame_policy import FrameMode
from custody.pad.keyed import KeyedStream
from custody.pad.manifest import Direction

log = logging.getLogger(__name__)


class Exhausted(Exception):
    """The answer stops here: the region has no room for the frame, or the pad was suspended."""


def frame_range(data: bytes) -> tuple[int, int] | None:
    """The pad range (offset, length) a sealed frame consumed, for the query's record; None for
    a pad-keyed frame under a key an earlier frame took (it consumed nothing of its own)."""
    h = frame.parse_header(data)
    if h.mode is FrameMode.PAD_KEYED and h.key_index:
        return None
    return h.offset, h.range_len


class F2WSender:
    def __init__(
        self,
        transport: Transport,
        cover: CoverCost | None,
        *,
        lanes: dict[bytes, Lane],
        stats: Counter[str],
        stopping: threading.Event,
        key_period: float = DEFAULT_KEY_PERIOD,
    ) -> None:
        self.transport = transport
        self.cover = cover  # rate and bucket (the one-time pad cost; pad-keyed lanes cost less)
        self.key_period = key_period
        # Too small to carry a frame: one-time pad cover on every lane (carrier.can_carry).
        self._carried = (
            carried_bucket(cover.bucket) if cover is not None and can_carry(cover.bucket) else None
        )
        self.lanes = lanes  # the gateway's, filled when it starts
        self.stats = stats
        self.stopping = stopping

    def keyed_cover(self, lane: Lane) -> bool:
        """This lane's cover slots are pad-keyed (and carry the answer frames)."""
        return (
            self.cover is not None
            and self._carried is not None
            and lane.copy.frame_policy.keyed_cover
        )

    def body_len(self, lane: Lane) -> int | None:
        if self.cover is None:
            return None
        return self._carried if self.keyed_cover(lane) else self.cover.bucket

    def max_payload(self, lane: Lane) -> int:
        size = self.body_len(lane)
        return frame.MAX_PAYLOAD if size is None else size - frame.INNER_LEN

    def frame_cost(self, lane: Lane, payload_len: int, stream: KeyedStream | None = None) -> int:
        """Pad bytes the next frame with this payload consumes (under `stream`: a key, when
        the stream needs one; nothing else)."""
        if stream is not None:
            return keyed.KEY_LEN if stream.needs_key else 0
        size = self.body_len(lane)
        if size is not None:
            return frame.KEY_LEN + size
        return link_messages.frame_cost(payload_len)

    def seal(
        self,
        lane: Lane,
        kind: frame.Kind,
        payload: bytes,
        qid: bytes,
        seq: int,
        stream: KeyedStream | None = None,
    ) -> bytes:
        with lane.lock:
            if lane.suspended:
                raise Exhausted("suspended")
            final = kind is not frame.Kind.ANSWER_CHUNK
            size = self.body_len(lane)
            if size is not None:
                return frame.seal(
                    lane.copy,
                    kind,
                    payload[: size - frame.INNER_LEN],
                    msg_id=qid,
                    seq=seq,
                    final=final,
                    conceal=not self.keyed_cover(lane),  # a carried frame is hidden anyway
                    body_len=size,
                    stream=stream,
                )
            return frame.seal(
                lane.copy, kind, payload, msg_id=qid, seq=seq, final=final, stream=stream
            )

    def publish(self, lane: Lane, data: bytes) -> None:
        if self.cover is not None:
            lane.slots.put(data)  # sent in the next slot, indistinguishable from cover
        else:
            self.transport.publish(link_keys.frame_key(lane.pad_id, Direction.F2W), data)

    def _slot(self, lane: Lane, real: bytes | None) -> bytes:
        """What goes out in this lane's slot: the real frame as is (one-time pad cover), or a
        cover frame or carrier under the lane's cover key period (pad-keyed cover)."""
        assert self.cover is not None
        with lane.lock:
            if not self.keyed_cover(lane):
                return real if real is not None else frame.seal_cover(lane.copy, self.cover.bucket)
            if lane.cover_stream is None:
                lane.cover_stream = CoverStream(lane.copy, self.cover.bucket, self.key_period)
            return lane.cover_stream.seal_slot(real)

    def run_cover(self) -> None:
        """One slot per lane every 1/rate s until the gateway stops (its own thread)."""
        assert self.cover is not None
        interval = 1.0 / self.cover.rate
        exhausted: set[bytes] = set()
        next_at = time.monotonic()
        while not self.stopping.wait(max(0.0, next_at - time.monotonic())):
            next_at += interval
            for lane in list(self.lanes.values()):
                if lane.suspended:
                    continue
                try:
                    real: bytes | None = lane.slots.get_nowait()
                except queue.Empty:
                    if lane.pad_id in exhausted:
                        continue
                    real = None
                try:
                    data = self._slot(lane, real)
                except PadExhaustedError:
                    exhausted.add(lane.pad_id)
                    log.warning(
                        "pad %s: cover traffic stopped, pad exhausted", lane.pad_id.hex()[:8]
                    )
                    continue
                if real is None:
                    self.stats["cover-sent"] += 1
                    lane.count("cover-sent")
                key = link_keys.frame_key(lane.pad_id, Direction.F2W)
                try:
                    self.transport.publish(key, data, droppable=True)
                except RedDoorError as exc:
                    log.warning("cover slot not sent: %s", exc.message)
