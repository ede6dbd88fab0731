"""What a running gateway may serve, from the ledger: `servable`, and `LedgerStatePoll`, which a
gateway polls to stop a compromised, suspended or destroyed pad within a poll, and to enforce the
frame policy two officers recorded for a pad (`policies`)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from custody.ledger.home import OpenHome
from custody.lifecycle.states import (
    ACTIVE,
    LIVE,
    SCAN_TYPES,
    Deriver,
    PadRecord,
    event_rows,
    state_words,
)
from custody.pad.frame_policy import FramePolicy

log = logging.getLogger(__name__)

# -- the running gateway's view --------------------------------------------------------------


def servable(rec: PadRecord | None, *, practice: bool) -> bool:
    """May a gateway of this home use the pad? Production: active only. Practice: any live state
    (and pads the ledger does not know, e.g. practice pads copied into the vault by hand)."""
    if rec is None or not rec.ceremony_id:
        return practice
    if practice:
        return rec.state in LIVE
    return rec.state == ACTIVE and rec.mark == "PRODUCTION"


class LedgerStatePoll:
    """`Gateway.watch_suspensions` poll: the pads the ledger says must not be served.

    Reads the home's ledger through its own SQLCipher connection (one per calling thread: an
    SQLite connection belongs to its thread), unlocked with the home's already logged-in token,
    and replays only the events after the last poll. `served` are the pads the gateway serves.
    """

    def __init__(self, oh: OpenHome, served: Callable[[], Iterable[bytes]]) -> None:
        self.path = oh.path
        self.settings = oh.settings
        self.token = oh.token
        self.served = served
        self._local = threading.local()
        self._lock = threading.Lock()
        self._deriver = Deriver()
        self._conns: list[Any] = []

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            from custody.ledger import home

            conn = home.open_ledger_db(self.path, self.settings, self.token)
            self._local.conn = conn
            self._conns.append(conn)
        return conn

    def _feed(self) -> None:
        conn = self._conn()
        row = conn.execute("SELECT max(seq) FROM events").fetchone()
        top = -1 if row[0] is None else int(row[0])
        self._deriver.feed(event_rows(conn, self._deriver.last_seq, SCAN_TYPES, top))
        # link.query events in between are skipped once, not rescanned every poll
        self._deriver.last_seq = max(self._deriver.last_seq, top)

    def policies(self) -> dict[bytes, FramePolicy]:
        """The frame policy the ledger records for each served pad it knows (pad.generated,
        then pad.frame_policy; otp-only for a pad made before policies existed)."""
        with self._lock:
            self._feed()
            pads = self._deriver.pads
            return {
                pid: rec.policy
                for pid in self.served()
                if (rec := pads.get(pid.hex())) is not None and rec.ceremony_id
            }

    def __call__(self) -> list[bytes]:
        with self._lock:
            self._feed()
            pads = self._deriver.pads
            return [
                pid
                for pid in self.served()
                if not servable(pads.get(pid.hex()), practice=self.settings.practice)
            ]

    def reason(self, pad_id: bytes) -> str:
        """Why the gateway no longer serves `pad_id` (for its log): the pad's ledger state."""
        with self._lock:
            rec = self._deriver.pads.get(pad_id.hex())
        if rec is None or not rec.ceremony_id:
            return "not in this home's ledger"
        if rec.state in LIVE and not self.settings.practice:
            return f"{state_words(rec.state)}, not active"
        return state_words(rec.state)

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(Exception):
                conn.close()
