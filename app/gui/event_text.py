"""Ledger events as readable lines: the custody view's pad history and event log.

Qt-free. `event_line` is one line per event ("#7 2026-11-23 17:21:27  Facility copy written —
HSM …; approved by A, B"); `event_title` and `event_detail` are its parts, which the event log
shows in columns. The words for drives, HSMs and roots are `app.gui.fact_text`'s, as in the
ceremony's step summaries; the exact payload stays one click away (the view's expandable rows).
"""

from __future__ import annotations

from typing import Any

from app.gui.fact_text import (
    as_dict,
    as_list,
    as_number,
    as_text,
    generic_lines,
    hsm_text,
    local_time,
    policy_text,
    rate_text,
    roots_match,
    short_hex,
    yes_no,
)
from ceremony.sizing import format_size
from custody.lifecycle.consumption import query_bytes

EVENT_TITLES = {
    "ledger.created": "Ledger created",
    "officer.enrolled": "Officer enrolled",
    "officer.retired": "Officer retired",
    "approval.refused": "Approval refused",
    "link.query": "Query over the link",
    "ceremony.started": "Ceremony started",
    "ceremony.sources_checked": "Entropy sources checked",
    "pad.generated": "Pad generated",
    "pad.customer_copy_written": "Customer copy written",
    "pad.facility_copy_written": "Facility copy written",
    "pad.copies_verified": "Both copies verified",
    "pad.sealed": "Customer drive sealed",
    "ceremony.closed": "Ceremony closed",
    "ceremony.receipt_signed": "Receipt signed",
    "ceremony.exception": "Ceremony exception",
    "ceremony.aborted": "Ceremony aborted",
    "ceremony.failed": "Ceremony failed",
    "pad.practice_created": "Practice pad created",
    "pad.frame_policy": "Frame policy changed",
}


def event_title(event_type: str) -> str:
    if event_type in EVENT_TITLES:
        return EVENT_TITLES[event_type]
    return event_type.replace(".", " ").replace("_", " ").capitalize()


def event_detail(t: str, p: dict[str, Any]) -> str:
    if t == "ceremony.started":
        plan = as_dict(p.get("plan"))
        sources = ", ".join(as_text(s) for s in as_list(plan.get("sources")))
        return (
            f"{p.get('ceremony_id')}: {format_size(int(as_number(plan.get('size')) or 0))}, split "
            f"{plan.get('split')}, sources {sources}"
        )
    if t == "ceremony.sources_checked":
        rates = as_list(p.get("rates_bytes_per_second"))
        srcs = [as_text(as_dict(s).get("name")) for s in as_list(p.get("sources"))]
        pairs = [f"{n} {rate_text(r)}" for n, r in zip(srcs, rates, strict=False)]
        return ", ".join(pairs) + f"; about {p.get('eta_text')} for {p.get('size_text')}"
    if t == "pad.generated":
        health_ok = all(not as_dict(h).get("failed") for h in as_list(p.get("health")))
        uniform = as_dict(p.get("statistics")).get("consistent_with_uniform", True)
        size = format_size(int(as_number(p.get("size")) or 0))
        return (
            f"{size} in {p.get('generation_seconds')} s, "
            f"health tests {'passed' if health_ok else 'FAILED'}, statistics "
            f"{'consistent with uniform' if uniform else 'NOT uniform'}"
        )
    if t == "pad.customer_copy_written":
        u = as_dict(p.get("usb"))
        name = " ".join(as_text(u.get(k)) for k in ("vendor", "model") if u.get(k)) or "drive"
        serial = f"serial {u['serial']}" if u.get("serial") else "no serial"
        size = format_size(int(as_number(u.get("size")) or 0))
        return f"USB {name}, {serial}, {size}" + ("" if u.get("removable") else " (fixed disk)")
    if t == "pad.facility_copy_written":
        h = as_dict(p.get("hsm"))
        mech = as_text(h.get("mechanism")).replace(" on the token", "") or "AES-256-GCM"
        return (
            f"HSM {h.get('model', '?')} serial {short_hex(h.get('serial'), 4)}, key "
            f"{short_hex(h.get('key_label'), 16)}, {h.get('chunks')} chunk(s) {mech}"
        )
    if t == "pad.practice_created":
        size = format_size(int(as_number(p.get("size")) or 0))
        return f"{size}, split {p.get('split')}, from {p.get('source')}, without a ceremony"
    if t == "pad.copies_verified":
        return "Merkle roots match" if roots_match(p) else "Merkle roots DIFFER"
    if t == "pad.sealed":
        return f"bag {p.get('bag_serial')}"
    if t == "ceremony.closed":
        return f"bag {p.get('bag_serial')}, copies verified: {yes_no(p.get('copies_verified'))}"
    if t == "ceremony.receipt_signed":
        return f"receipt SHA-256 {short_hex(p.get('receipt_sha256'), 16)}"
    if t == "approval.refused":
        who = ", ".join(as_text(o) for o in as_list(p.get("officers")))
        return f"{p.get('operation')}: {as_text(p.get('reason')).replace('_', ' ')}" + (
            f" ({who})" if who else ""
        )
    if t == "link.query":
        used = sum(query_bytes(p).values())  # the reports' count (a malformed payload raises)
        modes = ""
        if p.get("question_mode"):
            modes = f", question {p.get('question_mode')}, answer {p.get('answer_mode') or '-'}"
        return (
            f"{p.get('outcome')}, {used:,} pad bytes{modes}, query {short_hex(p.get('query_id'))}"
        )
    if t == "pad.frame_policy":
        return (
            f"{policy_text(p.get('to'))} (was {as_dict(p.get('from')).get('mode')}); "
            f"reason: {as_text(p.get('reason'))}"
        )
    if t in ("officer.enrolled", "officer.retired"):
        role = f" ({p['role']})" if p.get("role") else ""
        text = f"{p.get('name')}{role}, key {p.get('fingerprint')}"
        rec = as_dict(p.get("recovery"))
        if rec:  # an auditor must see a recovery at a glance (docs/ledger.md, "Recovery")
            text += (
                f"; RECOVERY: SO PIN held by {as_text(rec.get('so_holder'))}, "
                f"{as_text(rec.get('reason'))}"
            )
        return text
    if t == "ledger.created":
        return f"HSM {hsm_text(p.get('hsm'))}" + (" (practice)" if p.get("practice") else "")
    if t in ("ceremony.aborted", "ceremony.failed"):
        return f"at step {p.get('step')}: {p.get('reason')}"
    if t == "ceremony.exception":
        return f"at step {p.get('step')}: {p.get('happened')}; decision {p.get('decision')}"
    skip = ("ceremony_id", "mark", "step", "pad_id")
    return "; ".join(generic_lines(p, skip))


def event_line(event: Any) -> str:
    """'#7 2026-11-23 17:21:27  Facility copy written — HSM …; approved by A, B'."""
    p = as_dict(getattr(event, "payload", {}))
    t = as_text(getattr(event, "type", ""))
    try:
        detail = event_detail(t, p)
    except Exception:  # a malformed payload still gets a line (the JSON is one click away)
        detail = ""
    line = f"#{event.seq} {local_time(event.time)}  {event_title(t)}"
    if detail:
        line += f" — {detail}"
    approvals = [as_text(as_dict(a).get("officer", "?")) for a in as_list(list(event.approvals))]
    actors = [as_text(a) for a in event.actors]
    if approvals:
        line += "; approved by " + ", ".join(approvals)
    elif actors:
        line += "; by " + ", ".join(actors)
    return line
