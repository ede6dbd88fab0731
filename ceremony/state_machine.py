"""The ceremony state machine: which step comes next, who confirms it, what is recorded, and
how a ceremony resumes or aborts.

Qt-free and blocking. It drives the steps defined as data in ceremony/steps.py; what each step
does is in ceremony/step_work.py, and both work with the run's context (ceremony/run_context.py:
the home, journal, plan, sources and the two officers). People are asked through a
`CeremonyHandler` (ceremony/handler.py), implemented by the CLI (app/cli/ceremony_commands.py)
and the Qt wizard; long work reports through `handler.progress` and polls `handler.cancelled()`.

    ceremony = Ceremony.begin(open_home, CeremonyPlan(...), handler)   # new ceremony
    ceremony = Ceremony.resume(open_home, handler)                     # after a crash
    outcome = ceremony.run()          # -> CeremonyOutcome (pad id, fingerprints, receipt, ...)
    abort(open_home, handler, reason)                                  # zeroize, record why
    ceremony_status(home_path)                                         # no token needed

`CeremonyPlan` and `CeremonyOutcome` are in ceremony/ceremony_plan.py.

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
  recorded. Only an interruption (kill, power loss, Ctrl-C) leaves a ceremony to resume, or a
  question nobody could answer (`CeremonyInputNeeded`: no bag serial and no terminal; the
  printed receipt not yet signed), which the journal keeps as `waiting`.
* Once the ceremony is closed (step 9), the officers' "no" at step 10 (the printed receipt is
  not signed yet) destroys nothing: the pad is made, sealed and recorded, only the paper is
  missing. The ceremony waits at step 10 until it is resumed.
* Statistics: a pad whose monobit or byte chi-square p-value is below 1e-6 is treated as a
  fault (an ideal pad trips this once in ~500,000 ceremonies; a false alarm costs one re-run,
  a missed fault costs a pad).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ceremony import steps, usb_media
from ceremony.ceremony_journal import CeremonyJournal, CeremonyLock, active_id, ceremonies_dir
from ceremony.ceremony_plan import CeremonyOutcome, CeremonyPlan
from ceremony.entropy_metrics import EntropyMetrics
from ceremony.errors import CeremonyCancelled, CeremonyInputNeeded, CeremonyStateError
from ceremony.handler import CeremonyHandler
from ceremony.run_context import RunContext, SourceFactory, kill_hook, ledger_safe
from ceremony.step_work import AFTER, WORK, cleanup_material
from ceremony.steps import STEPS, Step
from custody.errors import RedDoorError, UsageError
from custody.ledger.home import OpenHome
from custody.pad import manifest as pad_manifest

log = logging.getLogger(__name__)


# Step 10 answered "no" (or not asked: no terminal) after the ceremony closed.
RECEIPT_PENDING = (
    "the printed receipt is not yet confirmed signed by both officers: nothing was destroyed; "
    "the pad is made and sealed, and the ceremony waits at step 10. Print the receipt, both "
    "officers sign it, then resume the ceremony to record that"
)


def _find_event(oh: OpenHome, event_type: str, ceremony_id: str) -> int | None:
    needle = f'"ceremony_id":"{ceremony_id}"'.encode()
    row = oh.ledger.conn.execute(
        "SELECT seq FROM events WHERE type = ? AND instr(payload, ?) > 0 ORDER BY seq LIMIT 1",
        (event_type, needle),
    ).fetchone()
    return None if row is None else int(row[0])


def _pending_step(journal: CeremonyJournal) -> str:
    """The first step not yet done ("close" when all are): where a fault or an abort stopped."""
    return next((x.id for x in STEPS if journal.step_state(x.id) != "done"), "close")


# -- the machine ---------------------------------------------------------------------------


class Ceremony:
    """One ceremony: begun or resumed, then run step by step to its close."""

    def __init__(
        self,
        oh: OpenHome,
        journal: CeremonyJournal,
        handler: CeremonyHandler,
        lock: CeremonyLock,
        *,
        source_factory: SourceFactory | None = None,
        metrics: EntropyMetrics | None = None,
    ) -> None:
        self.context = RunContext(
            oh, journal, handler, source_factory=source_factory, metrics=metrics
        )
        # The machine's own reads go through these; they are the context's objects.
        self.oh = oh
        self.journal = journal
        self.handler = handler
        self._lock = lock

    # -- entry points -----------------------------------------------------------------------
    @classmethod
    def begin(
        cls,
        oh: OpenHome,
        plan: CeremonyPlan,
        handler: CeremonyHandler,
        *,
        source_factory: SourceFactory | None = None,
        metrics: EntropyMetrics | None = None,
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
        return cls(oh, journal, handler, lock, source_factory=source_factory, metrics=metrics)

    @classmethod
    def resume(
        cls,
        oh: OpenHome,
        handler: CeremonyHandler,
        *,
        source_factory: SourceFactory | None = None,
        metrics: EntropyMetrics | None = None,
    ) -> Ceremony:
        lock = CeremonyLock(oh.path)
        try:
            journal = CeremonyJournal.load_active(oh.path)
        except BaseException:
            lock.release()
            raise
        c = cls(oh, journal, handler, lock, source_factory=source_factory, metrics=metrics)
        c._resuming = True
        return c

    _resuming = False

    @property
    def ceremony_id(self) -> str:
        return self.journal.ceremony_id

    def close(self) -> None:
        self.context.close()
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
                self.context.prove_officers()
            except BaseException:
                self.close()
                raise
        metrics = self.context.metrics
        try:
            if metrics is not None:
                metrics.started(self.context.plan.size)
            if self._resuming:
                self._record_interruption()
            for s in STEPS:
                state = self.journal.step_state(s.id)
                if state == "done":
                    continue
                self._run_step(s, state)
            if self.journal.data["state"] == "active":
                self.journal.finish("closed")
            return CeremonyOutcome.from_journal(self.journal, self.context.mark)
        except CeremonyInputNeeded as exc:
            # Not a crash: resuming records no interruption (the journal says what it awaits).
            self.journal.set("waiting", {"step": _pending_step(self.journal), "for": exc.message})
            raise
        except (KeyboardInterrupt, SystemExit):
            raise  # an interruption: the journal says where to resume
        except RedDoorError as exc:
            self._fail(exc)
            raise
        except Exception as exc:
            self._fail(exc)
            raise
        finally:
            if metrics is not None:
                metrics.stopped()
            self.close()

    def _run_step(self, s: Step, state: str) -> None:
        kill_hook(s.id, "start")
        if state == "worked":
            result = self.journal.result(s.id)
        else:
            result = WORK[s.id](self.context, s)
            self.journal.mark_worked(s.id, result)
        kill_hook(s.id, "worked")
        seq = None
        if s.event:
            seq = _find_event(self.oh, s.event, self.ceremony_id)
            if seq is None:
                payload = self._payload(s, result)
                if not self.handler.confirm(s, payload):
                    if self.journal.step_state("receipt") == "done":
                        raise CeremonyInputNeeded(RECEIPT_PENDING)
                    raise CeremonyCancelled(f"the officers did not confirm step {s.title!r}")
                seq = self.context.append(s.event, payload)
                self.handler.confirmed(s, seq)
        kill_hook(s.id, "confirmed")
        after = AFTER.get(s.id)
        extra = after(self.context, s, seq) if after else None
        self.journal.mark_done(s.id, seq, extra)

    def _payload(self, s: Step, result: dict[str, Any]) -> dict[str, Any]:
        base = {
            "ceremony_id": self.ceremony_id,
            "step": s.id,
            "mark": self.context.mark.value,
        }
        gen = self.journal.result("generate")
        if gen.get("pad_id"):
            base["pad_id"] = gen["pad_id"]
        return {**base, **result}

    # -- interruptions and faults -----------------------------------------------------------
    def _record_interruption(self) -> None:
        if self.journal.data.get("waiting"):  # it stopped to wait for an answer, not a crash
            self.journal.set("waiting", None)
            return
        pending = _pending_step(self.journal)
        happened = f"the ceremony was interrupted during step {pending!r} (crash or power loss)"
        expected = "the ceremony runs without interruption"
        decision = self.handler.exception(pending, expected, happened)
        self.context.record_exception(pending, expected, happened, decision or "resume")
        self.journal.set("interruptions", int(self.journal.data.get("interruptions", 0)) + 1)

    def _fail(self, exc: BaseException) -> None:
        reason = (
            str(exc) if isinstance(exc, RedDoorError) else f"internal error ({type(exc).__name__})"
        )
        step_id = _pending_step(self.journal)
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
                        "mark": self.context.mark.value,
                    }
                ),
            )
        except Exception as ledger_exc:
            log.error("could not record the failed ceremony: %s", type(ledger_exc).__name__)
        self.journal.finish("failed", failure={"step": step_id, "reason": reason})


def abort(oh: OpenHome, handler: CeremonyHandler, reason: str) -> dict[str, Any]:
    """Abort the ceremony in progress: both officers sign why, then everything is destroyed."""
    if not reason.strip():
        raise UsageError("say why the ceremony is aborted (--reason)")
    c = Ceremony.resume(oh, handler)
    if c.journal.step_state("receipt") == "done":
        c.close()
        raise CeremonyStateError(
            "the ceremony is closed (step 9): its pad is made, sealed and recorded, and only "
            "step 10 (the printed receipt signed) remains; resume it instead. A made pad is "
            "destroyed through its custody lifecycle (docs/custody-lifecycle.md), not by abort"
        )
    run = c.context
    try:
        run.prove_officers()  # a refusal leaves the ceremony as it was
        pending = _pending_step(c.journal)
        expected = "the ceremony runs to its close"
        happened = f"the ceremony stopped at step {pending!r}"
        run.record_exception(pending, expected, happened, f"abort: {reason}")
        destroyed = cleanup_material(oh, c.journal)
        seq = run.append(
            steps.ABORT_EVENT,
            {
                "ceremony_id": c.ceremony_id,
                "step": pending,
                "reason": reason,
                "destroyed": destroyed,
                "mark": run.mark.value,
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
