"""A pad's custody lifecycle, derived from the ledger alone.

    generated → sealed → in_transit → delivered → active → exhausted | retired → destroyed
                           (any live state) → suspended → (back) | compromised → destroyed

There is no state table: a pad's state is replayed from its events (the ceremony's, then the
custody events below), so the ledger's hash chain and signed checkpoints protect it too. Every
step is checked against `TRANSITIONS` before it is recorded; an illegal step is refused with
`IllegalTransition` and nothing is written.

| event | who | from | to |
|---|---|---|---|
| ceremony.closed | two (ceremony) | generated | sealed |
| custody.transferred | two | sealed, in_transit, delivered | in_transit |
| custody.delivered | two | in_transit | delivered |
| pad.activated | two | delivered (production pad, production home) | active |
| pad.suspended | one | sealed … active | suspended |
| pad.resumed | two | suspended | the state before |
| pad.compromised | one | anything but destroyed | compromised |
| pad.exhausted / pad.retired | two | a usable or suspended state | exhausted / retired |
| pad.destroyed | two | exhausted, retired, compromised, one copy destroyed | see below |
| pad.destroy_failed | one (station) | (no change) | an approved destruction whose act failed |
| pad.practice_created | one (station), practice homes only | (none: a new pad) | active |
| custody.exception | two | (no change) | expected / found / decision |

`pad.destroyed` destroys one copy: the state becomes "facility copy destroyed" or "customer
copy destroyed", and "destroyed" only once both copies are.
A destruction is approved (both officers authenticated and signed the exact event) before
anything is destroyed; the approved `pad.destroyed` event is appended after the act and its
verification. If the act fails after approval, `pad.destroy_failed` records what happened.

Suspension and compromise take one person on purpose: stopping a pad only makes it safer and
must never wait for a second officer. Undoing a suspension takes two. A practice home needs no
transfer or activation: its pads are usable from the close of their ceremony.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from custody import canonical_json
from custody.errors import (
    AlreadyDestroyed,
    IllegalTransition,
    LifecycleError,
)
from custody.ledger.chain import Ledger
from custody.ledger.entry import Event
from custody.lifecycle.consumption import QueryUsage, query_usage
from custody.link.chronicle import LEDGER_EVENT
from custody.pad import ids as pad_ids
from custody.pad.frame_policy import OTP_ONLY, FramePolicy

log = logging.getLogger(__name__)

# -- states and events -----------------------------------------------------------------------
GENERATED, SEALED, IN_TRANSIT, DELIVERED, ACTIVE = (
    "generated",
    "sealed",
    "in_transit",
    "delivered",
    "active",
)
SUSPENDED, COMPROMISED, EXHAUSTED, RETIRED, DESTROYED = (
    "suspended",
    "compromised",
    "exhausted",
    "retired",
    "destroyed",
)
# One copy destroyed, the other not (yet): the pad is "destroyed" only once both copies are.
FACILITY_COPY_DESTROYED, CUSTOMER_COPY_DESTROYED = (
    "facility_copy_destroyed",
    "customer_copy_destroyed",
)
COPIES = ("facility", "customer")
STATES = (
    GENERATED,
    SEALED,
    IN_TRANSIT,
    DELIVERED,
    ACTIVE,
    SUSPENDED,
    COMPROMISED,
    EXHAUSTED,
    RETIRED,
    FACILITY_COPY_DESTROYED,
    CUSTOMER_COPY_DESTROYED,
    DESTROYED,
)
LIVE = (SEALED, IN_TRANSIT, DELIVERED, ACTIVE)

TRANSFERRED = "custody.transferred"
DELIVERED_EVENT = "custody.delivered"
EXCEPTION = "custody.exception"
ACTIVATED = "pad.activated"
SUSPENDED_EVENT = "pad.suspended"
RESUMED = "pad.resumed"
COMPROMISED_EVENT = "pad.compromised"
EXHAUSTED_EVENT = "pad.exhausted"
RETIRED_EVENT = "pad.retired"
DESTROYED_EVENT = "pad.destroyed"
DESTROY_FAILED = "pad.destroy_failed"  # one-person (station): an approved act that failed
RESYNC_EVENT = "pad.resynced"  # two: a facility copy moved up to the ledger's marks (no state)
# one (the station), practice homes only: a practice pad made without a ceremony, e.g. the
# starter pad (custody.lifecycle.practice_pads); the pad is active from then on
PRACTICE_CREATED = "pad.practice_created"
FRAME_POLICY_EVENT = "pad.frame_policy"  # two: the pad's frame policy changed (no state)

CUSTODY_EVENTS = (
    TRANSFERRED,
    DELIVERED_EVENT,
    EXCEPTION,
    ACTIVATED,
    SUSPENDED_EVENT,
    RESUMED,
    COMPROMISED_EVENT,
    EXHAUSTED_EVENT,
    RETIRED_EVENT,
    DESTROYED_EVENT,
    DESTROY_FAILED,
)
CEREMONY_EVENTS = (
    "pad.generated",
    "pad.customer_copy_written",
    "pad.facility_copy_written",
    "pad.sealed",
    "ceremony.closed",
    "ceremony.aborted",
    "ceremony.failed",
)
TWO_PERSON_CUSTODY = frozenset(CUSTODY_EVENTS) - {
    SUSPENDED_EVENT,
    COMPROMISED_EVENT,
    DESTROY_FAILED,
}

# event -> (states it may follow, state it leads to; None = the state before a suspension)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    TRANSFERRED: ((SEALED, IN_TRANSIT, DELIVERED), IN_TRANSIT),
    DELIVERED_EVENT: ((IN_TRANSIT,), DELIVERED),
    ACTIVATED: ((DELIVERED,), ACTIVE),
    SUSPENDED_EVENT: (LIVE, SUSPENDED),
    RESUMED: ((SUSPENDED,), None),
    COMPROMISED_EVENT: (
        (
            GENERATED,
            *LIVE,
            SUSPENDED,
            EXHAUSTED,
            RETIRED,
            FACILITY_COPY_DESTROYED,
            CUSTOMER_COPY_DESTROYED,
        ),
        COMPROMISED,
    ),
    EXHAUSTED_EVENT: ((*LIVE, SUSPENDED), EXHAUSTED),
    RETIRED_EVENT: ((*LIVE, SUSPENDED), RETIRED),
    DESTROYED_EVENT: (
        (EXHAUSTED, RETIRED, COMPROMISED, FACILITY_COPY_DESTROYED, CUSTOMER_COPY_DESTROYED),
        DESTROYED,  # or "<copy>_copy_destroyed" while the other copy remains (check_transition)
    ),
}

# Methods of `pad destroy` and the copy each destroys.
METHOD_COPY = {"crypto-erase": "facility", "overwrite": "customer", "physical": "customer"}

_HINTS = {
    ACTIVATED: "a pad is activated once delivered (reddoor custody deliver)",
    DELIVERED_EVENT: "a pad is delivered after a transfer (reddoor custody transfer)",
    DESTROYED_EVENT: "retire it first (reddoor pad retire) or mark it compromised",
    RESUMED: "only a suspended pad can be resumed",
}


def state_words(state: str) -> str:
    return state.replace("_", " ")


# -- the derived record ----------------------------------------------------------------------


@dataclass
class HistoryItem:
    seq: int
    time: str
    type: str
    state: str  # the pad's state after this event
    approvers: list[str]
    actors: list[str]
    summary: str


@dataclass
class PadRecord:
    pad_id: str  # 32 hex
    display: str
    mark: str = "PRACTICE"
    ceremony_id: str = ""
    size: int = 0
    split: str = ""
    w2f_length: int = 0
    f2w_length: int = 0
    merkle_root: str = ""
    merkle_root_words: str = ""
    pad_sha256: str = ""
    state: str = GENERATED
    before_suspension: str | None = None
    bag_serial: str = ""
    holder: str = "facility (ceremony room)"
    usb_serial: str = ""
    key_label: str = ""
    closed_seq: int | None = None
    destroyed_copies: dict[str, int] = field(default_factory=dict)  # copy -> event seq
    exceptions: int = 0
    anomalies: list[str] = field(default_factory=list)  # illegal steps found in the ledger
    history: list[HistoryItem] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=lambda: {"w2f": 0, "f2w": 0})
    queries: int = 0
    last_query: str = ""
    # One point per link.query (custody.lifecycle.consumption.query_usage): `used` is their
    # sum, the custody view's chart their running total. Not in `to_dict` (reports print sums).
    usage: list[QueryUsage] = field(default_factory=list)
    # Frame policies (custody.pad.frame_policy), as dicts: the manifest's (from pad.generated;
    # None for a pad made before they existed: otp-only) and the one in force (pad.frame_policy).
    manifest_policy: dict[str, Any] | None = None
    frame_policy: dict[str, Any] | None = None

    @property
    def policy(self) -> FramePolicy:
        """The frame policy the ledger records for the pad now (otp-only when none)."""
        return OTP_ONLY if self.frame_policy is None else FramePolicy.from_dict(self.frame_policy)

    @property
    def manifest_frame_policy(self) -> FramePolicy:
        if self.manifest_policy is None:
            return OTP_ONLY
        return FramePolicy.from_dict(self.manifest_policy)

    @property
    def last_event(self) -> HistoryItem | None:
        return self.history[-1] if self.history else None

    @property
    def recorded(self) -> bool:
        """The ledger records where the pad came from (a ceremony, or `pad.practice_created`):
        the pads inventory, the reports and the custody view list as the ledger's."""
        return bool(self.ceremony_id)

    def to_dict(self) -> dict[str, Any]:
        last = self.last_event
        return {
            "pad_id": self.pad_id,
            "pad_id_display": self.display,
            "mark": self.mark,
            "ceremony_id": self.ceremony_id,
            "size": self.size,
            "split": self.split,
            "w2f_length": self.w2f_length,
            "f2w_length": self.f2w_length,
            "merkle_root": self.merkle_root,
            "merkle_root_words": self.merkle_root_words,
            "pad_sha256": self.pad_sha256,
            "state": self.state,
            "bag_serial": self.bag_serial,
            "holder": self.holder,
            "usb_serial": self.usb_serial,
            "key_label": self.key_label,
            "destroyed_copies": dict(self.destroyed_copies),
            "exceptions": self.exceptions,
            "anomalies": list(self.anomalies),
            "used": dict(self.used),
            "queries": self.queries,
            "last_query": self.last_query,
            "frame_policy": self.policy.to_dict(),
            "last_event": None
            if last is None
            else {"seq": last.seq, "type": last.type, "time": last.time},
            "history": [h.__dict__ for h in self.history],
        }


