"""`reddoor diode receive`: datagrams off a one-way UDP link, published into this side's router.

The receiver binds its UDP address and never sends a datagram. Each datagram is checked
(custody.link.diode.datagram: CRC, version, direction, geometry) before anything else; blocks
are rebuilt from whichever of their FEC packets arrive (custody.link.diode.fec), each block once,
and its records are published exactly as the sender side saw them: frames on their keys (only
the frame keys of this direction), and, facility to SCIF, the gateways' liveliness tokens
mirrored as tokens of this receiver's session. When nothing has arrived for `stale_after`
seconds the mirrored tokens are withdrawn, so a workstation sees "no gateway" and, from the
status this receiver serves (`reddoor/v1/diode/<direction>/status`), when the facility was last
seen through the diode.

Counting without a back channel: every datagram carries the sender's sequence number, so
`lost` = the numbers skipped; `duplicates` are numbers seen twice; `junk` failed a check.
Nothing a datagram says is trusted beyond that: a forged frame is refused by the link's frame
checks like any other, and a forged presence can only show a gateway that is not there.
"""

from __future__ import annotations

import collections
import json
import logging
import socket
import threading
import time
from typing import Any

from custody.link import keys as link_keys
from custody.link.diode import datagram as dg
from custody.link.diode import fec
from custody.link.zenoh_transport import Subscription, Transport
from custody.pad import frame
from custody.pad.manifest import Direction
from custody.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

MAX_PENDING = 64  # blocks being rebuilt at once (each at most dg.MAX_BLOCK)
GIVE_UP_AFTER = 3.0  # seconds: a block not rebuilt by then is lost (the link retransmits)
SEQ_WINDOW = 1 << 16  # sequence numbers remembered for duplicate detection
DONE_BLOCKS = 4096  # rebuilt block numbers remembered (their late packets are ignored)


class _Pending:
    __slots__ = ("decoder", "first", "k", "sources", "symbol_size")

    def __init__(self, d: dg.Datagram, now: float) -> None:
        self.decoder = fec.BlockDecoder(d.block_len, d.symbol_size)
        self.first = now
        self.k = d.k
        self.symbol_size = d.symbol_size
        self.sources = 0  # source symbols that arrived (fewer than k at the end: FEC repaired)


