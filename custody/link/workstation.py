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
logged. Zenoh callbacks only enqueue; all pad work happens on the caller's thread.
"""

from __future__ import annotations

import codecs
import logging
import os
import queue
import secrets
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from custody.bounded_read import read_file
from custody.durable_file import storage_error
from custody.errors import (
    AnswerInterruptedError,
    BackendError,
    FacilityPadExhaustedError,
    FrameRejected,
    GatewayDownError,
    InputTooLarge,
    LinkError,
    NoAnswerError,
    PadExhaustedError,
    PadRollbackError,
    RedDoorError,
    UsageError,
    WrongPadError,
)
from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.messages import CoverCost, cover_cost
from custody.link.zenoh_transport import Subscription, Transport
from custody.pad import frame
from custody.pad import usage as pad_usage
from custody.pad.manifest import Direction, Side
from custody.pad.pad_copy import PadCopy
from custody.pad.store import default_state_dir
from custody.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

OUTBOX_MAGIC = b"RDOUTBOX1\n"  # the per-file layout of version 0.1
OUTBOX_LOG = "outbox.log"
# Pending queries only (the log is emptied when none is pending): a handful of questions of at
# most 4 MiB each. Larger is not an outbox this client wrote.
MAX_OUTBOX_BYTES = 64 << 20
# The facility's receive mark arrives as an unauthenticated liveliness hint. Gaps up to what a
# gateway crash can lose (one adaptive receive window, at most 1 MiB, plus slack) are skipped
# automatically; a larger gap means this copy's journal is older than the pad's use (a restored
# or copied stick) and needs the user's explicit word. A forged hint can thus make a workstation
# skip at most AUTO_SKIP pad bytes per question: a denial of pad, never a reuse.
AUTO_SKIP = 1280 << 10
GONE_GRACE = 2.0  # seconds without the serving gateway's token before an answer is given up


@dataclass
class Answer:
    query_id: str
    text: str
    query_frames: int
    answer_frames: int
    retransmissions: int
    w2f_bytes: int  # pad bytes the question consumed
    f2w_bytes: int  # pad bytes the answer consumed


@dataclass(frozen=True)
class Presence:
    gateways: tuple[str, ...]
    serving_pad: tuple[str, ...]
    w2f_floor: int = 0  # the gateway's hint: lowest question offset it accepts

    @property
    def up(self) -> bool:
        return bool(self.gateways)


@dataclass
class _Pending:
    """What ask() waits for: ordered answer frames of one query id."""

    query_id: bytes
    frames: list[bytes]
    next_seq: int = 0
    held: dict[int, frame.Message] = field(default_factory=dict)
    started: bool = False
    done: bool = False
    f2w_bytes: int = 0
    answer_frames: int = 0


class Outbox:
    """Exact frame bytes of queries not yet answered: one append-only log per pad.

    Records (big-endian): `Q` query id (16) | u32 frame count | (u32 length | frame)*, written
    before the frames are published; `D` query id (16) when the answer ended. When no query is
    pending the log is truncated to empty, so it stays small.

    Not fsynced by default, and that is safe for invariant 1: the pad journal has reserved the
    frames' ranges durably before they were sealed, so an outbox lost in a power cut only loses
    the *report* of the interrupted query — its pad range is skipped, never sealed again. A
    process crash (kill -9) loses nothing: the page cache keeps what `write` returned from.
    `durable=True` adds an fdatasync per query for a medium where the report must survive power
    loss too.
    """

    def __init__(self, directory: Path, durable: bool = False) -> None:
        self.dir = directory
        self.durable = durable
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / OUTBOX_LOG
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise storage_error(exc, self.path) from None
        self._lock = threading.Lock()
        self._legacy: set[str] = set()
        self._pending = self._load()

    def _load(self) -> dict[str, list[bytes]]:
        out: dict[str, list[bytes]] = {}
        size = os.fstat(self._fd).st_size
        if size > MAX_OUTBOX_BYTES:
            raise InputTooLarge(
                f"outbox {self.path} is larger than its limit of {MAX_OUTBOX_BYTES:,} bytes "
                "(not written by this client?); move it away to continue"
            )
        data = os.pread(self._fd, size, 0)
        pos = 0
        while pos + 17 <= len(data):
            tag, qid = data[pos : pos + 1], data[pos + 1 : pos + 17].hex()
            pos += 17
            if tag == b"D":
                out.pop(qid, None)
                continue
            if tag != b"Q" or pos + 4 > len(data):
                break  # torn tail (power loss while writing): nothing after it was written
            (count,) = struct.unpack_from(">I", data, pos)
            pos += 4
            frames = []
            for _ in range(count):
                if pos + 4 > len(data):
                    break
                (n,) = struct.unpack_from(">I", data, pos)
                frames.append(data[pos + 4 : pos + 4 + n])
                pos += 4 + n
            if pos > len(data) or len(frames) != count:
                break
            out[qid] = frames
        for path in sorted(self.dir.glob("*.frames")):  # the per-file layout of version 0.1
            old = read_file(path, MAX_OUTBOX_BYTES, "outbox file")
            if old.startswith(OUTBOX_MAGIC):
                out.setdefault(path.stem, _legacy_frames(old))
                self._legacy.add(path.stem)
        return out

    def _write(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if self.durable:
                os.fdatasync(self._fd)
        except OSError as exc:
            raise storage_error(exc, self.path) from None

    def put(self, query_id: bytes, frames: list[bytes]) -> None:
        rec = b"Q" + query_id + struct.pack(">I", len(frames))
        rec += b"".join(struct.pack(">I", len(f)) + f for f in frames)
        with self._lock:
            self._write(rec)
            self._pending[query_id.hex()] = frames

    def remove(self, query_id: bytes) -> None:
        with self._lock:
            if self._pending.pop(query_id.hex(), None) is None:
                return
            if query_id.hex() in self._legacy:
                (self.dir / f"{query_id.hex()}.frames").unlink(missing_ok=True)
            if self._pending:
                self._write(b"D" + query_id)
            else:
                try:
                    os.ftruncate(self._fd, 0)
                except OSError as exc:
                    raise storage_error(exc, self.path) from None

    def pending(self) -> dict[str, list[bytes]]:
        with self._lock:
            return dict(self._pending)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _legacy_frames(data: bytes) -> list[bytes]:
    frames, pos = [], len(OUTBOX_MAGIC)
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        frames.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return frames


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
        self._alive: set[str] = set()
        self._alive_version = 0  # bumped by every liveliness change
        self._presence_seen: tuple[int, Presence] | None = None  # (version, presence)
        self._alive_lock = threading.Lock()
        self._subs: list[Subscription] = [
            transport.subscribe(link_keys.frame_key(self.pad_id, Direction.F2W), self._enqueue),
        ]
        self._cover: _CoverSender | None = None
        if require_gateway:
            self._subs.append(
                transport.watch_liveliness(f"{link_keys.PREFIX}/gateway/**", self._on_liveliness)
            )

    # -- Zenoh threads: enqueue only -------------------------------------------------------
    def _enqueue(self, key: str, data: bytes) -> None:
        try:
            self._inbox.put_nowait(data)
        except queue.Full:
            self.stats["inbox-full-dropped"] += 1  # recovered by retransmission

    def _on_liveliness(self, key: str, alive: bool) -> None:
        with self._alive_lock:
            (self._alive.add if alive else self._alive.discard)(key)
            self._alive_version += 1

    # -- presence (no pad spent) -----------------------------------------------------------
    def presence(self, timeout: float | None = None) -> Presence:
        # Tokens arrive through the liveliness subscriber; right after the session opened it may
        # not have its history yet, so ask directly too, for up to `timeout` seconds.
        seen = self._presence_seen
        if seen is not None and seen[0] == self._alive_version:
            return seen[1]  # nothing changed on the link since it was complete
        deadline = time.monotonic() + (timeout or self.presence_timeout)
        suffix = f"/pad/{self.pad_id.hex()}"

        def complete(found: set[str]) -> bool:
            # The gateway's alive token and its per-pad tokens arrive separately: a gateway
            # seen without this pad's token yet is not an answer until the deadline.
            return any(k.endswith("/alive") for k in found) and any(
                k.endswith(suffix) for k in found
            )

        while True:
            with self._alive_lock:
                keys = set(self._alive)
                version = self._alive_version
            if complete(keys):
                from_tokens = True
                break
            from_tokens = False
            keys |= set(self.transport.alive(f"{link_keys.PREFIX}/gateway/**", 0.25))
            if complete(keys) or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        gateways = sorted(
            {n for k in keys if k.endswith("/alive") and (n := link_keys.gateway_name_of(k))}
        )
        serving = sorted(
            {n for k in keys if k.endswith(suffix) and (n := link_keys.gateway_name_of(k))}
        )
        floors = [
            f for k in keys if f"{suffix}/floor/" in k and (f := link_keys.floor_of(k)) is not None
        ]
        presence = Presence(tuple(gateways), tuple(serving), max(floors, default=0))
        if from_tokens:
            self._presence_seen = (version, presence)
        return presence

    def check_gateway(self) -> Presence:
        p = self.presence()
        if not p.up:
            raise GatewayDownError(
                "no facility gateway is on the link (gateway down, or the routers are not "
                "connected); no pad was spent"
            )
        if not p.serving_pad:
            raise WrongPadError(
                f"the facility gateway ({', '.join(p.gateways)}) does not serve pad "
                f"{self.copy.manifest.pad_id_display} (wrong pad for this facility, or the pad "
                "was suspended, compromised or destroyed at the facility); no pad was spent"
            )
        return p

    # -- asking ----------------------------------------------------------------------------
    def query_cost(self, question: str, classification: str | None = None) -> int:
        body = link_messages.encode_query(question, classification)
        parts = self._parts(body)
        cover = self._cover
        if cover is not None:  # every frame fills a cover slot of one bucket
            return len(parts) * (frame.KEY_LEN + cover.bucket)
        return sum(link_messages.frame_cost(len(p)) for p in parts)

    def _parts(self, body: bytes) -> list[bytes]:
        size = frame.MAX_PAYLOAD
        if self._cover is not None:
            size = self._cover.bucket - frame.INNER_LEN
        return link_messages.split(body, size)

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
                    self._catch_up_with_facility(floor)
            with self._pad_lock:
                f2w_floor = link_messages.receive_floor(self.copy)
            body = link_messages.encode_query(question, classification, f2w_floor)
            if len(body) > link_messages.MAX_QUERY_BYTES:
                raise UsageError(f"question is larger than {link_messages.MAX_QUERY_BYTES} bytes")
            parts = self._parts(body)
            query_id = secrets.token_bytes(16)
            frames = self._seal_query(query_id, parts)
            self.outbox.put(query_id, frames)
            pending = _Pending(query_id, frames)
            try:
                text = self._exchange(pending, on_chunk, timeout or self.answer_timeout)
            finally:
                self.outbox.remove(query_id)
            answer = Answer(
                query_id.hex(),
                text,
                len(frames),
                pending.answer_frames,
                self.stats["retransmitted-queries"],
                sum(frame.parse_header(f).range_len for f in frames),
                pending.f2w_bytes,
            )
            pad_usage.record_query(
                self.pad_id, answer.w2f_bytes, answer.f2w_bytes, path=self._usage_path
            )
            return answer

    def _catch_up_with_facility(self, floor: int) -> None:
        """Never seal below what the facility has already received on this pad."""
        with self._pad_lock:
            gap = floor - link_messages.next_send_offset(self.copy)
            if gap <= 0:
                return
            if gap > AUTO_SKIP and not self.accept_facility_mark:
                raise PadRollbackError(
                    f"the facility has received questions on this pad up to offset {floor:,}, "
                    f"{gap:,} bytes past this copy's journal: the journal is older than the "
                    "pad's use (a restored backup, or another copy of the stick was used); "
                    "nothing was sent. Check the stick's custody, then skip explicitly "
                    "(reddoor ask --accept-facility-mark) — skipping never reuses pad"
                )
            skipped = link_messages.skip_send_to(self.copy, floor, gap)
        if skipped:
            log.warning(
                "skipped %d w2f pad bytes up to the facility's receive mark (journal was behind)",
                skipped,
            )

    def _seal_query(self, query_id: bytes, parts: list[bytes]) -> list[bytes]:
        conceal = self._cover is not None
        bucket = self._cover.bucket if self._cover is not None else None
        if bucket is not None:  # every fragment fills one cover slot
            need = len(parts) * (frame.KEY_LEN + bucket)
        else:
            need = sum(link_messages.frame_cost(len(p)) for p in parts)
        with self._pad_lock:
            answer_room = self.copy.remaining_receive()
            if answer_room < 2 * link_messages.frame_cost(0):
                raise FacilityPadExhaustedError(
                    "pad exhausted: the facility→workstation region has no room left for an "
                    "answer; nothing was sent; use a new pad"
                )
            left = self.copy.remaining_send()
            if need > left:
                # Checked up front so that no fragment is sealed for a query that cannot go.
                raise PadExhaustedError(
                    f"pad exhausted: this question needs {need} pad bytes, the "
                    f"workstation→facility region has {left} left; use a new pad"
                )
            return [
                frame.seal(
                    self.copy,
                    frame.Kind.QUERY,
                    part,
                    msg_id=query_id,
                    seq=i,
                    final=i == len(parts) - 1,
                    conceal=conceal,
                    body_len=bucket,
                )
                for i, part in enumerate(parts)
            ]

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

    def _exchange(self, p: _Pending, on_chunk: Callable[[str], None] | None, timeout: float) -> str:
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

    def _serving_gateway_present(self) -> bool:
        suffix = f"/pad/{self.pad_id.hex()}"
        with self._alive_lock:
            return any(k.endswith(suffix) for k in self._alive)

    def _handle(self, p: _Pending, data: bytes, deliver: Callable[[bytes], None]) -> bool:
        """Process one received frame; True if it advanced the answer."""
        try:
            with self._pad_lock:
                msg = frame.open_frame(self.copy, data)
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
        p.started = True
        p.answer_frames += 1
        p.f2w_bytes += msg.range_len
        p.held[msg.seq] = msg
        while p.next_seq in p.held:
            m = p.held.pop(p.next_seq)
            p.next_seq += 1
            if m.kind in (frame.Kind.ANSWER_CHUNK, frame.Kind.ANSWER_END):
                deliver(m.payload)
            if m.kind is frame.Kind.ANSWER_END:
                p.done = True
            elif m.kind is frame.Kind.ERROR:
                raise _facility_error(m.payload)
            elif m.kind is frame.Kind.PAD_EXHAUSTED:
                raise FacilityPadExhaustedError(
                    "pad exhausted: the facility→workstation region of this pad has run out "
                    "(the answer was cut off); use a new pad"
                )
        return True

    def _drain_idle(self) -> None:
        """Between questions, open and discard what arrived (the facility's cover frames), so
        the inbox never fills and the receive window keeps moving. Skipped while ask() runs."""
        if not self._ask_lock.acquire(blocking=False):
            return
        try:
            idle = _Pending(bytes(16), [])
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
    def cover_cost(self, rate: float, bucket: int) -> CoverCost:
        return cover_cost(rate, bucket, self.copy.remaining_send())

    def enable_cover(self, rate: float, bucket: int = 1024) -> CoverCost:
        """Send a concealed frame of `bucket` every 1/rate s: a COVER frame unless a query
        fragment is waiting, so the wire shows the same size at the same rate either way."""
        cost = self.cover_cost(rate, bucket)
        if self._cover is None:
            self._cover = _CoverSender(self, rate, bucket)
        return cost

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


class _CoverSender:
    def __init__(self, client: WorkstationClient, rate: float, bucket: int) -> None:
        self.client, self.interval, self.bucket = client, 1.0 / rate, bucket
        self._slots: queue.Queue[tuple[bytes, threading.Event | None]] = queue.Queue()
        self._stop = threading.Event()
        self.stopped_because: str | None = None
        self._thread = threading.Thread(target=self._run, name="cover", daemon=True)
        self._thread.start()

    def enqueue(self, frames: list[bytes]) -> threading.Event:
        """Queue frames for the next slots; the event is set when the last one has gone out."""
        sent = threading.Event()
        for i, f in enumerate(frames):
            self._slots.put((f, sent if i == len(frames) - 1 else None))
        if not frames:
            sent.set()
        return sent

    def waiting(self) -> bool:
        return not self._slots.empty()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        c = self.client
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            sent: threading.Event | None = None
            try:
                data, sent = self._slots.get_nowait()
            except queue.Empty:
                if c.require_gateway and not c._serving_gateway_present():
                    # Nobody to cover for: no gateway serves this pad (down, or the routers
                    # apart). Pausing saves pad and tells an observer only what the gateway's
                    # own absence already does. One-way links (no presence check) keep going.
                    c.stats["cover-paused-slots"] += 1
                    continue
                try:
                    with c._pad_lock:
                        data = frame.seal_cover(c.copy, self.bucket)
                except PadExhaustedError:
                    self.stopped_because = "the workstation→facility bytes of this pad are used up"
                    log.warning("cover traffic stopped: pad exhausted")
                    return
                except RedDoorError as exc:  # the medium failed: stop, and say why
                    self.stopped_because = exc.message
                    log.error("cover traffic stopped: %s", exc.message)
                    return
                c.stats["cover-sent"] += 1
            try:
                c.transport.publish(c._w2f, data, droppable=True)
            except RedDoorError as exc:  # a transient link error: this slot is lost, go on
                c.stats["cover-publish-failed"] += 1
                log.warning("cover slot not sent: %s", exc.message)
            if sent is not None:
                sent.set()
            c._drain_idle()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def raise_no_answer(timeout: float) -> None:
    raise NoAnswerError(
        f"no answer from the facility within {timeout:g} s (the question was sent and "
        "retransmitted; its pad bytes stay consumed)"
    )


def _facility_error(payload: bytes) -> LinkError:
    text = payload.decode("utf-8", "replace")[:300].replace("\n", " ")
    if text.startswith("restart:"):
        return AnswerInterruptedError(f"the facility reports: {text[8:].strip()}")
    return BackendError(f"the facility reports: {text}")


__all__ = ["Answer", "CoverCost", "Presence", "WorkstationClient", "cover_cost"]
