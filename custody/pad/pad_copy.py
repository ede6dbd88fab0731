"""One side's copy of a pad in use: `PadCopy`, over its bytes, manifest and journal.

Rules this module keeps (docs/pad-format.md):

* Send: a range is reserved in the journal, durably, before any of its bytes is read for use.
  Reservations come in blocks so a slow USB stick does not fsync per message; a crash loses at
  most one block and never reuses a byte. A clean close gives back the unused tail of the block.
* Receive: a range is accepted only if no byte of it was seen before and it lies above the
  consumed mark; the receive window mark is advanced durably before plaintext is released, so a
  crash can lose an in-flight frame but never accept a replay.
* Used ranges are zeroized on the medium (best effort on flash: wear levelling keeps old cells).
* Rollback: the journal carries a generation number mirrored in a host-side witness; a journal
  older than the witness, or pad bytes beyond the journal's marks that are already zeroized,
  is refused.
* One process at a time: an exclusive lock on the copy.

A copy is opened by `custody.pad.store` (a pad directory, or any medium through `open_copy`);
its bytes are a `custody.pad.medium.PadBytes` and its host-side record a
`custody.pad.witness.Witness`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from custody.durable_file import write_atomic
from custody.errors import PadExhaustedError, PadFormatError, PadRollbackError
from custody.pad.frame_policy import FramePolicy
from custody.pad.journal import IntervalSet, JournalState
from custody.pad.keyed import ReceivedKeys
from custody.pad.manifest import Direction, Manifest, Region
from custody.pad.medium import DEFAULT_BLOCK, AdaptiveBlock, PadBytes
from custody.pad.witness import Witness

log = logging.getLogger(__name__)

ROLLBACK_PROBES = 8  # block starts checked past each mark when a copy is opened
WARN_FRACTIONS = (0.10, 0.01)


def _gaps(start: int, end: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) that no interval of `covered` (sorted, disjoint) covers."""
    out, pos = [], start
    for a, b in covered:
        if b <= pos or a >= end:
            continue
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    if pos < end:
        out.append((pos, end))
    return out


@dataclass(frozen=True)
class RegionStatus:
    direction: Direction
    length: int
    used: int  # bytes consumed (or reserved) so far
    remaining: int  # bytes still available to ordinary frames
    warning: str | None


class CopyGuard(Protocol):
    """Something outside the copy that must agree before it is used, e.g. the facility
    ledger (custody.lifecycle.marks.MarksGuard): `open` runs `opener` and checks what it opened."""

    def open(self, pad_id: bytes, opener: Callable[[], PadCopy]) -> PadCopy: ...


