"""docs/protocol.md "Diode datagrams": the vectors in the doc are what the code builds, byte
for byte, they decode to their inputs, and each refusal reason of `decode` fires on a mutated
vector."""

from __future__ import annotations

import re
import socket
import struct
import time
import zlib
from collections.abc import Callable

import pytest

from custody.link import keys as link_keys
from custody.link.diode import datagram as dg
from custody.link.diode import fec
from custody.link.diode.receiver import DiodeReceiver
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.manifest import Direction
from tests.conftest import REPO
from tests.custody.link import diode_vectors as v
from tests.custody.link.fixtures import Capture, free_endpoint

BLOCK = re.compile(r"```diode-vector:([a-z0-9-]+)\n(.*?)\n```", re.S)


@pytest.fixture(scope="module")
def doc() -> dict[str, str]:
    found = BLOCK.findall((REPO / "docs" / "protocol.md").read_text())
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), "a diode vector is printed twice"
    return dict(found)


def _wait(predicate: Callable[[], bool], limit: float = 30.0) -> None:
    end = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


def raw(doc: dict[str, str], name: str) -> bytes:
    return bytes.fromhex(doc[name])


def test_doc_carries_exactly_the_vectors_the_code_builds(doc: dict[str, str]) -> None:
    computed = v.compute()
    assert set(doc) == set(computed)
    for name, value in computed.items():
        assert doc[name] == value, f"docs/protocol.md: diode vector {name} is stale"


def test_vectors_decode_to_their_inputs(doc: dict[str, str]) -> None:
    src = dg.decode(raw(doc, "data-w2f-source"), Direction.W2F)
    rep = dg.decode(raw(doc, "data-w2f-repair"), Direction.W2F)
    block = raw(doc, "block-w2f")
    for d, seq, esi in ((src, 0, 0), (rep, 2, 2)):
        assert (d.kind, d.direction, d.session, d.seq) == (
            dg.KIND_DATA,
            Direction.W2F,
            v.SESSION,
            seq,
        )
        assert (d.block, d.block_len, d.symbol_size, d.k, d.esi) == (0, len(block), 208, 2, esi)
    assert src.packet[4:] == block[:208]  # a source symbol is the block's bytes as they are
    key = link_keys.frame_key(v.PAD_ID, Direction.W2F)
    assert list(dg.records(block)) == [(dg.RECORD_PUBLICATION, key, v.PAYLOAD)]
    assert link_keys.parse_frame_key(key) == (v.PAD_ID, Direction.W2F)

    beat = dg.decode(raw(doc, "heartbeat-w2f"), Direction.W2F)
    assert (beat.kind, beat.session, beat.seq) == (dg.KIND_HEARTBEAT, v.SESSION, 5)
    assert (beat.blocks_sent, beat.dropped, beat.interval_ms) == (1, 0, 1000)

    pres = dg.decode(raw(doc, "data-f2w-presence-source"), Direction.F2W)
    pblock = raw(doc, "block-f2w-presence")
    assert (pres.k, pres.block_len, pres.packet[4 : 4 + len(pblock)]) == (1, len(pblock), pblock)
    [(rtype, rkey, payload)] = list(dg.records(pblock))
    assert (rtype, rkey) == (dg.RECORD_PRESENCE, "")
    tokens = payload.decode().split("\n")
    assert tokens == v.presence_tokens()
    assert all(link_keys.is_gateway_token_key(t) for t in tokens)


def test_a_repair_symbol_and_a_source_rebuild_the_block(doc: dict[str, str]) -> None:
    """The doc's repair symbol is the real one: with source 0 it rebuilds the block (k = 2)."""
    block = raw(doc, "block-w2f")
    dec = fec.BlockDecoder(len(block), 208)
    assert dec.add(dg.decode(raw(doc, "data-w2f-repair"), Direction.W2F).packet) is None
    assert dec.add(dg.decode(raw(doc, "data-w2f-source"), Direction.W2F).packet) == block


def _recrc(data: bytes) -> bytes:
    head = data[:-4]
    return head + struct.pack(">I", zlib.crc32(head))


def _set(offset: int, value: bytes) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        return _recrc(data[:offset] + value + data[offset + len(value) :])

    return mutate


