"""Officers and the two-person rule.

Each officer has a personal Ed25519 key generated at enrolment. The private key is stored in the
ledger (table officer_keys) encrypted with AES-256-GCM under Argon2id(passphrase, salt); the
public key is in the clear, in the `officer.enrolled` event. Officer state (role, retired, the
genesis pair) is derived from the events alone, never from a mutable table
(custody/ledger/officer_rules.py holds the rules, shared with `ledger verify`).

An approved event carries two signatures by two distinct, active officers (role "officer") over
the exact event content plus one fresh nonce (ledger_entry.approval_message). Same officer
twice, an unknown, retired or auditor officer, a wrong passphrase, a signature over other
content, or a nonce already used are refused, and each refusal is itself appended as an
`approval.refused` event.

Enrolment: the genesis pair enrols alone, later officers with two approvals, and when only one
officer is left, `recover` needs that officer and the HSM Security Officer's PIN. Every rule is
checked again inside the write transaction that appends the enrolment, so parallel enrolments
cannot both pass a check that only one of them may pass.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from custody import canonical_json
from custody.errors import OfficerError, UsageError
from custody.ledger.chain import (
    Approval,
    ApprovalRequest,
    EventDraft,
    Ledger,
    RefusedInTransaction,
)
from custody.ledger.entry import Event
from custody.ledger.officer_rules import (
    APPROVED,
    BOOTSTRAP,
    RECOVERY,
    RECOVERY_DOC,
    RECOVERY_METHOD,
    ROLES,
    Officer,
    Roster,
    SoLogin,
    key_fingerprint,
    recovery_problem,
    token_identity,
)

__all__ = ["ROLES", "Officer", "SoLogin", "key_fingerprint"]  # re-exported for callers

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._'@-]{0,63}$")
MIN_PASSPHRASE_CHARS = 8
MAX_REASON_CHARS = 200
# Argon2id parameters (RFC 9106 second recommendation: 64 MiB, t=3, p=4), stored per officer.
KDF_PARAMS = {"alg": "argon2id", "m": 65536, "t": 3, "p": 4}


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


# -- officer state --------------------------------------------------------------------------


def roster(ledger: Ledger) -> Roster:
    """Officers and the genesis pair, replayed from the ledger's events (valid ones only).

    Inside a write transaction this reads the latest state: use it for checks there."""
    rows = ledger.conn.execute(
        "SELECT seq, type, payload, approvals FROM events "
        "WHERE type IN ('ledger.created', 'officer.enrolled', 'officer.retired') ORDER BY seq"
    ).fetchall()
    return Roster.replay(
        (int(seq), str(etype), canonical_json.loads(bytes(payload)), _approvers(approvals))
        for seq, etype, payload, approvals in rows
    )


def _approvers(approvals: Any) -> list[str]:
    entries = canonical_json.loads(bytes(approvals))
    if not isinstance(entries, list):
        return []
    return [str(a.get("officer")) for a in entries if isinstance(a, dict)]


def list_officers(ledger: Ledger) -> list[Officer]:
    """Every officer ever enrolled, in enrolment order, with retirement from the events."""
    return list(roster(ledger).officers.values())


def find_officer(ledger: Ledger, name: str) -> Officer | None:
    return roster(ledger).officers.get(name)


def quorum_warning(ledger: Ledger) -> str | None:
    """One line when fewer than two active officers remain after the genesis pair, else None."""
    return _quorum_warning(roster(ledger))


def _quorum_warning(state: Roster) -> str | None:
    path = state.enrolment_path()
    if path == RECOVERY:
        name = state.signers()[0].name
        return (
            f"only one active officer ({name}) remains: nothing that needs two officers can be "
            f"done until `reddoor officer recover` enrols another ({RECOVERY_DOC})"
        )
    if path is None:
        return (
            f"no active officer remains: nothing that needs an officer can be done ({RECOVERY_DOC})"
        )
    return None


# -- enrolment and retirement ---------------------------------------------------------------


@dataclass(frozen=True)
class _NewKey:
    """A new officer's key pair, its private half sealed under their passphrase."""

    name: str
    public_key: bytes
    salt: bytes
    nonce: bytes
    sealed: bytes

    @classmethod
    def generate(cls, origin: str, name: str, passphrase: str) -> _NewKey:
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
            _key_aad(origin, name, public_key),
        )
        return cls(name, public_key, salt, nonce, sealed)

    def payload(self, role: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": role,
            "public_key": self.public_key.hex(),
            "fingerprint": key_fingerprint(self.public_key),
        }

    def store(self, conn: Any, _events: list[Event]) -> None:
        """Runs in the enrolment's transaction: the key exists exactly when the event does."""
        conn.execute(
            "INSERT INTO officer_keys(name, public_key, kdf, salt, nonce, sealed_key) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                self.name,
                self.public_key,
                json.dumps(KDF_PARAMS, sort_keys=True),
                self.salt,
                self.nonce,
                self.sealed,
            ),
        )


