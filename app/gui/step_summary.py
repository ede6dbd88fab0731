"""Human summaries of the ceremony's step results and of ledger events (Qt-free).

Officers in the ceremony room read these aloud at 2 a.m., so each step's result becomes short
sentences and small tables: names of things, sizes in KiB/MiB, rates per second, pass or FAIL.
The raw JSON stays available to auditors (the wizard's collapsed "Details (JSON)", the custody
history's expandable rows). Everything returned here is plain text for plain-text widgets.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ceremony.sizing import format_size
from custody.fingerprint_words import phrase
from custody.pad import ids as pad_id_codec


@dataclass
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Summary:
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # below the tables

    def text(self) -> str:
        """The whole summary as plain text (tests, logs of what was shown)."""
        out = list(self.lines)
        for t in self.tables:
            out.append(t.caption)
            out.append(" | ".join(t.headers))
            out += [" | ".join(r) for r in t.rows]
        return "\n".join(out + self.notes)


# -- small formatters ----------------------------------------------------------------------


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def size_text(n: Any) -> str:
    v = _num(n)
    if v is None:
        return "unknown size"
    return f"{format_size(int(v))} ({int(v):,} bytes)" if v >= 1024 else f"{int(v):,} bytes"


def rate_text(bytes_per_second: Any) -> str:
    v = _num(bytes_per_second)
    if v is None:
        return "not measured"
    return f"{format_size(int(v))}/s"


def short_hex(value: Any, keep: int = 8) -> str:
    s = _s(value)
    return s if len(s) <= keep + 1 else s[:keep] + "…"


def words_of(hex_digest: Any) -> str:
    try:
        return phrase(bytes.fromhex(_s(hex_digest)))
    except ValueError:
        return _s(hex_digest)


def pad_display(pad_id_hex: Any) -> str:
    """The grouped, checksummed display form of a pad id (hex in the ledger)."""
    try:
        raw = bytes.fromhex(_s(pad_id_hex))
        return pad_id_codec.display(raw)
    except ValueError:
        return _s(pad_id_hex)


def local_time(iso: Any) -> str:
    """'2026-11-23T17:21:27.39Z' → '2026-11-23 18:21:27' in this machine's time zone."""
    s = _s(iso)
    if not s:
        return ""
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return s[:19].replace("T", " ")
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def usb_text(usb: Any) -> str:
    """'SanDisk Ultra, serial 4C53…, 29.8 GiB (removable, /dev/sdb)'."""
    u = _d(usb)
    if not u:
        return "unknown drive"
    name = " ".join(x for x in (_s(u.get("vendor")), _s(u.get("model"))) if x) or "unnamed drive"
    parts = [name]
    parts.append(f"serial {u['serial']}" if u.get("serial") else "no serial")
    if u.get("size"):
        parts.append(format_size(int(_num(u["size"]) or 0)))
    device = f" {u['device']}" if u.get("device") else ""
    if u.get("removable"):
        return ", ".join(parts) + f"; removable drive{device}"
    return ", ".join(parts) + f"; fixed disk{device}, not removable (practice only)"


def hsm_text(hsm: Any) -> str:
    h = _d(hsm)
    model = _s(h.get("model")) or "HSM"
    maker = f" ({h['manufacturer']})" if h.get("manufacturer") else ""
    serial = f", serial {h['serial']}" if h.get("serial") else ""
    label = h.get("token") or h.get("label")
    token = f", token {label}" if label else ""
    return f"{model}{maker}{serial}{token}"


def source_identity(src: Any) -> str:
    s = _d(src)
    kind = _s(s.get("kind"))
    if kind == "os":
        return f"kernel CSPRNG ({s.get('function') or 'getrandom'}, kernel {s.get('kernel', '?')})"
    if kind in ("hwrng", "device"):
        parts = [_s(s.get("realpath") or s.get("path"))]
        if s.get("rng_current"):
            parts.append(f"driver {s['rng_current']}")
        if s.get("device_number"):
            parts.append(f"device {s['device_number']}")
        return ", ".join(p for p in parts if p)
    if kind == "pkcs11":
        soft = " — software token" if s.get("software_token") else ""
        return f"HSM {s.get('model', '?')} serial {s.get('serial', '?')}{soft}"
    rest = [f"{k} {v}" for k, v in s.items() if k not in ("kind", "name") and _scalar(v)]
    return ", ".join(rest) or kind or "unknown"


