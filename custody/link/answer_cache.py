"""The gateway's answer cache: answer frames already sent, by query, for byte-identical resends.

A retransmitted query frame is refused by the pad layer as a replay; its SHA-256 finds the query
id, and the cache gives back the answer frames sent for it, which the gateway publishes again
unchanged. It holds only ciphertext that was already on the wire, so it needs no fsync: losing
it loses a retransmission, never pad safety.

On disk, per pad, a few append-only segment files `seg-<n>.log` (0600 in a 0700 directory):

    D | digest of a query frame (32) | query id (16)
    F | query id (16) | u32 length | answer frame        (E instead of F: the answer's last frame)

An index in memory maps digests to query ids and query ids to where their frames lie; it is
rebuilt from the segments when the gateway starts (a torn tail after a kill is ignored; new
records always go to a new segment). Pruning keeps the cache bounded: a segment is closed when
it reaches `max_bytes / 8` or `max_age / 8`, and the oldest closed segments are deleted while the
pad's segments exceed `max_bytes` or are older than `max_age`. The entries whose first record was
in a deleted segment leave the index with it, so a workstation that retransmits later than
`max_age` gets no resend (it has long reported "no answer").
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from custody.bounded_read import read_file
from custody.durable_file import storage_error

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 << 20  # per pad
DEFAULT_MAX_AGE = 3600.0  # seconds; workstations give up long before (answer/stall timeouts)
_DIGEST = struct.Struct(">c32s16s")
_FRAME = struct.Struct(">c16sI")


@dataclass
class _Segment:
    number: int
    path: Path
    size: int
    last_write: float  # wall clock, so that ages survive a restart (file mtime)
    fd: int = -1


@dataclass
class _Entry:
    first_segment: int
    frames: list[tuple[int, int, int]] = field(default_factory=list)  # (segment, pos, length)
    ended: bool = False


class _PadCache:
    def __init__(self, directory: Path, max_bytes: int, max_age: float) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dir = directory
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.lock = threading.Lock()
        self.segments: list[_Segment] = []
        self.digests: dict[bytes, tuple[int, bytes]] = {}  # digest → (segment, query id)
        self.entries: dict[bytes, _Entry] = {}
        for path in sorted(directory.glob("seg-*.log"), key=_segment_number):
            st = path.stat()
            if st.st_size == 0:
                path.unlink(missing_ok=True)
                continue
            if st.st_size > max_bytes:
                # Segments close at max_bytes / 8: this one was not written by the cache.
                log.warning("answer cache segment %s is larger than the whole cache; ignored", path)
                continue
            seg = _Segment(_segment_number(path), path, st.st_size, st.st_mtime)
            self.segments.append(seg)
            self._index(seg, read_file(path, max_bytes, "answer cache segment"))
        self._prune_locked(time.time())
        self._open_new()

    def _index(self, seg: _Segment, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            tag = data[pos : pos + 1]
            if tag == b"D" and pos + _DIGEST.size <= len(data):
                _, digest, qid = _DIGEST.unpack_from(data, pos)
                self.digests[digest] = (seg.number, qid)
                pos += _DIGEST.size
            elif tag in (b"F", b"E") and pos + _FRAME.size <= len(data):
                _, qid, n = _FRAME.unpack_from(data, pos)
                if pos + _FRAME.size + n > len(data):
                    break  # torn tail after a kill
                entry = self.entries.setdefault(qid, _Entry(seg.number))
                entry.frames.append((seg.number, pos + _FRAME.size, n))
                entry.ended = entry.ended or tag == b"E"
                pos += _FRAME.size + n
            else:
                break

    def _open_new(self) -> None:
        number = self.segments[-1].number + 1 if self.segments else 1
        path = self.dir / f"seg-{number:08d}.log"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise storage_error(exc, path) from None
        self.segments.append(_Segment(number, path, 0, time.time(), fd))

    def write(self, record: bytes, now: float) -> tuple[int, int]:
        """Append `record` to the current segment (rotating and pruning first if it is full)."""
        cur = self.segments[-1]
        full = cur.size >= self.max_bytes // 8
        if full or (cur.size and now - cur.last_write > self.max_age / 8):
            os.close(cur.fd)
            cur.fd = -1
            self._open_new()
            self._prune_locked(now)
            cur = self.segments[-1]
        try:
            view = memoryview(record)
            while view:
                view = view[os.write(cur.fd, view) :]
        except OSError as exc:
            raise storage_error(exc, cur.path) from None
        pos = cur.size
        cur.size += len(record)
        cur.last_write = now
        return cur.number, pos

    def _prune_locked(self, now: float) -> None:
        closed = [s for s in self.segments if s.fd < 0]
        total = sum(s.size for s in self.segments)
        dropped: set[int] = set()
        for seg in closed:  # oldest first
            if total <= self.max_bytes and now - seg.last_write <= self.max_age:
                break
            seg.path.unlink(missing_ok=True)
            total -= seg.size
            dropped.add(seg.number)
        if not dropped:
            return
        self.segments = [s for s in self.segments if s.number not in dropped]
        oldest = min(s.number for s in self.segments) if self.segments else 1 << 62
        self.digests = {d: v for d, v in self.digests.items() if v[0] >= oldest}
        self.entries = {q: e for q, e in self.entries.items() if e.first_segment >= oldest}
        log.debug("answer cache: %d segments pruned", len(dropped))

    def read(self, segment: int, pos: int, length: int) -> bytes | None:
        for seg in self.segments:
            if seg.number == segment:
                try:
                    with open(seg.path, "rb") as fh:
                        fh.seek(pos)
                        data = fh.read(length)
                except OSError:
                    return None
                return data if len(data) == length else None
        return None

    def close(self) -> None:
        for seg in self.segments:
            if seg.fd >= 0:
                os.close(seg.fd)
                seg.fd = -1


class AnswerCache:
    """Answer frames by query and query-frame digests → query id, for every pad of a gateway."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        if max_bytes < 1 << 16 or max_age <= 0:
            raise ValueError("the answer cache needs at least 64 KiB and a positive age")
        self.dir = directory
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._pads: dict[bytes, _PadCache] = {}
        self._lock = threading.Lock()

    def _pad(self, pad_id: bytes) -> _PadCache:
        pc = self._pads.get(pad_id)
        if pc is None:
            with self._lock:
                pc = self._pads.get(pad_id)
                if pc is None:
                    pc = _PadCache(self.dir / pad_id.hex(), self.max_bytes, self.max_age)
                    self._pads[pad_id] = pc
        return pc

    def register(self, pad_id: bytes, digest: bytes, query_id: bytes) -> None:
        pc = self._pad(pad_id)
        with pc.lock:
            seg, _ = pc.write(_DIGEST.pack(b"D", digest, query_id), time.time())
            pc.digests[digest] = (seg, query_id)

    def lookup(self, pad_id: bytes, digest: bytes) -> bytes | None:
        pc = self._pad(pad_id)
        with pc.lock:
            hit = pc.digests.get(digest)
        return None if hit is None else hit[1]

    def append(self, pad_id: bytes, query_id: bytes, data: bytes, *, end: bool = False) -> None:
        pc = self._pad(pad_id)
        head = _FRAME.pack(b"E" if end else b"F", query_id, len(data))
        with pc.lock:
            seg, pos = pc.write(head + data, time.time())
            entry = pc.entries.get(query_id)
            if entry is None:
                entry = pc.entries[query_id] = _Entry(seg)
            entry.frames.append((seg, pos + _FRAME.size, len(data)))
            entry.ended = entry.ended or end

    def progress(self, pad_id: bytes, query_id: bytes) -> tuple[int, bool]:
        """(how many answer frames were sent, whether the answer was closed), without reading
        the frames."""
        pc = self._pad(pad_id)
        with pc.lock:
            entry = pc.entries.get(query_id)
            return (0, False) if entry is None else (len(entry.frames), entry.ended)

    def frames(self, pad_id: bytes, query_id: bytes) -> tuple[list[bytes], bool]:
        """(frames sent so far, whether the answer was closed)."""
        pc = self._pad(pad_id)
        with pc.lock:
            entry = pc.entries.get(query_id)
            if entry is None:
                return [], False
            out = []
            for where in entry.frames:
                data = pc.read(*where)
                if data is None:
                    break
                out.append(data)
            return out, entry.ended

    def prune(self) -> None:
        """Apply the size and age bounds now (the gateway calls this periodically)."""
        now = time.time()
        for pc in list(self._pads.values()):
            with pc.lock:
                cur = pc.segments[-1]
                if cur.size and now - cur.last_write > pc.max_age / 8:
                    os.close(cur.fd)
                    cur.fd = -1
                    pc._open_new()
                pc._prune_locked(now)

    def size(self, pad_id: bytes) -> int:
        pc = self._pad(pad_id)
        with pc.lock:
            return sum(s.size for s in pc.segments)

    def close(self) -> None:
        for pc in self._pads.values():
            with pc.lock:
                pc.close()


def _segment_number(path: Path) -> int:
    try:
        return int(path.stem.split("-", 1)[1])
    except (IndexError, ValueError):
        return 0
