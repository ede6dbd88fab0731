"""Ledger benchmark: 100,000 durable batched appends vs raw SQLCipher inserts; verify time.

Run: ``python -m tests.benchmarks.bench_ledger`` (``make bench`` calls `main()`). The baseline
inserts the very same rows (as the ledger stored them) into a plain SQLCipher table with the
same durability (WAL, synchronous=FULL) and the same batch size, in the same run. Targets
(issue 3): appends at least 40% of the baseline rate; verifying 100,000 events under 5 s.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from custody import merkle
from custody.ledger import database as ledger_store
from custody.ledger import home
from custody.ledger.chain import EventDraft
from custody.ledger.verify import verify_ledger

EVENTS = 100_000
BATCH = 1_000


def _drafts(start: int, count: int) -> list[EventDraft]:
    return [
        EventDraft(
            "pad.consumed",
            {"pad_id": "a1b2c3d4e5f60718", "direction": "w2f", "offset": i * 4096, "length": 4096},
            ("gateway",),
        )
        for i in range(start, start + count)
    ]


def _baseline_db(path: Path) -> Any:
    conn = ledger_store.open_db(path, os.urandom(32), create=True)
    conn.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, type TEXT NOT NULL, "
        "actors BLOB NOT NULL, payload BLOB NOT NULL, approvals BLOB NOT NULL, "
        "prev_hash BLOB NOT NULL, hash BLOB NOT NULL)"
    )
    return conn


def _baseline_batch(conn: Any, rows: list[tuple[Any, ...]]) -> float:
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    return time.perf_counter() - t0


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="reddoor-bench-ledger-") as tmp:
        root = Path(tmp)
        home.init_home(root / "home", practice=True)
        with home.open_home(root / "home") as h:
            led = h.ledger
            base = _baseline_db(root / "baseline.db")
            append_s = baseline_s = 0.0
            # Interleaved batch by batch, so both see the same machine load (2 shared cores).
            for start in range(0, EVENTS, BATCH):
                drafts = _drafts(start, BATCH)
                t0 = time.perf_counter()
                events = led.append_many(drafts)
                append_s += time.perf_counter() - t0
                rows = led.conn.execute(
                    "SELECT seq, time, type, actors, payload, approvals, prev_hash, hash "
                    "FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq",
                    (events[0].seq, events[-1].seq),
                ).fetchall()
                baseline_s += _baseline_batch(base, rows)
            base.close()

            t0 = time.perf_counter()
            note = led.checkpoint()
            checkpoint_s = time.perf_counter() - t0

            t0 = time.perf_counter()
            report = verify_ledger(
                led.conn, origin=led.origin, key_name=led.key_name, public_key=led.public_key
            )
            verify_s = time.perf_counter() - t0

            t0 = time.perf_counter()
            leaves = led.leaf_hashes()
            merkle.inclusion_proof(leaves, EVENTS // 2)
            prove_s = time.perf_counter() - t0
            size = led.size()
        db_bytes = sum(p.stat().st_size for p in (root / "home").glob("ledger.db*"))
    append_rate = EVENTS / append_s
    baseline_rate = EVENTS / baseline_s
    return {
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}",
        "events": EVENTS,
        "batch": BATCH,
        "ledger_size": size,
        "append_seconds": round(append_s, 3),
        "append_events_per_s": round(append_rate),
        "baseline_seconds": round(baseline_s, 3),
        "baseline_rows_per_s": round(baseline_rate),
        "append_vs_baseline": round(append_rate / baseline_rate, 3),
        "append_target_met": append_rate / baseline_rate >= 0.40,
        "verify_seconds": round(verify_s, 3),
        "verify_ok": report.ok,
        "verify_target_met": verify_s < 5.0 and report.ok,
        "checkpoint_seconds": round(checkpoint_s, 3),
        "inclusion_proof_seconds": round(prove_s, 3),
        "db_bytes": db_bytes,
        "checkpoint_size_line": note.split("\n")[1],
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