def _check_new_officer(name: str, role: str, passphrase: str) -> None:
    if not NAME_PATTERN.match(name):
        raise UsageError(
            "officer names are 1-64 letters, digits, spaces or . _ ' @ - and start with a "
            "letter or digit"
        )
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}")
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise UsageError(f"an officer passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")


def _refuse_taken(state: Roster, name: str) -> None:
    if name in state.officers:
        raise OfficerError(
            f"an officer named {name!r} is already enrolled (names are never reused)"
        )


def _unapproved_refusal(state: Roster, name: str, role: str) -> str | None:
    """Why `name` cannot enrol without approvals now (None: as one of the genesis pair)."""
    path = state.enrolment_path()
    if path == BOOTSTRAP:
        if role == "officer":
            return None
        return (
            "an auditor is enrolled with two officers' approval: enrol the two genesis "
            "officers first"
        )
    if path == APPROVED:
        return (
            f"enrolling {name!r} needs exactly two approving officers "
            "(--officer NAME=PASSFILE, twice)"
        )
    if path == RECOVERY:
        last = state.signers()[0].name
        return (
            f"only one active officer ({last}) remains after the genesis pair: enrolling "
            f"{name!r} needs two approving officers, or a recovery with `reddoor officer "
            f"recover` (the HSM security officer's PIN and {last}; {RECOVERY_DOC})"
        )
    return f"no active officer remains to approve enrolling {name!r} ({RECOVERY_DOC})"


def _refusal_request(ledger: Ledger, name: str, role: str) -> ApprovalRequest:
    """The operation a refusal names (refusals record its type, never a key)."""
    return ledger.request_approval("officer.enrolled", {"name": name, "role": role}, (name,))


def enroll(
    ledger: Ledger,
    name: str,
    passphrase: str,
    role: str = "officer",
    approvers: Sequence[tuple[str, str]] = (),
) -> Event:
    """Enrol an officer. The genesis pair (the first two signing officers) enrol alone; after
    that, enrolment needs two active officers' approval (`approvers` = [(name, passphrase),
    ...]). With one officer left, see `recover`."""
    _check_new_officer(name, role, passphrase)
    state = roster(ledger)
    _refuse_taken(state, name)
    if not approvers:
        refusal = _unapproved_refusal(state, name, role)
        if refusal is not None:
            raise ledger.record_refusal(
                _refusal_request(ledger, name, role), "two_officers_needed", [], refusal
            )
    key = _NewKey.generate(ledger.origin, name, passphrase)
    payload = key.payload(role)
    if not approvers:
        payload["bootstrap"] = True
        return _append_bootstrap(ledger, key, payload)
    request = ledger.request_approval("officer.enrolled", payload, actors=(name,))
    approvals = collect(ledger, request, approvers)

    def still_free(conn: Any) -> None:
        _refuse_taken(roster(ledger), name)

    return append_approved(ledger, request, approvals, in_transaction=key.store, check=still_free)


