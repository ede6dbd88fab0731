"""The gateway answers a question: backend text into sealed frames, budgeted against the pad.

`Answerer.answer` runs on a backend worker thread (or on the frame worker for an inline backend):
backend text is coalesced into ANSWER_CHUNK frames (flushed at `chunk_bytes` or after
`flush_interval` since the last frame), closed by ANSWER_END carrying the remainder. Each frame is
budgeted against the facility→workstation region; when the next one would not leave room for the
end frame, the gateway sends what fits and then a PAD_EXHAUSTED frame from the region's reserve.
A backend error closes the answer with an ERROR frame. Every frame sent is kept in the answer
cache first, for byte-identical resends (custody.link.assembly).

Frame modes (custody.pad.frame_policy): a pad-keyed question is first checked against the pad's
policy (refused, unanswered, when the workstation chose pad-keyed where the policy does not let it:
its size or classification); the answer is one-time pad or pad-keyed as the policy says for the
question's classification, all of it under one `KeyedStream` when pad-keyed.

The lane's lock is held only for a seal (custody.link.f2w_sender) or a skip, never across a
backend call. `ActiveQuestions` is what custody.link.assembly asks to tell a question being
answered from one lost in a restart.
"""

from __future__ import annotations

import logging
import threading
import time

from custody.errors import BackendError, FrameRejected, PadExhaustedError
from custody.link import messages as link_messages
from custody.link.answer_cache import AnswerCache
from custody.link.backends import Backend
from custody.link.chronicle import Chronicle, QueryRecord
from custody.link.f2w_sender import Exhausted, F2WSender, frame_range
from custody.link.lane import Lane
from custody.link.observer import (
    ANSWERED,
    BACKEND_ERROR,
    REFUSED,
    LinkObserver,
    query_count_key,
)
from custody.pad import frame, keyed
from custody.pad.frame_policy import FrameMode
from custody.pad.keyed import KeyedStream

log = logging.getLogger(__name__)

MAX_SKIP = 4 << 20  # at most this many pad bytes are skipped on a peer's word
END_COST = frame.KEY_LEN + frame.BUCKETS[0]  # the smallest frame: room kept for ANSWER_END


class ActiveQuestions:
    """Questions whole and being answered in this process, as (pad id, query id), under a lock."""

    def __init__(self) -> None:
        self._active: set[tuple[bytes, bytes]] = set()
        self._lock = threading.Lock()

    def add(self, pad_id: bytes, qid: bytes) -> None:
        with self._lock:
            self._active.add((pad_id, qid))

    def discard(self, pad_id: bytes, qid: bytes) -> None:
        with self._lock:
            self._active.discard((pad_id, qid))

    def contains(self, pad_id: bytes, qid: bytes) -> bool:
        with self._lock:
            return (pad_id, qid) in self._active


