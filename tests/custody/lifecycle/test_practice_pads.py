"""Practice pads made without a ceremony are in the ledger (`pad.practice_created`), and every
consumer counts a query's pad bytes with `consumption.query_bytes` (issues #15, #19)."""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.documents.reports import consumption as consumption_report
from custody.documents.reports import inventory, shared
from custody.errors import LifecycleError
from custody.ledger import home
from custody.ledger.chain import EventDraft
from custody.ledger.entry import Event
from custody.ledger.verify import verify_ledger
from custody.lifecycle import consumption, practice_pads, serving, states
from custody.pad.practice import FACILITY_DIR, make_practice_pad
from custody.pad.store import read_manifest


def _query(pid: str, n: int, w: int, f: int, when: str) -> EventDraft:
    return EventDraft(
        "link.query",
        {
            "query_id": f"{n:032x}",
            "pad_id": pid,
            "gateway": "practice",
            "backend": "echo",
            "finished_at": when,
            "w2f_ranges": [[1000 * n, w]],
            "f2w_ranges": [[1 << 20, f // 2], [(1 << 20) + f, f - f // 2]],
            "outcome": "answered",
        },
    )


@pytest.fixture
def practice(tmp_path: Path) -> tuple[Path, Path]:
    h = tmp_path / "home"
    home.init_home(h, practice=True)
    make_practice_pad(tmp_path / "p", 1 << 20)
    return h, tmp_path / "p" / FACILITY_DIR


def test_a_practice_pad_is_recorded_once_and_is_active(practice):
    h, fac = practice
    m = read_manifest(fac)
    with home.open_home(h) as oh:
        args = {"practice": True, "actor": "station", "where": "facility-pads"}
        assert practice_pads.record_practice_pads(oh.ledger, [fac], **args) == [m.pad_id.hex()]
        assert practice_pads.record_practice_pads(oh.ledger, [fac], **args) == []
        with pytest.raises(LifecycleError, match="only through a ceremony"):
            practice_pads.record_practice_pads(oh.ledger, [fac], **{**args, "practice": False})
        events = [e for e in oh.ledger.events() if e.type == states.PRACTICE_CREATED]
        assert len(events) == 1 and events[0].actors == ("station",)
        p = events[0].payload
        assert p["mark"] == "PRACTICE" and p["size"] == m.size and p["source"] == "os-csprng"
        assert p["w2f_length"] + p["f2w_length"] == m.size
        rec = states.scan(oh.ledger)[m.pad_id.hex()]
        assert rec.recorded and rec.state == states.ACTIVE and not rec.anomalies
        assert serving.servable(rec, practice=True) and not serving.servable(rec, practice=False)
        led = oh.ledger
        assert verify_ledger(
            led.conn, origin=led.origin, key_name=led.key_name, public_key=led.public_key
        ).ok
        state = shared.ledger_state(led, practice=True, external=[])
        (row,) = inventory.inventory_data(state, states.scan(led))["pads"]
        assert row["pad_id"] == m.pad_id.hex() and row["state"] == "active"


def test_the_chart_points_the_reports_and_the_history_count_alike(practice):
    """`PadRecord.usage` (the custody view's chart), `used`/`queries` (inventory, report pad)
    and the consumption report all come from `query_bytes`: the chart's last point is theirs."""
    h, fac = practice
    pid = read_manifest(fac).pad_id.hex()
    with home.open_home(h) as oh:
        led = oh.ledger
        practice_pads.record_practice_pads(
            led, [fac], practice=True, actor="station", where="facility-pads"
        )
        # finished out of order: the running total follows time, not the ledger's order
        times = ["2026-03-01T10:00:05.000000Z", "2026-03-01T10:00:01.000000Z"]
        times.append("2026-03-02T09:00:00.000000Z")
        led.append_many([_query(pid, n, 600 + n, 3001 + n, t) for n, t in enumerate(times)])
        pads = states.scan(led)
        state = shared.ledger_state(led, practice=True, external=[])
        report = consumption_report.consumption_data(led, state, pads)
    rec = pads[pid]
    points = consumption.cumulative(rec.usage)
    assert [p.time for p in points] == sorted(times)
    assert [(p.w2f, p.f2w) for p in points] == [(601, 3002), (1201, 6003), (1803, 9006)]
    assert rec.used == {"w2f": 1803, "f2w": 9006} and rec.queries == 3
    (row,) = report["pads"]
    assert (row["w2f"]["used"], row["f2w"]["used"], row["queries"]) == (1803, 9006, 3)
    assert sum(d["queries"] for d in report["days"]) == 3
    assert sum(d["w2f"] for d in report["days"]) == points[-1].w2f


def test_query_bytes_counts_ranges_and_missing_ones_as_zero():
    assert consumption.query_bytes({"w2f_ranges": [[0, 5], [9, 7]]}) == {"w2f": 12, "f2w": 0}
    assert consumption.query_bytes({"f2w_ranges": None}) == {"w2f": 0, "f2w": 0}
    u = consumption.query_usage({"finished_at": None, "f2w_ranges": [[1, 2]]}, "T")
    assert u == consumption.QueryUsage("T", 0, 2)


def test_a_second_practice_record_of_a_pad_is_an_anomaly_not_a_reset():
    pid = "cd" * 16
    payload = {"pad_id": pid, "size": 4096, "split": "1:1", "w2f_length": 2048}

    def ev(seq: int, etype: str, p: dict) -> Event:
        return Event(seq, f"2026-01-01T00:00:{seq:02d}Z", etype, ("station",), p, (), b"", b"")

    d = states.Deriver()
    d.feed(
        [
            ev(1, states.PRACTICE_CREATED, payload),
            ev(2, states.SUSPENDED_EVENT, {"pad_id": pid, "reason": "drill"}),
            ev(3, states.PRACTICE_CREATED, {**payload, "size": 1}),
        ]
    )
    rec = d.pads[pid]
    assert rec.state == states.SUSPENDED and rec.size == 4096
    assert rec.anomalies == ["event 3: pad already recorded (practice)"]
