"""A one-way UDP relay standing in for a data diode, in the test process.

It receives on `listen`, forwards to `target` from a second socket, and never forwards back:
anything that arrives on its forwarding socket (a packet trying to go back through the diode)
is counted in `back_packets`. Faults are switched at run time: random loss, bursts of loss,
reordering, duplication; what it dropped is counted so tests compare it with the bridges'.
"""

from __future__ import annotations

import random
import select
import socket
import threading
from dataclasses import dataclass


@dataclass
class Faults:
    loss: float = 0.0  # probability of dropping each datagram
    burst_every: int = 0  # drop `burst_len` datagrams in a row every this many (0: off)
    burst_len: int = 20
    reorder: float = 0.0  # probability of holding a datagram back behind the next one
    duplicate: float = 0.0  # probability of sending a datagram twice


class OneWayRelay:
    def __init__(self, target: tuple[str, int], seed: int = 1) -> None:
        self.inbound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.inbound.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.inbound.bind(("127.0.0.1", 0))
        self.listen = self.inbound.getsockname()
        self.outbound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.outbound.bind(("127.0.0.1", 0))
        self.target = target
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.received = 0
        self.forwarded = 0
        self.dropped = 0
        self.duplicated = 0
        self.back_packets = 0
        self._held: bytes | None = None
        self._burst_left = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"udp/{self.listen[0]}:{self.listen[1]}"

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults
            self._burst_left = 0

    def _send(self, data: bytes) -> None:
        try:
            self.outbound.sendto(data, self.target)
            self.forwarded += 1
        except OSError:
            self.dropped += 1  # the receiver is down: the diode's light goes nowhere

    def _one(self, data: bytes) -> None:
        f = self.faults
        self.received += 1
        if self._burst_left:
            self._burst_left -= 1
            self.dropped += 1
            return
        if f.burst_every and self.received % f.burst_every == 0:
            self._burst_left = f.burst_len - 1
            self.dropped += 1
            return
        if f.loss and self.rng.random() < f.loss:
            self.dropped += 1
            return
        if self._held is None and f.reorder and self.rng.random() < f.reorder:
            self._held = data
            return
        self._send(data)
        if f.duplicate and self.rng.random() < f.duplicate:
            self._send(data)
            self.duplicated += 1
        if self._held is not None:
            held, self._held = self._held, None
            self._send(held)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.inbound, self.outbound], [], [], 0.1)
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    continue
                with self.lock:
                    if sock is self.outbound:
                        self.back_packets += 1  # never forwarded anywhere
                    else:
                        self._one(data)
            if not ready:
                with self.lock:  # nothing came behind a held datagram: let it go
                    if self._held is not None:
                        held, self._held = self._held, None
                        self._send(held)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.inbound.close()
        self.outbound.close()
