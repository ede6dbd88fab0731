"""What every report shares: the ledger state it reflects, and how each report shows it.

Every report says which ledger state it reflects: the ledger is verified first (chain, tree,
signatures, two-person rule, stored and given checkpoints), then the report carries a signed
checkpoint of exactly the state it shows (`ledger_state`). A ledger that does not verify gets
no new checkpoint; its report says so in a red banner on the first page (`document_info`) and
shows the last stored one (`ledger_section`).

Also here: the ledger look-ups several reports make (officers by name, an event's inclusion
proof under the report's checkpoint) and the wording they share (state titles, sizes,
percentages, plurals). The reports themselves are one module each beside this one;
`builders` names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from custody import merkle
from custody.documents.pdf.document import Document, DocumentInfo
from custody.documents.pdf.text import Ident
from custody.ledger import checkpoint, officers, proofs
from custody.ledger.chain import Ledger
from custody.ledger.verify import verify_ledger
from custody.lifecycle import states

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
    """Verify the ledger (with `external` checkpoints: (source, note) pairs), then pick the
    signed checkpoint the report shows: a fresh one of exactly this state if it verifies."""
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
            f" (the last stored one: covers the first {plural(cp, 'event')} of {size}, "
            "not the newest)"
        )
    return f" (signed for {plural(cp, 'event')}, but the ledger has {size}: truncated?)"


# -- page furniture: the banner, the footer and the ledger section ---------------------------


def document_info(state: LedgerState, title: str, subject: str) -> DocumentInfo:
    """The document's metadata and marks: the date of the last event, the checkpoint in the
    footer, PRACTICE on every page, and the red banner when the ledger does not verify."""
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
    return DocumentInfo(
        title=title,
        created=state.last_time,
        subject=subject,
        footer=f"Red Door · {state.origin} · {cp}",
        banner=banner,
        banner_note=note,
        page_mark="PRACTICE" if state.practice else None,
    )


def ledger_section(doc: Document, state: LedgerState) -> None:
    """The "Ledger state this report reflects" block, with the checkpoint verbatim."""
    doc.heading("Ledger state this report reflects")
    verdict = (
        f"verifies: {state.size} events, every hash, signature, approval and checkpoint holds"
        if state.verified
        else f"DOES NOT VERIFY: {state.problems[0] if state.problems else '?'}"
    )
    rows: list[tuple[str, object]] = [
        ("Ledger", Ident(state.origin)),
        ("Verification", verdict),
        ("Events", state.size),
        ("Tree root", Ident(state.root)),
        ("Verifier key", Ident.split_at(state.vkey, "+", 2)),  # origin+key id+base64
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


# -- ledger look-ups ---------------------------------------------------------------------------


def officers_by_name(ledger: Ledger) -> dict[str, officers.Officer]:
    return {o.name: o for o in officers.list_officers(ledger)}


def inclusion(ledger: Ledger, state: LedgerState, seq: int) -> dict[str, Any] | None:
    """Event `seq`'s inclusion bundle under the report's checkpoint (None if not covered)."""
    if not state.checkpoint_note or state.checkpoint_size is None or seq >= state.checkpoint_size:
        return None
    leaves = ledger.leaf_hashes(state.checkpoint_size)
    return proofs.make_inclusion_bundle(
        state.checkpoint_note, seq, ledger.entry(seq), merkle.inclusion_proof(leaves, seq)
    )


# -- wording ---------------------------------------------------------------------------------


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << (shift - 4)) == 0:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n:,} B"


def pad_id_lines(display: str) -> str:
    """A pad id on two lines (it does not fit a narrow column on one)."""
    return display[:18] + "\n" + display[18:] if len(display) > 18 else display


def percent(used: int, length: int) -> str:
    return f"{100 * used / length:.1f}%" if length else "-"
