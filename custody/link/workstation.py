"""The workstation side of the link: ask the facility's AI over OTP frames.

The GUI and `reddoor ask` both use `WorkstationClient`:

    client = WorkstationClient(copy, transport)
    presence = client.presence()                 # liveliness only: spends no pad
    answer = client.ask("question", on_chunk=print_piece, classification="SECRET")

`ask` reserves and seals every fragment of the query first (the pad journal reserves durably
before any byte is read), writes the exact frame bytes to the outbox, publishes them, and then
retransmits THE SAME BYTES whenever the answer does not progress for `retransmit_interval`
seconds — never a re-encryption at a used offset. The facility answers a retransmitted query by
retransmitting its cached answer frames, so frames dropped in either direction are recovered.
Answer text reaches `on_chunk` only after `open_frame` has authenticated its frame, in seq order.
Duplicates (already received ranges) are dropped and logged; modified frames are rejected and
logged. Zenoh callbacks only enqueue; all pad work happens on the caller's thread (and, with
cover traffic, on the cover sender's: the client's pad lock serialises the two).

The client's neighbours: custody.link.outbox (the sealed frames until the answer ends),
custody.link.presence (gateways and their receive mark, from liveliness alone),
custody.link.query_frames (the question sealed up front, the answer put in order),
custody.link.cover_sender (cover traffic), custody.link.carrier (pad-keyed cover carries frames).

Frame modes (docs/protocol.md, "Pad-keyed frames"): the copy's frame policy — its manifest's,
made stricter by the facility's announced policy (custody.link.presence) — decides each
question's mode (`question_mode`) and which answer modes are accepted; every `Answer` says the
mode of its question and of its answer.
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from custody.errors import (
    AnswerInterruptedError,
    FrameRejected,
    GatewayDownError,
    LinkError,
    NoAnswerError,
    UsageError,
    WrongPadError,
)
from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.carrier import DEFAULT_KEY_PERIOD, can_carry, carried_bucket, open_carried
from custody.link.cover_sender import CoverSender
from custody.link.diode.status import DiodeSeen, diode_seen
from custody.link.messages import CoverCost, cover_cost
from custody.link.outbox import Outbox
from custody.link.presence import GatewayWatch, Presence, catch_up_with_facility
from custody.link.query_frames import (
    PendingAnswer,
    question_cost,
    seal_question,
    split_question,
)
from custody.link.zenoh_transport import Subscription, Transport
from custody.pad import frame
from custody.pad import usage as pad_usage
from custody.pad.frame_policy import FrameMode, FramePolicy
from custody.pad.manifest import Direction, Side
from custody.pad.pad_copy import PadCopy
from custody.pad.status import status_of
from custody.pad.store import default_state_dir
from custody.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

GONE_GRACE = 2.0  # seconds without the serving gateway's token before an answer is given up


@dataclass
class Answer:
    query_id: str
    text: str
    query_frames: int
    answer_frames: int
    retransmissions: int  # of this query's frames, when its answer did not progress
    w2f_bytes: int  # pad bytes the question consumed
    f2w_bytes: int  # pad bytes the answer consumed
    question_mode: FrameMode = FrameMode.OTP
    answer_mode: FrameMode | None = None  # pad-keyed if any answer frame was; None: no frame

    @property
    def question_guarantee(self) -> str:
        return self.question_mode.guarantee

    @property
    def answer_guarantee(self) -> str:
        return "no answer frame" if self.answer_mode is None else self.answer_mode.guarantee


class WorkstationClient:
    def __init__(
        self,
        copy: PadCopy,
        transport: Transport,
        *,
        state_dir: Path | None = None,
        retransmit_interval: float = 1.0,
        answer_timeout: float = 60.0,
        stall_timeout: float = 120.0,
        require_gateway: bool = True,
        presence_timeout: float = 1.0,
        accept_facility_mark: bool = False,
        durable_outbox: bool = False,
    ) -> None:
        if copy.side is not Side.WORKSTATION:
            raise WrongPadError(
                "this is the facility copy of the pad; the workstation needs its own copy"
            )
        self.copy = copy
        self.transport = transport
        self.pad_id = copy.manifest.pad_id
        self.retransmit_interval = retransmit_interval
        self.answer_timeout = answer_timeout
        self.stall_timeout = stall_timeout
        self.require_gateway = require_gateway
        self.presence_timeout = presence_timeout
        self.accept_facility_mark = accept_facility_mark
        self.stats: Counter[str] = Counter()
        # Junk on the link must not flood the user's terminal: one line per reason, then counts.
        self.rejections = RateLimitedLog(log, "frames rejected")
        state = state_dir or default_state_dir()
        self.outbox = Outbox(state / "outbox" / self.pad_id.hex(), durable_outbox)
        self._usage_path = pad_usage.usage_path(self.pad_id)  # where `pad status` reads it
        self._w2f = link_keys.frame_key(self.pad_id, Direction.W2F)
        self._inbox: queue.Queue[bytes] = queue.Queue(maxsize=8192)
        self._pad_lock = threading.Lock()  # PadCopy is not thread-safe (cover thread, ask)
        self._ask_lock = threading.Lock()
        self._gateways = GatewayWatch(transport, self.pad_id)
        self._subs: list[Subscription] = [
            transport.subscribe(link_keys.frame_key(self.pad_id, Direction.F2W), self._enqueue),
        ]
        self._cover: CoverSender | None = None
        if require_gateway:
            self._subs.append(
                transport.watch_liveliness(
                    f"{link_keys.PREFIX}/gateway/**", self._gateways.on_liveliness
                )
            )

    # -- Zenoh threads: enqueue only -------------------------------------------------------
    def _enqueue(self, key: str, data: bytes) -> None:
        try:
            self._inbox.put_nowait(data)
        except queue.Full:
            self.stats["inbox-full-dropped"] += 1  # recovered by retransmission

    # -- presence (no pad spent) -----------------------------------------------------------
    def presence(self, timeout: float | None = None, *, with_diode: bool = False) -> Presence:
        """The gateways' tokens; with_diode: and what a diode receiver on this side last heard
        (one Zenoh query more: for displays, not for every question)."""
        p = self._gateways.presence(timeout or self.presence_timeout)
        if with_diode:
            p = dataclasses.replace(p, diode=self.via_diode())
        return p

    def via_diode(self) -> DiodeSeen | None:
        """The f2w diode receiver's word on the facility, or None when there is no diode."""
        return diode_seen(self.transport)

    def check_gateway(self) -> Presence:
        p = self.presence()
        if not p.up:
            seen = self.via_diode()
            across = (
                "gateway down, or the routers are not connected"
                if seen is None
                else (seen.why_no_gateway())
            )
            raise GatewayDownError(
                f"no facility gateway is on the link ({across}); no pad was spent"
            )
        if not p.serving_pad:
            raise WrongPadError(
                f"the facility gateway ({', '.join(p.gateways)}) does not serve pad "
                f"{self.copy.manifest.pad_id_display} (wrong pad for this facility, or the pad "
                "was suspended, compromised or destroyed at the facility); no pad was spent"
            )
        self._heed_facility(p.policy)
        return p

    # -- frame policy ----------------------------------------------------------------------
    @property
    def policy(self) -> FramePolicy:
        """The frame policy in force: the manifest's, made stricter by the facility's word."""
        return self.copy.frame_policy

    def _heed_facility(self, announced: FramePolicy | None) -> None:
        """The facility announces its policy for this pad (a hint it may have made stricter in
        its ledger): never looser than this copy's manifest, whatever the hint says."""
        policy = self.copy.manifest.policy
        if announced is not None:
            policy = policy.strictest(announced)
        if policy != self.copy.frame_policy:
            with self._pad_lock:
                self.copy.frame_policy = policy
            log.info("frame policy in force for this pad: %s", policy.describe())

    # -- asking ----------------------------------------------------------------------------
    def question_mode(self, question: str, classification: str | None = None) -> FrameMode:
        """The mode `question` would be sealed in under the policy in force now."""
        body = link_messages.encode_query(question, classification)
        return self.policy.question_mode(len(body), classification)

    def query_cost(self, question: str, classification: str | None = None) -> int:
        body = link_messages.encode_query(question, classification)
        bucket = self._bucket()
        mode = self.policy.question_mode(len(body), classification)
        return question_cost(split_question(body, bucket), bucket, mode)

    def _bucket(self) -> int | None:
        """The size of every fragment while cover traffic is on: the cover frame size (each
        fragment fills a slot) or, with pad-keyed cover, what a carrier holds."""
        cover = self._cover
        if cover is None:
            return None
        return cover.bucket if cover.keyed is None else carried_bucket(cover.bucket)

    def ask(
        self,
        question: str,
        on_chunk: Callable[[str], None] | None = None,
        *,
        classification: str | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Send `question`, stream authenticated answer text to `on_chunk`, return the answer."""
        with self._ask_lock:
            cover = self._cover
            if cover is not None and not cover.running:
                raise LinkError(
                    f"cover traffic has stopped ({cover.stopped_because or 'unknown reason'}); "
                    "nothing was sent; turn cover traffic off to ask without it, or on again"
                )
            if self.require_gateway:
                floor = self.check_gateway().w2f_floor
                if floor:
                    catch_up_with_facility(
                        self.copy,
                        self._pad_lock,
                        floor,
                        accept_facility_mark=self.accept_facility_mark,
                    )
            with self._pad_lock:
                f2w_floor = link_messages.receive_floor(self.copy)
            body = link_messages.encode_query(question, classification, f2w_floor)
            if len(body) > link_messages.MAX_QUERY_BYTES:
                raise UsageError(f"question is larger than {link_messages.MAX_QUERY_BYTES} bytes")
            policy = self.policy
            mode = policy.question_mode(len(body), classification)
            bucket = self._bucket()
            parts = split_question(body, bucket)
            query_id = secrets.token_bytes(16)
            frames = seal_question(
                self.copy,
                self._pad_lock,
                query_id,
                parts,
                bucket,
                mode,
                conceal=cover is not None and cover.keyed is None,
            )
            self.outbox.put(query_id, frames)
            accepted = (
                frozenset(FrameMode)
                if policy.answer_mode(classification) is FrameMode.PAD_KEYED
                else frozenset({FrameMode.OTP})
            )
            pending = PendingAnswer(
                query_id,
                frames,
                mode=mode,
                body_len=len(body),
                label=classification,
                accepted_modes=accepted,
            )
            retransmitted_before = self.stats["retransmitted-queries"]
            try:
                text = self._exchange(pending, on_chunk, timeout or self.answer_timeout)
            finally:
                self.outbox.remove(query_id)
            answer = Answer(
                query_id.hex(),
                text,
                len(frames),
                pending.answer_frames,
                self.stats["retransmitted-queries"] - retransmitted_before,  # this query's
                question_cost(parts, bucket, mode),
                pending.f2w_bytes,
                mode,
                pending.answer_mode,
            )
            pad_usage.record_query(
                self.pad_id, answer.w2f_bytes, answer.f2w_bytes, path=self._usage_path
            )
            return answer

    def _send(self, frames: list[bytes], *, again: bool = False) -> threading.Event | None:
        """Publish `frames`; under cover, queue them for slots and return an event set once
        the last of them has gone out."""
        if self._cover is not None:
            # A retransmission while earlier copies still wait for their slots would only
            # pile up duplicates behind them (slots come at the cover rate).
            if not (again and self._cover.waiting()):
                return self._cover.enqueue(frames)
            return None
        for f in frames:
            self.transport.publish(self._w2f, f)
        return None

    def _exchange(
        self, p: PendingAnswer, on_chunk: Callable[[str], None] | None, timeout: float
    ) -> str:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pieces: list[str] = []

        def deliver(payload: bytes, final: bool = False) -> None:
            piece = decoder.decode(payload, final)
            if piece:
                pieces.append(piece)
                if on_chunk is not None:
                    on_chunk(piece)

        left = self._send(p.frames)  # under cover: set when the last fragment has gone out
        start = last_progress = time.monotonic()
        next_retx = start + self.retransmit_interval
        gone_since: float | None = None
        while not p.done:
            now = time.monotonic()
            if self.require_gateway:
                if self._serving_gateway_present():
                    gone_since = None
                elif gone_since is None:
                    gone_since = now
                elif now - gone_since >= GONE_GRACE:
                    raise AnswerInterruptedError(
                        "the facility gateway left the link "
                        + ("while answering; what arrived was shown" if p.started else "")
                        + "; ask again when it is back"
                    )
            cover = self._cover
            if not p.started and left is not None and not left.is_set() and cover is not None:
                if cover.running:
                    # Under cover the question leaves one slot at a time: the wait for an
                    # answer (and for a retransmission) starts once its last fragment has
                    # gone out — the first time; retransmissions never restart it.
                    start, next_retx = now, now + self.retransmit_interval
                else:
                    left = None  # the sender stopped: the clock runs from here
            if not p.started and now - start >= timeout:
                raise_no_answer(timeout)
            if p.started and now - last_progress >= self.stall_timeout:
                raise AnswerInterruptedError(
                    f"the answer stopped arriving for {self.stall_timeout:g} s; what arrived was "
                    "shown; ask again"
                )
            if now >= next_retx:
                self._check_still_allowed(p)
                self.stats["retransmitted-queries"] += 1
                log.info(
                    "no progress for %.1f s: retransmitting the same query frames",
                    self.retransmit_interval,
                )
                self._send(p.frames, again=True)  # the same bytes, never a new seal
                next_retx = now + self.retransmit_interval
            try:
                wait = min(next_retx, start + timeout, now + 0.5) - now
                data = self._inbox.get(timeout=max(0.0, wait))
            except queue.Empty:
                continue
            if self._handle(p, data, deliver):
                last_progress = time.monotonic()
                next_retx = last_progress + self.retransmit_interval
        deliver(b"", True)
        return "".join(pieces)

    def _check_still_allowed(self, p: PendingAnswer) -> None:
        """A pad-keyed question unanswered while the facility now announces a policy that
        refuses it (made stricter meanwhile): it will never be answered; say so now."""
        if p.mode is not FrameMode.PAD_KEYED or p.started or not self.require_gateway:
            return
        announced = self._gateways.announced_policy()
        if announced is None or announced.question_allowed(p.mode, p.body_len, p.label):
            return
        self._heed_facility(announced)
        raise FrameRejected(
            "policy",
            f"{frame.POLICY_REFUSAL}: the facility's policy for this pad is now "
            f"{announced.describe()}; the question went pad-keyed and was not answered; ask "
            "again (it goes one-time pad)",
        )

    def _serving_gateway_present(self) -> bool:
        return self._gateways.serving_gateway_present()

    def _handle(self, p: PendingAnswer, data: bytes, deliver: Callable[[bytes], None]) -> bool:
        """Process one received frame; True if it advanced the answer."""
        try:
            with self._pad_lock:
                _, msg = open_carried(self.copy, data)
        except FrameRejected as exc:
            if exc.reason == "replay":
                self.stats["duplicates-dropped"] += 1
                log.debug("duplicate frame dropped (range already received)")
            else:
                self.stats[f"rejected-{exc.reason}"] += 1
                self.rejections.event(
                    exc.reason, "rejected a frame from the link: %s (%s)", exc.reason, exc.message
                )
            return False
        if msg.kind is frame.Kind.COVER:
            self.stats["cover-received"] += 1
            return False
        if msg.msg_id != p.query_id:
            self.stats["stale-dropped"] += 1
            log.info("authentic frame for an earlier query dropped (%s)", msg.kind.name)
            return False
        p.take(msg, deliver)
        return True

    def _drain_idle(self) -> None:
        """Between questions, open and discard what arrived (the facility's cover frames), so
        the inbox never fills and the receive window keeps moving. Skipped while ask() runs."""
        if not self._ask_lock.acquire(blocking=False):
            return
        try:
            idle = PendingAnswer(bytes(16), [])
            while True:
                try:
                    data = self._inbox.get_nowait()
                except queue.Empty:
                    return
                self._handle(idle, data, lambda payload: None)
        except LinkError as exc:
            log.info("idle frame dropped: %s", exc.message)
        finally:
            self._ask_lock.release()

    # -- crash recovery --------------------------------------------------------------------
    def interrupted_queries(self) -> list[str]:
        """Query ids left in the outbox by a process that died before its answer ended."""
        return sorted(self.outbox.pending())

    def discard_interrupted(self) -> list[str]:
        """Forget interrupted queries. Their pad ranges stay consumed (never reused)."""
        ids = self.interrupted_queries()
        for qid in ids:
            self.outbox.remove(bytes.fromhex(qid))
        return ids

    # -- cover traffic ---------------------------------------------------------------------
    def cover_cost(
        self, rate: float, bucket: int, key_period: float = DEFAULT_KEY_PERIOD
    ) -> CoverCost:
        """What cover traffic would cost: pad-keyed (32 bytes per key period) where the policy in
        force allows it, else one-time pad (32 + bucket per frame); and how long the bytes left
        last, as `custody.pad.status` counts them (the durable mark), as the pad line and
        footer do."""
        keyed = key_period if self.policy.keyed_cover and can_carry(bucket) else None
        with self._pad_lock:
            journal = self.copy.journal
        left = status_of(self.copy.manifest, journal).remaining[self.copy.send_region.direction]
        return cover_cost(rate, bucket, left, keyed_period=keyed)

    def enable_cover(
        self, rate: float, bucket: int = 1024, key_period: float = DEFAULT_KEY_PERIOD
    ) -> CoverCost:
        """Send a concealed frame of `bucket` every 1/rate s: a COVER frame unless a query
        fragment is waiting, so the wire shows the same size at the same rate either way."""
        cost = self.cover_cost(rate, bucket, key_period)
        if self._cover is None:
            self._cover = CoverSender(
                self.copy,
                self._pad_lock,
                self.transport,
                self._w2f,
                rate,
                bucket,
                stats=self.stats,
                paused=self._nobody_to_cover,
                after_slot=self._drain_idle,
                keyed_period=cost.key_period if cost.keyed else None,
            )
        return cost

    def _nobody_to_cover(self) -> bool:
        return self.require_gateway and not self._serving_gateway_present()

    @property
    def cover_enabled(self) -> bool:
        """True while cover frames go out (False once the pad ran out and the sender stopped)."""
        return self._cover is not None and self._cover.running

    @property
    def cover_stopped_because(self) -> str | None:
        """Why the cover sender stopped by itself (None while it runs or when it is off)."""
        cover = self._cover
        return None if cover is None or cover.running else cover.stopped_because

    def disable_cover(self) -> None:
        if self._cover is not None:
            self._cover.stop()
            self._cover = None

    def close(self) -> None:
        self.disable_cover()
        for s in self._subs:
            s.close()
        self._subs.clear()
        self.outbox.close()
        self.rejections.flush()


def raise_no_answer(timeout: float) -> None:
    raise NoAnswerError(
        f"no answer from the facility within {timeout:g} s (the question was sent and "
        "retransmitted; its pad bytes stay consumed)"
    )


__all__ = ["Answer", "WorkstationClient"]
