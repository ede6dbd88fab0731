"""A multi-fragment question whose fragments arrive late, twice or across a gateway restart.

Real processes: a router and a gateway (`reddoor router`, `reddoor gateway`). The test plays the
workstation itself: it seals the fragments of a 70 KB question with the workstation copy, exactly
as `WorkstationClient` does, and publishes them in the order each case needs (retransmission is
the documented recovery from a full gateway queue, so any of these orders can happen).
"""

from __future__ import annotations

import queue
import secrets
import signal
import time
from pathlib import Path

import pytest

from custody.errors import AnswerInterruptedError, FrameRejected
from custody.link import keys as link_keys
from custody.link import messages as link_messages
from custody.link.query_frames import _facility_error
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad import frame
from custody.pad.manifest import Direction
from custody.pad.store import open_pad_dir
from tests.custody.link.fixtures import free_endpoint, spawn, stop

QUESTION = "".join(f"line {i:05d} of a long question about the red door\n" for i in range(1400))
TERMINAL = {frame.Kind.ANSWER_END, frame.Kind.ERROR, frame.Kind.PAD_EXHAUSTED}


class RawWorkstation:
    """Seals question fragments with the workstation copy and publishes them one by one."""

    def __init__(self, pad_dir: Path, endpoint: str) -> None:
        self.copy = open_pad_dir(pad_dir)
        self.pad_id = self.copy.manifest.pad_id
        self.transport = Transport(LinkConfig.for_endpoint(endpoint))
        self.inbox: queue.Queue[bytes] = queue.Queue()
        self.sub = self.transport.subscribe(
            link_keys.frame_key(self.pad_id, Direction.F2W), lambda _k, d: self.inbox.put(d)
        )

    def wait_for_gateway(self, min_floor: int = 0, limit: float = 30.0) -> None:
        """Until a gateway serves the pad (and announces a receive mark of at least
        `min_floor`): a publish before its subscription is known would vanish."""
        pad_key = link_keys.any_gateway_pad_key(self.pad_id)
        end = time.monotonic() + limit
        while time.monotonic() < end:
            keys = self.transport.alive(f"{link_keys.PREFIX}/gateway/**", 0.5)
            served = any(k.endswith(pad_key.rsplit("/", 1)[-1]) for k in keys)
            floors = [f for k in keys if (f := link_keys.floor_of(k)) is not None]
            if served and max(floors, default=0) >= min_floor:
                return
            time.sleep(0.05)
        raise AssertionError("no gateway serving the pad")

    def seal(self, question: str) -> tuple[bytes, list[bytes]]:
        body = link_messages.encode_query(question, None, link_messages.receive_floor(self.copy))
        parts = link_messages.split(body)
        qid = secrets.token_bytes(16)
        frames = [
            frame.seal(
                self.copy,
                frame.Kind.QUERY,
                part,
                msg_id=qid,
                seq=i,
                final=i == len(parts) - 1,
            )
            for i, part in enumerate(parts)
        ]
        return qid, frames

    def publish(self, data: bytes) -> None:
        self.transport.publish(link_keys.frame_key(self.pad_id, Direction.W2F), data)

    def answer(self, qid: bytes, limit: float = 60.0) -> list[frame.Message]:
        """Every authentic answer frame of `qid`, in arrival order, until the answer is complete
        in seq order (or a terminal frame with nothing missing before it)."""
        got: list[frame.Message] = []
        seqs: set[int] = set()
        end = time.monotonic() + limit
        while True:
            try:
                data = self.inbox.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"answer incomplete: {[m.kind.name for m in got]}") from None
            try:
                msg = frame.open_frame(self.copy, data)
            except FrameRejected:
                continue  # a duplicate of a frame already opened
            if msg.msg_id != qid:
                continue
            got.append(msg)
            seqs.add(msg.seq)
            last = [m.seq for m in got if m.kind in TERMINAL]
            if any(all(s in seqs for s in range(t)) for t in last):
                return got

    def quiet(self, seconds: float) -> list[bytes]:
        """What arrives within `seconds` (frames after the answer ended)."""
        out = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                out.append(self.inbox.get(timeout=left))
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        self.sub.close()
        self.transport.close()
        self.copy.close()


def _text(msgs: list[frame.Message]) -> str:
    by_seq = {m.seq: m for m in msgs}
    return b"".join(by_seq[s].payload for s in sorted(by_seq)).decode()


def _kinds(msgs: list[frame.Message]) -> list[str]:
    return [m.kind.name for m in msgs]


