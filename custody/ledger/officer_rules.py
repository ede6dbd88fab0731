"""Officer state replayed from ledger events, and the rules every enrolment must meet.

Pure (no database, no HSM): `custody.ledger.officers` applies these rules inside the write
transaction that appends an enrolment, and `custody.ledger.verify` applies the same rules when
an auditor replays the ledger. Signatures are checked by those callers; this module checks who
may enrol whom, and when.

The three ways an officer is enrolled (docs/ledger.md, "Enrolment rules"):

- **bootstrap** (`"bootstrap": true`, no approvals): only while the ledger has never had two
  active signing officers at once (the *genesis pair* is not yet complete), and only role
  "officer". Auditors cannot approve, so they neither complete the pair nor enrol alone.
- **approved**: two distinct active officers' approvals (checked with the signatures).
- **recovery** (`"recovery": {...}`, one approval): only after the genesis pair, while exactly
  one active officer remains; that officer approves, and the event records a successful HSM
  Security Officer login on this ledger's own token by a named, different person.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ROLES = ("officer", "auditor")
BOOTSTRAP = "bootstrap"
APPROVED = "approved"
RECOVERY = "recovery"
RECOVERY_METHOD = "hsm-so-login+officer"
RECOVERY_KEYS = {"method", "so_login", "so_holder", "reason"}
TOKEN_KEYS = ("label", "model", "manufacturer", "serial")
RECOVERY_DOC = 'docs/ledger.md, "Recovery"'


def key_fingerprint(public_key: bytes) -> str:
    return "SHA256:" + hashlib.sha256(public_key).hexdigest()[:32]


@dataclass(frozen=True)
class Officer:
    name: str
    role: str
    public_key: bytes
    enrolled_seq: int
    retired_seq: int | None = None

    @property
    def active(self) -> bool:
        return self.retired_seq is None

    @property
    def signer(self) -> bool:
        """An active officer who can approve (auditors never can)."""
        return self.active and self.role == "officer"

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "public_key": self.public_key.hex(),
            "fingerprint": self.fingerprint,
            "enrolled_seq": self.enrolled_seq,
            "retired_seq": self.retired_seq,
            "active": self.active,
        }


@dataclass(frozen=True)
class SoLogin:
    """A Security Officer login that succeeded on a token (custody.ledger.home.prove_so_login)."""

    token: dict[str, str]  # label, model, manufacturer, serial: as the genesis event's "hsm"
    time: str


class Roster:
    """Officers and the genesis pair, replayed event by event (only valid events change it)."""

    def __init__(self) -> None:
        self.officers: dict[str, Officer] = {}
        self.genesis_closed = False  # two signing officers have been active at once
        self.genesis_hsm: dict[str, Any] | None = None  # the ledger's own token

    @classmethod
    def replay(cls, rows: Iterable[tuple[int, str, Any, Sequence[str]]]) -> Roster:
        """From (seq, type, payload, approving officers) rows in order; invalid ones skipped."""
        roster = cls()
        for seq, etype, payload, approvers in rows:
            roster.apply(seq, etype, payload, approvers)
        return roster

    def signers(self) -> list[Officer]:
        return [o for o in self.officers.values() if o.signer]

    def enrolment_path(self) -> str | None:
        """How the next officer can be enrolled now (None: by no path at all)."""
        if not self.genesis_closed:
            return BOOTSTRAP
        count = len(self.signers())
        return APPROVED if count >= 2 else RECOVERY if count == 1 else None

    def apply(
        self, seq: int, etype: str, payload: Any, approvers: Sequence[str] = ()
    ) -> str | None:
        """Apply one event; returns why it is invalid (and then leaves the state unchanged)."""
        try:
            if etype == "ledger.created":
                hsm = payload.get("hsm")
                self.genesis_hsm = hsm if isinstance(hsm, dict) else None
            elif etype == "officer.enrolled":
                return self._enrol(seq, payload, approvers)
            elif etype == "officer.retired":
                officer = self.officers.get(payload["name"])
                if officer is None or not officer.active:
                    return f"retires {payload['name']!r}, who is not an active officer"
                self.officers[officer.name] = Officer(
                    officer.name, officer.role, officer.public_key, officer.enrolled_seq, seq
                )
        except (AttributeError, KeyError, TypeError, ValueError):
            return "an officer event's payload is malformed"
        return None

    def _enrol(self, seq: int, payload: Any, approvers: Sequence[str]) -> str | None:
        problem = enrolment_problem(self, payload, approvers)
        if problem:
            return problem
        name, key = payload["name"], bytes.fromhex(payload["public_key"])
        if not isinstance(name, str) or payload["role"] not in ROLES:
            return "an officer event's payload is malformed"
        if name in self.officers:
            return f"officer {name!r} enrolled twice"
        twin = next((o.name for o in self.officers.values() if o.public_key == key), None)
        if twin is not None:  # one key under two names would let one person count twice
            return f"officer {name!r} is enrolled with the key of officer {twin!r}"
        self.officers[name] = Officer(name, payload["role"], key, seq)
        if len(self.signers()) >= 2:
            self.genesis_closed = True
        return None


def enrolment_problem(roster: Roster, payload: Any, approvers: Sequence[str]) -> str | None:
    """Why an enrolment with `payload`, approved by `approvers` (names), may not follow the
    events `roster` has replayed; None if its path allows it. Signatures are not checked here."""
    if not isinstance(payload, dict):
        return "an officer event's payload is malformed"
    bootstrap = payload.get("bootstrap") is True
    recovery = "recovery" in payload
    if bootstrap and recovery:
        return "an enrolment claims both bootstrap and recovery"
    if bootstrap:
        if approvers:
            return "a bootstrap enrolment carries approvals"
        if roster.genesis_closed:
            return (
                "a bootstrap enrolment after the genesis pair (two officers had been active): "
                "it needed two officers' approval"
            )
        if payload.get("role") != "officer":
            return (
                "only the two genesis officers enrol without approval; an auditor needs two "
                "officers' approval"
            )
        return None
    if recovery:
        return recovery_problem(roster, payload, approvers)
    if not approvers:
        return "an enrolment lacks two officers' approval"
    return None


def recovery_state_problem(roster: Roster, approvers: Sequence[str]) -> str | None:
    """Whether the ledger's state allows a recovery approved by `approvers` at all."""
    if not roster.genesis_closed:
        return "a recovery enrolment before the genesis pair was complete"
    active = [o.name for o in roster.signers()]
    if len(active) != 1:
        return (
            f"a recovery enrolment while {len(active)} officers were active (recovery is only "
            "for a single remaining officer)"
        )
    if list(approvers) != active:
        return (
            f"a recovery must be approved by the one remaining officer ({active[0]}) alone, "
            f"not by {', '.join(approvers) or 'nobody'}"
        )
    return None


