"""What a diode receiver on this side last heard: "facility seen N s ago (via diode)".

Across a diode a workstation cannot see the gateway's own liveliness; it sees tokens the f2w
receiver mirrors from the facility's snapshots, and asks the receiver (a Zenoh query on
`reddoor/v1/diode/f2w/status`, no pad spent) when it last heard anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from custody.errors import LinkError
from custody.link import keys as link_keys
from custody.link.zenoh_transport import Transport
from custody.pad.manifest import Direction


@dataclass(frozen=True)
class DiodeSeen:
    heard_s_ago: float | None  # None: the receiver has heard nothing since it started
    alive: bool
    gateways: tuple[str, ...]

    def render(self, *, last: bool = False) -> str:
        """ "facility seen 0.4 s ago (via diode)"; last: "facility last seen …" (it is gone)."""
        if self.heard_s_ago is None:
            return "facility not seen yet (via diode: its receiver here has heard nothing)"
        return f"facility {'last ' if last else ''}seen {_ago(self.heard_s_ago)} ago (via diode)"

    def why_no_gateway(self) -> str:
        """Why a workstation behind the diode sees no gateway, as far as the receiver knows."""
        if self.alive:
            return (
                f"the data diode works ({self.render()}) but no gateway is announced across "
                "it: the gateway is down"
            )
        return f"{self.render(last=True)}: the diode, a bridge or the facility is down"


def _ago(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def diode_seen(
    transport: Transport, direction: Direction = Direction.F2W, timeout: float = 0.5
) -> DiodeSeen | None:
    """The receiver's word, or None when no diode receiver serves this side's router."""
    try:
        replies = transport.query(link_keys.diode_status_key(direction), timeout)
    except LinkError:
        return None
    for raw in replies:
        try:
            s = json.loads(raw)
            age = s["heard_s_ago"]
            return DiodeSeen(
                None if age is None else float(age),
                bool(s["alive"]),
                tuple(str(g) for g in s.get("gateways", [])),
            )
        except (ValueError, KeyError, TypeError):
            continue
    return None
