"""The SQLCipher seam: the only module that imports `sqlcipher3`.

`open_db(path, key)` returns a DB-API connection to an encrypted SQLCipher 4 database keyed with
a raw 256-bit key (no passphrase KDF: the key is already random). The connection is in
autocommit mode (`isolation_level=None`) so callers write explicit `BEGIN IMMEDIATE` transactions;
WAL journal with `synchronous=FULL` makes every commit durable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlcipher3

from custody.errors import LedgerError, LedgerKeyError

KEY_BYTES = 32
BUSY_TIMEOUT_MS = 60_000

DatabaseError = sqlcipher3.DatabaseError
IntegrityError = sqlcipher3.IntegrityError
OperationalError = sqlcipher3.OperationalError


def open_db(path: Path, key: bytes, *, create: bool = False, check_same_thread: bool = True) -> Any:
    """Open (or with `create`, create) the SQLCipher database at `path` with raw key `key`.
    `check_same_thread=False`: the caller serialises every use of the connection itself."""
    if len(key) != KEY_BYTES:
        raise LedgerKeyError("the ledger key must be 256 bits")
    if not create and not path.is_file():
        raise LedgerError(f"no ledger database at {path}")
    if create and not path.exists():
        # Created 0600 before SQLite opens it; SQLite gives -wal/-shm files the same mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        conn = sqlcipher3.connect(
            str(path),
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=check_same_thread,
        )
    except sqlcipher3.Error as exc:
        raise LedgerError(f"cannot open the ledger database at {path}") from exc
    try:
        # SQLCipher logs decryption failures to stderr; the error we raise says it once.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlcipher3.DatabaseError:
        conn.close()
        raise LedgerKeyError(
            f"the ledger at {path} does not open with this key (wrong HSM key or not a ledger)"
        ) from None
    return conn
