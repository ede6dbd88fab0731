"""The workstation's outbox: the exact frame bytes of questions whose answer has not ended.

`custody.link.workstation.WorkstationClient.ask` writes a question's sealed frames here before it
publishes them, retransmits exactly these bytes, and removes them once the answer has ended. What
a crash leaves behind is reported as an interrupted question (`reddoor ask` says so; its pad range
stays consumed, never sealed again). Format: docs/protocol.md, "Outbox".
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

from custody.bounded_read import read_file
from custody.durable_file import storage_error
from custody.errors import InputTooLarge

OUTBOX_MAGIC = b"RDOUTBOX1\n"  # the per-file layout of version 0.1
OUTBOX_LOG = "outbox.log"
# Pending queries only (the log is emptied when none is pending): a handful of questions of at
# most 4 MiB each. Larger is not an outbox this client wrote.
MAX_OUTBOX_BYTES = 64 << 20


class Outbox:
    """Exact frame bytes of queries not yet answered: one append-only log per pad.

    Records (big-endian): `Q` query id (16) | u32 frame count | (u32 length | frame)*, written
    before the frames are published; `D` query id (16) when the answer ended. When no query is
    pending the log is truncated to empty, so it stays small.

    Not fsynced by default, and that is safe for invariant 1: the pad journal has reserved the
    frames' ranges durably before they were sealed, so an outbox lost in a power cut only loses
    the *report* of the interrupted query — its pad range is skipped, never sealed again. A
    process crash (kill -9) loses nothing: the page cache keeps what `write` returned from.
    `durable=True` adds an fdatasync per query for a medium where the report must survive power
    loss too.
    """

    def __init__(self, directory: Path, durable: bool = False) -> None:
        self.dir = directory
        self.durable = durable
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / OUTBOX_LOG
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise storage_error(exc, self.path) from None
        self._lock = threading.Lock()
        self._legacy: set[str] = set()
        self._pending = self._load()

    def _load(self) -> dict[str, list[bytes]]:
        out: dict[str, list[bytes]] = {}
        size = os.fstat(self._fd).st_size
        if size > MAX_OUTBOX_BYTES:
            raise InputTooLarge(
                f"outbox {self.path} is larger than its limit of {MAX_OUTBOX_BYTES:,} bytes "
                "(not written by this client?); move it away to continue"
            )
        data = os.pread(self._fd, size, 0)
        pos = 0
        while pos + 17 <= len(data):
            tag, qid = data[pos : pos + 1], data[pos + 1 : pos + 17].hex()
            pos += 17
            if tag == b"D":
                out.pop(qid, None)
                continue
            if tag != b"Q" or pos + 4 > len(data):
                break  # torn tail (power loss while writing): nothing after it was written
            (count,) = struct.unpack_from(">I", data, pos)
            pos += 4
            frames = []
            for _ in range(count):
                if pos + 4 > len(data):
                    break
                (n,) = struct.unpack_from(">I", data, pos)
                frames.append(data[pos + 4 : pos + 4 + n])
                pos += 4 + n
            if pos > len(data) or len(frames) != count:
                break
            out[qid] = frames
        for path in sorted(self.dir.glob("*.frames")):  # the per-file layout of version 0.1
            old = read_file(path, MAX_OUTBOX_BYTES, "outbox file")
            if old.startswith(OUTBOX_MAGIC):
                out.setdefault(path.stem, _legacy_frames(old))
                self._legacy.add(path.stem)
        return out

    def _write(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if self.durable:
                os.fdatasync(self._fd)
        except OSError as exc:
            raise storage_error(exc, self.path) from None

    def put(self, query_id: bytes, frames: list[bytes]) -> None:
        rec = b"Q" + query_id + struct.pack(">I", len(frames))
        rec += b"".join(struct.pack(">I", len(f)) + f for f in frames)
        with self._lock:
            self._write(rec)
            self._pending[query_id.hex()] = frames

    def remove(self, query_id: bytes) -> None:
        with self._lock:
            if self._pending.pop(query_id.hex(), None) is None:
                return
            if query_id.hex() in self._legacy:
                (self.dir / f"{query_id.hex()}.frames").unlink(missing_ok=True)
            if self._pending:
                self._write(b"D" + query_id)
            else:
                try:
                    os.ftruncate(self._fd, 0)
                except OSError as exc:
                    raise storage_error(exc, self.path) from None

    def pending(self) -> dict[str, list[bytes]]:
        with self._lock:
            return dict(self._pending)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _legacy_frames(data: bytes) -> list[bytes]:
    frames, pos = [], len(OUTBOX_MAGIC)
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        frames.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return frames
