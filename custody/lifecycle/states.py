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

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custody import canonical_json
from custody.errors import (
    AlreadyDestroyed,
    BagSerialMismatch,
    DestructionNotVerified,
    HsmError,
    IllegalTransition,
    LifecycleError,
    PadFormatError,
    RedDoorError,
    UsageError,
)
from custody.ledger.chain import Ledger
from custody.ledger.entry import Event
from custody.ledger.home import OpenHome
from custody.link.chronicle import LEDGER_EVENT
from custody.pad import ids as pad_ids
from custody.pad.manifest import Side

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


def _words(state: str) -> str:
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

    @property
    def last_event(self) -> HistoryItem | None:
        return self.history[-1] if self.history else None

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
            f"pad {rec.display} is {_words(rec.state)}: it cannot be {what} "
            f"(allowed from: {', '.join(_words(s) for s in allowed)})"
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
            for d in ("w2f", "f2w"):
                rec.used[d] += sum(int(n) for _, n in p.get(f"{d}_ranges", []))
            rec.queries += 1
            rec.last_query = p.get("finished_at") or e.time
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
        rec = self._record(pid)
        if e.type == DESTROY_FAILED:
            self._note(
                rec,
                e,
                f"approved {p.get('method')} of the {p.get('copy')} copy FAILED: {p.get('error')}",
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
            summary = f"resumed as {_words(rec.state)}"
        self._note(rec, e, summary)

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

_SCAN_TYPES = (*CEREMONY_EVENTS, *CUSTODY_EVENTS, RESYNC_EVENT)


def _rows(conn: Any, after: int, types: Sequence[str], upto: int = 1 << 62) -> Iterable[Event]:
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
    types = (*_SCAN_TYPES, LEDGER_EVENT) if consumption else _SCAN_TYPES
    d.feed(_rows(ledger.conn, -1, types))
    return d.pads


def find_pad(ledger: Ledger, text: str) -> PadRecord:
    raw = pad_ids.parse(text)
    rec = scan(ledger, consumption=False).get(raw.hex())
    if rec is None or not rec.ceremony_id:
        raise LifecycleError(f"the ledger records no ceremony for pad {pad_ids.display(raw)}")
    return rec


# -- recording steps -------------------------------------------------------------------------


def _clean(text: str, what: str, limit: int = 200) -> str:
    value = (text or "").strip()
    if not value:
        raise UsageError(f"{what} is empty")
    if len(value) > limit or not value.isprintable():
        raise UsageError(f"{what} must be at most {limit} printable characters")
    return value


def _record_two(
    oh: OpenHome,
    event_type: str,
    payload: dict[str, Any],
    approvers: Sequence[tuple[str, str]],
) -> Event:
    from custody.ledger import officers

    return officers.append_with_officers(oh.ledger, event_type, payload, approvers)


def _base(rec: PadRecord) -> dict[str, Any]:
    return {"pad_id": rec.pad_id, "pad_id_display": rec.display, "mark": rec.mark}


def _serial_check(
    oh: OpenHome,
    rec: PadRecord,
    operation: str,
    what: str,
    expected: str,
    found: str,
    approvers: Sequence[tuple[str, str]],
    decision: str | None,
) -> None:
    """A serial that differs opens a two-officer exception record, then stops the step."""
    if found == expected:
        return
    decision = decision or f"{operation} refused: the bag is held unopened and investigated"
    event = _record_two(
        oh,
        EXCEPTION,
        {
            **_base(rec),
            "operation": operation,
            "what": what,
            "expected": expected,
            "found": found,
            "decision": _clean(decision, "the decision"),
            "state": rec.state,
        },
        approvers,
    )
    raise BagSerialMismatch(
        f"pad {rec.display}: {what} {found!r} differs from the recorded {expected!r}; "
        f"exception recorded as event {event.seq} (decision: {decision}); {operation} not done"
    )


def _practice_shortcut(oh: OpenHome, what: str) -> None:
    if oh.settings.practice:
        raise IllegalTransition(
            f"this is a practice home: its pads are usable from the close of their ceremony, "
            f"so there is nothing to {what}"
        )


def transfer(
    oh: OpenHome,
    pad: str,
    to: str,
    bag_serial: str,
    approvers: Sequence[tuple[str, str]],
    *,
    decision: str | None = None,
) -> Event:
    rec = find_pad(oh.ledger, pad)
    to = _clean(to, "the recipient (--to)", 120)
    found = _clean(bag_serial, "the bag serial", 64)
    check_transition(rec, TRANSFERRED, {"to": to})
    _serial_check(oh, rec, "transfer", "bag serial", rec.bag_serial, found, approvers, decision)
    payload = {**_base(rec), "to": to, "bag_serial": found, "from_state": rec.state}
    payload["from_holder"] = rec.holder
    return _record_two(oh, TRANSFERRED, payload, approvers)


def deliver(
    oh: OpenHome,
    pad: str,
    received_by: str,
    bag_serial: str,
    approvers: Sequence[tuple[str, str]],
    *,
    decision: str | None = None,
) -> Event:
    rec = find_pad(oh.ledger, pad)
    who = _clean(received_by, "the recipient (--received-by)", 120)
    found = _clean(bag_serial, "the bag serial", 64)
    check_transition(rec, DELIVERED_EVENT)
    _serial_check(oh, rec, "delivery", "bag serial", rec.bag_serial, found, approvers, decision)
    payload = {**_base(rec), "received_by": who, "bag_serial": found, "bag_intact": True}
    payload["courier"] = rec.holder
    return _record_two(oh, DELIVERED_EVENT, payload, approvers)


def activate(oh: OpenHome, pad: str, approvers: Sequence[tuple[str, str]]) -> Event:
    rec = find_pad(oh.ledger, pad)
    _practice_shortcut(oh, "activate")
    if rec.mark != "PRODUCTION":
        raise IllegalTransition(
            f"pad {rec.display} is a {rec.mark} pad: only production pads are ever activated"
        )
    check_transition(rec, ACTIVATED)
    return _record_two(oh, ACTIVATED, {**_base(rec), "holder": rec.holder}, approvers)


def suspend(oh: OpenHome, pad: str, reason: str, reported_by: str = "") -> Event:
    rec = find_pad(oh.ledger, pad)
    check_transition(rec, SUSPENDED_EVENT)
    payload = {**_base(rec), "reason": _clean(reason, "the reason (--reason)")}
    actors = (reported_by,) if reported_by else ()
    return oh.ledger.append(SUSPENDED_EVENT, payload, actors=actors)


def resume(oh: OpenHome, pad: str, approvers: Sequence[tuple[str, str]]) -> Event:
    rec = find_pad(oh.ledger, pad)
    target = check_transition(rec, RESUMED)
    return _record_two(oh, RESUMED, {**_base(rec), "state": target}, approvers)


def compromise(oh: OpenHome, pad: str, reason: str, reported_by: str = "") -> Event:
    """One person, at once: a running gateway stops using the pad within its poll interval."""
    rec = find_pad(oh.ledger, pad)
    check_transition(rec, COMPROMISED_EVENT)
    payload = {
        **_base(rec),
        "reason": _clean(reason, "the reason (--reason)"),
        "from_state": rec.state,
    }
    actors = (reported_by,) if reported_by else ()
    event = oh.ledger.append(COMPROMISED_EVENT, payload, actors=actors)
    oh.ledger.checkpoint()
    return event


def facility_consumption(oh: OpenHome, rec: PadRecord) -> dict[str, Any] | None:
    """What the facility copy's journal says is left (None when the vault holds no copy)."""
    from custody.pad import status as pad_status
    from custody.pad import vault

    directory = vault.vault_dir(oh.path, bytes.fromhex(rec.pad_id))
    if not directory.is_dir():
        return None
    try:
        return pad_status.read_status(directory).to_dict()
    except PadFormatError:
        return None


@dataclass(frozen=True)
class Resync:
    event: Event | None  # None: the copy was not behind, nothing recorded or changed
    forgone: tuple[int, int]  # bytes skipped (sent direction, received direction)
    display: str


def resync(
    oh: OpenHome,
    pad: str,
    approvers: Sequence[tuple[str, str]],
    *,
    pads_dir: Path | None = None,
) -> Resync:
    """Move a facility copy found behind the ledger up to the ledger's marks (two officers).

    The copy is the home's vault copy, or the one in `pads_dir` (a `--pads` directory). It is
    opened without its own rollback checks (they are what refused it) and only ever moved up:
    to the ledger's marks, and to the host witness's if the witness saw a later journal. The
    approved `pad.resynced` event records both marks and the bytes forgone before the journal
    is written; a crash in between leaves a copy that is still behind: run it again.
    """
    from custody.lifecycle import marks as ledger_marks
    from custody.link.gateway import DirectoryPadProvider
    from custody.pad import vault
    from custody.pad.store import open_pad_dir

    raw = pad_ids.parse(pad)
    display = pad_ids.display(raw)
    if pads_dir is not None:
        try:
            directory = DirectoryPadProvider(pads_dir).directory(raw)
        except KeyError:
            raise LifecycleError(f"{pads_dir} holds no copy of pad {display}") from None
        copy = open_pad_dir(directory, verify=False)
    else:
        copy = vault.open_vault_copy(oh.path, oh.token, raw, verify=False)
    try:
        if copy.side is not Side.FACILITY:
            raise LifecycleError(f"that copy of pad {display} is not a facility copy")
        witness = copy.witness.read() if copy.witness is not None else None
        plan = ledger_marks.plan_resync(oh.ledger, copy, witness)
        if not plan.gap and (witness is None or witness.generation <= copy.generation):
            copy.close()
            return Resync(None, (0, 0), display)
        event = _record_two(oh, RESYNC_EVENT, plan.payload(), approvers)
        forgone = ledger_marks.apply_resync(copy, plan, oh.ledger, actor="pad resync")
        copy.close()
    except BaseException:
        copy.abandon()
        raise
    return Resync(event, forgone, display)


def retire(
    oh: OpenHome, pad: str, approvers: Sequence[tuple[str, str]], reason: str | None = None
) -> Event:
    """`pad.exhausted` when the facility copy has no typical query left, else `pad.retired`."""
    rec = find_pad(oh.ledger, pad)
    status = facility_consumption(oh, rec)
    exhausted = status is not None and int(status["queries_left"]) == 0
    event_type = EXHAUSTED_EVENT if exhausted else RETIRED_EVENT
    check_transition(rec, event_type)
    payload: dict[str, Any] = {**_base(rec)}
    if status is not None:
        payload["remaining"] = status["remaining"]
        payload["queries_left"] = status["queries_left"]
    if exhausted:
        payload["reason"] = reason.strip() if reason else "pad exhausted"
    else:
        payload["reason"] = _clean(reason or "", "the reason (--reason; the pad is not exhausted)")
    return _record_two(oh, event_type, payload, approvers)


# -- destruction -----------------------------------------------------------------------------


@dataclass
class Destruction:
    event: Event
    record: PadRecord
    details: dict[str, Any]


def _crypto_erase_plan(oh: OpenHome, rec: PadRecord) -> tuple[dict[str, Any], bytes | None]:
    """What a crypto-erase will do and check, found before anything is destroyed (read only).

    Returns the planned payload details and one encrypted chunk kept in memory to prove,
    afterwards, that it no longer decrypts."""
    from custody.pad import vault

    raw = bytes.fromhex(rec.pad_id)
    label = vault.key_label(raw)
    directory = vault.vault_dir(oh.path, raw)
    had_key = oh.token.has_key(label)
    sample: bytes | None = None
    chunk = directory / vault.CHUNKS_DIR / "000000.gcm"
    if chunk.is_file():
        sample = vault.read_chunk_file(chunk)
    if not had_key and sample is None:
        raise LifecycleError(
            f"pad {rec.display}: the HSM holds no key {label!r} and the home no facility copy; "
            "nothing to crypto-erase here (wrong home or token?)"
        )
    return {
        "key_label": label,
        "key_present_before": had_key,
        "keys_destroyed": 1 if had_key else 0,
        "chunk_files_removed": directory.exists(),
        "token_lists_key_after": False,
        "chunk_decrypts_after": False,
        "checked_chunk": "000000" if sample is not None else None,
    }, sample


def _crypto_erase(oh: OpenHome, rec: PadRecord, sample: bytes | None) -> dict[str, Any]:
    """Destroy the per-pad key and the vault, then verify; returns the observed details."""
    from custody.pad import vault

    raw = bytes.fromhex(rec.pad_id)
    label = vault.key_label(raw)
    destroyed = vault.destroy_vault(oh.path, oh.token, raw)
    listed = label in oh.token.labels()
    decrypts = False
    if sample is not None:
        try:
            buf = vault.decrypt_chunk(oh.token, label, raw, 0, sample)
        except (HsmError, PadFormatError):
            decrypts = False
        else:
            buf[:] = bytes(len(buf))
            decrypts = True
    if listed or decrypts or oh.token.has_key(label):
        raise DestructionNotVerified(
            f"pad {rec.display}: after destroying {label!r} the token still lists it or a "
            "chunk still decrypts; the pad is NOT recorded as destroyed"
        )
    return {
        "keys_destroyed": destroyed["keys_destroyed"],
        "chunk_files_removed": destroyed["chunk_files_removed"],
    }


@dataclass(frozen=True)
class MediumTools:
    """How to identify a medium and zeroize a pad copy on it. The ceremony layer owns both
    (ceremony.usb_media); the caller passes them in, so custody never imports upward."""

    identify: Callable[[Path], dict[str, Any]]
    zeroize_and_remove: Callable[[Path], list[str]]


# What `zeroize_and_remove` takes away from a pad directory, in its order (planned up front).
_PAD_FILES = ("pad.bin.partial", "pad.bin", "manifest.json", "journal.json", ".lock")


def _overwrite_plan(
    rec: PadRecord, usb_dir: Path | None, tools: MediumTools | None
) -> dict[str, Any]:
    """Check the customer copy and plan its overwrite (read only)."""
    from custody.pad.store import PAD_NAME, read_manifest

    if tools is None:
        raise UsageError("overwriting a customer copy needs the medium tools of the ceremony layer")
    if usb_dir is None:
        raise UsageError("--method overwrite needs the customer copy's directory (--usb DIR)")
    try:
        manifest = read_manifest(usb_dir)
    except PadFormatError as exc:
        raise LifecycleError(f"no readable pad copy at {usb_dir}: {exc.message}") from None
    if manifest.pad_id.hex() != rec.pad_id:
        raise LifecycleError(
            f"the copy at {usb_dir} is pad {manifest.pad_id_display}, not {rec.display}"
        )
    size = (usb_dir / PAD_NAME).stat().st_size if (usb_dir / PAD_NAME).exists() else 0
    medium = tools.identify(usb_dir)
    return {
        "medium": {k: medium.get(k) for k in ("kind", "vendor", "model", "serial")},
        "bytes_overwritten": size,
        "files_removed": [n for n in _PAD_FILES if (usb_dir / n).exists()],
        "note": "zeros written and synced, then deleted; flash wear levelling may keep old "
        "cells (best effort)",
    }


def _overwrite(usb_dir: Path, tools: MediumTools) -> dict[str, Any]:
    from custody.pad.store import PAD_NAME

    removed = tools.zeroize_and_remove(usb_dir)
    if (usb_dir / PAD_NAME).exists():
        raise DestructionNotVerified(f"{usb_dir / PAD_NAME} is still there after overwriting")
    return {"files_removed": removed}


def _observe(oh: OpenHome, rec: PadRecord, method: str, usb_dir: Path | None) -> dict[str, Any]:
    """What is left after a failed act (for the failure record); never raises."""
    from custody.pad import vault

    out: dict[str, Any] = {}
    raw = bytes.fromhex(rec.pad_id)
    try:
        if method == "crypto-erase":
            out["token_lists_key"] = oh.token.has_key(vault.key_label(raw))
            out["vault_present"] = vault.vault_dir(oh.path, raw).exists()
        elif method == "overwrite" and usb_dir is not None:
            out["pad_file_present"] = (usb_dir / "pad.bin").exists()
    except Exception as exc:  # the failure record matters more than these details
        out["observation_failed"] = type(exc).__name__
    return out


def destroy(
    oh: OpenHome,
    pad: str,
    method: str,
    approvers: Sequence[tuple[str, str]],
    *,
    usb_dir: Path | None = None,
    medium_serial: str | None = None,
    physical_method: str | None = None,
    witnesses: Sequence[str] = (),
    medium_tools: MediumTools | None = None,
) -> Destruction:
    """Destroy one copy of a pad: check, get both officers' approval, act, verify, record.

    Nothing is destroyed before both officers have approved the exact `pad.destroyed` event
    (each refusal is recorded as `approval.refused` and leaves every copy as it was). If the
    act or its verification fails after approval, `pad.destroy_failed` records what happened
    and what is left, and the error is raised.
    """
    from custody.ledger import officers

    if method not in METHOD_COPY:
        raise UsageError(f"--method must be one of {', '.join(METHOD_COPY)}")
    rec = find_pad(oh.ledger, pad)
    payload: dict[str, Any] = {**_base(rec), "method": method, "copy": METHOD_COPY[method]}
    check_transition(rec, DESTROYED_EVENT, payload)
    sample: bytes | None = None
    if method == "physical":
        serial = _clean(medium_serial or "", "the medium serial (--medium-serial)", 64)
        names = [_clean(w, "a witness name", 80) for w in witnesses]
        if len(names) < 2 or len(set(names)) != len(names):
            raise UsageError("physical destruction needs at least two distinct --witness names")
        details = {
            "medium_serial": serial,
            "physical_method": _clean(physical_method or "", "--physical-method", 120),
            "witnesses": names,
        }
        if rec.usb_serial:
            _serial_check(
                oh, rec, "destruction", "medium serial", rec.usb_serial, serial, approvers, None
            )
    elif method == "overwrite":
        details = _overwrite_plan(rec, usb_dir, medium_tools)
    else:
        details, sample = _crypto_erase_plan(oh, rec)
    payload.update(details)
    payload["merkle_root"] = rec.merkle_root
    payload["pad_sha256"] = rec.pad_sha256
    payload["from_state"] = rec.state

    # 1. Both officers approve the exact event before anything is destroyed.
    ledger = oh.ledger
    request = ledger.request_approval(DESTROYED_EVENT, payload)
    approvals = officers.collect(ledger, request, approvers)

    # 2. The act and its verification; a failure is recorded, never lost.
    try:
        if method == "overwrite" and usb_dir is not None and medium_tools is not None:
            observed = _overwrite(usb_dir, medium_tools)  # (both checked by the plan)
        elif method == "crypto-erase":
            observed = _crypto_erase(oh, rec, sample)
        else:
            observed = {}  # physical: the officers witnessed it; the event is the record
    except BaseException as exc:
        _record_failure(oh, rec, payload, approvals, exc, _observe(oh, rec, method, usb_dir))
        raise

    # 3. The approved event. Should the act have found other details than planned (e.g. two
    #    key objects under one label), the same officers sign the event as it happened.
    final = {**payload, **observed}
    try:
        if final == payload:
            event = officers.append_approved(ledger, request, approvals)
        else:
            event = officers.append_with_officers(ledger, DESTROYED_EVENT, final, approvers)
    except BaseException as exc:
        _record_failure(oh, rec, final, approvals, exc, {"act_done": True})
        raise
    return Destruction(event, find_pad(ledger, pad), final)


def _record_failure(
    oh: OpenHome,
    rec: PadRecord,
    payload: dict[str, Any],
    approvals: Sequence[Any],
    exc: BaseException,
    observed: dict[str, Any],
) -> None:
    message = exc.message if isinstance(exc, RedDoorError) else type(exc).__name__
    try:
        oh.ledger.append(
            DESTROY_FAILED,
            {
                **_base(rec),
                "method": payload["method"],
                "copy": payload["copy"],
                "approved_by": [a.officer for a in approvals],
                "error": type(exc).__name__,
                "detail": str(message)[:500],
                "observed": observed,
                "from_state": rec.state,
            },
            actors=[a.officer for a in approvals],
        )
    except Exception as ledger_exc:  # keep the original error; say the record failed
        log.error("could not record the failed destruction: %s", type(ledger_exc).__name__)


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

    def __call__(self) -> list[bytes]:
        with self._lock:
            conn = self._conn()
            row = conn.execute("SELECT max(seq) FROM events").fetchone()
            top = -1 if row[0] is None else int(row[0])
            self._deriver.feed(_rows(conn, self._deriver.last_seq, _SCAN_TYPES, top))
            # link.query events in between are skipped once, not rescanned every poll
            self._deriver.last_seq = max(self._deriver.last_seq, top)
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
            return f"{_words(rec.state)}, not active"
        return _words(rec.state)

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(Exception):
                conn.close()


def describe_event(e: Event) -> dict[str, Any]:
    """A compact, secret-free JSON view of an event (for --json output)."""
    out: dict[str, Any] = canonical_json.loads(canonical_json.dumps(e.to_dict()))
    return out
