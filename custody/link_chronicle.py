"""The gateway's chronicle: one record per processed query, written in batches to a sink.

A record says which pad ranges a query consumed in each direction, the sizes, the timings, the
outcome and the classification label given by the workstation — never plaintext and never pad
bytes. The sink is an interface so that the custody ledger can take the place of the JSONL file
used now: `ChronicleSink.write_batch(records)` must be durable when it returns.

JSONL format (one object per line, keys sorted): see docs/protocol-link.md §Chronicle.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from custody.durable_file import fsync_directory, storage_error

log = logging.getLogger(__name__)

FORMAT = "reddoor-link-chronicle/1"


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

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = FORMAT
        d["w2f_ranges"] = [list(r) for r in self.w2f_ranges]
        d["f2w_ranges"] = [list(r) for r in self.f2w_ranges]
        return d


class ChronicleSink(Protocol):
    def write_batch(self, records: Sequence[QueryRecord]) -> None: ...
    def close(self) -> None: ...


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
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
    return out


class Chronicle:
    """Batches records to a sink on its own thread so the ledger never slows the answer path."""

    def __init__(self, sink: ChronicleSink, *, batch: int = 64, interval: float = 0.2) -> None:
        self.sink = sink
        self._batch = batch
        self._interval = interval
        self._q: queue.Queue[QueryRecord | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="chronicle", daemon=True)
        self._thread.start()

    def record_query(self, record: QueryRecord) -> None:
        self._q.put(record)

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._q.get()
            items = [item]
            while len(items) < self._batch:
                try:
                    items.append(self._q.get(timeout=self._interval if item else 0))
                except queue.Empty:
                    break
            records = [r for r in items if r is not None]
            stop = any(r is None for r in items)
            if records:
                try:
                    self.sink.write_batch(records)
                except Exception as exc:
                    # The pad journals stay authoritative; the lost records are counted.
                    log.error(
                        "chronicle: %d records could not be written (%s)",
                        len(records),
                        type(exc).__name__,
                    )

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)
        self.sink.close()
