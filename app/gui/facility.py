"""The facility the application works with: an unlocked home, its pads, and the practice setup.

Everything here blocks (HSM, SQLCipher, Argon2id). The home is opened and used on ONE thread of
its own: a SQLCipher connection belongs to the thread that made it, and SoftHSM through
python-pkcs11 is safest with one PKCS#11 thread (FIELD-NOTES). Methods submit to that thread and
wait, so the views call them from their workers (`WorkerRunner`), never from the UI thread.

Directory layout of a home used by the application (beside what `custody.ledger.home` keeps):

    HOME/facility-pads/<pad id hex>/   facility copies the gateway serves
    HOME/usb/<pad id hex>/             practice only: the customer copy ("the USB stick")
    HOME/exports/                      exported checkpoints and reports

The practice gateway records every query in the home's ledger (`link.query`), as a production
gateway does; homes made before that kept a `HOME/chronicle.jsonl`, which nothing reads any
more (`reddoor pad export-consumption --chronicle` still can).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.gui.install_settings import default_home  # noqa: F401 (where the home is by default)
from custody.fingerprint_words import WORDS
from custody.ledger import officers
from custody.ledger.entry import Event
from custody.ledger.home import OpenHome, init_home, load_settings, open_home
from custody.ledger.verify import VerifyReport, verify_ledger
from custody.lifecycle.practice_pads import record_practice_pads
from custody.pad.frame_policy import FramePolicy
from custody.pad.practice import FACILITY_DIR, WORKSTATION_DIR, make_practice_pad
from custody.pad.vault import VAULT_DIR

log = logging.getLogger(__name__)

FACILITY_PADS = "facility-pads"
USB_DIR = "usb"
EXPORTS = "exports"
PRACTICE_OFFICERS = ("Officer A", "Officer B")
STARTER_PAD_BYTES = 8 << 20

T = TypeVar("T")


def practice_passphrase() -> str:
    """Five random words (40 bits): enough for a practice facility, easy to type."""
    return "-".join(secrets.choice(WORDS) for _ in range(5))


@dataclass
class FirstRun:
    """What a newly created practice facility shows once."""

    home: Path
    passphrases: dict[str, str] = field(default_factory=dict)
    starter_pad: str = ""
    # Practice homes may copy and print the passphrases (the first-run dialog's buttons); a
    # production home never offers either.
    practice: bool = True


def is_home(path: Path) -> bool:
    return (path / "settings.json").is_file()


def create_practice_facility(home: Path, *, starter_pad: bool = True) -> FirstRun:
    """A practice home with two enrolled officers and (optionally) a small starter pad, which
    the ledger records (`pad.practice_created`) so inventory and reports know it."""
    init_home(home, practice=True)
    run = FirstRun(home)
    with open_home(home) as h:
        for name in PRACTICE_OFFICERS:
            pw = practice_passphrase()
            officers.enroll(h.ledger, name, pw)
            run.passphrases[name] = pw
        for sub in (FACILITY_PADS, USB_DIR, EXPORTS):
            (home / sub).mkdir(mode=0o700, exist_ok=True)
        if starter_pad:
            run.starter_pad = add_practice_pad(home, STARTER_PAD_BYTES)
            record_practice_pads(
                h.ledger,
                sorted((home / FACILITY_PADS).iterdir()),
                practice=True,
                actor="station",
                where=FACILITY_PADS,
            )
    return run


def add_practice_pad(home: Path, size: int, frame_policy: FramePolicy | None = None) -> str:
    """A PRACTICE pad (OS CSPRNG, `custody.pad.practice`) split into the home's two places;
    `frame_policy` in its manifest (None: otp-only)."""
    tmp = home / f".new-pad-{secrets.token_hex(4)}"
    manifest = make_practice_pad(tmp, size, frame_policy=frame_policy)
    pid = manifest.pad_id.hex()
    (home / FACILITY_PADS).mkdir(mode=0o700, exist_ok=True)
    (home / USB_DIR).mkdir(mode=0o700, exist_ok=True)
    os.replace(tmp / FACILITY_DIR, home / FACILITY_PADS / pid)
    os.replace(tmp / WORKSTATION_DIR, home / USB_DIR / pid)
    shutil.rmtree(tmp, ignore_errors=True)
    return manifest.pad_id_display


class Facility:
    """An unlocked facility home. Every method blocks; call them from workers."""

    def __init__(self, home: Path, pin: str | None = None) -> None:
        self.path = home
        self.settings = load_settings(home)
        self._exec = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facility-home")
        self._home: OpenHome | None = self._exec.submit(open_home, home, pin).result()

    @property
    def practice(self) -> bool:
        return self.settings.practice

    def _locked(self, fn: Callable[[OpenHome], T]) -> T:
        def run() -> T:
            if self._home is None:
                raise RuntimeError("the facility home is closed")
            return fn(self._home)

        return self._exec.submit(run).result()

    @property
    def token(self) -> Any:
        """The logged-in HSM token (custody.hsm.Token serialises every PKCS#11 call)."""
        if self._home is None:
            raise RuntimeError("the facility home is closed")
        return self._home.token

    def call(self, fn: Callable[[OpenHome], T]) -> T:
        """Run `fn(open_home)` on the home's thread and wait (the ceremony uses this)."""
        return self._locked(fn)

    # -- reading ----------------------------------------------------------------------------
    def events(self) -> list[Event]:
        return self._locked(lambda h: list(h.ledger.events()))

    def officers(self) -> list[officers.Officer]:
        return self._locked(lambda h: officers.list_officers(h.ledger))

    def quorum_warning(self) -> str | None:
        """One line when fewer than two active officers remain (see `officers.quorum_warning`)."""
        return self._locked(lambda h: officers.quorum_warning(h.ledger))

    def verify(self) -> VerifyReport:
        def run(h: OpenHome) -> VerifyReport:
            led = h.ledger
            return verify_ledger(
                led.conn, origin=led.origin, key_name=led.key_name, public_key=led.public_key
            )

        return self._locked(run)

    def vkey(self) -> str:
        return self._locked(lambda h: h.vkey)

    # -- writing ----------------------------------------------------------------------------
    def checkpoint(self) -> str:
        return self._locked(lambda h: h.ledger.checkpoint())

    def export_checkpoint(self, path: Path) -> Path:
        note = self.checkpoint()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(note, encoding="utf-8")
        return path

    def enrolment_path(self) -> str | None:
        """How the next officer can be enrolled now (`custody.ledger.officer_rules`):
        "bootstrap" (one of the first two, alone), "approved" (two officers approve),
        "recovery" (one officer left: the CLI's `officer recover`), None (no way)."""
        return self._locked(lambda h: officers.roster(h.ledger).enrolment_path())

    def enrol_officer(
        self, name: str, passphrase: str, role: str, approvers: Sequence[tuple[str, str]]
    ) -> Event:
        """`officers.enroll`: the genesis pair alone (no approvers), later officers with two
        active officers' approval; refusals are recorded in the ledger."""
        return self._locked(lambda h: officers.enroll(h.ledger, name, passphrase, role, approvers))

    def retire_officer(self, name: str, approvers: Sequence[tuple[str, str]]) -> Event:
        return self._locked(lambda h: officers.retire(h.ledger, name, approvers))

    def transfer_custody(
        self,
        pad: str,
        to: str,
        bag_serial: str,
        approvers: Sequence[tuple[str, str]],
        *,
        decision: str | None = None,
    ) -> Event:
        """`custody.lifecycle` transfer: the bag serial is checked against the recorded one; a
        different serial records a custody exception and raises BagSerialMismatch."""
        from custody.lifecycle import acts

        return self._locked(
            lambda h: acts.transfer(h, pad, to, bag_serial, approvers, decision=decision)
        )

    def check_officer(self, name: str, passphrase: str, purpose: str) -> bool:
        """True if `passphrase` unlocks officer `name`'s key (kiosk exit/unlock).

        Uses the same approval path as every two-officer action, on a request that is never
        appended; a wrong passphrase is recorded as an `approval.refused` event.
        """

        def run(h: OpenHome) -> bool:
            req = h.ledger.request_approval("app.gui.kiosk_unlock", {"purpose": purpose}, (name,))
            try:
                officers.approve(h.ledger, req, name, passphrase)
            except Exception as exc:
                log.info("kiosk unlock refused (%s)", type(exc).__name__)
                return False
            return True

        return self._locked(run)

    # -- pads on disk -----------------------------------------------------------------------
    def facility_pad_dirs(self) -> list[Path]:
        """Facility copies: practice pads as plain directories, ceremony pads in the vault."""
        out: list[Path] = []
        for root in (self.path / FACILITY_PADS, self.path / VAULT_DIR):
            if root.is_dir():
                out += sorted(d for d in root.iterdir() if d.is_dir())
        return out

    def usb_pad_dirs(self) -> list[Path]:
        root = self.path / USB_DIR
        return sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else []

    def exports_dir(self) -> Path:
        d = self.path / EXPORTS
        d.mkdir(mode=0o700, exist_ok=True)
        return d

    def close(self) -> None:
        def run() -> None:
            if self._home is not None:
                with contextlib.suppress(Exception):
                    self._home.close()
                self._home = None

        with contextlib.suppress(RuntimeError):  # already shut down
            self._exec.submit(run).result()
        self._exec.shutdown(wait=True)


def describe_event(event: Event) -> dict[str, Any]:
    return event.to_dict()