def check_transition(rec: PadRecord, event_type: str, payload: dict[str, Any] | None = None) -> str:
    """The state `event_type` leads `rec` to, or `IllegalTransition` saying why not."""
    allowed, target = TRANSITIONS[event_type]
    what = event_type.split(".", 1)[1]
    if event_type == DESTROYED_EVENT and payload is not None:
        copy = METHOD_COPY.get(str(payload.get("method")), "")
        if copy in rec.destroyed_copies:
            raise AlreadyDestroyed(
                f"pad {rec.display}: its {copy} copy was already destroyed "
                f"(event {rec.destroyed_copies[copy]}); nothing to do"
            )
        left = [c for c in COPIES if c != copy and c not in rec.destroyed_copies]
        if left and rec.state in allowed:
            target = f"{copy}_copy_destroyed"
    if event_type == TRANSFERRED and payload is not None and rec.state == IN_TRANSIT:
        to = str(payload.get("to", ""))
        if to and to == rec.holder:
            raise IllegalTransition(
                f"pad {rec.display} is already in transit to {to}: a hand-over to the same "
                "holder again is refused (record its delivery with reddoor custody deliver)"
            )
    if rec.state not in allowed:
        hint = _HINTS.get(event_type, "")
        raise IllegalTransition(
            f"pad {rec.display} is {state_words(rec.state)}: it cannot be {what} "
            f"(allowed from: {', '.join(state_words(s) for s in allowed)})"
            + (f"; {hint}" if hint else "")
        )
    if target is None:
        return rec.before_suspension or SEALED
    return target


