"""One pad the gateway serves (a `Lane`), and the questions being put together on it.

A lane is state, not behaviour: `custody.link.gateway.Gateway` creates one per pad when it starts
and hands it to the helpers that act on it (custody.link.assembly, custody.link.answering,
custody.link.f2w_sender, custody.link.receive_mark). Its two locks:

* `lock` guards the `PadCopy` (not thread-safe). It is held only for a seal or an open, never
  across a backend call, so a slow model never holds up another pad or the frame queue.
* `assembly_lock` makes "register the fragment's digest, add it to its question" one step for
  replay handling, and serialises the decision that a question was lost in a restart. Taken
  before `lock`, never after.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from dataclasses import dataclass, field

from custody.link.carrier import CoverStream
from custody.link.chronicle import QueryRecord
from custody.link.zenoh_transport import Subscription
from custody.pad import frame
from custody.pad.frame_policy import FrameMode
from custody.pad.pad_copy import PadCopy


@dataclass
class Assembly:
    """A question being put together from its QUERY fragments. It lives in this process only:
    a restart loses it, and with it the plaintext of the fragments already opened (their pad
    bytes are zeroized), so such a question can never be finished."""

    record: QueryRecord
    parts: dict[int, bytes] = field(default_factory=dict)
    digests: set[bytes] = field(default_factory=set)  # SHA-256 of the fragments' frames
    total: int | None = None
    size: int = 0

    def add(self, msg: frame.Message, digest: bytes) -> None:
        self.digests.add(digest)
        self.record.query_frames += 1
        if msg.range_len:  # 0: a pad-keyed fragment under a key an earlier one consumed
            self.record.w2f_ranges.append((msg.offset, msg.range_len))
        if msg.mode is FrameMode.PAD_KEYED:
            self.record.question_mode = msg.mode.word  # one pad-keyed fragment makes it so
        self.size += len(msg.payload) - len(self.parts.get(msg.seq, b""))
        self.parts[msg.seq] = msg.payload
        if msg.final:
            self.total = msg.seq + 1

    def body(self) -> bytes | None:
        """The whole question, or None while a fragment is missing."""
        if self.total is None or any(i not in self.parts for i in range(self.total)):
            return None
        return b"".join(self.parts[i] for i in range(self.total))


@dataclass
class Lane:
    """One served pad."""

    pad_id: bytes
    copy: PadCopy
    lock: threading.Lock = field(default_factory=threading.Lock)
    suspended: bool = False
    subs: list[Subscription] = field(default_factory=list)
    # Questions being assembled, by query id. `assembly_lock` makes "register the fragment's
    # digest, add it to its question" one step for `on_replay`, and serialises the decision
    # that a question was lost in a restart. Taken before `lock`, never after.
    assembling: dict[bytes, Assembly] = field(default_factory=dict)
    assembly_lock: threading.Lock = field(default_factory=threading.Lock)
    last_resend: dict[bytes, float] = field(default_factory=dict)
    slots: queue.Queue[bytes] = field(default_factory=queue.Queue)  # cover: frames to send
    floor_token: Subscription | None = None  # liveliness hint: our w2f receive high-water mark
    announced_floor: int = -1
    policy_token: Subscription | None = None  # liveliness hint: the frame policy we enforce
    cover_stream: CoverStream | None = None  # pad-keyed cover: this lane's key period
    floor_dirty: bool = False
    # What happened on this pad since start, for the gateway's metrics (custody.link.metrics
    # reads them at scrape time): outcomes of questions, cover frames, answer frames resent.
    # Sizes and counts only, never a range or a byte. Under their own lock: several threads.
    counts: Counter[str] = field(default_factory=Counter)
    counts_lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str, n: int = 1) -> None:
        with self.counts_lock:
            self.counts[what] += n

    def snapshot_counts(self) -> dict[str, int]:
        with self.counts_lock:
            return dict(self.counts)