class DiodeReceiver:
    def __init__(
        self,
        transport: Transport,
        direction: Direction,
        listen: tuple[str, int],
        *,
        stale_after: float = 5.0,
        rcvbuf: int = 8 << 20,
    ) -> None:
        self.transport = transport
        self.direction = direction
        self.listen = listen
        self.stale_after = stale_after
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind(listen)
        host, port = self.sock.getsockname()[:2]
        self.bound = (str(host), int(port))  # the port, when `listen` asked for any (0)
        self.sock.settimeout(0.2)
        self.counts = collections.Counter[str]()
        self.rejections = RateLimitedLog(log, "datagrams refused")
        self._lock = threading.Lock()  # counters and state vs the status query
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._subs: list[Subscription] = []
        self._tokens: dict[str, Subscription] = {}  # mirrored gateway tokens
        # the current sender session
        self.session: int | None = None
        self._high = -1  # highest sequence number seen
        self._low = 0  # lowest: where loss counting starts (see _new_session)
        self._seen: set[int] = set()
        self._distinct = 0
        self._pending: collections.OrderedDict[int, _Pending] = collections.OrderedDict()
        self._done: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._highest_block = -1
        self._low_block = 0
        self._sender_blocks = 0
        self._sender_dropped = 0
        self.last_heard: float | None = None  # monotonic
        self.last_heard_wall: float | None = None
        self._up = False

    def start(self) -> None:
        self._subs.append(
            self.transport.serve(link_keys.diode_status_key(self.direction), self._status_json)
        )
        self._thread = threading.Thread(target=self._run, name="diode-receive", daemon=True)
        self._thread.start()

    # -- the receive loop ------------------------------------------------------------------
    def _run(self) -> None:
        buf = bytearray(dg.MAX_DATAGRAM + 1)
        while not self._stopping.is_set():
            try:
                n = self.sock.recv_into(buf)
            except TimeoutError:
                n = -1
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            now = time.monotonic()
            if n >= 0:
                with self._lock:
                    self.handle(bytes(buf[:n]), now)
            self._housekeeping(now)

    def handle(self, data: bytes, now: float) -> None:
        """One datagram (under the lock): count it, and publish what it completes."""
        try:
            d = dg.decode(data, self.direction)
        except dg.DatagramError as exc:
            self.counts["junk"] += 1
            self.rejections.event("junk", "refused a datagram that is not ours (%s)", exc)
            return
        if d.session != self.session:
            self._new_session(d)
        if d.seq in self._seen or d.seq <= self._high - SEQ_WINDOW:
            self.counts["duplicates"] += 1
            return
        self._seen.add(d.seq)
        self._distinct += 1
        self._high = max(self._high, d.seq)
        self._low = min(self._low, d.seq)
        if len(self._seen) > 2 * SEQ_WINDOW:
            floor = self._high - SEQ_WINDOW
            self._seen = {s for s in self._seen if s > floor}
        self.counts["datagrams"] += 1
        self.last_heard, self.last_heard_wall = now, time.time()
        if not self._up:
            self._up = True
            log.info(
                "diode %s: datagrams arriving (session %016x)", self.direction.value, d.session
            )
        if d.kind == dg.KIND_HEARTBEAT:
            self.counts["heartbeats"] += 1
            self._sender_blocks = max(self._sender_blocks, d.blocks_sent)
            self._sender_dropped = d.dropped
            return
        self._data(d, now)

    def _new_session(self, d: dg.Datagram) -> None:
        joined = self.session is None
        if not joined:
            log.info(
                "diode %s: the sender restarted (session %016x); counting afresh",
                self.direction.value,
                d.session,
            )
            self.counts["sessions"] += 1
            self._fold_session()
        # A sender seen to restart counts from seq 0 and block 0, so the loss of its first
        # datagrams counts too. The first session this receiver hears may have begun before it
        # listened (it was restarted, or started second): what was sent before is not lost.
        self._low = d.seq if joined else 0
        self._low_block = (
            (d.blocks_sent if d.kind == dg.KIND_HEARTBEAT else d.block) if joined else 0
        )
        self.session = d.session
        self._high = -1
        self._seen.clear()
        self._distinct = 0
        self._pending.clear()
        self._done.clear()
        self._highest_block = -1
        self._sender_blocks = 0
        self.counts["blocks_session"] = 0

    def _fold_session(self) -> None:
        """Keep the ended session's losses in the totals."""
        self.counts["lost_before"] += self._lost()
        self.counts["blocks_lost_before"] += self._blocks_lost()

    def _lost(self) -> int:
        return max(0, self._high + 1 - self._low - self._distinct) if self._high >= 0 else 0

    def _blocks_lost(self) -> int:
        sent = max(self._sender_blocks, self._highest_block + 1)
        done = self.counts["blocks_session"] + len(self._pending)
        return max(0, sent - self._low_block - done)

    def _data(self, d: dg.Datagram, now: float) -> None:
        if d.block in self._done:
            self.counts["late_packets"] += 1  # the block was rebuilt without this one
            return
        self._highest_block = max(self._highest_block, d.block)
        self._low_block = min(self._low_block, d.block)
        p = self._pending.get(d.block)
        if p is None:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popitem(last=False)
                self.counts["blocks_evicted"] += 1
            p = self._pending[d.block] = _Pending(d, now)
        elif (d.block_len, d.k, d.symbol_size) != (p.decoder.block_len, p.k, p.symbol_size):
            self.counts["junk"] += 1
            return
        if d.esi < d.k:
            p.sources += 1
        block = p.decoder.add(d.packet)
        if p.decoder.failed:
            del self._pending[d.block]
            self.counts["blocks_failed"] += 1
            self.rejections.event("fec", "a block could not be rebuilt (malformed packets)")
            return
        if block is None:
            return
        del self._pending[d.block]
        self._done[d.block] = None
        if len(self._done) > DONE_BLOCKS:
            self._done.popitem(last=False)
        self.counts["blocks"] += 1
        self.counts["blocks_session"] += 1
        if p.sources < p.k:
            self.counts["blocks_repaired"] += 1
        self._deliver(block)

    def _deliver(self, block: bytes) -> None:
        try:
            for rtype, key, payload in dg.records(block):
                if rtype == dg.RECORD_PUBLICATION:
                    self._publish(key, payload)
                else:
                    self._mirror(payload)
        except dg.DatagramError:
            self.counts["junk_blocks"] += 1
            self.rejections.event("block", "refused the rest of a malformed block")

    def _publish(self, key: str, payload: bytes) -> None:
        parsed = link_keys.parse_frame_key(key)
        if (
            parsed is None
            or parsed[1] is not self.direction
            or key != link_keys.frame_key(*parsed)
            or len(payload) > frame.OVERHEAD + frame.MAX_BODY
        ):
            self.counts["refused_keys"] += 1
            self.rejections.event("key", "refused a publication on a key this diode does not carry")
            return
        self.transport.publish(key, payload)
        self.counts["published"] += 1

    def _mirror(self, payload: bytes) -> None:
        """Make this side's mirrored gateway tokens what the facility side has now."""
        if self.direction is not Direction.F2W:
            self.counts["refused_keys"] += 1
            return
        try:
            wanted = {k for k in payload.decode().split("\n") if k}
        except UnicodeDecodeError:
            wanted = {"\ufffd"}  # not a key: refused below like any foreign key
        good = {k for k in wanted if link_keys.is_gateway_token_key(k)}
        if len(good) != len(wanted) or len(good) > dg.MAX_PRESENCE_KEYS:
            self.counts["refused_keys"] += 1
            self.rejections.event("presence", "refused a presence snapshot with foreign keys")
            return
        self.counts["presence"] += 1
        for key in set(self._tokens) - good:
            self._tokens.pop(key).close()
        for key in good - set(self._tokens):
            self._tokens[key] = self.transport.declare_token(key)

    def _housekeeping(self, now: float) -> None:
        with self._lock:
            for block, p in list(self._pending.items()):
                if now - p.first > GIVE_UP_AFTER:
                    del self._pending[block]
                    self.counts["blocks_given_up"] += 1
            if (
                self._up
                and self.last_heard is not None
                and now - self.last_heard > self.stale_after
            ):
                self._up = False
                withdrawn = len(self._tokens)
                for sub in self._tokens.values():
                    sub.close()
                self._tokens.clear()
                log.warning(
                    "diode %s: nothing received for %.0f s (the diode, the sender across it or "
                    "the other side is down)%s",
                    self.direction.value,
                    now - self.last_heard,
                    f"; withdrew {withdrawn} mirrored gateway tokens" if withdrawn else "",
                )

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            c = self.counts
            age = None if self.last_heard is None else round(now - self.last_heard, 3)
            return {
                "direction": self.direction.value,
                "listen": f"udp/{self.bound[0]}:{self.bound[1]}",
                "alive": self._up,
                "heard_s_ago": age,
                "stale_after_s": self.stale_after,
                "session": None if self.session is None else f"{self.session:016x}",
                "sender_restarts": c["sessions"],
                "datagrams_received": c["datagrams"],
                "datagrams_lost": c["lost_before"] + self._lost(),
                "duplicates": c["duplicates"],
                "junk": c["junk"],
                "heartbeats": c["heartbeats"],
                "blocks_rebuilt": c["blocks"],
                "blocks_repaired": c["blocks_repaired"],
                "blocks_lost": c["blocks_lost_before"] + self._blocks_lost(),
                "published": c["published"],
                "refused_keys": c["refused_keys"],
                "sender_dropped": self._sender_dropped,
                "gateways": sorted(
                    {
                        n
                        for k in self._tokens
                        if k.endswith("/alive") and (n := link_keys.gateway_name_of(k))
                    }
                ),
            }

    def _status_json(self) -> bytes:
        return json.dumps(self.status(), sort_keys=True).encode()

    def summary(self) -> str:
        s = self.status()
        return (
            f"{s['datagrams_received']} datagrams, {s['datagrams_lost']} lost, "
            f"{s['duplicates']} duplicates, {s['junk']} junk; {s['blocks_rebuilt']} blocks "
            f"({s['blocks_repaired']} repaired by FEC, {s['blocks_lost']} lost); "
            f"{s['published']} frames published"
        )

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.rejections.flush()
        for sub in [*self._subs, *self._tokens.values()]:
            sub.close()
        self._subs.clear()
        self._tokens.clear()
        self.sock.close()
