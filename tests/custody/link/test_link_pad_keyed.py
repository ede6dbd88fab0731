"""The link with pad-keyed frames (issue 16): per pad policy, every message says its mode, the
receiver's policy refuses, pad-keyed cover costs 32 pad bytes per key period. Real Zenoh on
127.0.0.1 (an in-process router), a real gateway and workstation client, practice pads."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.errors import FrameRejected
from custody.link import keys as link_keys
from custody.link.backends import EchoBackend
from custody.link.chronicle import Chronicle, JsonlChronicleSink
from custody.link.gateway import Gateway
from custody.link.pad_providers import DirectoryPadProvider
from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad import frame
from custody.pad.frame_policy import FrameMode, FramePolicy, PolicyMode
from custody.pad.keyed import KeyedStream
from custody.pad.manifest import Direction
from custody.pad.pad_copy import PadCopy
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir
from tests.custody.link.fixtures import Capture, free_endpoint

PAD_KEYED = FramePolicy(PolicyMode.PAD_KEYED, otp_only_classifications=("SECRET",))
PREFERRED = FramePolicy(PolicyMode.OTP_PREFERRED, 2000)


@dataclass
class Site:
    gw: Gateway
    client: WorkstationClient
    copy: PadCopy
    cap: Capture
    chronicle: Path
    base: Path
    transports: list[Transport]

    def used(self, direction: Direction) -> int:
        return self.copy.status()[direction].used

    def records(self) -> list[dict[str, object]]:
        return [json.loads(x) for x in self.chronicle.read_text().splitlines()]


@contextmanager
def site(
    tmp_path: Path, policy: FramePolicy | None, *, gw_kw: dict | None = None, **client_kw
) -> Iterator[Site]:
    make_practice_pad(tmp_path / "p", 4 << 20, frame_policy=policy)
    ep = free_endpoint()
    router = Transport(LinkConfig.router(ep))
    cap = Capture(ep)
    gw_t = Transport(LinkConfig.for_endpoint(ep))
    chron = tmp_path / "chronicle.jsonl"
    gw = Gateway(
        gw_t,
        DirectoryPadProvider(tmp_path / "p" / "facility"),
        EchoBackend(piece=300),
        chronicle=Chronicle(JsonlChronicleSink(chron)),
        state_dir=tmp_path / "gw-state",
        **(gw_kw or {}),
    )
    ws_t = Transport(LinkConfig.for_endpoint(ep))
    copy = open_pad_dir(tmp_path / "p" / "workstation", state_dir=tmp_path / "ws-state")
    client = WorkstationClient(
        copy, ws_t, state_dir=tmp_path / "ws-state", answer_timeout=30, **client_kw
    )
    gw.start()
    s = Site(gw, client, copy, cap, chron, tmp_path, [ws_t, gw_t, router])
    try:
        yield s
    finally:
        client.close()
        copy.close()
        gw.stop()
        cap.close()
        for t in s.transports:
            t.close()


def _modes(cap: Capture, direction: str) -> set[FrameMode]:
    return {frame.parse_header(d).mode for k, d in cap.frames if k.endswith("/" + direction)}


def test_pad_keyed_pad_one_key_per_message_both_ways(tmp_path: Path) -> None:
    with site(tmp_path, PAD_KEYED) as s:
        w0, f0 = s.used(Direction.W2F), s.used(Direction.F2W)
        question = "a long file excerpt " * 8000  # 160 KB: three fragments, one key
        answer = s.client.ask(question, classification="RESTRICTED")
        assert answer.text == question
        assert answer.query_frames == 3 and answer.answer_frames > 3
        assert (answer.question_mode, answer.answer_mode) == (FrameMode.PAD_KEYED,) * 2
        assert answer.question_guarantee == "pad-keyed ChaCha20-Poly1305 (computational)"
        # 32 pad bytes each way, for a 160 KB question and its 160 KB answer.
        assert (answer.w2f_bytes, answer.f2w_bytes) == (32, 32)
        assert s.used(Direction.W2F) - w0 == 32
        assert s.used(Direction.F2W) - f0 == 32
        s.cap.wait_for(lambda: s.cap.count("f2w") >= answer.answer_frames)
        assert _modes(s.cap, "w2f") == _modes(s.cap, "f2w") == {FrameMode.PAD_KEYED}
        s.cap.assert_no_reuse()
    rec = s.records()[-1]
    assert (rec["question_mode"], rec["answer_mode"]) == ("pad-keyed", "pad-keyed")
    assert rec["w2f_ranges"] == [[0, 32]] and rec["outcome"] == "answered"


def test_classification_mapped_to_otp_only_stays_one_time_pad(tmp_path: Path) -> None:
    with site(tmp_path, PAD_KEYED) as s:
        answer = s.client.ask("what is secret here?", classification="secret")
        assert (answer.question_mode, answer.answer_mode) == (FrameMode.OTP, FrameMode.OTP)
        assert answer.answer_guarantee == "one-time pad (information-theoretic)"
        assert answer.w2f_bytes == frame.KEY_LEN + 256
    rec = s.records()[-1]
    assert (rec["question_mode"], rec["answer_mode"]) == ("otp", "otp")


def test_otp_preferred_pad_keys_only_large_questions(tmp_path: Path) -> None:
    with site(tmp_path, PREFERRED) as s:
        small = s.client.ask("short question")
        assert (small.question_mode, small.answer_mode) == (FrameMode.OTP, FrameMode.OTP)
        large = s.client.ask("x" * 3000)  # above the 2,000-byte threshold
        assert large.question_mode is FrameMode.PAD_KEYED and large.w2f_bytes == 32
        assert large.answer_mode is FrameMode.OTP  # answers stay one-time pad under otp-preferred
        assert large.text == "x" * 3000
    assert [(r["question_mode"], r["answer_mode"]) for r in s.records()] == [
        ("otp", "otp"),
        ("pad-keyed", "otp"),
    ]


def _rogue_query(copy: PadCopy, body: bytes, qid: bytes) -> bytes:
    """A pad-keyed question from a sender that ignores the pad's policy."""
    copy.frame_policy = FramePolicy(PolicyMode.PAD_KEYED)
    return frame.seal(copy, frame.Kind.QUERY, body, msg_id=qid, stream=KeyedStream(copy))


