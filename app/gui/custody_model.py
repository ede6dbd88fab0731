"""What the custody & audit view shows, computed from the ledger events and the pad journals.

Qt-free. Pads are grouped from every event whose payload names a `pad_id`; consumption comes
from the facility copies' journals (bytes used per direction) and the gateway's chronicle
(consumption over time). `load_custody` is the blocking read a worker runs for
`app.gui.custody_view`; the rest turns what it read into the text of the view's tables and
banner (event lines are `app.gui.event_text`'s). Nothing here writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.gui.event_text import event_detail
from app.gui.fact_text import local_time, pad_display
from custody.bounded_read import iter_lines
from custody.errors import RedDoorError
from custody.ledger.entry import Event
from custody.ledger.verify import VerifyReport
from custody.link.chronicle import MAX_CHRONICLE_BYTES, MAX_CHRONICLE_LINE
from custody.pad.status import read_status

if TYPE_CHECKING:  # an annotation only: the view passes its open facility
    from app.gui.facility import Facility

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
    consumed_w2f: int | None = None
    consumed_f2w: int | None = None
    last_activity: str = ""
    practice: bool = False
    in_service: bool = False  # a copy of it has used bytes (custody.pad.status)
    events: list[Event] = field(default_factory=list)
    usage: list[tuple[float, int, int]] = field(default_factory=list)  # (time, w2f, f2w) cum.


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


def pad_rows(
    events: Iterable[Event],
    facility_dirs: Iterable[Path] = (),
    chronicle: Path | None = None,
) -> list[PadRow]:
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
        row = rows.setdefault(pid, PadRow(pid, state="in service", created=status.manifest.created))
        if not row.created:
            row.created = status.manifest.created
        row.practice = row.practice or status.manifest.mark.value == "PRACTICE"
        # custody.pad.status's one definition: the region's reserve never counts as used.
        for direction, n in status.used.items():
            if direction.value == "w2f":
                row.consumed_w2f = n
            else:
                row.consumed_f2w = n
        row.in_service = status.in_service
    if chronicle is not None and chronicle.is_file():
        _add_usage(rows, chronicle)
    for pid, state in lifecycle_states(events_list).items():
        if pid in rows:
            rows[pid].state = state
    for row in rows.values():
        if row.in_service and row.state in NOT_YET_IN_SERVICE:
            row.state = "in service"  # carrying queries, whatever the seal said
    return sorted(rows.values(), key=lambda r: r.created)


def lifecycle_states(events: list[Event]) -> dict[str, str]:
    """Each pad's state as `custody.lifecycle.states` derives it from the ledger (generated →
    sealed → in transit → delivered → active → exhausted/retired → destroyed). If the derivation
    fails this returns nothing and the State column keeps the last ceremony step
    (`STATE_BY_EVENT`)."""
    from custody.lifecycle import states

    try:
        deriver = states.Deriver()
        deriver.feed(events)
        return {pid: str(rec.state).replace("_", " ") for pid, rec in deriver.pads.items()}
    except Exception as exc:  # a bad ledger row must not take the custody view down
        log.info("pad lifecycle states unavailable (%s)", type(exc).__name__)
        return {}


def _add_usage(rows: dict[str, PadRow], chronicle: Path) -> None:
    per_pad: dict[str, list[tuple[float, int, int]]] = {}
    try:
        lines = list(iter_lines(chronicle, MAX_CHRONICLE_BYTES, MAX_CHRONICLE_LINE, "chronicle"))
    except (OSError, RedDoorError):
        return
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        pid = rec.get("pad_id")
        if pid not in rows:
            continue
        w = sum(int(r[1]) for r in rec.get("w2f_ranges", []))
        f = sum(int(r[1]) for r in rec.get("f2w_ranges", []))
        per_pad.setdefault(pid, []).append((float(rec.get("finished_at") or 0), w, f))
    for pid, recs in per_pad.items():
        recs.sort()
        cw = cf = 0
        usage = []
        for t, w, f in recs:
            cw += w
            cf += f
            usage.append((t, cw, cf))
        rows[pid].usage = usage
        if usage:
            import datetime as dt

            last = dt.datetime.fromtimestamp(usage[-1][0], dt.UTC)
            stamp = last.strftime("%Y-%m-%dT%H:%M:%SZ")
            rows[pid].last_activity = max(rows[pid].last_activity, stamp)


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
        "rows": pad_rows(events, facility.facility_pad_dirs(), facility.chronicle_path()),
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
    """The lines under a pad's history: why it has none, what its facility journal says."""
    notes = []
    if not r.events:
        notes.append("No ledger events name this pad (a practice pad made outside a ceremony).")
    if r.consumed_w2f is not None:
        notes.append(
            f"Facility journal: {r.consumed_w2f:,} bytes used workstation→facility, "
            f"{r.consumed_f2w or 0:,} bytes used facility→workstation."
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
            f"Ledger verifies: {report.size} events, {len(report.checkpoints)} signed "
            f"checkpoints hold (checked {when}).",
        )
    first = report.first_problem
    where = f"event {first.seq}: " if first and first.seq is not None else ""
    what = first.what if first else "unknown problem"
    return (
        "error",
        f"LEDGER DOES NOT VERIFY — {where}{what} ({len(report.problems)} problem(s), "
        f"checked {when}). Stop and call the custody lead.",
    )
