"""Helpers shared by the ledger, home, HSM and officer tests (no tests here).

Real SoftHSM2 tokens in temporary directories and real SQLCipher files throughout.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from custody.ledger import database as ledger_store
from custody.ledger import home, officers
from custody.ledger.chain import Ledger

ALICE = ("alice", "alice passphrase 1")
BOB = ("bob", "bob passphrase 22")
CAROL = ("carol", "carol passphrase 333")


def make_home(path: Path) -> home.HomeSettings:
    return home.init_home(path, practice=True)


def db_key(path: Path) -> bytes:
    """The ledger database key, unsealed on the token: what an insider with the PIN holds."""
    settings = home.load_settings(path)
    with home.hsm.Token.open(
        settings.token_label,
        home.practice_pin(path),
        settings.pkcs11_module,
        softhsm_conf=path / home.PRACTICE_DIR / home.SOFTHSM_CONF,
    ) as token:
        sealed = (path / home.SEALED_KEY).read_bytes()
        return token.unseal_secret(
            settings.db_key_label,
            sealed,
            home._db_key_aad(settings.origin),  # tests act as the insider
        )


def populate(led: Ledger, extra_events: int = 8) -> None:
    """Three officers, approved and plain events, a retirement, refusals, checkpoints."""
    officers.enroll(led, *ALICE)
    officers.enroll(led, *BOB)
    officers.enroll(led, *CAROL, approvers=[ALICE, BOB])
    led.checkpoint()
    for i in range(extra_events):
        led.append("pad.note", {"pad_id": f"pad-{i}", "offset": i * 4096}, actors=("gateway",))
    officers.append_with_officers(
        led, "pad.generated", {"pad_id": "pad-x", "size": 1 << 20}, [ALICE, CAROL]
    )
    officers.retire(led, "carol", [ALICE, BOB])
    led.checkpoint()


def open_copy(src_home: Path, key: bytes, dest: Path) -> Any:
    """Copy a closed ledger database and open the copy with the right key (an insider's view)."""
    shutil.copyfile(src_home / home.LEDGER_DB, dest)
    return ledger_store.open_db(dest, key)


def verify_conn(conn: Any, led_meta: tuple[str, str, bytes], external: list[tuple[str, str]]):
    from custody.ledger.verify import verify_ledger

    origin, key_name, public_key = led_meta
    return verify_ledger(
        conn, origin=origin, key_name=key_name, public_key=public_key, external=external
    )