def test_otp_only_gateway_refuses_a_pad_keyed_question_before_decrypting(tmp_path: Path) -> None:
    from custody.link import messages as link_messages

    with site(tmp_path, None) as s:  # a pad made before the field existed: otp-only
        fac = s.gw._lanes[s.copy.pad_id].copy
        journal = fac.journal
        data = _rogue_query(s.copy, link_messages.encode_query("hello", None), b"R" * 16)
        s.cap.transport.publish(link_keys.frame_key(s.copy.pad_id, Direction.W2F), data)
        s.cap.wait_for(lambda: s.gw.stats["rejected-policy"] == 1)
        assert s.gw.rejections.counts() == {"policy": 1}
        assert fac.journal == journal and len(fac.received_keys) == 0  # nothing consumed
        assert s.gw.stats["opened-query"] == 0
        # The workstation's own client never sends one: an otp-only pad asks in one-time pad.
        s.copy.frame_policy = s.copy.manifest.policy
        answer = s.client.ask("honest question")
        assert answer.question_mode is FrameMode.OTP
        assert _modes(s.cap, "f2w") == {FrameMode.OTP}


def test_gateway_refuses_a_pad_keyed_question_its_policy_keeps_one_time_pad(
    tmp_path: Path,
) -> None:
    """A SECRET question sealed pad-keyed (a workstation ignoring the policy): authenticated,
    but never answered; the workstation is told, exit 7."""
    with site(tmp_path, PAD_KEYED) as s:
        # This workstation's policy has lost the manifest's labels (and ignores the facility).
        s.copy.frame_policy = FramePolicy(PolicyMode.PAD_KEYED)
        s.client._heed_facility = lambda announced: None  # type: ignore[method-assign]
        with pytest.raises(FrameRejected) as exc:
            s.client.ask("secret stuff", classification="SECRET")
        assert exc.value.exit_code == 7
        assert "pad-keyed frame refused by policy" in exc.value.message
    rec = s.records()[-1]
    assert rec["outcome"] == "refused-by-policy"
    assert (rec["question_mode"], rec["answer_mode"]) == ("pad-keyed", "otp")
    assert rec["answer_bytes"] == 0


