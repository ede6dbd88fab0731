"""The gateway announces how far it has received questions on each pad (its receive mark).

The mark is a liveliness token, `gateway_floor_key(name, pad, floor)`: an unauthenticated hint
that a workstation whose journal is behind it (a restored or copied stick) uses to skip ahead
instead of sealing a question under pad bytes the facility has already consumed
(custody.link.workstation). The frame workers say when a lane's mark moved (`moved`);
`ReceiveMarkAnnouncer.run`, on its own thread that `custody.link.gateway.Gateway` starts,
re-declares the token, off the answer's critical path. The mark is read under the lane's lock.
"""

from __future__ import annotations

import logging
import threading

from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.lane import Lane
from custody.link.zenoh_transport import Transport

log = logging.getLogger(__name__)


class ReceiveMarkAnnouncer:
    def __init__(
        self,
        transport: Transport,
        name: str,
        *,
        lanes: dict[bytes, Lane],
        stopping: threading.Event,
        interval: float,
    ) -> None:
        self.transport = transport
        self.name = name
        self.lanes = lanes  # the gateway's, filled when it starts
        self.stopping = stopping
        self.interval = interval
        self.event = threading.Event()  # set: some lane's mark moved (or the gateway stops)

    def moved(self, lane: Lane) -> None:
        """The lane's receive mark moved (a frame was opened, or refused after authentication)."""
        lane.floor_dirty = True
        if not self.event.is_set():
            self.event.set()

    def wake(self) -> None:
        self.event.set()

    def announce(self, lane: Lane) -> None:
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

    def run(self) -> None:
        # Off the answer's critical path. The first mark that moves after a quiet spell is
        # re-announced at once (typically within a millisecond of the question); while questions
        # keep coming, at most once per `interval`: each re-announcement is a liveliness
        # token undeclared and declared, work for the router and for every workstation, and
        # the hint only has to be current for the next question from another copy of a stick.
        while not self.stopping.is_set():
            self.event.wait(0.5)
            self.event.clear()
            announced = False
            for lane in list(self.lanes.values()):
                if lane.floor_dirty and not self.stopping.is_set():
                    lane.floor_dirty = False
                    announced = True
                    try:
                        self.announce(lane)
                    except Exception as exc:
                        log.error("could not announce the receive mark (%s)", type(exc).__name__)
            if announced:
                self.stopping.wait(self.interval)
