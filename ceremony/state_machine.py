"""The ceremony state machine: drives ceremony/steps.py, asks people through a handler.

Qt-free and blocking. The CLI (app/cli/ceremony_commands.py) and the Qt wizard each
implement `CeremonyHandler`; long work reports through `handler.progress` and polls
`handler.cancelled()` (the wizard runs `Ceremony.run` in its worker thread; the handler's
methods are then called on that thread and must marshal to the UI themselves).

    ceremony = Ceremony.begin(open_home, CeremonyPlan(...), handler)   # new ceremony
    ceremony = Ceremony.resume(open_home, handler)                     # after a crash
    outcome = ceremony.run()          # -> CeremonyOutcome (pad id, fingerprints, receipt, ...)
    Ceremony.abort(open_home, handler, reason)                         # zeroize, record why
    ceremony_status(home_path)                                         # no token needed

Rules kept here:

* Every confirmation is a two-officer signed ledger event (`officers.append_with_officers`);
  the officers' credentials are asked once per run (authenticate, or at resume) and kept in
  memory only for the run.
* The journal (ceremony/ceremony_journal.py) is written before and after each step's work, so a
  crash at any point resumes or aborts cleanly; a step's ledger event is looked up before it is
  appended, so a resumed step never records twice.
* A fault (health alarm, statistics inconsistent with uniform, a copy that does not verify, a
  medium or HSM error, a cancel) stops the ceremony: everything generated is zeroized and
  deleted (customer files, vault chunks, the per-pad HSM key) and `ceremony.failed` is
  recorded. Only an interruption (kill, power loss, Ctrl-C) leaves a ceremony to resume.
* Statistics: a pad whose monobit or byte chi-square p-value is below 1e-6 is treated as a
  fault (an ideal pad trips this once in ~500,000 ceremonies; a false alarm costs one re-run,
  a missed fault costs a pad).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ceremony import mixer, sizing, steps, usb_media
from ceremony.ceremony_journal import CeremonyJournal, CeremonyLock, active_id, ceremonies_dir
from ceremony.entropy_sources import (
    BiasedSource,
    DeviceSource,
    EntropySource,
    OsSource,
    Pkcs11Source,
    StuckSource,
    check_source_policy,
    testing_enabled,
)
from ceremony.errors import (
    CeremonyCancelled,
    CeremonyError,
    CeremonyStateError,
    CopyVerificationFailure,
    PadStatisticsFailure,
)
from ceremony.steps import STEPS, Step
from custody.durable_file import fsync_directory, write_atomic
from custody.errors import PadFormatError, RedDoorError, UsageError
from custody.fingerprint_words import phrase
from custody.ledger import officers
from custody.ledger.chain import Approval, utc_now
from custody.ledger.home import OpenHome
from custody.pad import manifest as pad_manifest
from custody.pad import vault
from custody.pad.manifest import DEFAULT_CHUNK_SIZE, Manifest, Mark, Side, read_manifest_file
from custody.pad.store import PAD_NAME, write_pad_dir

log = logging.getLogger(__name__)

KILL_ENV = "REDDOOR_CEREMONY_KILL"  # tests only: "STEP:PHASE" → SIGKILL ourselves there
RATE_SECONDS = 0.5
DEFAULT_QUERIES_PER_DAY = 100
DEFAULT_BYTES_PER_QUERY = 10 * 1024
BAG_SERIAL_TRIES = 3


class CeremonyInputNeeded(CeremonyError):
    """The handler could not get an answer the step needs (e.g. no bag serial and no
    terminal). Not a fault: nothing is destroyed and the ceremony stays resumable."""

    exit_code = 2


# -- the handler interface -----------------------------------------------------------------


class CeremonyHandler(ABC):
    """Questions from the ceremony to the people in the room (CLI and Qt implement this)."""

    @abstractmethod
    def officer_credentials(self, index: int, exclude: Sequence[str]) -> tuple[str, str]:
        """Officer `index` (0 = A, 1 = B): (name, passphrase). `exclude`: names already given."""

    @abstractmethod
    def confirm(self, step: Step, facts: dict[str, Any]) -> bool:
        """Both officers confirm `step.question` given `facts`; False cancels the ceremony."""

    def confirmed(self, step: Step, seq: int) -> None:  # noqa: B027 - optional
        """Both officers' approval of `step` succeeded and is recorded as event `seq`."""

    @abstractmethod
    def confirm_fingerprint(self, step: Step, what: str, hex_digest: str, words: str) -> bool:
        """Both officers read `words` aloud and agree they match what each sees."""

    @abstractmethod
    def bag_serial(self, attempt: int, second: bool) -> str:
        """The tamper-evident bag's serial, typed; called twice per attempt (second=True).
        Raise `CeremonyInputNeeded` when it cannot be asked: the ceremony stays resumable."""

    @abstractmethod
    def exception(self, step_id: str, expected: str, happened: str) -> str:
        """Something was not as expected; return the officers' decision (recorded, signed)."""

    def progress(self, step: Step, done: int, total: int) -> None:  # noqa: B027 - optional
        """Long work advanced (bytes)."""

    def info(self, step: Step, text: str, facts: dict[str, Any] | None = None) -> None:  # noqa: B027
        """Something the officers should see (rates, ETA, identities)."""

    def cancelled(self) -> bool:
        """Polled during long work; True stops the ceremony (as a fault: material zeroized)."""
        return False