def test_a_stricter_facility_policy_reaches_the_workstation(tmp_path: Path) -> None:
    """Two officers made the pad otp-only in the ledger: the gateway enforces it at once and
    announces it; the workstation's next question goes one-time pad."""
    with site(tmp_path, PAD_KEYED) as s:
        assert s.client.ask("before").question_mode is FrameMode.PAD_KEYED
        assert s.gw.set_policy(s.copy.pad_id, FramePolicy())
        # A looser ledger policy than the manifest's is never in force.
        assert not s.gw.set_policy(s.copy.pad_id, FramePolicy())
        try:
            after = s.client.ask("after")
        except FrameRejected as exc:
            # Asked before the announcement arrived: sent pad-keyed, refused by the gateway;
            # the workstation notices at its first retransmission and says so (exit 7).
            assert exc.reason == "policy" and "ask again" in exc.message
            after = s.client.ask("after")
        assert (after.question_mode, after.answer_mode) == (FrameMode.OTP, FrameMode.OTP)
        assert s.client.policy.mode is PolicyMode.OTP_ONLY
        assert s.gw.frame_policy(s.copy.pad_id).mode is PolicyMode.OTP_ONLY


def test_a_retransmitted_pad_keyed_question_gets_the_cached_answer(tmp_path: Path) -> None:
    with site(tmp_path, PAD_KEYED) as s:
        answer = s.client.ask("q " * 40000)  # two fragments
        frames = [d for k, d in s.cap.frames if k.endswith("/w2f")]
        assert len(frames) == 2
        for f in frames:  # the same bytes again: replays, answered from the cache
            s.cap.transport.publish(link_keys.frame_key(s.copy.pad_id, Direction.W2F), f)
        s.cap.wait_for(lambda: s.gw.stats["answers-resent"] >= 1)
        assert answer.answer_frames >= 2


# -- pad-keyed cover traffic (otp-preferred) ----------------------------------------------------

RATE, BUCKET, PERIOD = 40.0, 1024, 1.0


def test_otp_preferred_cover_is_pad_keyed_and_costs_32_bytes_per_key_period(
    tmp_path: Path,
) -> None:
    gw_kw = {"cover_rate": RATE, "cover_bucket": BUCKET, "cover_key_period": PERIOD}
    with site(tmp_path, PREFERRED, gw_kw=gw_kw) as s:
        costs = s.gw.cover_costs()  # what the gateway prints before it starts its cover
        assert [(c.keyed, n) for c, n in costs] == [(True, 1)]
        cost = s.client.cover_cost(RATE, BUCKET, PERIOD)  # shown before enabling
        assert cost.keyed and cost.bytes_per_day == 32 * 86400
        assert "pad-keyed ChaCha20-Poly1305 (computational)" in cost.render_budget("w2f")
        assert cost.bytes_per_day < 0.001 * (RATE * 86400 * (32 + BUCKET))
        w0 = s.used(Direction.W2F)
        s.client.enable_cover(RATE, BUCKET, PERIOD)
        answer = s.client.ask("a question inside cover " * 100)  # 2.4 KB: carried fragments
        assert answer.text == "a question inside cover " * 100
        # The question is above the 2,000-byte threshold: pad-keyed, its own key, carried.
        assert answer.question_mode is FrameMode.PAD_KEYED and answer.w2f_bytes == 32
        small = s.client.ask("and a small one")  # one-time pad, carried in a pad-keyed slot
        assert small.question_mode is FrameMode.OTP
        assert (answer.answer_mode, small.answer_mode) == (FrameMode.OTP, FrameMode.OTP)
        time.sleep(1.5)
        s.client.disable_cover()
        cover_w2f = s.used(Direction.W2F) - w0 - answer.w2f_bytes - small.w2f_bytes
        keys = {
            frame.parse_header(d).offset
            for k, d in s.cap.frames
            if k.endswith("/w2f") and frame.parse_header(d).mode is FrameMode.PAD_KEYED
        }
        s.gw.stop()
        time.sleep(0.3)
        by_dir: dict[str, list[bytes]] = {"w2f": [], "f2w": []}
        for key, data in s.cap.frames:
            by_dir[key.rsplit("/", 1)[1]].append(data)
    size = frame.HEADER_LEN + BUCKET + frame.TAG_LEN
    for direction, frames in by_dir.items():
        assert frames, direction
        headers = [frame.parse_header(f) for f in frames]
        assert {len(f) for f in frames} == {size}, direction
        assert {h.kind for h in headers} == {frame.Kind.OPAQUE}, direction
        assert {h.mode for h in headers} == {FrameMode.PAD_KEYED}, direction
        assert {h.range_len for h in headers} == {32}, direction
    # Cover cost exactly one 32-byte key per key period (the frames show how many keys), and
    # a key covered many frames.
    assert cover_w2f == 32 * len(keys)
    assert len(keys) >= 2 and len(keys) * 4 < len(by_dir["w2f"])
    assert s.client.stats["cover-sent"] > 0 and s.client.stats["cover-received"] > 0


