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
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custody.errors import PadFormatError
from custody.link.chronicle import LEDGER_EVENT, read_jsonl
from custody.pad.journal import IntervalSet, read_journal
from custody.pad.manifest import Direction
from custody.pad.store import JOURNAL_NAME, read_manifest

FORMAT = "reddoor-consumption/1"


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
