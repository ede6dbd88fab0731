"""The ledger as operators watch it: how fresh its last checkpoint is, and its last verification.

`checkpoint_state(conn)` reads the checkpoints stored in the ledger: the newest one's emission time
(the `checkpoint_times` table; a checkpoint stored before that table existed counts from the time
of the newest event it covers, which is never later than its emission, so its age is never
understated), how many events came after it, and a ledger that never had one counts from its
creation. `verify_now(conn, ...)` runs the whole `ledger verify` (custody/ledger/verify.py) and
keeps only its outcome.

`LedgerWatch` does both on its own thread and its own connection (an SQLite connection belongs to
the thread that opened it): the checkpoint state every `poll` seconds, a full verification at
start and every `verify_every` seconds. A metrics scrape reads its last snapshot and never touches
the database. A verification that cannot run at all (the database unreadable) is a failed one.

Nothing here is evidence: the figures are for alerting (docs/operations.md, "Ledger").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from custody.ledger.verify import verify_ledger

log = logging.getLogger(__name__)


def event_time(text: str) -> float:
    """Unix seconds of a ledger time string (`2026-12-04T14:47:07.123456Z`)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class CheckpointState:
    events: int  # events in the ledger
    covered: int  # events the newest stored checkpoint covers (0: none stored)
    last_checkpoint: float  # unix seconds: emitted, or as described in the module docstring

    @property
    def since_checkpoint(self) -> int:
        return self.events - self.covered


def checkpoint_state(conn: Any) -> CheckpointState:
    events = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    row = conn.execute("SELECT id, size FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:  # never checkpointed: the clock runs from the genesis event
        first = conn.execute("SELECT time FROM events ORDER BY seq LIMIT 1").fetchone()
        created = event_time(str(first[0])) if first is not None else time.time()
        return CheckpointState(events, 0, created)
    cp_id, size = int(row[0]), int(row[1])
    emitted = None
    if _has_table(conn, "checkpoint_times"):
        found = conn.execute("SELECT time FROM checkpoint_times WHERE id = ?", (cp_id,)).fetchone()
        emitted = None if found is None else event_time(str(found[0]))
    if emitted is None:  # stored before emission times were kept: its newest covered event
        newest = conn.execute(
            "SELECT time FROM events WHERE seq < ? ORDER BY seq DESC LIMIT 1", (size,)
        ).fetchone()
        emitted = event_time(str(newest[0])) if newest is not None else 0.0
    return CheckpointState(events, size, emitted)


def _has_table(conn: Any, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class VerifyOutcome:
    ok: bool
    at: float  # unix seconds when the verification finished
    seconds: float  # how long it took
    size: int  # events verified
    problem: str | None  # the first problem, as `ledger verify` words it


def verify_now(
    conn: Any,
    *,
    origin: str,
    key_name: str,
    public_key: bytes,
    external: Sequence[tuple[str, str]] = (),
) -> VerifyOutcome:
    start = time.monotonic()
    report = verify_ledger(
        conn, origin=origin, key_name=key_name, public_key=public_key, external=external
    )
    first = report.first_problem
    problem = None
    if first is not None:
        problem = (f"event {first.seq}: " if first.seq is not None else "") + first.what
    return VerifyOutcome(report.ok, time.time(), time.monotonic() - start, report.size, problem)


@dataclass(frozen=True)
class LedgerSnapshot:
    checkpoint: CheckpointState | None
    verify: VerifyOutcome | None


class LedgerWatch:
    """The ledger's checkpoint state and verification, refreshed on a thread of its own."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        origin: str,
        key_name: str,
        public_key: bytes,
        verify_every: float = 3600.0,
        poll: float = 30.0,
    ) -> None:
        self._connect = connect
        self.origin, self.key_name, self.public_key = origin, key_name, public_key
        self.verify_every = verify_every
        self.poll = poll
        self._lock = threading.Lock()
        self._snapshot = LedgerSnapshot(None, None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def snapshot(self) -> LedgerSnapshot:
        with self._lock:
            return self._snapshot

    def _set(self, **changes: Any) -> None:
        with self._lock:
            current = self._snapshot
            self._snapshot = LedgerSnapshot(
                changes.get("checkpoint", current.checkpoint), changes.get("verify", current.verify)
            )

    def _run(self) -> None:
        conn = None
        next_verify = 0.0
        try:
            while not self._stop.is_set():
                try:
                    if conn is None:
                        conn = self._connect()
                    self._set(checkpoint=checkpoint_state(conn))
                    if time.monotonic() >= next_verify:
                        outcome = verify_now(
                            conn,
                            origin=self.origin,
                            key_name=self.key_name,
                            public_key=self.public_key,
                        )
                        self._set(verify=outcome)
                        next_verify = time.monotonic() + self.verify_every
                        if outcome.ok:
                            log.info(
                                "ledger verifies: %d events (%.1f s)", outcome.size, outcome.seconds
                            )
                        else:
                            log.error("ledger does not verify: %s", outcome.problem)
                except Exception as exc:  # an unreadable ledger is a failed verification
                    log.error("ledger watch: cannot read the ledger: %s", type(exc).__name__)
                    self._set(verify=VerifyOutcome(False, time.time(), 0.0, 0, "unreadable"))
                    next_verify = time.monotonic() + self.verify_every
                    if conn is not None:
                        _close(conn)
                        conn = None
                self._stop.wait(self.poll)
        finally:
            if conn is not None:
                _close(conn)


def _close(conn: Any) -> None:
    with contextlib.suppress(Exception):  # closing a connection that already failed
        conn.close()
