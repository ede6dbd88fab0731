"""What one run of a ceremony holds, shared by the state machine and the step work.

A `RunContext` is made by the machine (ceremony/state_machine.py) for each `Ceremony` and handed
to every step's work (ceremony/step_work.py): the open facility home, the ceremony's journal,
the handler that asks the people in the room (ceremony/handler.py), the plan, the mark, the
open entropy sources, the entropy metrics textfile when one was asked for
(ceremony/entropy_metrics.py), and the two officers of this run. The officers' credentials are asked
once per run and their signing keys unsealed once; both live in memory only for the run and are
forgotten at `close`. Every two-officer event of the ceremony is appended through `append`.

Also here: `ledger_safe` (ledger payloads refuse floats) and the tests' kill hook.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ceremony import steps
from ceremony.ceremony_journal import CeremonyJournal
from ceremony.ceremony_plan import CeremonyPlan
from ceremony.entropy_metrics import EntropyMetrics
from ceremony.entropy_sources import EntropySource, testing_enabled
from ceremony.entropy_specs import open_sources
from ceremony.errors import CeremonyStateError
from ceremony.handler import CeremonyHandler
from custody.ledger import officers
from custody.ledger.chain import Approval
from custody.ledger.home import OpenHome
from custody.pad.manifest import Mark

KILL_ENV = "REDDOOR_CEREMONY_KILL"  # tests only: "STEP:PHASE" → SIGKILL ourselves there

SourceFactory = Callable[[Sequence[str]], list[EntropySource]]


def kill_hook(step_id: str, phase: str) -> None:
    """Tests: die by SIGKILL at a chosen point (REDDOOR_CEREMONY_KILL=step:phase)."""
    target = os.environ.get(KILL_ENV)
    if target and testing_enabled() and target == f"{step_id}:{phase}":
        os.kill(os.getpid(), signal.SIGKILL)


def ledger_safe(value: Any) -> Any:
    """Ledger payloads refuse floats: keep them as short decimal strings."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return {str(k): ledger_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [ledger_safe(v) for v in value]
    return value


def _unlock_officer(ledger: Any, name: str, passphrase: str) -> tuple[str, Ed25519PrivateKey]:
    """An officer's signing key, unsealed once per run (one Argon2id instead of one per event).

    Kept in memory only for the run, like the passphrase it came from. Uses the officer-key
    format of custody/ledger/officers.py (Argon2id → AES-256-GCM, associated data from `_key_aad`).
    """
    row = ledger.conn.execute(
        "SELECT public_key, kdf, salt, nonce, sealed_key FROM officer_keys WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise CeremonyStateError(f"the stored key of officer {name!r} is missing")
    public_key = bytes(row[0])
    raw = AESGCM(officers._derive(passphrase, bytes(row[2]), json.loads(row[1]))).decrypt(
        bytes(row[3]), bytes(row[4]), officers._key_aad(ledger.origin, name, public_key)
    )
    return name, Ed25519PrivateKey.from_private_bytes(raw)


class RunContext:
    """One run of one ceremony: what its steps work with, and its two officers."""

    def __init__(
        self,
        oh: OpenHome,
        journal: CeremonyJournal,
        handler: CeremonyHandler,
        *,
        source_factory: SourceFactory | None = None,
        metrics: EntropyMetrics | None = None,
    ) -> None:
        self.oh = oh
        self.metrics = metrics
        self.journal = journal
        self.handler = handler
        self.plan = CeremonyPlan.from_dict(journal.data["plan"])
        self.practice = bool(oh.settings.practice)
        self.mark = Mark.PRACTICE if self.practice else Mark.PRODUCTION
        self.sources: list[EntropySource] = []
        self.source_factory: SourceFactory = source_factory or (
            lambda specs: open_sources(specs, oh, practice=self.practice)
        )
        self._officers: list[tuple[str, str]] = []
        self._signers: list[tuple[str, Ed25519PrivateKey]] = []

    @property
    def ceremony_id(self) -> str:
        return self.journal.ceremony_id

    @property
    def officer_names(self) -> list[str]:
        return [n for n, _ in self._officers]

    def close(self) -> None:
        """Close the sources and forget the officers' credentials and keys."""
        for s in self.sources:
            with contextlib.suppress(Exception):
                s.close()
        self.sources = []
        self._officers = []
        self._signers = []

    # -- the two officers ---------------------------------------------------------------------
    def authenticate(self) -> None:
        """Ask both officers for their credentials, once per run."""
        if len(self._officers) == 2:
            return
        names: list[str] = []
        creds = []
        for i in range(2):
            name, passphrase = self.handler.officer_credentials(i, names)
            names.append(name)
            creds.append((name, passphrase))
        self._officers = creds

    def prove_officers(self) -> None:
        """Both officers prove their passphrases now, before anything is recorded or destroyed.

        Goes through the full officer checks (officers.collect: refusals are recorded as
        `approval.refused`), then unlocks both signing keys for the events that follow."""
        self.authenticate()
        if self._signers:
            return
        ledger = self.oh.ledger
        request = ledger.request_approval(
            steps.EXCEPTION_EVENT, {"ceremony_id": self.ceremony_id, "mark": self.mark.value}
        )
        officers.collect(ledger, request, self._officers)  # raises ApprovalRefused
        self._signers = [_unlock_officer(ledger, n, p) for n, p in self._officers]

    def append(self, event_type: str, payload: dict[str, Any]) -> int:
        """Append a two-officer event signed by both officers of this run; its sequence number."""
        if len(self._officers) != 2:
            raise CeremonyStateError("the two officers have not authenticated")
        ledger = self.oh.ledger
        if not self._signers:
            # The first event of a run goes through the full officer checks (refusals are
            # recorded); it proves both passphrases.
            event = officers.append_with_officers(
                ledger, event_type, ledger_safe(payload), self._officers
            )
            self._signers = [_unlock_officer(ledger, n, p) for n, p in self._officers]
            return event.seq
        # Later events: each officer's key, unlocked once per run, signs the exact request;
        # `append_approved` re-checks both signatures, distinct active officers and the nonce.
        request = ledger.request_approval(event_type, ledger_safe(payload))
        message = request.message(ledger.origin)
        approvals = [
            Approval(name, request.nonce, key.sign(message)) for name, key in self._signers
        ]
        return officers.append_approved(ledger, request, approvals).seq

    def record_exception(self, step_id: str, expected: str, happened: str, decision: str) -> int:
        """Record, signed by both officers, that something was not as expected and what they
        decided."""
        return self.append(
            steps.EXCEPTION_EVENT,
            {
                "ceremony_id": self.ceremony_id,
                "step": step_id,
                "expected": expected,
                "happened": happened,
                "decision": decision,
                "mark": self.mark.value,
            },
        )