class Answerer:
    def __init__(
        self,
        sender: F2WSender,
        backend: Backend,
        cache: AnswerCache,
        *,
        chronicle: Chronicle | None,
        active: ActiveQuestions,
        stopping: threading.Event,
        chunk_bytes: int,
        flush_interval: float,
        observer: LinkObserver | None = None,
    ) -> None:
        self.sender = sender
        self.backend = backend
        self.cache = cache
        self.chronicle = chronicle
        self.active = active
        self.stopping = stopping
        self.chunk_bytes = chunk_bytes
        self.flush_interval = flush_interval
        self.observer = observer or LinkObserver()

    def _emit(self, lane: Lane, qid: bytes, rec: QueryRecord, data: bytes, end: bool) -> None:
        self.cache.append(lane.pad_id, qid, data, end=end)
        self.sender.publish(lane, data)
        rec.answer_frames += 1
        used = frame_range(data)
        if used is not None:
            rec.f2w_ranges.append(used)
        mode = frame.parse_header(data).mode
        if rec.answer_mode is None or mode is FrameMode.PAD_KEYED:
            rec.answer_mode = mode.word  # the answer is pad-keyed if any of its frames is

    def answer(
        self, lane: Lane, qid: bytes, body: bytes, rec: QueryRecord, *, whole: float | None = None
    ) -> None:
        """Answer one whole question (`whole`: when it became whole, time.monotonic(); the
        answer latency of the metrics counts from there, queueing for a worker included)."""
        t0 = time.monotonic()
        backend_s = 0.0  # time spent inside the backend's stream (its latency, not ours)
        in_backend = False
        seq = 0
        buf = b""
        last_flush = t0
        stream: KeyedStream | None = None  # the answer's key, when it is pad-keyed
        limit = min(self.chunk_bytes, self.sender.max_payload(lane))

        def send(kind: frame.Kind, payload: bytes) -> None:
            nonlocal seq
            with lane.lock:
                left = lane.copy.remaining_send()
            need = self.sender.frame_cost(lane, len(payload), stream)
            # Room kept for the frame that ends the answer (a pad-keyed one needs at most a
            # new key; counted whole, so a key running out never strands the answer).
            end_cost = keyed.KEY_LEN if stream is not None else self.sender.frame_cost(lane, 0)
            room = left - (end_cost if kind is frame.Kind.ANSWER_CHUNK else 0)
            if need > room:
                fit = -1
                if stream is None and self.sender.body_len(lane) is None:
                    fit = link_messages.largest_payload(left - end_cost)
                if fit > 0 and payload:
                    head, _ = link_messages.split_text(payload, fit)
                    self._emit(
                        lane,
                        qid,
                        rec,
                        self.sender.seal(lane, frame.Kind.ANSWER_CHUNK, head, qid, seq),
                        False,
                    )
                    rec.answer_bytes += len(head)
                    seq += 1
                raise Exhausted
            self._emit(
                lane,
                qid,
                rec,
                self.sender.seal(lane, kind, payload, qid, seq, stream),
                kind is not frame.Kind.ANSWER_CHUNK,
            )
            rec.answer_bytes += len(payload)
            seq += 1
            if rec.first_answer_ms is None:
                rec.first_answer_ms = round((time.monotonic() - t0) * 1000, 3)

        try:
            try:
                q = link_messages.decode_query(body)
            except ValueError:
                raise BackendError("the question was malformed") from None
            rec.classification = q.classification
            policy = lane.copy.frame_policy
            if rec.question_mode == FrameMode.PAD_KEYED.word and not policy.question_allowed(
                FrameMode.PAD_KEYED, len(body), q.classification
            ):
                self._refuse_by_policy(lane, qid, rec, policy.describe())
                return
            if policy.answer_mode(q.classification) is FrameMode.PAD_KEYED:
                stream = KeyedStream(lane.copy)
            with lane.lock:
                skipped = link_messages.skip_send_to(lane.copy, q.f2w_floor, MAX_SKIP)
            if skipped:
                log.info("skipped %d f2w pad bytes up to the workstation's floor", skipped)
            in_backend = True
            backend_stream = iter(self.backend.stream(q.question, classification=q.classification))
            while True:
                b0 = time.monotonic()
                try:
                    piece = next(backend_stream)
                except StopIteration:
                    break
                finally:
                    backend_s += time.monotonic() - b0
                if lane.suspended or self.stopping.is_set():
                    rec.outcome = "suspended"
                    return
                buf += piece.encode("utf-8")
                now = time.monotonic()
                while len(buf) >= limit or (buf and now - last_flush >= self.flush_interval):
                    head, buf = link_messages.split_text(buf, limit)
                    send(frame.Kind.ANSWER_CHUNK, head)
                    last_flush = now
            in_backend = False
            self.observer.backend_finished(backend_s, failed=False)
            while len(buf) > self.sender.max_payload(lane):
                head, buf = link_messages.split_text(buf, self.sender.max_payload(lane))
                send(frame.Kind.ANSWER_CHUNK, head)
            send(frame.Kind.ANSWER_END, buf)
            rec.outcome = "answered"
        except BackendError as exc:
            rec.outcome = "error"
            if in_backend:
                self.observer.backend_finished(backend_s, failed=True)
            log.warning("backend error for pad %s: %s", lane.pad_id.hex()[:8], exc.message)
            while buf:
                head, buf = link_messages.split_text(buf, limit)
                try:
                    send(frame.Kind.ANSWER_CHUNK, head)
                except (Exhausted, PadExhaustedError):
                    self._exhausted(lane, qid, rec, seq, stream)
                    return
            self.answer_error(lane, qid, rec, exc.message, seq, stream)
        except (Exhausted, PadExhaustedError):
            if not lane.suspended:
                self._exhausted(lane, qid, rec, seq, stream)
        except FrameRejected:
            # The pad's policy was made stricter while this answer was pad-keyed: it stops.
            self._refuse_by_policy(
                lane, qid, rec, "changed while answering; the answer is incomplete", seq
            )
        finally:
            self.active.discard(lane.pad_id, qid)
            end = time.monotonic()
            rec.total_ms = round((end - t0) * 1000, 3)
            self._count(lane, rec, backend_failed=in_backend)
            if rec.outcome == "answered":
                self.observer.answer_finished(end - (t0 if whole is None else whole))
            rec.finished_at = time.time()
            if self.chronicle is not None:
                self.chronicle.record_query(rec)

    def _refuse_by_policy(
        self, lane: Lane, qid: bytes, rec: QueryRecord, why: str, seq: int = 0
    ) -> None:
        """Close a question with a one-time pad ERROR frame the workstation reports as refused by
        policy (exit 7): pad-keyed where the pad's policy did not allow it."""
        log.warning("pad %s: %s (policy %s)", lane.pad_id.hex()[:8], frame.POLICY_REFUSAL, why)
        self.answer_error(lane, qid, rec, f"policy: {frame.POLICY_REFUSAL} ({why})", seq)
        rec.outcome = "refused-by-policy"

    @staticmethod
    def _count(lane: Lane, rec: QueryRecord, *, backend_failed: bool) -> None:
        """The question's outcome for the metrics: answered, the backend failed (an ERROR frame
        went out), or refused (not answered for any other reason: malformed, pad exhausted,
        pad suspended, the gateway stopping)."""
        if rec.outcome == "answered":
            outcome = ANSWERED
        elif rec.outcome == "error" and backend_failed:
            outcome = BACKEND_ERROR
        else:
            outcome = REFUSED
        lane.count(query_count_key(outcome))

    def answer_error(
        self,
        lane: Lane,
        qid: bytes,
        rec: QueryRecord,
        text: str,
        seq: int,
        stream: KeyedStream | None = None,
    ) -> None:
        rec.outcome = "error"
        payload = text.encode("utf-8")[:1000]
        try:
            self._emit(
                lane,
                qid,
                rec,
                self.sender.seal(lane, frame.Kind.ERROR, payload, qid, seq, stream),
                True,
            )
        except (Exhausted, PadExhaustedError):
            self._exhausted(lane, qid, rec, seq, stream)

    def _exhausted(
        self, lane: Lane, qid: bytes, rec: QueryRecord, seq: int, stream: KeyedStream | None = None
    ) -> None:
        rec.outcome = "pad-exhausted"
        log.warning("pad %s: facility→workstation region exhausted", lane.pad_id.hex()[:8])
        # Under the answer's key while it has one (no pad); else one-time pad, from the reserve.
        keep = stream if stream is not None and not stream.needs_key else None
        try:
            data = self.sender.seal(
                lane, frame.Kind.PAD_EXHAUSTED, b"pad exhausted", qid, seq, keep
            )
        except (Exhausted, PadExhaustedError):
            log.error(
                "pad %s: no reserve left even for a pad-exhausted frame", lane.pad_id.hex()[:8]
            )
            return
        self._emit(lane, qid, rec, data, True)