@pytest.fixture
def router():
    ep = free_endpoint()
    proc = spawn("router", "--listen", ep, ready="router listening")
    yield ep
    stop(proc)


def _gateway(router: str, pads: Path):  # type: ignore[no-untyped-def]
    # A slow echo (17 pieces of 4 KiB, 50 ms apart): the answer is still being produced when
    # a retransmission arrives in the third case.
    args = ("gateway", "--connect", router, "--pads", str(pads / "fac"))
    return spawn(*args, "--echo-delay", "0.05", "--echo-piece", "4096", ready="serving")


def test_late_and_repeated_fragments_get_the_whole_answer(pads, router):
    assert len(link_messages.split(link_messages.encode_query(QUESTION, None))) == 2
    gw = _gateway(router, pads)
    ws = RawWorkstation(pads / "p1" / "workstation", router)
    try:
        ws.wait_for_gateway()
        # 1. Fragment 0, the same fragment 0 again 1.5 s later (no answer yet: the workstation
        #    retransmits), then fragment 1. The repeat is not a gateway restart.
        qid, (f0, f1) = ws.seal(QUESTION)
        ws.publish(f0)
        time.sleep(1.5)
        ws.publish(f0)
        time.sleep(0.5)  # the repeat is handled before fragment 1 arrives
        ws.publish(f1)
        got = ws.answer(qid)
        assert "ERROR" not in _kinds(got), _kinds(got)
        assert got[-1].kind is frame.Kind.ANSWER_END and _text(got) == QUESTION

        # 2. The other order: fragment 1, fragment 1 again, then fragment 0.
        qid, (f0, f1) = ws.seal(QUESTION)
        ws.publish(f1)
        time.sleep(1.5)
        ws.publish(f1)
        time.sleep(0.5)
        ws.publish(f0)
        got = ws.answer(qid)
        assert "ERROR" not in _kinds(got), _kinds(got)
        assert got[-1].kind is frame.Kind.ANSWER_END and _text(got) == QUESTION

        # 3. Every fragment retransmitted while the answer is being produced: the frames sent
        #    so far come again (dropped as duplicates), the answer goes on to its end.
        qid, frames = ws.seal(QUESTION)
        for f in frames:
            ws.publish(f)
        first = ws.inbox.get(timeout=30)
        ws.inbox.put(first)
        for f in frames:
            ws.publish(f)
        got = ws.answer(qid)
        assert "ERROR" not in _kinds(got), _kinds(got)
        assert got[-1].kind is frame.Kind.ANSWER_END and _text(got) == QUESTION
    finally:
        ws.close()
        stop(gw)


@pytest.mark.slow
@pytest.mark.parametrize("order", ["0-then-1", "1-then-0"])
def test_restart_mid_question_says_so_once(pads, router, order):
    """The gateway is killed after fragment 0 and before fragment 1: the question cannot be
    finished (fragment 0's plaintext went with its zeroized pad bytes). The workstation gets one
    ERROR `restart: ...` (exit 26 in `reddoor ask`), in either order of the retransmission, and
    nothing else for that question."""
    gw = _gateway(router, pads)
    ws = RawWorkstation(pads / "p1" / "workstation", router)
    try:
        ws.wait_for_gateway()
        qid, (f0, f1) = ws.seal(QUESTION)
        ws.publish(f0)
        h = frame.parse_header(f0)
        ws.wait_for_gateway(min_floor=h.offset + h.range_len)  # fragment 0 was opened
        time.sleep(0.3)  # and indexed in the answer cache
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        gw = _gateway(router, pads)
        ws.wait_for_gateway()
        for f in (f0, f1) if order == "0-then-1" else (f1, f0):
            ws.publish(f)
            time.sleep(0.3)
        got = ws.answer(qid)
        assert _kinds(got) == ["ERROR"], _kinds(got)
        err = _facility_error(got[0].payload)
        assert isinstance(err, AnswerInterruptedError) and "restarted" in err.message
        assert "before answering" in err.message, err.message
        # a further retransmission brings the same ERROR frame back, never a second answer
        for f in (f0, f1):
            ws.publish(f)
        late = ws.quiet(1.5)
        assert late, "the ERROR frame was not resent"
        for data in late:
            with pytest.raises(FrameRejected):
                frame.open_frame(ws.copy, data)  # a duplicate of the ERROR frame, nothing new
    finally:
        ws.close()
        stop(gw)