class Deriver:
    """Replays events into `PadRecord`s. `feed` may be called again with later events."""

    def __init__(self) -> None:
        self.pads: dict[str, PadRecord] = {}
        self._ceremonies: dict[str, str] = {}  # ceremony id -> pad id
        self.last_seq = -1
        self.last_time = ""

    def _record(self, pid: str) -> PadRecord:
        rec = self.pads.get(pid)
        if rec is None:
            try:
                display = pad_ids.display(bytes.fromhex(pid))
            except ValueError:
                display = pid
            rec = self.pads[pid] = PadRecord(pid, display)
        return rec

    def feed(self, events: Iterable[Event]) -> None:
        for e in events:
            self.last_seq = max(self.last_seq, e.seq)
            self.last_time = e.time
            try:
                self._apply(e)
            except (KeyError, TypeError, ValueError, AttributeError):
                log.warning("event %d (%s) has an unexpected payload", e.seq, e.type)

    def _note(self, rec: PadRecord, e: Event, summary: str) -> None:
        rec.history.append(
            HistoryItem(
                e.seq,
                e.time,
                e.type,
                rec.state,
                [str(a.get("officer", "")) for a in e.approvals],
                list(e.actors),
                summary,
            )
        )

    def _apply(self, e: Event) -> None:
        p = e.payload
        if e.type == LEDGER_EVENT:
            rec = self.pads.get(p["pad_id"])
            if rec is None:
                return
            u = query_usage(p, e.time)
            rec.used["w2f"] += u.w2f
            rec.used["f2w"] += u.f2w
            rec.queries += 1
            rec.last_query = u.time
            rec.usage.append(u)
            return
        if e.type in ("ceremony.aborted", "ceremony.failed"):
            pid = self._ceremonies.get(p.get("ceremony_id", ""))
            if pid is None:
                return
            rec = self.pads[pid]
            rec.state = DESTROYED
            rec.destroyed_copies.setdefault("facility", e.seq)
            rec.destroyed_copies.setdefault("customer", e.seq)
            self._note(rec, e, f"ceremony stopped at step {p.get('step')}: material destroyed")
            return
        pid = p.get("pad_id")
        if not isinstance(pid, str):
            return
        if e.type in CEREMONY_EVENTS:
            self._ceremony_event(e, pid)
            return
        if e.type == PRACTICE_CREATED:
            self._practice_created(e, pid)
            return
        rec = self._record(pid)
        if e.type == DESTROY_FAILED:
            self._note(
                rec,
                e,
                f"approved {p.get('method')} of the {p.get('copy')} copy FAILED: {p.get('error')}",
            )
            return
        if e.type == FRAME_POLICY_EVENT:
            FramePolicy.from_dict(p["to"])  # a malformed one is an "unexpected payload"
            rec.frame_policy = dict(p["to"])
            self._note(
                rec,
                e,
                f"frame policy {FramePolicy.from_dict(p['to']).describe()} "
                f"(was {p['from']['mode']}); reason: {p.get('reason', '')}",
            )
            return
        if e.type == RESYNC_EVENT:
            forgone = p.get("forgone", {})
            self._note(
                rec,
                e,
                f"{p.get('side')} copy moved up to the ledger's marks (restored or copied): "
                + ", ".join(f"{d} {int(n):,} bytes forgone" for d, n in sorted(forgone.items())),
            )
            return
        if e.type == EXCEPTION:
            rec.exceptions += 1
            self._note(
                rec,
                e,
                f"{p.get('operation')}: expected {p.get('expected')!s}, found "
                f"{p.get('found')!s}; decision: {p.get('decision')}",
            )
            return
        if e.type not in TRANSITIONS:
            if e.type.startswith(("pad.", "custody.")) and e.type not in NON_MOVING_PAD_EVENTS:
                # Written by something newer, by a bug, or by an edit: keep going, say so.
                rec.anomalies.append(f"event {e.seq}: unknown pad event type {e.type!r}")
            return  # otherwise an event that names the pad without moving it
        try:
            target = check_transition(rec, e.type, p)
        except LifecycleError as exc:
            # Only a bug or an edit gets an illegal step into the ledger: keep going, say so.
            rec.anomalies.append(f"event {e.seq}: {exc.message}")
            target = TRANSITIONS[e.type][1] or rec.state
        if e.type == SUSPENDED_EVENT:
            rec.before_suspension = rec.state
        rec.state = target
        summary = ""
        if e.type == TRANSFERRED:
            rec.holder = str(p.get("to", ""))
            summary = f"to {p.get('to')}, bag {p.get('bag_serial')}"
        elif e.type == DELIVERED_EVENT:
            rec.holder = str(p.get("received_by", ""))
            summary = f"received by {p.get('received_by')}, bag {p.get('bag_serial')} intact"
        elif e.type in (SUSPENDED_EVENT, COMPROMISED_EVENT, RETIRED_EVENT):
            summary = f"reason: {p.get('reason', '')}"
        elif e.type == EXHAUSTED_EVENT:
            summary = f"queries left: {p.get('queries_left')}"
        elif e.type == DESTROYED_EVENT:
            copy = METHOD_COPY.get(str(p.get("method")), "customer")
            rec.destroyed_copies.setdefault(copy, e.seq)
            # by copy, also for a ledger whose steps were not all allowed
            done = all(c in rec.destroyed_copies for c in COPIES)
            rec.state = DESTROYED if done else f"{copy}_copy_destroyed"
            summary = f"{p.get('method')} of the {copy} copy"
            if p.get("method") == "physical":
                summary += f" (medium {p.get('medium_serial')}, {p.get('physical_method')})"
        elif e.type == ACTIVATED:
            summary = "activated for use"
        elif e.type == RESUMED:
            rec.before_suspension = None
            summary = f"resumed as {state_words(rec.state)}"
        self._note(rec, e, summary)

    def _practice_created(self, e: Event, pid: str) -> None:
        p = e.payload
        rec = self._record(pid)
        if rec.ceremony_id:  # a second record of the same pad changes nothing
            rec.anomalies.append(f"event {e.seq}: pad already recorded ({rec.ceremony_id})")
            return
        rec.display = p.get("pad_id_display", rec.display)
        rec.mark = str(p.get("mark", "PRACTICE"))
        rec.ceremony_id = str(p.get("ceremony_id") or "practice")
        rec.size = int(p.get("size", 0))
        rec.split = str(p.get("split", ""))
        rec.w2f_length = int(p.get("w2f_length", 0))
        rec.f2w_length = int(p.get("f2w_length", 0))
        rec.merkle_root = str(p.get("merkle_root", ""))
        rec.holder = "practice home (both copies)"
        rec.state = ACTIVE
        self._note(
            rec,
            e,
            f"practice pad without a ceremony ({p.get('source')}), {rec.size:,} bytes, "
            f"split {rec.split}",
        )

    def _ceremony_event(self, e: Event, pid: str) -> None:
        p = e.payload
        rec = self._record(pid)
        if e.type == "pad.generated":
            self._ceremonies[p["ceremony_id"]] = pid
            rec.display = p.get("pad_id_display", rec.display)
            rec.mark = p.get("mark", rec.mark)
            rec.ceremony_id = p["ceremony_id"]
            rec.size = int(p.get("size", 0))
            rec.split = str(p.get("split", ""))
            rec.w2f_length = int(p.get("w2f_length", 0))
            rec.f2w_length = int(p.get("f2w_length", 0))
            rec.merkle_root = str(p.get("merkle_root", ""))
            rec.merkle_root_words = str(p.get("merkle_root_words", ""))
            rec.pad_sha256 = str(p.get("pad_sha256", ""))
            if "frame_policy" in p:
                FramePolicy.from_dict(p["frame_policy"])
                rec.manifest_policy = rec.frame_policy = dict(p["frame_policy"])
            rec.state = GENERATED
            self._note(rec, e, f"{rec.size:,} bytes, split {rec.split}")
        elif e.type == "pad.customer_copy_written":
            rec.usb_serial = str(p.get("usb", {}).get("serial", "") or "")
            self._note(rec, e, f"USB serial {rec.usb_serial or '-'}")
        elif e.type == "pad.facility_copy_written":
            rec.key_label = str(p.get("hsm", {}).get("key_label", ""))
            self._note(rec, e, f"HSM key {rec.key_label}")
        elif e.type == "pad.sealed":
            rec.bag_serial = str(p.get("bag_serial", ""))
            self._note(rec, e, f"bag {rec.bag_serial}")
        elif e.type == "ceremony.closed":
            rec.state = SEALED
            rec.closed_seq = e.seq
            self._note(rec, e, "ceremony closed")