# -- plan and outcome ------------------------------------------------------------------------


@dataclass
class CeremonyPlan:
    size: int
    customer_dir: Path
    sources: list[str]
    split: str = "1:3"
    chunk_size: int = DEFAULT_CHUNK_SIZE
    receipt_out: Path | None = None
    queries_per_day: int = DEFAULT_QUERIES_PER_DAY
    bytes_per_query: int = DEFAULT_BYTES_PER_QUERY

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "customer_dir": str(self.customer_dir),
            "sources": list(self.sources),
            "split": self.split,
            "chunk_size": self.chunk_size,
            "receipt_out": str(self.receipt_out) if self.receipt_out else None,
            "queries_per_day": self.queries_per_day,
            "bytes_per_query": self.bytes_per_query,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CeremonyPlan:
        return cls(
            size=int(d["size"]),
            customer_dir=Path(d["customer_dir"]),
            sources=list(d["sources"]),
            split=str(d["split"]),
            chunk_size=int(d["chunk_size"]),
            receipt_out=Path(d["receipt_out"]) if d.get("receipt_out") else None,
            queries_per_day=int(d.get("queries_per_day", DEFAULT_QUERIES_PER_DAY)),
            bytes_per_query=int(d.get("bytes_per_query", DEFAULT_BYTES_PER_QUERY)),
        )


@dataclass
class CeremonyOutcome:
    ceremony_id: str
    pad_id: str
    pad_id_display: str
    mark: str
    size: int
    split: str
    merkle_root: str
    merkle_root_words: str
    pad_sha256: str
    pad_sha256_words: str
    usb: dict[str, Any]
    hsm: dict[str, Any]
    bag_serial: str
    receipt: str | None
    closing_event: int
    officers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ceremony_id": self.ceremony_id,
            "pad_id": self.pad_id,
            "pad_id_display": self.pad_id_display,
            "mark": self.mark,
            "size": self.size,
            "split": self.split,
            "fingerprints": {
                "merkle_root": self.merkle_root,
                "merkle_root_words": self.merkle_root_words,
                "pad_sha256": self.pad_sha256,
                "pad_sha256_words": self.pad_sha256_words,
            },
            "usb": self.usb,
            "hsm": self.hsm,
            "bag_serial": self.bag_serial,
            "receipt": self.receipt,
            "closing_event": self.closing_event,
            "officers": self.officers,
        }


# -- helpers -------------------------------------------------------------------------------


