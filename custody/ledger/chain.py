"""The custody ledger: append-only events in SQLCipher, hash-chained, in an RFC 6962 tree.

Writers append inside `BEGIN IMMEDIATE` and read the previous hash inside that transaction, so
two processes appending at once serialise on SQLite's write lock and can never fork the chain.
SQL triggers refuse UPDATE and DELETE (defence in depth; the hashes and signed checkpoints are
the real protection, see custody/ledger/verify.py).

The Python API the ceremony and custody code use:

    ledger.append(type, payload, actors=())                    # one event, no approval needed
    ledger.append_many([EventDraft(...), ...])                 # one durable transaction
    req = ledger.request_approval(type, payload, actors=())    # fresh nonce
    a = officers.approve(ledger, req, name, passphrase)        # each officer, own passphrase
    officers.append_approved(ledger, req, [a, b])             # checks, refuses and records
    officers.append_with_officers(ledger, type, payload, [(name, pw), (name, pw)])  # all three
    ledger.checkpoint()                                        # signed note (HSM), stored
    ledger.inclusion_bundle(seq), ledger.consistency_bundle(old_note)
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from custody import canonical_json, merkle
from custody.errors import ApprovalRefused, LedgerError, UsageError
from custody.ledger import checkpoint
from custody.ledger.entry import (
    GENESIS_PREV,
    MAX_PAYLOAD_BYTES,
    TWO_PERSON_TYPES,
    TYPE_PATTERN,
    Event,
    approval_message,
    canonical_actors,
    canonical_payload,
    entry_bytes,
    event_hash,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
NONCE_BYTES = 32

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    type TEXT NOT NULL,
    actors BLOB NOT NULL,
    payload BLOB NOT NULL,
    approvals BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE checkpoints (id INTEGER PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL);
CREATE TABLE officer_keys (
    name TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    kdf TEXT NOT NULL,
    salt BLOB NOT NULL,
    nonce BLOB NOT NULL,
    sealed_key BLOB NOT NULL
);
"""
_APPEND_ONLY_TABLES = ("meta", "events", "checkpoints", "officer_keys")
# When each stored checkpoint was emitted: operational, not evidence (nothing signs it). It feeds
# the "last checkpoint" metric; ledgers made before it have the table added at their next
# checkpoint, and their older checkpoints have no time (docs/ledger.md, Checkpoints).
_CHECKPOINT_TIMES = (
    "CREATE TABLE IF NOT EXISTS checkpoint_times (id INTEGER PRIMARY KEY, time TEXT NOT NULL)"
)


def _triggers(
    tables: tuple[str, ...] = _APPEND_ONLY_TABLES, *, if_missing: bool = False
) -> list[str]:
    parts = []
    maybe = "IF NOT EXISTS " if if_missing else ""
    for table in tables:
        for op in ("UPDATE", "DELETE"):
            parts.append(
                f"CREATE TRIGGER {maybe}{table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
            )
    return parts


def _checkpoint_times_schema() -> list[str]:
    return [_CHECKPOINT_TIMES, *_triggers(("checkpoint_times",), if_missing=True)]


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class EventDraft:
    type: str
    payload: dict[str, Any]
    actors: tuple[str, ...] = ()
    approvals: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class ApprovalRequest:
    """An operation awaiting two officers: the exact content they sign, and a fresh nonce."""

    type: str
    payload: dict[str, Any]
    actors: tuple[str, ...]
    nonce: bytes = field(repr=False)

    def message(self, origin: str) -> bytes:
        return approval_message(origin, self.type, list(self.actors), self.payload, self.nonce)


@dataclass(frozen=True)
class Approval:
    officer: str
    nonce: bytes
    signature: bytes

    def to_dict(self) -> dict[str, str]:
        return {
            "nonce": self.nonce.hex(),
            "officer": self.officer,
            "sig": base64.b64encode(self.signature).decode("ascii"),
        }


def _validate(draft: EventDraft) -> tuple[bytes, bytes, bytes]:
    if not TYPE_PATTERN.match(draft.type):
        raise UsageError(f"event type {draft.type!r} is not dotted lower-case words")
    if not isinstance(draft.payload, dict):
        raise UsageError("an event payload must be a JSON object")
    try:
        payload = canonical_payload(draft.payload)
        actors = canonical_actors(tuple(draft.actors))
        approvals = (
            canonical_json.dumps([dict(a) for a in draft.approvals]) if draft.approvals else b"[]"
        )
    except PermissionError as exc:
        raise UsageError(f"refusing to record {exc}: secrets never go into the ledger") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"event payload is not canonical JSON: {exc}") from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise UsageError("event payload is larger than 64 KiB")
    return actors, payload, approvals


