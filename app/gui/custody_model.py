"""What the custody & audit view shows, computed from the ledger events and the pad journals.

Qt-free. Pads are grouped from every event whose payload names a `pad_id`. Each pad's state and
consumption are `custody.lifecycle.states`' records, the same the reports (`reddoor report
inventory|consumption|pad`) are built from: bytes used per direction and queries are the sums
of the ledger's `link.query` events, and the consumption chart draws their running total
(`custody.lifecycle.consumption.cumulative`), so it ends at the reports' figures. The facility
copies' journals add what `reddoor pad status` says of them (bytes left). A pad whose facility
copy is here but which the ledger does not record is listed as "not in the ledger", as
inventory leaves it out. `load_custody` is the blocking read a worker runs for
`app.gui.custody_view`; the rest turns what it read into the text of the view's tables and
banner (event lines are `app.gui.event_text`'s). Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.gui.event_text import event_detail
from app.gui.fact_text import local_time, pad_display
from custody.documents.reports.shared import plural
from custody.ledger.entry import Event
from custody.ledger.verify import VerifyReport
from custody.lifecycle.consumption import cumulative
from custody.pad.status import read_status

if TYPE_CHECKING:  # an annotation only: the view passes its open facility
    from app.gui.facility import Facility
    from custody.lifecycle.states import PadRecord

log = logging.getLogger(__name__)

STATE_BY_EVENT = {
    "pad.generated": "generated",
    "pad.customer_copy_written": "customer copy written",
    "pad.facility_copy_written": "facility copy written",
    "pad.copies_verified": "verified",
    "pad.sealed": "sealed",
    "ceremony.closed": "issued",
    "ceremony.receipt_signed": "issued",
    "ceremony.aborted": "aborted",
    "ceremony.failed": "failed",
}
NOT_IN_LEDGER = "not in the ledger"


# States a pad is in before it is used; one whose copy has used bytes shows "in service".
NOT_YET_IN_SERVICE = frozenset(
    {"generated", "verified", "sealed", "issued", "in transit", "delivered", "unknown"}
)


@dataclass
class PadRow:
    pad_id: str
    state: str = "unknown"
    created: str = ""
    usb_serial: str = ""
    bag_serial: str = ""
    consumed_w2f: int | None = None  # the ledger's link.query sums (as the reports)
    consumed_f2w: int | None = None
    queries: int | None = None
    last_activity: str = ""
    practice: bool = False
    in_ledger: bool = False  # the ledger records the pad (states.PadRecord.recorded)
    left_w2f: int | None = None  # the facility journal, as `reddoor pad status` reads it
    left_f2w: int | None = None
    in_service: bool = False  # a copy of it has used bytes (custody.pad.status), or queries
    events: list[Event] = field(default_factory=list)
    usage: list[tuple[float, int, int]] = field(default_factory=list)  # (unix time, w2f, f2w) cum.


def _find(payload: Any, keys: tuple[str, ...]) -> str:
    """The first string value under any of `keys`, searching nested dicts."""
    if isinstance(payload, dict):
        for k in keys:
            v = payload.get(k)
            if isinstance(v, str | int) and v != "":
                return str(v)
        for v in payload.values():
            found = _find(v, keys)
            if found:
                return found
    return ""


def _pad_id_of(payload: dict[str, Any]) -> str:
    pid = payload.get("pad_id")
    return pid if isinstance(pid, str) else ""


def unix_time(iso: str) -> float:
    """A ledger time (UTC ISO 8601, `Z`) as seconds since the epoch."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def pad_rows(events: Iterable[Event], facility_dirs: Iterable[Path] = ()) -> list[PadRow]:
    rows: dict[str, PadRow] = {}
    ceremony_pad: dict[str, str] = {}
    events_list = list(events)
    for e in events_list:
        pid = _pad_id_of(e.payload)
        cid = e.payload.get("ceremony_id")
        if not pid and isinstance(cid, str):
            pid = ceremony_pad.get(cid, "")
        if not pid:
            continue
        if isinstance(cid, str):
            ceremony_pad[cid] = pid
        row = rows.setdefault(pid, PadRow(pid, created=e.time))
        row.events.append(e)
        row.state = STATE_BY_EVENT.get(e.type, e.type.split(".", 1)[-1].replace("_", " "))
        row.last_activity = e.time
        serial = _find(e.payload.get("customer_drive") or e.payload.get("drive") or {}, ("serial",))
        row.usb_serial = (
            serial or _find(e.payload, ("usb_serial", "drive_serial")) or row.usb_serial
        )
        row.bag_serial = _find(e.payload, ("bag_serial",)) or row.bag_serial
        if e.payload.get("mark") == "PRACTICE" or e.payload.get("practice") is True:
            row.practice = True
    for d in facility_dirs:
        try:
            status = read_status(d)
        except Exception as exc:
            log.info("pad %s unreadable (%s)", d.name, type(exc).__name__)
            continue
        pid = status.manifest.pad_id.hex()
        row = rows.setdefault(pid, PadRow(pid, created=status.manifest.created))
        if not row.created:
            row.created = status.manifest.created
        row.practice = row.practice or status.manifest.mark.value == "PRACTICE"
        for direction, n in status.remaining.items():
            if direction.value == "w2f":
                row.left_w2f = n
            else:
                row.left_f2w = n
        row.in_service = status.in_service  # custody.pad.status: the reserve is never "used"
    records = ledger_records(events_list)
    for pid, row in rows.items():
        rec = records.get(pid)
        if rec is None or not rec.recorded:
            row.state = NOT_IN_LEDGER
            continue
        _apply_record(row, rec)
        row.in_service = row.in_service or bool(rec.queries)
        if row.in_service and row.state in NOT_YET_IN_SERVICE:
            row.state = "in service"  # carrying queries, whatever the seal said
    return sorted(rows.values(), key=lambda r: r.created)


