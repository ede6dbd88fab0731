"""`reddoor diode send`: the link traffic of one direction, out through a one-way UDP link.

The sender subscribes on its side's router to the frames of its direction (and, facility to
SCIF, to the gateways' liveliness tokens: presence and receive marks), batches what arrives
into blocks, adds RaptorQ repair symbols (custody.link.diode.fec) and sends the packets as
datagrams (custody.link.diode.datagram) no faster than `max_rate` bits per second, with a
heartbeat every `heartbeat` seconds. It never reads: its socket is connected to the diode's
address and shut down for reading, and an error from the network (an ICMP reply where a
diode would give none) is counted, never acted on.

Nothing waits for the diode: a block is sent as soon as the previous one has left, carrying
whatever arrived meanwhile. What the queue cannot hold (`queue_bytes`, when the link's
traffic outruns `max_rate`) is dropped and counted; the link's own retransmission resends it.
"""

from __future__ import annotations

import collections
import json
import logging
import os
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

log = logging.getLogger(__name__)

BLOCK_FILL = 64 << 10  # a block carries up to this much, or one frame if larger
PRESENCE_EVERY = 0.05  # a changed liveliness snapshot leaves at most this often
IP_UDP_OVERHEAD = 28  # counted against the rate: what the diode carries per datagram


class RateLimiter:
    """A token bucket in bytes: `take(n)` sleeps until n bytes may leave at `rate` bits/s."""

    def __init__(self, bits_per_second: int, burst: int) -> None:
        self.rate = bits_per_second / 8.0
        self.burst = float(burst)
        self.allowance = self.burst
        self.last = time.monotonic()

    def take(self, n: int) -> None:
        now = time.monotonic()
        self.allowance = min(self.burst, self.allowance + (now - self.last) * self.rate)
        self.last = now
        if self.allowance < n:
            time.sleep((n - self.allowance) / self.rate)
            # Credit the time actually slept: a sleep overshoots by tens of µs, as much as a
            # datagram takes at 100 Mbit/s; dropping it sent at two thirds of `--max-rate`.
            now = time.monotonic()
            self.allowance = min(self.burst, self.allowance + (now - self.last) * self.rate)
            self.last = now
        self.allowance -= n


