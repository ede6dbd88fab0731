"""Reconcile what the two sides of a pad consumed: the gateway's record against a workstation's.

The gateway side is the `link.query` events of the facility ledger (or a JSONL chronicle): the
ranges of every frame it opened (w2f) and sealed (f2w), query by query. The workstation side is
its journal exported as `reddoor-consumption/1` (`reddoor pad export-consumption --pad USB`).
Ranges are half-open absolute pad offsets [a, b).

Per direction, with S the sending side and R the receiving side:

- **overlaps** — a range used by two gateway records, or listed twice by the workstation: the
  one-time rule broken. Must never happen.
- **sender only** — S used it, R never saw it, below the highest range R saw: a lost frame, an
  unrecorded query, or a copy used elsewhere.
- **receiver only** — R consumed a range S never recorded using: someone else sent with this pad,
  or the sender's record is incomplete.
- **sender tail** — S reserved past the last range R saw (a reservation block not yet used, or
  frames in flight). Normal; reported for completeness.
- **gaps** — ranges below the highest use that neither side used (abandoned reservations after a
  crash). Wasted pad, never reused; informational.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from custody.bounded_read import read_file
from custody.errors import PadFormatError, UsageError
from custody.lifecycle.consumption import FORMAT as EXPORT_FORMAT
from custody.link.chronicle import LEDGER_EVENT, read_jsonl
from custody.pad.journal import MAX_JOURNAL_BYTES

FORMAT = "reddoor-reconciliation/1"
# A workstation's export is its journal's ranges: bounded like the journal it comes from, with
# room for the JSON around them.
MAX_EXPORT_BYTES = 4 * MAX_JOURNAL_BYTES
Interval = tuple[int, int]


def union(ranges: Iterable[Sequence[int]]) -> list[Interval]:
    out: list[list[int]] = []
    for a, b in sorted((int(x[0]), int(x[1])) for x in ranges):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def subtract(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    right = union(right)
    for a, b in union(left):
        pos = a
        for c, d in right:
            if d <= pos or c >= b:
                continue
            if c > pos:
                out.append((pos, c))
            pos = max(pos, d)
            if pos >= b:
                break
        if pos < b:
            out.append((pos, b))
    return out


def intersect(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    whole = union([*left, *right])
    return subtract(whole, [*subtract(whole, left), *subtract(whole, right)])


def overlaps(tagged: Sequence[tuple[str, Interval]]) -> list[dict[str, Any]]:
    """Pairs of ranges from different owners (or listed twice) that share bytes."""
    items = sorted(tagged, key=lambda t: t[1])
    found: list[dict[str, Any]] = []
    active: list[tuple[str, Interval]] = []
    for owner, (a, b) in items:
        active = [x for x in active if x[1][1] > a]
        for other, (c, d) in active:
            lo, hi = max(a, c), min(b, d)
            if lo < hi:
                found.append({"range": [lo, hi], "between": sorted({other, owner}) or [owner]})
        active.append((owner, (a, b)))
    return found


def _bytes(ranges: Sequence[Interval]) -> int:
    return sum(b - a for a, b in ranges)


def gateway_records_from_ledger(ledger: Any, pad_hex: str) -> list[dict[str, Any]]:
    needle = f'"pad_id":"{pad_hex}"'.encode()
    rows = ledger.conn.execute(
        "SELECT seq FROM events WHERE type = ? AND instr(payload, ?) > 0 ORDER BY seq",
        (LEDGER_EVENT, needle),
    ).fetchall()
    out = []
    for (seq,) in rows:
        e = ledger.event(int(seq))
        out.append({**e.payload, "owner": f"event {e.seq} (query {e.payload['query_id'][:8]})"})
    return out


def gateway_records_from_chronicle(path: Path, pad_hex: str) -> list[dict[str, Any]]:
    try:
        records = read_jsonl(path)
    except (OSError, ValueError) as exc:
        raise PadFormatError(f"cannot read the chronicle {path}: {type(exc).__name__}") from None
    return [
        {**r, "owner": f"line {i + 1} (query {str(r.get('query_id', ''))[:8]})"}
        for i, r in enumerate(records)
        if r.get("pad_id") == pad_hex
    ]


def load_workstation_export(path: Path, pad_hex: str) -> dict[str, Any]:
    try:
        doc = json.loads(read_file(path, MAX_EXPORT_BYTES, "journal export"))
    except OSError as exc:
        raise UsageError(f"cannot read the journal export {path}: {exc.strerror}") from None
    except ValueError:
        raise PadFormatError(f"{path} is not JSON (expected {EXPORT_FORMAT})") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise PadFormatError(
            f"{path} is not a {EXPORT_FORMAT} export (reddoor pad export-consumption --pad DIR)"
        )
    for pad in doc.get("pads", []):
        if pad.get("pad_id") == pad_hex:
            if pad.get("side") != "workstation":
                side = pad.get("side")
                raise PadFormatError(f"{path} exports the {side} copy, not a workstation's")
            return dict(pad)
    raise PadFormatError(f"{path} holds no consumption of this pad")


def reconcile(
    pad_hex: str,
    gateway_records: Sequence[dict[str, Any]],
    workstation: dict[str, Any],
    *,
    gateway_source: str = "ledger",
) -> dict[str, Any]:
    directions: dict[str, Any] = {}
    problems = {"overlaps": 0, "one_side": 0}
    for d, sender in (("w2f", "workstation"), ("f2w", "gateway")):
        tagged: list[tuple[str, Interval]] = []
        for r in gateway_records:
            for off, length in r.get(f"{d}_ranges", []):
                tagged.append((str(r["owner"]), (int(off), int(off) + int(length))))
        region = workstation.get("regions", {}).get(d, {})
        ws_list = [(int(a), int(b)) for a, b in region.get("consumed", [])]
        found = overlaps(tagged)
        found += overlaps([(f"workstation range {i + 1}", r) for i, r in enumerate(ws_list)])
        gw = union([r for _, r in tagged])
        ws = union(ws_list)
        s_side, r_side = (ws, gw) if sender == "workstation" else (gw, ws)
        r_top = max((b for _, b in r_side), default=region.get("start") or 0)
        s_minus_r = subtract(s_side, r_side)
        tail: list[Interval] = []
        if s_minus_r and s_minus_r[-1][0] >= r_top:
            tail = [s_minus_r.pop()]
        receiver_only = subtract(r_side, s_side)
        both = union([*gw, *ws])
        start = region.get("start")
        lo = int(start) if start is not None else (both[0][0] if both else 0)
        top = max((b for _, b in both), default=lo)
        gaps = subtract([(lo, top)], both) if top > lo else []
        directions[d] = {
            "sender": sender,
            "workstation_bytes": _bytes(ws),
            "gateway_bytes": _bytes(gw),
            "both_bytes": _bytes(intersect(gw, ws)),
            "overlaps": found,
            "sender_only": [list(x) for x in s_minus_r],
            "receiver_only": [list(x) for x in receiver_only],
            "sender_tail": [list(x) for x in tail],
            "gaps": [list(x) for x in gaps],
        }
        problems["overlaps"] += len(found)
        problems["one_side"] += len(s_minus_r) + len(receiver_only)
    return {
        "format": FORMAT,
        "pad_id": pad_hex,
        "gateway_source": gateway_source,
        "gateway_records": len(gateway_records),
        "directions": directions,
        "overlaps": problems["overlaps"],
        "one_side": problems["one_side"],
        "ok": problems["overlaps"] == 0 and problems["one_side"] == 0,
    }


def _fmt(ranges: Sequence[Sequence[int]]) -> str:
    return ", ".join(f"[{a:,}, {b:,})" for a, b in ranges[:8]) + (
        f" and {len(ranges) - 8} more" if len(ranges) > 8 else ""
    )


def render(result: dict[str, Any], display: str) -> str:
    lines = [f"Reconciliation of pad {display} ({result['gateway_records']} gateway records)"]
    for d, r in result["directions"].items():
        lines.append(
            f"  {d}: workstation {r['workstation_bytes']:,} bytes, gateway {r['gateway_bytes']:,}"
            f" bytes, both {r['both_bytes']:,} (sender: {r['sender']})"
        )
        for o in r["overlaps"]:
            a, b = o["range"]
            lines.append(f"    OVERLAP [{a:,}, {b:,}) used by {' and '.join(o['between'])}")
        if r["sender_only"]:
            lines.append(f"    used by the {r['sender']} only: {_fmt(r['sender_only'])}")
        if r["receiver_only"]:
            other = "gateway" if r["sender"] == "workstation" else "workstation"
            lines.append(f"    used by the {other} only: {_fmt(r['receiver_only'])}")
        if r["sender_tail"]:
            lines.append(f"    reserved, not yet seen (normal): {_fmt(r['sender_tail'])}")
        if r["gaps"]:
            lines.append(f"    gaps (used by neither, never reused): {_fmt(r['gaps'])}")
    lines.append(
        "  result: consistent"
        if result["ok"]
        else f"  result: {result['overlaps']} overlap(s), {result['one_side']} one-side range(s)"
    )
    return "\n".join(lines)
