"""One query's frames at the workstation: the question sealed up front, the answer put in order.

Out: `split_question` cuts the encoded question (custody.link.messages) into QUERY payloads,
`question_cost` prices them in pad bytes, `seal_question` checks that the whole question and room
for an answer fit, then seals every fragment (under the client's pad lock) before any is sent.

In: `custody.link.workstation.WorkstationClient` opens each frame from the facility
(authentication, replay refusal) and hands those of the query it waits for to its
`PendingAnswer`, which holds frames that arrive early and releases answer text only in seq order.
The terminal frame ends it: ANSWER_END, or ERROR and PAD_EXHAUSTED, raised as the error the user
sees (docs/protocol.md).

`bucket` is the cover traffic's frame size when cover is on (every fragment then fills one slot),
else None.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from custody.errors import (
    AnswerInterruptedError,
    BackendError,
    FacilityPadExhaustedError,
    LinkError,
    PadExhaustedError,
)
from custody.link import messages as link_messages
from custody.pad import frame
from custody.pad.pad_copy import PadCopy


# -- the question ----------------------------------------------------------------------------
def split_question(body: bytes, bucket: int | None) -> list[bytes]:
    size = frame.MAX_PAYLOAD
    if bucket is not None:
        size = bucket - frame.INNER_LEN
    return link_messages.split(body, size)


def question_cost(parts: list[bytes], bucket: int | None) -> int:
    """Pad bytes the fragments `parts` consume."""
    if bucket is not None:  # every fragment fills a cover slot of one bucket
        return len(parts) * (frame.KEY_LEN + bucket)
    return sum(link_messages.frame_cost(len(p)) for p in parts)


def seal_question(
    copy: PadCopy,
    pad_lock: threading.Lock,
    query_id: bytes,
    parts: list[bytes],
    bucket: int | None,
) -> list[bytes]:
    need = question_cost(parts, bucket)
    with pad_lock:
        answer_room = copy.remaining_receive()
        if answer_room < 2 * link_messages.frame_cost(0):
            raise FacilityPadExhaustedError(
                "pad exhausted: the facility→workstation region has no room left for an "
                "answer; nothing was sent; use a new pad"
            )
        left = copy.remaining_send()
        if need > left:
            # Checked up front so that no fragment is sealed for a query that cannot go.
            raise PadExhaustedError(
                f"pad exhausted: this question needs {need} pad bytes, the "
                f"workstation→facility region has {left} left; use a new pad"
            )
        return [
            frame.seal(
                copy,
                frame.Kind.QUERY,
                part,
                msg_id=query_id,
                seq=i,
                final=i == len(parts) - 1,
                conceal=bucket is not None,
                body_len=bucket,
            )
            for i, part in enumerate(parts)
        ]


# -- the answer ------------------------------------------------------------------------------
@dataclass
class PendingAnswer:
    """What ask() waits for: ordered answer frames of one query id."""

    query_id: bytes
    frames: list[bytes]  # the question's sealed frames, as sent (and retransmitted)
    next_seq: int = 0
    held: dict[int, frame.Message] = field(default_factory=dict)
    started: bool = False
    done: bool = False
    f2w_bytes: int = 0
    answer_frames: int = 0

    def take(self, msg: frame.Message, deliver: Callable[[bytes], None]) -> None:
        """Add an authentic frame of this query; deliver what is now in order."""
        self.started = True
        self.answer_frames += 1
        self.f2w_bytes += msg.range_len
        self.held[msg.seq] = msg
        while self.next_seq in self.held:
            m = self.held.pop(self.next_seq)
            self.next_seq += 1
            if m.kind in (frame.Kind.ANSWER_CHUNK, frame.Kind.ANSWER_END):
                deliver(m.payload)
            if m.kind is frame.Kind.ANSWER_END:
                self.done = True
            elif m.kind is frame.Kind.ERROR:
                raise _facility_error(m.payload)
            elif m.kind is frame.Kind.PAD_EXHAUSTED:
                raise FacilityPadExhaustedError(
                    "pad exhausted: the facility→workstation region of this pad has run out "
                    "(the answer was cut off); use a new pad"
                )


def _facility_error(payload: bytes) -> LinkError:
    text = payload.decode("utf-8", "replace")[:300].replace("\n", " ")
    if text.startswith("restart:"):
        return AnswerInterruptedError(f"the facility reports: {text[8:].strip()}")
    return BackendError(f"the facility reports: {text}")