def _apply_record(row: PadRow, rec: PadRecord) -> None:
    """The ledger's word on a pad: its state and its consumption, as the reports give them."""
    row.in_ledger = True
    row.state = rec.state.replace("_", " ")
    row.consumed_w2f = rec.used["w2f"]
    row.consumed_f2w = rec.used["f2w"]
    row.queries = rec.queries
    row.practice = row.practice or rec.mark == "PRACTICE"
    row.usage = [(unix_time(u.time), u.w2f, u.f2w) for u in cumulative(rec.usage)]
    if rec.last_query:
        row.last_activity = max(row.last_activity, rec.last_query)


def ledger_records(events: list[Event]) -> dict[str, PadRecord]:
    """Each pad's record as `custody.lifecycle.states` derives it from the ledger (generated →
    sealed → in transit → delivered → active → exhausted/retired → destroyed, and what the
    link consumed). If the derivation fails this returns nothing: every pad then reads "not in
    the ledger" rather than the view failing."""
    from custody.lifecycle import states

    try:
        deriver = states.Deriver()
        deriver.feed(events)
        return deriver.pads
    except Exception as exc:  # a bad ledger row must not take the custody view down
        log.info("pad lifecycle states unavailable (%s)", type(exc).__name__)
        return {}


def event_summary(e: Event) -> str:
    payload = json.dumps(e.payload, sort_keys=True, ensure_ascii=False)
    if len(payload) > 300:
        payload = payload[:297] + "..."
    return payload


def load_custody(facility: Facility) -> dict[str, Any]:
    """Blocking (a worker runs it): the ledger's events and officers, and every pad's row."""
    events = facility.events()
    return {
        "events": events,
        "officers": facility.officers(),
        "quorum_warning": facility.quorum_warning(),
        "rows": pad_rows(events, facility.facility_pad_dirs()),
    }


# -- the view's text ----------------------------------------------------------------------


def bytes_text(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def pad_cells(r: PadRow) -> tuple[str, ...]:
    """One row of the pads table, in the order of `app.gui.custody_view.PAD_COLUMNS`."""
    return (
        pad_display(r.pad_id),
        r.state + (" (practice)" if r.practice else ""),
        local_time(r.created),
        r.usb_serial or "—",
        r.bag_serial or "—",
        bytes_text(r.consumed_w2f),
        bytes_text(r.consumed_f2w),
        local_time(r.last_activity),
    )


def pad_heading(r: PadRow) -> str:
    """The pad history's header: which pad, and its state."""
    title = f"Pad {pad_display(r.pad_id)}" + ("  (PRACTICE)" if r.practice else "")
    return f"{title} — {r.state}"


def pad_notes(r: PadRow) -> list[str]:
    """The lines under a pad's history: what the ledger counts (as the reports), what the
    facility journal has left (as `reddoor pad status`), or why the ledger does not know it."""
    notes = []
    if not r.in_ledger:
        notes.append(
            "The ledger records no ceremony or practice creation for this pad: inventory and "
            "the reports leave it out. A practice gateway records it when it starts serving it."
        )
    if r.queries is not None:
        notes.append(
            f"Ledger: {r.queries:,} {'query' if r.queries == 1 else 'queries'}, "
            f"{r.consumed_w2f or 0:,} bytes used workstation→facility, {r.consumed_f2w or 0:,} "
            "bytes used facility→workstation (as reddoor report consumption counts them)."
        )
    if r.left_w2f is not None:
        notes.append(
            f"Facility journal: {r.left_w2f:,} bytes left workstation→facility, "
            f"{r.left_f2w or 0:,} bytes left facility→workstation (as reddoor pad status reads "
            "them: reserved blocks and the end-of-pad reserve count as spent)."
        )
    return notes


def log_columns(e: Event) -> tuple[str, str, str]:
    """An event's "Actors / approvals" and "What" in the event log, and the text its filter
    searches (the raw payload included)."""
    who = ", ".join(e.actors)
    signed = ", ".join(a.get("officer", "?") for a in e.approvals)
    people = who + (f" (approved: {signed})" if signed else "")
    try:
        what = event_detail(e.type, e.payload)
    except Exception:  # a malformed payload: show it raw rather than nothing
        what = event_summary(e)
    haystack = f"{e.type} {people} {what} {event_summary(e)}".lower()
    return people, what, haystack


def verify_banner(report: VerifyReport, when: str) -> tuple[str, str]:
    """The banner's level and text for a verification checked at `when`."""
    if report.ok:
        return (
            "ok",
            f"Ledger verifies: {plural(report.size, 'event')}, "
            f"{plural(len(report.checkpoints), 'signed checkpoint')} "
            f"{'holds' if len(report.checkpoints) == 1 else 'hold'} (checked {when}).",
        )
    first = report.first_problem
    where = f"event {first.seq}: " if first and first.seq is not None else ""
    what = first.what if first else "unknown problem"
    return (
        "error",
        f"LEDGER DOES NOT VERIFY — {where}{what} ({plural(len(report.problems), 'problem')}, "
        f"checked {when}). Stop and call the custody lead.",
    )
