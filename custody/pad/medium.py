"""The medium under a pad copy: where its bytes live, and how far ahead its journal reserves.

`PadCopy` (custody.pad.pad_copy) reads and zeroizes its bytes through `PadBytes`: `FilePadBytes`
here for a pad file (the customer USB, a practice copy), `custody.pad.vault.VaultPadBytes` for the
facility's HSM vault. `AdaptiveBlock` sizes the journal's reservations, so that a slow USB stick
is not fsynced per message (docs/architecture.md, "Reservation blocks").
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import time
from pathlib import Path
from typing import Protocol

from custody.durable_file import storage_error
from custody.errors import PadFormatError

log = logging.getLogger(__name__)

DEFAULT_BLOCK = 64 * 1024
MAX_BLOCK_FACTOR = 16  # adaptive blocks grow to at most 16 × the configured block


class PadBytes(Protocol):
    """Where a side's pad bytes live: a file on the USB, or the HSM vault (facility)."""

    def read(self, offset: int, length: int) -> bytes | bytearray | memoryview: ...
    def zeroize(self, offset: int, length: int) -> None: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...


class FilePadBytes:
    """Raw pad bytes in a regular file (the customer USB, or a practice copy), memory-mapped.

    Reads are views into the mapping (no copies of pad bytes on the Python heap); zeroizing
    writes zeros into the mapping at once, and `sync` makes them durable (msync + fdatasync).
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise PadFormatError(f"pad file {path} is missing") from None
        except OSError as exc:
            raise PadFormatError(f"cannot open pad file {path}: {exc.strerror}") from None
        actual = os.fstat(self._fd).st_size
        if actual != size:
            os.close(self._fd)
            raise PadFormatError(
                f"pad file {path} is {actual} bytes but the manifest says {size} (truncated?)"
            )
        try:
            self._map = mmap.mmap(self._fd, size, access=mmap.ACCESS_WRITE)
        except OSError as exc:
            os.close(self._fd)
            raise PadFormatError(f"cannot map pad file {path}: {exc.strerror}") from None
        self._view = memoryview(self._map)
        self._dirty_lo, self._dirty_hi = 1 << 62, 0  # span zeroized since the last sync

    def read(self, offset: int, length: int) -> memoryview:
        return self._view[offset : offset + length]

    def zeroize(self, offset: int, length: int) -> None:
        self._view[offset : offset + length] = _zeros(length)
        self._dirty_lo = min(self._dirty_lo, offset)
        self._dirty_hi = max(self._dirty_hi, offset + length)

    def sync(self) -> None:
        if self._dirty_hi > self._dirty_lo:
            start = self._dirty_lo - self._dirty_lo % mmap.PAGESIZE
            try:
                # msync(MS_SYNC) of the dirty span only: on Linux this writes the pages back
                # and waits, like fdatasync on the range, without walking the whole mapping.
                self._map.flush(start, self._dirty_hi - start)
            except OSError as exc:
                raise storage_error(exc, self.path) from None
            self._dirty_lo, self._dirty_hi = 1 << 62, 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sync()
        os.close(self._fd)
        try:
            self._view.release()
            self._map.close()
        except BufferError:
            # A view is still referenced (e.g. by a traceback being handled); the mapping is
            # unmapped when that view is collected.
            log.debug("pad mapping still referenced at close; left to the collector")


_ZEROS = bytes(1 << 17)


def _zeros(length: int) -> bytes | memoryview:
    return memoryview(_ZEROS)[:length] if length <= len(_ZEROS) else bytes(length)


class AdaptiveBlock:
    """How far ahead to reserve: the configured block, grown while traffic is heavy.

    Each reservation that comes less than a second after the previous one doubles the block, up
    to MAX_BLOCK_FACTOR × the configured size; a pause of ten seconds resets it. Interactive use
    keeps the small block (a crash loses little pad); bulk streams stop paying an fsync every
    64 KiB. Frames larger than an eighth of the block get eight frames' worth.
    """

    def __init__(self, base: int) -> None:
        self.base = base
        self.current = base
        self._last: float | None = None

    def next_size(self, length: int) -> int:
        now = time.monotonic()
        if self._last is not None:
            gap = now - self._last
            if gap < 1.0:
                self.current = min(self.current * 2, self.base * MAX_BLOCK_FACTOR)
            elif gap > 10.0:
                self.current = self.base
        self._last = now
        return max(self.current, 8 * length)
