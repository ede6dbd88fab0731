"""A man in the middle bridges two routers and tampers with the frames it forwards."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from pathlib import Path

import pytest

from custody.link import keys as link_keys
from custody.link.backends import EchoBackend
from custody.link.gateway import Gateway
from custody.link.pad_providers import DirectoryPadProvider
from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir
from tests.custody.link.fixtures import free_endpoint


class Bridge:
    """Forwards w2f from the workstation router to the facility router and f2w back, applying
    `plan(direction, n)` → list of actions per frame: 'pass', 'drop', 'flip', 'dup', 'hold'."""

    def __init__(self, ws_ep: str, fac_ep: str, plan) -> None:  # type: ignore[no-untyped-def]
        self.ws = Transport(LinkConfig.for_endpoint(ws_ep))
        self.fac = Transport(LinkConfig.for_endpoint(fac_ep))
        self.plan = plan
        self.seen: dict[str, list[bytes]] = {"w2f": [], "f2w": []}
        self.held: dict[str, tuple[str, bytes] | None] = {"w2f": None, "f2w": None}
        self.lock = threading.Lock()
        self.subs = [
            self.ws.subscribe(f"{link_keys.PREFIX}/pad/*/w2f", self._make("w2f", self.fac)),
            self.fac.subscribe(f"{link_keys.PREFIX}/pad/*/f2w", self._make("f2w", self.ws)),
        ]

    def _make(self, direction: str, out: Transport):  # type: ignore[no-untyped-def]
        def on(key: str, data: bytes) -> None:
            # A test bridge may publish from the callback: it is not a Red Door component.
            with self.lock:
                n = len(self.seen[direction])
                self.seen[direction].append(data)
                actions = self.plan(direction, n)
                for act in actions:
                    if act == "pass":
                        out.publish(key, data)
                    elif act == "flip":
                        bad = bytearray(data)
                        bad[len(bad) // 2] ^= 0x01
                        out.publish(key, bytes(bad))
                    elif act == "dup":
                        out.publish(key, data)
                        out.publish(key, data)
                    elif act == "hold":
                        self.held[direction] = (key, data)
                        return
                held = self.held[direction]
                if held is not None and "drop" not in actions:
                    self.held[direction] = None
                    out.publish(*held)  # released after a later frame: reordered

        return on

    def close(self) -> None:
        for s in self.subs:
            s.close()
        self.ws.close()
        self.fac.close()


def plan(direction: str, n: int) -> list[str]:
    if direction == "w2f":
        # The flipped query travels alone: sent right before the genuine one, two gateway
        # workers could open the genuine first, and the flipped copy would then be refused as
        # a replay before its tag is ever checked (correct, but not what this test counts).
        return {0: ["drop"], 1: ["flip"], 3: ["dup"]}.get(n, ["pass"])
    return {0: ["flip", "pass", "pass"], 1: ["hold"], 3: ["drop"], 5: ["dup"]}.get(n, ["pass"])


def test_tampering_is_rejected_and_drops_are_recovered(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO)
    make_practice_pad(tmp_path / "p", 1 << 20)
    ws_ep, fac_ep = free_endpoint(), free_endpoint()
    ws_router = Transport(LinkConfig.router(ws_ep))
    fac_router = Transport(LinkConfig.router(fac_ep))
    gw_t = Transport(LinkConfig.for_endpoint(fac_ep))
    gw = Gateway(
        gw_t,
        DirectoryPadProvider(tmp_path / "p" / "facility"),
        EchoBackend(piece=300),
        chunk_bytes=300,
        resend_min_interval=0.0,
    )
    gw.start()
    bridge = Bridge(ws_ep, fac_ep, plan)
    cl_t = Transport(LinkConfig.for_endpoint(ws_ep))
    copy = open_pad_dir(tmp_path / "p" / "workstation")
    client = WorkstationClient(
        copy, cl_t, require_gateway=False, retransmit_interval=0.3, answer_timeout=30
    )
    try:
        shown: list[str] = []
        question = "".join(f"line {i} of the question\n" for i in range(120))
        answer = client.ask(question, shown.append)
        assert answer.text == question and "".join(shown) == question
        answer2 = client.ask("second question", None)
        assert answer2.text == "second question"
    finally:
        client.close()
        copy.close()
        bridge.close()
        gw.stop()
        for t in (cl_t, gw_t, ws_router, fac_router):
            t.close()
    stats: Counter[str] = client.stats
    assert stats["rejected-bad-tag"] >= 1  # the modified answer frame
    assert stats["duplicates-dropped"] >= 1  # replayed answer frames
    assert stats["retransmitted-queries"] >= 1
    assert gw.stats["rejected-bad-tag"] >= 1  # the modified query frame
    assert gw.stats["answers-resent"] >= 1
    # the dropped query frame came back as the very same bytes, never a new seal
    w2f = bridge.seen["w2f"]
    assert w2f.count(w2f[0]) >= 2
    assert any(
        "rejected a frame" in r.getMessage() and "bad-tag" in r.getMessage() for r in caplog.records
    )


@pytest.mark.slow
def test_16_workstations_200_queries_no_crosstalk(tmp_path: Path) -> None:
    ep = free_endpoint()
    router = Transport(LinkConfig.router(ep))
    n_ws, n_q = 16, 200
    (tmp_path / "fac").mkdir()
    for i in range(n_ws):
        make_practice_pad(tmp_path / f"p{i}", 1 << 20)
        (tmp_path / f"p{i}" / "facility").rename(tmp_path / "fac" / f"p{i}")
    gw_t = Transport(LinkConfig.for_endpoint(ep))
    gw = Gateway(gw_t, DirectoryPadProvider(tmp_path / "fac"), EchoBackend())
    gw.start()
    errors: list[str] = []
    done = Counter[int]()

    def run(i: int) -> None:
        t = Transport(LinkConfig.for_endpoint(ep))
        copy = open_pad_dir(tmp_path / f"p{i}" / "workstation", block=1 << 20)
        c = WorkstationClient(copy, t, answer_timeout=60, durable_outbox=False)
        try:
            for k in range(n_q):
                q = f"ws{i} q{k}"
                a = c.ask(q)
                if a.text != q:
                    errors.append(f"{q} got {a.text[:40]}")
                done[i] += 1
        except Exception as exc:
            errors.append(f"ws{i}: {exc}")
        finally:
            c.close()
            copy.close()
            t.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_ws)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    gw.stop()
    gw_t.close()
    router.close()
    assert not errors, errors[:5]
    assert sum(done.values()) == n_ws * n_q
