"""`ledger verify`: recompute the chain and the tree, check every signature and checkpoint.

Nothing stored is trusted: each event's hash is recomputed from its fields, the chain from
those hashes, the Merkle tree from the recomputed hashes, officer state from the events, and
every checkpoint (stored in the ledger, or kept outside it) is checked for its HSM signature and
that the ledger is an extension of it (a checkpoint larger than the ledger means truncation or
rollback; a different root means history was rewritten).

Works on any DB-API connection to the ledger's tables: no HSM call is made here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody import canonical_json, merkle
from custody.errors import ProofError
from custody.ledger import checkpoint
from custody.ledger.entry import GENESIS_PREV, TWO_PERSON_TYPES, approval_message, event_hash
from custody.ledger.officer_rules import Roster, enrolment_problem


@dataclass(frozen=True)
class Problem:
    seq: int | None
    what: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "problem": self.what}


@dataclass
class VerifyReport:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    problems: list[Problem] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    events_signed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        """The problem at the lowest event number (event problems before whole-ledger ones)."""
        with_seq = [p for p in self.problems if p.seq is not None]
        if with_seq:
            return min(with_seq, key=lambda p: p.seq or 0)
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        first = self.first_problem
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex(),
            "first_bad_seq": None if first is None else first.seq,
            "first_problem": None if first is None else first.what,
            "problems": [p.to_dict() for p in self.problems],
            "checkpoints": self.checkpoints,
            "approved_events": self.events_signed,
        }


class _Frontier:
    """Incremental RFC 6962 root: the perfect subtrees along the right edge."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []

    def push(self, leaf: bytes) -> None:
        height, node = 0, leaf
        while self.stack and self.stack[-1][0] == height:
            _, left = self.stack.pop()
            node = merkle.node_hash(left, node)
            height += 1
        self.stack.append((height, node))

    def root(self) -> bytes:
        if not self.stack:
            return merkle.EMPTY_ROOT
        node = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            node = merkle.node_hash(left, node)
        return node