class PadCopy:
    """A side's view of one pad. Use `open_pad_dir` for a pad directory."""

    def __init__(
        self,
        manifest: Manifest,
        journal: JournalState,
        journal_path: Path,
        pad_bytes: PadBytes,
        *,
        witness: Witness | None,
        block: int = DEFAULT_BLOCK,
        lock_fd: int | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.manifest = manifest
        # Called with every new journal state before it is written (and before any byte it
        # reserves is used); raising stops the write. The facility home's ledger mirrors its
        # facility copies' journals through this (custody.lifecycle.marks), so that a copy
        # restored from a backup can be recognised against the ledger, which is not restored.
        self.before_journal: Callable[[JournalState], None] | None = None
        # The frame policy in force for this copy: the manifest's, made stricter by a record
        # that outranks it (the facility ledger, custody.lifecycle.serving; the facility's word
        # to a workstation, custody.link.presence). The frame layer refuses what it forbids.
        self.frame_policy: FramePolicy = manifest.policy
        # Pad-keyed keys this copy has received and still expects frames under (in memory).
        self.received_keys = ReceivedKeys()
        self.side = journal.side
        self.journal_path = journal_path
        self.pad_bytes = pad_bytes
        self.witness = witness
        self.block = block
        self._state = journal
        self._lock_fd = lock_fd
        self._on_warning = on_warning or (lambda msg: log.warning("%s", msg))
        self.send_region = manifest.region(journal.side.sends)
        self.recv_region = manifest.region(journal.side.receives)
        # Hot-path constants (the frame codec reads these per frame).
        self.pad_id = manifest.pad_id
        self.send_code = journal.side.sends.code
        self.recv_code = journal.side.receives.code
        self._recv_start = self.recv_region.start
        self._recv_end = self.recv_region.end
        self._next = journal.send_reserved
        self._recv_floor = journal.recv_mark
        self._recv_seen = IntervalSet(journal.recv_seen)
        self._recv_durable = journal.recv_mark
        self._send_block = AdaptiveBlock(block)
        self._recv_block = AdaptiveBlock(block)
        self._warned: set[float] = set()
        s_region = self.send_region
        self._warn_at = s_region.usable_end - int(s_region.length * max(WARN_FRACTIONS))
        self._closed = False
        self._check_marks()

    # -- opening checks -------------------------------------------------------------------
    def _check_marks(self) -> None:
        s, r, j = self.send_region, self.recv_region, self._state
        if not (s.start <= j.send_reserved <= s.end and r.start <= j.recv_mark <= r.end):
            raise PadFormatError(f"{self.journal_path}: marks lie outside the pad's regions")
        if any(not (j.recv_mark <= a < b <= r.end) for a, b in j.recv_seen):
            raise PadFormatError(f"{self.journal_path}: seen ranges lie outside the region")

    def check_medium(self) -> None:
        """Refuse a journal whose marks are below bytes the medium shows as already used.

        Used ranges are zeroized; 32 random bytes are all zero with probability 2^-256, so a zero
        word just past a mark means the journal is older than the pad bytes (a restored journal).
        """
        for region, mark in ((self.send_region, self._next), (self.recv_region, self._recv_floor)):
            for i in range(ROLLBACK_PROBES):
                probe = mark + i * self.block
                if probe + 32 > region.end:
                    break
                if region is self.recv_region and self._recv_seen.overlaps(probe, probe + 32):
                    continue  # consumed out of order, legitimately zeroized
                if not any(bytes(self.pad_bytes.read(probe, 32))):
                    raise PadRollbackError(
                        f"pad bytes past the journal's {region.direction.label} mark (offset "
                        f"{probe}) are already zeroized: the journal is older than the pad "
                        "(restored from a backup?); refusing to reuse pad bytes"
                    )

    def check_witness(self) -> None:
        if self.witness is None:
            return
        seen = self.witness.read()
        j = self._state
        if seen is None:
            self.witness.write(j)
            return
        if seen.manifest_sha256 != j.manifest_sha256:
            raise PadRollbackError(
                "this pad's manifest differs from the one this host recorded; refusing"
            )
        if seen.generation > j.generation or (
            seen.generation == j.generation and seen.to_bytes() != j.to_bytes()
        ):
            raise PadRollbackError(
                f"the journal on the medium (generation {j.generation}) is older than this "
                f"host's record (generation {seen.generation}): an older journal or a copy of "
                "the USB was restored; refusing to reuse pad bytes"
            )
        if seen.generation < j.generation:
            log.info("journal is ahead of this host's witness; pad used elsewhere since")
            self.witness.write(j)

    # -- journal --------------------------------------------------------------------------
    def _write_journal(
        self,
        *,
        send_reserved: int | None = None,
        recv_mark: int | None = None,
        recv_seen: list[tuple[int, int]] | None = None,
        generation: int = 0,
    ) -> None:
        old = self._state
        state = JournalState(
            pad_id=old.pad_id,
            manifest_sha256=old.manifest_sha256,
            side=self.side,
            generation=max(old.generation + 1, generation),
            send_reserved=old.send_reserved if send_reserved is None else send_reserved,
            recv_mark=old.recv_mark if recv_mark is None else recv_mark,
            recv_seen=list(old.recv_seen if recv_seen is None else recv_seen),
        )
        # Used ranges are zeroized on the medium before the journal that stops their reuse
        # moves on (the rollback probe in check_medium relies on this order).
        self.flush_zeroize()
        if self.before_journal is not None:
            self.before_journal(state)
        write_atomic(self.journal_path, state.to_bytes())
        self._state = state
        if self.witness is not None:
            self.witness.write(state)

    @property
    def generation(self) -> int:
        return self._state.generation

    @property
    def journal(self) -> JournalState:
        """The journal as last written (the marks the medium holds durably)."""
        return self._state

    def raise_marks(
        self, send_to: int, recv_to: int, *, generation_at_least: int = 0
    ) -> tuple[int, int]:
        """Move the send reservation up to `send_to` and the receive mark up to `recv_to`
        (never down), zeroizing what is passed over; return the bytes forgone per direction.

        For a copy found behind a record it cannot argue with (the facility ledger): every
        byte below the new marks is treated as used, which can waste pad but never reuse it.
        The journal written gets at least `generation_at_least` (above a witness or a ledger
        record that saw later generations of a restored journal).
        """
        self._ensure_open()
        send_to = min(max(send_to, self._next), self.send_region.end)
        recv_to = min(max(recv_to, self._recv_floor), self.recv_region.end)
        forgone_send = send_to - self._next
        # Receive bytes passed over: the new span minus what was already seen in it.
        seen_below = sum(
            min(b, recv_to) - max(a, self._recv_floor)
            for a, b in self._recv_seen.items()
            if a < recv_to and b > self._recv_floor
        )
        forgone_recv = recv_to - self._recv_floor - seen_below
        if forgone_send == 0 and forgone_recv == 0 and generation_at_least <= self.generation:
            return 0, 0
        if forgone_send:
            self.zeroize(self._next, forgone_send)
        for a, b in _gaps(self._recv_floor, recv_to, self._recv_seen.items()):
            self.zeroize(a, b - a)
        seen = IntervalSet(
            [(max(a, recv_to), b) for a, b in self._recv_seen.items() if b > recv_to]
        )
        while (floor := seen.pop_prefix(recv_to)) != recv_to:
            recv_to = floor
        mark = max(recv_to, self._state.recv_mark)
        self._write_journal(
            send_reserved=max(send_to, self._state.send_reserved),
            recv_mark=mark,
            recv_seen=[(max(a, mark), b) for a, b in seen.items() if b > mark],
            generation=generation_at_least,
        )
        self._next = send_to
        self._recv_floor = recv_to
        self._recv_seen = seen
        self._recv_durable = max(self._recv_durable, mark)
        return forgone_send, forgone_recv

    # -- sending --------------------------------------------------------------------------
    def remaining_send(self, *, include_reserve: bool = False) -> int:
        end = self.send_region.end if include_reserve else self.send_region.usable_end
        return max(0, end - self._next)

    def reserve_send(self, length: int, *, use_reserve: bool = False) -> int:
        """Durably reserve `length` bytes of the send region; return the absolute offset."""
        self._ensure_open()
        region = self.send_region
        limit = region.end if use_reserve else region.usable_end
        if self._next + length > limit:
            raise PadExhaustedError(
                f"pad exhausted: the {region.direction.label} region has "
                f"{max(0, limit - self._next)} bytes left, this frame needs {length}"
            )
        if self._next + length > self._state.send_reserved:
            new_end = min(limit, self._next + self._send_block.next_size(length))
            self._write_journal(send_reserved=new_end)
        offset = self._next
        self._next += length
        if self._next > self._warn_at:
            self._maybe_warn(region, self._next)
        return offset

    def _maybe_warn(self, region: Region, used_to: int) -> None:
        left = region.usable_end - used_to
        for fraction in WARN_FRACTIONS:
            if left <= region.length * fraction and fraction not in self._warned:
                self._warned.add(fraction)
                self._on_warning(
                    f"pad low: {left} bytes ({fraction:.0%} or less) left in the "
                    f"{region.direction.label} region"
                )

    # -- receiving ------------------------------------------------------------------------
    def receive_high(self) -> int:
        """One past the highest byte received so far (the receive region's start if none)."""
        seen = self._recv_seen
        return max(self._recv_floor, seen.items()[-1][1]) if len(seen) else self._recv_floor

    def remaining_receive(self) -> int:
        """Bytes of the receive region above everything received (what the peer has left)."""
        return max(0, self.recv_region.usable_end - self.receive_high())

    def receive_verdict(self, offset: int, length: int) -> tuple[str, str] | None:
        """None if [offset, offset+length) may be received, else (reason, message)."""
        if not (self._recv_start <= offset and offset + length <= self._recv_end and length > 0):
            return (
                "outside-region",
                f"range {offset}+{length} is outside the {self.recv_region.direction.label} region",
            )
        if offset < self._recv_floor or self._recv_seen.overlaps(offset, offset + length):
            return ("replay", f"range {offset}+{length} was already consumed (replay or reuse)")
        return None

    def commit_received(self, offset: int, length: int) -> None:
        """Record a received range as consumed, durably before its plaintext is released."""
        self._ensure_open()
        end = offset + length
        if end > self._recv_durable:
            mark = min(self.recv_region.end, end + self._recv_block.next_size(length))
            self._write_journal(recv_mark=mark, recv_seen=[])
            self._recv_durable = mark
        if offset == self._recv_floor and not len(self._recv_seen):
            self._recv_floor = end  # in order: the common case, no interval bookkeeping
            return
        self._recv_seen.add(offset, end)
        while (new_floor := self._recv_seen.pop_prefix(self._recv_floor)) != self._recv_floor:
            self._recv_floor = new_floor

    # -- bytes ----------------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes | bytearray | memoryview:
        """Pad bytes of a range. May be a view: do not keep it past the range's use."""
        return self.pad_bytes.read(offset, length)

    def zeroize(self, offset: int, length: int) -> None:
        """Zeroize a used range on the medium.

        The zeros are written at once; making them durable (msync + fdatasync) is coalesced and
        happens at the latest before the next journal write or at close, so a used range can
        survive a power loss for at most one reservation block.
        """
        self.pad_bytes.zeroize(offset, length)

    def flush_zeroize(self) -> None:
        self.pad_bytes.sync()

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[Direction, RegionStatus]:
        out: dict[Direction, RegionStatus] = {}
        for region in (self.send_region, self.recv_region):
            used = (
                self._next - region.start
                if region is self.send_region
                else max(self._recv_floor, *(b for _, b in self._recv_seen.items()), region.start)
                - region.start
            )
            remaining = max(0, region.usable_end - region.start - used)
            warning = None
            if remaining <= region.length * WARN_FRACTIONS[1]:
                warning = "pad critically low"
            elif remaining <= region.length * WARN_FRACTIONS[0]:
                warning = "pad low"
            out[region.direction] = RegionStatus(
                region.direction, region.length, used, remaining, warning
            )
        return out

    # -- lifecycle ------------------------------------------------------------------------
    def _ensure_open(self) -> None:
        if self._closed:
            raise PadFormatError("pad copy is closed")

    def close(self) -> None:
        """Write the exact state (giving back the unreserved tail) and release the lock.

        Nothing is written when the journal already holds that state (nothing was sent or
        received, or only frames refused before authentication arrived): a journal write means
        a change, and `generation` counts changes (docs/pad-format.md)."""
        if self._closed:
            return
        try:
            j, seen = self._state, self._recv_seen.items()
            if (j.send_reserved, j.recv_mark, j.recv_seen) != (self._next, self._recv_floor, seen):
                self._write_journal(
                    send_reserved=self._next, recv_mark=self._recv_floor, recv_seen=seen
                )
        finally:
            self._closed = True
            self.pad_bytes.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)

    def abandon(self) -> None:
        """Release without writing (as a crash would); used by tests and error paths."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                self.pad_bytes.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)

    def __enter__(self) -> PadCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
