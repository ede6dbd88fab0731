"""Destroying one copy of a pad: both officers approve the exact event first; then the act
(crypto-erase of the facility copy's HSM key, overwrite or witnessed physical destruction of
the customer medium), its verification, and the record — or `pad.destroy_failed` saying what is
left."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.errors import (
    DestructionNotVerified,
    HsmError,
    LifecycleError,
    PadFormatError,
    RedDoorError,
    UsageError,
)
from custody.ledger.entry import Event
from custody.ledger.home import OpenHome
from custody.lifecycle.acts import base_payload, check_serial, clean_text
from custody.lifecycle.states import (
    DESTROY_FAILED,
    DESTROYED_EVENT,
    METHOD_COPY,
    PadRecord,
    check_transition,
    find_pad,
)

log = logging.getLogger(__name__)

# -- destruction -----------------------------------------------------------------------------


@dataclass
class Destruction:
    event: Event
    record: PadRecord
    details: dict[str, Any]


def _crypto_erase_plan(oh: OpenHome, rec: PadRecord) -> tuple[dict[str, Any], bytes | None]:
    """What a crypto-erase will do and check, found before anything is destroyed (read only).

    Returns the planned payload details and one encrypted chunk kept in memory to prove,
    afterwards, that it no longer decrypts."""
    from custody.pad import vault

    raw = bytes.fromhex(rec.pad_id)
    label = vault.key_label(raw)
    directory = vault.vault_dir(oh.path, raw)
    had_key = oh.token.has_key(label)
    sample: bytes | None = None
    chunk = directory / vault.CHUNKS_DIR / "000000.gcm"
    if chunk.is_file():
        sample = vault.read_chunk_file(chunk)
    if not had_key and sample is None:
        raise LifecycleError(
            f"pad {rec.display}: the HSM holds no key {label!r} and the home no facility copy; "
            "nothing to crypto-erase here (wrong home or token?)"
        )
    return {
        "key_label": label,
        "key_present_before": had_key,
        "keys_destroyed": 1 if had_key else 0,
        "chunk_files_removed": directory.exists(),
        "token_lists_key_after": False,
        "chunk_decrypts_after": False,
        "checked_chunk": "000000" if sample is not None else None,
    }, sample


def _crypto_erase(oh: OpenHome, rec: PadRecord, sample: bytes | None) -> dict[str, Any]:
    """Destroy the per-pad key and the vault, then verify; returns the observed details."""
    from custody.pad import vault

    raw = bytes.fromhex(rec.pad_id)
    label = vault.key_label(raw)
    destroyed = vault.destroy_vault(oh.path, oh.token, raw)
    listed = label in oh.token.labels()
    decrypts = False
    if sample is not None:
        try:
            buf = vault.decrypt_chunk(oh.token, label, raw, 0, sample)
        except (HsmError, PadFormatError):
            decrypts = False
        else:
            buf[:] = bytes(len(buf))
            decrypts = True
    if listed or decrypts or oh.token.has_key(label):
        raise DestructionNotVerified(
            f"pad {rec.display}: after destroying {label!r} the token still lists it or a "
            "chunk still decrypts; the pad is NOT recorded as destroyed"
        )
    return {
        "keys_destroyed": destroyed["keys_destroyed"],
        "chunk_files_removed": destroyed["chunk_files_removed"],
    }


@dataclass(frozen=True)
class MediumTools:
    """How to identify a medium and zeroize a pad copy on it. The ceremony layer owns both
    (ceremony.usb_media); the caller passes them in, so custody never imports upward."""

    identify: Callable[[Path], dict[str, Any]]
    zeroize_and_remove: Callable[[Path], list[str]]


# What `zeroize_and_remove` takes away from a pad directory, in its order (planned up front).
_PAD_FILES = ("pad.bin.partial", "pad.bin", "manifest.json", "journal.json", ".lock")


def _overwrite_plan(
    rec: PadRecord, usb_dir: Path | None, tools: MediumTools | None
) -> dict[str, Any]:
    """Check the customer copy and plan its overwrite (read only)."""
    from custody.pad.store import PAD_NAME, read_manifest

    if tools is None:
        raise UsageError("overwriting a customer copy needs the medium tools of the ceremony layer")
    if usb_dir is None:
        raise UsageError("--method overwrite needs the customer copy's directory (--usb DIR)")
    try:
        manifest = read_manifest(usb_dir)
    except PadFormatError as exc:
        raise LifecycleError(f"no readable pad copy at {usb_dir}: {exc.message}") from None
    if manifest.pad_id.hex() != rec.pad_id:
        raise LifecycleError(
            f"the copy at {usb_dir} is pad {manifest.pad_id_display}, not {rec.display}"
        )
    size = (usb_dir / PAD_NAME).stat().st_size if (usb_dir / PAD_NAME).exists() else 0
    medium = tools.identify(usb_dir)
    return {
        "medium": {k: medium.get(k) for k in ("kind", "vendor", "model", "serial")},
        "bytes_overwritten": size,
        "files_removed": [n for n in _PAD_FILES if (usb_dir / n).exists()],
        "note": "zeros written and synced, then deleted; flash wear levelling may keep old "
        "cells (best effort)",
    }


def _overwrite(usb_dir: Path, tools: MediumTools) -> dict[str, Any]:
    from custody.pad.store import PAD_NAME

    removed = tools.zeroize_and_remove(usb_dir)
    if (usb_dir / PAD_NAME).exists():
        raise DestructionNotVerified(f"{usb_dir / PAD_NAME} is still there after overwriting")
    return {"files_removed": removed}


def _observe(oh: OpenHome, rec: PadRecord, method: str, usb_dir: Path | None) -> dict[str, Any]:
    """What is left after a failed act (for the failure record); never raises."""
    from custody.pad import vault

    out: dict[str, Any] = {}
    raw = bytes.fromhex(rec.pad_id)
    try:
        if method == "crypto-erase":
            out["token_lists_key"] = oh.token.has_key(vault.key_label(raw))
            out["vault_present"] = vault.vault_dir(oh.path, raw).exists()
        elif method == "overwrite" and usb_dir is not None:
            out["pad_file_present"] = (usb_dir / "pad.bin").exists()
    except Exception as exc:  # the failure record matters more than these details
        out["observation_failed"] = type(exc).__name__
    return out


def destroy(
    oh: OpenHome,
    pad: str,
    method: str,
    approvers: Sequence[tuple[str, str]],
    *,
    usb_dir: Path | None = None,
    medium_serial: str | None = None,
    physical_method: str | None = None,
    witnesses: Sequence[str] = (),
    medium_tools: MediumTools | None = None,
) -> Destruction:
    """Destroy one copy of a pad: check, get both officers' approval, act, verify, record.

    Nothing is destroyed before both officers have approved the exact `pad.destroyed` event
    (each refusal is recorded as `approval.refused` and leaves every copy as it was). If the
    act or its verification fails after approval, `pad.destroy_failed` records what happened
    and what is left, and the error is raised.
    """
    from custody.ledger import officers

    if method not in METHOD_COPY:
        raise UsageError(f"--method must be one of {', '.join(METHOD_COPY)}")
    rec = find_pad(oh.ledger, pad)
    payload: dict[str, Any] = {**base_payload(rec), "method": method, "copy": METHOD_COPY[method]}
    check_transition(rec, DESTROYED_EVENT, payload)
    sample: bytes | None = None
    if method == "physical":
        serial = clean_text(medium_serial or "", "the medium serial (--medium-serial)", 64)
        names = [clean_text(w, "a witness name", 80) for w in witnesses]
        if len(names) < 2 or len(set(names)) != len(names):
            raise UsageError("physical destruction needs at least two distinct --witness names")
        details = {
            "medium_serial": serial,
            "physical_method": clean_text(physical_method or "", "--physical-method", 120),
            "witnesses": names,
        }
        if rec.usb_serial:
            check_serial(
                oh, rec, "destruction", "medium serial", rec.usb_serial, serial, approvers, None
            )
    elif method == "overwrite":
        details = _overwrite_plan(rec, usb_dir, medium_tools)
    else:
        details, sample = _crypto_erase_plan(oh, rec)
    payload.update(details)
    payload["merkle_root"] = rec.merkle_root
    payload["pad_sha256"] = rec.pad_sha256
    payload["from_state"] = rec.state

    # 1. Both officers approve the exact event before anything is destroyed.
    ledger = oh.ledger
    request = ledger.request_approval(DESTROYED_EVENT, payload)
    approvals = officers.collect(ledger, request, approvers)

    # 2. The act and its verification; a failure is recorded, never lost.
    try:
        if method == "overwrite" and usb_dir is not None and medium_tools is not None:
            observed = _overwrite(usb_dir, medium_tools)  # (both checked by the plan)
        elif method == "crypto-erase":
            observed = _crypto_erase(oh, rec, sample)
        else:
            observed = {}  # physical: the officers witnessed it; the event is the record
    except BaseException as exc:
        _record_failure(oh, rec, payload, approvals, exc, _observe(oh, rec, method, usb_dir))
        raise

    # 3. The approved event. Should the act have found other details than planned (e.g. two
    #    key objects under one label), the same officers sign the event as it happened.
    final = {**payload, **observed}
    try:
        if final == payload:
            event = officers.append_approved(ledger, request, approvals)
        else:
            event = officers.append_with_officers(ledger, DESTROYED_EVENT, final, approvers)
    except BaseException as exc:
        _record_failure(oh, rec, final, approvals, exc, {"act_done": True})
        raise
    return Destruction(event, find_pad(ledger, pad), final)


def _record_failure(
    oh: OpenHome,
    rec: PadRecord,
    payload: dict[str, Any],
    approvals: Sequence[Any],
    exc: BaseException,
    observed: dict[str, Any],
) -> None:
    message = exc.message if isinstance(exc, RedDoorError) else type(exc).__name__
    try:
        oh.ledger.append(
            DESTROY_FAILED,
            {
                **base_payload(rec),
                "method": payload["method"],
                "copy": payload["copy"],
                "approved_by": [a.officer for a in approvals],
                "error": type(exc).__name__,
                "detail": str(message)[:500],
                "observed": observed,
                "from_state": rec.state,
            },
            actors=[a.officer for a in approvals],
        )
    except Exception as ledger_exc:  # keep the original error; say the record failed
        log.error("could not record the failed destruction: %s", type(ledger_exc).__name__)
