"""One source of truth for consumption (issues #15 and #19): questions asked over the practice
link land in the home's ledger, and the custody view's chart, its table, `reddoor report
inventory|consumption|pad` and the facility journal all give the same figures.

Real parts: a practice facility (SoftHSM2, SQLCipher), the practice link's embedded Zenoh router
and echo gateway on 127.0.0.1, `reddoor ask` and `reddoor report` as subprocesses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QRectF

from app.gui.custody_model import NOT_IN_LEDGER
from app.gui.custody_view import CustodyView
from app.gui.custody_widgets import ConsumptionChart
from app.gui.facility import (
    FACILITY_PADS,
    USB_DIR,
    Facility,
    add_practice_pad,
    create_practice_facility,
)
from app.gui.practice_link import PracticeLink, free_local_endpoint
from app.gui.workers import WorkerRunner
from custody.ledger.home import load_settings, open_ledger
from custody.link.chronicle import LEDGER_EVENT, Chronicle, LedgerChronicleSink, QueryRecord
from custody.pad.status import read_status
from tests.conftest import run_cli


def _report(home: Path, *args: str) -> dict:
    r = run_cli("report", *args, "--json", "--home", str(home))
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def _pad_dir(home: Path, sub: str) -> Path:
    (only,) = sorted((home / sub).iterdir())
    return only


def _ask(home: Path, endpoint: str, question: str) -> dict:
    usb = _pad_dir(home, USB_DIR)
    r = run_cli("ask", "--json", "--pad", str(usb), "--connect", endpoint, stdin=question.encode())
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def _view(qtbot, facility: Facility) -> tuple[CustodyView, WorkerRunner]:
    runner = WorkerRunner()
    view = CustodyView(runner, facility)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    view.refresh()
    qtbot.waitUntil(lambda: view.pads_table.rowCount() > 0, timeout=20000)
    return view, runner


def test_practice_questions_reach_the_ledger_and_the_chart_equals_the_reports(
    qtbot, practice_home, facility
):
    home, _first = practice_home
    link = PracticeLink(
        home / FACILITY_PADS, home=(home, facility.token), endpoint=free_local_endpoint()
    )
    endpoint = link.start()
    try:
        asked = [_ask(home, endpoint, f"question {i} " * (10 + 40 * i)) for i in range(3)]
    finally:
        link.stop()  # the chronicle flushes its last batch into the ledger
    pid = _pad_dir(home, FACILITY_PADS).name
    w2f = sum(a["w2f_pad_bytes"] for a in asked)
    f2w = sum(a["f2w_pad_bytes"] for a in asked)

    # every report counts the practice questions (before: "0 queries")
    consumption = {p["pad_id"]: p for p in _report(home, "consumption")["pads"]}
    assert consumption[pid]["queries"] == 3
    assert consumption[pid]["w2f"]["used"] == w2f and consumption[pid]["f2w"]["used"] == f2w
    pad = _report(home, "pad", pid)["pad"]
    assert pad["queries"] == 3 and pad["used"] == {"w2f": w2f, "f2w": f2w}
    inventory = {p["pad_id"]: p for p in _report(home, "inventory")["pads"]}
    assert inventory[pid]["queries"] == 3 and inventory[pid]["used"] == pad["used"]

    # the facility journal (what `reddoor pad status` reads) agrees: the workstation→facility
    # frames it opened are exactly the ledger's, above the region's start
    st = read_status(_pad_dir(home, FACILITY_PADS))
    length = {d.value: n for d, n in st.length.items()}
    left = {d.value: n for d, n in st.remaining.items()}
    reserve = st.manifest.reserve
    assert length["w2f"] - reserve - left["w2f"] == w2f
    assert length["f2w"] - reserve - left["f2w"] >= f2w  # the sender reserves in blocks

    # the custody view: table, history and chart from the same events
    view, runner = _view(qtbot, facility)
    row = next(i for i, r in enumerate(view.rows) if r.pad_id == pid)
    view.pads_table.selectRow(row)
    series = view.chart.series()
    assert [v for _t, v in series["w2f"]] == sorted(v for _t, v in series["w2f"])
    assert series["w2f"][-1][1] == w2f and series["f2w"][-1][1] == f2w
    assert len(series["w2f"]) == 3 and view.chart.totals() == (w2f, f2w)
    assert view.chart.legend_texts() == [
        f"workstation→facility: {w2f:,} bytes",
        f"facility→workstation: {f2w:,} bytes",
    ]
    cells = [view.pads_table.item(row, j).text() for j in range(view.pads_table.columnCount())]
    assert cells[1] == "active (practice)" and cells[5] == f"{w2f:,}" and cells[6] == f"{f2w:,}"
    lines = view.history_lines()
    assert sum("Query over the link" in line for line in lines) == 3
    assert any(f"Ledger: 3 queries, {w2f:,} bytes used" in line for line in lines)
    runner.stop_all()


def _append_queries(home: Path, token, pid: str, n: int, first_offset: int) -> None:
    """`n` link.query events through the production sink (its own ledger connection)."""

    class Conn:
        def __init__(self) -> None:
            self.ledger = open_ledger(home, load_settings(home), token)

        def close(self) -> None:
            self.ledger.conn.close()

    chron = Chronicle(LedgerChronicleSink(Conn), interval=0.01)
    for i in range(n):
        rec = QueryRecord(f"{first_offset + i:032x}", pid, "practice", "echo")
        rec.received_at = rec.finished_at = 1_800_000_000.0 + first_offset + i
        rec.w2f_ranges = [(first_offset + 1000 * i, 600)]
        rec.f2w_ranges = [((1 << 21) + 1000 * i, 2000)]
        chron.record_query(rec)
    chron.close()
    assert chron.written == n


def test_refresh_updates_the_selected_pads_history_and_chart(qtbot, practice_home, facility):
    home, _first = practice_home
    pid = _pad_dir(home, FACILITY_PADS).name
    _append_queries(home, facility.token, pid, 2, 0)
    view, runner = _view(qtbot, facility)
    view.pads_table.selectRow(0)
    assert view.selected_pad() == pid
    assert len(view.chart.series()["w2f"]) == 2 and view.chart.totals() == (1200, 4000)
    before = view.history_lines()

    _append_queries(home, facility.token, pid, 3, 100)
    view.refresh()
    qtbot.waitUntil(lambda: len(view.chart.series()["w2f"]) == 5, timeout=20000)
    assert view.selected_pad() == pid  # the same pad stays selected
    assert view.chart.totals() == (3000, 10000)
    after = view.history_lines()
    queries = [line for line in after if "Query over the link" in line]
    assert len(queries) == 5 and len(after) == len(before) + 3
    assert any("Ledger: 5 queries, 3,000 bytes used" in line for line in after)
    runner.stop_all()


def test_inventory_and_the_view_list_the_same_pads(qtbot, tmp_path):
    """A new practice facility's starter pad is in the ledger: inventory lists it as the view
    does, in the same state. A starter pad from before (no ledger record) reads "not in the
    ledger" until the practice link records it as it starts serving it."""
    new = tmp_path / "new"
    create_practice_facility(new)
    (pad,) = _report(new, "inventory")["pads"]
    assert pad["state"] == "active" and pad["mark"] == "PRACTICE"
    with_view = Facility(new)
    view, runner = _view(qtbot, with_view)
    assert [(r.pad_id, r.state) for r in view.rows] == [(pad["pad_id"], "active")]
    runner.stop_all()
    with_view.close()

    old = tmp_path / "old"
    create_practice_facility(old, starter_pad=False)
    add_practice_pad(old, 1 << 20)  # made as homes made it before the ledger recorded it
    assert _report(old, "inventory")["pads"] == []
    facility = Facility(old)
    try:
        view, runner = _view(qtbot, facility)
        assert [r.state for r in view.rows] == [NOT_IN_LEDGER]
        assert any("inventory and the reports leave it out" in x for x in view.history_lines())
        link = PracticeLink(
            old / FACILITY_PADS, home=(old, facility.token), endpoint=free_local_endpoint()
        )
        link.start()
        link.stop()
        view.refresh()
        qtbot.waitUntil(lambda: view.rows[0].state == "active", timeout=20000)
        runner.stop_all()
        types = [e.type for e in facility.events()]
        assert types.count("pad.practice_created") == 1 and LEDGER_EVENT not in types
        assert facility.verify().ok
    finally:
        facility.close()
    (pad,) = _report(old, "inventory")["pads"]
    assert pad["pad_id"] == view.rows[0].pad_id and pad["state"] == "active"