def row_to_event(row: Sequence[Any]) -> Event:
    seq, time, etype, actors, payload, approvals, prev_hash, hsh = row
    return Event(
        seq=int(seq),
        time=str(time),
        type=str(etype),
        actors=tuple(canonical_json.loads(bytes(actors))),
        payload=canonical_json.loads(bytes(payload)),
        approvals=tuple(canonical_json.loads(bytes(approvals))),
        prev_hash=bytes(prev_hash),
        hash=bytes(hsh),
    )


class Ledger:
    """An open ledger. `signer` (HSM Ed25519) is needed only to emit checkpoints."""

    def __init__(
        self,
        conn: Any,
        *,
        public_key: bytes,
        signer: Callable[[bytes], bytes] | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.conn = conn
        self.public_key = public_key
        self._signer = signer
        self._clock = clock
        meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        if meta.get("schema") != SCHEMA_VERSION or "origin" not in meta:
            raise LedgerError("the database is not a Red Door ledger of a known version")
        self.origin: str = meta["origin"]
        self.key_name: str = meta["key_name"]

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        conn: Any,
        *,
        origin: str,
        public_key: bytes,
        genesis_payload: dict[str, Any],
        signer: Callable[[bytes], bytes] | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> Ledger:
        """Lay down the schema and the genesis event `ledger.created`."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            # executescript would COMMIT on its own; run statements inside our transaction.
            schema = [s for s in _SCHEMA.split(";") if s.strip()]
            for statement in schema + _triggers() + _checkpoint_times_schema():
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta(name, value) VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("origin", origin), ("key_name", origin)],
            )
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        ledger = cls(conn, public_key=public_key, signer=signer, clock=clock)
        payload = dict(genesis_payload)
        payload["origin"] = origin
        payload["checkpoint_vkey"] = checkpoint.vkey(origin, public_key)
        ledger.append("ledger.created", payload)
        return ledger

    # -- reading ----------------------------------------------------------------------------

    def size(self) -> int:
        row = self.conn.execute("SELECT max(seq) FROM events").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def event(self, seq: int) -> Event:
        row = self.conn.execute(
            "SELECT seq, time, type, actors, payload, approvals, prev_hash, hash "
            "FROM events WHERE seq = ?",
            (seq,),
        ).fetchone()
        if row is None:
            raise UsageError(f"the ledger has no event {seq}")
        return row_to_event(row)

    def events(self, start: int = 0) -> Iterator[Event]:
        cur = self.conn.execute(
            "SELECT seq, time, type, actors, payload, approvals, prev_hash, hash "
            "FROM events WHERE seq >= ? ORDER BY seq",
            (start,),
        )
        for row in cur:
            yield row_to_event(row)

    def raw_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every event row in seq order, undecoded (for the verifier)."""
        yield from self.conn.execute(
            "SELECT seq, time, type, actors, payload, approvals, prev_hash, hash "
            "FROM events ORDER BY seq"
        )

    def entry(self, seq: int) -> bytes:
        row = self.conn.execute(
            "SELECT seq, time, type, actors, payload, approvals, prev_hash FROM events "
            "WHERE seq = ?",
            (seq,),
        ).fetchone()
        if row is None:
            raise UsageError(f"the ledger has no event {seq}")
        s, time, etype, actors, payload, approvals, prev = row
        return entry_bytes(
            self.origin,
            s,
            time,
            etype,
            bytes(actors),
            bytes(payload),
            bytes(approvals),
            bytes(prev),
        )

    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        """Stored event hashes in order (trusted only after `verify`)."""
        limit = self.size() if size is None else size
        rows = self.conn.execute("SELECT hash FROM events WHERE seq < ? ORDER BY seq", (limit,))
        return [bytes(r[0]) for r in rows]

    def stored_checkpoints(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT note FROM checkpoints ORDER BY id")]

    # -- appending --------------------------------------------------------------------------

    def append(self, event_type: str, payload: dict[str, Any], actors: Sequence[str] = ()) -> Event:
        """Append one event that needs no officer approval."""
        if event_type in TWO_PERSON_TYPES:
            raise ApprovalRefused("approval_missing", f"{event_type} needs two officers' approval")
        return self.append_many([EventDraft(event_type, payload, tuple(actors))])[0]

    def append_many(
        self,
        drafts: Iterable[EventDraft],
        *,
        in_transaction: Callable[[Any, list[Event]], None] | None = None,
        check: Callable[[Any], None] | None = None,
    ) -> list[Event]:
        """Append events in one durable transaction; returns them with their seq and hash.

        `check(conn)` runs first inside the write transaction: a rule that depends on the
        ledger's state (officers, the genesis pair, used nonces) is decided there, under the
        write lock, so no other process can change that state between the check and the append.
        `in_transaction(conn, events)` runs inside the same transaction after the inserts (used
        to store officer keys atomically with their enrolment event). Either raising aborts it
        all, and the exception propagates.
        """
        prepared = [(d, *_validate(d)) for d in drafts]
        if not prepared:
            return []
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if check is not None:
                check(conn)
            row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (0, GENESIS_PREV) if row is None else (int(row[0]) + 1, bytes(row[1]))
            rows = []
            events = []
            # One timestamp per batch: the events of a batch are committed together.
            time = self._clock()
            for draft, actors, payload, approvals in prepared:
                entry = entry_bytes(
                    self.origin, seq, time, draft.type, actors, payload, approvals, prev
                )
                h = event_hash(entry)
                rows.append((seq, time, draft.type, actors, payload, approvals, prev, h))
                events.append(
                    Event(
                        seq,
                        time,
                        draft.type,
                        tuple(draft.actors),
                        draft.payload,
                        tuple(draft.approvals),
                        prev,
                        h,
                    )
                )
                seq, prev = seq + 1, h
            conn.executemany(
                "INSERT INTO events(seq, time, type, actors, payload, approvals, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if in_transaction is not None:
                in_transaction(conn, events)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return events

    # -- two-person approvals ---------------------------------------------------------------

    def request_approval(
        self, event_type: str, payload: dict[str, Any], actors: Sequence[str] = ()
    ) -> ApprovalRequest:
        """Start an operation that two officers must approve. The nonce is fresh and random."""
        _validate(EventDraft(event_type, payload, tuple(actors)))
        return ApprovalRequest(event_type, dict(payload), tuple(actors), secrets.token_bytes(32))

    def record_refusal(
        self, request: ApprovalRequest, reason: str, officers: Sequence[str], message: str
    ) -> ApprovalRefused:
        """Record an `approval.refused` event and return the error to raise."""
        self.append(
            "approval.refused",
            {
                "operation": request.type,
                "reason": reason,
                "officers": list(officers),
                "detail": message,
            },
            actors=officers,
        )
        log.info("approval refused for %s: %s", request.type, reason)
        return ApprovalRefused(reason, message)

    # -- checkpoints and proofs -------------------------------------------------------------

    @property
    def can_sign(self) -> bool:
        """True when this ledger was opened with the HSM signing key (checkpoints possible)."""
        return self._signer is not None

    def checkpoint(self, *, store: bool = True) -> str:
        """A signed checkpoint of the whole ledger now (signed on the HSM), stored in the ledger."""
        if self._signer is None:
            raise LedgerError("checkpoints need the HSM signing key; open the ledger with it")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            leaves = self.leaf_hashes()
            cp = checkpoint.Checkpoint(
                self.origin, len(leaves), merkle.root_from_leaf_hashes(leaves)
            )
            note = checkpoint.sign(cp, self.key_name, self.public_key, self._signer)
            if store:
                cur = self.conn.execute(
                    "INSERT INTO checkpoints(size, note) VALUES (?, ?)", (cp.size, note)
                )
                for statement in _checkpoint_times_schema():
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO checkpoint_times(id, time) VALUES (?, ?)",
                    (cur.lastrowid, self._clock()),
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return note

    def latest_checkpoint(self) -> str | None:
        row = self.conn.execute("SELECT note FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def inclusion_bundle(self, seq: int, note: str | None = None) -> dict[str, Any]:
        """An offline-verifiable proof that event `seq` is in the tree of a signed checkpoint."""
        from custody.ledger import proofs

        if note is None:
            note = self.latest_checkpoint()
            cp_size = None if note is None else checkpoint.parse(note)[0].size
            if note is None or cp_size is None or cp_size <= seq:
                note = self.checkpoint()
        cp = checkpoint.verify(note, self.key_name, self.public_key, self.origin)
        if not 0 <= seq < cp.size:
            raise UsageError(f"event {seq} is not covered by a checkpoint of size {cp.size}")
        leaves = self.leaf_hashes(cp.size)
        return proofs.make_inclusion_bundle(
            note, seq, self.entry(seq), merkle.inclusion_proof(leaves, seq)
        )

    def consistency_bundle(self, old_note: str, new_note: str | None = None) -> dict[str, Any]:
        from custody.ledger import proofs

        old = checkpoint.verify(old_note, self.key_name, self.public_key, self.origin)
        note = new_note or self.checkpoint()
        new = checkpoint.verify(note, self.key_name, self.public_key, self.origin)
        if old.size > new.size:
            raise UsageError("the old checkpoint is larger than the new one")
        leaves = self.leaf_hashes(new.size)
        proof = [] if old.size in (0, new.size) else merkle.consistency_proof(leaves, old.size)
        return proofs.make_consistency_bundle(old_note, note, proof)


class RefusedInTransaction(Exception):
    """Raised by a `check` inside the write transaction: roll back, then record the refusal
    (an `approval.refused` event needs a transaction of its own)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