def _scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) or v is None


def yes_no(v: Any) -> str:
    return "yes" if v else "no"


# -- ceremony steps ------------------------------------------------------------------------


def _header(facts: dict[str, Any]) -> list[str]:
    cid = facts.get("ceremony_id")
    mark = facts.get("mark")
    if not cid:
        return []
    return [f"Ceremony {cid}" + (f" [{mark}]" if mark else "")]


def _sources(f: dict[str, Any]) -> Summary:
    srcs = _l(f.get("sources"))
    rates = _l(f.get("rates_bytes_per_second"))
    mixing = _d(f.get("mixing"))
    dependent = {str(x) for pair in _l(mixing.get("dependent_pairs")) for x in _l(pair)}
    hardware = {str(x) for x in _l(mixing.get("hardware_sources"))}
    rows = []
    for i, src in enumerate(srcs):
        s = _d(src)
        name = _s(s.get("name")) or f"source {i + 1}"
        rate = rate_text(rates[i]) if i < len(rates) else "not measured"
        independent = "no" if name in dependent else "yes"
        kind = "hardware" if name in hardware else "software"
        rows.append([name, source_identity(s), kind, rate, independent])
    out = Summary(_header(f))
    out.tables.append(
        Table(
            "Entropy sources",
            ["Source", "Identity", "Kind", "Measured rate", "Independent"],
            rows,
        )
    )
    how = _s(mixing.get("mixing"))
    if how == "xor":
        out.notes.append(f"The {len(srcs)} sources are combined by XOR.")
    elif how == "none":
        out.notes.append("One source: its bytes are the pad (no mixing).")
    if mixing and not mixing.get("all_independent", True):
        out.notes.append("WARNING: some sources are not independent of each other.")
    out.notes.append(
        f"Generating the {f.get('size_text', '?')} pad at the slowest source's rate takes "
        f"about {f.get('eta_text', '?')}."
    )
    sugg = [_d(x) for x in _l(f.get("suggestions"))]
    if sugg:
        parts = [
            f"{x.get('days')} days: {x.get('size_text')} (about {x.get('eta_text')})" for x in sugg
        ]
        out.notes.append("Suggested pad sizes for the expected usage — " + "; ".join(parts) + ".")
    return out


def _health_rows(health: Any) -> list[list[str]]:
    rows = []
    for h in _l(health):
        h = _d(h)
        failed = h.get("failed")
        verdict = "pass" if not failed and h.get("startup_passed", True) else f"FAIL {failed or ''}"
        rows.append(
            [
                _s(h.get("source")),
                f"longest run {h.get('longest_run')} (fails at {h.get('rct_cutoff')})",
                f"highest count {h.get('highest_apt_count')} per {h.get('apt_window')} "
                f"(fails at {h.get('apt_cutoff')})",
                f"{int(_num(h.get('samples_tested')) or 0):,} bytes, "
                f"{int(_num(h.get('apt_windows_completed')) or 0):,} windows",
                verdict.strip(),
            ]
        )
    return rows


