"""Officers and the two-person rule.

Each officer has a personal Ed25519 key generated at enrolment. The private key is stored in the
ledger (table officer_keys) encrypted with AES-256-GCM under Argon2id(passphrase, salt); the
public key is in the clear, in the `officer.enrolled` event. Officer state (role, retired) is
derived from the events alone, never from a mutable table.

An approved event carries two signatures by two distinct, active officers (role "officer") over
the exact event content plus one fresh nonce (ledger_entry.approval_message). Same officer
twice, an unknown, retired or auditor officer, a wrong passphrase, a signature over other
content, or a nonce already used are refused, and each refusal is itself appended as an
`approval.refused` event.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from custody import canonical_json
from custody.errors import OfficerError, UsageError
from custody.ledger import Approval, ApprovalRequest, EventDraft, Ledger
from custody.ledger_entry import Event

ROLES = ("officer", "auditor")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._'@-]{0,63}$")
MIN_PASSPHRASE_CHARS = 8
# Argon2id parameters (RFC 9106 second recommendation: 64 MiB, t=3, p=4), stored per officer.
KDF_PARAMS = {"alg": "argon2id", "m": 65536, "t": 3, "p": 4}


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


def key_fingerprint(public_key: bytes) -> str:
    return "SHA256:" + hashlib.sha256(public_key).hexdigest()[:32]


def _derive(passphrase: str, salt: bytes, params: dict[str, Any]) -> bytes:
    if params.get("alg") != "argon2id":
        raise OfficerError("an officer key uses an unknown key-derivation function")
    return Argon2id(
        salt=salt,
        length=32,
        iterations=int(params["t"]),
        lanes=int(params["p"]),
        memory_cost=int(params["m"]),
    ).derive(passphrase.encode("utf-8"))


def _key_aad(origin: str, name: str, public_key: bytes) -> bytes:
    return canonical_json.dumps({"log": origin, "officer": name, "public_key": public_key.hex()})


def list_officers(ledger: Ledger) -> list[Officer]:
    """Every officer ever enrolled, in enrolment order, with retirement from the events."""
    rows = ledger.conn.execute(
        "SELECT seq, type, payload FROM events "
        "WHERE type IN ('officer.enrolled', 'officer.retired') ORDER BY seq"
    ).fetchall()
    return officers_from_events(
        (int(s), str(t), canonical_json.loads(bytes(p))) for s, t, p in rows
    )


def officers_from_events(rows: Any) -> list[Officer]:
    found: dict[str, Officer] = {}
    for seq, etype, payload in rows:
        if etype == "officer.enrolled":
            found[payload["name"]] = Officer(
                payload["name"], payload["role"], bytes.fromhex(payload["public_key"]), seq
            )
        elif etype == "officer.retired" and payload["name"] in found:
            o = found[payload["name"]]
            found[o.name] = Officer(o.name, o.role, o.public_key, o.enrolled_seq, seq)
    return list(found.values())


def find_officer(ledger: Ledger, name: str) -> Officer | None:
    return next((o for o in list_officers(ledger) if o.name == name), None)


def _active_signers(ledger: Ledger) -> list[Officer]:
    return [o for o in list_officers(ledger) if o.active and o.role == "officer"]


# -- enrolment and retirement ---------------------------------------------------------------


def enroll(
    ledger: Ledger,
    name: str,
    passphrase: str,
    role: str = "officer",
    approvers: Sequence[tuple[str, str]] = (),
) -> Event:
    """Enrol an officer. The first two signing officers enrol alone (bootstrap); after that,
    enrolment needs two active officers' approval (`approvers` = [(name, passphrase), ...])."""
    if not NAME_PATTERN.match(name):
        raise UsageError(
            "officer names are 1-64 letters, digits, spaces or . _ ' @ - and start with a "
            "letter or digit"
        )
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}")
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise UsageError(f"an officer passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")
    if find_officer(ledger, name) is not None:
        raise OfficerError(
            f"an officer named {name!r} is already enrolled (names are never reused)"
        )
    private = Ed25519PrivateKey.generate()
    public_key = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_derive(passphrase, salt, KDF_PARAMS)).encrypt(
        nonce,
        private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        ),
        _key_aad(ledger.origin, name, public_key),
    )
    payload: dict[str, Any] = {
        "name": name,
        "role": role,
        "public_key": public_key.hex(),
        "fingerprint": key_fingerprint(public_key),
    }

    def store_key(conn: Any, _events: list[Event]) -> None:
        conn.execute(
            "INSERT INTO officer_keys(name, public_key, kdf, salt, nonce, sealed_key) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, public_key, json.dumps(KDF_PARAMS, sort_keys=True), salt, nonce, sealed),
        )

    if len(_active_signers(ledger)) < 2 and not approvers:
        payload["bootstrap"] = True
        draft = EventDraft("officer.enrolled", payload, (name,))
        return ledger.append_many([draft], in_transaction=store_key)[0]
    request = ledger.request_approval("officer.enrolled", payload, actors=(name,))
    approvals = collect(ledger, request, approvers)
    return ledger.append_approved(request, approvals, in_transaction=store_key)


