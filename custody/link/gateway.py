"""The facility gateway: headless, serves many pads, answers OTP-encrypted queries.

Threads and locks:

* Zenoh callbacks only put `(pad, frame bytes)` on a bounded queue (full: the frame is dropped
  and counted; the workstation retransmits it).
* `frame_workers` threads open frames; `backend_workers` threads run backend calls and seal the
  answer. A `PadCopy` is not thread-safe: each pad has one lock, held only for a seal or an open,
  never across a backend call, so a slow model never holds up another pad or the queue.
* A retransmitted query is refused by the pad layer as a replay; its SHA-256 finds the answer
  frames already sent, which are published again, byte for byte (the answer cache is on disk, so
  this survives a gateway restart; an answer cut off by a restart is closed with an ERROR frame).
  A repeated fragment of a question this process is still assembling is neither: it is dropped,
  and the question is answered once its other fragments arrive (`_on_replay`).

Answers: backend text is coalesced into ANSWER_CHUNK frames (flushed at `chunk_bytes` or after
`flush_interval` since the last frame), closed by ANSWER_END carrying the remainder. Each frame is
budgeted against the facility→workstation region; when the next one would not leave room for the
end frame, the gateway sends what fits and then a PAD_EXHAUSTED frame from the region's reserve.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from custody.errors import (
    BackendError,
    FrameRejected,
    PadExhaustedError,
    PadFormatError,
    RedDoorError,
    UsageError,
)
from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.answer_cache import DEFAULT_MAX_AGE, DEFAULT_MAX_BYTES, AnswerCache
from custody.link.backends import Backend
from custody.link.chronicle import Chronicle, QueryRecord
from custody.link.zenoh_transport import Subscription, Transport
from custody.pad import frame
from custody.pad.manifest import Direction, Side
from custody.pad.pad_copy import CopyGuard, PadCopy
from custody.pad.store import MANIFEST_NAME, default_state_dir, open_pad_dir, read_manifest
from custody.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

MAX_SKIP = 4 << 20  # at most this many pad bytes are skipped on a peer's word
END_COST = frame.KEY_LEN + frame.BUCKETS[0]  # the smallest frame: room kept for ANSWER_END


# -- where facility pad copies come from ----------------------------------------------------------
class PadProvider(Protocol):
    """Facility copies by pad id: `DirectoryPadProvider` (plain copies, practice and tests) and
    `custody.pad.vault.VaultPadProvider` (the facility home's HSM vault)."""

    def pad_ids(self) -> Sequence[bytes]: ...
    def open(self, pad_id: bytes) -> PadCopy: ...


class DirectoryPadProvider:
    """A directory holding one facility copy per subdirectory (or itself one copy)."""

    def __init__(
        self, root: Path, *, state_dir: Path | None = None, guard: CopyGuard | None = None
    ) -> None:
        if not root.is_dir():
            raise UsageError(f"--pads {root} is not a directory")
        self.state_dir = state_dir
        self.guard = guard  # custody.lifecycle.marks.MarksGuard when served under a home
        dirs = (
            [root]
            if (root / MANIFEST_NAME).exists()
            else sorted(d for d in root.iterdir() if (d / MANIFEST_NAME).exists())
        )
        self._dirs: dict[bytes, Path] = {}
        for d in dirs:
            self._dirs[read_manifest(d).pad_id] = d
        if not self._dirs:
            raise UsageError(f"--pads {root} holds no pad copies (no */{MANIFEST_NAME})")

    def pad_ids(self) -> Sequence[bytes]:
        return list(self._dirs)

    def directory(self, pad_id: bytes) -> Path:
        """Where the copy of `pad_id` is (KeyError: not in this directory)."""
        return self._dirs[pad_id]

    def open(self, pad_id: bytes) -> PadCopy:
        def opener() -> PadCopy:
            copy = open_pad_dir(self._dirs[pad_id], state_dir=self.state_dir)
            if copy.side is not Side.FACILITY:
                copy.abandon()
                raise PadFormatError(
                    f"{self._dirs[pad_id]} is a workstation copy; the gateway needs facility copies"
                )
            return copy

        return opener() if self.guard is None else self.guard.open(pad_id, opener)


class CombinedPadProvider:
    """Several providers as one (e.g. the vault's pads and a directory of practice copies)."""

    def __init__(self, providers: Sequence[PadProvider]) -> None:
        self._by_id: dict[bytes, PadProvider] = {}
        for provider in providers:
            for pad_id in provider.pad_ids():
                self._by_id.setdefault(pad_id, provider)

    def pad_ids(self) -> Sequence[bytes]:
        return list(self._by_id)

    def open(self, pad_id: bytes) -> PadCopy:
        return self._by_id[pad_id].open(pad_id)


@dataclass
class _Assembly:
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
        self.record.w2f_ranges.append((msg.offset, msg.range_len))
        self.size += len(msg.payload) - len(self.parts.get(msg.seq, b""))
        self.parts[msg.seq] = msg.payload
        if msg.final:
            self.total = msg.seq + 1

    def body(self) -> bytes | None:
        """The whole question, or None while a fragment is missing."""
        if self.total is None or any(i not in self.parts for i in range(self.total)):
            return None
        return b"".join(self.parts[i] for i in range(self.total))


# ERROR frames closing a question that a restart of this gateway cut off (the workstation
# reports them as "answer interrupted", exit 26): before its answer began, or during it.
LOST_BEFORE_ANSWER = (
    b"restart: the facility restarted before answering (while receiving the question); "
    b"the question was not answered; ask again"
)
LOST_MID_ANSWER = (
    b"restart: the facility restarted while answering; the answer is incomplete; ask again"
)


@dataclass
class _Lane:
    """One served pad."""

    pad_id: bytes
    copy: PadCopy
    lock: threading.Lock = field(default_factory=threading.Lock)
    suspended: bool = False
    subs: list[Subscription] = field(default_factory=list)
    # Questions being assembled, by query id. `assembly_lock` makes "register the fragment's
    # digest, add it to its question" one step for `_on_replay`, and serialises the decision
    # that a question was lost in a restart. Taken before `lock`, never after.
    assembling: dict[bytes, _Assembly] = field(default_factory=dict)
    assembly_lock: threading.Lock = field(default_factory=threading.Lock)
    last_resend: dict[bytes, float] = field(default_factory=dict)
    slots: queue.Queue[bytes] = field(default_factory=queue.Queue)  # cover: frames to send
    floor_token: Subscription | None = None  # liveliness hint: our w2f receive high-water mark
    announced_floor: int = -1
    floor_dirty: bool = False


class _Exhausted(Exception):
    pass


_OPENED_STAT = {kind: f"opened-{kind.name.lower()}" for kind in frame.Kind}


class Gateway:
    def __init__(
        self,
        transport: Transport,
        provider: PadProvider,
        backend: Backend,
        *,
        name: str = "facility",
        chronicle: Chronicle | None = None,
        state_dir: Path | None = None,
        frame_workers: int = 2,
        backend_workers: int = 8,
        queue_size: int = 4096,
        chunk_bytes: int = 4096,
        flush_interval: float = 0.05,
        resend_min_interval: float = 0.2,
        cache_max_bytes: int = DEFAULT_MAX_BYTES,
        cache_max_age: float = DEFAULT_MAX_AGE,
        housekeeping_interval: float = 60.0,
        floor_interval: float = 0.25,
        cover_rate: float | None = None,
        cover_bucket: int = 1024,
        router_poll_interval: float = 0.5,
    ) -> None:
        self.transport = transport
        self.router_poll_interval = router_poll_interval
        self.provider = provider
        self.backend = backend
        self.name = link_keys.check_gateway_name(name)
        self.chronicle = chronicle
        state = state_dir or default_state_dir()
        self.cache = AnswerCache(
            state / "gateway" / self.name / "answers",
            max_bytes=cache_max_bytes,
            max_age=cache_max_age,
        )
        self.housekeeping_interval = housekeeping_interval
        self.floor_interval = floor_interval
        # A backend that answers at once (echo without delay) is run on the frame worker: one
        # thread handoff less per query. Anything that may block gets the backend workers.
        self._inline = bool(getattr(backend, "inline", False))
        # Constant-rate cover traffic facility→workstation (seal, threat 4): every frame of a pad
        # goes out in a slot of `cover_bucket` at `cover_rate` per second, concealed; a slot with
        # no answer frame waiting carries a COVER frame. Costs `cover.bytes_per_day` per pad.
        self.cover = (
            None if cover_rate is None else link_messages.cover_cost(cover_rate, cover_bucket)
        )
        self.max_payload = (
            frame.MAX_PAYLOAD if self.cover is None else self.cover.bucket - frame.INNER_LEN
        )
        self.chunk_bytes = min(chunk_bytes, self.max_payload)
        self.flush_interval = flush_interval
        self.resend_min_interval = resend_min_interval
        self.stats: Counter[str] = Counter()
        # Junk costs its sender nothing: one line per reason, then a count every interval.
        self.rejections = RateLimitedLog(log, "frames rejected")
        self._lanes: dict[bytes, _Lane] = {}
        self._frames: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue(maxsize=queue_size)
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=queue_size)
        self._n_frame, self._n_backend = frame_workers, backend_workers
        self._threads: list[threading.Thread] = []
        self._tokens: list[Subscription] = []
        self._active: set[tuple[bytes, bytes]] = set()
        self._active_lock = threading.Lock()
        self._stopping = threading.Event()
        self._floor_event = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        for pad_id in self.provider.pad_ids():
            copy = self.provider.open(pad_id)
            self._lanes[pad_id] = _Lane(pad_id, copy)
        for i in range(self._n_frame):
            self._spawn(self._frame_worker, f"gw-frames-{i}")
        for i in range(self._n_backend):
            self._spawn(self._job_worker, f"gw-backend-{i}")
        for lane in self._lanes.values():
            key = link_keys.frame_key(lane.pad_id, Direction.W2F)
            lane.subs.append(self.transport.subscribe(key, self._make_callback(lane.pad_id)))
            lane.subs.append(
                self.transport.declare_token(link_keys.gateway_pad_key(self.name, lane.pad_id))
            )
            self._announce_floor(lane)
        self._tokens.append(self.transport.declare_token(link_keys.gateway_alive_key(self.name)))
        self._spawn(self._housekeeping, "gw-housekeeping")
        self._spawn(self._floor_announcer, "gw-floor")
        if self.cover is not None:
            self._spawn(self._cover_loop, "gw-cover")
        if self.transport.config.mode != "router":
            self._spawn(self._router_watch, "gw-router-watch")
        log.info("gateway %s serving %d pads", self.name, len(self._lanes))

    def _router_watch(self) -> None:
        """A client of a router (--connect) says when the router goes and when it is back: one
        line each. Zenoh reconnects by itself and re-declares subscriptions and tokens."""
        where = ", ".join(self.transport.config.connect) or "its router"
        up = True
        while not self._stopping.wait(self.router_poll_interval):
            now = self.transport.router_connected()
            if now == up:
                continue
            up = now
            if up:
                # As loud as the loss: an operator who saw "lost" without -v must see "back".
                log.warning(
                    "gateway %s: the Zenoh router at %s is back; serving again", self.name, where
                )
            else:
                log.warning(
                    "gateway %s lost the Zenoh router at %s: no workstation can reach this "
                    "gateway until the router returns (Zenoh keeps reconnecting)",
                    self.name,
                    where,
                )

    # -- cover traffic (f2w) ----------------------------------------------------------------
    def _frame_cost(self, payload_len: int) -> int:
        if self.cover is not None:
            return self.cover.frame_bytes
        return link_messages.frame_cost(payload_len)

    def _publish_f2w(self, lane: _Lane, data: bytes) -> None:
        if self.cover is not None:
            lane.slots.put(data)  # sent in the next slot, indistinguishable from cover
        else:
            self.transport.publish(link_keys.frame_key(lane.pad_id, Direction.F2W), data)

    def _cover_loop(self) -> None:
        assert self.cover is not None
        interval, bucket = 1.0 / self.cover.rate, self.cover.bucket
        exhausted: set[bytes] = set()
        next_at = time.monotonic()
        while not self._stopping.wait(max(0.0, next_at - time.monotonic())):
            next_at += interval
            for lane in list(self._lanes.values()):
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
                key = link_keys.frame_key(lane.pad_id, Direction.F2W)
                try:
                    self.transport.publish(key, data, droppable=True)
                except RedDoorError as exc:
                    log.warning("cover slot not sent: %s", exc.message)

    def _announce_floor(self, lane: _Lane) -> None:
        """(Re)declare the liveliness hint of how far this gateway has received questions.

        A workstation whose journal is behind it (a restored or copied stick) then skips ahead
        instead of sealing a question under pad bytes the facility has already consumed.
        """
        with lane.lock:
            floor = link_messages.receive_floor(lane.copy)
        if floor == lane.announced_floor:
            return
        token = self.transport.declare_token(
            link_keys.gateway_floor_key(self.name, lane.pad_id, floor)
        )
        old, lane.floor_token, lane.announced_floor = lane.floor_token, token, floor
        if old is not None:
            old.close()

    def _floor_announcer(self) -> None:
        # Off the answer's critical path. The first mark that moves after a quiet spell is
        # re-announced at once (typically within a millisecond of the question); while questions
        # keep coming, at most once per `floor_interval`: each re-announcement is a liveliness
        # token undeclared and declared, work for the router and for every workstation, and
        # the hint only has to be current for the next question from another copy of a stick.
        while not self._stopping.is_set():
            self._floor_event.wait(0.5)
            self._floor_event.clear()
            announced = False
            for lane in list(self._lanes.values()):
                if lane.floor_dirty and not self._stopping.is_set():
                    lane.floor_dirty = False
                    announced = True
                    try:
                        self._announce_floor(lane)
                    except Exception as exc:
                        log.error("could not announce the receive mark (%s)", type(exc).__name__)
            if announced:
                self._stopping.wait(self.floor_interval)

    def _housekeeping(self) -> None:
        while not self._stopping.wait(self.housekeeping_interval):
            try:
                self.cache.prune()
            except Exception as exc:
                log.error("answer cache pruning failed (%s)", type(exc).__name__)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    @property
    def pads(self) -> list[bytes]:
        return list(self._lanes)

    def stop(self) -> None:
        """Stop serving; close every pad copy (journals written exactly)."""
        self._stopping.set()
        for tok in self._tokens:
            tok.close()
        self._floor_event.set()
        for lane in self._lanes.values():
            for s in lane.subs:
                s.close()
            if lane.floor_token is not None:
                lane.floor_token.close()
        for _ in range(self._n_frame):
            self._frames.put(None)
        for _ in range(self._n_backend):
            self._jobs.put(None)
        for t in self._threads:
            t.join(timeout=10)
        for lane in self._lanes.values():
            with lane.lock:
                lane.copy.close()
        self.cache.close()
        self.rejections.flush()
        if self.chronicle is not None:
            self.chronicle.close()

    # -- suspension (issue 6: a compromised pad stops within a second) --------------------
    def suspend_pad(self, pad_id: bytes, reason: str | None = None) -> bool:
        """Stop serving `pad_id` at once: no more frames opened or sent for it. `reason` is the
        pad's state as the ledger says (compromised, suspended, destroyed, ...), for the log."""
        lane = self._lanes.get(pad_id)
        if lane is None or lane.suspended:
            return False
        lane.suspended = True  # checked before every open and every seal
        for s in lane.subs:
            s.close()
        log.warning(
            "pad %s no longer served (%s)", pad_id.hex(), reason or "the ledger says it must not be"
        )
        return True

    def watch_suspensions(self, poll: Callable[[], Iterable[bytes]], interval: float = 0.5) -> None:
        """Call `poll()` every `interval` s (e.g. a ledger query) and suspend what it returns.
        A `poll.reason(pad_id)` method, if there is one, says why (for the log)."""
        reason_of: Callable[[bytes], str] | None = getattr(poll, "reason", None)

        def run() -> None:
            while not self._stopping.wait(interval):
                try:
                    for pad_id in poll():
                        self.suspend_pad(pad_id, reason_of(pad_id) if reason_of else None)
                except Exception as exc:
                    log.error("suspension poll failed (%s)", type(exc).__name__)

        self._spawn(run, "gw-suspend-poll")

    # -- receiving -------------------------------------------------------------------------
    def _make_callback(self, pad_id: bytes) -> Callable[[str, bytes], None]:
        def on_data(key: str, data: bytes) -> None:
            try:
                self._frames.put_nowait((pad_id, data))
            except queue.Full:
                self.stats["queue-full-dropped"] += 1

        return on_data

    def _frame_worker(self) -> None:
        while (item := self._frames.get()) is not None:
            try:
                self._on_frame(*item)
            except RedDoorError as exc:
                log.error("frame handling failed: %s", exc.message)
            except Exception as exc:
                log.error("frame handling failed (%s)", type(exc).__name__)

    def _job_worker(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception as exc:
                log.error("answer job failed (%s)", type(exc).__name__)

    def _on_frame(self, pad_id: bytes, data: bytes) -> None:
        lane = self._lanes[pad_id]
        if lane.suspended:
            return
        digest = hashlib.sha256(data).digest()
        received = time.time()
        try:
            with lane.lock:
                if lane.suspended:
                    return
                msg = frame.open_frame(lane.copy, data)
            lane.floor_dirty = True
            if not self._floor_event.is_set():
                self._floor_event.set()
        except FrameRejected as exc:
            if exc.reason == "replay":
                self._on_replay(lane, digest)
            else:
                if exc.reason in frame.REJECTED_AFTER_AUTHENTICATION:
                    lane.floor_dirty = True  # its range was consumed: the mark moved
                    self._floor_event.set()
                self.stats[f"rejected-{exc.reason}"] += 1
                self.rejections.event(
                    exc.reason, "rejected a frame for pad %s: %s", pad_id.hex()[:8], exc.reason
                )
            return
        self.stats[_OPENED_STAT[msg.kind]] += 1
        if msg.kind is not frame.Kind.QUERY:
            return  # COVER and PING: spent, nothing to do
        self._assemble(lane, msg, digest, received)

    # -- assembling questions, and their retransmissions ------------------------------------
    def _assemble(self, lane: _Lane, msg: frame.Message, digest: bytes, received: float) -> None:
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
                asm = lane.assembling[qid] = _Assembly(rec)
            asm.add(msg, digest)
            rec = asm.record
            if asm.size > link_messages.MAX_QUERY_BYTES:
                del lane.assembling[qid]
                log.warning("query over %d bytes refused", link_messages.MAX_QUERY_BYTES)
                self._close_unanswered(lane, qid, rec, "the question is too large; not answered")
                return
            body = asm.body()
            if body is None:
                return
            del lane.assembling[qid]
            rec.query_bytes = len(body)
            # Both under the lock `_on_replay` decides under: to it, a question of this process
            # is always assembling, active or closed, never none of them.
            with self._active_lock:
                self._active.add((lane.pad_id, qid))
        if self._inline:
            self._answer(lane, qid, body, rec)
            return
        try:
            self._jobs.put_nowait(lambda: self._answer(lane, qid, body, rec))
        except queue.Full:
            self._close_unanswered(lane, qid, rec, "the facility is busy; ask again shortly")

    def _close_unanswered(self, lane: _Lane, qid: bytes, rec: QueryRecord, text: str) -> None:
        """Close a question that will not be answered with an ERROR frame, and record it."""
        self._answer_error(lane, qid, rec, text, 0)
        with self._active_lock:
            self._active.discard((lane.pad_id, qid))
        rec.finished_at = time.time()
        if self.chronicle is not None:
            self.chronicle.record_query(rec)

    def _on_replay(self, lane: _Lane, digest: bytes) -> None:
        """A frame refused as already received: the same bytes again, retransmitted by the
        workstation (or replayed by anyone). If it is a fragment of a query, resend that query's
        answer frames so far. The cases, by what this process knows of the query:

        * still assembling, and this fragment is one it holds: wait for the others (a late or
          lost fragment, a full queue); nothing to resend, nothing wrong;
        * answered or answering (its answer closed in the cache, or in `_active`): resend;
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
            # `_active` first: an answer leaves it only after its closing frame is cached.
            with self._active_lock:
                active = (lane.pad_id, qid) in self._active
            sent, ended = self.cache.progress(lane.pad_id, qid)
            if not ended and not active:
                # A fragment consumed before a restart: what this process assembled of the
                # question since (if anything) can never be whole.
                lost = lane.assembling.pop(qid, None)
                if not self._close_lost(lane, qid, sent, lost):
                    return
        frames, _ = self.cache.frames(lane.pad_id, qid)
        self.stats["answers-resent"] += 1
        for f in frames:
            self._publish_f2w(lane, f)

    def _close_lost(self, lane: _Lane, qid: bytes, sent: int, lost: _Assembly | None) -> bool:
        """Close a question lost in a restart with an ERROR frame at seq `sent`."""
        try:
            err = self._seal(
                lane, frame.Kind.ERROR, LOST_MID_ANSWER if sent else LOST_BEFORE_ANSWER, qid, sent
            )
        except (_Exhausted, PadExhaustedError):
            return False
        self.cache.append(lane.pad_id, qid, err, end=True)
        rec = (
            lost.record
            if lost is not None
            else QueryRecord(qid.hex(), lane.pad_id.hex(), self.name, self.backend.name)
        )
        rec.outcome = "lost-in-restart"
        rec.finished_at = time.time()
        rec.f2w_ranges.append(_range(err))
        if self.chronicle is not None:
            self.chronicle.record_query(rec)
        return True

    # -- answering -------------------------------------------------------------------------
    def _seal(self, lane: _Lane, kind: frame.Kind, payload: bytes, qid: bytes, seq: int) -> bytes:
        with lane.lock:
            if lane.suspended:
                raise _Exhausted("suspended")
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

    def _emit(self, lane: _Lane, qid: bytes, rec: QueryRecord, data: bytes, end: bool) -> None:
        self.cache.append(lane.pad_id, qid, data, end=end)
        self._publish_f2w(lane, data)
        rec.answer_frames += 1
        rec.f2w_ranges.append(_range(data))

    def _answer(self, lane: _Lane, qid: bytes, body: bytes, rec: QueryRecord) -> None:
        t0 = time.monotonic()
        seq = 0
        buf = b""
        last_flush = t0

        def send(kind: frame.Kind, payload: bytes) -> None:
            nonlocal seq
            with lane.lock:
                left = lane.copy.remaining_send()
            need = self._frame_cost(len(payload))
            end_cost = self._frame_cost(0)
            room = left - (end_cost if kind is frame.Kind.ANSWER_CHUNK else 0)
            if need > room:
                fit = (
                    link_messages.largest_payload(left - end_cost)
                    if self.cover is None
                    else (self.max_payload if self._frame_cost(0) <= left - end_cost else -1)
                )
                if fit > 0 and payload:
                    head, _ = link_messages.split_text(payload, fit)
                    self._emit(
                        lane,
                        qid,
                        rec,
                        self._seal(lane, frame.Kind.ANSWER_CHUNK, head, qid, seq),
                        False,
                    )
                    rec.answer_bytes += len(head)
                    seq += 1
                raise _Exhausted
            self._emit(
                lane,
                qid,
                rec,
                self._seal(lane, kind, payload, qid, seq),
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
            with lane.lock:
                skipped = link_messages.skip_send_to(lane.copy, q.f2w_floor, MAX_SKIP)
            if skipped:
                log.info("skipped %d f2w pad bytes up to the workstation's floor", skipped)
            for piece in self.backend.stream(q.question, classification=q.classification):
                if lane.suspended or self._stopping.is_set():
                    rec.outcome = "suspended"
                    return
                buf += piece.encode("utf-8")
                now = time.monotonic()
                while len(buf) >= self.chunk_bytes or (
                    buf and now - last_flush >= self.flush_interval
                ):
                    head, buf = link_messages.split_text(buf, self.chunk_bytes)
                    send(frame.Kind.ANSWER_CHUNK, head)
                    last_flush = now
            while len(buf) > self.max_payload:
                head, buf = link_messages.split_text(buf, self.max_payload)
                send(frame.Kind.ANSWER_CHUNK, head)
            send(frame.Kind.ANSWER_END, buf)
            rec.outcome = "answered"
        except BackendError as exc:
            rec.outcome = "error"
            log.warning("backend error for pad %s: %s", lane.pad_id.hex()[:8], exc.message)
            while buf:
                head, buf = link_messages.split_text(buf, self.chunk_bytes)
                try:
                    send(frame.Kind.ANSWER_CHUNK, head)
                except (_Exhausted, PadExhaustedError):
                    self._exhausted(lane, qid, rec, seq)
                    return
            self._answer_error(lane, qid, rec, exc.message, seq)
        except (_Exhausted, PadExhaustedError):
            if not lane.suspended:
                self._exhausted(lane, qid, rec, seq)
        finally:
            with self._active_lock:
                self._active.discard((lane.pad_id, qid))
            rec.total_ms = round((time.monotonic() - t0) * 1000, 3)
            rec.finished_at = time.time()
            if self.chronicle is not None:
                self.chronicle.record_query(rec)

    def _answer_error(self, lane: _Lane, qid: bytes, rec: QueryRecord, text: str, seq: int) -> None:
        rec.outcome = "error"
        payload = text.encode("utf-8")[:1000]
        try:
            self._emit(lane, qid, rec, self._seal(lane, frame.Kind.ERROR, payload, qid, seq), True)
        except (_Exhausted, PadExhaustedError):
            self._exhausted(lane, qid, rec, seq)

    def _exhausted(self, lane: _Lane, qid: bytes, rec: QueryRecord, seq: int) -> None:
        rec.outcome = "pad-exhausted"
        log.warning("pad %s: facility→workstation region exhausted", lane.pad_id.hex()[:8])
        try:
            data = self._seal(lane, frame.Kind.PAD_EXHAUSTED, b"pad exhausted", qid, seq)
        except (_Exhausted, PadExhaustedError):
            log.error(
                "pad %s: no reserve left even for a pad-exhausted frame", lane.pad_id.hex()[:8]
            )
            return
        self._emit(lane, qid, rec, data, True)


def _range(data: bytes) -> tuple[int, int]:
    h = frame.parse_header(data)
    return h.offset, h.range_len