def statistics_lines(stats: Any) -> list[str]:
    st = _d(stats)
    if not st:
        return []
    lines = []
    mono = _d(st.get("monobit"))
    if mono:
        ones = (_num(mono.get("ones_fraction")) or 0) * 100
        lines.append(
            f"Monobit test: {ones:.3f} % of the bits are ones (p = {mono.get('p_value')})."
        )
    chi = _d(st.get("byte_chi_square"))
    if chi:
        lines.append(
            f"Byte chi-square: {chi.get('statistic')} with {chi.get('degrees_of_freedom')} "
            f"degrees of freedom, p = {chi.get('p_value')}."
        )
    mcv = _d(st.get("mcv_min_entropy"))
    if mcv:
        lines.append(
            f"Min-entropy estimate: {mcv.get('bits_per_byte')} bits per byte of 8 "
            f"({mcv.get('method', 'most common value')})."
        )
    limit = st.get("suspicion_p_value")
    if st.get("consistent_with_uniform", True):
        lines.append(
            f"Verdict: the bytes are consistent with uniform random bytes (no p-value below "
            f"{limit})."
        )
    else:
        concerns = ", ".join(_s(c) for c in _l(st.get("concerns"))) or "see details"
        lines.append(f"Verdict: NOT consistent with uniform bytes ({concerns}).")
    return lines


