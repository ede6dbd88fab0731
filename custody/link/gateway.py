"""The facility gateway: headless, serves many pads, answers OTP-encrypted queries.

`Gateway` is the coordinator: it opens the pads its provider lists (custody.link.pad_providers),
one `Lane` each (custody.link.lane), owns the threads and the queues, opens every frame, and hands
the rest to its helpers: question assembly and retransmissions (custody.link.assembly), answering
(custody.link.answering), sealing and publishing facility→workstation frames with optional cover
traffic (custody.link.f2w_sender), receive-mark announcements (custody.link.receive_mark).
Suspension (a pad the ledger says must not be served stops at once) is here.

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
  and the question is answered once its other fragments arrive (`QuestionAssembler.on_replay`).
* One thread each announces receive marks, prunes the answer cache, fills cover slots (with
  `cover_rate`), watches the router (a client of one) and polls for suspensions (if asked).

How an answer is framed and budgeted against the pad: custody.link.answering.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from custody.errors import FrameRejected, RedDoorError
from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.answer_cache import DEFAULT_MAX_AGE, DEFAULT_MAX_BYTES, AnswerCache
from custody.link.answering import ActiveQuestions, Answerer
from custody.link.assembly import QuestionAssembler
from custody.link.backends import Backend
from custody.link.carrier import DEFAULT_KEY_PERIOD, CarriedRejected, check_key_period, open_carried
from custody.link.chronicle import Chronicle
from custody.link.f2w_sender import F2WSender
from custody.link.lane import Lane
from custody.link.messages import CoverCost
from custody.link.observer import LinkObserver
from custody.link.pad_providers import PadProvider
from custody.link.receive_mark import ReceiveMarkAnnouncer
from custody.link.zenoh_transport import Subscription, Transport
from custody.pad import frame
from custody.pad.frame_policy import FramePolicy
from custody.pad.manifest import Direction
from custody.pad.store import default_state_dir
from custody.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

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
        cover_key_period: float = DEFAULT_KEY_PERIOD,
        router_poll_interval: float = 0.5,
        observer: LinkObserver | None = None,
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
        self.stats: Counter[str] = Counter()
        # Junk costs its sender nothing: one line per reason, then a count every interval.
        self.rejections = RateLimitedLog(log, "frames rejected")
        self._lanes: dict[bytes, Lane] = {}
        self._frames: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue(maxsize=queue_size)
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=queue_size)
        self._n_frame, self._n_backend = frame_workers, backend_workers
        self._threads: list[threading.Thread] = []
        self._tokens: list[Subscription] = []
        self._stopping = threading.Event()
        # Constant-rate cover traffic facility→workstation (seal, threat 4): every frame of a pad
        # goes out in a slot of `cover_bucket` at `cover_rate` per second, concealed; a slot with
        # no answer frame waiting carries a COVER frame. Costs `cover.bytes_per_day` per pad.
        self._sender = F2WSender(
            transport,
            None if cover_rate is None else link_messages.cover_cost(cover_rate, cover_bucket),
            lanes=self._lanes,
            stats=self.stats,
            stopping=self._stopping,
            key_period=check_key_period(cover_key_period),
        )
        self.cover = self._sender.cover
        # Per lane the answerer also keeps within what that lane's frames hold.
        self.max_payload = (
            frame.MAX_PAYLOAD if self.cover is None else self.cover.bucket - frame.INNER_LEN
        )
        self.chunk_bytes = min(chunk_bytes, self.max_payload)
        self.flush_interval = flush_interval
        self.resend_min_interval = resend_min_interval
        active = ActiveQuestions()  # whole questions being answered
        answerer = Answerer(
            self._sender,
            backend,
            self.cache,
            chronicle=chronicle,
            active=active,
            stopping=self._stopping,
            chunk_bytes=self.chunk_bytes,
            flush_interval=flush_interval,
            observer=observer,
        )
        self._assembler = QuestionAssembler(
            self.name,
            backend,
            self.cache,
            chronicle=chronicle,
            stats=self.stats,
            rejections=self.rejections,
            sender=self._sender,
            answerer=answerer,
            active=active,
            jobs=self._jobs,
            inline=self._inline,
            resend_min_interval=resend_min_interval,
        )
        self._marks = ReceiveMarkAnnouncer(
            transport,
            self.name,
            lanes=self._lanes,
            stopping=self._stopping,
            interval=floor_interval,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def open_pads(self) -> None:
        """Open every pad the provider lists (done by `start` if not before: a caller may first
        set their policies, `set_policy`, and show what cover traffic will cost, `cover_costs`)."""
        if self._lanes:
            return
        for pad_id in self.provider.pad_ids():
            copy = self.provider.open(pad_id)
            self._lanes[pad_id] = Lane(pad_id, copy)

    def cover_costs(self) -> list[tuple[CoverCost, int]]:
        """What cover traffic costs per pad, by mode (pad-keyed where a pad's policy allows it),
        with how many pads cost that."""
        if self.cover is None:
            return []
        keyed = sum(1 for lane in self._lanes.values() if self._sender.keyed_cover(lane))
        out: list[tuple[CoverCost, int]] = []
        if keyed < len(self._lanes):
            out.append((self.cover, len(self._lanes) - keyed))
        if keyed:
            cost = link_messages.cover_cost(
                self.cover.rate, self.cover.bucket, keyed_period=self._sender.key_period
            )
            out.append((cost, keyed))
        return out

    def start(self) -> None:
        self.open_pads()
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
            self._announce_policy(lane)
            self._marks.announce(lane)
        self._tokens.append(self.transport.declare_token(link_keys.gateway_alive_key(self.name)))
        self._spawn(self._housekeeping, "gw-housekeeping")
        self._spawn(self._marks.run, "gw-floor")
        if self.cover is not None:
            self._spawn(self._sender.run_cover, "gw-cover")
        if self.transport.config.mode != "router":
            self._spawn(self._router_watch, "gw-router-watch")
        log.info("gateway %s serving %d pads", self.name, len(self._lanes))

    # -- frame policy (custody.pad.frame_policy) ---------------------------------------------
    def set_policy(self, pad_id: bytes, recorded: FramePolicy) -> bool:
        """The ledger's policy for `pad_id`: in force at once, never looser than the manifest
        (the workstation's copy knows only the manifest); announced to workstations. True if
        the policy in force changed."""
        lane = self._lanes.get(pad_id)
        if lane is None:
            return False
        policy = lane.copy.manifest.policy.strictest(recorded)
        with lane.lock:
            if policy == lane.copy.frame_policy:
                return False
            lane.copy.frame_policy = policy
        log.warning("pad %s: frame policy now %s", pad_id.hex()[:8], policy.describe())
        if not lane.suspended:
            self._announce_policy(lane)
        return True

    def frame_policy(self, pad_id: bytes) -> FramePolicy:
        return self._lanes[pad_id].copy.frame_policy

    def _announce_policy(self, lane: Lane) -> None:
        """(Re)declare the liveliness hint of the frame policy this gateway enforces on the pad:
        a workstation then never seals what this gateway would refuse."""
        token = self.transport.declare_token(
            link_keys.gateway_policy_key(self.name, lane.pad_id, lane.copy.frame_policy)
        )
        old, lane.policy_token = lane.policy_token, token
        if old is not None:
            old.close()

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

    def lanes(self) -> list[Lane]:
        """The pads served, for the metrics (custody.link.metrics reads their counts)."""
        return list(self._lanes.values())

    def stop(self) -> None:
        """Stop serving; close every pad copy (journals written exactly)."""
        self._stopping.set()
        for tok in self._tokens:
            tok.close()
        self._marks.wake()
        for lane in self._lanes.values():
            for s in lane.subs:
                s.close()
            if lane.floor_token is not None:
                lane.floor_token.close()
            if lane.policy_token is not None:
                lane.policy_token.close()
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
        if lane.policy_token is not None:
            lane.policy_token.close()
        log.warning(
            "pad %s no longer served (%s)", pad_id.hex(), reason or "the ledger says it must not be"
        )
        return True

    def watch_suspensions(self, poll: Callable[[], Iterable[bytes]], interval: float = 0.5) -> None:
        """Call `poll()` every `interval` s (e.g. a ledger query) and suspend what it returns.
        A `poll.reason(pad_id)` method, if there is one, says why (for the log); a
        `poll.policies()` method, the frame policy recorded for each pad (`set_policy`)."""
        reason_of: Callable[[bytes], str] | None = getattr(poll, "reason", None)
        policies: Callable[[], dict[bytes, FramePolicy]] | None = getattr(poll, "policies", None)

        def run() -> None:
            while not self._stopping.wait(interval):
                try:
                    for pad_id in poll():
                        self.suspend_pad(pad_id, reason_of(pad_id) if reason_of else None)
                    for pad_id, policy in (policies() if policies else {}).items():
                        self.set_policy(pad_id, policy)
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
        received = time.time()
        try:
            with lane.lock:
                if lane.suspended:
                    return
                # A pad-keyed cover slot may carry the real frame: that is the one meant.
                data, msg = open_carried(lane.copy, data)
            self._marks.moved(lane)
        except FrameRejected as exc:
            if isinstance(exc, CarriedRejected):
                data = exc.frame  # a retransmission is known by the carried frame's digest
                self._marks.moved(lane)  # its carrier authenticated: the mark may have moved
            digest = hashlib.sha256(data).digest()
            if exc.reason == "replay":
                self._assembler.on_replay(lane, digest)
            else:
                if exc.reason in frame.REJECTED_AFTER_AUTHENTICATION:
                    self._marks.moved(lane)  # its range was consumed: the mark moved
                self.stats[f"rejected-{exc.reason}"] += 1
                self.rejections.event(
                    exc.reason, "rejected a frame for pad %s: %s", pad_id.hex()[:8], exc.reason
                )
            return
        self.stats[_OPENED_STAT[msg.kind]] += 1
        if msg.kind is frame.Kind.COVER:
            lane.count("cover-received")
        if msg.kind is not frame.Kind.QUERY:
            return  # COVER and PING: spent, nothing to do
        self._assembler.assemble(lane, msg, hashlib.sha256(data).digest(), received)
