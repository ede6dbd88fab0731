"""One query's frames at the workstation: the question sealed up front, the answer put in order.

Out: `split_question` cuts the encoded question (custody.link.messages) into QUERY payloads,
`question_cost` prices them in pad bytes, `seal_question` checks that the whole question and room
for an answer fit, then seals every fragment (under the client's pad lock) before any is sent.

In: `custody.link.workstation.WorkstationClient` opens each frame from the facility
(authentication, replay refusal) and hands those of the query it waits for to its
`PendingAnswer`, which holds frames that arrive early and releases answer text only in seq order.
The terminal frame ends it: ANSWER_END, or ERROR and PAD_EXHAUSTED, raised as the error the user
sees (docs/protocol.md).

`bucket` is the size every fragment must have when cover traffic is on (with one-time pad cover
each fragment fills a slot, concealed; with pad-keyed cover each travels inside a carrier), else
None. `mode` is the question's frame mode (its pad's policy decides it, custody.pad.frame_policy):
a pad-keyed question is sealed under one key, 32 pad bytes for all its fragments.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from custody.errors import (
    AnswerInterruptedError,
    BackendError,
    FacilityPadExhaustedError,
    FrameRejected,
    LinkError,
    PadExhaustedError,
)
from custody.link import messages as link_messages
from custody.pad import frame, keyed
from custody.pad.frame_policy import FrameMode
from custody.pad.keyed import KeyedStream
from custody.pad.pad_copy import PadCopy


# -- the question ----------------------------------------------------------------------------
def split_question(body: bytes, bucket: int | None) -> list[bytes]:
    size = frame.MAX_PAYLOAD
    if bucket is not None:
        size = bucket - frame.INNER_LEN
    return link_messages.split(body, size)


def question_cost(parts: list[bytes], bucket: int | None, mode: FrameMode = FrameMode.OTP) -> int:
    """Pad bytes the fragments `parts` consume."""
    if mode is FrameMode.PAD_KEYED:  # one key per 65,536 fragments
        return frame.KEY_LEN * -(-len(parts) // keyed.MAX_FRAMES)
    if bucket is not None:  # every fragment has the one bucket
        return len(parts) * (frame.KEY_LEN + bucket)
    return sum(link_messages.frame_cost(len(p)) for p in parts)


def seal_question(
    copy: PadCopy,
    pad_lock: threading.Lock,
    query_id: bytes,
    parts: list[bytes],
    bucket: int | None,
    mode: FrameMode = FrameMode.OTP,
    *,
    conceal: bool = False,
) -> list[bytes]:
    need = question_cost(parts, bucket, mode)
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
        stream = KeyedStream(copy) if mode is FrameMode.PAD_KEYED else None
        return [
            frame.seal(
                copy,
                frame.Kind.QUERY,
                part,
                msg_id=query_id,
                seq=i,
                final=i == len(parts) - 1,
                conceal=conceal,
                body_len=bucket,
                stream=stream,
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
    # The question's mode, and what decides it (its encoded size, its classification label).
    mode: FrameMode = FrameMode.OTP
    body_len: int = 0
    label: str | None = None
    # The answer modes this workstation's policy accepts for this question, and those seen.
    accepted_modes: frozenset[FrameMode] = frozenset(FrameMode)
    modes: set[FrameMode] = field(default_factory=set)

    @property
    def answer_mode(self) -> FrameMode | None:
        """The answer's guarantee: pad-keyed if any of its frames was (None: no frame yet)."""
        if not self.modes:
            return None
        return FrameMode.PAD_KEYED if FrameMode.PAD_KEYED in self.modes else FrameMode.OTP

    def take(self, msg: frame.Message, deliver: Callable[[bytes], None]) -> None:
        """Add an authentic frame of this query; deliver what is now in order."""
        if msg.mode not in self.accepted_modes:
            # Authentic, but in a mode this question's policy forbids (its classification is
            # one-time pad only): nothing of it is shown.
            raise FrameRejected(
                "policy",
                f"{frame.POLICY_REFUSAL}: the facility answered pad-keyed a question whose "
                "policy allows one-time pad frames only; nothing of the answer was shown",
            )
        self.modes.add(msg.mode)
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


def _facility_error(payload: bytes) -> LinkError | FrameRejected:
    text = payload.decode("utf-8", "replace")[:300].replace("\n", " ")
    if text.startswith("policy:"):
        return FrameRejected("policy", f"the facility refused the question: {text[7:].strip()}")
    if text.startswith("restart:"):
        return AnswerInterruptedError(f"the facility reports: {text[8:].strip()}")
    return BackendError(f"the facility reports: {text}")
