"""The local kiosk unlock passphrase, for a workstation kiosk that has no facility home.

A SCIF workstation has no ledger and no officers, so nobody could ever unlock or quit its kiosk.
The installer sets a kiosk unlock passphrase instead; only its Argon2id hash is kept, in a file
readable by the kiosk's user alone (0600):

    {"kdf": "argon2id", "version": 1, "salt": "<32 hex>", "iterations": 3, "lanes": 4,
     "memory_cost_kib": 65536, "hash": "<64 hex>"}

A file that others may read or write, or that does not parse, unlocks nothing (fail closed).
Without the file the kiosk can be left only through the session manager (systemd / the display
manager), which is what docs/user-guide.md tells the installer.

    python -m app.gui.kiosk_unlock /etc/reddoor/kiosk-unlock.json   # asks twice, no echo
"""

from __future__ import annotations

import getpass
import hmac
import json
import logging
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("/etc/reddoor/kiosk-unlock.json")
PARAMS = {"iterations": 3, "lanes": 4, "memory_cost_kib": 64 * 1024}
MIN_LENGTH = 12


def _derive(passphrase: str, salt: bytes, iterations: int, lanes: int, memory_kib: int) -> bytes:
    kdf = Argon2id(salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory_kib)
    return kdf.derive(passphrase.encode("utf-8"))


def write_unlock_file(path: Path, passphrase: str, **params: int) -> Path:
    """Store the Argon2id hash of `passphrase` at `path`, mode 0600 (atomically)."""
    if len(passphrase) < MIN_LENGTH:
        raise ValueError(f"the kiosk unlock passphrase needs at least {MIN_LENGTH} characters")
    p = {**PARAMS, **params}
    salt = os.urandom(16)
    digest = _derive(passphrase, salt, p["iterations"], p["lanes"], p["memory_cost_kib"])
    record = {"kdf": "argon2id", "version": 1, "salt": salt.hex(), **p, "hash": digest.hex()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def unlock_configured(path: Path) -> bool:
    return path.is_file()


def check_unlock_passphrase(path: Path, passphrase: str) -> bool:
    """True only if `path` is a private, well-formed hash file and `passphrase` matches."""
    try:
        st = path.stat()
        if st.st_mode & 0o077:
            log.warning("kiosk unlock file %s is readable by others; it unlocks nothing", path)
            return False
        rec = json.loads(path.read_text(encoding="utf-8"))
        if rec.get("kdf") != "argon2id":
            return False
        want = bytes.fromhex(rec["hash"])
        got = _derive(
            passphrase,
            bytes.fromhex(rec["salt"]),
            int(rec["iterations"]),
            int(rec["lanes"]),
            int(rec["memory_cost_kib"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("kiosk unlock file unusable (%s)", type(exc).__name__)
        return False
    return hmac.compare_digest(want, got)


def main(argv: list[str] | None = None) -> int:
    """Installer: set the kiosk unlock passphrase (asked twice, never from argv)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    first = getpass.getpass("Kiosk unlock passphrase: ")
    if first != getpass.getpass("Again: "):
        print("the two passphrases differ; nothing written", file=sys.stderr)
        return 2
    try:
        write_unlock_file(path, first)
    except (OSError, ValueError) as exc:
        print(f"kiosk unlock passphrase not set: {exc}", file=sys.stderr)
        return 2
    print(f"kiosk unlock passphrase hash written to {path} (0600)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
