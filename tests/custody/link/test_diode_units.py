"""The diode receiver's rules one datagram at a time, against a real embedded router: what it
publishes, what it counts, what it refuses; and the FEC seam's promise."""

from __future__ import annotations

import os
import time

import pytest

from custody.link import keys as link_keys
from custody.link.diode import datagram as dg
from custody.link.diode import fec
from custody.link.diode.receiver import DiodeReceiver
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.manifest import Direction
from tests.custody.link.fixtures import Capture, free_endpoint

PAD = bytes(range(16))
F2W_KEY = link_keys.frame_key(PAD, Direction.F2W)
W2F_KEY = link_keys.frame_key(PAD, Direction.W2F)
SESSION = 0x0123456789ABCDEF
S = dg.symbol_size_for(1400)


class Sender:
    """Builds what a `DiodeSender` would send, without a socket."""

    def __init__(self, direction: Direction = Direction.F2W, session: int = SESSION) -> None:
        self.direction, self.session, self.seq, self.block = direction, session, 0, 0

    def datagrams(self, *records: bytes, overhead: float = 0.25) -> list[bytes]:
        block = b"".join(records)
        k = -(-len(block) // S)
        out = []
        for packet in fec.encode(block, S, overhead):
            out.append(
                dg.encode_data(
                    self.direction,
                    self.session,
                    self.seq,
                    block=self.block,
                    block_len=len(block),
                    symbol_size=S,
                    k=k,
                    packet=packet,
                )
            )
            self.seq += 1
        self.block += 1
        return out

    def heartbeat(self) -> bytes:
        d = dg.encode_heartbeat(
            self.direction, self.session, self.seq, blocks_sent=self.block, dropped=0,
            interval_ms=1000,
        )  # fmt: skip
        self.seq += 1
        return d


def frame_record(key: str, n: int = 600) -> bytes:
    return dg.encode_record(dg.RECORD_PUBLICATION, key, os.urandom(n))


def presence_record(*keys: str) -> bytes:
    return dg.encode_record(dg.RECORD_PRESENCE, "", "\n".join(keys).encode())


@pytest.fixture
def side():
    endpoint = free_endpoint()
    router = Transport(LinkConfig.router(endpoint))
    capture = Capture(endpoint)
    # the capture's subscription reaches the router a moment after it is declared: wait for it
    probe = link_keys.frame_key(bytes(16), Direction.F2W)
    while not capture.frames:
        router.publish(probe, b"probe")
        time.sleep(0.05)
    time.sleep(0.1)
    capture.frames.clear()
    receiver = DiodeReceiver(router, Direction.F2W, ("127.0.0.1", 0), stale_after=5.0)
    yield receiver, router, capture
    receiver.close()
    capture.close()
    router.close()


def feed(receiver: DiodeReceiver, datagrams: list[bytes], now: float | None = None) -> None:
    for d in datagrams:
        receiver.handle(d, time.monotonic() if now is None else now)


def test_a_block_is_published_once_whatever_arrives_twice_or_late(side):
    receiver, _router, capture = side
    s = Sender()
    packets = s.datagrams(frame_record(F2W_KEY), frame_record(F2W_KEY, 3000))
    feed(receiver, packets)
    capture.wait_for(lambda: capture.count("f2w") == 2)
    feed(receiver, packets[:2])  # the same datagrams again (a duplicating diode)
    st = receiver.status()
    assert st["published"] == 2 and st["duplicates"] == 2 and st["blocks_rebuilt"] == 1
    assert st["datagrams_lost"] == 0 and st["junk"] == 0
    time.sleep(0.3)
    assert capture.count("f2w") == 2


def test_losses_within_the_repair_symbols_are_rebuilt_and_counted(side):
    receiver, _router, capture = side
    s = Sender()
    packets = s.datagrams(frame_record(F2W_KEY, 5000))  # k = 4: 1 + 2 repair symbols
    k = -(-(5000 + 100) // S)
    assert len(packets) == k + fec.repair_count(k, 0.25)
    feed(receiver, [packets[0], *packets[3:]])  # two source symbols lost
    feed(receiver, [s.heartbeat()])
    capture.wait_for(lambda: capture.count("f2w") == 1)
    st = receiver.status()
    assert st["blocks_repaired"] == 1 and st["datagrams_lost"] == 2 and st["blocks_lost"] == 0


def test_a_whole_block_lost_is_counted_from_the_heartbeat(side):
    receiver, _router, _capture = side
    s = Sender()
    feed(receiver, [s.heartbeat()])  # the receiver hears the session from its start
    s.datagrams(frame_record(F2W_KEY))  # never arrives
    feed(receiver, [*s.datagrams(frame_record(F2W_KEY)), s.heartbeat()])
    st = receiver.status()
    assert st["blocks_lost"] == 1 and st["blocks_rebuilt"] == 1
    assert st["datagrams_lost"] == len(fec.encode(b"x" * 700, S, 0.25))


def test_keys_of_the_other_direction_or_out_of_the_link_are_never_published(side):
    receiver, _router, capture = side
    s = Sender()
    foreign = dg.encode_record(dg.RECORD_PUBLICATION, "reddoor/v1/pad/**", b"x")
    wrong_way = frame_record(W2F_KEY)
    not_canonical = frame_record(F2W_KEY.replace("reddoor/v1", "reddoor/v1/"))
    feed(receiver, s.datagrams(foreign, wrong_way, not_canonical, frame_record(F2W_KEY)))
    capture.wait_for(lambda: capture.count("f2w") == 1)
    time.sleep(0.3)
    assert capture.count("w2f") == 0 and len(capture.frames) == 1
    assert receiver.status()["refused_keys"] == 3


def test_presence_is_mirrored_refused_when_foreign_and_withdrawn_when_stale(side):
    receiver, router, _capture = side
    s = Sender()
    good = [
        link_keys.gateway_alive_key("facility"),
        link_keys.gateway_pad_key("facility", PAD),
        link_keys.gateway_floor_key("facility", PAD, 4096),
    ]
    now = time.monotonic()
    feed(receiver, s.datagrams(presence_record(*good)), now)

    def alive() -> list[str]:
        return router.alive(f"{link_keys.PREFIX}/gateway/**", 0.5)

    assert alive() == sorted(good)
    assert receiver.status()["gateways"] == ["facility"]
    # a snapshot with anything else in it is refused whole: the mirror stays as it was
    for bad in (
        "reddoor/v1/gateway/*/alive",
        "reddoor/v1/pad/x/f2w",
        "reddoor/v1/gateway/Ev!l/alive",
    ):
        feed(receiver, s.datagrams(presence_record(good[0], bad)), now)
    not_utf8 = dg.encode_record(dg.RECORD_PRESENCE, "", b"\xff\xfe")
    feed(receiver, s.datagrams(not_utf8), now)
    assert alive() == sorted(good)
    assert receiver.status()["refused_keys"] == 4
    # the facility withdrew its floor token
    feed(receiver, s.datagrams(presence_record(*good[:2])), now)
    assert alive() == sorted(good[:2])
    # nothing heard for longer than stale_after: the mirrored gateway is withdrawn
    receiver._housekeeping(now + 6.0)
    assert alive() == []
    assert receiver.status()["alive"] is False and receiver.status()["gateways"] == []


def test_presence_never_crosses_towards_the_facility():
    endpoint = free_endpoint()
    router = Transport(LinkConfig.router(endpoint))
    receiver = DiodeReceiver(router, Direction.W2F, ("127.0.0.1", 0))
    try:
        s = Sender(Direction.W2F)
        feed(receiver, s.datagrams(presence_record(link_keys.gateway_alive_key("fake"))))
        assert router.alive(f"{link_keys.PREFIX}/gateway/**", 0.5) == []
        assert receiver.status()["refused_keys"] == 1
    finally:
        receiver.close()
        router.close()


def test_hostile_datagrams_with_a_valid_crc_do_not_stop_the_receiver(side):
    receiver, _router, capture = side
    s = Sender()
    rng = __import__("random").Random(5)
    for i in range(300):
        packet = bytes([0]) + rng.randbytes(3 + S)  # a well-formed header, random symbol
        block_len = rng.randrange(1, 50_000)
        k = -(-block_len // S)
        feed(receiver, [
            dg.encode_data(Direction.F2W, SESSION, i, block=i % 7, block_len=block_len,
                           symbol_size=S, k=k, packet=packet)
        ])  # fmt: skip
    s.seq = 300
    s.block = 10
    feed(receiver, s.datagrams(frame_record(F2W_KEY)))  # and real traffic still gets through
    capture.wait_for(lambda: capture.count("f2w") >= 1)


def test_a_new_sender_session_is_counted_and_its_blocks_start_afresh(side):
    receiver, _router, capture = side
    first, second = Sender(session=1), Sender(session=2)
    feed(receiver, first.datagrams(frame_record(F2W_KEY)))
    feed(receiver, second.datagrams(frame_record(F2W_KEY)))  # block 0 again, a new session
    capture.wait_for(lambda: capture.count("f2w") == 2)
    assert receiver.status()["sender_restarts"] == 1


@pytest.mark.parametrize("lost", [0, 1, 2, 3])
def test_fec_rebuilds_any_block_missing_up_to_its_extra_repair_symbols(lost):
    block = os.urandom(40_000)
    packets = fec.encode(block, S, 0.1)
    k = -(-len(block) // S)
    assert len(packets) == k + fec.repair_count(k, 0.1) == k + 3 + 2
    rng = __import__("random").Random(lost)
    kept = rng.sample(packets, len(packets) - lost)
    decoder = fec.BlockDecoder(len(block), S)
    out = None
    for p in kept:
        out = decoder.add(p) or out
    assert out == block


def test_datagram_size_is_checked_against_what_udp_carries():
    assert dg.symbol_size_for(1400) == 1352 and dg.symbol_size_for(1400) % 8 == 0
    for bad in (255, 65508):
        with pytest.raises(Exception, match="datagram-size"):
            dg.symbol_size_for(bad)
