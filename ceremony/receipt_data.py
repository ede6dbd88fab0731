"""Rebuild a pad's custody receipt from the ledger alone (custody/documents/receipt.py lays it out).

Everything on the receipt comes from the ceremony's ledger events (`ceremony.started`,
`pad.generated`, `pad.customer_copy_written`, `pad.facility_copy_written`, `pad.sealed`,
`ceremony.closed`), the officers' enrolment events, and the **first** signed checkpoint that
covers the closing event: re-issuing a receipt later (`reddoor receipt PADID`) gives the same
PDF bytes even though the ledger has grown since.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ceremony.errors import CeremonyStateError
from custody import canonical_json, merkle
from custody.ledger import checkpoint, officers, proofs
from custody.ledger.chain import Ledger
from custody.ledger.entry import Event
from custody.ledger.home import OpenHome


def _events(ledger: Ledger, needle: str, types: tuple[str, ...]) -> list[Event]:
    marks = ",".join("?" * len(types))
    rows = ledger.conn.execute(
        f"SELECT seq FROM events WHERE type IN ({marks}) AND instr(payload, ?) > 0 "  # noqa: S608
        "ORDER BY seq",
        (*types, needle.encode()),
    ).fetchall()
    return [ledger.event(int(r[0])) for r in rows]


def _first_checkpoint_covering(ledger: Ledger, seq: int) -> str:
    for note in ledger.stored_checkpoints():
        cp = checkpoint.parse(note)[0]
        if cp.size > seq:
            return note
    return ledger.checkpoint()


def _mixing_text(mixing: dict[str, Any]) -> str:
    names = ", ".join(mixing.get("sources", []))
    if mixing.get("mixing") == "xor":
        indep = "independent" if mixing.get("all_independent") else "NOT all independent"
        return f"XOR of {names} ({indep}; each health-tested before mixing)"
    return f"single source {names} (no mixing)"


def _human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def _source_rows(sources: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """One readable row per entropy source: what it is, and which device or token."""
    rows = []
    for src in sources:
        kind = str(src.get("kind", ""))
        if src.get("path") or src.get("device"):
            where = str(src.get("path") or src.get("device"))
            driver = src.get("rng_current") or src.get("driver")
            identity = f"{where} ({driver})" if driver else where
        elif src.get("model") or src.get("serial"):
            identity = f"{src.get('model', '')} serial {src.get('serial', '')}".strip()
            if src.get("label"):
                identity += f", token {src['label']}"
        else:
            identity = f"{src.get('function', kind)} (operating system CSPRNG)"
        rows.append({"source": src.get("name", kind), "identity": identity, "bytes": f"{size:,}"})
    return rows


def _health_rows(health: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SP 800-90B results per source as test / cutoff / observed / result rows."""
    rows = []
    for h in health:
        verdict = "FAILED" if h.get("failed") else "pass"
        name = h.get("source", "")
        rows += [
            {
                "source": name,
                "test": f"start-up, first {h.get('startup_samples', 1024):,} samples",
                "result": "pass" if h.get("startup_passed") else "FAILED",
            },
            {
                "source": name,
                "test": f"repetition count, cutoff {h.get('rct_cutoff')}",
                "result": f"{verdict} (longest run {h.get('longest_run')})",
            },
            {
                "source": name,
                "test": (
                    f"adaptive proportion, window {h.get('apt_window')}, "
                    f"cutoff {h.get('apt_cutoff')}"
                ),
                "result": f"{verdict} (highest count {h.get('highest_apt_count')})",
            },
        ]
    return rows


