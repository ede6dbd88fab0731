"""What each step of the ceremony does: check the medium, authenticate the officers, open and
measure the sources, generate the pad, write the customer and facility copies, verify both,
seal the bag, build the receipt, close.

`WORK[step.id](run, step)` does a step's work with the run's context (ceremony/run_context.py)
and returns a secret-free result, which the state machine (ceremony/state_machine.py) keeps in
the journal and, for a step the officers confirm, puts in the step's ledger event; `AFTER` holds
what runs once a step's event is recorded (the receipt is written after its event, so the event
is on it). Which step comes next, who confirms it, what is recorded and how a ceremony resumes
or aborts is the machine's business. `cleanup_material` zeroizes and deletes what a failed or
aborted ceremony generated.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ceremony import mixer, sizing, steps, usb_media
from ceremony.ceremony_journal import CeremonyJournal
from ceremony.entropy_sources import check_source_policy
from ceremony.errors import (
    CeremonyCancelled,
    CeremonyInputNeeded,
    CeremonyStateError,
    CopyVerificationFailure,
    PadStatisticsFailure,
)
from ceremony.run_context import RunContext, kill_hook, ledger_safe
from ceremony.steps import Step
from custody.durable_file import fsync_directory, write_atomic
from custody.errors import PadFormatError, UsageError
from custody.fingerprint_words import phrase
from custody.ledger.chain import utc_now
from custody.ledger.home import OpenHome
from custody.pad import manifest as pad_manifest
from custody.pad import vault
from custody.pad.manifest import Manifest, Side, read_manifest_file
from custody.pad.store import PAD_NAME, write_pad_dir

RATE_SECONDS = 0.5
BAG_SERIAL_TRIES = 3

Work = Callable[[RunContext, Step], dict[str, Any]]
After = Callable[[RunContext, Step, int | None], dict[str, Any]]


def _progress(run: RunContext, s: Step) -> Callable[[int, int], None]:
    """The handler's progress, plus the tests' kill hook once the step's first bytes are done."""
    seen = [0]

    def progress(done: int, total: int) -> None:
        run.handler.progress(s, done, total)
        if done and not seen[0]:
            seen[0] = 1
            kill_hook(s.id, "during")

    return progress


def _manifest(run: RunContext) -> Manifest:
    try:
        return Manifest.from_bytes(
            read_manifest_file(run.journal.manifest_path), str(run.journal.manifest_path)
        )
    except FileNotFoundError:
        raise CeremonyStateError("the ceremony's manifest is missing") from None


# -- the steps, in order ---------------------------------------------------------------------


def work_prepare(run: RunContext, s: Step) -> dict[str, Any]:
    plan = run.plan
    usb_media.check_target(
        plan.customer_dir,
        plan.size,
        chunk_size=plan.chunk_size,
        require_removable=not run.practice,
    )
    medium = usb_media.identify(plan.customer_dir)
    run.handler.info(s, "customer medium", medium)
    token = run.oh.token.info().to_dict()
    return {"usb": medium, "hsm_token": token}


def work_authenticate(run: RunContext, s: Step) -> dict[str, Any]:
    run.authenticate()
    plan = run.plan
    return {
        "plan": {
            "size": plan.size,
            "split": plan.split,
            "chunk_size": plan.chunk_size,
            "sources": plan.sources,
            "frame_policy": plan.frame_policy.to_dict(),
        },
        "usb": run.journal.result("prepare").get("usb", {}),
        "officers": run.officer_names,
        "script_sha256": steps.script_sha256().hex(),
        "script_words": steps.script_words(),
        "practice": run.practice,
    }


