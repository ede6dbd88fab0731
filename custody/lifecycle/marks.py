"""The facility ledger as the authority on how far a facility copy of a pad has been used.

A facility copy (the HSM vault's `HOME/vault/<id>/`, or a plain copy served with `--pads`) lives
on a disk that is backed up and can be restored; its journal and the host witness go back with
it. The ledger does not: its history is hash-chained and its signed checkpoints travel on
receipts and with the customer, so rolling it back is detected (docs/ledger.md). So when a
facility copy is used under a facility home:

* **Mirror before use.** Every journal write of the copy is first appended to the ledger as a
  `pad.marks` event (the journal's generation and marks, no pad bytes), *before* the journal is
  written and so before any byte it reserves is used. The ledger therefore bounds every byte the
  copy can ever have used, also for an answer still streaming when the host died.
* **Check at open.** The copy's journal must be at or above everything the ledger records for
  the pad: the last `pad.marks` or `pad.resynced`, and every range of every `link.query` event
  (questions received, answers sent). A copy that is:
    - at or above: served (and the ledger told its current state if it lags, e.g. after the
      copy was served without a home);
    - exactly one journal write behind the ledger's last mark: moved up to the ledger's marks at
      once and logged — the process died between the ledger append and the journal write (or a
      backup of exactly that moment was restored); either way the bytes up to the ledger's marks
      may have been used, and skipping them is the loss a crash has always meant;
    - further behind: refused (`PadRollbackError`, exit 5), nothing served. Two officers move it
      up with `reddoor pad resync` (`resync`), recorded as `pad.resynced`.

A `--pads` copy served without a home has no ledger: only the host witness protects it, and a
rebuilt host has none (docs/deploy-link.md). Format of the events: docs/ledger.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.errors import PadRollbackError
from custody.ledger.chain import Ledger
from custody.link.chronicle import LEDGER_EVENT
from custody.pad import ids as pad_ids
from custody.pad.journal import IntervalSet, JournalState
from custody.pad.manifest import Side
from custody.pad.pad_copy import PadCopy

log = logging.getLogger(__name__)

MARKS_EVENT = "pad.marks"
RESYNC_EVENT = "pad.resynced"  # two officers (custody.ledger.entry.TWO_PERSON_TYPES)
MAX_SEEN = 256  # receive ranges above the mark kept in a marks event (more: the mark only)

Interval = tuple[int, int]


@dataclass(frozen=True)
class LedgerMarks:
    """What the ledger says one side of a pad has used: the floor a copy must be at."""

    pad_id: bytes
    side: Side
    generation: int | None  # of the last pad.marks / pad.resynced (None: none recorded)
    send_floor: int  # every byte of the send region below this may have been sent
    recv_consumed: tuple[Interval, ...]  # receive ranges the ledger says were consumed
    recv_start: int

    @property
    def recv_high(self) -> int:
        return max((b for _, b in self.recv_consumed), default=self.recv_start)


@dataclass(frozen=True)
class Behind:
    """How far a journal is below the ledger's marks (bytes the copy would use again)."""

    send: int
    recv: int

    def __bool__(self) -> bool:
        return bool(self.send or self.recv)


def _region_starts(copy: PadCopy) -> tuple[int, int]:
    return copy.send_region.start, copy.recv_region.start


def read_marks(ledger: Ledger, copy: PadCopy) -> LedgerMarks:
    """The ledger's record of `copy`'s side of its pad (events naming the pad only)."""
    side = copy.side
    send_dir, recv_dir = side.sends.value, side.receives.value
    send_start, recv_start = _region_starts(copy)
    needle = f'"pad_id":"{copy.pad_id.hex()}"'.encode()
    rows = ledger.conn.execute(
        "SELECT seq FROM events WHERE type IN (?, ?, ?) AND instr(payload, ?) > 0 ORDER BY seq",
        (MARKS_EVENT, RESYNC_EVENT, LEDGER_EVENT, needle),
    ).fetchall()
    send_floor = send_start
    recv = IntervalSet()
    generation: int | None = None
    last: dict[str, Any] | None = None
    for (seq,) in rows:
        e = ledger.event(int(seq))
        p = e.payload
        if p.get("pad_id") != copy.pad_id.hex():
            continue
        if e.type == LEDGER_EVENT:
            if side is not Side.FACILITY:
                continue  # link.query is the gateway's (facility) record
            for off, length in p.get(f"{send_dir}_ranges", []):
                send_floor = max(send_floor, int(off) + int(length))
            for off, length in p.get(f"{recv_dir}_ranges", []):
                recv.add(int(off), int(off) + int(length))
        elif p.get("side") == side.value:
            marks = p["marks"] if e.type == MARKS_EVENT else p["to"]
            last = marks
            generation = int(marks["generation"])
    if last is not None:
        send_floor = max(send_floor, int(last["send_reserved"]))
        if int(last["recv_mark"]) > recv_start:
            recv.add(recv_start, int(last["recv_mark"]))
        for a, b in last.get("recv_seen", []):
            recv.add(int(a), int(b))
    return LedgerMarks(copy.pad_id, side, generation, send_floor, tuple(recv.items()), recv_start)


