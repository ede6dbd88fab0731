"""Impossible manifests are refused when a copy is opened (issue #11, item 7).

A negative reserve used to pass: `usable_end = end - reserve` then lies past the region's end,
and the first frame that crossed into the other direction's region was the first sign. Each case
here is a manifest that is canonical, whose chunk digests and Merkle root are right, and whose
geometry is impossible (docs/pad-format.md "What a reader refuses").
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from custody import canonical_json, merkle
from custody.errors import PadFormatError
from custody.pad.manifest import MAX_CHUNK_SIZE, MIN_RESERVE, Manifest
from custody.pad.store import JOURNAL_NAME, MANIFEST_NAME, read_manifest
from tests.custody.vectors import vector_manifest


def _edited(m: Manifest, **changes: Any) -> bytes:
    return dataclasses.replace(m, **changes).to_bytes()


def _with_regions(m: Manifest, edit: Callable[[dict[str, Any]], None]) -> bytes:
    d = m.to_dict()
    edit(d["regions"])
    return canonical_json.dumps(d) + b"\n"


def _one_big_chunk(m: Manifest, chunk_size: int) -> bytes:
    digest = merkle.root(list(m.chunk_hashes))  # any 32 bytes: one chunk's digest
    return _edited(
        m, chunk_size=chunk_size, chunk_hashes=(digest,), merkle_root=merkle.root([digest])
    )


# (what is wrong, the manifest bytes from the valid vector manifest)
IMPOSSIBLE: dict[str, Callable[[Manifest], bytes]] = {
    "negative reserve": lambda m: _edited(m, reserve=-4096),
    "zero reserve": lambda m: _edited(m, reserve=0),
    "reserve below one pad-exhausted frame": lambda m: _edited(m, reserve=MIN_RESERVE - 1),
    "reserve as large as the region": lambda m: _edited(m, reserve=m.w2f_length),
    "chunk size above the limit": lambda m: _one_big_chunk(m, MAX_CHUNK_SIZE + 1),
    "regions that do not follow the split": lambda m: _edited(m, w2f_length=m.size // 2),
    "regions that overlap": lambda m: _with_regions(
        m, lambda r: r["f2w"].update(start=r["f2w"]["start"] - 4096)
    ),
    "regions that leave the pad": lambda m: _with_regions(
        m, lambda r: r["f2w"].update(length=r["f2w"]["length"] + 4096)
    ),
    "regions that do not start at 0": lambda m: _with_regions(
        m, lambda r: r["w2f"].update(start=512)
    ),
    "a region below the minimum": lambda m: _edited(m, split="1:15", w2f_length=m.size // 16),
    "a split that is not two positive numbers": lambda m: _edited(m, split="0:1"),
}


@pytest.fixture
def vector(tmp_path: Path) -> Manifest:
    return vector_manifest(tmp_path)[1]


def test_the_vector_manifest_itself_is_accepted(vector: Manifest) -> None:
    assert Manifest.from_bytes(vector.to_bytes()) == vector


@pytest.mark.parametrize("case", sorted(IMPOSSIBLE))
def test_impossible_geometry_is_refused(vector: Manifest, case: str) -> None:
    data = IMPOSSIBLE[case](vector)
    with pytest.raises(PadFormatError, match="impossible"):
        Manifest.from_bytes(data, "manifest.json")


@pytest.mark.parametrize("case", ["negative reserve", "zero reserve", "a region below the minimum"])
def test_impossible_manifest_is_refused_at_open_by_the_cli(
    cli: Any, tmp_path: Path, vector: Manifest, case: str
) -> None:
    """Through the real CLI: `pad status` and `frame seal` stop at open with exit 3, before any
    pad byte is reserved (the journal is untouched)."""
    ws = tmp_path / "ws"
    from custody.pad.manifest import Side
    from custody.pad.store import write_pad_dir

    raw = tmp_path / "raw.bin"
    write_pad_dir(ws, vector, Side.WORKSTATION, pad_source=raw)
    (ws / MANIFEST_NAME).write_bytes(IMPOSSIBLE[case](vector))
    journal = (ws / JOURNAL_NAME).read_bytes()
    for argv in (["pad", "status", "--pad", str(ws)], ["frame", "seal", "--pad", str(ws)]):
        r = cli(*argv, stdin=b"question")
        err = r.stderr.decode()
        assert r.returncode == 3, err
        assert len(err.splitlines()) == 1 and "impossible" in err and "Traceback" not in err
    assert (ws / JOURNAL_NAME).read_bytes() == journal
    shutil.rmtree(ws)


def test_a_manifest_larger_than_its_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).symlink_to("/dev/zero")
    with pytest.raises(PadFormatError, match="larger than its limit"):
        read_manifest(tmp_path)