# Events that name a pad without moving its state (the custody view feeds every event):
# pad.marks mirrors a facility journal write (custody.lifecycle.marks), many per pad.
NON_MOVING_PAD_EVENTS = frozenset({"pad.copies_verified", "pad.marks"})

SCAN_TYPES = (*CEREMONY_EVENTS, *CUSTODY_EVENTS, RESYNC_EVENT, PRACTICE_CREATED, FRAME_POLICY_EVENT)


def event_rows(conn: Any, after: int, types: Sequence[str], upto: int = 1 << 62) -> Iterable[Event]:
    from custody.ledger.chain import row_to_event

    marks = ",".join("?" * len(types))
    cur = conn.execute(
        "SELECT seq, time, type, actors, payload, approvals, prev_hash, hash FROM events "  # noqa: S608
        f"WHERE seq > ? AND seq <= ? AND type IN ({marks}) ORDER BY seq",
        (after, upto, *types),
    )
    for row in cur:
        yield row_to_event(row)


def scan(ledger: Ledger, *, consumption: bool = True) -> dict[str, PadRecord]:
    """Every pad the ledger knows, with its derived state (and consumption from link.query)."""
    d = Deriver()
    types = (*SCAN_TYPES, LEDGER_EVENT) if consumption else SCAN_TYPES
    d.feed(event_rows(ledger.conn, -1, types))
    return d.pads


def find_pad(ledger: Ledger, text: str) -> PadRecord:
    raw = pad_ids.parse(text)
    rec = scan(ledger, consumption=False).get(raw.hex())
    if rec is None or not rec.ceremony_id:
        raise LifecycleError(f"the ledger records no ceremony for pad {pad_ids.display(raw)}")
    return rec


def describe_event(e: Event) -> dict[str, Any]:
    """A compact, secret-free JSON view of an event (for --json output)."""
    out: dict[str, Any] = canonical_json.loads(canonical_json.dumps(e.to_dict()))
    return out