def retire(ledger: Ledger, name: str, approvers: Sequence[tuple[str, str]]) -> Event:
    """Retire an officer (a two-officer event). A retired officer can never approve again."""
    officer = find_officer(ledger, name)
    if officer is None:
        raise OfficerError(f"no officer named {name!r} is enrolled")
    if not officer.active:
        raise OfficerError(f"officer {name!r} is already retired")
    request = ledger.request_approval(
        "officer.retired", {"name": name, "fingerprint": officer.fingerprint}
    )
    return ledger.append_approved(request, collect(ledger, request, approvers))


# -- approvals ------------------------------------------------------------------------------


def approve(ledger: Ledger, request: ApprovalRequest, name: str, passphrase: str) -> Approval:
    """Officer `name` signs `request` with their key, unlocked by their passphrase."""
    officer = find_officer(ledger, name)
    if officer is None:
        raise ledger.record_refusal(
            request, "unknown_officer", [name], f"no officer named {name!r} is enrolled"
        )
    if not officer.active:
        raise ledger.record_refusal(
            request, "retired_officer", [name], f"officer {name!r} is retired and cannot approve"
        )
    if officer.role != "officer":
        raise ledger.record_refusal(
            request, "not_an_officer", [name], f"{name!r} is an {officer.role}, not an officer"
        )
    row = ledger.conn.execute(
        "SELECT public_key, kdf, salt, nonce, sealed_key FROM officer_keys WHERE name = ?", (name,)
    ).fetchone()
    if row is None or bytes(row[0]) != officer.public_key:
        raise ledger.record_refusal(
            request,
            "key_missing",
            [name],
            f"the stored key of officer {name!r} is missing or replaced",
        )
    public_key, kdf, salt, nonce, sealed = (
        bytes(row[0]),
        json.loads(row[1]),
        bytes(row[2]),
        bytes(row[3]),
        bytes(row[4]),
    )
    try:
        raw = AESGCM(_derive(passphrase, salt, kdf)).decrypt(
            nonce, sealed, _key_aad(ledger.origin, name, public_key)
        )
    except InvalidTag:
        raise ledger.record_refusal(
            request, "wrong_passphrase", [name], f"wrong passphrase for officer {name!r}"
        ) from None
    signature = Ed25519PrivateKey.from_private_bytes(raw).sign(request.message(ledger.origin))
    return Approval(name, request.nonce, signature)


def collect(
    ledger: Ledger, request: ApprovalRequest, approvers: Sequence[tuple[str, str]]
) -> list[Approval]:
    """Each (name, passphrase) approves in turn; the same name twice is refused up front."""
    names = [n for n, _ in approvers]
    if len(approvers) != 2:
        raise ledger.record_refusal(
            request,
            "two_officers_needed",
            names,
            "this operation needs exactly two approving officers",
        )
    if names[0] == names[1]:
        raise ledger.record_refusal(
            request, "same_officer", names, f"officer {names[0]!r} cannot approve twice"
        )
    return [approve(ledger, request, n, p) for n, p in approvers]


def check_approvals(
    ledger: Ledger, request: ApprovalRequest, approvals: Sequence[Approval]
) -> tuple[str, str] | None:
    """(reason, message) why these approvals cannot authorise `request`, or None."""
    if len(approvals) != 2:
        return "two_officers_needed", "this operation needs exactly two officers' approvals"
    officers = {o.name: o for o in list_officers(ledger)}
    names = [a.officer for a in approvals]
    if names[0] == names[1]:
        return "same_officer", f"officer {names[0]!r} cannot approve twice"
    keys = set()
    message = request.message(ledger.origin)
    for a in approvals:
        officer = officers.get(a.officer)
        if officer is None:
            return "unknown_officer", f"no officer named {a.officer!r} is enrolled"
        if not officer.active:
            return "retired_officer", f"officer {a.officer!r} is retired and cannot approve"
        if officer.role != "officer":
            return "not_an_officer", f"{a.officer!r} is an {officer.role}, not an officer"
        keys.add(officer.public_key)
        if a.nonce != request.nonce:
            return "replayed", f"the approval by {a.officer!r} was made for another operation"
        try:
            Ed25519PublicKey.from_public_bytes(officer.public_key).verify(a.signature, message)
        except InvalidSignature:
            return (
                "bad_signature",
                f"the signature of {a.officer!r} does not cover this operation (replayed?)",
            )
    if len(keys) != 2:
        return "same_officer", "both approvals come from the same key"
    if nonce_used(ledger.conn, request.nonce):
        return "replayed", "these approvals were already used for an event"
    return None


def nonce_used(conn: Any, nonce: bytes, before_seq: int | None = None) -> bool:
    needle = f'"nonce":"{nonce.hex()}"'.encode()
    limit = (1 << 62) if before_seq is None else before_seq
    row = conn.execute(
        "SELECT 1 FROM events WHERE seq < ? AND instr(approvals, ?) > 0 LIMIT 1",
        (limit, needle),
    ).fetchone()
    return row is not None


def append_with_officers(
    ledger: Ledger,
    event_type: str,
    payload: dict[str, Any],
    approvers: Sequence[tuple[str, str]],
    actors: Sequence[str] = (),
) -> Event:
    """The whole two-person flow in one call: request, both officers approve, append."""
    request = ledger.request_approval(event_type, payload, actors)
    return ledger.append_approved(request, collect(ledger, request, approvers))