def _generate(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    secs = f.get("generation_seconds")
    out.lines.append(
        f"Generated {size_text(f.get('size'))} in {secs} s as pad "
        f"{f.get('pad_id_display') or pad_display(f.get('pad_id'))}."
    )
    out.lines.append(
        f"Split {f.get('split')}: {int(_num(f.get('w2f_length')) or 0):,} bytes for questions, "
        f"{int(_num(f.get('f2w_length')) or 0):,} bytes for answers; {f.get('chunks')} chunk(s)."
    )
    if f.get("merkle_root"):
        out.lines.append(
            f"Merkle root: {f.get('merkle_root_words') or words_of(f['merkle_root'])}."
        )
    rows = _health_rows(f.get("health"))
    if rows:
        out.tables.append(
            Table(
                "Health tests (NIST SP 800-90B: repetition count RCT, adaptive proportion APT)",
                ["Source", "RCT", "APT", "Tested", "Result"],
                rows,
            )
        )
    out.notes += statistics_lines(f.get("statistics"))
    return out


def _authenticate(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    names = [_s(n) for n in _l(f.get("officers"))]
    if names:
        out.lines.append("Officers: " + " and ".join(names) + ".")
    plan = _d(f.get("plan"))
    if plan:
        out.lines.append(
            f"Plan: a {size_text(plan.get('size'))} pad, split {plan.get('split')} "
            f"(questions:answers), chunks of {format_size(int(_num(plan.get('chunk_size')) or 0))}"
            f", sources: {', '.join(_s(s) for s in _l(plan.get('sources')))}."
        )
    if f.get("usb"):
        out.lines.append(f"Customer drive: {usb_text(f.get('usb'))}.")
    if f.get("script_words"):
        out.lines.append(f"Ceremony script words: {f['script_words']}.")
    if "practice" in f:
        out.lines.append(f"Practice ceremony: {yes_no(f.get('practice'))}.")
    return out


def _customer_copy(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    out.lines.append(f"Customer copy written to: {usb_text(f.get('usb'))}.")
    files = ", ".join(_s(x) for x in _l(f.get("files")))
    if files:
        out.lines.append(f"Files: {files}.")
    return out


def facility_copy_text(hsm: Any) -> str:
    h = _d(hsm)
    chunks = h.get("chunks")
    return (
        f"HSM {hsm_text(h)}; key {h.get('key_label', '?')}; {chunks} chunk(s) encrypted with "
        f"{h.get('mechanism', 'AES-256-GCM')}."
    )


def _facility_copy(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    out.lines.append("Facility copy written: " + facility_copy_text(f.get("hsm")))
    return out


def roots_match(f: dict[str, Any]) -> bool:
    c, fa = _d(f.get("customer")), _d(f.get("facility"))
    return bool(c.get("merkle_root")) and c.get("merkle_root") == fa.get("merkle_root")


def _verify(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    rows = []
    for label, key in (("Customer USB", "customer"), ("Facility HSM", "facility")):
        c = _d(f.get(key))
        rows.append(
            [
                label,
                f"{int(_num(c.get('bytes')) or 0):,} bytes, {c.get('chunks')} chunk(s)",
                words_of(c.get("merkle_root")),
            ]
        )
    out.tables.append(Table("Read back", ["Copy", "Read", "Merkle root (words)"], rows))
    if roots_match(f):
        out.notes.append("Both copies' Merkle roots MATCH.")
    else:
        out.notes.append("The copies' Merkle roots DIFFER: stop.")
    return out


def _seal(f: dict[str, Any]) -> Summary:
    return Summary(
        _header(f), notes=[f"Bag serial: {f.get('bag_serial')} (typed twice, both the same)."]
    )


def _receipt(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    out.lines += [
        f"Pad: {f.get('pad_id_display') or pad_display(f.get('pad_id'))}",
        f"Merkle root: {words_of(f.get('merkle_root'))}",
        f"Bag serial: {f.get('bag_serial')}",
        f"Customer USB serial: {f.get('usb_serial') or 'none (not a removable drive)'}",
        f"Facility key: {f.get('key_label')}",
        f"Both copies verified: {yes_no(f.get('copies_verified'))}",
    ]
    return out


def _close(f: dict[str, Any]) -> Summary:
    sha = short_hex(f.get("receipt_sha256"), 16)
    return Summary([*_header(f), f"Signed receipt's SHA-256: {sha}"])


STEP_SUMMARIES = {
    "authenticate": _authenticate,
    "sources": _sources,
    "generate": _generate,
    "customer_copy": _customer_copy,
    "facility_copy": _facility_copy,
    "verify": _verify,
    "seal": _seal,
    "receipt": _receipt,
    "close": _close,
}


def generic_lines(facts: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    """Any other result: one 'Name: value' line per plain value (nested ones flattened)."""
    out = []
    for k, v in facts.items():
        if k in skip:
            continue
        label = k.replace("_", " ").capitalize()
        if _scalar(v):
            out.append(f"{label}: {_s(v)}")
        elif isinstance(v, list) and all(_scalar(x) for x in v):
            out.append(f"{label}: {', '.join(_s(x) for x in v)}")
        elif isinstance(v, dict):
            inner = "; ".join(f"{a.replace('_', ' ')} {_s(b)}" for a, b in v.items() if _scalar(b))
            out.append(f"{label}: {inner}")
    return out


def step_summary(step_id: str, facts: dict[str, Any]) -> Summary:
    fn = STEP_SUMMARIES.get(step_id)
    if fn is None:
        return Summary([*_header(facts), *generic_lines(facts, ("ceremony_id", "mark", "step"))])
    return fn(facts)


def info_lines(text: str, facts: dict[str, Any]) -> list[str]:
    """What `CeremonyHandler.info` reports mid-step, as sentences."""
    if text == "customer medium":
        return [f"Customer drive: {usb_text(facts)}."]
    if text == "facility copy":
        return ["Facility copy written: " + facility_copy_text(facts)]
    if text == "sources":
        return _sources(facts).notes[-2:-1]
    return [text, *generic_lines(facts)] if facts else [text]


def details_json(facts: dict[str, Any]) -> str:
    """The raw result for auditors (the collapsed "Details (JSON)")."""
    return json.dumps(facts, indent=2, ensure_ascii=False, sort_keys=True)[:20000]


# -- ledger events (custody history) -------------------------------------------------------

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
}


def event_title(event_type: str) -> str:
    if event_type in EVENT_TITLES:
        return EVENT_TITLES[event_type]
    return event_type.replace(".", " ").replace("_", " ").capitalize()


def event_detail(t: str, p: dict[str, Any]) -> str:
    if t == "ceremony.started":
        plan = _d(p.get("plan"))
        return (
            f"{p.get('ceremony_id')}: {format_size(int(_num(plan.get('size')) or 0))}, split "
            f"{plan.get('split')}, sources {', '.join(_s(s) for s in _l(plan.get('sources')))}"
        )
    if t == "ceremony.sources_checked":
        rates = _l(p.get("rates_bytes_per_second"))
        srcs = [_s(_d(s).get("name")) for s in _l(p.get("sources"))]
        pairs = [f"{n} {rate_text(r)}" for n, r in zip(srcs, rates, strict=False)]
        return ", ".join(pairs) + f"; about {p.get('eta_text')} for {p.get('size_text')}"
    if t == "pad.generated":
        health_ok = all(not _d(h).get("failed") for h in _l(p.get("health")))
        uniform = _d(p.get("statistics")).get("consistent_with_uniform", True)
        return (
            f"{format_size(int(_num(p.get('size')) or 0))} in {p.get('generation_seconds')} s, "
            f"health tests {'passed' if health_ok else 'FAILED'}, statistics "
            f"{'consistent with uniform' if uniform else 'NOT uniform'}"
        )
    if t == "pad.customer_copy_written":
        u = _d(p.get("usb"))
        name = " ".join(_s(u.get(k)) for k in ("vendor", "model") if u.get(k)) or "drive"
        serial = f"serial {u['serial']}" if u.get("serial") else "no serial"
        size = format_size(int(_num(u.get("size")) or 0))
        return f"USB {name}, {serial}, {size}" + ("" if u.get("removable") else " (fixed disk)")
    if t == "pad.facility_copy_written":
        h = _d(p.get("hsm"))
        mech = _s(h.get("mechanism")).replace(" on the token", "") or "AES-256-GCM"
        return (
            f"HSM {h.get('model', '?')} serial {short_hex(h.get('serial'), 4)}, key "
            f"{short_hex(h.get('key_label'), 16)}, {h.get('chunks')} chunk(s) {mech}"
        )
    if t == "pad.copies_verified":
        return "Merkle roots match" if roots_match(p) else "Merkle roots DIFFER"
    if t == "pad.sealed":
        return f"bag {p.get('bag_serial')}"
    if t == "ceremony.closed":
        return f"bag {p.get('bag_serial')}, copies verified: {yes_no(p.get('copies_verified'))}"
    if t == "ceremony.receipt_signed":
        return f"receipt SHA-256 {short_hex(p.get('receipt_sha256'), 16)}"
    if t == "approval.refused":
        who = ", ".join(_s(o) for o in _l(p.get("officers")))
        return f"{p.get('operation')}: {_s(p.get('reason')).replace('_', ' ')}" + (
            f" ({who})" if who else ""
        )
    if t == "link.query":
        used = sum(int(_num(r[1]) or 0) for r in _l(p.get("w2f_ranges")) if len(_l(r)) > 1)
        used += sum(int(_num(r[1]) or 0) for r in _l(p.get("f2w_ranges")) if len(_l(r)) > 1)
        return f"{p.get('outcome')}, {used:,} pad bytes, query {short_hex(p.get('query_id'))}"
    if t in ("officer.enrolled", "officer.retired"):
        role = f" ({p['role']})" if p.get("role") else ""
        text = f"{p.get('name')}{role}, key {p.get('fingerprint')}"
        rec = _d(p.get("recovery"))
        if rec:  # an auditor must see a recovery at a glance (docs/ledger.md, "Recovery")
            text += (
                f"; RECOVERY: SO PIN held by {_s(rec.get('so_holder'))}, {_s(rec.get('reason'))}"
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
    p = _d(getattr(event, "payload", {}))
    t = _s(getattr(event, "type", ""))
    try:
        detail = event_detail(t, p)
    except Exception:  # a malformed payload still gets a line (the JSON is one click away)
        detail = ""
    line = f"#{event.seq} {local_time(event.time)}  {event_title(t)}"
    if detail:
        line += f" — {detail}"
    approvals = [_s(_d(a).get("officer", "?")) for a in _l(list(event.approvals))]
    actors = [_s(a) for a in event.actors]
    if approvals:
        line += "; approved by " + ", ".join(approvals)
    elif actors:
        line += "; by " + ", ".join(actors)
    return line
