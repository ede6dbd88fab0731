"""The formats as written: an implementation from the docs alone (from_docs.py) against the
documented vectors, and against Red Door in both directions.

The first part uses nothing but the pages and the standard library: it rebuilds the vector pad,
the manifest's hash and Merkle tree (leaves over raw digest bytes), both copies' journals (the
checksum without the newline, `generation` step by step), opens and seals every frame vector byte
for byte, and recomputes the ledger's hashes, root and proofs (the Ed25519 signatures, which need
more than the standard library, are tests/custody/ledger/test_ledger_doc.py's). The second part
lets it refuse the same frames as Red Door with the same reason words, and use a pad copy between
Red Door's runs as a second sender and receiver.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import itertools
import json
import struct
import sys
import zlib
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.custody.pad import from_docs
from tests.custody.pad.from_docs import Journal, Refused

DOCS = REPO / "docs"
V = from_docs.vectors(DOCS / "pad-format.md", DOCS / "protocol.md", DOCS / "ledger.md")
MANIFEST = json.loads(V["manifest"])
PAD = from_docs.vector_pad()
PAD_ID = bytes.fromhex(MANIFEST["pad_id"])
ONES, ZEROS = bytes([1]) * 16, bytes(16)


def _initial(side: str) -> dict:
    sends, receives = ("w2f", "f2w") if side == "workstation" else ("f2w", "w2f")
    return {
        "format": "reddoor-journal/1",
        "pad_id": MANIFEST["pad_id"],
        "manifest_sha256": V["manifest-sha256"],
        "side": side,
        "generation": 0,
        "send": {"reserved_end": MANIFEST["regions"][sends]["start"]},
        "recv": {"mark": MANIFEST["regions"][receives]["start"], "seen": []},
    }


def test_the_docs_implementation_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(from_docs.__file__).read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert {m.split(".")[0] for m in modules} <= set(sys.stdlib_module_names) | {"__future__"}


def test_pad_manifest_hash_and_merkle_tree() -> None:
    assert PAD[:64].hex() == V["pad-first-64-bytes"]
    line = V["manifest"].encode()
    assert from_docs.canonical(MANIFEST) == line  # stored in canonical form
    # The manifest's SHA-256 covers the file, its trailing newline included.
    assert hashlib.sha256(line + b"\n").hexdigest() == V["manifest-sha256"]
    assert hashlib.sha256(line).hexdigest() != V["manifest-sha256"]
    digests = [hashlib.sha256(PAD[i : i + 16384]).digest() for i in range(0, len(PAD), 16384)]
    assert [d.hex() for d in digests] == MANIFEST["chunks"]
    leaves = [from_docs.leaf(d) for d in digests]  # leaf input: the 32 raw digest bytes
    assert [h.hex() for h in leaves] == V["merkle-leaves"].split()
    root = from_docs.merkle_root(leaves)
    assert root.hex() == V["merkle-root"] == MANIFEST["merkle_root"]
    node = lambda a, b: hashlib.sha256(b"\x01" + a + b).digest()  # noqa: E731
    assert root == node(node(leaves[0], leaves[1]), node(leaves[2], leaves[3]))
    hex_leaves = [from_docs.leaf(d.hex().encode()) for d in digests]
    assert from_docs.merkle_root(hex_leaves) != root  # hex text as leaf input is another tree


@pytest.mark.parametrize("side", ["workstation", "facility"])
def test_initial_journals(side: str) -> None:
    text = from_docs.journal_bytes(_initial(side))
    assert text.endswith(b"\n") and text.count(b"\n") == 1
    assert text[:-1].decode() == V[f"journal-initial-{side}"]
    # The checksum covers the canonical JSON without `checksum` and without a newline.
    body = _initial(side)
    checksum = json.loads(text)["checksum"]
    assert hashlib.sha256(from_docs.canonical(body)).hexdigest() == checksum
    assert hashlib.sha256(from_docs.canonical(body) + b"\n").hexdigest() != checksum


def test_journals_after_the_vector_frames_and_their_generation() -> None:
    """The journal rules, followed as written, give the documented journals, generation 3."""
    ws = Journal(MANIFEST, _initial("workstation"))
    fac = Journal(MANIFEST, _initial("facility"))
    offsets = {
        "frame-query": ws.reserve(288),
        "frame-answer-chunk": fac.reserve(288),
        "frame-cover-concealed": ws.reserve(288),
        "frame-query-compressed": ws.reserve(288),
    }
    for name, offset in offsets.items():  # the vectors sit where the rules put them
        assert struct.unpack_from(">Q", bytes.fromhex(V[name]), 24)[0] == offset
    assert [w["send"]["reserved_end"] for w in ws.writes] == [15360]
    assert [w["send"]["reserved_end"] for w in fac.writes] == [64512]
    fac.received(0, 288)
    ws.received(16384, 16672)
    fac.received(288, 576)
    fac.received(576, 864)
    assert [w["recv"]["mark"] for w in ws.writes[1:]] == [65536]
    assert [w["recv"]["mark"] for w in fac.writes[1:]] == [16384]  # one window for all three
    ws.close()
    fac.close()
    for side, j in (("workstation", ws), ("facility", fac)):
        assert len(j.writes) == j.body["generation"] == 3
        assert from_docs.journal_bytes(j.body)[:-1].decode() == V[f"journal-{side}-after"]


def _inner(name: str) -> bytes:
    """The decrypted body of a vector frame."""
    data = bytes.fromhex(V[name])
    offset = struct.unpack_from(">Q", data, 24)[0]
    return from_docs.xor(data[40:-16], PAD[offset + 32 : offset + len(data) - 24])


@pytest.mark.parametrize(
    ("name", "receiver", "kind", "flags", "msg_id"),
    [
        ("query", "facility", 1, 0x02, ONES),
        ("answer-chunk", "workstation", 2, 0x00, ONES),
        ("cover-concealed", "facility", 6, 0x02, ZEROS),
        ("query-compressed", "facility", 1, 0x03, ONES),
    ],
)
def test_open_the_vector_frames(name: str, receiver: str, kind: int, flags: int, msg_id) -> None:
    data = bytes.fromhex(V[f"frame-{name}"])
    journal = Journal(MANIFEST, _initial(receiver))
    receives = 0 if receiver == "facility" else 1
    got = from_docs.open_frame(data, PAD, PAD_ID, receives, journal)
    assert got == (kind, flags, 0, msg_id, bytes.fromhex(V[f"plaintext-{name}"]))
    if name == "cover-concealed":
        assert data[3] == 0 and len(data) == 56 + 256  # clear kind opaque, one fixed bucket
    if flags & 0x01:  # compressed: zlib level 9 of the plaintext, strictly smaller
        inner = _inner(f"frame-{name}")
        length = struct.unpack_from(">I", inner, 22)[0]
        plain = bytes.fromhex(V[f"plaintext-{name}"])
        assert inner[26 : 26 + length] == zlib.compress(plain, 9)
        assert inner[26:28].hex() == "78da" and length < len(plain)
    with pytest.raises(Refused) as again:  # opening twice: replay
        from_docs.open_frame(data, PAD, PAD_ID, receives, journal)
    assert again.value.reason == "replay"


def test_seal_reproduces_the_vector_frames() -> None:
    def at(offset: int) -> bytes:
        return PAD[offset:]

    sealed = {
        "frame-query": from_docs.seal(
            at(0), PAD_ID, 0, 1, 0, b"Is this pad used once?", msg_id=ONES
        ),
        "frame-answer-chunk": from_docs.seal(
            at(16384), PAD_ID, 16384, 2, 1, b"Yes, once.", msg_id=ONES, final=False
        ),
        "frame-cover-concealed": from_docs.seal(
            at(288), PAD_ID, 288, 6, 0, b"", msg_id=ZEROS, conceal=True, body_len=256
        ),
        "frame-query-compressed": from_docs.seal(
            at(576), PAD_ID, 576, 1, 0, b"compress me " * 20, msg_id=ONES, compress=True
        ),
    }
    for name, data in sealed.items():
        assert data.hex() == V[name], name


def test_canonical_json_writes_non_ascii_as_utf8() -> None:
    value = json.loads(V["canonical-json-input"])
    out = from_docs.canonical(value)
    assert out.hex() == V["canonical-json-hex"]
    assert "Zoë".encode() in out and "\u2028".encode() in out and b"\\u0007" in out
    assert out.index("\ufb01".encode()) < out.index("\U0001f511".encode())  # code-point order
    assert json.dumps(value, sort_keys=True, separators=(",", ":")).encode() != out  # \u escapes


def test_ledger_hashes_root_and_proofs() -> None:
    entries = [V[f"entry-{i}"].encode() for i in range(3)]
    hashes = [bytes.fromhex(h) for h in V["hashes"].split()]
    for i, entry in enumerate(entries):
        assert from_docs.canonical(json.loads(entry)) == entry
        assert from_docs.leaf(entry) == hashes[i]
        assert json.loads(entry)["prev"] == (hashes[i - 1].hex() if i else "0" * 64)
    node = lambda a, b: hashlib.sha256(b"\x01" + a + b).digest()  # noqa: E731
    root = from_docs.merkle_root(hashes)
    assert root.hex() == V["root"] == node(node(hashes[0], hashes[1]), hashes[2]).hex()
    origin, size, root_b64 = V["checkpoint"].split("\n")[:3]
    assert (int(size), base64.b64decode(root_b64)) == (3, root)
    inclusion = json.loads(V["inclusion"])
    entry = base64.b64decode(inclusion["entry"])
    proof = [base64.b64decode(p) for p in inclusion["proof"]]
    assert from_docs.verify_inclusion(from_docs.leaf(entry), inclusion["seq"], 3, proof, root)
    assert not from_docs.verify_inclusion(from_docs.leaf(entry), 0, 3, proof, root)
    consistency = json.loads(V["consistency"])
    old = consistency["old_checkpoint"].split("\n")
    assert old[0] == origin and old[1] == "2"
    old_root = base64.b64decode(old[2])
    assert old_root == node(hashes[0], hashes[1])
    proof = [base64.b64decode(p) for p in consistency["proof"]]
    assert from_docs.verify_consistency(2, 3, old_root, root, proof)
    assert not from_docs.verify_consistency(2, 3, root, root, proof)


# -- against Red Door ---------------------------------------------------------------------------


def _red_door_facility(tmp_path: Path):
    from custody.pad.manifest import Side
    from custody.pad.store import open_pad_dir, write_pad_dir
    from tests.custody.vectors import vector_manifest

    raw, m = vector_manifest(tmp_path)
    write_pad_dir(tmp_path / "fac", m, Side.FACILITY, pad_source=raw)
    return open_pad_dir(tmp_path / "fac", use_witness=False)


def _with(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


def test_refusals_match_red_door(tmp_path: Path) -> None:
    """The same frames, offered to Red Door's facility copy and to the docs opener, are refused
    with the same reason words, in the same order."""
    from custody.errors import FrameRejected
    from custody.pad import frame

    q = bytes.fromhex(V["frame-query"])
    flipped = bytearray(q)
    flipped[100] ^= 0x10

    def authentic(offset: int, kind: int, clear: int | None = None) -> bytes:
        return from_docs.seal(
            PAD[offset:], PAD_ID, offset, kind, 0, b"x", msg_id=ZEROS, clear_kind=clear
        )

    offers = [
        (q[:50], "truncated"),
        (_with(q, 0, b"XX"), "bad-magic"),
        (_with(q, 2, b"\x09"), "bad-version"),
        (_with(q, 5, b"\x02"), "bad-header"),  # mode neither 0 nor 1
        (_with(q, 6, b"\x01"), "bad-header"),  # a key index on a one-time-pad frame
        (_with(q, 5, b"\x01"), "bad-length"),  # pad-keyed: the range must be 32 bytes
        (_with(_with(q, 5, b"\x01"), 32, struct.pack(">I", 32)), "policy"),  # otp-only pad
        (_with(q, 3, b"\x09"), "bad-header"),  # clear kind above 8
        (q + b"\0", "bad-length"),
        (_with(q, 36, struct.pack(">I", 300)), "bad-length"),  # not a bucket
        (_with(q, 8, b"\xff"), "wrong-pad"),
        (_with(q, 4, b"\x01"), "wrong-direction"),
        (_with(q, 24, struct.pack(">Q", 16384)), "outside-region"),
        (q[:-1] + bytes([q[-1] ^ 1]), "bad-tag"),
        (bytes(flipped), "bad-tag"),
        (authentic(2048, 2), "bad-kind"),  # an answer travelling w2f
        (authentic(15360 - 256, 1), "bad-kind"),  # a query reaching into the reserve
        (authentic(4096, 7, clear=1), "bad-inner"),  # clear kind query, inner kind ping
        (authentic(4096, 1), "replay"),  # that range was spent by the refusal
        (authentic(4384, 0), "bad-inner"),  # inner kind 0
        (authentic(15360 + 288, 5), "opened"),  # pad-exhausted in the reserve
        (q, "opened"),
        (q, "replay"),
    ]
    journal = Journal(MANIFEST, _initial("facility"))
    ours, theirs = [], []
    with _red_door_facility(tmp_path) as fac:
        for data, _reason in offers:
            try:
                frame.open_frame(fac, data)
                theirs.append("opened")
            except FrameRejected as exc:
                theirs.append(exc.reason)
            try:
                from_docs.open_frame(data, PAD, PAD_ID, 0, journal)
                ours.append("opened")
            except Refused as exc:
                ours.append(exc.reason)
    assert ours == theirs == [reason for _data, reason in offers]
    assert set(ours) == {*frame.REASONS, "opened"}


def test_a_second_sender_and_receiver_written_from_the_docs(tmp_path: Path) -> None:
    """The docs implementation uses the workstation copy between Red Door's runs: Red Door's
    facility opens what it sealed, Red Door's workstation carries on above it (its witness
    behind the journal: accepted), and what it received is a replay for Red Door."""
    from custody.errors import FrameRejected
    from custody.pad import frame
    from custody.pad.frame import Kind
    from custody.pad.journal import read_journal
    from custody.pad.practice import make_practice_pad
    from custody.pad.store import JOURNAL_NAME, open_pad_dir

    make_practice_pad(tmp_path / "pad", 256 * 1024)
    ws_dir, fac_dir = tmp_path / "pad" / "workstation", tmp_path / "pad" / "facility"
    with open_pad_dir(ws_dir) as ws:
        first = frame.seal(ws, Kind.QUERY, b"from Red Door")
    before = read_journal(ws_dir / JOURNAL_NAME).generation

    other = from_docs.PadDirectory(ws_dir)
    second = other.seal(1, b"from the docs", ZEROS)
    third = other.seal(1, b"and again", ZEROS)
    other.close()
    assert read_journal(ws_dir / JOURNAL_NAME).generation == before + 2  # reserve, close

    with open_pad_dir(ws_dir) as ws:  # the witness is behind: the stick was used elsewhere
        fourth = frame.seal(ws, Kind.QUERY, b"Red Door again")
    ranges = [frame.parse_header(f).range for f in (first, second, third, fourth)]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    with open_pad_dir(fac_dir) as fac:
        opened = [frame.open_frame(fac, f).payload for f in (first, second, third, fourth)]
        answer = frame.seal(fac, Kind.ANSWER_CHUNK, b"an answer", final=False)
        end = frame.seal(fac, Kind.ANSWER_END, b"the end")
    assert opened == [b"from Red Door", b"from the docs", b"and again", b"Red Door again"]

    other = from_docs.PadDirectory(ws_dir)
    assert other.open(answer) == b"an answer"
    with pytest.raises(Refused) as again:
        other.open(answer)
    assert again.value.reason == "replay"
    other.close()
    with open_pad_dir(ws_dir) as ws:
        with pytest.raises(FrameRejected) as exc:
            frame.open_frame(ws, answer)
        assert exc.value.reason == "replay"
        assert frame.open_frame(ws, end).payload == b"the end"
