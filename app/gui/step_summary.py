"""Human summaries of the ceremony's step results (Qt-free).

Officers in the ceremony room read these aloud at 2 a.m., so each step's result becomes short
sentences and small tables: names of things, sizes in KiB/MiB, rates per second, pass or FAIL.
The words for sizes, drives, HSMs and sources are `app.gui.fact_text`'s; `app.gui.summary_view`
renders a `Summary`. The raw JSON stays available to auditors (the wizard's collapsed "Details
(JSON)"). Ledger events get their lines from `app.gui.event_text`. Everything returned here is
plain text for plain-text widgets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.gui.fact_text import (
    as_dict,
    as_list,
    as_number,
    as_text,
    facility_copy_text,
    generic_lines,
    pad_display,
    policy_text,
    rate_text,
    roots_match,
    short_hex,
    size_text,
    source_identity,
    usb_text,
    words_of,
    yes_no,
)
from ceremony.sizing import format_size


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


# -- ceremony steps ------------------------------------------------------------------------


def _header(facts: dict[str, Any]) -> list[str]:
    cid = facts.get("ceremony_id")
    mark = facts.get("mark")
    if not cid:
        return []
    return [f"Ceremony {cid}" + (f" [{mark}]" if mark else "")]


def _sources(f: dict[str, Any]) -> Summary:
    srcs = as_list(f.get("sources"))
    rates = as_list(f.get("rates_bytes_per_second"))
    mixing = as_dict(f.get("mixing"))
    dependent = {str(x) for pair in as_list(mixing.get("dependent_pairs")) for x in as_list(pair)}
    hardware = {str(x) for x in as_list(mixing.get("hardware_sources"))}
    rows = []
    for i, src in enumerate(srcs):
        s = as_dict(src)
        name = as_text(s.get("name")) or f"source {i + 1}"
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
    how = as_text(mixing.get("mixing"))
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
    sugg = [as_dict(x) for x in as_list(f.get("suggestions"))]
    if sugg:
        parts = [
            f"{x.get('days')} days: {x.get('size_text')} (about {x.get('eta_text')})" for x in sugg
        ]
        out.notes.append("Suggested pad sizes for the expected usage — " + "; ".join(parts) + ".")
    return out


def _health_rows(health: Any) -> list[list[str]]:
    rows = []
    for h in as_list(health):
        h = as_dict(h)
        failed = h.get("failed")
        verdict = "pass" if not failed and h.get("startup_passed", True) else f"FAIL {failed or ''}"
        rows.append(
            [
                as_text(h.get("source")),
                f"longest run {h.get('longest_run')} (fails at {h.get('rct_cutoff')})",
                f"highest count {h.get('highest_apt_count')} per {h.get('apt_window')} "
                f"(fails at {h.get('apt_cutoff')})",
                f"{int(as_number(h.get('samples_tested')) or 0):,} bytes, "
                f"{int(as_number(h.get('apt_windows_completed')) or 0):,} windows",
                verdict.strip(),
            ]
        )
    return rows


def statistics_lines(stats: Any) -> list[str]:
    st = as_dict(stats)
    if not st:
        return []
    lines = []
    mono = as_dict(st.get("monobit"))
    if mono:
        ones = (as_number(mono.get("ones_fraction")) or 0) * 100
        lines.append(
            f"Monobit test: {ones:.3f} % of the bits are ones (p = {mono.get('p_value')})."
        )
    chi = as_dict(st.get("byte_chi_square"))
    if chi:
        lines.append(
            f"Byte chi-square: {chi.get('statistic')} with {chi.get('degrees_of_freedom')} "
            f"degrees of freedom, p = {chi.get('p_value')}."
        )
    mcv = as_dict(st.get("mcv_min_entropy"))
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
        concerns = ", ".join(as_text(c) for c in as_list(st.get("concerns"))) or "see details"
        lines.append(f"Verdict: NOT consistent with uniform bytes ({concerns}).")
    return lines


def _generate(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    secs = f.get("generation_seconds")
    out.lines.append(
        f"Generated {size_text(f.get('size'))} in {secs} s as pad "
        f"{f.get('pad_id_display') or pad_display(f.get('pad_id'))}."
    )
    w2f = int(as_number(f.get("w2f_length")) or 0)
    f2w = int(as_number(f.get("f2w_length")) or 0)
    out.lines.append(
        f"Split {f.get('split')}: {w2f:,} bytes for questions, "
        f"{f2w:,} bytes for answers; {f.get('chunks')} chunk(s)."
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
    names = [as_text(n) for n in as_list(f.get("officers"))]
    if names:
        out.lines.append("Officers: " + " and ".join(names) + ".")
    plan = as_dict(f.get("plan"))
    if plan:
        chunk = format_size(int(as_number(plan.get("chunk_size")) or 0))
        out.lines.append(
            f"Plan: a {size_text(plan.get('size'))} pad, split {plan.get('split')} "
            f"(questions:answers), chunks of {chunk}"
            f", sources: {', '.join(as_text(s) for s in as_list(plan.get('sources')))}."
        )
        if "frame_policy" in plan:
            out.lines.append(f"Frame policy: {policy_text(plan.get('frame_policy'))}.")
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
    files = ", ".join(as_text(x) for x in as_list(f.get("files")))
    if files:
        out.lines.append(f"Files: {files}.")
    return out


def _facility_copy(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    out.lines.append("Facility copy written: " + facility_copy_text(f.get("hsm")))
    return out


def _verify(f: dict[str, Any]) -> Summary:
    out = Summary(_header(f))
    rows = []
    for label, key in (("Customer USB", "customer"), ("Facility HSM", "facility")):
        c = as_dict(f.get(key))
        rows.append(
            [
                label,
                f"{int(as_number(c.get('bytes')) or 0):,} bytes, {c.get('chunks')} chunk(s)",
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
