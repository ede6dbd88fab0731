"""Constant-rate cover traffic in both directions: on the wire every frame has one size and no
clear kind, and the pad cost announced before enabling is what gets consumed."""

from __future__ import annotations

import time
from pathlib import Path

from custody.link.backends import EchoBackend
from custody.link.gateway import Gateway
from custody.link.pad_providers import DirectoryPadProvider
from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad import frame
from custody.pad.manifest import Direction
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir
from tests.custody.link.fixtures import Capture, free_endpoint

RATE, BUCKET = 40.0, 1024


def test_cover_both_directions_same_size_no_clear_kind_cost_as_shown(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "p", 4 << 20)
    ep = free_endpoint()
    router = Transport(LinkConfig.router(ep))
    cap = Capture(ep)
    gw_t = Transport(LinkConfig.for_endpoint(ep))
    gw = Gateway(
        gw_t,
        DirectoryPadProvider(tmp_path / "p" / "facility"),
        EchoBackend(piece=300),
        cover_rate=RATE,
        cover_bucket=BUCKET,
        chunk_bytes=4096,
    )
    ws_t = Transport(LinkConfig.for_endpoint(ep))
    copy = open_pad_dir(tmp_path / "p" / "workstation")
    client = WorkstationClient(copy, ws_t, answer_timeout=30)
    try:
        assert gw.cover is not None
        gw_cost = gw.cover
        gw.start()
        ws_cost = client.cover_cost(RATE, BUCKET)  # shown before enabling
        assert ws_cost.render().startswith(f"cover traffic: {RATE:g} frames/s")
        used0 = copy.status()[Direction.W2F].used
        client.enable_cover(RATE, BUCKET)
        question = "cover me " * 300  # 2.7 KB: several fragments, each in a cover slot
        answer = client.ask(question)
        assert answer.text == question
        assert answer.query_frames > 1 and answer.answer_frames > 1
        time.sleep(1.0)
        client.disable_cover()
        ws_used = copy.status()[Direction.W2F].used - used0
        gw.stop()
        time.sleep(0.3)  # the capture's last frames
    finally:
        client.close()
        copy.close()
        ws_t.close()
        gw_t.close()
    lane_copy = open_pad_dir(tmp_path / "p" / "facility")
    gw_used = lane_copy.status()[Direction.F2W].used
    lane_copy.close()
    cap.close()
    router.close()

    size = frame.HEADER_LEN + BUCKET + frame.TAG_LEN
    by_dir: dict[str, list[bytes]] = {"w2f": [], "f2w": []}
    for key, data in cap.frames:
        by_dir[key.rsplit("/", 1)[1]].append(data)
    for direction, frames in by_dir.items():
        assert frames, direction
        assert {len(f) for f in frames} == {size}, direction  # one size on the wire
        assert {frame.parse_header(f).kind for f in frames} == {frame.Kind.OPAQUE}, direction
    # Every frame costs exactly what was announced; the rate is what was announced.
    w2f_frames = len(set(by_dir["w2f"]))
    assert ws_used == w2f_frames * ws_cost.frame_bytes
    # One frame per slot: every w2f frame is a cover slot or a question fragment in a slot.
    assert client.stats["cover-sent"] + answer.query_frames == w2f_frames
    f2w_frames = len(set(by_dir["f2w"]))
    assert gw_used == f2w_frames * gw_cost.frame_bytes
    assert gw.stats["cover-sent"] >= 1 and f2w_frames >= gw.stats["cover-sent"]
    assert ws_cost.bytes_per_day == int(RATE * 86400 * ws_cost.frame_bytes)
    assert client.stats["cover-received"] > 0  # the facility's cover reached the workstation
    # The rate itself is wall-clock behaviour: measured in tests/benchmarks/bench_cover.py.