def work_sources(run: RunContext, s: Step) -> dict[str, Any]:
    run.sources = run.source_factory(run.plan.sources)
    mixing = check_source_policy(run.sources, practice=run.practice)
    rates = []
    for src in run.sources:
        rate = src.measure_rate(RATE_SECONDS)
        rates.append(rate)
    if run.metrics is not None:
        run.metrics.sources_opened([src.name for src in run.sources], rates)
    slowest = min(rates)
    eta = sizing.eta_seconds(run.plan.size, slowest)
    suggestions = sizing.suggest_sizes(slowest, run.plan.queries_per_day, run.plan.bytes_per_query)
    facts = {
        "sources": [src.identity() for src in run.sources],
        "rates_bytes_per_second": [int(r) for r in rates],
        "eta_seconds": int(eta),
        "eta_text": sizing.format_duration(eta),
        "size_text": sizing.format_size(run.plan.size),
        "suggestions": [
            {k: v for k, v in row.items() if k != "eta_seconds"} for row in suggestions
        ],
        "mixing": mixing,
    }
    run.handler.info(s, "sources", facts)
    return ledger_safe(facts)  # type: ignore[no-any-return]


def work_generate(run: RunContext, s: Step) -> dict[str, Any]:
    plan = run.plan
    if not run.sources:
        run.sources = run.source_factory(plan.sources)
    # An earlier attempt's partial bytes are never reused: zeroize, start again.
    usb_media.remove_customer_pad(plan.customer_dir)
    run.journal.set("material", True)
    writer = usb_media.PartialPadWriter(plan.customer_dir, plan.chunk_size)
    try:
        result = mixer.generate(
            run.sources,
            plan.size,
            writer,
            practice=run.practice,
            progress=_progress(run, s),
            cancel=run.handler.cancelled,
            observe=run.metrics.observe if run.metrics is not None else None,
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
        ceremony_id=run.ceremony_id,
        mark=run.mark,
        created=utc_now()[:19] + "Z",
        chunk_size=plan.chunk_size,
        chunk_digests=digests,
        frame_policy=plan.frame_policy,
    )
    write_atomic(run.journal.manifest_path, manifest.to_bytes())
    root = manifest.merkle_root
    pad_sha = writer.whole.digest()
    if not run.handler.confirm_fingerprint(s, "pad Merkle root", root.hex(), phrase(root)):
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
            "frame_policy": manifest.policy.to_dict(),
            "created": manifest.created,
            "sources": gen["sources"],
            "mixing": gen["mixing"],
            "health": gen["health"],
            "statistics": gen["statistics"],
            "generation_seconds": gen["seconds"],
        }
    )


def work_customer_copy(run: RunContext, s: Step) -> dict[str, Any]:
    d = run.plan.customer_dir
    manifest = _manifest(run)
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


def work_facility_copy(run: RunContext, s: Step) -> dict[str, Any]:
    manifest = _manifest(run)
    label = vault.key_label(manifest.pad_id)
    if run.oh.token.has_key(label) or vault.vault_dir(run.oh.path, manifest.pad_id).exists():
        vault.destroy_vault(run.oh.path, run.oh.token, manifest.pad_id)  # a crashed try
    pad_path = run.plan.customer_dir / PAD_NAME
    fd = os.open(pad_path, os.O_RDONLY)

    def read_chunk(i: int) -> bytearray:
        want = min(manifest.chunk_size, manifest.size - i * manifest.chunk_size)
        buf = bytearray(want)
        got = os.preadv(fd, [buf], i * manifest.chunk_size)
        if got != want:
            raise PadFormatError(f"{pad_path} is shorter than the manifest says")
        return buf

    try:
        info = vault.write_vault(
            run.oh.path,
            run.oh.token,
            manifest,
            read_chunk,
            progress=_progress(run, s),
            cancel=run.handler.cancelled,
        )
    finally:
        os.close(fd)
    run.handler.info(s, "facility copy", info)
    return {"hsm": info}


