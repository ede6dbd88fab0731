"""Pad-keyed frames beside one-time pad frames: round trip, tamper, replay, direction, nonces,
and the receiver's policy (docs/protocol.md, "Pad-keyed frames")."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.errors import FrameRejected, PadFormatError
from custody.pad import frame, keyed
from custody.pad.frame import Kind
from custody.pad.frame_policy import FrameMode, FramePolicy, PolicyMode
from custody.pad.keyed import KeyedStream
from custody.pad.manifest import Manifest
from tests.custody.pad.fixtures import practice_pair

SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PAD_KEYED = FramePolicy(PolicyMode.PAD_KEYED)
MODES = [FrameMode.OTP, FrameMode.PAD_KEYED]


@pytest.fixture
def pair(tmp_path: Path):
    ws, fac = practice_pair(tmp_path / "pad", 16 << 20, block=4096)
    # As a pad made with the pad-keyed policy: both modes are allowed.
    ws.frame_policy = fac.frame_policy = PAD_KEYED
    yield ws, fac
    ws.close()
    fac.close()


def _seal(copy, mode: FrameMode, kind: Kind, payload: bytes, **kw):  # type: ignore[no-untyped-def]
    stream = KeyedStream(copy) if mode is FrameMode.PAD_KEYED else None
    return frame.seal(copy, kind, payload, stream=stream, **kw)


@pytest.mark.parametrize("mode", MODES)
def test_the_header_says_the_mode_and_sizes_are_the_same(pair, mode: FrameMode) -> None:
    ws, fac = pair
    data = _seal(ws, mode, Kind.QUERY, b"q" * 100)
    h = frame.parse_header(data)
    assert h.mode is mode
    assert len(data) == frame.OVERHEAD + 256  # the same size on the wire in both modes
    assert h.range_len == (32 if mode is FrameMode.PAD_KEYED else 32 + 256)
    msg = frame.open_frame(fac, data)
    assert (msg.mode, msg.payload, msg.range_len) == (mode, b"q" * 100, h.range_len)


@SETTINGS
@given(
    payload=st.binary(max_size=3000),
    compress=st.booleans(),
    conceal=st.booleans(),
    mode=st.sampled_from(MODES),
)
def test_round_trip_any_payload_both_modes(pair, payload, compress, conceal, mode) -> None:
    ws, fac = pair
    data = _seal(ws, mode, Kind.QUERY, payload, compress=compress, conceal=conceal)
    h = frame.parse_header(data)
    assert h.kind == (Kind.OPAQUE if conceal else Kind.QUERY)
    msg = frame.open_frame(fac, data)
    assert (msg.payload, msg.kind, msg.mode) == (payload, Kind.QUERY, mode)
    answer = _seal(fac, mode, Kind.ANSWER_CHUNK, payload[:500], msg_id=b"A" * 16, seq=7)
    back = frame.open_frame(ws, answer)
    assert (back.payload, back.seq, back.msg_id) == (payload[:500], 7, b"A" * 16)


@SETTINGS
@given(
    payloads=st.lists(st.binary(max_size=400), min_size=1, max_size=6),
    order=st.randoms(use_true_random=False),
)
def test_one_key_covers_a_whole_message_in_any_arrival_order(pair, payloads, order) -> None:
    ws, fac = pair
    before = ws.remaining_send()
    stream = KeyedStream(ws)
    frames = [
        frame.seal(ws, Kind.QUERY, p, seq=i, final=i == len(payloads) - 1, stream=stream)
        for i, p in enumerate(payloads)
    ]
    assert before - ws.remaining_send() == 32  # one key for the whole message
    shuffled = list(enumerate(frames))
    order.shuffle(shuffled)
    got = {}
    for i, f in shuffled:
        got[i] = frame.open_frame(fac, f)
    assert [got[i].payload for i in range(len(payloads))] == payloads
    assert sum(m.range_len for m in got.values()) == 32  # the receiver consumed the key once


@SETTINGS
@given(
    payload=st.binary(max_size=600),
    bit=st.integers(min_value=0),
    mode=st.sampled_from(MODES),
    under_used_key=st.booleans(),
)
def test_any_single_bit_flip_is_rejected_both_modes(pair, payload, bit, mode, under_used_key):
    ws, fac = pair
    stream = KeyedStream(ws) if mode is FrameMode.PAD_KEYED else None
    if under_used_key and stream is not None:
        # A key the receiver already holds: the flipped frame meets a key in memory.
        frame.open_frame(fac, frame.seal(ws, Kind.QUERY, b"first", stream=stream))
    data = frame.seal(ws, Kind.QUERY, payload, seq=1, stream=stream)
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


@SETTINGS
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=2000), min_size=2, max_size=6),
    mode=st.sampled_from(MODES),
)
def test_replays_are_rejected_both_modes(pair, sizes, mode) -> None:
    ws, fac = pair
    stream = KeyedStream(ws) if mode is FrameMode.PAD_KEYED else None
    frames = [
        frame.seal(ws, Kind.QUERY, bytes(n), seq=i, stream=stream) for i, n in enumerate(sizes)
    ]
    for f in frames:
        frame.open_frame(fac, f)
    for f in frames:
        with pytest.raises(FrameRejected) as exc:
            frame.open_frame(fac, f)
        assert exc.value.reason == "replay"


def test_a_forgotten_key_s_frames_are_replays(pair) -> None:
    """After a restart (or once the key is forgotten) its range is spent: later frames under
    it are refused, never opened with a key derived from zeroized bytes."""
    ws, fac = pair
    stream = KeyedStream(ws)
    first = frame.seal(ws, Kind.QUERY, b"one", stream=stream)
    second = frame.seal(ws, Kind.QUERY, b"two", seq=1, stream=stream)
    frame.open_frame(fac, first)
    fac.received_keys.forget(frame.parse_header(first).offset)
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, second)
    assert exc.value.reason == "replay"


def test_a_restarted_receiver_refuses_the_rest_of_a_stream(tmp_path: Path) -> None:
    from custody.pad.store import open_pad_dir

    ws, fac = practice_pair(tmp_path / "pad", block=4096)
    ws.frame_policy = fac.frame_policy = PAD_KEYED
    stream = KeyedStream(ws)
    frames = [frame.seal(ws, Kind.QUERY, b"x", seq=i, stream=stream) for i in range(3)]
    frame.open_frame(fac, frames[0])
    fac.close()
    fac = open_pad_dir(tmp_path / "pad" / "facility", block=4096)
    fac.frame_policy = PAD_KEYED
    for f in frames:
        with pytest.raises(FrameRejected) as exc:
            frame.open_frame(fac, f)
        assert exc.value.reason == "replay"
    ws.close()
    fac.close()


def test_zeroized_key_bytes_are_refused_before_any_key_is_derived(pair, monkeypatch) -> None:
    """The all-zero trap: a key from zeroized bytes is public, so it is never derived."""
    ws, fac = pair
    data = _seal(ws, FrameMode.PAD_KEYED, Kind.QUERY, b"x")
    h = frame.parse_header(data)
    fac.zeroize(h.offset, 32)
    fac.flush_zeroize()
    monkeypatch.setattr(keyed, "derive_key", lambda *a: pytest.fail("key derived"))
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, data)
    assert exc.value.reason == "replay"


@pytest.mark.parametrize("mode", MODES)
def test_wrong_direction_both_modes(pair, mode: FrameMode) -> None:
    ws, fac = pair
    q = _seal(ws, mode, Kind.QUERY, b"q")
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(ws, q)  # the workstation never receives from its own region
    assert exc.value.reason == "wrong-direction"
    bad = bytearray(q)
    bad[4] = 1  # claims f2w, points into the w2f region
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(ws, bytes(bad))
    assert exc.value.reason == "outside-region"
    assert frame.open_frame(fac, q).payload == b"q"


def test_the_key_is_bound_to_direction_and_offset(pair) -> None:
    """HKDF's info names the direction and the offset: the same pad bytes under another
    label give another key (a frame relabelled in either field does not authenticate)."""
    ws, _fac = pair
    ikm = bytes(range(32))
    keys = {
        keyed.derive_key(ikm, ws.pad_id, d, off)
        for d, off in itertools.product((0, 1), (0, 32, 1 << 40))
    }
    keys.add(keyed.derive_key(ikm, bytes(16), 0, 0))
    assert len(keys) == 7


@SETTINGS
@given(
    messages=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=8),
    max_frames=st.integers(min_value=1, max_value=5),
    otp_between=st.booleans(),
)
def test_nonces_never_repeat_under_a_key_and_key_ranges_never_overlap(
    pair, messages, max_frames, otp_between
) -> None:
    ws, fac = pair
    seen: set[tuple[int, int]] = set()
    ranges: list[tuple[int, int]] = []
    for n in messages:
        stream = KeyedStream(ws, max_frames=max_frames)
        for i in range(n):
            data = frame.seal(ws, Kind.QUERY, b"m", seq=i, stream=stream)
            h = frame.parse_header(data)
            assert (h.offset, h.key_index) not in seen
            seen.add((h.offset, h.key_index))
            assert h.key_index < max_frames
            if h.key_index == 0:
                ranges.append(h.range)
            assert frame.open_frame(fac, data).payload == b"m"
        assert stream.keys_opened == -(-n // max_frames)
        if otp_between:
            ranges.append(frame.parse_header(frame.seal(ws, Kind.PING, b"")).range)
    ranges.sort()
    for (_a0, a1), (b0, _b1) in itertools.pairwise(ranges):
        assert a1 <= b0


def test_an_index_is_never_opened_twice_even_reencrypted(pair) -> None:
    """A forger who could make a second frame with a seen index gains nothing: the index is
    refused before any decryption (a repeated nonce would be refused, not used)."""
    ws, fac = pair
    stream = KeyedStream(ws)
    data = frame.seal(ws, Kind.QUERY, b"x", stream=stream)
    frame.open_frame(fac, data)
    other = bytearray(data)
    other[frame.HEADER_LEN] ^= 1  # a different ciphertext at the same index
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, bytes(other))
    assert exc.value.reason == "replay"


# -- the receiver's policy ------------------------------------------------------------------


def test_pad_keyed_frame_to_an_otp_only_pad_is_refused_and_nothing_is_decrypted(
    pair, monkeypatch
) -> None:
    ws, fac = pair
    data = _seal(ws, FrameMode.PAD_KEYED, Kind.QUERY, b"secret question")
    fac.frame_policy = FramePolicy()  # otp-only: the default, and old manifests
    journal = fac.journal
    reads: list[tuple[int, int]] = []
    real_read = fac.read
    monkeypatch.setattr(fac, "read", lambda o, n: reads.append((o, n)) or real_read(o, n))
    monkeypatch.setattr(keyed, "derive_key", lambda *a: pytest.fail("key derived"))
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, data)
    assert exc.value.reason == "policy"
    assert exc.value.exit_code == 7
    assert "pad-keyed frame refused by policy" in exc.value.message
    assert reads == []  # not one pad byte read
    assert len(fac.received_keys) == 0
    assert fac.journal == journal
    monkeypatch.undo()
    fac.frame_policy = PAD_KEYED  # nothing was consumed: with the policy it opens
    assert frame.open_frame(fac, data).payload == b"secret question"


def test_the_sender_refuses_pad_keyed_on_an_otp_only_pad(pair) -> None:
    ws, _fac = pair
    ws.frame_policy = FramePolicy()
    before = ws.remaining_send()
    with pytest.raises(FrameRejected) as exc:
        _seal(ws, FrameMode.PAD_KEYED, Kind.QUERY, b"x")
    assert exc.value.reason == "policy"
    assert ws.remaining_send() == before


def test_otp_preferred_allows_cover_and_questions_only(pair) -> None:
    ws, fac = pair
    preferred = FramePolicy(PolicyMode.OTP_PREFERRED)
    ws.frame_policy = fac.frame_policy = preferred
    # Cover (concealed) and questions: allowed.
    assert frame.open_frame(fac, _seal(ws, FrameMode.PAD_KEYED, Kind.QUERY, b"q")).payload == b"q"
    cover = _seal(ws, FrameMode.PAD_KEYED, Kind.COVER, b"", conceal=True, body_len=1024)
    assert frame.open_frame(fac, cover).kind is Kind.COVER
    # An answer: refused from the header, before anything.
    answer = _seal(fac, FrameMode.PAD_KEYED, Kind.ANSWER_CHUNK, b"a")
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(ws, answer)
    assert exc.value.reason == "policy"
    # A concealed one that is not cover: refused once authenticated (its key is spent).
    hidden = _seal(fac, FrameMode.PAD_KEYED, Kind.ANSWER_CHUNK, b"a", conceal=True)
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(ws, hidden)
    assert exc.value.reason == "bad-kind"
    assert "refused by policy" in exc.value.message
    assert exc.value.reason in frame.REJECTED_AFTER_AUTHENTICATION


def test_header_fields_of_the_two_modes_are_checked(pair) -> None:
    ws, fac = pair
    otp = _seal(ws, FrameMode.OTP, Kind.QUERY, b"x")
    bad = bytearray(otp)
    struct.pack_into(">H", bad, 6, 1)  # an index on a one-time pad frame
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, bytes(bad))
    assert exc.value.reason == "bad-header"
    bad = bytearray(otp)
    bad[5] = 2  # no such mode
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, bytes(bad))
    assert exc.value.reason == "bad-header"
    keyed_frame = bytearray(_seal(ws, FrameMode.PAD_KEYED, Kind.QUERY, b"x"))
    struct.pack_into(">I", keyed_frame, 32, 32 + 256)  # an OTP range length
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, bytes(keyed_frame))
    assert exc.value.reason == "bad-length"


# -- the manifest field ------------------------------------------------------------------------


def test_manifest_policy_field_round_trips_and_old_manifests_mean_otp_only(tmp_path: Path):
    import dataclasses

    from tests.custody.vectors import vector_manifest

    _raw, m = vector_manifest(tmp_path)
    assert m.frame_policy is None
    assert m.policy == FramePolicy()
    assert "frame_policy" not in m.to_dict()
    policy = FramePolicy(PolicyMode.OTP_PREFERRED, 4096, ("secret", "Top  Secret"))
    m2 = dataclasses.replace(m, frame_policy=policy)
    back = Manifest.from_bytes(m2.to_bytes())
    assert back.policy == policy
    assert back.policy.otp_only_classifications == ("SECRET", "TOP SECRET")
    for bad in (
        b'"frame_policy":{"mode":"sometimes","otp_only_classifications":[],"threshold":1}',
        b'"frame_policy":{"mode":"pad-keyed","otp_only_classifications":[],"threshold":-1}',
        b'"frame_policy":{"mode":"pad-keyed","otp_only_classifications":["b","a"],"threshold":1}',
        b'"frame_policy":{"mode":"pad-keyed"}',
    ):
        raw = m.to_bytes().replace(b'"format"', bad + b',"format"')
        with pytest.raises(PadFormatError):
            Manifest.from_bytes(raw)


def test_policy_strictness() -> None:
    only, preferred, keyed_p = (
        FramePolicy(),
        FramePolicy(PolicyMode.OTP_PREFERRED, 1000),
        FramePolicy(PolicyMode.PAD_KEYED),
    )
    assert only.strictest(keyed_p) == only
    assert keyed_p.strictest(preferred) == preferred
    assert preferred.strictest(FramePolicy(PolicyMode.OTP_PREFERRED, 5000)).threshold == 5000
    labelled = FramePolicy(PolicyMode.PAD_KEYED, otp_only_classifications=("SECRET",))
    assert keyed_p.strictest(labelled) == labelled
    assert only.at_least_as_strict_as(keyed_p)
    assert not keyed_p.at_least_as_strict_as(preferred)
    assert labelled.at_least_as_strict_as(keyed_p)
    assert not keyed_p.at_least_as_strict_as(labelled)
    assert preferred.question_mode(1001, None) is FrameMode.PAD_KEYED
    assert preferred.question_mode(1000, None) is FrameMode.OTP
    assert preferred.answer_mode(None) is FrameMode.OTP
    assert labelled.question_mode(10, "secret") is FrameMode.OTP
    assert labelled.answer_mode(" Secret ") is FrameMode.OTP
    assert labelled.answer_mode("RESTRICTED") is FrameMode.PAD_KEYED


# -- the documented vectors -----------------------------------------------------------------


def test_vector_key_matches_rfc5869_computed_by_hand() -> None:
    """HKDF-SHA256 written out from RFC 5869 with the standard library gives the vector key,
    and the vector frame decrypts with the documented nonce and associated data."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    from tests.custody.vectors import PAD_ID, compute_pad_keyed, vector_pad_bytes

    v = compute_pad_keyed()
    info = b"reddoor/v1 pad-keyed frame key" + bytes([0]) + (0).to_bytes(8, "big")
    prk = hmac.new(PAD_ID, vector_pad_bytes(32), hashlib.sha256).digest()
    okm = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    assert okm.hex() == v["pad-keyed-key-w2f-0"]
    f1 = bytes.fromhex(v["frame-pad-keyed-query-1"])
    nonce = bytes(4) + (1).to_bytes(8, "big")
    inner = ChaCha20Poly1305(okm).decrypt(nonce, f1[40:], f1[:40])
    assert inner[frame.INNER_LEN : frame.INNER_LEN + 10] == b"used once?"