class _OfficerRules:
    """Officer state replayed from the events, and the officer checks against it: who may
    enrol whom and when (custody/ledger/officer_rules.py, shared with the code that appends), and
    every approval signature."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.roster = Roster()
        self.nonces: set[str] = set()

    def genesis(self, payload: dict[str, Any]) -> None:
        self.roster.apply(0, "ledger.created", payload)

    def check(self, seq: int, etype: str, actors: Any, payload: Any, approvals: Any) -> str | None:
        names = _approver_names(approvals)
        if names is None:
            return "an approval is malformed"
        needed = 2
        if etype == "officer.enrolled":
            problem = enrolment_problem(self.roster, payload, names)
            if problem:
                return problem
            needed = 1 if "recovery" in payload else 2
        if etype in TWO_PERSON_TYPES and not approvals:
            return f"{etype} lacks two officers' approval"
        if approvals:
            problem = self._check_approvals(etype, actors, payload, approvals, needed)
            if problem:
                return problem
        return self.roster.apply(seq, etype, payload, names)

    def _check_approvals(
        self, etype: str, actors: Any, payload: Any, approvals: Any, needed: int
    ) -> str | None:
        if not isinstance(approvals, list) or len(approvals) != needed:
            return "approvals are not exactly two" if needed == 2 else "approvals are not one"
        try:
            names = [a["officer"] for a in approvals]
            nonces = {a["nonce"] for a in approvals}
            sigs = [base64.b64decode(a["sig"], validate=True) for a in approvals]
        except (KeyError, TypeError, binascii.Error):
            return "an approval is malformed"
        if len(set(names)) != len(names):
            return f"officer {names[0]!r} approved twice"
        if len(nonces) != 1:
            return "the two approvals use different nonces"
        nonce_hex = nonces.pop()
        if nonce_hex in self.nonces:
            return "an approval nonce is reused (replayed approval)"
        self.nonces.add(nonce_hex)
        try:
            message = approval_message(
                self.origin, etype, list(actors), payload, bytes.fromhex(nonce_hex)
            )
        except (ValueError, TypeError):
            return "an approval nonce is malformed"
        keys = set()
        for name, sig in zip(names, sigs, strict=True):
            officer = self.roster.officers.get(name)
            if officer is None:
                return f"approval by {name!r}, who was not an enrolled officer"
            if not officer.active:
                return f"approval by {name!r}, who was retired"
            if officer.role != "officer":
                return f"approval by {name!r}, who is not an officer"
            keys.add(officer.public_key)
            try:
                Ed25519PublicKey.from_public_bytes(officer.public_key).verify(sig, message)
            except InvalidSignature:
                return f"the signature of {name!r} does not match the event"
        if len(keys) != needed:
            return "both approvals come from the same key"
        return None


def _approver_names(approvals: Any) -> list[str] | None:
    if not isinstance(approvals, list):
        return None
    names = [a.get("officer") if isinstance(a, dict) else None for a in approvals]
    return [str(n) for n in names] if all(isinstance(n, str) for n in names) else None


def verify_ledger(
    conn: Any,
    *,
    origin: str,
    key_name: str,
    public_key: bytes,
    external: Sequence[tuple[str, str]] = (),
) -> VerifyReport:
    """Verify the ledger behind `conn`. `external` = [(source name, signed note text), ...]."""
    report = VerifyReport()
    notes: list[tuple[str, str]] = [
        (f"ledger checkpoint #{i}", str(r[0]))
        for i, r in enumerate(conn.execute("SELECT note FROM checkpoints ORDER BY id"))
    ]
    notes.extend(external)
    parsed: list[tuple[str, checkpoint.Checkpoint | None, str | None]] = []
    for source, text in notes:
        try:
            parsed.append((source, checkpoint.verify(text, key_name, public_key, origin), None))
        except ProofError as exc:
            parsed.append((source, None, exc.message))
    wanted = {cp.size for _, cp, _ in parsed if cp is not None}
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in wanted else {}

    frontier = _Frontier()
    rules = _OfficerRules(origin)
    origin_json = json.dumps(origin, ensure_ascii=False).encode()
    expected, prev = 0, GENESIS_PREV
    rows = conn.execute(
        "SELECT seq, time, type, actors, payload, approvals, prev_hash, hash FROM events "
        "ORDER BY seq"
    )
    for seq, time, etype, actors, payload, approvals, stored_prev, stored_hash in rows:
        problem = None
        if seq != expected:
            problem = (
                f"event {expected} is missing (next event is {seq})"
                if isinstance(seq, int) and seq > expected
                else f"sequence number {seq!r} out of order"
            )
            report.problems.append(Problem(expected, problem))
            expected = seq if isinstance(seq, int) else expected
        try:
            actors_b, payload_b, approvals_b = bytes(actors), bytes(payload), bytes(approvals)
            entry = b"".join(
                (
                    b'{"actors":',
                    actors_b,
                    b',"approvals":',
                    approvals_b,
                    b',"log":',
                    origin_json,
                    b',"payload":',
                    payload_b,
                    b',"prev":"',
                    prev.hex().encode(),
                    b'","seq":',
                    str(seq).encode(),
                    b',"time":',
                    json.dumps(time, ensure_ascii=False).encode(),
                    b',"type":',
                    json.dumps(etype, ensure_ascii=False).encode(),
                    b',"v":1}',
                )
            )
        except (TypeError, ValueError):
            report.problems.append(Problem(expected, "a field has the wrong type"))
            entry = b""
        h = event_hash(entry)
        if bytes(stored_prev or b"") != prev:
            report.problems.append(Problem(expected, "does not link to the previous event"))
        elif bytes(stored_hash or b"") != h:
            report.problems.append(Problem(expected, "content does not match its hash"))
        if (
            expected == 0
            or approvals_b != b"[]"
            or etype in TWO_PERSON_TYPES
            or (isinstance(etype, str) and etype.startswith(("officer.", "ledger.")))
        ):
            problem = _semantic(
                rules, expected, etype, actors_b, payload_b, approvals_b, origin, public_key
            )
            if problem:
                report.problems.append(Problem(expected, problem))
            if approvals_b != b"[]":
                report.events_signed += 1
        frontier.push(h)
        prev = h
        expected += 1
        if expected in wanted:
            roots[expected] = frontier.root()
    if expected == 0:
        report.problems.append(Problem(0, "the ledger has no events"))
    report.size = expected
    report.root = frontier.root()
    _check_officer_keys(conn, rules, report)
    for source, cp, error in parsed:
        entry_out: dict[str, Any] = {"source": source, "ok": False}
        if cp is None:
            entry_out["problem"] = error
            report.problems.append(Problem(None, f"{source}: {error}"))
        else:
            entry_out.update(size=cp.size, root=cp.root.hex())
            if cp.size > report.size:
                msg = (
                    f"{source} was signed at size {cp.size} but the ledger has {report.size} "
                    "events: truncated or rolled back"
                )
                entry_out["problem"] = msg
                report.problems.append(Problem(report.size, msg))
            elif roots.get(cp.size) != cp.root:
                msg = f"the first {cp.size} events differ from those {source} signed"
                entry_out["problem"] = msg
                report.problems.append(Problem(None, msg))
            else:
                entry_out["ok"] = True
        report.checkpoints.append(entry_out)
    return report


def _semantic(
    rules: _OfficerRules,
    seq: int,
    etype: Any,
    actors_b: bytes,
    payload_b: bytes,
    approvals_b: bytes,
    origin: str,
    public_key: bytes,
) -> str | None:
    try:
        actors = canonical_json.loads(actors_b)
        payload = canonical_json.loads(payload_b)
        approvals = canonical_json.loads(approvals_b)
    except (ValueError, UnicodeDecodeError):
        return "a field is not valid JSON"
    if not isinstance(payload, dict):
        return "the payload is not a JSON object"
    if seq == 0 or etype == "ledger.created":
        if seq != 0 or etype != "ledger.created":
            return "ledger.created must be the first event, and only the first"
        if payload.get("origin") != origin:
            return "the genesis event names another ledger"
        if payload.get("checkpoint_vkey") != checkpoint.vkey(origin, public_key):
            return "the genesis event names another checkpoint key"
        rules.genesis(payload)  # its HSM token is the one a recovery's SO login must name
        return None
    return rules.check(seq, str(etype), actors, payload, approvals)


def _check_officer_keys(conn: Any, rules: _OfficerRules, report: VerifyReport) -> None:
    for name, public_key in conn.execute("SELECT name, public_key FROM officer_keys"):
        officer = rules.roster.officers.get(name)
        if officer is None or officer.public_key != bytes(public_key):
            report.problems.append(
                Problem(None, f"the stored key of officer {name!r} does not match its enrolment")
            )