def journal_consumed(state: JournalState, recv_start: int) -> list[Interval]:
    out = IntervalSet(list(state.recv_seen))
    if state.recv_mark > recv_start:
        out.add(recv_start, state.recv_mark)
    return out.items()


def behind(state: JournalState, marks: LedgerMarks) -> Behind:
    """Bytes the ledger says were used that the journal `state` would still use."""
    send = max(0, marks.send_floor - state.send_reserved)
    have = IntervalSet(journal_consumed(state, marks.recv_start))
    missing = 0
    for a, b in marks.recv_consumed:
        pos = a
        for c, d in have.items():
            if d <= pos or c >= b:
                continue
            missing += max(0, c - pos)
            pos = max(pos, d)
        missing += max(0, b - pos)
    return Behind(send, missing)


def marks_payload(state: JournalState) -> dict[str, Any]:
    seen = [list(r) for r in state.recv_seen]
    return {
        "generation": state.generation,
        "send_reserved": state.send_reserved,
        "recv_mark": state.recv_mark,
        "recv_seen": seen if len(seen) <= MAX_SEEN else [],
    }


def _marks_of(state: JournalState) -> dict[str, Any]:
    if len(state.recv_seen) <= MAX_SEEN:
        return marks_payload(state)
    # Too many ranges above the mark to record: record the mark at the highest of them, which
    # is stricter for a restored copy (it may lose the gaps), never looser.
    top = max(b for _, b in state.recv_seen)
    return {**marks_payload(state), "recv_mark": top}


def describe(state: JournalState, side: Side) -> str:
    return (
        f"{side.sends.label} reserved to {state.send_reserved}, "
        f"{side.receives.label} mark {state.recv_mark} (journal generation {state.generation})"
    )


class MarksGuard:
    """Mirrors facility copies' journals into a home's ledger and checks them when opened.

    `ledger` is a `Ledger` on a connection this guard may use from any thread (every call holds
    the guard's lock); `actor` names the writer in the events (e.g. "gateway:facility").
    """

    def __init__(self, ledger: Ledger, *, actor: str) -> None:
        self.ledger = ledger
        self.actor = actor
        self._lock = threading.Lock()

    # -- at open ---------------------------------------------------------------------------
    def open(self, pad_id: bytes, opener: Callable[[], PadCopy]) -> PadCopy:
        """`opener()` (the copy's own rollback checks), then the ledger's (`attach`)."""
        try:
            copy = opener()
        except PadRollbackError as exc:
            raise PadRollbackError(
                f"{exc.message}. Two officers can move the facility copy up to the ledger's "
                f"marks: reddoor pad resync {pad_ids.display(pad_id)}"
            ) from None
        return self.attach(copy)

    def attach(self, copy: PadCopy) -> PadCopy:
        """Check `copy` against the ledger, then mirror its journal writes. Refuses (exit 5)
        with what to do when the copy is behind; abandons the copy on any failure."""
        try:
            self._attach(copy)
        except BaseException:
            copy.abandon()
            raise
        return copy

    def _attach(self, copy: PadCopy) -> None:
        with self._lock:
            marks = read_marks(self.ledger, copy)
        state = copy.journal
        gap = behind(state, marks)
        copy.before_journal = self._recorder(copy, "journal")
        if not gap:
            if marks.generation != state.generation:
                self._record(copy, state, "opened")
            return
        display = pad_ids.display(copy.pad_id)
        if marks.generation is not None and state.generation == marks.generation - 1:
            forgone = copy.raise_marks(marks.send_floor, marks.recv_high)
            log.warning(
                "pad %s: the facility copy's journal was one write behind the ledger (the "
                "process stopped between the two); moved up to the ledger's marks, %d %s and %d "
                "%s pad bytes forgone",
                display,
                forgone[0],
                copy.side.sends.label,
                forgone[1],
                copy.side.receives.label,
            )
            return
        raise PadRollbackError(
            f"the facility copy of pad {display} is behind the facility ledger "
            f"({gap.send} {copy.side.sends.label} and {gap.recv} {copy.side.receives.label} "
            "bytes the ledger records as used would be used again): it was restored from a "
            "backup or copied. Nothing was served. Two officers can move it up to the ledger's "
            f"marks: reddoor pad resync {display}"
        )

    # -- every journal write ---------------------------------------------------------------
    def _recorder(self, copy: PadCopy, why: str) -> Callable[[JournalState], None]:
        def record(state: JournalState) -> None:
            self._record(copy, state, why)

        return record

    def _record(self, copy: PadCopy, state: JournalState, why: str) -> None:
        payload = {
            "pad_id": copy.pad_id.hex(),
            "side": copy.side.value,
            "reason": why,
            "marks": _marks_of(state),
        }
        with self._lock:
            self.ledger.append(MARKS_EVENT, payload, actors=(self.actor,))

    @classmethod
    def for_home(cls, home: Path, settings: Any, token: Any, *, actor: str) -> MarksGuard:
        """A guard on its own connection to the home's ledger (`custody.ledger.home.open_ledger`),
        usable from every thread of a gateway (the guard serialises its calls)."""
        from custody.ledger.home import open_ledger

        return cls(open_ledger(home, settings, token, check_same_thread=False), actor=actor)

    def close(self) -> None:
        with self._lock:
            self.ledger.conn.close()


