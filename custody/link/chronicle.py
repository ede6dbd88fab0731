"""The gateway's chronicle: one record per processed query, written in batches to a sink.

A record says which pad ranges a query consumed in each direction, the sizes, the timings, the
outcome and the classification label given by the workstation — never plaintext and never pad
bytes. Sinks: `LedgerChronicleSink` (the custody ledger, `link.query` events: the production
record, also of the desktop application's practice gateway) and `JsonlChronicleSink` (a file:
`reddoor gateway --chronicle`, tests; no report reads it). `write_batch(records)` must be
durable when it returns.

Threads: the `Chronicle` runs every sink call (`open`, `write_batch`, `close`) on its own thread,
because an SQLite connection belongs to the thread that opened it; a batch that fails is kept and
retried (bounded), never silently dropped while the gateway runs.

Formats: docs/protocol.md §The link, Chronicle; the ledger event in docs/ledger.md.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from custody.bounded_read import iter_lines
from custody.durable_file import fsync_directory, storage_error

log = logging.getLogger(__name__)

FORMAT = "reddoor-link-chronicle/1"
LEDGER_EVENT = "link.query"
SHUTDOWN_GRACE = 10.0  # seconds of retries at close before records are reported unwritten
# A chronicle read back (export, reconcile) is held in memory: 64 MiB is about 100,000 queries.
# The production record is the ledger (`--ledger`), which has no such limit.
MAX_CHRONICLE_BYTES = 64 << 20
MAX_CHRONICLE_LINE = 1 << 20  # one query's record: a 4 MiB answer's ranges are about 25 KiB
MAX_HELD = 100_000  # records kept for retry while the sink fails; beyond, the oldest are counted


@dataclass
class QueryRecord:
    query_id: str  # 32 hex
    pad_id: str  # 32 hex
    gateway: str
    backend: str
    classification: str | None = None
    received_at: float = 0.0  # unix time of the first query frame
    finished_at: float = 0.0
    first_answer_ms: float | None = None  # query complete → first answer frame sent
    total_ms: float = 0.0
    query_frames: int = 0
    query_bytes: int = 0  # plaintext size of the question (a size, not the text)
    answer_frames: int = 0
    answer_bytes: int = 0
    w2f_ranges: list[tuple[int, int]] = field(default_factory=list)  # [offset, length]
    f2w_ranges: list[tuple[int, int]] = field(default_factory=list)
    outcome: str = "answered"  # answered | error | pad-exhausted | suspended | lost-in-restart
    # | refused-by-policy
    # Frame modes (custody.pad.frame_policy.FrameMode.word): "otp" or "pad-keyed"; the answer's
    # is pad-keyed if any of its frames was, None while no answer frame was sent.
    question_mode: str = "otp"
    answer_mode: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = FORMAT
        d["w2f_ranges"] = [list(r) for r in self.w2f_ranges]
        d["f2w_ranges"] = [list(r) for r in self.f2w_ranges]
        return d

    def to_ledger_payload(self) -> dict[str, Any]:
        """The `link.query` event payload: integers and strings only (the ledger refuses
        floats), adjacent ranges merged (an answer's frames are usually contiguous)."""
        return {
            "query_id": self.query_id,
            "pad_id": self.pad_id,
            "gateway": self.gateway,
            "backend": self.backend,
            "classification": self.classification,
            "received_at": _iso(self.received_at),
            "finished_at": _iso(self.finished_at),
            "first_answer_us": (
                None if self.first_answer_ms is None else round(self.first_answer_ms * 1000)
            ),
            "total_us": round(self.total_ms * 1000),
            "query_frames": self.query_frames,
            "query_bytes": self.query_bytes,
            "answer_frames": self.answer_frames,
            "answer_bytes": self.answer_bytes,
            "w2f_ranges": merge_ranges(self.w2f_ranges),
            "f2w_ranges": merge_ranges(self.f2w_ranges),
            "outcome": self.outcome,
            "question_mode": self.question_mode,
            "answer_mode": self.answer_mode,
        }


def _iso(t: float) -> str | None:
    if not t:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def merge_ranges(ranges: Sequence[tuple[int, int] | list[int]]) -> list[list[int]]:
    """[[offset, length], ...] sorted, with touching ranges merged."""
    out: list[list[int]] = []
    for off, length in sorted((int(a), int(b)) for a, b in ranges):
        if out and out[-1][0] + out[-1][1] == off:
            out[-1][1] += length
        else:
            out.append([off, length])
    return out


class ChronicleSink(Protocol):
    """Where records go. An optional `open()` is called first, on the chronicle's thread."""

    def write_batch(self, records: Sequence[QueryRecord]) -> None: ...
    def close(self) -> None: ...


class _Ledger(Protocol):
    def append_many(self, drafts: Any) -> Any: ...


class _Home(Protocol):
    """What `custody.ledger.home.open_home` returns, as far as the chronicle needs it."""

    @property
    def ledger(self) -> _Ledger: ...

    def close(self) -> None: ...


class LedgerChronicleSink:
    """`link.query` events in the custody ledger, one transaction (`append_many`) per batch.

    `opener` opens the facility home; it runs on the chronicle's thread, which then owns the
    ledger connection. After `Chronicle(...)` returns, `home` is open and its token may serve
    other threads (the token is thread-safe; the ledger connection is not shared).
    """

    def __init__(self, opener: Callable[[], _Home]) -> None:
        self._opener = opener
        self.home: Any = None

    def open(self) -> None:
        self.home = self._opener()

    def write_batch(self, records: Sequence[QueryRecord]) -> None:
        from custody.ledger.chain import EventDraft

        self.home.ledger.append_many(
            [EventDraft(LEDGER_EVENT, r.to_ledger_payload()) for r in records]
        )

    def close(self) -> None:
        if self.home is not None:
            self.home.close()
            self.home = None


class JsonlChronicleSink:
    """Appends records to a JSONL file (0600), fsync per batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = not path.exists()
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise storage_error(exc, path) from None
        if new:
            fsync_directory(path.parent)

    def write_batch(self, records: Sequence[QueryRecord]) -> None:
        data = "".join(json.dumps(r.to_json(), sort_keys=True) + "\n" for r in records).encode()
        try:
            os.write(self._fd, data)
            os.fsync(self._fd)
        except OSError as exc:
            raise storage_error(exc, self.path) from None

    def close(self) -> None:
        os.close(self._fd)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL chronicle. OSError and ValueError (not JSON) propagate; a file or a
    line over its limit is InputTooLarge."""
    out = []
    for line in iter_lines(path, MAX_CHRONICLE_BYTES, MAX_CHRONICLE_LINE, "chronicle"):
        if line.strip():
            out.append(json.loads(line))
    return out


class Chronicle:
    """Batches records to a sink on its own thread so the ledger never slows the answer path.

    The sink's `open()` (if any) runs on that thread before this constructor returns, and its
    errors are raised here: a gateway whose ledger cannot be opened does not start.
    """

    def __init__(self, sink: ChronicleSink, *, batch: int = 64, interval: float = 0.2) -> None:
        self.sink = sink
        self._batch = batch
        self._interval = interval
        self._q: queue.Queue[QueryRecord | None] = queue.Queue()
        self._held: list[QueryRecord] = []
        self.lost = 0  # records given up after MAX_HELD failed retries (logged)
        self.written = 0
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chronicle", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            self._thread.join(timeout=10)
            raise self._open_error

    def record_query(self, record: QueryRecord) -> None:
        self._q.put(record)

    def _run(self) -> None:
        opener = getattr(self.sink, "open", None)
        try:
            if opener is not None:
                opener()
        except BaseException as exc:
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop()
        finally:
            try:
                self.sink.close()
            except Exception as exc:
                log.error("chronicle: closing the sink failed (%s)", type(exc).__name__)

    def _loop(self) -> None:
        while True:
            try:
                first = self._q.get(timeout=self._interval if self._held else None)
            except queue.Empty:
                first = _RETRY  # held records wait for their retry
            items = [first]
            while first is not None and first is not _RETRY and len(items) < self._batch:
                try:
                    items.append(self._q.get(timeout=self._interval))
                except queue.Empty:
                    break
            stop = any(r is None for r in items)
            self._held.extend(r for r in items if r is not None and r is not _RETRY)
            if self._held:
                self._flush()
            if stop:
                deadline = time.monotonic() + SHUTDOWN_GRACE
                while self._held and time.monotonic() < deadline:
                    if not self._flush():
                        time.sleep(self._interval)
                if self._held:
                    log.error("chronicle: %d records unwritten at shutdown", len(self._held))
                return

    def _flush(self) -> bool:
        records = self._held[: self._batch * 16]
        try:
            self.sink.write_batch(records)
        except Exception as exc:
            # Kept and retried; the pad journals stay authoritative for what was consumed.
            log.error(
                "chronicle: %d records could not be written yet (%s)",
                len(self._held),
                type(exc).__name__,
            )
            if len(self._held) > MAX_HELD:
                drop = len(self._held) - MAX_HELD
                del self._held[:drop]
                self.lost += drop
                log.error("chronicle: %d records given up", drop)
            return False
        del self._held[: len(records)]
        self.written += len(records)
        return True

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=30)


_RETRY = QueryRecord("", "", "", "")  # wakes the loop to retry held records
