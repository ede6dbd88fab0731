"""Test vectors for docs/pad-format.md and docs/protocol.md.

`python -m tests.custody.vectors` prints them; tests/custody/pad/test_doc_vectors.py checks that the
docs carry exactly these values. Everything here is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from custody import canonical_json, merkle
from custody.pad import frame
from custody.pad import ids as pad_id
from custody.pad.frame import Kind
from custody.pad.frame_policy import FramePolicy, PolicyMode
from custody.pad.keyed import KeyedStream, derive_key
from custody.pad.manifest import Manifest, Mark, Side, build
from custody.pad.store import JOURNAL_NAME, PAD_NAME, open_pad_dir, write_pad_dir

PAD_SIZE = 65536
PAD_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
MSG_ID = bytes([1]) * 16
# Canonical JSON's edge cases: non-ASCII, escapes, characters other encoders escape (<, >, &,
# U+2028), control characters, a big integer, and two keys that code-point order and UTF-16
# order (RFC 8785) sort differently (U+FB01 and U+1F511).
CANONICAL_JSON_INPUT = {
    "text": 'Zoë <&> "q" back\\slash / tab\t nl\n bell\x07 del\x7f ls\u2028',
    "n": -12345678901234567890,
    "list": [True, False, None, 0],
    "\ufb01": 1,
    "\U0001f511": 2,
    "Z": {},
}


def vector_pad_bytes(size: int = PAD_SIZE) -> bytes:
    """pad = SHA-256("reddoor test pad" || u32be(0)) || SHA-256(... || u32be(1)) || ..."""
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(b"reddoor test pad" + i.to_bytes(4, "big")).digest()
        i += 1
    return bytes(out[:size])


PAD_KEYED_POLICY = FramePolicy(PolicyMode.PAD_KEYED)


def vector_manifest(base: Path, frame_policy: FramePolicy | None = None) -> tuple[Path, Manifest]:
    """Write the vector pad's bytes under `base` and describe them as the docs say (with
    `frame_policy`: the pad-keyed vectors' manifest)."""
    raw = base / "raw.bin"
    raw.write_bytes(vector_pad_bytes())
    m = build(
        raw,
        split="1:3",
        ceremony_id="vector",
        mark=Mark.PRACTICE,
        created="2026-11-23T00:00:00Z",
        chunk_size=16384,
        reserve=1024,
        raw_pad_id=PAD_ID,
        frame_policy=frame_policy,
    )
    return raw, m


def compute() -> dict[str, str]:
    v: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        raw, m = vector_manifest(base)
        write_pad_dir(base / "ws", m, Side.WORKSTATION, pad_source=raw)
        write_pad_dir(base / "fac", m, Side.FACILITY, pad_source=raw)
        v["pad-id-display"] = pad_id.display(PAD_ID)
        v["pad-first-64-bytes"] = vector_pad_bytes(64).hex()
        v["manifest"] = m.to_bytes().decode().strip()
        v["manifest-sha256"] = m.sha256.hex()
        v["merkle-root"] = m.merkle_root.hex()
        v["merkle-leaves"] = "\n".join(merkle.leaf_hash(h).hex() for h in m.chunk_hashes)
        v["journal-initial-workstation"] = (base / "ws" / JOURNAL_NAME).read_text().strip()
        v["journal-initial-facility"] = (base / "fac" / JOURNAL_NAME).read_text().strip()
        v["canonical-json-input"] = json.dumps(CANONICAL_JSON_INPUT)
        v["canonical-json-hex"] = canonical_json.dumps(CANONICAL_JSON_INPUT).hex()
        old = os.environ.get("REDDOOR_STATE_DIR")
        os.environ["REDDOOR_STATE_DIR"] = str(base / "state")
        try:
            ws = open_pad_dir(base / "ws", use_witness=False)
            fac = open_pad_dir(base / "fac", use_witness=False)
            q = frame.seal(ws, Kind.QUERY, b"Is this pad used once?", msg_id=MSG_ID)
            a = frame.seal(fac, Kind.ANSWER_CHUNK, b"Yes, once.", msg_id=MSG_ID, seq=0, final=False)
            c = frame.seal(ws, Kind.COVER, b"", conceal=True, body_len=256)
            z = frame.seal(ws, Kind.QUERY, b"compress me " * 20, msg_id=MSG_ID, compress=True)
            v["frame-query"] = q.hex()
            v["frame-answer-chunk"] = a.hex()
            v["frame-cover-concealed"] = c.hex()
            v["frame-query-compressed"] = z.hex()
            for name, f, copy in (
                ("query", q, fac),
                ("answer-chunk", a, ws),
                ("cover-concealed", c, fac),
                ("query-compressed", z, fac),
            ):
                msg = frame.open_frame(copy, f)
                v[f"plaintext-{name}"] = msg.payload.hex()
            ws.close()
            fac.close()
            v["journal-workstation-after"] = (base / "ws" / JOURNAL_NAME).read_text().strip()
            v["journal-facility-after"] = (base / "fac" / JOURNAL_NAME).read_text().strip()
        finally:
            if old is None:
                os.environ.pop("REDDOOR_STATE_DIR", None)
            else:
                os.environ["REDDOOR_STATE_DIR"] = old
        assert (base / "ws" / PAD_NAME).exists()
    v.update(compute_pad_keyed())
    return v


def compute_pad_keyed() -> dict[str, str]:
    """The pad-keyed vectors: the vector pad made with the `pad-keyed` policy."""
    v: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        raw, m = vector_manifest(base, PAD_KEYED_POLICY)
        write_pad_dir(base / "ws", m, Side.WORKSTATION, pad_source=raw)
        write_pad_dir(base / "fac", m, Side.FACILITY, pad_source=raw)
        v["manifest-pad-keyed"] = m.to_bytes().decode().strip()
        pad = vector_pad_bytes()
        w2f_start, f2w_start = 0, m.w2f_length
        v["pad-keyed-key-w2f-0"] = derive_key(pad[0:32], PAD_ID, 0, w2f_start).hex()
        v["pad-keyed-key-f2w-16384"] = derive_key(
            pad[f2w_start : f2w_start + 32], PAD_ID, 1, f2w_start
        ).hex()
        ws = open_pad_dir(base / "ws", use_witness=False)
        fac = open_pad_dir(base / "fac", use_witness=False)
        question = KeyedStream(ws)
        q0 = frame.seal(
            ws, Kind.QUERY, b"Is this pad ", msg_id=MSG_ID, seq=0, final=False, stream=question
        )
        q1 = frame.seal(ws, Kind.QUERY, b"used once?", msg_id=MSG_ID, seq=1, stream=question)
        a = frame.seal(
            fac, Kind.ANSWER_END, b"Its key bytes are.", msg_id=MSG_ID, stream=KeyedStream(fac)
        )
        for name, f, copy in (
            ("pad-keyed-query-0", q0, fac),
            ("pad-keyed-query-1", q1, fac),
            ("pad-keyed-answer-end", a, ws),
        ):
            v[f"frame-{name}"] = f.hex()
            v[f"plaintext-{name}"] = frame.open_frame(copy, f).payload.hex()
        ws.close()
        fac.close()
    return v


if __name__ == "__main__":
    for name, value in compute().items():
        print(f"```vector:{name}\n{value}\n```\n")