class DiodeSender:
    def __init__(
        self,
        transport: Transport,
        direction: Direction,
        to: tuple[str, int],
        *,
        max_rate: int,
        datagram_size: int = 1400,
        overhead: float = 0.25,
        heartbeat: float = 1.0,
        queue_bytes: int = 64 << 20,
    ) -> None:
        self.transport = transport
        self.direction = direction
        self.to = to
        self.symbol_size = dg.symbol_size_for(datagram_size)
        self.overhead = overhead
        self.heartbeat = heartbeat
        self.queue_bytes = queue_bytes
        self.session = int.from_bytes(os.urandom(8), "big")
        self.seq = 0
        self.block = 0
        self.limiter = RateLimiter(max_rate, burst=max(4 * datagram_size, max_rate // 8 // 1000))
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._queue: collections.deque[tuple[str, bytes]] = collections.deque()
        self._queued = 0
        self._tokens: set[str] = set()
        self._presence_dirty = direction is Direction.F2W
        self._last_presence = 0.0
        self._subs: list[Subscription] = []
        self._thread: threading.Thread | None = None
        self.counts = collections.Counter[str]()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.sock.connect(to)
        self.sock.shutdown(socket.SHUT_RD)  # one way: this socket is never read

    # -- what crosses ----------------------------------------------------------------------
    def start(self) -> None:
        pattern = f"{link_keys.PREFIX}/pad/*/{self.direction.value}"
        self._subs.append(self.transport.subscribe(pattern, self._on_frame))
        if self.direction is Direction.F2W:
            self._subs.append(
                self.transport.watch_liveliness(f"{link_keys.PREFIX}/gateway/**", self._on_token)
            )
        self._subs.append(
            self.transport.serve(link_keys.diode_sender_key(self.direction), self._status_json)
        )
        self._thread = threading.Thread(target=self._run, name="diode-send", daemon=True)
        self._thread.start()

    def _on_frame(self, key: str, payload: bytes) -> None:
        """A Zenoh thread: enqueue only."""
        if len(payload) > frame.OVERHEAD + frame.MAX_BODY:
            self.counts["oversized"] += 1
            return
        with self._lock:
            if self._queued + len(payload) > self.queue_bytes:
                self.counts["dropped"] += 1
                return
            self._queue.append((key, payload))
            self._queued += len(payload)
        self._wake.set()

    def _on_token(self, key: str, alive: bool) -> None:
        with self._lock:
            (self._tokens.add if alive else self._tokens.discard)(key)
            self._presence_dirty = True
        self._wake.set()

    # -- the send loop ---------------------------------------------------------------------
    def _run(self) -> None:
        next_beat = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_beat:
                self._send_heartbeat()
                with self._lock:
                    if self.direction is Direction.F2W:
                        self._presence_dirty = True  # a snapshot every beat: losses heal
                next_beat = max(next_beat + self.heartbeat, now)
            block = self._take_block(now)
            if block:
                self._send_block(block)
                continue
            self._wake.wait(timeout=max(0.0, min(next_beat - time.monotonic(), PRESENCE_EVERY)))
            self._wake.clear()

    def _take_block(self, now: float) -> bytes:
        parts: list[bytes] = []
        size = 0
        with self._lock:
            if self._presence_dirty and now - self._last_presence >= PRESENCE_EVERY:
                snapshot = "\n".join(sorted(self._tokens)[: dg.MAX_PRESENCE_KEYS]).encode()
                parts.append(dg.encode_record(dg.RECORD_PRESENCE, "", snapshot))
                size += len(parts[-1])
                self._presence_dirty = False
                self._last_presence = now
                self.counts["presence"] += 1
            while self._queue:
                key, payload = self._queue[0]
                n = dg.record_len(key, payload)
                if parts and size + n > BLOCK_FILL:
                    break
                self._queue.popleft()
                self._queued -= len(payload)
                parts.append(dg.encode_record(dg.RECORD_PUBLICATION, key, payload))
                size += n
                self.counts["frames"] += 1
        return b"".join(parts)

    def _send_block(self, block: bytes) -> None:
        k = -(-len(block) // self.symbol_size)
        for packet in fec.encode(block, self.symbol_size, self.overhead):
            self._send(
                dg.encode_data(
                    self.direction,
                    self.session,
                    self.seq,
                    block=self.block,
                    block_len=len(block),
                    symbol_size=self.symbol_size,
                    k=k,
                    packet=packet,
                )
            )
        self.block += 1
        self.counts["blocks"] += 1

    def _send_heartbeat(self) -> None:
        self._send(
            dg.encode_heartbeat(
                self.direction,
                self.session,
                self.seq,
                blocks_sent=self.block,
                dropped=self.counts["dropped"],
                interval_ms=round(self.heartbeat * 1000),
            )
        )
        self.counts["heartbeats"] += 1

    def _send(self, data: bytes) -> None:
        self.limiter.take(len(data) + IP_UDP_OVERHEAD)
        self.seq += 1  # the sequence number is spent even if the network refuses the datagram
        try:
            try:
                self.sock.send(data)
            except ConnectionRefusedError:
                # Linux reports an ICMP "port unreachable" (a test network, a receiver not yet
                # up; a diode gives none) on the next send, which then sends nothing: once more.
                self.sock.send(data)
        except OSError as exc:
            # An ICMP error on a test network, a full buffer: never a reason to stop or to wait.
            self.counts["send_errors"] += 1
            if self.counts["send_errors"] == 1:
                log.warning("diode send: the network refused a datagram (%s); going on", exc)
            return
        self.counts["datagrams"] += 1
        self.counts["bytes"] += len(data)

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        c = self.counts
        with self._lock:
            queued = len(self._queue)
        return {
            "direction": self.direction.value,
            "to": f"udp/{self.to[0]}:{self.to[1]}",
            "session": f"{self.session:016x}",
            "datagrams_sent": c["datagrams"],
            "bytes_sent": c["bytes"],
            "blocks_sent": c["blocks"],
            "frames_sent": c["frames"],
            "presence_snapshots": c["presence"],
            "heartbeats": c["heartbeats"],
            "dropped": c["dropped"],
            "send_errors": c["send_errors"],
            "queued": queued,
        }

    def _status_json(self) -> bytes:
        return json.dumps(self.status(), sort_keys=True).encode()

    def summary(self) -> str:
        s = self.status()
        return (
            f"{s['frames_sent']} frames in {s['blocks_sent']} blocks, {s['datagrams_sent']} "
            f"datagrams ({s['bytes_sent']:,} bytes), {s['dropped']} dropped at the queue, "
            f"{s['send_errors']} send errors"
        )

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sub in self._subs:
            sub.close()
        self._subs.clear()
        self.sock.close()