def recovery_problem(
    roster: Roster, payload: dict[str, Any], approvers: Sequence[str]
) -> str | None:
    problem = recovery_state_problem(roster, approvers)
    if problem:
        return problem
    if payload.get("role") != "officer":
        return "a recovery enrols an officer, never an auditor"
    evidence = payload.get("recovery")
    so_login = evidence.get("so_login") if isinstance(evidence, dict) else None
    if (
        not isinstance(evidence, dict)
        or set(evidence) != RECOVERY_KEYS
        or evidence["method"] != RECOVERY_METHOD
        or not isinstance(so_login, dict)
        or set(so_login) != {"token", "time"}
        or not isinstance(so_login["time"], str)
        or not _text(evidence["so_holder"])
        or not _text(evidence["reason"])
    ):
        return f"the recovery evidence is malformed (expected {sorted(RECOVERY_KEYS)})"
    if roster.genesis_hsm is None:
        return "the genesis event names no HSM token, so no recovery can be checked against it"
    if so_login["token"] != token_identity(roster.genesis_hsm):
        return "the security officer login it records is on another HSM token than this ledger's"
    if evidence["so_holder"] == approvers[0]:
        return (
            f"the SO PIN holder and the approving officer are both {approvers[0]!r}: one person "
            "cannot count twice"
        )
    return None


def token_identity(info: dict[str, Any]) -> dict[str, Any]:
    """The fields that name a token (as the genesis event records them)."""
    return {k: info.get(k) for k in TOKEN_KEYS}


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
