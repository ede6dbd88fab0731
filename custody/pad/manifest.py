"""The pad manifest: what a pad is, independent of which side holds it.

Both copies of a pad (customer USB and facility vault) carry byte-identical manifests; its SHA-256
binds each side's journal to exactly this pad. Format: docs/pad-format.md.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from custody import canonical_json, merkle
from custody.errors import PadFormatError, UsageError
from custody.pad import ids as pad_id
from custody.pad.frame_policy import OTP_ONLY, FramePolicy

FORMAT = "reddoor-pad/1"
DEFAULT_CHUNK_SIZE = 1 << 20
DEFAULT_RESERVE = 1024  # per region: room for the final pad-exhausted control frame
MIN_REGION = 16 * 1024
# The smallest reserve that holds one pad-exhausted frame: its 32-byte MAC key and the smallest
# body bucket (custody.pad.frame.KEY_LEN + BUCKETS[0]; frame imports this module, not the reverse).
MIN_RESERVE = 32 + 256
MAX_CHUNK_SIZE = 64 << 20  # a vault chunk is decrypted whole: it must fit in memory
MAX_CHUNKS = 1 << 20  # 1 TiB at the default chunk size
MAX_PAD_SIZE = MAX_CHUNKS * DEFAULT_CHUNK_SIZE  # 1 TiB: the most chunks at the default size
# A manifest is about 67 bytes per chunk digest plus a fixed part of under 1 KiB.
MAX_MANIFEST_BYTES = 4096 + 68 * MAX_CHUNKS


class Direction(Enum):
    W2F = "w2f"  # workstation → facility (questions)
    F2W = "f2w"  # facility → workstation (answers)

    @property
    def code(self) -> int:
        return 0 if self is Direction.W2F else 1

    @property
    def label(self) -> str:
        return "workstation→facility" if self is Direction.W2F else "facility→workstation"


class Side(Enum):
    WORKSTATION = "workstation"
    FACILITY = "facility"

    @property
    def sends(self) -> Direction:
        return Direction.W2F if self is Side.WORKSTATION else Direction.F2W

    @property
    def receives(self) -> Direction:
        return Direction.F2W if self is Side.WORKSTATION else Direction.W2F


class Mark(Enum):
    PRACTICE = "PRACTICE"
    PRODUCTION = "PRODUCTION"


@dataclass(frozen=True)
class Region:
    direction: Direction
    start: int
    length: int
    reserve: int

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def usable_end(self) -> int:
        """Ordinary frames stop here; the last `reserve` bytes are for pad-exhausted only."""
        return self.end - self.reserve

    def contains(self, offset: int, length: int) -> bool:
        return self.start <= offset and offset + length <= self.end and length > 0


def parse_split(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,9})\s*:\s*(\d{1,9})\s*", text)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise UsageError(f"bad split {text!r}: expected two positive numbers like 1:3")
    return int(m.group(1)), int(m.group(2))


def parse_size(text: str) -> int:
    """Sizes like 4M, 256MiB, 1G, 65536 (binary units)."""
    m = re.fullmatch(r"\s*(\d{1,20})\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not m:
        raise UsageError(f"bad size {text[:40]!r}: expected a number with an optional K, M, G unit")
    power = " KMGT".index(m.group(2) or " ")
    size = int(m.group(1)) << (10 * power)
    if size > MAX_PAD_SIZE:
        raise UsageError(
            f"size {text.strip()} is larger than the largest pad ({MAX_PAD_SIZE:,} bytes)"
        )
    return size


def region_lengths(size: int, split: tuple[int, int]) -> tuple[int, int]:
    a, b = split
    w2f = size * a // (a + b)
    return w2f, size - w2f


@dataclass(frozen=True)
class Manifest:
    pad_id: bytes
    size: int
    split: str
    w2f_length: int
    reserve: int
    chunk_size: int
    chunk_hashes: tuple[bytes, ...]
    merkle_root: bytes
    ceremony_id: str
    mark: Mark
    created: str
    # Set at the ceremony (docs/pad-format.md); None: a manifest without the field, otp-only.
    frame_policy: FramePolicy | None = None

    @property
    def policy(self) -> FramePolicy:
        """The frame policy this manifest records (otp-only when it records none)."""
        return OTP_ONLY if self.frame_policy is None else self.frame_policy

    # -- geometry ---------------------------------------------------------------------------
    def region(self, direction: Direction) -> Region:
        if direction is Direction.W2F:
            return Region(direction, 0, self.w2f_length, self.reserve)
        return Region(direction, self.w2f_length, self.size - self.w2f_length, self.reserve)

    @property
    def pad_id_display(self) -> str:
        return pad_id.display(self.pad_id)

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "pad_id": self.pad_id.hex(),
            "pad_id_display": self.pad_id_display,
            "size": self.size,
            "split": self.split,
            "regions": {
                d.value: {"start": r.start, "length": r.length}
                for d in Direction
                for r in [self.region(d)]
            },
            "reserve": self.reserve,
            "chunk_size": self.chunk_size,
            "chunks": [h.hex() for h in self.chunk_hashes],
            "merkle_root": self.merkle_root.hex(),
            "ceremony_id": self.ceremony_id,
            "mark": self.mark.value,
            "created": self.created,
        }
        if self.frame_policy is not None:
            d["frame_policy"] = self.frame_policy.to_dict()
        return d

    def to_bytes(self) -> bytes:
        return canonical_json.dumps(self.to_dict()) + b"\n"

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "manifest") -> Manifest:
        try:
            d = canonical_json.loads(data)
            if d.get("format") != FORMAT:
                raise PadFormatError(f"{where}: unknown format {d.get('format')!r}")
            size = int(d["size"])
            chunk_size = int(d["chunk_size"])
            regions = d["regions"]
            w2f = regions["w2f"]
            f2w = regions["f2w"]
            m = cls(
                pad_id=bytes.fromhex(d["pad_id"]),
                size=size,
                split=str(d["split"]),
                w2f_length=int(w2f["length"]),
                reserve=int(d["reserve"]),
                chunk_size=chunk_size,
                chunk_hashes=tuple(bytes.fromhex(h) for h in d["chunks"]),
                merkle_root=bytes.fromhex(d["merkle_root"]),
                ceremony_id=str(d["ceremony_id"]),
                mark=Mark(d["mark"]),
                created=str(d["created"]),
                frame_policy=(
                    FramePolicy.from_dict(d["frame_policy"]) if "frame_policy" in d else None
                ),
            )
            impossible = _impossible_geometry(m, (w2f["start"], w2f["length"]), f2w)
            consistent = (
                len(m.pad_id) == 16
                and all(len(h) == 32 for h in m.chunk_hashes)
                and merkle.root(list(m.chunk_hashes)) == m.merkle_root
            )
        except PadFormatError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, UsageError):
            raise PadFormatError(
                f"{where} is corrupt (not a valid Red Door pad manifest)"
            ) from None
        if impossible:
            raise PadFormatError(f"{where} is impossible: {impossible}; refusing the pad")
        if not consistent:
            raise PadFormatError(f"{where} is inconsistent (sizes, chunk list or Merkle root)")
        if m.to_bytes() != data:
            raise PadFormatError(f"{where} is not in canonical form (edited by hand?)")
        return m


def _impossible_geometry(m: Manifest, w2f: tuple[Any, Any], f2w: dict[str, Any]) -> str | None:
    """Why the manifest's sizes cannot describe a pad, or None. Checked when a copy is opened,
    so that a bad reserve or region is refused there, not found when a frame crosses into the
    other direction's region (docs/pad-format.md "What a reader refuses")."""
    size, chunk = m.size, m.chunk_size
    if not isinstance(size, int) or size <= 0:
        return f"size {size} is not a positive number of bytes"
    if not 0 < chunk <= MAX_CHUNK_SIZE:
        return f"chunk size {chunk} is not between 1 and {MAX_CHUNK_SIZE} bytes"
    if len(m.chunk_hashes) != -(-size // chunk):
        return f"{len(m.chunk_hashes)} chunk digests for {-(-size // chunk)} chunks"
    if len(m.chunk_hashes) > MAX_CHUNKS:
        return f"{len(m.chunk_hashes)} chunks (at most {MAX_CHUNKS})"
    w2f_len, f2w_len = m.w2f_length, size - m.w2f_length
    if w2f != (0, w2f_len) or (f2w.get("start"), f2w.get("length")) != (w2f_len, f2w_len):
        return "the regions do not tile the pad (w2f from 0, f2w from its end to the pad's end)"
    try:
        expected = region_lengths(size, parse_split(m.split))
    except UsageError:
        return f"split {m.split!r} is not two positive numbers"
    if expected != (w2f_len, f2w_len):
        return f"the regions {w2f_len}:{f2w_len} do not follow the split {m.split}"
    if min(w2f_len, f2w_len) < MIN_REGION:
        return f"a region is shorter than {MIN_REGION} bytes"
    if not MIN_RESERVE <= m.reserve <= min(w2f_len, f2w_len) - 512:
        return (
            f"reserve {m.reserve} is not between {MIN_RESERVE} bytes and its region's length "
            "less 512"
        )
    return None


def check_new_pad(
    size: int, split: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE, reserve: int = DEFAULT_RESERVE
) -> tuple[int, int]:
    """The region lengths of a pad about to be made, or UsageError if a reader would refuse its
    manifest. Called before any pad byte is generated."""
    if size <= 0:
        raise UsageError("pad size must be positive")
    w2f, f2w = region_lengths(size, parse_split(split))
    if min(w2f, f2w) < MIN_REGION:
        raise UsageError(
            f"pad of {size} bytes is too small for split {split}: each region needs "
            f"at least {MIN_REGION} bytes"
        )
    if not 0 < chunk_size <= MAX_CHUNK_SIZE or -(-size // chunk_size) > MAX_CHUNKS:
        raise UsageError(
            f"pad of {size} bytes is too large: at most {MAX_CHUNKS} chunks of up to "
            f"{MAX_CHUNK_SIZE} bytes ({MAX_CHUNKS * chunk_size:,} bytes at this chunk size)"
        )
    if not MIN_RESERVE <= reserve <= min(w2f, f2w) - 512:
        raise UsageError(f"reserve {reserve} does not fit this pad's regions")
    return w2f, f2w


def read_manifest_file(path: Path) -> bytes:
    """A manifest file's bytes, at most MAX_MANIFEST_BYTES (more is a corrupt pad). OSError
    propagates: the caller says what a missing manifest means."""
    from custody.bounded_read import read_file

    return read_file(path, MAX_MANIFEST_BYTES, "pad manifest", error=PadFormatError)


def iter_chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            yield chunk


def chunk_hashes_of(path: Path, chunk_size: int) -> tuple[bytes, ...]:
    return tuple(hashlib.sha256(c).digest() for c in iter_chunks(path, chunk_size))


def build(
    pad_file: Path,
    *,
    split: str = "1:3",
    ceremony_id: str,
    mark: Mark,
    created: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    reserve: int = DEFAULT_RESERVE,
    raw_pad_id: bytes | None = None,
    chunk_digests: tuple[bytes, ...] | None = None,
    frame_policy: FramePolicy | None = None,
) -> Manifest:
    """Describe the pad bytes in `pad_file` (hashing them unless digests are given)."""
    size = os.stat(pad_file).st_size
    w2f, _f2w = check_new_pad(size, split, chunk_size=chunk_size, reserve=reserve)
    digests = chunk_digests if chunk_digests is not None else chunk_hashes_of(pad_file, chunk_size)
    return Manifest(
        pad_id=raw_pad_id or pad_id.new_pad_id(),
        size=size,
        split=split,
        w2f_length=w2f,
        reserve=reserve,
        chunk_size=chunk_size,
        chunk_hashes=digests,
        merkle_root=merkle.root(list(digests)),
        ceremony_id=ceremony_id,
        mark=mark,
        created=created,
        frame_policy=frame_policy,
    )
