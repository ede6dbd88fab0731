"""What a workstation knows of the facility without spending pad: liveliness tokens.

Gateways declare tokens (custody.link.keys): one that they are alive, one per pad they serve, one
with their receive mark on each pad (custody.link.receive_mark) and one with the frame policy
they enforce on it (a workstation only ever becomes stricter by it). `GatewayWatch` keeps the
tokens a liveliness subscriber reports (on Zenoh threads, under its lock) and answers
`presence()`: which gateways are up, which serve this pad, and the highest receive mark.
`catch_up_with_facility` then moves this copy's send offset up to that mark, so that a copy whose
journal is behind (a restored or copied stick) never seals a question under pad bytes the facility
has already consumed. `custody.link.workstation.WorkstationClient` uses both before it asks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from custody.errors import PadRollbackError
from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.diode.status import DiodeSeen
from custody.link.zenoh_transport import Transport
from custody.pad.frame_policy import FramePolicy
from custody.pad.pad_copy import PadCopy

log = logging.getLogger(__name__)

# The facility's receive mark arrives as an unauthenticated liveliness hint. Gaps up to what a
# gateway crash can lose (one adaptive receive window, at most 1 MiB, plus slack) are skipped
# automatically; a larger gap means this copy's journal is older than the pad's use (a restored
# or copied stick) and needs the user's explicit word. A forged hint can thus make a workstation
# skip at most AUTO_SKIP pad bytes per question: a denial of pad, never a reuse.
AUTO_SKIP = 1280 << 10


@dataclass(frozen=True)
class Presence:
    gateways: tuple[str, ...]
    serving_pad: tuple[str, ...]
    w2f_floor: int = 0  # the gateway's hint: lowest question offset it accepts
    diode: DiodeSeen | None = None  # across a data diode: what this side's receiver last heard
    policy: FramePolicy | None = None  # the strictest frame policy announced for the pad

    @property
    def up(self) -> bool:
        return bool(self.gateways)


class GatewayWatch:
    """The gateways' liveliness tokens as one pad's workstation sees them."""

    def __init__(self, transport: Transport, pad_id: bytes) -> None:
        self.transport = transport
        self.pad_id = pad_id
        self._alive: set[str] = set()
        self._alive_version = 0  # bumped by every liveliness change
        self._presence_seen: tuple[int, Presence] | None = None  # (version, presence)
        self._alive_lock = threading.Lock()

    def on_liveliness(self, key: str, alive: bool) -> None:
        """The liveliness subscriber's callback (a Zenoh thread)."""
        with self._alive_lock:
            (self._alive.add if alive else self._alive.discard)(key)
            self._alive_version += 1

    def presence(self, timeout: float) -> Presence:
        # Tokens arrive through the liveliness subscriber; right after the session opened it may
        # not have its history yet, so ask directly too, for up to `timeout` seconds.
        seen = self._presence_seen
        if seen is not None and seen[0] == self._alive_version:
            return seen[1]  # nothing changed on the link since it was complete
        deadline = time.monotonic() + timeout
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
        policy = _strictest_announced(keys, suffix)
        presence = Presence(tuple(gateways), tuple(serving), max(floors, default=0), policy=policy)
        if from_tokens:
            self._presence_seen = (version, presence)
        return presence

    def announced_policy(self) -> FramePolicy | None:
        """The strictest frame policy gateways announce for this pad, as the subscriber last
        reported (no query: cheap enough for every retransmission)."""
        with self._alive_lock:
            keys = list(self._alive)
        return _strictest_announced(keys, f"/pad/{self.pad_id.hex()}")

    def serving_gateway_present(self) -> bool:
        """A gateway's token for this pad is up, as the subscriber last reported."""
        suffix = f"/pad/{self.pad_id.hex()}"
        with self._alive_lock:
            return any(k.endswith(suffix) for k in self._alive)


def _strictest_announced(keys: Iterable[str], suffix: str) -> FramePolicy | None:
    policy = None
    for k in keys:
        if f"{suffix}/policy/" in k and (p := link_keys.policy_of(k)) is not None:
            policy = p if policy is None else policy.strictest(p)
    return policy


def catch_up_with_facility(
    copy: PadCopy, pad_lock: threading.Lock, floor: int, *, accept_facility_mark: bool
) -> None:
    """Never seal below what the facility has already received on this pad: skip this copy's
    send offset up to `floor` (the copy is used under `pad_lock`)."""
    with pad_lock:
        gap = floor - link_messages.next_send_offset(copy)
        if gap <= 0:
            return
        if gap > AUTO_SKIP and not accept_facility_mark:
            raise PadRollbackError(
                f"the facility has received questions on this pad up to offset {floor:,}, "
                f"{gap:,} bytes past this copy's journal: the journal is older than the "
                "pad's use (a restored backup, or another copy of the stick was used); "
                "nothing was sent. Check the stick's custody, then skip explicitly "
                "(reddoor ask --accept-facility-mark) — skipping never reuses pad"
            )
        skipped = link_messages.skip_send_to(copy, floor, gap)
    if skipped:
        log.warning(
            "skipped %d w2f pad bytes up to the facility's receive mark (journal was behind)",
            skipped,
        )
