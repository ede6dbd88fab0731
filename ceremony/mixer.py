"""Generate pad bytes: read each source separately, health-test each raw source, XOR-mix.

Order matters. Each source's raw output goes through its own `HealthMonitor` *before* it is
mixed: a stuck source XORed with a healthy one yields output that passes every test, so testing
after mixing would hide the fault. Only then are the sources XORed together. The XOR of
independent sources has at least the min-entropy of the best of them; it is not an SP 800-90B
approved conditioning function (see docs/entropy.md).

`generate` is a blocking core call with `progress(done, total)` and `cancel() -> bool`
callbacks, and an optional `observe(state, final)` that sees how each source is doing (bytes read,
time spent reading, its health monitor) and the running pad statistics, never a byte: the
ceremony's metrics textfile (ceremony/entropy_metrics.py) is written from it. The GUI runs it in
a worker thread, the CLI in the foreground. It owns two buffers
and zeroizes them (best effort: Python may have copied bytes elsewhere) when it returns or
fails. The sink receives a view into the first buffer and must copy what it keeps before it
returns; on failure the caller discards and zeroizes whatever its sink has written.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ceremony.entropy_sources import EntropySource, check_source_policy
from ceremony.errors import CeremonyCancelled
from ceremony.health_tests import STARTUP_SAMPLES, HealthMonitor, HealthTestParameters
from ceremony.pad_statistics import PadStatistics

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
Sink = Callable[[memoryview], None]

DEFAULT_CHUNK = 1 << 20
FIRST_PIECE = 4096
# Grow reads while each round takes less than this, so slow sources still report progress
# and notice a cancel within about a second or two.
TARGET_ROUND_SECONDS = 0.25


@dataclass
class SourceReading:
    """How one source is doing during `generate` (counts and its monitor; no bytes)."""

    name: str
    monitor: HealthMonitor
    bytes_read: int = 0  # raw bytes read, the start-up samples included
    read_seconds: float = 0.0  # time spent inside the source's readinto


@dataclass
class GenerationState:
    """What an observer of `generate` sees: updated in place, handed over after every round."""

    size: int
    readings: list[SourceReading]
    statistics: PadStatistics | None
    done: int = 0  # pad bytes produced so far


# Called after each round with final=False and once at the end (also on a failure, with the
# failed monitor in its reading) with final=True. It runs on generate's thread, between rounds.
Observe = Callable[[GenerationState, bool], None]


@dataclass
class GenerationResult:
    """What went into the pad, for the ledger and the receipt (no pad bytes)."""

    size: int
    mixing: dict[str, Any]
    sources: list[dict[str, Any]]
    health: list[dict[str, Any]]
    statistics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "mixing": self.mixing,
            "sources": self.sources,
            "health": self.health,
            "statistics": self.statistics,
            "seconds": self.seconds,
        }


def generate(
    sources: Sequence[EntropySource],
    size: int,
    sink: Sink,
    *,
    practice: bool,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    health: HealthTestParameters | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    statistics: bool = True,
    observe: Observe | None = None,
) -> GenerationResult:
    """Produce `size` pad bytes into `sink`, in order, and describe how.

    Raises `EntropyPolicyError` before reading anything if the sources are not allowed,
    `HealthTestFailure` (naming the source and the test) on the first alarm,
    `EntropySourceError` if a source fails, `CeremonyCancelled` if `cancel()` returns true.
    """
    if size < 0:
        raise ValueError("size must be >= 0")
    source_list = list(sources)
    mixing = check_source_policy(source_list, practice=practice)
    monitors = [HealthMonitor(s.name, health) for s in source_list]
    stats = PadStatistics() if statistics else None
    readings = [SourceReading(s.name, m) for s, m in zip(source_list, monitors, strict=True)]
    state = GenerationState(size, readings, stats)
    started = time.monotonic()

    def read(i: int, view: memoryview) -> None:
        t0 = time.perf_counter()
        source_list[i].readinto(view)
        readings[i].read_seconds += time.perf_counter() - t0
        readings[i].bytes_read += len(view)

    acc = bytearray(chunk_size)
    scratch = bytearray(chunk_size)
    acc_view, scratch_view = memoryview(acc), memoryview(scratch)
    acc_np = np.frombuffer(acc, dtype=np.uint8)
    scratch_np = np.frombuffer(scratch, dtype=np.uint8)
    try:
        if observe:
            observe(state, False)
        # Start-up tests (SP 800-90B 4.3) on each source's first 1,024 samples, discarded.
        for i, monitor in enumerate(monitors):
            _check_cancel(cancel)
            part = scratch_view[:STARTUP_SAMPLES]
            read(i, part)
            monitor.check(part)
        done = 0
        piece = min(FIRST_PIECE, chunk_size)
        if progress:
            progress(0, size)
        while done < size:
            _check_cancel(cancel)
            n = min(piece, size - done)
            t0 = time.monotonic()
            for i, monitor in enumerate(monitors):
                if i == 0:
                    read(i, acc_view[:n])
                    monitor.check(acc_np[:n])
                else:
                    read(i, scratch_view[:n])
                    monitor.check(scratch_np[:n])
                    np.bitwise_xor(acc_np[:n], scratch_np[:n], out=acc_np[:n])
            if stats is not None:
                stats.update(acc_np[:n])
            sink(acc_view[:n])
            done += n
            state.done = done
            if observe:
                observe(state, False)
            if progress:
                progress(done, size)
            if time.monotonic() - t0 < TARGET_ROUND_SECONDS and piece < chunk_size:
                piece = min(piece * 2, chunk_size)
    except BaseException:
        if observe:
            # The observer sees the alarm (the failed monitor); its own trouble must not hide
            # the error that stopped generation.
            with contextlib.suppress(Exception):
                observe(state, True)
        raise
    finally:
        # Our buffers hold pad or raw source bytes: wipe them on success and failure alike.
        # numpy views may still be alive here, so wipe in place (same length: no resize).
        acc_np.fill(0)
        scratch_np.fill(0)
    if observe:
        observe(state, True)
    result = GenerationResult(
        size=size,
        mixing=mixing,
        sources=[s.identity() for s in source_list],
        health=[m.summary() for m in monitors],
        statistics=stats.result() if stats is not None else {},
        seconds=round(time.monotonic() - started, 3),
    )
    log.info("generated %d pad bytes from %d source(s)", size, len(source_list))
    return result


def _check_cancel(cancel: Cancel | None) -> None:
    if cancel is not None and cancel():
        raise CeremonyCancelled("generation was cancelled; nothing generated is kept")
