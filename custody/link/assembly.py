"""The gateway puts questions together from their fragments, and handles retransmissions.

A question comes as QUERY fragments; `QuestionAssembler.assemble` adds each authentic one to its
`Assembly` (custody.link.lane) and hands the whole question to the answerer
(custody.link.answering): on the frame worker for an inline backend, else through the gateway's
job queue.

A retransmitted query is refused by the pad layer as a replay; its SHA-256 finds the answer frames
already sent, which are published again, byte for byte (the answer cache is on disk, so this
survives a gateway restart; an answer cut off by a restart is closed with an ERROR frame). A
repeated fragment of a question this process is still assembling is neither: it is dropped, and
the question is answered once its other fragments arrive (`on_replay`).

Both run on the gateway's frame workers, under the lane's `assembly_lock`; the lane's `lock` is
taken inside it (for a seal), never the other way round.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import Counter
from collections.abc import Callable

from custody.errors import PadExhaustedError
from custody.link import messages as link_messages
from custody.link.answer_cache import AnswerCache
from custody.link.answering import ActiveQuestions, Answerer
from custody.link.backends import Backend
from custody.link.chronicle import Chronicle, QueryRecord
from custody.link.f2w_sender import Exhausted, F2WSender, frame_range
from custody.link.lane import Assembly, Lane
from custody.link.observer import REFUSED, REPLAYED, query_count_key
from custody.pad import frame
from custody.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

# ERROR frames closing a question that a restart of this gateway cut off (the workstation
# reports them as "answer interrupted", exit 26): before its answer began, or during it.
LOST_BEFORE_ANSWER = (
    b"restart: the facility restarted before answering (while receiving the question); "
    b"the question was not answered; ask again"
)
LOST_MID_ANSWER = (
    b"restart: the facility restarted while answering; the answer is incomplete; ask again"
)


class QuestionAssembler:
    def __init__(
        self,
        name: str,
        backend: Backend,
        cache: AnswerCache,
        *,
        chronicle: Chronicle | None,
        stats: Counter[str],
        rejections: RateLimitedLog,
        sender: F2WSender,
        answerer: Answerer,
        active: ActiveQuestions,
        jobs: queue.Queue[Callable[[], None] | None],
        inline: bool,
        resend_min_interval: float,
    ) -> None:
        self.name = name
        self.backend = backend
        self.cache = cache
        self.chronicle = chronicle
        self.stats = stats
        self.rejections = rejections  # the gateway's: one rate limit for every kind of junk
        self.sender = sender
        self.answerer = answerer
        self.active = active
        self.jobs = jobs
        self.inline = inline
        self.resend_min_interval = resend_min_interval

    def assemble(self, lane: Lane, msg: frame.Message, digest: bytes, received: float) -> None:
        """Add one authentic QUERY fragment to its question; answer once it is whole."""
        qid = msg.msg_id
        with lane.assembly_lock:
            self.cache.register(lane.pad_id, digest, qid)
            if self.cache.progress(lane.pad_id, qid)[1]:
                # Its question was already closed (lost in a restart, refused): a fragment
                # arriving after that can never make it whole again; its retransmissions find
                # the closing frame through the digest just registered.
                self.stats["fragment-after-close"] += 1
                log.info("fragment of a closed question dropped (pad %s)", lane.pad_id.hex()[:8])
                return
            asm = lane.assembling.get(qid)
            if asm is None:
                rec = QueryRecord(
                    qid.hex(), lane.pad_id.hex(), self.name, self.backend.name, received_at=received
                )
                asm = lane.assembling[qid] = Assembly(rec)
            asm.add(msg, digest)
            rec = asm.record
            if asm.size > link_messages.MAX_QUERY_BYTES:
                del lane.assembling[qid]
                log.warning("query over %d bytes refused", link_messages.MAX_QUERY_BYTES)
                self.close_unanswered(lane, qid, rec, "the question is too large; not answered")
                return
            body = asm.body()
            if body is None:
                return
            del lane.assembling[qid]
            rec.query_bytes = len(body)
            # Both under the lock `on_replay` decides under: to it, a question of this process
            # is always assembling, active or closed, never none of them.
            self.active.add(lane.pad_id, qid)
        whole = time.monotonic()
        if self.inline:
            self.answerer.answer(lane, qid, body, rec, whole=whole)
            return
        try:
            self.jobs.put_nowait(lambda: self.answerer.answer(lane, qid, body, rec, whole=whole))
        except queue.Full:
            self.close_unanswered(lane, qid, rec, "the facility is busy; ask again shortly")

    def close_unanswered(self, lane: Lane, qid: bytes, rec: QueryRecord, text: str) -> None:
        """Close a question that will not be answered with an ERROR frame, and record it."""
        self.answerer.answer_error(lane, qid, rec, text, 0)
        self.active.discard(lane.pad_id, qid)
        lane.count(query_count_key(REFUSED))
        rec.finished_at = time.time()
        if self.chronicle is not None:
            self.chronicle.record_query(rec)

    def on_replay(self, lane: Lane, digest: bytes) -> None:
        """A frame refused as already received: the same bytes again, retransmitted by the
        workstation (or replayed by anyone). If it is a fragment of a query, resend that query's
        answer frames so far. The cases, by what this process knows of the query:

        * still assembling, and this fragment is one it holds: wait for the others (a late or
          lost fragment, a full queue); nothing to resend, nothing wrong;
        * answered or answering (its answer closed in the cache, or in `active`): resend;
        * neither: this gateway restarted after consuming part of the question or its answer,
          whose plaintext is gone with the zeroized pad bytes. Close it with an ERROR frame
          `restart: ...` (then resent like any answer), once.
        """
        with lane.assembly_lock:
            qid = self.cache.lookup(lane.pad_id, digest)
            if qid is None:
                # Its range is consumed (journal, or the ledger's marks after a resync) and
                # this host has no answer to resend: refused before any backend call.
                self.stats["replay-unknown"] += 1
                self.rejections.event(
                    "replay",
                    "refused a replayed frame for pad %s: its range was already consumed and "
                    "no answer is cached to resend",
                    lane.pad_id.hex()[:8],
                )
                return
            asm = lane.assembling.get(qid)
            if asm is not None and digest in asm.digests:
                self.stats["replay-while-assembling"] += 1
                return
            now = time.monotonic()
            if now - lane.last_resend.get(qid, 0.0) < self.resend_min_interval:
                return  # a burst of copies of one query: one resend is enough
            lane.last_resend[qid] = now
            # `active` first: an answer leaves it only after its closing frame is cached.
            active = self.active.contains(lane.pad_id, qid)
            sent, ended = self.cache.progress(lane.pad_id, qid)
            if not ended and not active:
                # A fragment consumed before a restart: what this process assembled of the
                # question since (if anything) can never be whole.
                lost = lane.assembling.pop(qid, None)
                if not self._close_lost(lane, qid, sent, lost):
                    return
        frames, _ = self.cache.frames(lane.pad_id, qid)
        self.stats["answers-resent"] += 1
        lane.count(query_count_key(REPLAYED))
        lane.count("frames-resent", len(frames))
        for f in frames:
            self.sender.publish(lane, f)

    def _close_lost(self, lane: Lane, qid: bytes, sent: int, lost: Assembly | None) -> bool:
        """Close a question lost in a restart with an ERROR frame at seq `sent`."""
        try:
            err = self.sender.seal(
                lane, frame.Kind.ERROR, LOST_MID_ANSWER if sent else LOST_BEFORE_ANSWER, qid, sent
            )
        except (Exhausted, PadExhaustedError):
            return False
        self.cache.append(lane.pad_id, qid, err, end=True)
        rec = (
            lost.record
            if lost is not None
            else QueryRecord(qid.hex(), lane.pad_id.hex(), self.name, self.backend.name)
        )
        rec.outcome = "lost-in-restart"
        lane.count(query_count_key(REFUSED))
        rec.finished_at = time.time()
        used = frame_range(err)
        if used is not None:
            rec.f2w_ranges.append(used)
        rec.answer_mode = rec.answer_mode or "otp"
        if self.chronicle is not None:
            self.chronicle.record_query(rec)
        return True
