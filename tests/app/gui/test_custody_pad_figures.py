"""The custody view's pad rows: bytes used are the ledger's `link.query` sums (as the reports),
so a new pad has used 0 bytes (not its 1,024-byte reserve); a sealed pad that carries traffic —
its facility journal (custody.pad.status) has used bytes, or the ledger records queries — is
"in service" whatever the seal said."""

from __future__ import annotations

from pathlib import Path

from app.gui.custody_model import pad_cells, pad_rows
from custody.ledger.entry import Event
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir


def _event(seq: int, etype: str, payload: dict) -> Event:
    return Event(seq, f"2026-12-04T10:00:0{seq}Z", etype, ("station",), payload, (), b"", b"")


def _ceremony(manifest) -> list[Event]:
    """A closed practice ceremony's pad: generated, sealed, ceremony closed."""
    pid = manifest.pad_id.hex()
    common = {"pad_id": pid, "ceremony_id": "C-test", "mark": "PRACTICE"}
    return [
        _event(1, "pad.generated", {**common, "size": manifest.size, "split": manifest.split}),
        _event(2, "pad.sealed", {**common, "bag_serial": "BAG-1"}),
        _event(3, "ceremony.closed", common),
    ]


def test_a_new_pad_uses_nothing_and_a_used_one_is_in_service(tmp_path: Path) -> None:
    m = make_practice_pad(tmp_path / "p", 4 << 20)
    facility = tmp_path / "p" / "facility"
    [row] = pad_rows(_ceremony(m), [facility])
    assert (row.consumed_w2f, row.consumed_f2w) == (0, 0)
    assert row.state == "sealed" and not row.in_service  # as the ledger says
    assert pad_cells(row)[5:7] == ("0", "0")
    with open_pad_dir(facility) as copy:
        copy.reserve_send(100)  # an answer's bytes, facility→workstation
    [row] = pad_rows(_ceremony(m), [facility])
    assert row.in_service and row.state == "in service"
    # Bytes used stay the ledger's count (no link.query recorded yet), as the reports give them.
    assert (row.consumed_w2f, row.consumed_f2w) == (0, 0)
    query = _event(
        4,
        "link.query",
        {"pad_id": m.pad_id.hex(), "w2f_ranges": [[0, 288]], "f2w_ranges": [[0, 576]]},
    )
    [row] = pad_rows([*_ceremony(m), query], [facility])
    assert (row.consumed_w2f, row.consumed_f2w, row.queries) == (288, 576, 1)
    assert row.state == "in service"
