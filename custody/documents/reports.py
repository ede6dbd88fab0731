"""Auditor reports from the custody ledger: inventory, one pad, consumption, verification,
the ceremony run-sheet, and the destruction certificate. PDF through
`custody.documents.pdf_document` (the only reportlab seam), or the same data as JSON.

Every report says which ledger state it reflects: the ledger is verified first (chain, tree,
signatures, two-person rule, stored and given checkpoints), then the report carries a signed
checkpoint of exactly the state it shows. A ledger that does not verify gets no new checkpoint;
its report says so in a red banner on the first page and shows the last stored one.

Deterministic: the document date is the time of the ledger's last event and nothing reads the
clock, so the same ledger state gives the same bytes (checkpoint signatures are Ed25519,
deterministic too).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from custody import merkle
from custody.documents import pdf_document as pdf
from custody.fingerprint_words import phrase, words
from custody.ledger import checkpoint, officers, proofs
from custody.ledger.chain import Ledger
from custody.ledger.verify import verify_ledger
from custody.lifecycle import states
from custody.link.chronicle import LEDGER_EVENT

BANNER_UNVERIFIED = "LEDGER DID NOT VERIFY"
STATE_TITLES = {s: s.replace("_", " ") for s in states.STATES}


@dataclass
class LedgerState:
    """The ledger state a report reflects."""

    origin: str
    vkey: str
    practice: bool
    size: int
    root: str
    verified: bool
    problems: list[str]
    checkpoint_note: str | None
    checkpoint_size: int | None
    checkpoint_root: str | None
    checkpoint_is_current: bool
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    last_time: str = "1970-01-01T00:00:00Z"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ledger_state(
    ledger: Ledger, *, practice: bool, external: Sequence[tuple[str, str]] = ()
) -> LedgerState:
    report = verify_ledger(
        ledger.conn,
        origin=ledger.origin,
        key_name=ledger.key_name,
        public_key=ledger.public_key,
        external=external,
    )
    note: str | None
    if report.ok:
        note = ledger.latest_checkpoint()
        if note is None or checkpoint.parse(note)[0].size != report.size:
            note = ledger.checkpoint()  # signs exactly the verified state shown
    else:
        note = ledger.latest_checkpoint()
    cp = checkpoint.parse(note)[0] if note else None
    row = ledger.conn.execute("SELECT time FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    last = str(row[0]) if row else "1970-01-01T00:00:00.000000Z"
    problems = [_problem_text(p.seq, p.what, report.size) for p in report.problems]
    return LedgerState(
        origin=ledger.origin,
        vkey=checkpoint.vkey(ledger.key_name, ledger.public_key),
        practice=practice,
        size=report.size,
        root=report.root.hex(),
        verified=report.ok,
        problems=problems,
        checkpoint_note=note,
        checkpoint_size=cp.size if cp else None,
        checkpoint_root=cp.root.hex() if cp else None,
        checkpoint_is_current=bool(report.ok and cp is not None and cp.size == report.size),
        checkpoints=list(report.checkpoints),
        last_time=last[:19] + "Z",
    )


def _problem_text(seq: int | None, what: str, size: int) -> str:
    """A verification problem as text. A problem found past the end (a truncated or rolled
    back ledger: seq == size) names the last event there is, not one that does not exist."""
    if seq is None:
        return what
    if seq >= size:
        last = f"the last event, #{size - 1}" if size else "the start"
        return f"after {last}: {what}"
    return f"event {seq}: {what}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _checkpoint_words(state: LedgerState) -> str:
    """How the signed checkpoint shown relates to the ledger as verified now."""
    size, cp = state.size, state.checkpoint_size
    if cp is None:
        return ""
    if cp == size and state.verified:
        return " (current: covers every event)"
    if cp == size:
        return " (covers every event, but the ledger does not verify: do not rely on it)"
    if cp < size:
        return (
            f" (the last stored one: covers the first {_plural(cp, 'event')} of {size}, "
            "not the newest)"
        )
    return f" (signed for {_plural(cp, 'event')}, but the ledger has {size}: truncated?)"


# -- shared layout ---------------------------------------------------------------------------


def _info(state: LedgerState, title: str, subject: str) -> pdf.DocumentInfo:
    cp = (
        f"checkpoint size {state.checkpoint_size}, root {str(state.checkpoint_root)[:16]}…"
        if state.checkpoint_size is not None
        else "no checkpoint"
    )
    if not state.verified:
        first = state.problems[0] if state.problems else "unknown problem"
        more = f" (and {len(state.problems) - 1} more problems)" if len(state.problems) > 1 else ""
        banner: str | None = BANNER_UNVERIFIED
        note = (
            f"First problem: {first}{more}. Nothing in this report can be trusted until the "
            "ledger is restored from a copy that verifies against the outside checkpoints."
        )
    else:
        banner, note = None, ""
    return pdf.DocumentInfo(
        title=title,
        created=state.last_time,
        subject=subject,
        footer=f"Red Door · {state.origin} · {cp}",
        banner=banner,
        banner_note=note,
        page_mark="PRACTICE" if state.practice else None,
    )


def _ledger_section(doc: pdf.Document, state: LedgerState) -> None:
    doc.heading("Ledger state this report reflects")
    verdict = (
        f"verifies: {state.size} events, every hash, signature, approval and checkpoint holds"
        if state.verified
        else f"DOES NOT VERIFY: {state.problems[0] if state.problems else '?'}"
    )
    rows: list[tuple[str, object]] = [
        ("Ledger", state.origin),
        ("Verification", verdict),
        ("Events", state.size),
        ("Tree root", state.root),
        ("Verifier key", state.vkey),
    ]
    if state.checkpoint_note:
        rows.append(
            (
                "Signed checkpoint",
                f"size {state.checkpoint_size}, root {state.checkpoint_root}"
                + _checkpoint_words(state),
            )
        )
    doc.key_values(rows, mono=False)
    if state.checkpoint_note:
        doc.paragraph(
            "The checkpoint, verbatim (check it offline: save it to a file, then "
            "reddoor ledger verify-proof FILE --vkey ledger.vkey):",
            style="small",
        )
        doc.paragraph(state.checkpoint_note.rstrip("\n"), style="mono")
    doc.spacer(2)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << (shift - 4)) == 0:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n:,} B"


def _pad_lines(display: str) -> str:
    """A pad id on two lines (it does not fit a narrow column on one)."""
    return display[:18] + "\n" + display[18:] if len(display) > 18 else display


def _pct(used: int, length: int) -> str:
    return f"{100 * used / length:.1f}%" if length else "-"


# -- inventory -------------------------------------------------------------------------------


def inventory_data(state: LedgerState, pads: dict[str, states.PadRecord]) -> dict[str, Any]:
    rows = [pads[k].to_dict() for k in sorted(pads) if pads[k].ceremony_id]
    for r in rows:
        del r["history"]
    return {
        "report": "inventory",
        "ledger": state.to_dict(),
        "counts": dict(sorted(Counter(r["state"] for r in rows).items())),
        "pads": rows,
    }


def inventory_pdf(data: dict[str, Any]) -> pdf.Document:
    state = LedgerState(**data["ledger"])
    doc = pdf.Document(_info(state, "Pad inventory", "Every pad the ledger knows"))
    doc.title("Pad inventory", f"{_plural(len(data['pads']), 'pad')} · as of {state.last_time}")
    _ledger_section(doc, state)
    doc.heading("Pads by state")
    doc.key_values([(STATE_TITLES.get(k, k), v) for k, v in data["counts"].items()])
    doc.heading("Every pad")
    doc.paragraph(
        "Copies: C = customer USB (its serial, or 'present'), F = facility copy (HSM key); a "
        "destroyed copy reads 'destroyed', and the pad's state is 'destroyed' only once both "
        "copies are. Used: pad consumed per direction as the gateway recorded it.",
        style="small",
    )
    table_rows = []
    for p in data["pads"]:
        gone = p["destroyed_copies"]
        cust = "destroyed" if "customer" in gone else (p["usb_serial"] or "present")
        fac = "destroyed" if "facility" in gone else ("HSM" if p["key_label"] else "-")
        last = p["last_event"] or {}
        table_rows.append(
            [
                f"{_pad_lines(p['pad_id_display'])}\n{p['mark']}",
                STATE_TITLES.get(p["state"], p["state"]),
                _size(p["size"]),
                f"C: {cust}\nF: {fac}",
                f"{p['bag_serial'] or '-'}\n{p['holder']}",
                f"{_pct(p['used']['w2f'], p['w2f_length'])} / "
                f"{_pct(p['used']['f2w'], p['f2w_length'])}\n{p['queries']} queries",
                f"#{last.get('seq', '')} {last.get('type', '')}\n"
                + str(last.get("time", ""))[:16].replace("T", " "),
            ]
        )
    doc.table(
        ["Pad", "State", "Size", "Copies", "Bag / holder", "Used w2f / f2w", "Last event"],
        table_rows,
        col_widths=[1.95, 0.95, 0.65, 1.2, 1.3, 1.05, 1.6],
    )
    return doc


# -- one pad -----------------------------------------------------------------------------------


def _officer_index(ledger: Ledger) -> dict[str, officers.Officer]:
    return {o.name: o for o in officers.list_officers(ledger)}


def inclusion(ledger: Ledger, state: LedgerState, seq: int) -> dict[str, Any] | None:
    if not state.checkpoint_note or state.checkpoint_size is None or seq >= state.checkpoint_size:
        return None
    leaves = ledger.leaf_hashes(state.checkpoint_size)
    return proofs.make_inclusion_bundle(
        state.checkpoint_note, seq, ledger.entry(seq), merkle.inclusion_proof(leaves, seq)
    )


def pad_data(ledger: Ledger, state: LedgerState, rec: states.PadRecord) -> dict[str, Any]:
    people = _officer_index(ledger)
    history = []
    for h in rec.history:
        leaf = ledger.event(h.seq).hash.hex()
        bundle = inclusion(ledger, state, h.seq)
        history.append(
            {
                **h.__dict__,
                "leaf_hash": leaf,
                "proof": None
                if bundle is None
                else {"tree_size": state.checkpoint_size, "path": bundle["proof"]},
                "approver_fingerprints": [
                    people[n].fingerprint if n in people else "?" for n in h.approvers
                ],
            }
        )
    last_bundle = inclusion(ledger, state, rec.history[-1].seq) if rec.history else None
    d = rec.to_dict()
    d["history"] = history
    return {
        "report": "pad",
        "ledger": state.to_dict(),
        "pad": d,
        "last_event_bundle": last_bundle,
    }


def pad_pdf(data: dict[str, Any]) -> pdf.Document:
    from custody.documents import receipt

    state = LedgerState(**data["ledger"])
    p = data["pad"]
    doc = pdf.Document(
        _info(state, f"Pad report — {p['pad_id_display']}", "Chain of custody with ledger proofs")
    )
    doc.title(
        "Pad custody report",
        f"Pad {p['pad_id_display']} · {p['mark']} · {STATE_TITLES.get(p['state'], p['state'])}",
    )
    doc.key_values(
        [
            ("Pad id", f"{p['pad_id_display']}  ({p['pad_id']})"),
            ("State", STATE_TITLES.get(p["state"], p["state"])),
            ("Mark", p["mark"]),
            ("Size / split", f"{_size(p['size'])}, split {p['split']}"),
            ("Ceremony", p["ceremony_id"]),
            ("Bag serial", p["bag_serial"] or "-"),
            ("Holder", p["holder"]),
            ("Customer USB serial", p["usb_serial"] or "-"),
            ("Facility copy", p["key_label"] or "-"),
            (
                "Destroyed copies",
                ", ".join(f"{c} (event {s})" for c, s in sorted(p["destroyed_copies"].items()))
                or "none",
            ),
            (
                "Consumed (gateway)",
                f"w2f {p['used']['w2f']:,} of {p['w2f_length']:,} bytes, f2w "
                f"{p['used']['f2w']:,} of {p['f2w_length']:,} bytes, {p['queries']} queries",
            ),
            ("Exceptions", p["exceptions"]),
        ]
    )
    doc.spacer(3)
    if p["merkle_root"]:
        doc.fingerprint(
            "Merkle root of the pad (as on the receipt)",
            p["merkle_root"],
            words(bytes.fromhex(p["merkle_root"]), 8),
        )
    if p["anomalies"]:
        doc.heading("Anomalies: steps the lifecycle does not allow")
        for a in p["anomalies"]:
            doc.paragraph(a)
    _ledger_section(doc, state)
    doc.heading("Chain of custody")
    doc.table(
        ["#", "Time (UTC)", "Event", "State after", "Approved by", "Details"],
        [
            [
                h["seq"],
                h["time"][:19].replace("T", " "),
                h["type"],
                STATE_TITLES.get(h["state"], h["state"]),
                "\n".join(
                    f"{n} {fp[7:19]}"
                    for n, fp in zip(h["approvers"], h["approver_fingerprints"], strict=False)
                )
                or ("by " + ", ".join(h["actors"]) if h["actors"] else "one person / station"),
                h["summary"],
            ]
            for h in p["history"]
        ],
        col_widths=[0.45, 1.2, 1.7, 0.9, 1.5, 2.3],
    )
    doc.heading("Ledger proofs")
    doc.paragraph(
        "Each event's leaf hash (SHA-256 of 0x00 and its canonical entry) and its audit path to "
        f"the signed checkpoint above (tree size {state.checkpoint_size}). Recompute the root "
        "with RFC 6962 inclusion verification, or let the tool do it: "
        "reddoor ledger prove SEQ --out p.json; reddoor ledger verify-proof p.json --vkey "
        "ledger.vkey.",
        style="small",
    )
    doc.table(
        ["#", "Leaf hash", "Audit path (base64, leaf to root)"],
        [
            [
                h["seq"],
                h["leaf_hash"],
                "\n".join(h["proof"]["path"]) if h["proof"] else "not covered by the checkpoint",
            ]
            for h in p["history"]
        ],
        col_widths=[0.45, 2.6, 3.2],
    )
    bundle = data.get("last_event_bundle")
    if bundle:
        payload = receipt.encode_payload(bundle)
        with doc.group():
            doc.heading("Offline proof of the latest event")
            doc.qr_code(
                payload,
                [
                    f"Inclusion proof of event #{bundle['seq']} under the checkpoint above "
                    "(same format as the receipt's QR code).",
                    "zbarimg --raw report.png > payload.txt",
                    "reddoor receipt verify --qr-payload payload.txt --pubkey ledger.vkey",
                    f"Payload SHA-256: {hashlib.sha256(payload.encode()).hexdigest()[:16]}…",
                ],
                size_mm=55,
            )
    return doc


# -- consumption -------------------------------------------------------------------------------


def consumption_data(
    ledger: Ledger,
    state: LedgerState,
    pads: dict[str, states.PadRecord],
    since: str | None = None,
) -> dict[str, Any]:
    from custody import canonical_json

    per_pad: dict[str, dict[str, int]] = defaultdict(lambda: {"w2f": 0, "f2w": 0, "queries": 0})
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: {"w2f": 0, "f2w": 0, "queries": 0})
    cur = ledger.conn.execute(
        "SELECT time, payload FROM events WHERE type = ? AND time >= ? ORDER BY seq",
        (LEDGER_EVENT, since or ""),
    )
    for time, raw in cur:
        p = canonical_json.loads(bytes(raw))
        day = str(time)[:10]
        w = sum(int(n) for _, n in p.get("w2f_ranges", []))
        f = sum(int(n) for _, n in p.get("f2w_ranges", []))
        for bucket in (per_pad[p["pad_id"]], per_day[day]):
            bucket["w2f"] += w
            bucket["f2w"] += f
            bucket["queries"] += 1
    rows = []
    for pid in sorted(pads):
        rec = pads[pid]
        if not rec.ceremony_id:
            continue
        u = per_pad.get(pid, {"w2f": 0, "f2w": 0, "queries": 0})
        rows.append(
            {
                "pad_id": pid,
                "pad_id_display": rec.display,
                "state": rec.state,
                "mark": rec.mark,
                "queries": u["queries"],
                "w2f": {"used": u["w2f"], "length": rec.w2f_length, "total_used": rec.used["w2f"]},
                "f2w": {"used": u["f2w"], "length": rec.f2w_length, "total_used": rec.used["f2w"]},
            }
        )
    return {
        "report": "consumption",
        "ledger": state.to_dict(),
        "since": since,
        "pads": rows,
        "days": [{"day": d, **v} for d, v in sorted(per_day.items())],
    }


def consumption_pdf(data: dict[str, Any]) -> pdf.Document:
    state = LedgerState(**data["ledger"])
    since = data["since"]
    scope = f"since {since}" if since else "since each pad's ceremony"
    doc = pdf.Document(_info(state, "Pad consumption", f"Consumption {scope}"))
    doc.title("Pad consumption", f"Per pad and per direction, {scope} · as of {state.last_time}")
    _ledger_section(doc, state)
    days = data["days"][-31:]
    doc.heading("Pad bytes consumed per day (KiB)")
    if days:
        doc.bar_chart(
            [d["day"][5:] for d in days],
            [
                ("workstation→facility", [round(d["w2f"] / 1024, 1) for d in days]),
                ("facility→workstation", [round(d["f2w"] / 1024, 1) for d in days]),
            ],
        )
        if len(data["days"]) > len(days):
            doc.paragraph(f"The last {len(days)} days with traffic are shown.", style="small")
    else:
        doc.paragraph("No link traffic recorded in this period.")
    total_w = sum(p["w2f"]["used"] for p in data["pads"])
    total_f = sum(p["f2w"]["used"] for p in data["pads"])
    total_q = sum(p["queries"] for p in data["pads"])
    doc.key_values(
        [
            ("Queries", f"{total_q:,}"),
            ("Workstation→facility", f"{total_w:,} bytes"),
            ("Facility→workstation", f"{total_f:,} bytes"),
        ]
    )
    doc.heading("Per pad")
    doc.table(
        [
            "Pad",
            "State",
            "Queries",
            "w2f in period",
            "w2f used of region",
            "f2w in period",
            "f2w used of region",
        ],
        [
            [
                _pad_lines(p["pad_id_display"]),
                STATE_TITLES.get(p["state"], p["state"]),
                f"{p['queries']:,}",
                f"{p['w2f']['used']:,}",
                f"{p['w2f']['total_used']:,} / {p['w2f']['length']:,} "
                f"({_pct(p['w2f']['total_used'], p['w2f']['length'])})",
                f"{p['f2w']['used']:,}",
                f"{p['f2w']['total_used']:,} / {p['f2w']['length']:,} "
                f"({_pct(p['f2w']['total_used'], p['f2w']['length'])})",
            ]
            for p in data["pads"]
        ],
        col_widths=[2.05, 1.0, 0.85, 0.85, 1.45, 0.85, 1.45],
    )
    return doc


# -- verification ------------------------------------------------------------------------------


def verification_data(ledger: Ledger, state: LedgerState) -> dict[str, Any]:
    return {
        "report": "verification",
        "ledger": state.to_dict(),
        "officers": [o.to_dict() for o in officers.list_officers(ledger)],
        "stored_checkpoints": len(ledger.stored_checkpoints()),
    }


def verification_pdf(data: dict[str, Any]) -> pdf.Document:
    state = LedgerState(**data["ledger"])
    doc = pdf.Document(_info(state, "Ledger verification", "Result of ledger verify"))
    doc.title(
        "Ledger verification",
        ("VERIFIES" if state.verified else "DOES NOT VERIFY") + f" · as of {state.last_time}",
    )
    _ledger_section(doc, state)
    doc.heading("Problems")
    if state.problems:
        doc.table(
            ["#", "Problem"],
            [[i + 1, p] for i, p in enumerate(state.problems[:500])],
            col_widths=[0.4, 6],
        )
    else:
        doc.paragraph(
            "None. Every event's hash, the hash chain, the Merkle tree, every officer's approval "
            "signature and the two-person rule were recomputed from the events."
        )
    doc.heading("Checkpoints checked")
    doc.paragraph(
        f"{_plural(data['stored_checkpoints'], 'checkpoint')} stored in the ledger; those given "
        "with --checkpoint (kept outside: receipts, the customer) are the ones that detect a "
        "truncated or rolled-back ledger.",
        style="small",
    )
    doc.table(
        ["Source", "Size", "Root", "Result"],
        [
            [
                c.get("source", ""),
                c.get("size", ""),
                c.get("root", ""),
                "holds" if c.get("ok") else f"FAILS: {c.get('problem', '')}",
            ]
            for c in state.checkpoints
        ],
        col_widths=[1.4, 0.5, 3.2, 1.8],
    )
    doc.heading("Officers and their keys")
    doc.table(
        ["Name", "Role", "Key fingerprint", "Enrolled", "Status"],
        [
            [
                o["name"],
                o["role"],
                o["fingerprint"],
                f"event {o['enrolled_seq']}",
                "active" if o["active"] else f"retired (event {o['retired_seq']})",
            ]
            for o in data["officers"]
        ],
        col_widths=[1.2, 0.7, 3.0, 0.8, 1.3],
    )
    return doc


# -- the ceremony run-sheet --------------------------------------------------------------------


def runsheet_data(state: LedgerState | None, script: dict[str, Any]) -> dict[str, Any]:
    """`script` comes from the ceremony layer (custody never imports it): `sha256`, `words`,
    `steps` [{n, id, title, activity, confirms, event}] — see app/commands/report_commands."""
    return {
        "report": "runsheet",
        "ledger": None if state is None else state.to_dict(),
        "script_sha256": script["sha256"],
        "script_words": script["words"],
        "steps": list(script["steps"]),
    }


def runsheet_pdf(data: dict[str, Any]) -> pdf.Document:
    state = None if data["ledger"] is None else LedgerState(**data["ledger"])
    title = "Ceremony run-sheet"
    if state is not None:
        info = _info(state, title, "To be filled in by hand during a pad ceremony")
    else:
        info = pdf.DocumentInfo(
            title=title,
            created="2026-01-01T00:00:00Z",
            subject="To be filled in by hand during a pad ceremony",
            footer="Red Door ceremony run-sheet · no ledger given",
        )
    doc = pdf.Document(info)
    doc.title(title, "Fill in by hand, in ink, as the station runs each step")
    doc.fingerprint(
        "Script hash (SHA-256 of the step definitions): the station shows the same words",
        data["script_sha256"],
        data["script_words"].split(),
    )
    blank = "______________________"
    doc.key_values(
        [
            ("Date", blank),
            ("Room / station", blank),
            ("Officer A (name)", blank),
            ("Officer B (name)", blank),
            ("Pad size and split", blank),
            ("Customer drive serial", blank),
        ]
    )
    if state is not None:
        _ledger_section(doc, state)
    doc.heading("Steps")
    doc.table(
        ["#", "Step", "Activity", "Who confirms", "Initials A", "Initials B", "Time"],
        [[s["n"], s["title"], s["activity"], s["confirms"], "", "", ""] for s in data["steps"]],
        col_widths=[0.3, 1.1, 3.7, 1.0, 0.8, 0.8, 0.8],
    )
    with doc.group():
        doc.heading("Tamper-evident bag")
        doc.key_values(
            [
                ("Bag serial, read by A", blank),
                ("Bag serial, typed by B", blank),
                ("Bag serial, typed again", blank),
                ("Bag intact, sealed at (time)", blank),
            ]
        )
    with doc.group():
        doc.heading("Exceptions (expected / what happened / decision)")
        doc.table(
            ["Step", "Expected", "What happened", "Decision", "Initials"],
            [["", "", "", "", ""] for _ in range(4)],
            col_widths=[0.8, 1.6, 2.2, 1.6, 0.8],
        )
    doc.signature_lines([["Officer A", "signature, date"], ["Officer B", "signature, date"]])
    return doc


# -- the destruction certificate ---------------------------------------------------------------


def certificate_data(
    ledger: Ledger, state: LedgerState, rec: states.PadRecord, seq: int
) -> dict[str, Any]:
    event = ledger.event(seq)
    people = _officer_index(ledger)
    return {
        "report": "destruction-certificate",
        "ledger": state.to_dict(),
        "pad": {k: v for k, v in rec.to_dict().items() if k != "history"},
        "event": {
            "seq": event.seq,
            "time": event.time,
            "hash": event.hash.hex(),
            "payload": event.payload,
            "approvers": [
                {
                    "name": a.get("officer", ""),
                    "fingerprint": people[a["officer"]].fingerprint
                    if a.get("officer") in people
                    else "?",
                }
                for a in event.approvals
            ],
        },
        "bundle": inclusion(ledger, state, seq),
    }


_DETAIL_LABELS = {
    "key_label": "HSM key destroyed",
    "key_present_before": "Key present before",
    "keys_destroyed": "Key objects destroyed",
    "chunk_files_removed": "Vault chunk files removed",
    "token_lists_key_after": "Token lists the key afterwards",
    "chunk_decrypts_after": "A kept chunk decrypts afterwards",
    "checked_chunk": "Chunk checked",
    "medium": "Medium",
    "bytes_overwritten": "Bytes overwritten",
    "files_removed": "Files removed",
    "note": "Note",
    "medium_serial": "Medium serial",
    "physical_method": "Physical method",
    "witnesses": "Witnesses",
}


# What a crypto-erase certificate claims: exactly what was checked, and its conditions.
CRYPTO_ERASE_CLAIM = (
    "The per-pad AES-256 key object was destroyed on this HSM token. Verified afterwards: the "
    "token no longer lists the key, and a facility chunk kept in memory for the purpose no "
    "longer decrypts on it.",
    "Any remaining copy of the encrypted facility chunks (a backup of the home, a copied "
    "vault) stays undecryptable only as long as no other copy of this key exists. A backup of "
    "the token's storage taken before this destruction (for SoftHSM2, the token directory in "
    "the home, e.g. practice/tokens), a cloned or replicated HSM, or an exported key backup "
    "still holds the key and still decrypts those chunks. The operator must destroy every such "
    "backup, clone and replica as well (or crypto-erase the key on each); this certificate "
    "covers this token only.",
)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def certificate_pdf(data: dict[str, Any]) -> pdf.Document:
    from custody.documents import receipt

    state = LedgerState(**data["ledger"])
    p, e = data["pad"], data["event"]
    payload = e["payload"]
    created = e["time"][:19] + "Z"
    info = _info(state, f"Destruction certificate — {p['pad_id_display']}", "Pad destruction")
    info = pdf.DocumentInfo(**{**asdict(info), "created": created})
    doc = pdf.Document(info)
    doc.title(
        "Certificate of destruction",
        f"Pad {p['pad_id_display']} · {payload['method']} of the {payload['copy']} copy · "
        f"{created}",
    )
    doc.key_values(
        [
            ("Pad id", f"{p['pad_id_display']}  ({p['pad_id']})"),
            ("Mark", p["mark"]),
            ("Copy destroyed", payload["copy"]),
            ("Method", payload["method"]),
            ("State before", STATE_TITLES.get(payload.get("from_state", ""), "")),
            ("Ledger event", f"#{e['seq']} pad.destroyed at {e['time']}"),
            ("Event hash", e["hash"]),
        ]
    )
    doc.spacer(3)
    if payload.get("merkle_root"):
        doc.fingerprint(
            "Merkle root of the destroyed pad (compare with the receipt and the ledger)",
            payload["merkle_root"],
            words(bytes.fromhex(payload["merkle_root"]), 8),
        )
    doc.heading("What was done and checked")
    rows = [(_DETAIL_LABELS[k], _fmt(payload[k])) for k in _DETAIL_LABELS if k in payload]
    doc.key_values(rows)
    if payload["method"] == "crypto-erase":
        for text in CRYPTO_ERASE_CLAIM:
            doc.paragraph(text, style="small")
    elif payload["method"] == "overwrite":
        doc.paragraph(
            "Zeroizing a flash drive is best effort: wear levelling can keep old cells. Destroy "
            "the medium physically when it leaves custody.",
            style="small",
        )
    doc.heading("The pad's copies")
    gone = p.get("destroyed_copies", {})
    doc.key_values(
        [
            (
                f"{copy.capitalize()} copy",
                f"destroyed (event #{gone[copy]})" if copy in gone else "NOT destroyed yet",
            )
            for copy in states.COPIES
        ]
    )
    if all(copy in gone for copy in states.COPIES):
        doc.paragraph("Both copies are destroyed: the pad's state is destroyed.", style="small")
    else:
        left = ", ".join(c for c in states.COPIES if c not in gone)
        doc.paragraph(
            f"The pad is not destroyed until its {left} copy is destroyed too "
            "(reddoor pad destroy with the matching --method).",
            style="small",
        )
    date = "date and time: ____________________"
    signers = [[a["name"], f"officer · {a['fingerprint']}", date] for a in e["approvers"]]
    signers += [[w, "witness", date] for w in payload.get("witnesses", [])]
    with doc.group():
        doc.heading("Signatures")
        for i in range(0, len(signers), 3):
            doc.signature_lines(signers[i : i + 3])
    doc.page_break()
    _ledger_section(doc, state)
    bundle = data.get("bundle")
    if bundle:
        qr = receipt.encode_payload(bundle)
        doc.qr_code(
            qr,
            [
                f"Inclusion proof of the destruction event #{e['seq']}.",
                "reddoor receipt verify --qr-payload payload.txt --pubkey ledger.vkey",
                f"Payload SHA-256: {hashlib.sha256(qr.encode()).hexdigest()[:16]}…",
            ],
            size_mm=50,
        )
    return doc


def fingerprint_phrase(hex_digest: str) -> str:
    return phrase(bytes.fromhex(hex_digest))


BUILDERS = {
    "inventory": inventory_pdf,
    "pad": pad_pdf,
    "consumption": consumption_pdf,
    "verification": verification_pdf,
    "runsheet": runsheet_pdf,
    "destruction-certificate": certificate_pdf,
}


def render(data: dict[str, Any], *, archival: bool = False) -> bytes:
    return BUILDERS[data["report"]](data).render(archival=archival)
