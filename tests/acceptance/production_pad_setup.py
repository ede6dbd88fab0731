"""Run as a subprocess by test_lifecycle_production.py: a production home on a fresh SoftHSM2
token and one PRODUCTION pad made by the real ceremony state machine through the Python API.

Two test doubles, both honest about what they replace (and only possible under
REDDOOR_TESTING=1): the "hardware RNG" is a FIFO fed from os.urandom (a FIFO counts as a
hardware device), and the customer "USB drive" is a directory reported as removable (the CLI
refuses a fixed disk for a production customer copy, rightly). Usage: DIR PADS_OUT_JSON
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from pathlib import Path

from app.cli.ceremony_commands import CliHandler
from ceremony import usb_media
from ceremony.ceremony_plan import CeremonyPlan
from ceremony.entropy_sources import testing_enabled
from ceremony.state_machine import Ceremony
from custody import hsm
from custody.ledger import home as homes
from custody.ledger import officers


def _feed(fifo: Path, stop: threading.Event) -> None:
    with open(fifo, "wb") as fh:
        try:
            while not stop.is_set():
                fh.write(os.urandom(1 << 16))
        except BrokenPipeError:
            pass


def main(root: Path, out: Path) -> None:
    assert testing_enabled(), "REDDOOR_TESTING=1 only"
    conf, pin = root / "softhsm2.conf", secrets.token_urlsafe(12)
    hsm.write_softhsm_conf(conf, root / "tokens")
    hsm.init_softhsm_token(conf, "rd-production-test", pin)
    (root / "pin").write_text(pin + "\n")
    (root / "pin").chmod(0o600)
    h = root / "home"
    homes.init_home(h, practice=False, pin=pin, token_label="rd-production-test")
    usb = root / "usb"
    usb.mkdir()
    real_identify, real_check = usb_media.identify, usb_media.check_target

    def identify(d: Path) -> dict:
        return {**real_identify(d), "removable": True, "kind": "removable drive (test double)"}

    def check_target(d: Path, size: int, *, chunk_size: int, require_removable: bool) -> None:
        real_check(d, size, chunk_size=chunk_size, require_removable=False)

    usb_media.identify, usb_media.check_target = identify, check_target  # type: ignore[assignment]
    fifo = root / "rng.fifo"
    os.mkfifo(fifo, 0o600)
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(fifo, stop), daemon=True)
    feeder.start()
    with homes.open_home(h, pin) as oh:
        officers.enroll(oh.ledger, "alice", "alice passphrase")
        officers.enroll(oh.ledger, "bob", "bob passphrase!!")
        for name, pw in (("alice", "alice passphrase"), ("bob", "bob passphrase!!")):
            (root / f"{name}.pass").write_text(pw + "\n")
        handler = CliHandler(
            [f"alice={root / 'alice.pass'}", f"bob={root / 'bob.pass'}"],
            "RD-PROD-1",
            receipt_signed=True,  # the officers signed the printed receipt (step 10)
        )
        plan = CeremonyPlan(size=64 << 10, customer_dir=usb, sources=[str(fifo)], split="1:1")
        outcome = Ceremony.begin(oh, plan, handler).run()
    stop.set()
    out.write_text(json.dumps(outcome.to_dict()))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