def _append_bootstrap(ledger: Ledger, key: _NewKey, payload: dict[str, Any]) -> Event:
    name = key.name

    def genesis_still_open(conn: Any) -> None:
        # Under the write lock: another process may have completed the pair since we looked.
        state = roster(ledger)
        _refuse_taken(state, name)
        if state.enrolment_path() != BOOTSTRAP:
            raise RefusedInTransaction(
                "two_officers_needed",
                f"the genesis pair is complete (another enrolment finished first): enrolling "
                f"{name!r} needs exactly two approving officers (--officer NAME=PASSFILE, twice)",
            )

    draft = EventDraft("officer.enrolled", payload, (name,))
    try:
        return ledger.append_many([draft], in_transaction=key.store, check=genesis_still_open)[0]
    except RefusedInTransaction as lost:
        raise ledger.record_refusal(
            _refusal_request(ledger, name, payload["role"]), lost.reason, [], lost.message
        ) from None


def check_recovery(ledger: Ledger, name: str, approver: str, so_holder: str, reason: str) -> None:
    """Refuse (OfficerError / UsageError) a recovery the rules or the ledger's state forbid.

    Called before the SO PIN and the passphrases are asked for; `recover` calls it again, and
    checks the same rules with the evidence inside its write transaction."""
    if not NAME_PATTERN.match(so_holder):
        raise UsageError("the SO PIN holder's name follows the rules for officer names")
    if not reason.strip() or len(reason) > MAX_REASON_CHARS or "\n" in reason:
        raise UsageError(f"the recovery reason is one line of 1-{MAX_REASON_CHARS} characters")
    state = roster(ledger)
    _refuse_taken(state, name)
    path = state.enrolment_path()
    if path == BOOTSTRAP:
        raise OfficerError(
            "the genesis pair is not complete: enrol the second officer with `reddoor officer "
            "add` (no approval is needed until two officers exist)"
        )
    if path == APPROVED:
        raise OfficerError(
            f"{len(state.signers())} officers are active: enrol with `reddoor officer add NAME "
            "--officer A=FILE --officer B=FILE`; recovery is only for a single remaining officer"
        )
    if path is None:
        raise OfficerError(f"no active officer remains to take part in a recovery ({RECOVERY_DOC})")
    last = state.signers()[0].name
    if approver != last:
        raise OfficerError(
            f"a recovery is approved by the one remaining officer, {last}; {approver!r} cannot"
        )
    if so_holder == approver:
        raise OfficerError(
            f"the SO PIN holder and the approving officer are both {approver!r}: one person "
            "cannot count twice; someone else enters the security officer PIN"
        )
    if state.genesis_hsm is None:
        raise OfficerError(
            "this ledger's genesis event names no HSM token: it cannot record a recovery"
        )


def recover(
    ledger: Ledger,
    name: str,
    passphrase: str,
    approver: tuple[str, str],
    so_login: SoLogin,
    so_holder: str,
    reason: str,
) -> Event:
    """Enrol `name` when one officer is left: that officer approves alone, and `so_login`
    (custody.ledger.home.prove_so_login) shows the HSM Security Officer PIN was entered, by
    `so_holder`. Recorded as an `officer.enrolled` event with `recovery` evidence."""
    _check_new_officer(name, "officer", passphrase)
    check_recovery(ledger, name, approver[0], so_holder, reason)
    genesis_token = token_identity(roster(ledger).genesis_hsm or {})
    if token_identity(so_login.token) != genesis_token:
        raise OfficerError("the security officer logged in to another token than this ledger's")
    key = _NewKey.generate(ledger.origin, name, passphrase)
    payload = key.payload("officer")
    payload["recovery"] = {
        "method": RECOVERY_METHOD,
        "so_login": {"token": genesis_token, "time": so_login.time},
        "so_holder": so_holder,
        "reason": reason,
    }
    request = ledger.request_approval("officer.enrolled", payload, actors=(name,))
    approval = approve(ledger, request, *approver)

    def still_allowed(conn: Any) -> None:
        state = roster(ledger)
        _refuse_taken(state, name)
        problem = recovery_problem(state, payload, [approver[0]])
        if problem:
            raise RefusedInTransaction("recovery_refused", problem)

    return append_recovery(ledger, request, approval, in_transaction=key.store, check=still_allowed)


