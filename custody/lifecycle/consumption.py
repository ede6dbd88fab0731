"""Export which pad ranges a side consumed, so the two sides can be reconciled.

Format `reddoor-consumption/1` (JSON, keys sorted):

    {"format": "reddoor-consumption/1",
     "source": "journal" | "gateway-chronicle" | "gateway-ledger",
     "generated": "<UTC ISO 8601>",
     "pads": [{"pad_id": "<32 hex>", "side": "workstation" | "facility",
               "regions": {"w2f": {"start": S | null, "end": E | null,
                                   "consumed": [[a, b], ...]},
                           "f2w": {...}}}]}

Ranges are half-open absolute offsets [a, b), merged and sorted. From a journal (either side)
they are what the copy must never use again: its send region up to its reservation mark (a
reservation counts, used or not) and its receive region below the receive mark plus every range
received above it. From the gateway's chronicle they are the ranges of the frames the gateway
opened (w2f) and sealed (f2w), as are the `link.query` events of the facility home's ledger
(`--ledger`); region bounds are unknown there (null). The source never holds pad
bytes or plaintext.

`query_bytes` is THE count of what one query consumed (the sum of its ranges' lengths per
direction): `custody.lifecycle.states` adds it up for every report (`used`, `queries`, each pad's
`usage` points), the consumption report per day, and the custody view's chart draws
`cumulative(usage)` of the same records, so the chart ends where the reports' totals are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from custody.errors import PadFormatError
from custody.link.chronicle import LEDGER_EVENT, read_jsonl
from custody.pad.journal import IntervalSet, read_journal
from custody.pad.manifest import Direction
from custody.pad.store import JOURNAL_NAME, read_manifest

FORMAT = "reddoor-consumption/1"


class QueryUsage(NamedTuple):
    """What one `link.query` consumed: when (its `finished_at`, else the event's time; UTC ISO
    8601) and pad bytes per direction (`query_bytes`)."""

    time: str
    w2f: int
    f2w: int


def query_bytes(payload: Mapping[str, Any]) -> dict[str, int]:
    """Pad bytes one query consumed per direction: the lengths of its `w2f_ranges` and
    `f2w_ranges` ([offset, length] pairs) added up. A `link.query` payload or a chronicle
    record."""
    return {
        d.value: sum(int(length) for _off, length in payload.get(f"{d.value}_ranges") or [])
        for d in Direction
    }


def query_usage(payload: Mapping[str, Any], event_time: str) -> QueryUsage:
    used = query_bytes(payload)
    when = payload.get("finished_at")
    return QueryUsage(
        when if isinstance(when, str) and when else event_time, used["w2f"], used["f2w"]
    )


def cumulative(usage: Iterable[QueryUsage]) -> list[QueryUsage]:
    """Running totals per direction in time order: the last point is the sum of every query
    (what `PadRecord.used` and the reports say)."""
    out: list[QueryUsage] = []
    w = f = 0
    for u in sorted(usage, key=lambda u: u.time):
        w += u.w2f
        f += u.f2w
        out.append(QueryUsage(u.time, w, f))
    return out


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def from_journal(directory: Path) -> dict[str, Any]:
    manifest = read_manifest(directory)
    j = read_journal(directory / JOURNAL_NAME)
    send, recv = manifest.region(j.side.sends), manifest.region(j.side.receives)
    received = IntervalSet(list(j.recv_seen))
    if j.recv_mark > recv.start:
        received.add(recv.start, j.recv_mark)
    regions = {
        send.direction.value: {
            "start": send.start,
            "end": send.end,
            "consumed": [[send.start, j.send_reserved]] if j.send_reserved > send.start else [],
        },
        recv.direction.value: {
            "start": recv.start,
            "end": recv.end,
            "consumed": [list(r) for r in received.items()],
        },
    }
    pad = {"pad_id": manifest.pad_id.hex(), "side": j.side.value, "regions": regions}
    return {"format": FORMAT, "source": "journal", "generated": _now(), "pads": [pad]}


def from_chronicle(path: Path) -> dict[str, Any]:
    try:
        records = read_jsonl(path)
    except FileNotFoundError:
        raise PadFormatError(f"cannot read the chronicle {path}: no such file") from None
    except OSError as exc:
        raise PadFormatError(f"cannot read the chronicle {path}: {exc.strerror}") from None
    except ValueError:
        raise PadFormatError(
            f"cannot read the chronicle {path}: it is not a Red Door chronicle (JSON lines)"
        ) from None
    return from_records(records, "gateway-chronicle")


def from_ledger(ledger: Any) -> dict[str, Any]:
    """From the `link.query` events of a facility home's ledger (`home.ledger`)."""
    records = [e.payload for e in ledger.events() if e.type == LEDGER_EVENT]
    return from_records(records, "gateway-ledger")


def from_records(records: list[dict[str, Any]], source: str) -> dict[str, Any]:
    sets: dict[str, dict[str, IntervalSet]] = {}
    for r in records:
        per = sets.setdefault(r["pad_id"], {d.value: IntervalSet() for d in Direction})
        for d in Direction:
            for off, length in r.get(f"{d.value}_ranges", []):
                per[d.value].add(off, off + length)
    pads = [
        {
            "pad_id": pid,
            "side": "facility",
            "regions": {
                d: {"start": None, "end": None, "consumed": [list(x) for x in s.items()]}
                for d, s in per.items()
            },
        }
        for pid, per in sorted(sets.items())
    ]
    return {"format": FORMAT, "source": source, "generated": _now(), "pads": pads}