def ledger_safe(value: Any) -> Any:
    """Ledger payloads refuse floats: keep them as short decimal strings."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return {str(k): ledger_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [ledger_safe(v) for v in value]
    return value


def open_sources(specs: Sequence[str], oh: OpenHome, *, practice: bool) -> list[EntropySource]:
    """Entropy sources from their command-line spellings.

    ``hwrng`` (/dev/hwrng), ``pkcs11`` (the home's token RNG), ``os`` (the OS CSPRNG), a device
    or FIFO path; with REDDOOR_TESTING=1 also ``test:stuck``, ``test:biased``.
    """
    out: list[EntropySource] = []
    try:
        for spec in specs:
            if spec == "hwrng":
                out.append(DeviceSource())
            elif spec == "os":
                out.append(OsSource())
            elif spec == "pkcs11":
                info = oh.token.info()
                out.append(
                    Pkcs11Source(
                        oh.token.random,
                        model=info.model,
                        serial=info.serial,
                        label=info.label,
                        manufacturer=info.manufacturer,
                        module=info.module,
                    )
                )
            elif spec.startswith("test:"):
                if not testing_enabled():
                    raise UsageError(f"source {spec!r} exists only in the test suite")
                kind = spec[5:]
                if kind == "stuck":
                    out.append(StuckSource(0x5A, name="test-stuck"))
                elif kind == "biased":
                    out.append(BiasedSource(p=0.05, name="test-biased"))
                else:
                    raise UsageError(f"unknown test source {spec!r}")
            else:
                out.append(DeviceSource(spec, practice=practice))
    except BaseException:
        for s in out:
            s.close()
        raise
    return out


def _kill_hook(step_id: str, phase: str) -> None:
    """Tests: die by SIGKILL at a chosen point (REDDOOR_CEREMONY_KILL=step:phase)."""
    target = os.environ.get(KILL_ENV)
    if target and testing_enabled() and target == f"{step_id}:{phase}":
        os.kill(os.getpid(), signal.SIGKILL)


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


def _find_event(oh: OpenHome, event_type: str, ceremony_id: str) -> int | None:
    needle = f'"ceremony_id":"{ceremony_id}"'.encode()
    row = oh.ledger.conn.execute(
        "SELECT seq FROM events WHERE type = ? AND instr(payload, ?) > 0 ORDER BY seq LIMIT 1",
        (event_type, needle),
    ).fetchone()
    return None if row is None else int(row[0])


# -- the machine ---------------------------------------------------------------------------


class Ceremony:
    def __init__(
        self,
        oh: OpenHome,
        journal: CeremonyJournal,
        handler: CeremonyHandler,
        lock: CeremonyLock,
        *,
        source_factory: Callable[[Sequence[str]], list[EntropySource]] | None = None,
    ) -> None:
        self.oh = oh
        self.journal = journal
        self.handler = handler
        self._lock = lock
        self.plan = CeremonyPlan.from_dict(journal.data["plan"])
        self.practice = bool(oh.settings.practice)
        self.mark = Mark.PRACTICE if self.practice else Mark.PRODUCTION
        self._officers: list[tuple[str, str]] = []
        self._signers: list[tuple[str, Ed25519PrivateKey]] = []
        self._sources: list[EntropySource] = []
        self._source_factory = source_factory or (
            lambda specs: open_sources(specs, oh, practice=self.practice)
        )

    # -- entry points -----------------------------------------------------------------------
    @classmethod
    def begin(
        cls,
        oh: OpenHome,
        plan: CeremonyPlan,
        handler: CeremonyHandler,
        *,
        source_factory: Callable[[Sequence[str]], list[EntropySource]] | None = None,
    ) -> Ceremony:
        pad_manifest.parse_split(plan.split)
        w2f, f2w = pad_manifest.region_lengths(plan.size, pad_manifest.parse_split(plan.split))
        if min(w2f, f2w) < pad_manifest.MIN_REGION:
            raise UsageError(
                f"a pad of {plan.size:,} bytes is too small for split {plan.split}: each "
                f"direction needs at least {pad_manifest.MIN_REGION:,} bytes"
            )
        if not plan.sources:
            raise UsageError("choose at least one entropy source (--source)")
        plan.customer_dir = plan.customer_dir.expanduser().resolve()
        lock = CeremonyLock(oh.path)
        if active_id(oh.path) is None:
            try:  # preflight: a wrong medium leaves no journal and no ledger event
                usb_media.check_target(
                    plan.customer_dir,
                    plan.size,
                    chunk_size=plan.chunk_size,
                    require_removable=not oh.settings.practice,
                )
            except BaseException:
                lock.release()
                raise
        try:
            journal = CeremonyJournal.create(oh.path, plan.to_dict())
        except BaseException:
            lock.release()
            raise
        return cls(oh, journal, handler, lock, source_factory=source_factory)

    @classmethod
    def resume(
        cls,
        oh: OpenHome,
        handler: CeremonyHandler,
        *,
        source_factory: Callable[[Sequence[str]], list[EntropySource]] | None = None,
    ) -> Ceremony:
        lock = CeremonyLock(oh.path)
        try:
            journal = CeremonyJournal.load_active(oh.path)
        except BaseException:
            lock.release()
            raise
        c = cls(oh, journal, handler, lock, source_factory=source_factory)
        c._resuming = True
        return c

    _resuming = False

    @property
    def ceremony_id(self) -> str:
        return self.journal.ceremony_id

    def close(self) -> None:
        for s in self._sources:
            with contextlib.suppress(Exception):
                s.close()
        self._sources = []
        self._officers = []
        self._signers = []
        self._lock.release()

    # -- running ----------------------------------------------------------------------------
    def run(self) -> CeremonyOutcome:
        """Run every step not yet done. Faults stop and clean up; interruptions stay resumable.

        On resume both officers are authenticated first: a refusal (same officer twice, wrong
        passphrase, unknown officer: recorded by officers.approve as `approval.refused`), or
        anything else that stops us before the run continues, leaves the journal active and
        resumable, its material untouched."""
        if self._resuming:
            try:
                self._prove_officers()
            except BaseException:
                self.close()
                raise
        try:
            if self._resuming:
                self._record_interruption()
            for s in STEPS:
                state = self.journal.step_state(s.id)
                if state == "done":
                    continue
                self._run_step(s, state)
            if self.journal.data["state"] == "active":
                self.journal.finish("closed")
            return self._outcome()
        except (KeyboardInterrupt, SystemExit, CeremonyInputNeeded):
            raise  # an interruption: the journal says where to resume
        except RedDoorError as exc:
            self._fail(exc)
            raise
        except Exception as exc:
            self._fail(exc)
            raise
        finally:
            self.close()

    def _run_step(self, s: Step, state: str) -> None:
        _kill_hook(s.id, "start")
        if state == "worked":
            result = self.journal.result(s.id)
        else:
            result = getattr(self, f"_work_{s.id}")(s)
            self.journal.mark_worked(s.id, result)
        _kill_hook(s.id, "worked")
        seq = None
        if s.event:
            seq = _find_event(self.oh, s.event, self.ceremony_id)
            if seq is None:
                payload = self._payload(s, result)
                if not self.handler.confirm(s, payload):
                    raise CeremonyCancelled(f"the officers did not confirm step {s.title!r}")
                seq = self._append(s.event, payload)
                self.handler.confirmed(s, seq)
        _kill_hook(s.id, "confirmed")
        extra = getattr(self, f"_after_{s.id}", lambda _s, _seq: None)(s, seq)
        self.journal.mark_done(s.id, seq, extra)

    def _append(self, event_type: str, payload: dict[str, Any]) -> int:
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

    def _payload(self, s: Step, result: dict[str, Any]) -> dict[str, Any]:
        base = {
            "ceremony_id": self.ceremony_id,
            "step": s.id,
            "mark": self.mark.value,
        }
        gen = self.journal.result("generate")
        if gen.get("pad_id"):
            base["pad_id"] = gen["pad_id"]
        return {**base, **result}

    # -- step work (each returns a secret-free result kept in the journal) --------------------
    def _work_prepare(self, s: Step) -> dict[str, Any]:
        plan = self.plan
        usb_media.check_target(
            plan.customer_dir,
            plan.size,
            chunk_size=plan.chunk_size,
            require_removable=not self.practice,
        )
        medium = usb_media.identify(plan.customer_dir)
        self.handler.info(s, "customer medium", medium)
        token = self.oh.token.info().to_dict()
        return {"usb": medium, "hsm_token": token}

    def _work_authenticate(self, s: Step) -> dict[str, Any]:
        self._authenticate()
        plan = self.plan
        return {
            "plan": {
                "size": plan.size,
                "split": plan.split,
                "chunk_size": plan.chunk_size,
                "sources": plan.sources,
            },
            "usb": self.journal.result("prepare").get("usb", {}),
            "officers": [n for n, _ in self._officers],
            "script_sha256": steps.script_sha256().hex(),
            "script_words": steps.script_words(),
            "practice": self.practice,
        }

    def _authenticate(self) -> None:
        if len(self._officers) == 2:
            return
        names: list[str] = []
        creds = []
        for i in range(2):
            name, passphrase = self.handler.officer_credentials(i, names)
            names.append(name)
            creds.append((name, passphrase))
        self._officers = creds

    def _prove_officers(self) -> None:
        """Both officers prove their passphrases now, before anything is recorded or destroyed.

        Goes through the full officer checks (officers.collect: refusals are recorded as
        `approval.refused`), then unlocks both signing keys for the events that follow."""
        self._authenticate()
        if self._signers:
            return
        ledger = self.oh.ledger
        request = ledger.request_approval(
            steps.EXCEPTION_EVENT, {"ceremony_id": self.ceremony_id, "mark": self.mark.value}
        )
        officers.collect(ledger, request, self._officers)  # raises ApprovalRefused
        self._signers = [_unlock_officer(ledger, n, p) for n, p in self._officers]

    def _work_sources(self, s: Step) -> dict[str, Any]:
        self._sources = self._source_factory(self.plan.sources)
        mixing = check_source_policy(self._sources, practice=self.practice)
        rates = []
        for src in self._sources:
            rate = src.measure_rate(RATE_SECONDS)
            rates.append(rate)
        slowest = min(rates)
        eta = sizing.eta_seconds(self.plan.size, slowest)
        suggestions = sizing.suggest_sizes(
            slowest, self.plan.queries_per_day, self.plan.bytes_per_query
        )
        facts = {
            "sources": [src.identity() for src in self._sources],
            "rates_bytes_per_second": [int(r) for r in rates],
            "eta_seconds": int(eta),
            "eta_text": sizing.format_duration(eta),
            "size_text": sizing.format_size(self.plan.size),
            "suggestions": [
                {k: v for k, v in row.items() if k != "eta_seconds"} for row in suggestions
            ],
            "mixing": mixing,
        }
        self.handler.info(s, "sources", facts)
        return ledger_safe(facts)  # type: ignore[no-any-return]

    def _work_generate(self, s: Step) -> dict[str, Any]:
        plan = self.plan
        if not self._sources:
            self._sources = self._source_factory(plan.sources)
        # An earlier attempt's partial bytes are never reused: zeroize, start again.
        usb_media.remove_customer_pad(plan.customer_dir)
        self.journal.set("material", True)
        writer = usb_media.PartialPadWriter(plan.customer_dir, plan.chunk_size)
        try:
            seen = [0]

            def progress(done: int, total: int) -> None:
                self.handler.progress(s, done, total)
                if done and not seen[0]:
                    seen[0] = 1
                    _kill_hook(s.id, "during")

            result = mixer.generate(
                self._sources,
                plan.size,
                writer,
                practice=self.practice,
                progress=progress,
                cancel=self.handler.cancelled,
            )
            digests = writer.finish()
        finally:
            writer.close()
        stats = result.statistics
        if stats and not stats.get("consistent_with_uniform", True):
            raise PadStatisticsFailure(
                "the pad's statistics are inconsistent with uniform bytes ("
                + ", ".join(stats.get("concerns", []))
                + f", p < {stats.get('suspicion_p_value')}); the ceremony stops and the pad "
                "is zeroized"
            )
        manifest = pad_manifest.build(
            writer.path,
            split=plan.split,
            ceremony_id=self.ceremony_id,
            mark=self.mark,
            created=utc_now()[:19] + "Z",
            chunk_size=plan.chunk_size,
            chunk_digests=digests,
        )
        write_atomic(self.journal.manifest_path, manifest.to_bytes())
        root = manifest.merkle_root
        pad_sha = writer.whole.digest()
        if not self.handler.confirm_fingerprint(s, "pad Merkle root", root.hex(), phrase(root)):
            raise CeremonyCancelled("the officers did not agree on the pad's fingerprint")
        gen = result.to_dict()
        return ledger_safe(  # type: ignore[no-any-return]
            {
                "pad_id": manifest.pad_id.hex(),
                "pad_id_display": manifest.pad_id_display,
                "size": manifest.size,
                "split": manifest.split,
                "w2f_length": manifest.w2f_length,
                "f2w_length": manifest.size - manifest.w2f_length,
                "chunk_size": manifest.chunk_size,
                "chunks": len(manifest.chunk_hashes),
                "merkle_root": root.hex(),
                "merkle_root_words": phrase(root),
                "pad_sha256": pad_sha.hex(),
                "pad_sha256_words": phrase(pad_sha),
                "manifest_sha256": manifest.sha256.hex(),
                "created": manifest.created,
                "sources": gen["sources"],
                "mixing": gen["mixing"],
                "health": gen["health"],
                "statistics": gen["statistics"],
                "generation_seconds": gen["seconds"],
            }
        )

    def _manifest(self) -> Manifest:
        try:
            return Manifest.from_bytes(
                read_manifest_file(self.journal.manifest_path), str(self.journal.manifest_path)
            )
        except FileNotFoundError:
            raise CeremonyStateError("the ceremony's manifest is missing") from None

    def _work_customer_copy(self, s: Step) -> dict[str, Any]:
        d = self.plan.customer_dir
        manifest = self._manifest()
        partial = d / usb_media.PARTIAL_NAME
        if partial.exists():
            os.replace(partial, d / PAD_NAME)
        elif not (d / PAD_NAME).exists():
            raise CeremonyStateError(f"the generated pad is missing from {d}")
        write_pad_dir(d, manifest, Side.WORKSTATION)
        fsync_directory(d)
        return {
            "usb": usb_media.identify(d),
            "files": ["pad.bin", "manifest.json", "journal.json"],
            "manifest_sha256": manifest.sha256.hex(),
        }

    def _work_facility_copy(self, s: Step) -> dict[str, Any]:
        manifest = self._manifest()
        label = vault.key_label(manifest.pad_id)
        if self.oh.token.has_key(label) or vault.vault_dir(self.oh.path, manifest.pad_id).exists():
            vault.destroy_vault(self.oh.path, self.oh.token, manifest.pad_id)  # a crashed try
        pad_path = self.plan.customer_dir / PAD_NAME
        fd = os.open(pad_path, os.O_RDONLY)
        seen = [0]

        def read_chunk(i: int) -> bytearray:
            want = min(manifest.chunk_size, manifest.size - i * manifest.chunk_size)
            buf = bytearray(want)
            got = os.preadv(fd, [buf], i * manifest.chunk_size)
            if got != want:
                raise PadFormatError(f"{pad_path} is shorter than the manifest says")
            return buf

        def progress(done: int, total: int) -> None:
            self.handler.progress(s, done, total)
            if done and not seen[0]:
                seen[0] = 1
                _kill_hook(s.id, "during")

        try:
            info = vault.write_vault(
                self.oh.path,
                self.oh.token,
                manifest,
                read_chunk,
                progress=progress,
                cancel=self.handler.cancelled,
            )
        finally:
            os.close(fd)
        self.handler.info(s, "facility copy", info)
        return {"hsm": info}

    def _work_verify(self, s: Step) -> dict[str, Any]:
        manifest = self._manifest()
        try:
            customer = usb_media.read_back(
                self.plan.customer_dir / PAD_NAME,
                manifest,
                progress=lambda d, t: self.handler.progress(s, d, 2 * t),
            )
            facility = vault.verify_vault(
                self.oh.path,
                self.oh.token,
                manifest,
                progress=lambda d, t: self.handler.progress(s, t + d, 2 * t),
                cancel=self.handler.cancelled,
            )
        except PadFormatError as exc:
            raise CopyVerificationFailure(str(exc)) from None
        return {"customer": customer, "facility": facility}

    def _work_seal(self, s: Step) -> dict[str, Any]:
        for attempt in range(1, BAG_SERIAL_TRIES + 1):
            first = self.handler.bag_serial(attempt, False).strip()
            second = self.handler.bag_serial(attempt, True).strip()
            if first and first == second:
                if len(first) > 64 or not first.isprintable():
                    raise UsageError("a bag serial is at most 64 printable characters")
                return {"bag_serial": first}
            self.handler.info(s, "the two bag serials differ (or are empty); type them again")
        decision = self.handler.exception(
            s.id,
            "the bag serial typed twice matches",
            f"{BAG_SERIAL_TRIES} attempts differed",
        )
        self._record_exception(
            s.id,
            "the bag serial typed twice matches",
            f"{BAG_SERIAL_TRIES} attempts differed",
            decision,
        )
        raise CeremonyCancelled("the bag serial could not be confirmed")

    def _work_receipt(self, s: Step) -> dict[str, Any]:
        gen = self.journal.result("generate")
        return {
            "pad_id_display": gen.get("pad_id_display"),
            "merkle_root": gen.get("merkle_root"),
            "pad_sha256": gen.get("pad_sha256"),
            "bag_serial": self.journal.result("seal").get("bag_serial"),
            "usb_serial": self.journal.result("customer_copy").get("usb", {}).get("serial", ""),
            "key_label": self.journal.result("facility_copy").get("hsm", {}).get("key_label"),
            "copies_verified": True,
        }

    def _after_receipt(self, s: Step, seq: int | None) -> dict[str, Any]:
        from ceremony import receipt_data

        self.oh.ledger.checkpoint()
        out = self.plan.receipt_out or (self.journal.directory / "receipt.pdf")
        path = receipt_data.write_for_pad(
            self.oh, bytes.fromhex(self.journal.result("generate")["pad_id"]), out
        )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        self.handler.info(s, "receipt", {"path": str(path), "sha256": digest})
        return {"receipt_path": str(path), "receipt_sha256": digest, "closing_event": seq}

    def _work_close(self, s: Step) -> dict[str, Any]:
        r = self.journal.result("receipt")
        return {"receipt_sha256": r.get("receipt_sha256", "")}

    # -- exceptions, faults, abort ----------------------------------------------------------
    def _record_interruption(self) -> None:
        pending = next((x.id for x in STEPS if self.journal.step_state(x.id) != "done"), "close")
        happened = f"the ceremony was interrupted during step {pending!r} (crash or power loss)"
        expected = "the ceremony runs without interruption"
        decision = self.handler.exception(pending, expected, happened)
        self._record_exception(pending, expected, happened, decision or "resume")
        self.journal.set("interruptions", int(self.journal.data.get("interruptions", 0)) + 1)

    def _record_exception(self, step_id: str, expected: str, happened: str, decision: str) -> int:
        return self._append(
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

    def _fail(self, exc: BaseException) -> None:
        reason = (
            str(exc) if isinstance(exc, RedDoorError) else f"internal error ({type(exc).__name__})"
        )
        step_id = next((x.id for x in STEPS if self.journal.step_state(x.id) != "done"), "close")
        try:
            destroyed = cleanup_material(self.oh, self.journal)
        except Exception as cleanup_exc:  # keep the original error; say cleanup failed
            log.error("cleanup after a failed ceremony failed: %s", type(cleanup_exc).__name__)
            destroyed = {"cleanup_failed": type(cleanup_exc).__name__}
        try:
            self.oh.ledger.append(
                steps.FAILED_EVENT,
                ledger_safe(
                    {
                        "ceremony_id": self.ceremony_id,
                        "step": step_id,
                        "error": type(exc).__name__,
                        "reason": reason,
                        "destroyed": destroyed,
                        "mark": self.mark.value,
                    }
                ),
            )
        except Exception as ledger_exc:
            log.error("could not record the failed ceremony: %s", type(ledger_exc).__name__)
        self.journal.finish("failed", failure={"step": step_id, "reason": reason})

    # -- results ----------------------------------------------------------------------------
    def _outcome(self) -> CeremonyOutcome:
        j = self.journal
        gen = j.result("generate")
        return CeremonyOutcome(
            ceremony_id=self.ceremony_id,
            pad_id=gen["pad_id"],
            pad_id_display=gen["pad_id_display"],
            mark=self.mark.value,
            size=int(gen["size"]),
            split=gen["split"],
            merkle_root=gen["merkle_root"],
            merkle_root_words=gen["merkle_root_words"],
            pad_sha256=gen["pad_sha256"],
            pad_sha256_words=gen["pad_sha256_words"],
            usb=j.result("customer_copy").get("usb", {}),
            hsm=j.result("facility_copy").get("hsm", {}),
            bag_serial=j.result("seal").get("bag_serial", ""),
            receipt=j.result("receipt").get("receipt_path"),
            closing_event=int(j.data["steps"]["receipt"]["event_seq"]),
            officers=list(j.result("authenticate").get("officers", [])),
        )


def cleanup_material(oh: OpenHome, journal: CeremonyJournal) -> dict[str, Any]:
    """Zeroize and delete everything a ceremony generated: customer files, vault, HSM key."""
    out: dict[str, Any] = {}
    if journal.data.get("material"):
        d = Path(journal.data["plan"]["customer_dir"])
        out["customer_files"] = usb_media.remove_customer_pad(d) if d.is_dir() else []
    pad_hex = journal.result("generate").get("pad_id")
    if pad_hex is None and journal.manifest_path.exists():
        with contextlib.suppress(PadFormatError):
            pad_hex = Manifest.from_bytes(read_manifest_file(journal.manifest_path)).pad_id.hex()
    if pad_hex:
        out["facility"] = vault.destroy_vault(oh.path, oh.token, bytes.fromhex(pad_hex))
        out["pad_id"] = pad_hex
    with contextlib.suppress(FileNotFoundError):
        journal.manifest_path.unlink()
    return out


def abort(oh: OpenHome, handler: CeremonyHandler, reason: str) -> dict[str, Any]:
    """Abort the ceremony in progress: both officers sign why, then everything is destroyed."""
    if not reason.strip():
        raise UsageError("say why the ceremony is aborted (--reason)")
    c = Ceremony.resume(oh, handler)
    try:
        c._prove_officers()  # a refusal leaves the ceremony as it was
        pending = next((x.id for x in STEPS if c.journal.step_state(x.id) != "done"), "close")
        expected = "the ceremony runs to its close"
        happened = f"the ceremony stopped at step {pending!r}"
        c._record_exception(pending, expected, happened, f"abort: {reason}")
        destroyed = cleanup_material(oh, c.journal)
        seq = c._append(
            steps.ABORT_EVENT,
            {
                "ceremony_id": c.ceremony_id,
                "step": pending,
                "reason": reason,
                "destroyed": destroyed,
                "mark": c.mark.value,
            },
        )
        c.journal.finish("aborted", abort={"reason": reason, "event_seq": seq})
        return {"ceremony_id": c.ceremony_id, "step": pending, "destroyed": destroyed, "event": seq}
    finally:
        c.close()


def ceremony_status(home: Path) -> dict[str, Any]:
    """The ceremony in progress (or the latest one) from the journals alone (no token)."""
    cid = active_id(home)
    if cid is None:
        root = ceremonies_dir(home)
        journals = sorted(root.glob("*/journal.json"), key=lambda p: p.stat().st_mtime)
        if not journals:
            return {"active": False, "ceremony_id": None}
        cid = journals[-1].parent.name
    j = CeremonyJournal.load(home, cid)
    pending = next((x.id for x in STEPS if j.step_state(x.id) != "done"), None)
    gen = j.result("generate")
    return {
        "active": j.data["state"] == "active",
        "ceremony_id": cid,
        "state": j.data["state"],
        "completed_steps": [x.id for x in STEPS if j.step_state(x.id) == "done"],
        "next_step": pending,
        "pad_id": gen.get("pad_id"),
        "material": bool(j.data.get("material")),
        "interruptions": j.data.get("interruptions", 0),
        "plan": j.data["plan"],
        "failure": j.data.get("failure"),
    }