def work_verify(run: RunContext, s: Step) -> dict[str, Any]:
    manifest = _manifest(run)
    try:
        customer = usb_media.read_back(
            run.plan.customer_dir / PAD_NAME,
            manifest,
            progress=lambda d, t: run.handler.progress(s, d, 2 * t),
        )
        facility = vault.verify_vault(
            run.oh.path,
            run.oh.token,
            manifest,
            progress=lambda d, t: run.handler.progress(s, t + d, 2 * t),
            cancel=run.handler.cancelled,
        )
    except PadFormatError as exc:
        raise CopyVerificationFailure(str(exc)) from None
    return {"customer": customer, "facility": facility}


def work_seal(run: RunContext, s: Step) -> dict[str, Any]:
    for attempt in range(1, BAG_SERIAL_TRIES + 1):
        first = run.handler.bag_serial(attempt, False).strip()
        second = run.handler.bag_serial(attempt, True).strip()
        if first and first == second:
            if len(first) > 64 or not first.isprintable():
                raise UsageError("a bag serial is at most 64 printable characters")
            return {"bag_serial": first}
        run.handler.info(s, "the two bag serials differ (or are empty); type them again")
    decision = run.handler.exception(
        s.id,
        "the bag serial typed twice matches",
        f"{BAG_SERIAL_TRIES} attempts differed",
    )
    run.record_exception(
        s.id,
        "the bag serial typed twice matches",
        f"{BAG_SERIAL_TRIES} attempts differed",
        decision,
    )
    raise CeremonyCancelled("the bag serial could not be confirmed")


def work_receipt(run: RunContext, s: Step) -> dict[str, Any]:
    gen = run.journal.result("generate")
    return {
        "pad_id_display": gen.get("pad_id_display"),
        "merkle_root": gen.get("merkle_root"),
        "pad_sha256": gen.get("pad_sha256"),
        "bag_serial": run.journal.result("seal").get("bag_serial"),
        "usb_serial": run.journal.result("customer_copy").get("usb", {}).get("serial", ""),
        "key_label": run.journal.result("facility_copy").get("hsm", {}).get("key_label"),
        "copies_verified": True,
    }


def after_receipt(run: RunContext, s: Step, seq: int | None) -> dict[str, Any]:
    from ceremony import receipt_data

    run.oh.ledger.checkpoint()
    out = run.plan.receipt_out or (run.journal.directory / "receipt.pdf")
    path = receipt_data.write_for_pad(
        run.oh, bytes.fromhex(run.journal.result("generate")["pad_id"]), out
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    run.handler.info(s, "receipt", {"path": str(path), "sha256": digest})
    return {"receipt_path": str(path), "receipt_sha256": digest, "closing_event": seq}


def work_close(run: RunContext, s: Step) -> dict[str, Any]:
    """Step 10 is asked only while the receipt written at step 9 is there, unchanged: the
    officers confirm a printout of those bytes. Otherwise the ceremony waits (nothing is
    destroyed: the pad is made and sealed)."""
    r = run.journal.result("receipt")
    path, digest = Path(str(r.get("receipt_path", ""))), str(r.get("receipt_sha256", ""))
    try:
        found = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        found = ""
    if not found or found != digest:
        what = "is missing" if not found else "has changed since step 9 (its SHA-256 differs)"
        raise CeremonyInputNeeded(
            f"the receipt {path} {what}: step 10 confirms a printout of the receipt this "
            "ceremony wrote. Nothing was destroyed; put the file back and resume"
        )
    run.handler.info(s, "receipt", {"path": str(path), "sha256": digest})
    return {"receipt_sha256": digest}


WORK: dict[str, Work] = {
    "prepare": work_prepare,
    "authenticate": work_authenticate,
    "sources": work_sources,
    "generate": work_generate,
    "customer_copy": work_customer_copy,
    "facility_copy": work_facility_copy,
    "verify": work_verify,
    "seal": work_seal,
    "receipt": work_receipt,
    "close": work_close,
}
AFTER: dict[str, After] = {"receipt": after_receipt}


# -- after a fault or an abort ---------------------------------------------------------------


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
