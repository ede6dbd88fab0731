"""The custody view's pad rows take their figures from custody.pad.status: a new pad has used
0 bytes (not its 1,024-byte reserve), and a sealed pad that carries queries is "in service"."""

from __future__ import annotations

from pathlib import Path

from app.gui.custody_model import pad_cells, pad_rows
from custody.ledger.entry import Event
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir


def _sealed(pad_hex: str) -> Event:
    payload = {"pad_id": pad_hex, "bag_serial": "BAG-1", "mark": "PRACTICE"}
    return Event(1, "2026-12-04T10:00:00Z", "pad.sealed", ("station",), payload, (), b"", b"")


def test_a_new_pad_uses_nothing_and_a_used_one_is_in_service(tmp_path: Path) -> None:
    m = make_practice_pad(tmp_path / "p", 4 << 20)
    facility = tmp_path / "p" / "facility"
    [row] = pad_rows([_sealed(m.pad_id.hex())], [facility])
    assert (row.consumed_w2f, row.consumed_f2w) == (0, 0)
    assert row.state in ("generated", "sealed") and not row.in_service  # as the ledger says
    assert pad_cells(row)[5:7] == ("0", "0")
    with open_pad_dir(facility) as copy:
        copy.reserve_send(100)  # an answer's bytes, facility→workstation
    [row] = pad_rows([_sealed(m.pad_id.hex())], [facility])
    assert row.consumed_f2w == 100 and row.consumed_w2f == 0
    assert row.state == "in service"