def test_the_gateway_enforces_the_policy_its_ledger_poll_reports(tmp_path: Path) -> None:
    """What `reddoor gateway --home` does with LedgerStatePoll.policies (a pad.frame_policy
    event): enforced and announced within a poll; a looser one is never in force."""

    class Poll:
        def __init__(self, policy: FramePolicy) -> None:
            self.policy = policy

        def __call__(self) -> list[bytes]:
            return []  # nothing suspended

        def policies(self) -> dict[bytes, FramePolicy]:
            return {pad: self.policy}

    with site(tmp_path, PREFERRED) as s:
        pad = s.copy.pad_id
        poll = Poll(FramePolicy(PolicyMode.PAD_KEYED))  # looser than the manifest
        s.gw.watch_suspensions(poll, interval=0.05)
        time.sleep(0.3)
        assert s.gw.frame_policy(pad) == PREFERRED
        poll.policy = FramePolicy()
        s.cap.wait_for(lambda: s.gw.frame_policy(pad).mode is PolicyMode.OTP_ONLY)
        s.cap.wait_for(lambda: s.client.presence().policy == FramePolicy())
        assert s.client.ask("y" * 3000).question_mode is FrameMode.OTP


def test_pad_keyed_pad_under_cover_carries_pad_keyed_messages_both_ways(tmp_path: Path) -> None:
    gw_kw = {"cover_rate": RATE, "cover_bucket": 384, "cover_key_period": PERIOD}
    with site(tmp_path, PAD_KEYED, gw_kw=gw_kw) as s:
        s.client.enable_cover(RATE, 384, PERIOD)
        question = "carried " * 200  # 1.6 KB: several 256-byte carried fragments
        answer = s.client.ask(question)
        assert answer.text == question
        assert (answer.question_mode, answer.answer_mode) == (FrameMode.PAD_KEYED,) * 2
        assert (answer.w2f_bytes, answer.f2w_bytes) == (32, 32)
        assert answer.query_frames > 1 and answer.answer_frames > 1
        s.client.disable_cover()
        headers = [frame.parse_header(d) for _, d in list(s.cap.frames)]
    assert {h.kind for h in headers} == {frame.Kind.OPAQUE}
    assert {h.body_len for h in headers} == {384}
    assert {h.mode for h in headers} == {FrameMode.PAD_KEYED}
    # A cover bucket too small to carry a frame keeps cover one-time pad, whatever the policy.
    assert not s.client.cover_cost(RATE, 256).keyed


def test_policy_hint_keys_round_trip_and_a_diode_mirrors_only_well_formed_ones() -> None:
    pad = bytes(range(16))
    for policy in (
        FramePolicy(),
        FramePolicy(PolicyMode.PAD_KEYED),
        FramePolicy(PolicyMode.OTP_PREFERRED, 4096),
    ):
        key = link_keys.gateway_policy_key("gw1", pad, policy)
        assert link_keys.is_gateway_token_key(key)
        assert link_keys.policy_of(key) == policy  # labels never travel in the hint
    base = link_keys.gateway_pad_key("gw1", pad)
    for word in ("sometimes", "otp-preferred-", "otp-preferred-01", "otp-preferred-*", "**"):
        assert not link_keys.is_gateway_token_key(f"{base}/policy/{word}")
        assert link_keys.policy_of(f"{base}/policy/{word}") is None
