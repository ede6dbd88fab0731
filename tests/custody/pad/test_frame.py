"""OTP frame properties: round trip, tamper, replay, wrong pad/direction, the zero-key trap."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.errors import FrameRejected, PadExhaustedError
from custody.pad import frame
from custody.pad.frame import Kind
from tests.custody.pad.fixtures import practice_pair

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def pair(tmp_path: Path):
    ws, fac = practice_pair(tmp_path / "pad", 16 << 20, block=4096)
    yield ws, fac
    ws.close()
    fac.close()


def test_round_trip_both_directions(pair) -> None:
    ws, fac = pair
    q = frame.seal(ws, Kind.QUERY, b"question", msg_id=b"Q" * 16)
    m = frame.open_frame(fac, q)
    assert (m.kind, m.payload, m.msg_id, m.final) == (Kind.QUERY, b"question", b"Q" * 16, True)
    a = frame.seal(fac, Kind.ANSWER_CHUNK, b"answer", msg_id=m.msg_id, seq=3, final=False)
    got = frame.open_frame(ws, a)
    assert (got.kind, got.payload, got.seq, got.final) == (Kind.ANSWER_CHUNK, b"answer", 3, False)


@SETTINGS
@given(payload=st.binary(max_size=3000), compress=st.booleans(), conceal=st.booleans())
def test_round_trip_any_payload(pair, payload: bytes, compress: bool, conceal: bool) -> None:
    ws, fac = pair
    data = frame.seal(ws, Kind.QUERY, payload, compress=compress, conceal=conceal)
    h = frame.parse_header(data)
    assert h.body_len in frame.BUCKETS
    assert h.kind == (Kind.OPAQUE if conceal else Kind.QUERY)
    assert frame.open_frame(fac, data).payload == payload


@SETTINGS
@given(payload=st.binary(min_size=0, max_size=600), bit=st.integers(min_value=0))
def test_any_single_bit_flip_is_rejected(pair, payload: bytes, bit: int) -> None:
    ws, fac = pair
    data = frame.seal(ws, Kind.QUERY, payload)
    bit %= len(data) * 8
    bad = bytearray(data)
    bad[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameRejected):
        frame.open_frame(fac, bytes(bad))
    # The rejection spent nothing: the genuine frame still opens, exactly once.
    assert frame.open_frame(fac, data).payload == payload
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, data)
    assert exc.value.reason == "replay"


def test_nothing_is_decrypted_before_the_tag_verifies(pair, monkeypatch) -> None:
    ws, fac = pair
    calls: list[int] = []
    real_xor = frame._xor
    monkeypatch.setattr(frame, "_xor", lambda d, k: calls.append(len(d)) or real_xor(d, k))
    data = bytearray(frame.seal(ws, Kind.QUERY, b"secret question"))
    calls.clear()
    data[frame.HEADER_LEN + 3] ^= 0x40  # flip a body bit: XOR would "decrypt" it happily
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, bytes(data))
    assert exc.value.reason == "bad-tag"
    assert calls == []


@SETTINGS
@given(sizes=st.lists(st.integers(min_value=0, max_value=2000), min_size=2, max_size=6))
def test_replayed_and_overlapping_frames_are_rejected(pair, sizes: list[int]) -> None:
    ws, fac = pair
    frames = [frame.seal(ws, Kind.QUERY, bytes(n)) for n in sizes]
    for f in frames:
        frame.open_frame(fac, f)
    for f in frames:
        with pytest.raises(FrameRejected) as exc:
            frame.open_frame(fac, f)
        assert exc.value.reason == "replay"


def test_overlapping_range_with_valid_looking_header_is_rejected(pair) -> None:
    """A frame whose range overlaps a consumed one is refused before the tag is checked."""
    ws, fac = pair
    first = frame.seal(ws, Kind.QUERY, b"a")
    frame.open_frame(fac, first)
    h = frame.parse_header(first)
    forged = bytearray(first)
    struct.pack_into(">Q", forged, 24, h.offset + 16)  # shift into the consumed range
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, bytes(forged))
    assert exc.value.reason == "replay"


def test_all_zero_key_trap_is_closed(pair) -> None:
    """A used (zeroized) range gives Poly1305 key 0, for which anyone can compute the tag."""
    ws, fac = pair
    f = frame.seal(ws, Kind.QUERY, b"x" * 100)
    frame.open_frame(fac, f)
    h = frame.parse_header(f)
    fac.flush_zeroize()  # zeroizing is coalesced per block; force it now
    assert not any(fac.read(h.offset, h.range_len))  # the receiver zeroized it
    # Forge: body = chosen plaintext XOR zero pad, tag under the all-zero key.
    inner = bytearray(h.body_len)
    frame.INNER.pack_into(inner, 0, Kind.QUERY, frame.FLAG_FINAL, 0, bytes(16), 5)
    inner[frame.INNER_LEN : frame.INNER_LEN + 5] = b"FORGE"
    header = f[: frame.HEADER_LEN]
    from cryptography.hazmat.primitives.poly1305 import Poly1305

    tag = Poly1305.generate_tag(bytes(32), header + bytes(inner))
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, header + bytes(inner) + tag)
    assert exc.value.reason == "replay"


def test_zeroized_range_not_in_journal_is_still_refused(tmp_path: Path) -> None:
    """Even if the seen set were lost, zeroized key bytes are refused before the MAC check."""
    ws, fac = practice_pair(tmp_path / "pad")
    f = frame.seal(ws, Kind.QUERY, b"x")
    h = frame.parse_header(f)
    fac.zeroize(h.offset, h.range_len)
    fac.flush_zeroize()
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, f)
    assert exc.value.reason == "replay"
    ws.close()
    fac.close()


def test_wrong_pad_and_wrong_direction(tmp_path: Path) -> None:
    ws, fac = practice_pair(tmp_path / "a")
    ws2, fac2 = practice_pair(tmp_path / "b")
    q = frame.seal(ws, Kind.QUERY, b"q")
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac2, q)
    assert exc.value.reason == "wrong-pad"
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(ws, q)  # the workstation never receives from its own region
    assert exc.value.reason == "wrong-direction"
    # A frame claiming the other direction but pointing into the sender's region.
    bad = bytearray(q)
    bad[4] = 1
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(ws, bytes(bad))
    assert exc.value.reason == "outside-region"
    assert frame.open_frame(fac, q).payload == b"q"
    for c in (ws, fac, ws2, fac2):
        c.close()


def test_kind_direction_rules(pair) -> None:
    ws, fac = pair
    with pytest.raises(ValueError):
        frame.seal(fac, Kind.QUERY, b"no")
    with pytest.raises(ValueError):
        frame.seal(ws, Kind.ANSWER_CHUNK, b"no")
    for kind in (Kind.ERROR, Kind.PING, Kind.COVER):
        assert frame.open_frame(fac, frame.seal(ws, kind, b"k")).kind is kind


def test_truncated_and_garbage_frames(pair) -> None:
    ws, fac = pair
    f = frame.seal(ws, Kind.QUERY, b"hello")
    for bad, reason in (
        (b"", "truncated"),
        (f[:50], "truncated"),
        (f[:-1], "bad-length"),
        (f + b"\0", "bad-length"),
        (b"XX" + f[2:], "bad-magic"),
        (f[:2] + b"\x09" + f[3:], "bad-version"),
        (f[:3] + b"\x09" + f[4:], "bad-header"),  # clear kind above 8
        (f[:4] + b"\x02" + f[5:], "bad-header"),  # direction neither 0 nor 1
        (f[:5] + b"\x02" + f[6:], "bad-header"),  # mode neither 0 nor 1
        (f[:7] + b"\x01" + f[8:], "bad-header"),  # a key index on a one-time pad frame
        (f[:5] + b"\x01" + f[6:], "bad-length"),  # pad-keyed: the range must be 32 bytes
        (f[:32] + struct.pack(">I", 289) + f[36:], "bad-length"),  # range ≠ 32 + body
        (f[:36] + struct.pack(">I", 300) + f[40:], "bad-length"),  # body not a bucket
    ):
        with pytest.raises(FrameRejected) as exc:
            frame.open_frame(fac, bad)
        assert exc.value.reason == reason


def test_buckets_hide_exact_length(pair) -> None:
    ws, _ = pair
    lengths = {len(frame.seal(ws, Kind.QUERY, bytes(n))) for n in range(100, 220)}
    assert lengths == {frame.OVERHEAD + 256}


def test_cover_frames_are_indistinguishable_on_the_wire(pair) -> None:
    ws, fac = pair
    cover = frame.seal(ws, Kind.COVER, b"", conceal=True, body_len=1024)
    query = frame.seal(ws, Kind.QUERY, b"real question", conceal=True, body_len=1024)
    hc, hq = frame.parse_header(cover), frame.parse_header(query)
    assert len(cover) == len(query)
    assert (hc.kind, hc.body_len) == (hq.kind, hq.body_len) == (Kind.OPAQUE, 1024)
    assert frame.open_frame(fac, cover).kind is Kind.COVER
    assert frame.open_frame(fac, query).kind is Kind.QUERY


def test_exhaustion_keeps_a_reserve_for_the_final_frame(tmp_path: Path) -> None:
    ws, fac = practice_pair(tmp_path / "pad", 64 * 1024 * 4, block=4096)
    sent = 0
    with pytest.raises(PadExhaustedError):
        while True:
            frame.seal(ws, Kind.QUERY, bytes(1000))
            sent += 1
    assert sent > 0
    left = ws.remaining_send(include_reserve=True)
    assert left >= ws.manifest.reserve
    final = frame.seal(ws, Kind.PAD_EXHAUSTED, b"exhausted")
    assert frame.open_frame(fac, final).kind is Kind.PAD_EXHAUSTED
    # Never wraps around: nothing more fits, not even from the reserve.
    with pytest.raises(PadExhaustedError):
        for _ in range(10):
            frame.seal(ws, Kind.PAD_EXHAUSTED, b"again")
    ws.close()
    fac.close()


def test_oversized_payload_must_be_fragmented(pair) -> None:
    ws, _ = pair
    with pytest.raises(frame.PayloadTooLarge):
        frame.seal(ws, Kind.QUERY, bytes(frame.MAX_PAYLOAD + 1))


# -- authentic but malformed: built by hand from the pad bytes --------------------------------


def _authentic(fac, index: int, inner: bytes, *, clear_kind: int = Kind.QUERY) -> bytes:
    """A W2F frame with a valid tag over whatever `inner` says, at the index-th 288-byte range."""
    from cryptography.hazmat.primitives.poly1305 import Poly1305

    body_len = 256
    offset = fac.recv_region.start + index * (frame.KEY_LEN + body_len)
    pad = bytes(fac.read(offset, frame.KEY_LEN + body_len))
    header = frame.HEADER.pack(
        frame.MAGIC, frame.VERSION, clear_kind, fac.recv_code, 0, 0, fac.pad_id, offset,
        frame.KEY_LEN + body_len, body_len,
    )  # fmt: skip
    padded = inner.ljust(body_len, b"\0")
    body = bytes(a ^ b for a, b in zip(padded, pad[frame.KEY_LEN :], strict=True))
    return header + body + Poly1305.generate_tag(pad[: frame.KEY_LEN], header + body)


def _inner(kind: int, length: int, payload: bytes = b"", flags: int = frame.FLAG_FINAL) -> bytes:
    return frame.INNER.pack(kind, flags, 0, bytes(16), length) + payload


@pytest.mark.parametrize(
    ("inner", "clear_kind", "reason"),
    [
        (_inner(Kind.QUERY, 2, b"hi") + b"\0\0\x01", Kind.QUERY, "bad-inner"),  # padding not 0
        (_inner(Kind.QUERY, 231), Kind.QUERY, "bad-inner"),  # length past the body
        (_inner(Kind.QUERY, 0, flags=0x04), Kind.QUERY, "bad-inner"),  # unknown flag
        (_inner(Kind.PING, 0), Kind.QUERY, "bad-inner"),  # clear and inner kinds disagree
        (_inner(99, 0), Kind.OPAQUE, "bad-inner"),  # unknown inner kind
        (_inner(0, 0), Kind.OPAQUE, "bad-inner"),  # inner kind 0: a clear-header marker only
        (  # bytes after the zlib stream
            _inner(Kind.QUERY, 13, zlib.compress(b"x") + b"zzzz", flags=3),
            Kind.QUERY,
            "bad-inner",
        ),
        (_inner(Kind.ANSWER_CHUNK, 0), Kind.OPAQUE, "bad-kind"),  # an answer travelling w2f
    ],
)
def test_authentic_but_malformed_frames_are_refused_and_their_range_is_spent(
    pair, inner, clear_kind, reason
) -> None:
    _ws, fac = pair
    data = _authentic(fac, 0, inner, clear_kind=clear_kind)
    h = frame.parse_header(data)
    with pytest.raises(FrameRejected) as info:
        frame.open_frame(fac, data)
    assert info.value.reason == reason
    assert reason in frame.REJECTED_AFTER_AUTHENTICATION
    # The tag verified, so the range is consumed and zeroized: the same bytes are a replay now.
    assert bytes(fac.read(h.offset, h.range_len)) == bytes(h.range_len)
    with pytest.raises(FrameRejected) as again:
        frame.open_frame(fac, data)
    assert again.value.reason == "replay"


def test_only_pad_exhausted_may_use_the_reserve(pair) -> None:
    """Ranges past end − reserve are for the final pad-exhausted frame: an authentic ordinary
    frame there is refused (bad-kind) and spent; pad-exhausted opens."""
    _ws, fac = pair
    first_in_reserve = fac.recv_region.usable_end // (frame.KEY_LEN + 256)
    assert first_in_reserve * (frame.KEY_LEN + 256) == fac.recv_region.usable_end
    last_ordinary = _authentic(fac, first_in_reserve - 1, _inner(Kind.QUERY, 0))
    assert frame.open_frame(fac, last_ordinary).kind is Kind.QUERY
    for kind in (Kind.QUERY, Kind.COVER):
        data = _authentic(fac, first_in_reserve, _inner(kind, 0), clear_kind=Kind.OPAQUE)
        with pytest.raises(FrameRejected) as info:
            frame.open_frame(fac, data)
        assert info.value.reason == "bad-kind"
        first_in_reserve += 1  # that range is spent now
    final = _authentic(fac, first_in_reserve, _inner(Kind.PAD_EXHAUSTED, 0), clear_kind=0)
    assert frame.open_frame(fac, final).kind is Kind.PAD_EXHAUSTED


def test_a_well_formed_hand_built_frame_opens(pair) -> None:
    """The builder above is right: the same construction with a proper inner opens."""
    _ws, fac = pair
    msg = frame.open_frame(fac, _authentic(fac, 0, _inner(Kind.QUERY, 2, b"hi")))
    assert (msg.kind, msg.payload, msg.final) == (Kind.QUERY, b"hi", True)


def test_a_bucket_that_is_not_an_int_is_refused_before_any_pad_is_reserved(pair) -> None:
    ws, _fac = pair
    before = ws.remaining_send()
    with pytest.raises(ValueError, match="not a bucket"):
        frame.seal(ws, Kind.COVER, b"", conceal=True, body_len=1024.0)  # type: ignore[arg-type]
    assert ws.remaining_send() == before
    assert len(frame.seal(ws, Kind.COVER, b"", conceal=True, body_len=1024)) == 40 + 1024 + 16