def _statistics_rows(st: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    mono = st.get("monobit", {})
    if mono:
        out["monobit_ones_fraction"] = (
            f"{mono.get('ones_fraction')} (z = {mono.get('z')}, p = {mono.get('p_value')})"
        )
    chi = st.get("byte_chi_square", {})
    if chi:
        out["byte_chi_square"] = (
            f"{chi.get('statistic')} ({chi.get('degrees_of_freedom')} d.f., "
            f"p = {chi.get('p_value')})"
        )
    mcv = st.get("mcv_min_entropy", {})
    if mcv:
        out["min_entropy_estimate"] = (
            f"{mcv.get('bits_per_byte')} bits per byte (most common value, "
            "SP 800-90B 6.3.1, 99% upper bound)"
        )
    if "consistent_with_uniform" in st:
        threshold = st.get("suspicion_p_value", "")
        out["verdict"] = (
            f"consistent with uniform bytes (no test below p = {threshold})"
            if st["consistent_with_uniform"]
            else "NOT consistent with uniform bytes: " + "; ".join(st.get("concerns", []))
        )
    return out


def _usb_rows(usb: dict[str, Any]) -> dict[str, str]:
    size = usb.get("size")
    rows = {
        "kind": str(usb.get("kind") or ("removable drive" if usb.get("removable") else "")),
        "vendor": str(usb.get("vendor") or "none reported"),
        "model": str(usb.get("model") or "none reported"),
        "serial": str(usb.get("serial") or "none reported"),
        "size": _human_bytes(int(size)) if isinstance(size, int) else "",
        "path": str(usb.get("path", "")),
    }
    return {k: v for k, v in rows.items() if v}


def _hsm_rows(hsm: dict[str, Any]) -> dict[str, str]:
    keys = ("token", "model", "serial", "key_label", "mechanism", "chunks")
    return {k: str(hsm[k]) for k in keys if hsm.get(k) not in (None, "")}


def receipt_data(ledger: Ledger, pad_id: bytes) -> Any:
    """The `ReceiptData` of a pad whose ceremony has closed."""
    from custody.documents.receipt import ReceiptData

    generated = _events(ledger, f'"pad_id":"{pad_id.hex()}"', ("pad.generated",))
    if not generated:
        raise CeremonyStateError(f"the ledger records no ceremony for pad {pad_id.hex()}")
    gen = generated[0].payload
    cid = gen["ceremony_id"]
    by_type: dict[str, dict[str, Any]] = {}
    closing: Event | None = None
    for e in _events(
        ledger,
        f'"ceremony_id":"{cid}"',
        (
            "ceremony.started",
            "pad.customer_copy_written",
            "pad.facility_copy_written",
            "pad.sealed",
            "ceremony.closed",
        ),
    ):
        by_type.setdefault(e.type, e.payload)
        if e.type == "ceremony.closed" and closing is None:
            closing = e
    if closing is None:
        raise CeremonyStateError(f"the ceremony of pad {pad_id.hex()} has not closed")
    started = by_type.get("ceremony.started", {})
    people = []
    for name in started.get("officers", []):
        o = officers.find_officer(ledger, name)
        people.append(
            {
                "name": name,
                "role": o.role if o else "officer",
                "key_fingerprint": o.fingerprint if o else "",
            }
        )
    note = _first_checkpoint_covering(ledger, closing.seq)
    cp = checkpoint.parse(note)[0]
    bundle = proofs.make_inclusion_bundle(
        note,
        closing.seq,
        ledger.entry(closing.seq),
        merkle.inclusion_proof(ledger.leaf_hashes(cp.size), closing.seq),
    )
    customer = by_type.get("pad.customer_copy_written", {})
    facility = by_type.get("pad.facility_copy_written", {})
    usb = dict(customer.get("usb", {}))
    hsm = dict(facility.get("hsm", {}))
    return ReceiptData(
        pad_id=pad_id,
        pad_id_display=gen["pad_id_display"],
        size=int(gen["size"]),
        split=gen["split"],
        w2f_length=int(gen["w2f_length"]),
        f2w_length=int(gen["f2w_length"]),
        merkle_root=bytes.fromhex(gen["merkle_root"]),
        pad_sha256=bytes.fromhex(gen["pad_sha256"]),
        mark=gen["mark"],
        ceremony_id=cid,
        created=gen["created"],
        sources=_source_rows(list(gen.get("sources", [])), int(gen["size"])),
        mixing=_mixing_text(gen.get("mixing", {})),
        health=_health_rows(list(gen.get("health", []))),
        statistics=_statistics_rows(dict(gen.get("statistics", {}))),
        usb=_usb_rows(usb),
        hsm=_hsm_rows(hsm),
        bag_serial=by_type.get("pad.sealed", {}).get("bag_serial", ""),
        officers=people,
        checkpoint_note=note,
        inclusion_bundle=canonical_json.loads(canonical_json.dumps(bundle)),
        ledger_public_key=ledger.public_key,
        ledger_origin=ledger.origin,
    )


def write_for_pad(oh: OpenHome, pad_id: bytes, out: Path) -> Path:
    from custody.documents.receipt import write_receipt

    path: Path = write_receipt(receipt_data(oh.ledger, pad_id), out)
    return path
