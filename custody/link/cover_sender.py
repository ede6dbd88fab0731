"""The workstation's cover traffic (workstation→facility): one concealed frame per slot.

`CoverSender` sends a frame of one bucket every 1/rate s on its own thread: the next queued query
fragment if one is waiting, else a COVER frame, so the wire shows the same size at the same rate
either way (seal, threat 4). It seals under the client's pad lock (a `PadCopy` is not
thread-safe), pauses while no gateway serves the pad, and stops, saying why, when the pad runs out
or the medium fails. After each slot it lets the client drain its inbox of the facility's cover
frames (`after_slot`). `custody.link.workstation.WorkstationClient.enable_cover` starts one.

Pad-keyed cover (`keyed_period`, where the pad's policy allows it): every slot is sealed under the
current key period's key (custody.link.carrier), and a waiting fragment goes out inside a carrier.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable

from custody.errors import PadExhaustedError, RedDoorError
from custody.link.carrier import CoverStream
from custody.link.zenoh_transport import Transport
from custody.pad import frame
from custody.pad.pad_copy import PadCopy

log = logging.getLogger(__name__)


class CoverSender:
    def __init__(
        self,
        copy: PadCopy,
        pad_lock: threading.Lock,
        transport: Transport,
        key: str,
        rate: float,
        bucket: int,
        *,
        stats: Counter[str],
        paused: Callable[[], bool],
        after_slot: Callable[[], None],
        keyed_period: float | None = None,
    ) -> None:
        self.copy, self.pad_lock, self.transport, self.key = copy, pad_lock, transport, key
        self.interval, self.bucket = 1.0 / rate, bucket
        # Pad-keyed: one key per period, real frames carried (None: one-time pad cover).
        self.keyed = None if keyed_period is None else CoverStream(copy, bucket, keyed_period)
        self.stats = stats  # the client's
        self.paused = paused  # True: nobody to cover for (checked for each empty slot)
        self.after_slot = after_slot
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
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            sent: threading.Event | None = None
            real: bytes | None = None
            try:
                real, sent = self._slots.get_nowait()
            except queue.Empty:
                if self.paused():
                    # Nobody to cover for: no gateway serves this pad (down, or the routers
                    # apart). Pausing saves pad and tells an observer only what the gateway's
                    # own absence already does. One-way links (no presence check) keep going.
                    self.stats["cover-paused-slots"] += 1
                    continue
            if real is not None and self.keyed is None:
                data = real
            else:
                try:
                    with self.pad_lock:
                        data = (
                            frame.seal_cover(self.copy, self.bucket)
                            if self.keyed is None
                            else self.keyed.seal_slot(real)
                        )
                except PadExhaustedError:
                    self.stopped_because = "the workstation→facility bytes of this pad are used up"
                    log.warning("cover traffic stopped: pad exhausted")
                    return
                except RedDoorError as exc:  # the medium failed: stop, and say why
                    self.stopped_because = exc.message
                    log.error("cover traffic stopped: %s", exc.message)
                    return
                if real is None:
                    self.stats["cover-sent"] += 1
            try:
                self.transport.publish(self.key, data, droppable=True)
            except RedDoorError as exc:  # a transient link error: this slot is lost, go on
                self.stats["cover-publish-failed"] += 1
                log.warning("cover slot not sent: %s", exc.message)
            if sent is not None:
                sent.set()
            self.after_slot()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
