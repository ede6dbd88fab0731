"""The gateway's facility→workstation (f2w) direction: sealing frames and putting them on the wire.

`F2WSender` seals a frame under its lane's lock (refusing once the pad is suspended) and
publishes it: at once, or under cover traffic into the lane's slot queue, which `run_cover` empties
at a constant rate, filling every slot that has no frame waiting with a COVER frame of the same
size (seal, threat 4). It also prices a frame (`frame_cost`), so that the answer can be budgeted
against the region (custody.link.answering). `custody.link.gateway.Gateway` owns the thread that
runs `run_cover`; the lanes are custody.link.lane's.
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
from custody.link.lane import Lane
from custody.link.messages import CoverCost
from custody.link.zenoh_transport import Transport
from custody.pad import frame
from custody.pad.manifest import Direction

log = logging.getLogger(__name__)


class Exhausted(Exception):
    """The answer stops here: the region has no room for the frame, or the pad was suspended."""


def frame_range(data: bytes) -> tuple[int, int]:
    """The pad range (offset, length) a sealed frame consumed, for the query's record."""
    h = frame.parse_header(data)
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
    ) -> None:
        self.transport = transport
        self.cover = cover
        self.max_payload = frame.MAX_PAYLOAD if cover is None else cover.bucket - frame.INNER_LEN
        self.lanes = lanes  # the gateway's, filled when it starts
        self.stats = stats
        self.stopping = stopping

    def frame_cost(self, payload_len: int) -> int:
        if self.cover is not None:
            return self.cover.frame_bytes
        return link_messages.frame_cost(payload_len)

    def seal(self, lane: Lane, kind: frame.Kind, payload: bytes, qid: bytes, seq: int) -> bytes:
        with lane.lock:
            if lane.suspended:
                raise Exhausted("suspended")
            final = kind is not frame.Kind.ANSWER_CHUNK
            if self.cover is not None:
                return frame.seal(
                    lane.copy,
                    kind,
                    payload[: self.max_payload],
                    msg_id=qid,
                    seq=seq,
                    final=final,
                    conceal=True,
                    body_len=self.cover.bucket,
                )
            return frame.seal(lane.copy, kind, payload, msg_id=qid, seq=seq, final=final)

    def publish(self, lane: Lane, data: bytes) -> None:
        if self.cover is not None:
            lane.slots.put(data)  # sent in the next slot, indistinguishable from cover
        else:
            self.transport.publish(link_keys.frame_key(lane.pad_id, Direction.F2W), data)

    def run_cover(self) -> None:
        """One slot per lane every 1/rate s until the gateway stops (its own thread)."""
        assert self.cover is not None
        interval, bucket = 1.0 / self.cover.rate, self.cover.bucket
        exhausted: set[bytes] = set()
        next_at = time.monotonic()
        while not self.stopping.wait(max(0.0, next_at - time.monotonic())):
            next_at += interval
            for lane in list(self.lanes.values()):
                if lane.suspended:
                    continue
                try:
                    data = lane.slots.get_nowait()
                except queue.Empty:
                    if lane.pad_id in exhausted:
                        continue
                    try:
                        with lane.lock:
                            data = frame.seal_cover(lane.copy, bucket)
                    except PadExhaustedError:
                        exhausted.add(lane.pad_id)
                        log.warning(
                            "pad %s: cover traffic stopped, pad exhausted", lane.pad_id.hex()[:8]
                        )
                        continue
                    self.stats["cover-sent"] += 1
                    lane.count("cover-sent")
                key = link_keys.frame_key(lane.pad_id, Direction.F2W)
                try:
                    self.transport.publish(key, data, droppable=True)
                except RedDoorError as exc:
                    log.warning("cover slot not sent: %s", exc.message)