# -- the explicit operator action ------------------------------------------------------------


@dataclass(frozen=True)
class ResyncPlan:
    pad_id: bytes
    side: Side
    before: JournalState
    marks: LedgerMarks
    gap: Behind

    def payload(self, after: JournalState | None = None) -> dict[str, Any]:
        to = after or self.target()
        return {
            "pad_id": self.pad_id.hex(),
            "pad_id_display": pad_ids.display(self.pad_id),
            "side": self.side.value,
            "from": marks_payload(self.before),
            "to": _marks_of(to),
            "forgone": {
                self.side.sends.value: self.gap.send,
                self.side.receives.value: self.gap.recv,
            },
        }

    def target(self) -> JournalState:
        """The journal the copy will have: marks raised to the ledger's, one generation on."""
        b = self.before
        recv_mark = max(b.recv_mark, self.marks.recv_high)
        return JournalState(
            pad_id=b.pad_id,
            manifest_sha256=b.manifest_sha256,
            side=b.side,
            generation=max(b.generation, self.marks.generation or 0) + 1,
            send_reserved=max(b.send_reserved, self.marks.send_floor),
            recv_mark=recv_mark,
            recv_seen=[(max(a, recv_mark), c) for a, c in b.recv_seen if c > recv_mark],
        )


def plan_resync(ledger: Ledger, copy: PadCopy, witness: JournalState | None = None) -> ResyncPlan:
    """How far `copy` must move up: to the ledger's marks, and to the host witness's when the
    witness saw a later journal than the copy holds (a copy served without a home, restored)."""
    marks = read_marks(ledger, copy)
    if witness is not None:
        recv = IntervalSet(list(marks.recv_consumed))
        for a, b in journal_consumed(witness, marks.recv_start):
            recv.add(a, b)
        marks = LedgerMarks(
            marks.pad_id,
            marks.side,
            max(marks.generation or 0, witness.generation),
            max(marks.send_floor, witness.send_reserved),
            tuple(recv.items()),
            marks.recv_start,
        )
    return ResyncPlan(copy.pad_id, copy.side, copy.journal, marks, behind(copy.journal, marks))


def apply_resync(copy: PadCopy, plan: ResyncPlan, ledger: Ledger, actor: str) -> tuple[int, int]:
    """Raise `copy` to the plan's marks, its journal mirrored in the ledger like any write."""
    target = plan.target()
    copy.before_journal = MarksGuard(ledger, actor=actor)._recorder(copy, "resync")
    return copy.raise_marks(
        target.send_reserved, target.recv_mark, generation_at_least=target.generation
    )
