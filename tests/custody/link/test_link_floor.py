"""The gateway's receive-mark hint: announced at once after a quiet spell, coalesced in bursts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.backends import EchoBackend
from custody.link.gateway import Gateway
from custody.link.pad_providers import DirectoryPadProvider
from custody.link.zenoh_transport import LinkConfig
from custody.pad import frame
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir


class _Token:
    def close(self) -> None:
        pass


class _CountingTransport:
    """Records floor tokens declared and frames published; no network."""

    config = LinkConfig.router()  # its own router: no router to watch

    def __init__(self) -> None:
        self.floors: list[int] = []
        self.published: list[bytes] = []
        self.lock = threading.Lock()

    def subscribe(self, key: str, on_data: object) -> _Token:
        return _Token()

    def declare_token(self, key: str) -> _Token:
        floor = link_keys.floor_of(key)
        if floor is not None:
            with self.lock:
                self.floors.append(floor)
        return _Token()

    def publish(self, key: str, data: bytes, *, droppable: bool = False) -> None:
        self.published.append(data)


def _wait_for(cond, deadline: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_floor_hint_is_coalesced_in_a_burst_and_ends_current(tmp_path: Path) -> None:
    os.environ["REDDOOR_STATE_DIR"] = str(tmp_path / "state")
    make_practice_pad(tmp_path / "p", 4 << 20)
    t = _CountingTransport()
    gw = Gateway(
        t, DirectoryPadProvider(tmp_path / "p" / "facility"), EchoBackend(), floor_interval=1.0
    )  # type: ignore[arg-type]
    gw.start()
    ws = open_pad_dir(tmp_path / "p" / "workstation")
    try:
        start_floor = t.floors[-1]
        body = link_messages.encode_query("what is 2+2?", None, 0)
        burst = 60
        for _ in range(burst):
            data = frame.seal(ws, frame.Kind.QUERY, body, msg_id=os.urandom(16))
            gw._on_frame(ws.pad_id, data)
            time.sleep(0.005)  # room for the announcer thread between questions
        final = link_messages.next_send_offset(ws)
        assert len(t.published) == burst  # every question answered
        # The last mark is announced (trailing edge of the coalescing interval) ...
        assert _wait_for(lambda: t.floors[-1] == final)
        # ... without a token per question: at most one at once and one per interval.
        announced = [f for f in t.floors if f > start_floor]
        assert 1 <= len(announced) < burst // 4
        assert announced == sorted(announced)
    finally:
        ws.close()
        gw.stop()


def test_a_frame_refused_after_authentication_still_moves_the_announced_mark(
    tmp_path: Path,
) -> None:
    from tests.custody.pad.test_frame import _authentic, _inner

    os.environ["REDDOOR_STATE_DIR"] = str(tmp_path / "state")
    make_practice_pad(tmp_path / "p", 4 << 20)
    t = _CountingTransport()
    provider = DirectoryPadProvider(tmp_path / "p" / "facility")
    gw = Gateway(t, provider, EchoBackend(), floor_interval=0.0)  # type: ignore[arg-type]
    gw.start()
    try:
        lane = next(iter(gw._lanes.values()))
        start = t.floors[-1]
        bad = _authentic(lane.copy, 0, _inner(frame.Kind.QUERY, 0, flags=0x04))  # bad flags
        gw._on_frame(lane.copy.pad_id, bad)
        assert gw.stats["rejected-bad-inner"] == 1 and not t.published
        assert _wait_for(lambda: t.floors[-1] > start)  # its range is spent: announced
        assert t.floors[-1] == link_messages.receive_floor(lane.copy)
    finally:
        gw.stop()