def so_login_refused(ledger: Ledger, name: str, approver: str, message: str) -> Exception:
    """Record that the security officer's login failed for a recovery; returns the error."""
    return ledger.record_refusal(
        _refusal_request(ledger, name, "officer"), "so_login_failed", [approver], message
    )


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
    return append_approved(ledger, request, collect(ledger, request, approvers))


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
    ledger: Ledger, request: ApprovalRequest, approvals: Sequence[Approval], needed: int = 2
) -> tuple[str, str] | None:
    """(reason, message) why these approvals cannot authorise `request`, or None.

    `needed` is 2, except for a recovery enrolment (1: the remaining officer; the recovery
    rules themselves are checked by `recover`)."""
    if len(approvals) != needed:
        if needed == 1:
            return "recovery_refused", "a recovery needs exactly one officer's approval"
        return "two_officers_needed", "this operation needs exactly two officers' approvals"
    officers = roster(ledger).officers
    names = [a.officer for a in approvals]
    if len(set(names)) != len(names):
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
    if len(keys) != needed:
        return "same_officer", "both approvals come from the same key"
    if nonce_used(ledger.conn, request.nonce):
        return "replayed", "these approvals were already used for an event"
    return None


def nonce_used(conn: Any, nonce: bytes) -> bool:
    needle = f'"nonce":"{nonce.hex()}"'.encode()
    row = conn.execute(
        "SELECT 1 FROM events WHERE instr(approvals, ?) > 0 LIMIT 1", (needle,)
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
    return append_approved(ledger, request, collect(ledger, request, approvers))


# -- appending approved events (the two-person rule's write path) ---------------------------


def append_approved(
    ledger: Ledger,
    request: ApprovalRequest,
    approvals: Sequence[Approval],
    *,
    in_transaction: Callable[[Any, list[Event]], None] | None = None,
    check: Callable[[Any], None] | None = None,
) -> Event:
    """Append `request` with two officers' approvals; refuse (and record why) otherwise.

    The approvals are checked before the write transaction (a clear refusal without waiting
    for the lock) and again inside it, with `check(conn)` after them: an officer retired or
    a nonce used by another process in between is refused, never appended."""
    return _append_signed(ledger, request, approvals, 2, in_transaction, check)


def append_recovery(
    ledger: Ledger,
    request: ApprovalRequest,
    approval: Approval,
    *,
    in_transaction: Callable[[Any, list[Event]], None] | None = None,
    check: Callable[[Any], None],
) -> Event:
    """A recovery enrolment: the one remaining officer's approval. Only for
    `officers.recover`, whose `check` enforces the recovery rules in the transaction."""
    if request.type != "officer.enrolled" or "recovery" not in request.payload:
        raise UsageError("only an officer enrolment with recovery evidence has one approval")
    return _append_signed(ledger, request, [approval], 1, in_transaction, check)


def _append_signed(
    ledger: Ledger,
    request: ApprovalRequest,
    approvals: Sequence[Approval],
    needed: int,
    in_transaction: Callable[[Any, list[Event]], None] | None,
    check: Callable[[Any], None] | None,
) -> Event:
    names = [a.officer for a in approvals]
    problem = check_approvals(ledger, request, approvals, needed)
    if problem is not None:
        reason, message = problem
        raise ledger.record_refusal(request, reason, names, message)
    draft = EventDraft(
        request.type,
        request.payload,
        request.actors,
        tuple(a.to_dict() for a in approvals),
    )

    def recheck(conn: Any) -> None:
        again = check_approvals(ledger, request, approvals, needed)
        if again is not None:
            raise RefusedInTransaction(*again)
        if check is not None:
            check(conn)

    try:
        event = ledger.append_many([draft], in_transaction=in_transaction, check=recheck)[0]
    except RefusedInTransaction as refused:
        raise ledger.record_refusal(request, refused.reason, names, refused.message) from None
    if ledger.can_sign:
        ledger.checkpoint()  # every two-officer event is a custody change: fix it in a note
    return event