def _flip(data: bytes) -> bytes:
    bad = bytearray(data)
    bad[100] ^= 0x01
    return bytes(bad)


def _over_max_block(data: bytes) -> bytes:
    n = dg.MAX_BLOCK + 1  # with a k that matches, so that only the size is wrong
    return _set(32, struct.pack(">IHH", n, 208, -(-n // 208)))(data)


# (vector, mutation, direction it is decoded for, reason); offsets as in the doc's tables
REFUSALS: list[tuple[str, str, Callable[[bytes], bytes], Direction, str]] = [
    ("short", "data-w2f-source", lambda d: d[:27], Direction.W2F, "short"),
    ("crc", "data-w2f-source", _flip, Direction.W2F, "crc"),
    ("crc-cut", "heartbeat-w2f", lambda d: d[:-1], Direction.W2F, "crc"),
    ("magic", "data-w2f-source", _set(0, b"RDDH"), Direction.W2F, "header"),
    ("version", "heartbeat-w2f", _set(4, b"\x02"), Direction.W2F, "header"),
    ("flags", "heartbeat-w2f", _set(7, b"\x01"), Direction.W2F, "header"),
    ("other-direction", "data-w2f-source", lambda d: d, Direction.F2W, "direction"),
    ("unknown-direction", "heartbeat-w2f", _set(6, b"\x03"), Direction.W2F, "direction"),
    ("unknown-kind", "heartbeat-w2f", _set(5, b"\x03"), Direction.W2F, "kind"),
    ("data-too-short", "data-w2f-source", lambda d: _recrc(d[:24 + 19] + d[-4:]), Direction.W2F,
     "kind"),
    ("heartbeat-long", "heartbeat-w2f", lambda d: _recrc(d[:-4] + b"\0" + d[-4:]), Direction.W2F,
     "length"),
    ("heartbeat-short", "heartbeat-w2f", lambda d: _recrc(d[:-5] + d[-4:]), Direction.W2F,
     "length"),
    ("block-len-0", "data-w2f-source", _set(32, b"\0\0\0\0"), Direction.W2F, "geometry"),
    ("block-len-max", "data-w2f-source", _over_max_block, Direction.W2F, "geometry"),
    ("symbol-size-0", "data-w2f-source", _set(36, b"\0\0"), Direction.W2F, "geometry"),
    ("symbol-size-odd", "data-w2f-source", _set(36, struct.pack(">H", 204)), Direction.W2F,
     "geometry"),
    ("k-wrong", "data-w2f-source", _set(38, b"\0\x03"), Direction.W2F, "geometry"),
    ("packet-cut", "data-w2f-source", lambda d: _recrc(d[:-5] + d[-4:]), Direction.W2F,
     "geometry"),
    ("sbn", "data-w2f-repair", _set(40, b"\x01"), Direction.W2F, "geometry"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("vector", "mutate", "direction", "reason"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_each_refusal_fires_on_a_mutated_vector(
    doc: dict[str, str],
    vector: str,
    mutate: Callable[[bytes], bytes],
    direction: Direction,
    reason: str,
) -> None:
    good = raw(doc, vector)
    dg.decode(good, Direction.W2F)  # the vector itself is fine
    with pytest.raises(dg.DatagramError) as err:
        dg.decode(mutate(good), direction)
    assert str(err.value) == reason


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("cut-in-header", lambda b: b[:2]),
        ("cut-in-payload", lambda b: b[:-1]),
        ("unknown-type", lambda b: b"\x03" + b[1:]),
        ("key-not-utf8", lambda b: b[:3] + b"\xff" + b[4:]),
    ],
)
def test_a_malformed_record_is_refused(
    doc: dict[str, str], name: str, mutate: Callable[[bytes], bytes]
) -> None:
    with pytest.raises(dg.DatagramError) as err:
        list(dg.records(mutate(raw(doc, "block-w2f"))))
    assert str(err.value) == "record"


def test_the_receiver_publishes_the_vectors_and_refuses_their_mutations(
    doc: dict[str, str],
) -> None:
    """The doc's datagrams over a real UDP socket into a real receiver and router: the
    publication arrives byte for byte, the presence is mirrored as gateway tokens, a duplicate
    is counted, every mutated vector is junk and publishes nothing."""
    ep = free_endpoint()
    router = Transport(LinkConfig.router(ep))
    cap = Capture(ep)
    rx_t = Transport(LinkConfig.for_endpoint(ep))
    w2f = DiodeReceiver(rx_t, Direction.W2F, ("127.0.0.1", 0))
    f2w = DiodeReceiver(rx_t, Direction.F2W, ("127.0.0.1", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        w2f.start()
        f2w.start()
        rx = {Direction.W2F: w2f, Direction.F2W: f2w}
        for _, vector, mutate, direction, _ in REFUSALS:
            out.sendto(mutate(raw(doc, vector)), rx[direction].bound)
        junk = {d: sum(1 for r in REFUSALS if r[3] is d) for d in rx}
        _wait(lambda: all(rx[d].status()["junk"] == junk[d] for d in rx))
        for name in ("data-w2f-repair", "data-w2f-source", "data-w2f-source", "heartbeat-w2f"):
            out.sendto(raw(doc, name), w2f.bound)
        out.sendto(raw(doc, "data-f2w-presence-source"), f2w.bound)
        key = link_keys.frame_key(v.PAD_ID, Direction.W2F)
        _wait(lambda: cap.count("w2f") >= 1)
        _wait(lambda: w2f.status()["heartbeats"] == 1)
        s = w2f.status()
        assert cap.frames == [(key, v.PAYLOAD)]
        assert s["session"] == f"{v.SESSION:016x}"
        assert (s["published"], s["duplicates"], s["blocks_rebuilt"]) == (1, 1, 1)
        # seqs 0, 2 and 5 arrived: 1, 3 and 4 are counted lost (4 is a repair never sent here)
        assert (s["datagrams_received"], s["datagrams_lost"]) == (3, 3)
        assert (s["junk"], s["published"], f2w.status()["published"]) == (junk[Direction.W2F], 1, 0)
        deadline = time.monotonic() + 10
        want = set(v.presence_tokens())
        while set(router.alive(f"{link_keys.PREFIX}/gateway/**", 0.5)) != want:
            assert time.monotonic() < deadline, "the presence snapshot was not mirrored"
        assert f2w.status()["gateways"] == [v.GATEWAY]
        assert cap.count("f2w") == 0
    finally:
        out.close()
        w2f.close()
        f2w.close()
        cap.sub.close()
        cap.transport.close()
        rx_t.close()
        router.close()


def test_a_receiver_started_mid_session_does_not_count_the_past_as_lost(
    doc: dict[str, str],
) -> None:
    """A receiver (re)started while its sender is mid-session (a kill -9 of `diode receive`, or
    the receiver started second) counts loss from the first datagram it hears, not from seq 0:
    what the sender sent before the receiver listened was not lost by the diode."""
    ep = free_endpoint()
    router = Transport(LinkConfig.router(ep))
    rx_t = Transport(LinkConfig.for_endpoint(ep))
    rx = DiodeReceiver(rx_t, Direction.W2F, ("127.0.0.1", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.start()
        out.sendto(raw(doc, "heartbeat-w2f"), rx.bound)  # seq 5: blocks 0..0 were sent before
        _wait(lambda: rx.status()["heartbeats"] == 1)
        s = rx.status()
        assert (s["datagrams_lost"], s["blocks_lost"]) == (0, 0)
        # a late datagram from before the first one heard (reordered): counted, and the gap
        # between it and the heartbeat (seqs 1-4) is loss
        out.sendto(raw(doc, "data-w2f-source"), rx.bound)
        _wait(lambda: rx.status()["datagrams_received"] == 2)
        s = rx.status()
        assert (s["datagrams_lost"], s["blocks_lost"]) == (4, 0)
        # the sender restarts (a new session): its count starts at seq 0, so seqs 0-1 are lost
        beat = dg.encode_heartbeat(
            Direction.W2F, v.SESSION + 1, 2, blocks_sent=0, dropped=0, interval_ms=1000
        )
        out.sendto(beat, rx.bound)
        _wait(lambda: rx.status()["heartbeats"] == 2)
        s = rx.status()
        assert (s["sender_restarts"], s["datagrams_lost"], s["blocks_lost"]) == (1, 4 + 2, 0)
    finally:
        out.close()
        rx.close()
        rx_t.close()
        router.close()
