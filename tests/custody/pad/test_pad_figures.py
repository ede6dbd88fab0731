"""One definition of a pad's figures (custody.pad.status): the reserve is never "used", bytes
left are the same wherever they are shown, and the queries-left estimate does not jump."""

from __future__ import annotations

from pathlib import Path

from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad import usage as pad_usage
from custody.pad.manifest import Direction
from custody.pad.practice import make_practice_pad
from custody.pad.status import read_status
from custody.pad.store import open_pad_dir
from tests.custody.link.fixtures import free_endpoint


def test_a_new_pad_has_used_nothing_and_the_reserve_is_said(tmp_path: Path) -> None:
    m = make_practice_pad(tmp_path / "p", 4 << 20)
    for side in ("workstation", "facility"):
        st = read_status(tmp_path / "p" / side)
        assert st.used == {Direction.W2F: 0, Direction.F2W: 0}
        assert not st.in_service
        for d in Direction:
            assert st.used[d] + st.remaining[d] + st.reserve == st.length[d]
        assert st.reserve == m.reserve == 1024
        assert f"each region also keeps {m.reserve:,} bytes" in st.render()
        assert st.to_dict()["used"] == {"w2f": 0, "f2w": 0}


def test_used_bytes_count_from_the_durable_mark(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "p", 4 << 20)
    ws = tmp_path / "p" / "workstation"
    with open_pad_dir(ws) as copy:
        copy.reserve_send(100)  # durably reserves a whole block
        reserved_to = copy.journal.send_reserved
        start = copy.send_region.start
        running = read_status(ws)  # a running sender's block counts until it is given back
    assert running.in_service and running.used[Direction.W2F] == reserved_to - start > 100
    closed = read_status(ws)  # a clean close gives the unused tail back
    assert closed.in_service and closed.used[Direction.W2F] == 100
    for st in (running, closed):
        for d in Direction:
            assert st.used[d] + st.remaining[d] + st.reserve == st.length[d]


def test_one_small_query_does_not_multiply_the_estimate(tmp_path: Path) -> None:
    m = make_practice_pad(tmp_path / "p", 4 << 20)
    ws = tmp_path / "p" / "workstation"
    fresh = read_status(ws).queries_left
    pad_usage.record_query(m.pad_id, 288, 576)  # one short echo answer
    after_one = read_status(ws)
    assert "observed over 1 queries" in after_one.basis
    assert fresh <= after_one.queries_left <= 1.15 * fresh
    for _ in range(200):
        pad_usage.record_query(m.pad_id, 288, 576)
    settled = read_status(ws)  # many observations: the estimate follows what is observed
    left_w2f, left_f2w = settled.remaining[Direction.W2F], settled.remaining[Direction.F2W]
    assert settled.queries_left > 0.8 * min(left_w2f // 288, left_f2w // 576)


def test_cover_traffic_counts_bytes_left_as_the_pad_line_does(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "p", 4 << 20)
    ws = tmp_path / "p" / "workstation"
    ep = free_endpoint()
    router = Transport(LinkConfig.router(ep))
    transport = Transport(LinkConfig.for_endpoint(ep))
    copy = open_pad_dir(ws)
    client = WorkstationClient(copy, transport, require_gateway=False)
    try:
        copy.reserve_send(100)  # a block reserved, 100 bytes of it used: the two used to differ
        cost = client.cover_cost(1.0, 1024)
        footer = read_status(ws)  # what the pad line and the footer show
        assert cost.remaining == footer.remaining[Direction.W2F]
    finally:
        client.close()
        copy.close()
        transport.close()
        router.close()
