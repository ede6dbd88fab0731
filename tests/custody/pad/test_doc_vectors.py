"""The test vectors printed in the docs are exactly what the code computes."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.custody.vectors import compute

BLOCK = re.compile(r"```vector:([a-z0-9-]+)\n(.*?)\n```", re.S)


@pytest.fixture(scope="module")
def vectors() -> dict[str, str]:
    return compute()


@pytest.mark.parametrize("doc", ["pad-format.md", "protocol.md"])
def test_doc_vectors_match_the_code(doc: str, vectors: dict[str, str]) -> None:
    text = (REPO / "docs" / doc).read_text()
    found = BLOCK.findall(text)
    assert len(found) >= 6
    for name, value in found:
        assert name in vectors, f"{doc} names an unknown vector {name}"
        assert value == vectors[name], f"{doc}: vector {name} is stale"


def test_every_vector_is_documented(vectors: dict[str, str]) -> None:
    text = "".join((REPO / "docs" / d).read_text() for d in ("pad-format.md", "protocol.md"))
    documented = {name for name, _ in BLOCK.findall(text)}
    assert documented == set(vectors)


def test_vector_frames_reject_bit_flips_and_replays(tmp_path) -> None:
    """The protocol doc's closing checks, on the vector frames themselves."""
    from custody.errors import FrameRejected
    from custody.pad import frame
    from custody.pad.manifest import Side
    from custody.pad.store import open_pad_dir, write_pad_dir
    from tests.custody.vectors import vector_manifest

    raw, m = vector_manifest(tmp_path)
    write_pad_dir(tmp_path / "fac", m, Side.FACILITY, pad_source=raw)
    q = bytes.fromhex(compute()["frame-query"])
    with open_pad_dir(tmp_path / "fac", use_witness=False) as fac:
        for bit in range(0, len(q) * 8, 7):
            bad = bytearray(q)
            bad[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(FrameRejected):
                frame.open_frame(fac, bytes(bad))
        assert frame.open_frame(fac, q).payload == b"Is this pad used once?"
        with pytest.raises(FrameRejected, match="already consumed"):
            frame.open_frame(fac, q)