def test_vector_frames_reject_bit_flips_replays_and_otp_only(tmp_path: Path) -> None:
    from custody.pad.manifest import Side
    from custody.pad.store import open_pad_dir, write_pad_dir
    from tests.custody.vectors import PAD_KEYED_POLICY, compute_pad_keyed, vector_manifest

    v = compute_pad_keyed()
    q0 = bytes.fromhex(v["frame-pad-keyed-query-0"])
    q1 = bytes.fromhex(v["frame-pad-keyed-query-1"])
    raw, m = vector_manifest(tmp_path, PAD_KEYED_POLICY)
    write_pad_dir(tmp_path / "fac", m, Side.FACILITY, pad_source=raw)
    with open_pad_dir(tmp_path / "fac", use_witness=False) as fac:
        assert fac.frame_policy == PAD_KEYED_POLICY  # from the manifest
        fac.frame_policy = FramePolicy()
        with pytest.raises(FrameRejected) as exc:
            frame.open_frame(fac, q0)
        assert exc.value.reason == "policy"
        fac.frame_policy = PAD_KEYED_POLICY
        for bit in range(0, len(q1) * 8, 5):
            bad = bytearray(q1)
            bad[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(FrameRejected):
                frame.open_frame(fac, bytes(bad))
        assert frame.open_frame(fac, q1).payload == b"used once?"
        assert frame.open_frame(fac, q0).payload == b"Is this pad "
        for f in (q0, q1):
            with pytest.raises(FrameRejected, match="replay"):
                frame.open_frame(fac, f)


@pytest.mark.parametrize(
    ("inner", "reason"),
    [
        (
            frame.INNER.pack(Kind.QUERY, frame.FLAG_FINAL, 0, bytes(16), 2) + b"hi\0\x01",
            "bad-inner",
        ),
        (frame.INNER.pack(Kind.QUERY, frame.FLAG_FINAL, 0, bytes(16), 231), "bad-inner"),
        (frame.INNER.pack(Kind.ANSWER_END, frame.FLAG_FINAL, 0, bytes(16), 0), "bad-kind"),
    ],
)
def test_authentic_but_malformed_pad_keyed_frames_spend_their_key(pair, inner, reason) -> None:
    """Built by hand from the pad: a valid tag over a bad inner part is refused after
    authentication; the key's range is then consumed (a replay afterwards)."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    _ws, fac = pair
    offset = fac.recv_region.start
    key = keyed.derive_key(bytes(fac.read(offset, 32)), fac.pad_id, fac.recv_code, offset)
    header = frame.HEADER.pack(
        frame.MAGIC, frame.VERSION, Kind.OPAQUE, fac.recv_code, 1, 0, fac.pad_id, offset, 32, 256
    )
    data = header + ChaCha20Poly1305(key).encrypt(keyed.nonce(0), inner.ljust(256, b"\0"), header)
    with pytest.raises(FrameRejected) as exc:
        frame.open_frame(fac, data)
    assert exc.value.reason == reason
    assert bytes(fac.read(offset, 32)) == bytes(32)  # the key's range is spent and zeroized
    with pytest.raises(FrameRejected) as again:
        frame.open_frame(fac, data)
    assert again.value.reason == "replay"
