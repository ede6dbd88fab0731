"""A side's consumption journal: which pad bytes it may have used, kept durably.

The journal is the only thing that stands between a crash and a reused pad byte, so it is written
with `durable_file.write_atomic` (write, fsync, rename, directory fsync) *before* any byte of a
newly reserved range is used, and it is checksummed so that corruption is refused, never reset.
Format and semantics: docs/pad-format.md §Journal.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custody import canonical_json
from custody.bounded_read import read_file
from custody.errors import PadFormatError
from custody.pad.manifest import Side

FORMAT = "reddoor-journal/1"
# A journal is a few hundred bytes; ranges received out of order add about 25 bytes each until
# the receive mark passes them. 16 MiB holds over half a million such ranges.
MAX_JOURNAL_BYTES = 16 << 20


class IntervalSet:
    """Disjoint, merged half-open intervals [a, b)."""

    def __init__(self, items: list[tuple[int, int]] | None = None) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for a, b in sorted(items or []):
            self.add(a, b)

    def overlaps(self, a: int, b: int) -> bool:
        i = bisect.bisect_right(self._starts, a) - 1
        if i >= 0 and self._ends[i] > a:
            return True
        return i + 1 < len(self._starts) and self._starts[i + 1] < b

    def add(self, a: int, b: int) -> None:
        i = bisect.bisect_left(self._starts, a)
        if i > 0 and self._ends[i - 1] >= a:
            i -= 1
            a = self._starts[i]
        j = i
        while j < len(self._starts) and self._starts[j] <= b:
            b = max(b, self._ends[j])
            j += 1
        self._starts[i:j] = [a]
        self._ends[i:j] = [b]

    def pop_prefix(self, floor: int) -> int:
        """If an interval starts at `floor`, remove it and return its end; else return floor."""
        if self._starts and self._starts[0] <= floor:
            end = max(floor, self._ends[0])
            del self._starts[0], self._ends[0]
            return end
        return floor

    def items(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return len(self._starts)


@dataclass
class JournalState:
    pad_id: bytes
    manifest_sha256: bytes
    side: Side
    generation: int
    send_reserved: int  # every byte of the send region below this may have been used
    recv_mark: int  # every byte of the receive region below this is consumed
    recv_seen: list[tuple[int, int]] = field(default_factory=list)  # consumed, above recv_mark

    def _body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "pad_id": self.pad_id.hex(),
            "manifest_sha256": self.manifest_sha256.hex(),
            "side": self.side.value,
            "generation": self.generation,
            "send": {"reserved_end": self.send_reserved},
            "recv": {"mark": self.recv_mark, "seen": [list(r) for r in self.recv_seen]},
        }

    def to_bytes(self) -> bytes:
        body = self._body()
        body["checksum"] = hashlib.sha256(canonical_json.dumps(body)).hexdigest()
        return canonical_json.dumps(body) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> JournalState:
        try:
            d = canonical_json.loads(data)
            checksum = d.pop("checksum")
            if hashlib.sha256(canonical_json.dumps(d)).hexdigest() != checksum:
                raise PadFormatError(f"{where} is corrupt (checksum mismatch); refusing to use it")
            if d["format"] != FORMAT:
                raise PadFormatError(f"{where}: unknown journal format {d['format']!r}")
            seen = [(int(a), int(b)) for a, b in d["recv"]["seen"]]
            return cls(
                pad_id=bytes.fromhex(d["pad_id"]),
                manifest_sha256=bytes.fromhex(d["manifest_sha256"]),
                side=Side(d["side"]),
                generation=int(d["generation"]),
                send_reserved=int(d["send"]["reserved_end"]),
                recv_mark=int(d["recv"]["mark"]),
                recv_seen=seen,
            )
        except PadFormatError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise PadFormatError(f"{where} is corrupt (not a Red Door journal)") from None


def read_journal(path: Path) -> JournalState:
    try:
        data = read_file(path, MAX_JOURNAL_BYTES, "journal", error=PadFormatError)
    except FileNotFoundError:
        raise PadFormatError(f"no journal at {path}: not a pad copy, or it was deleted") from None
    except OSError as exc:
        raise PadFormatError(f"cannot read journal {path}: {exc.strerror}") from None
    return JournalState.from_bytes(data, str(path))