@pytest.mark.parametrize("size", [(240, 180), (320, 200), (420, 240), (700, 320)])
def test_chart_texts_never_overlap(qtbot, size):
    """The legend used to draw both entries in one box (left- and right-aligned): below ~460 px
    they ran into each other, and a big byte count ran off the scale's 46 px."""
    chart = ConsumptionChart()
    qtbot.addWidget(chart)
    chart.title = "Consumption over time (selected pad)"
    t0 = 1_800_000_000.0
    chart.set_usage([(t0 + 3600 * i, 1536 * (i + 1), 40960 * (i + 1)) for i in range(24)])
    chart.resize(*size)
    boxes = chart.text_boxes()
    plot = chart.chart_layout().plot
    whole = QRectF(chart.rect())
    for i, (text, box) in enumerate(boxes):
        assert whole.contains(box), text
        assert not box.intersects(plot), text
        for other, obox in boxes[i + 1 :]:
            assert not box.intersects(obox), (text, other)
    shown = [t for t, _b in boxes]
    assert "983,040" in shown  # the scale's top, in full
    if size[0] >= 320:  # both legend entries in full, with the totals
        assert set(chart.legend_texts()) <= set(shown)


def test_verify_banner_counts_in_words():
    from app.gui.custody_model import verify_banner
    from custody.ledger.verify import Problem, VerifyReport

    one = VerifyReport(size=1, checkpoints=[{"size": 1}])
    assert verify_banner(one, "now")[1] == (
        "Ledger verifies: 1 event, 1 signed checkpoint holds (checked now)."
    )
    two = VerifyReport(size=2, checkpoints=[{"size": 1}, {"size": 2}])
    assert "2 events, 2 signed checkpoints hold" in verify_banner(two, "now")[1]
    bad = VerifyReport(size=2, problems=[Problem(1, "content does not match its hash")])
    assert "(1 problem, checked now)" in verify_banner(bad, "now")[1]
